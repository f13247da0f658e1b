/*
 * core/sync.h — mutexes and condition variables, set up one way.
 *
 *   shared   robust + process-shared mutex (a holder killed with SIGKILL hands
 *            the lock to the next locker with EOWNERDEAD instead of hanging
 *            it); process-shared condvar on CLOCK_MONOTONIC.  Beware: a
 *            process-shared condvar can be left corrupt by a waiter killed
 *            inside it (DESIGN.md): cross-process waiting belongs on a futex
 *            word (core/futex.h); keep condvars for one process.
 *   private  a default mutex and a condvar on CLOCK_MONOTONIC, for state one
 *            process owns (thread queues, broker bookkeeping).
 * Every wait takes the call's deadline (core/deadline.h), absolute, so EINTR
 * and spurious wake-ups never stretch it.
 */
#ifndef IPCPLAY_CORE_SYNC_H
#define IPCPLAY_CORE_SYNC_H

#include "core/deadline.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* One set-up for every mutex and condvar in the library.  shared: robust,
 * process-shared mutex / process-shared condvar; otherwise private ones.
 * Condvars always wait on CLOCK_MONOTONIC.  IPC_OK or IPC_ESYS. */
int  ipc__mutex_init(pthread_mutex_t *m, bool shared);
int  ipc__cond_init(pthread_cond_t *c, bool shared);
static inline int ipc__shared_mutex_init(pthread_mutex_t *m) { return ipc__mutex_init(m, true); }
static inline int ipc__shared_cond_init(pthread_cond_t *c) { return ipc__cond_init(c, true); }

/* Lock with the call's deadline.  Returns 0 (locked), 1 (deadline passed,
 * not locked) or IPC_ESYS.  *holder_died (may be NULL for private mutexes)
 * is set when the previous holder died with it locked: the lock is made
 * consistent again and the caller decides whether the data it guards can be
 * trusted. */
int  ipc__lock(pthread_mutex_t *m, const ipc_deadline *d, bool *holder_died);
/* The same for a lock that is never held across a wait (a monitor's mutex,
 * a ring's side lock): a nowait call still takes it, the way Python's
 * put_nowait takes the queue's mutex — only the wait for room or data is
 * skipped, so a nowait send never fails while there is room. */
int  ipc__lock_brief(pthread_mutex_t *m, const ipc_deadline *d, bool *holder_died);
/* Wait on c (m held) until signalled or the deadline: 0 woken, 1 timed out
 * or nowait (m held again in both cases).  On EOWNERDEAD the mutex is made
 * consistent and *holder_died set.  A negative IPC_E* return means m could
 * not be made consistent and is NOT held: return at once without unlocking. */
int  ipc__cond_wait(pthread_cond_t *c, pthread_mutex_t *m, const ipc_deadline *d, bool *holder_died);
/* A monitor's wait under SPIN or ADAPTIVE (core/wait.c), m held: before it
 * sleeps, a monitor calls this.  Returns IPC__MONITOR_SLEEP (sleep now, m
 * still held: BLOCK, or ADAPTIVE's budget is spent), 1 (the deadline passed
 * while spinning, m held), 0 (one spin round: m was released, the peer could
 * get in, and m is held again; the caller re-checks its condition), or a
 * negative IPC_E* with m NOT held (as ipc__cond_wait). */
#define IPC__MONITOR_SLEEP 2
int  ipc__monitor_spin(pthread_mutex_t *m, const ipc_deadline *d, bool *holder_died);

/* size bytes of zeroed MAP_SHARED|MAP_ANONYMOUS memory, inherited by fork().
 * NULL (with ipc__fail) on error. */
void *ipc__shared_alloc(size_t size);
void  ipc__shared_free(void *p, size_t size);

#endif /* IPCPLAY_CORE_SYNC_H */
