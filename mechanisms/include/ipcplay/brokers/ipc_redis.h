/*
 * ipc_redis.h — the extras of the "redis" and "redis-prio" mechanisms: what
 * Redis can do that a plain channel cannot.  Send/receive/close go through
 * ipc.h; see redis.c for how the channel maps onto Redis data types.
 *
 * (Named ipc_redis.h so that it never shadows hiredis's own headers.)
 */
#ifndef IPCPLAY_IPC_REDIS_H
#define IPCPLAY_IPC_REDIS_H

#include "../ipc.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- delay queue -------------------------------------------------------
 * Deliver msg no earlier than due_ms, an absolute wall-clock time in
 * milliseconds since the Unix epoch (CLOCK_REALTIME) as the *server's* clock
 * sees it — between hosts that is the NTP-synchronised time.  Until it is due
 * the message waits in a sorted set; receivers move due messages into the
 * channel as part of every receive and never sleep past the earliest due
 * time.  It counts against the capacity like any queued message.  It never
 * blocks: RETURNS 0, IPC_EFULL (no room now), IPC_ECLOSED, IPC_EMSGSIZE,
 * IPC_EINVAL (not a redis channel), IPC_ESYS.  After ipc_close, pending
 * delayed messages become due at once so that the drain delivers them. */
int ipc_redis_send_at(ipc_channel *ch, const void *msg, size_t len, int64_t due_ms);

/* Wall-clock milliseconds of this machine, the clock due_ms is written in. */
int64_t ipc_redis_wall_ms(void);

/* ---- batches (pipelining) ----------------------------------------------
 * Send n messages in one round trip: n push scripts written back to back,
 * then n replies read (Redis runs them in order, each one atomic).  Only on
 * an unbounded channel.  RETURNS n, or IPC_ECLOSED, IPC_EMSGSIZE,
 * IPC_EINVAL, IPC_ENOTSUP (bounded), IPC_ESYS — after a failure some of the
 * batch may have been queued. */
int ipc_redis_send_batch(ipc_channel *ch, const void *const *msgs, const size_t *lens, size_t n);
/* Wait for one message like ipc_recv (timeout_ms), then take up to max-1
 * more already queued in one round trip.  Message i goes to buf + i*each,
 * its size to lens[i].  RETURNS how many (1..max), or like ipc_recv
 * (IPC_EMSGSIZE: the first is larger than each, lens[0] = its size, it stays
 * queued; a later one that does not fit ends the batch and stays queued). */
int ipc_redis_recv_batch(ipc_channel *ch, void *buf, size_t each, size_t *lens, size_t max, int timeout_ms);

/* ---- publish/subscribe broadcast --------------------------------------
 * PUBLISH delivers to every subscriber connected at that moment and stores
 * nothing: a subscriber that is not yet subscribed misses the message (there
 * is no "slow joiner" window after ipc_redis_subscribe returns, because
 * SUBSCRIBE is confirmed by the server before it returns).  Topics are
 * scoped to the channel: "<channel name>/<topic>". */
typedef struct ipc_redis_sub ipc_redis_sub;

/* RETURNS the number of subscribers that received it (>= 0), or IPC_EINVAL,
 * IPC_EMSGSIZE (len > the channel's max_msg), IPC_ESYS. */
int  ipc_redis_publish(ipc_channel *ch, const char *topic, const void *msg, size_t len);
/* A subscriber on its own connection.  RETURNS 0 and *out, or IPC_EINVAL,
 * IPC_ESYS. */
int  ipc_redis_subscribe(ipc_channel *ch, const char *topic, ipc_redis_sub **out);
/* Next published message, with the ipc_recv conventions: IPC_EEMPTY on
 * timeout; IPC_EMSGSIZE (*len = size) keeps it for the next call. */
int  ipc_redis_sub_recv(ipc_redis_sub *s, void *buf, size_t cap, size_t *len, int timeout_ms);
void ipc_redis_sub_free(ipc_redis_sub *s);

/* ---- servers -----------------------------------------------------------
 * A channel opened without an endpoint uses the process's private embedded
 * server (started on first use, stopped with the last channel and at exit).
 * Its lifetime is its creator's: a child with a death signal, it dies with
 * the process that started it (even by SIGKILL), and the channel ends with
 * the messages it held; the other holders (fork()ed workers) are then told
 * IPC_ECLOSED by their next call.
 * These calls start and stop servers explicitly: for persistence (an
 * append-only file that survives a restart) and for tests that bind a server
 * to a network address. */
typedef struct ipc_redis_server ipc_redis_server;

typedef struct ipc_redis_server_opts {
    const char *dir;        /* working directory (AOF lives here); NULL = a fresh
                               private temp dir, removed again by stop        */
    bool        appendonly; /* --appendonly yes: every write is logged (fsync
                               once per second) and replayed on restart        */
    const char *bind;       /* also listen on TCP at this address (NULL: the
                               Unix socket only).  Such a server requires a
                               password: 128 random bits generated at start,
                               kept in a 0600 file in its dir (never on its
                               command line), and carried by its endpoint    */
    int         port;       /* TCP port with bind (0: 6379)                    */
} ipc_redis_server_opts;

/* Start redis-server and wait until it answers PING.  RETURNS 0 and *out,
 * or IPC_ESYS ("redis-server not found: apt-get install redis-server", or the
 * server's own last log line if it exited), IPC_EINVAL. */
int ipc_redis_server_start(const ipc_redis_server_opts *opts, ipc_redis_server **out);
/* "unix:///dir/redis.sock" (a 0700 dir: only this uid can connect), or
 * "redis://:PASSWORD@bind:port" when bind was given: what to put in
 * ipc_config.endpoint, and what ipc_attach_config hands on.  With bind it
 * is a secret: pass it to attachers as you would a password (error messages
 * never show it). */
const char *ipc_redis_server_endpoint(const ipc_redis_server *s);
const char *ipc_redis_server_dir(const ipc_redis_server *s);
pid_t       ipc_redis_server_pid(const ipc_redis_server *s);
/* SIGTERM (the server writes its AOF and exits), wait up to 5 s, then
 * SIGKILL; remove the temp dir if start made it; free s.  In a forked child
 * that did not start the server this only frees the handle.  NULL: no-op.
 * RETURNS 0, or IPC_ESYS if the server had to be killed. */
int ipc_redis_server_stop(ipc_redis_server *s);

#ifdef __cplusplus
}
#endif
#endif /* IPCPLAY_IPC_REDIS_H */
