/*
 * core/pool.h — a handle's pool of idle connections to a broker (redis,
 * amqp): a call takes one (or opens one), and gives it back when done.
 *
 * Why a pool: a connection serves one request at a time and a receiver may
 * sit in a blocking request for long, so one connection per handle would
 * serialize every thread on it; a connection per call would pay a connect
 * (and a login) per message.
 *
 * fork().  A connection is a socket plus protocol state: two processes
 * using one would interleave their requests.  Every pool of the process is
 * listed here, and one set of fork handlers (core/process.h, registered by
 * the first ipc__pool_init) locks them all in prepare, and in the child
 * drops every idle connection with drop(c, false) — "not polite": close
 * only this process's copy of the socket, never say goodbye to the server
 * on the parent's behalf.  A connection another thread of the parent had
 * taken is not in the pool at fork: it leaks in the child (the child never
 * sees it again).
 *
 * Invariants: `idle[0..n-1]` and `n` are guarded by the pool's lock, held
 * only for a push or a pop (never across a request or a drop); the list of
 * pools by one process-wide lock, taken before any pool's.
 */
#ifndef IPCPLAY_CORE_POOL_H
#define IPCPLAY_CORE_POOL_H

#include <pthread.h>
#include <stdbool.h>

#define IPC_POOL_MAX 8

typedef struct ipc_pool ipc_pool;
struct ipc_pool {
    pthread_mutex_t lock;
    int             n;
    void           *idle[IPC_POOL_MAX];
    void          (*drop)(void *c, bool polite); /* close c; polite: tell the server */
    bool          (*alive)(void *c);             /* may an idle c still be used? NULL: yes */
    ipc_pool       *prev, *next;                 /* every pool of the process */
};

/* List the pool (and register the fork handlers, once).  IPC_OK, or
 * IPC_ESYS / IPC_EINVAL, with nothing to undo. */
int   ipc__pool_init(ipc_pool *p, void (*drop)(void *c, bool polite), bool (*alive)(void *c));
/* An idle connection that alive() accepts (those it refuses are dropped,
 * politely), or NULL: open a new one. */
void *ipc__pool_take(ipc_pool *p);
/* Keep a healthy c for the next call, or drop it (politely) when the pool
 * is full.  A broken connection is the caller's to drop. */
void  ipc__pool_give(ipc_pool *p, void *c);
/* Drop every idle connection (politely), unlist the pool and destroy its
 * lock.  No call may be using the pool. */
void  ipc__pool_destroy(ipc_pool *p);

#endif /* IPCPLAY_CORE_POOL_H */
