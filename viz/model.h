/*
 * model.h — what the picture shows, computed from the event trace only.
 *
 * viz_model_apply() folds one recorded event into the state: who is
 * blocked, which messages sit in the channel (and in what order they will
 * leave), who woke whom, counters, latencies.  It is a pure function of the
 * events, so the player can rebuild the state at any earlier moment by
 * replaying from a snapshot: that is how pause, single-step and rewind work
 * without touching the real run.
 *
 * viz_player keeps the recorded history and a playback time.
 */
#ifndef IPCVIZ_MODEL_H
#define IPCVIZ_MODEL_H

#include "run.h"
#include "trace.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum viz_state {
    VS_ABSENT,        /* never started                                     */
    VS_WORKING,       /* between calls: producing, or processing a message */
    VS_IDLE,          /* a producer resting between bursts                 */
    VS_SENDING,       /* inside ipc_send, not (yet) blocked                */
    VS_BLOCKED_FULL,  /* asleep in ipc_send: the channel is full           */
    VS_RECEIVING,     /* inside ipc_recv, not (yet) blocked                */
    VS_BLOCKED_EMPTY, /* asleep in ipc_recv: the channel is empty          */
    VS_GONE,          /* left (removed, or the run ended)                  */
    VS__COUNT
};

/* How the channel is drawn: the way the mechanism works. */
enum viz_view {
    VIEW_RING,      /* bounded queue / shm ring: slots, head and tail      */
    VIEW_CONVEYOR,  /* unbounded FIFO: a line that grows                   */
    VIEW_STACK,     /* LIFO                                                */
    VIEW_PRIORITY,  /* highest priority first                              */
    VIEW_MAILBOX,   /* kernel message queue (POSIX / System V)             */
    VIEW_PIPE,      /* a byte stream with a fill level                     */
    VIEW_COUNTER,   /* events and signals: a counter / flag                */
    VIEW_BROKER,    /* a server in between (ZeroMQ, Redis)                 */
};

#define VIZ_LANE_MAX  256   /* state changes kept per actor (timeline lane) */
#define VIZ_INBOX     6     /* last messages each consumer received        */
#define VIZ_LAT_MAX   512   /* latencies kept for p50/p99                   */
#define VIZ_SAMPLES   256   /* depth and throughput, one per VIZ_SAMPLE_NS  */
#define VIZ_SAMPLE_NS 100000000LL
#define VIZ_FLIGHTS   64    /* messages recently taken out (animated)       */
#define VIZ_ARROWS    16    /* recent wake-ups                              */
#define VIZ_LOSSES    16    /* toy queue: recently overwritten messages     */
#define VIZ_EARLY     64
#define VIZ_RECENT    1024  /* received ids remembered to spot duplicates   */
#define VIZ_INGEST_MAX (1u << 17) /* records read per frame at most: a run
                                     faster than that loses some (a gap)    */

/* A message as the model knows it. */
typedef struct viz_msg {
    viz_token tok;
    uint32_t  len;
    int64_t   t_begin;   /* its SEND_BEGIN (latency starts here)             */
    int64_t   t_in;      /* its SEND_DONE: in the channel from then on       */
} viz_msg;

typedef struct viz_lane_entry { int64_t t; uint8_t state; } viz_lane_entry;

typedef struct viz_actor {
    enum viz_state state;
    bool      retrying;  /* last call timed out and is being retried        */
    int64_t   since;     /* when the current state began                    */
    uint64_t  count;     /* messages sent or received                       */
    int64_t   blocked_ns;/* total time blocked before `since`               */
    bool      holding;   /* producer: message in ipc_send; consumer: the one */
    viz_msg   held;      /*   it is working on                              */
    struct { viz_token tok; int64_t t; bool dup; } inbox[VIZ_INBOX]; /* newest first */
    int       inbox_n;
    viz_lane_entry lane[VIZ_LANE_MAX]; /* state changes, a ring */
    uint32_t  lane_n;    /* changes ever; the last VIZ_LANE_MAX are kept    */
} viz_actor;

typedef struct viz_flight {  /* a message leaving the channel */
    viz_msg  msg;
    uint8_t  consumer;
    bool     dup, garbage;
    long     pos;            /* slot (ring), index (stack) or rank it left from */
    int64_t  t;
} viz_flight;

typedef struct viz_arrow  { uint8_t from, to; int64_t t; } viz_arrow;
typedef struct viz_sample { int64_t t; uint64_t received; long depth; } viz_sample;
typedef struct viz_loss  { viz_msg msg; long pos; int64_t t; } viz_loss;

typedef struct viz_model {
    viz_run_info  info;
    enum viz_view view;
    int           order;      /* IPC_FIFO, IPC_LIFO or IPC_PRIORITY         */
    int64_t       t0, now;
    uint64_t      events;     /* applied so far                             */
    viz_actor     actors[VIZ_MAX_ACTORS];

    /* The channel's contents as the events tell them, in arrival order, as
     * a circular buffer: chan[(chan_head + i) & (chan_alloc - 1)]. */
    viz_msg      *chan;
    size_t        chan_head, chan_n, chan_alloc;
    uint64_t      removed;    /* messages taken out so far: the ring's head */
    long          depth;      /* the mechanism's own ipc_depth, -1 unknown  */
    int64_t       kernel_bytes; /* a stream: bytes the kernel holds (FIONREAD,
                                   the last VIZ_EV_FILL), -1 unknown         */

    uint64_t      sent, received, dups, lost, garbage;
    uint64_t      blocks_full, blocks_empty;
    uint64_t      gaps, gap_events;  /* the trace lost events: counts are partial */
    bool          closed;
    int64_t       t_closed;
    struct { int actor, kind; int64_t t; } last_block; /* actor -1: none yet */
    int           last_recv_actor;  /* who freed the last slot (wakes senders) */
    int64_t       last_recv_t;

    int64_t       lat[VIZ_LAT_MAX];
    uint32_t      lat_n;
    viz_sample    samples[VIZ_SAMPLES];
    uint32_t      sample_n;
    int64_t       next_sample;
    viz_flight    flights[VIZ_FLIGHTS];
    uint32_t      flight_n;
    viz_arrow     arrows[VIZ_ARROWS];
    uint32_t      arrow_n;
    viz_loss      losses[VIZ_LOSSES];
    uint32_t      loss_n;
    viz_msg       early[VIZ_EARLY]; /* received before their SEND_DONE arrived */
    uint32_t      early_n;
    uint64_t      recent[VIZ_RECENT];
    uint32_t      recent_n;
} viz_model;

/* Returns 0, or -1 when out of memory. */
int  viz_model_init(viz_model *m, const viz_run_info *info);
void viz_model_free(viz_model *m);
int  viz_model_copy(viz_model *dst, const viz_model *src); /* dst uninitialised */
void viz_model_apply(viz_model *m, const viz_rec *r);
void viz_model_advance(viz_model *m, int64_t t);           /* time passes     */

static inline const viz_msg *viz_model_msg(const viz_model *m, size_t i)
{
    return &m->chan[(m->chan_head + i) & (m->chan_alloc - 1)];
}
/* Channel indices in the order the messages will leave (next out first);
 * returns how many were written (at most max). */
size_t viz_model_order_out(const viz_model *m, uint32_t *idx, size_t max);
/* Depth as shown: the mechanism's own count if it has one, else ours. */
long   viz_model_depth(const viz_model *m);
/* Time in the queue, ns: from a message's SEND_BEGIN until a receive took
 * it.  The percentile (0..100) counts the recent delivered messages AND the
 * messages still waiting at time t (with their age so far): a message stuck
 * at the bottom of a stack must raise the tail, not vanish from it.  -1 if
 * there is none.  (The benchmark's "latency" is a round trip, another thing.) */
int64_t viz_model_wait(const viz_model *m, double pct, int64_t t);
/* Age at time t of the oldest message still in the channel, ns; -1 if empty. */
int64_t viz_model_oldest_wait(const viz_model *m, int64_t t);
/* A byte stream's contents: what the kernel holds (-1 unknown) and what the
 * model counts as sent and not yet received (frames with their 4-byte
 * headers); the difference sits in the receiver's own read buffer. */
int64_t viz_model_kernel_bytes(const viz_model *m);
uint64_t viz_model_stream_bytes(const viz_model *m);
/* Messages received per second over the last second before t. */
double viz_model_rate(const viz_model *m, int64_t t);
/* The state an actor was in at time t (its lane), VS_ABSENT if unknown. */
enum viz_state viz_model_state_at(const viz_model *m, int actor, int64_t t);
/* The view that fits a mechanism. */
enum viz_view viz_view_for(const viz_run_info *info);

/* ---- the player -------------------------------------------------------- */
typedef struct viz_player {
    viz_rec  *hist;        /* recorded events, oldest first              */
    size_t    n, alloc, max;
    viz_model base;        /* the state before hist[0]                   */
    viz_model cur;         /* the state after hist[0 .. cursor)          */
    size_t    cursor;
    int64_t   t;           /* playback time (CLOCK_MONOTONIC ns)         */
    uint64_t  trimmed;     /* events folded into base to bound memory    */
    uint64_t  trace_lost;  /* events the ring overwrote before we read   */
                           /* (each gap is also a VIZ_EV_GAP record)     */
} viz_player;

int  viz_player_init(viz_player *p, const viz_run_info *info, size_t max_events);
void viz_player_free(viz_player *p);
/* Copy new events from the trace (at most VIZ_INGEST_MAX); returns how
 * many, or -1 out of memory. */
long viz_player_ingest(viz_player *p, viz_trace *tr);
/* Move playback to time t (forward: apply; backward: replay from base). */
int  viz_player_seek(viz_player *p, int64_t t);
/* One event forward (dir > 0) or back; returns false at either end. */
bool viz_player_step(viz_player *p, int dir);
/* Time of the newest recorded event (or of the start). */
int64_t viz_player_last_t(const viz_player *p);
/* Time of the oldest event still kept (rewind cannot go before it). */
int64_t viz_player_first_t(const viz_player *p);

#endif
