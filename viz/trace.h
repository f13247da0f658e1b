/*
 * trace.h — the event trace: what really happened on the channel, recorded
 * by the observer hook (ipc_observe) in the thread or process that did it,
 * and played back by the visualizer at its own pace.
 *
 * The ring lives in MAP_SHARED memory, so producer and consumer processes
 * forked from the visualizer write into the same trace as threads do.
 */
#ifndef IPCVIZ_TRACE_H
#define IPCVIZ_TRACE_H

#include "ipc.h"

#include <stddef.h>
#include <stdint.h>

/* Event kinds: ipc_event_kind values, plus what only the visualizer sees. */
enum viz_kind {
    VIZ_EV_ACTOR_START = 16, /* a producer/consumer began (result = role)  */
    VIZ_EV_ACTOR_EXIT,       /* ... and ended                              */
    VIZ_EV_IDLE,             /* a producer rests between bursts            */
    VIZ_EV_LOST,             /* toy queue: a message was overwritten       */
    VIZ_EV_RUN,              /* the run started (t0)                       */
    VIZ_EV_GAP,              /* the reader lost `len` records here         */
    VIZ_EV_FILL,             /* a byte stream: `len` bytes sit in the kernel
                                (FIONREAD), sampled after a send or receive */
};

enum viz_role { VIZ_PRODUCER = 0, VIZ_CONSUMER = 1 };
#define VIZ_ACTOR_MAIN 255       /* the visualizer itself (e.g. ipc_close)  */
#define VIZ_NO_PRODUCER 0xFFFFu  /* token unknown or garbage                */

/* A message as the visualizer identifies it: who sent it, its number. */
typedef struct viz_token {
    uint16_t producer;   /* VIZ_NO_PRODUCER: not one of ours (garbage)  */
    int16_t  prio;
    uint32_t seq;
} viz_token;

typedef struct viz_rec {
    int64_t   t_ns;      /* CLOCK_MONOTONIC, as the observer reported it */
    uint8_t   kind;      /* ipc_event_kind or viz_kind                   */
    uint8_t   actor;     /* 0..15, or VIZ_ACTOR_MAIN                     */
    int16_t   result;    /* *_DONE: the call's return value              */
    int32_t   depth;     /* ipc_depth() after the event, -1 unknown      */
    uint32_t  len;       /* bytes                                        */
    viz_token tok;       /* SEND_*: the message sent; RECV_DONE: received */
} viz_rec;

/* The wire form of a message: 8 bytes, so even signals can carry it;
 * longer messages are padded. */
#define VIZ_TOKEN_BYTES 8
void viz_token_encode(const viz_token *t, void *buf, size_t len);
/* Decode; a buffer that is not one of ours yields producer VIZ_NO_PRODUCER. */
viz_token viz_token_decode(const void *buf, size_t len);
static inline uint64_t viz_token_id(viz_token t) { return (uint64_t)t.producer << 32 | t.seq; }

typedef struct viz_trace viz_trace;

/* A shared ring of 2^order records.  NULL with errno on failure. */
viz_trace *viz_trace_create(unsigned order);
void       viz_trace_destroy(viz_trace *tr);

/* Append one record: lock-free, any thread, any forked process.  A writer
 * that laps a slow reader overwrites; the reader counts what it lost. */
void viz_trace_put(viz_trace *tr, const viz_rec *r);

/* Reading: records come out oldest first in gap-free runs.  Call
 * viz_trace_skip_lost() first: it steps over records overwritten before
 * they could be read and says how many (0: no gap here); then
 * viz_trace_drain() copies up to max records, stopping at the next gap or
 * at a record still being written. */
uint64_t viz_trace_skip_lost(viz_trace *tr);
size_t   viz_trace_drain(viz_trace *tr, viz_rec *out, size_t max);

#endif
