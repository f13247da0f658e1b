/*
 * semaphore.h — a counting semaphore (threading.Semaphore,
 * multiprocessing.Semaphore, POSIX sem_t) as an ipcplay event object.
 *
 * A counter that never goes below zero: acquire takes one unit, sleeping
 * while there is none; release gives one back and wakes a sleeper.  Started
 * at N it admits N holders at once; at 1 it is a lock; at 0 it is a counted
 * "something happened" signal (unlike an event, N releases are N acquires).
 * Chapter 6 of TUTORIAL.md teaches it next to POSIX and System V semaphores.
 *
 *   Python                                   C
 *   s = multiprocessing.Semaphore(3)         ipc_sem_open(&s, 3)
 *   s.acquire() / s.acquire(timeout=0.5)     ipc_sem_acquire(s, -1) / (s, 500)
 *   s.acquire(False)                         ipc_sem_acquire(s, 0)
 *   s.release()                              ipc_sem_release(s)
 *   s.get_value()                            ipc_sem_value(s)
 *
 * Where it lives: ipc_sem_open puts it in a shared anonymous mapping, so
 * threads and every child forked afterwards share it; ipc_sem_open_named
 * puts it in a /dev/shm object that unrelated processes attach to by name.
 * The creator's ipc_sem_free unlinks the name.
 *
 * Like a POSIX semaphore (and unlike System V's SEM_UNDO), it has no owner:
 * a process killed between acquire and release never gives its unit back.
 * What a dead process cannot do is corrupt it or hang the others: the count
 * is one atomic word and waiters hold nothing while they sleep.
 *
 * Errors: negative IPC_E* codes; NULL or a freed/foreign object answers
 * IPC_EINVAL; an acquire that finds no unit in time answers IPC_EEMPTY
 * (as a receive on an empty channel does: Python's acquire returns False).
 */
#ifndef IPCPLAY_SEMAPHORE_H
#define IPCPLAY_SEMAPHORE_H

#include "../ipc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ipc_sem ipc_sem;

/* A private semaphore at `initial` (at most IPC_SEM_MAX), shared with threads
 * and with children forked after this call.
 * RETURNS 0 and *out, or IPC_EINVAL (out NULL, initial too large), IPC_ESYS. */
int  ipc_sem_open(ipc_sem **out, unsigned initial);

/* A named semaphore for unrelated processes.  Without IPC_ATTACH in flags
 * it creates the /dev/shm object `name` ("/word"; NULL = a generated unique
 * name, see ipc_sem_name) at `initial` and owns it; with IPC_ATTACH it opens
 * the existing one (initial is ignored).
 * RETURNS 0, IPC_EINVAL (bad name, unknown flags, not a semaphore),
 * IPC_ESYS (e.g. ENOENT attaching to a name nobody created, EEXIST
 * creating one that exists). */
int  ipc_sem_open_named(const char *name, unsigned initial, unsigned flags, ipc_sem **out);

/* The name an attacher passes, or NULL for a private semaphore. */
const char *ipc_sem_name(const ipc_sem *s);

/* Take one unit (P).  timeout_ms: -1 forever, 0 only if one is free now,
 * >0 at most that many ms on CLOCK_MONOTONIC (a signal does not restart the
 * clock).  RETURNS 0 (taken), IPC_EEMPTY (none became free in time; for
 * timeout 0: none free now), IPC_EINVAL (a timeout below -1, not a
 * semaphore), IPC_ESYS. */
int  ipc_sem_acquire(ipc_sem *s, int timeout_ms);

/* Give one unit back (V) and wake a waiter if any sleeps.  RETURNS 0,
 * IPC_EFULL (the count is already IPC_SEM_MAX: a release without an
 * acquire, like Python's BoundedSemaphore ValueError), IPC_EINVAL. */
int  ipc_sem_release(ipc_sem *s);

/* The count right now (a hint), or IPC_EINVAL. */
long ipc_sem_value(const ipc_sem *s);

/* Unmap this process's view; the creator also unlinks the name.  NULL is a
 * no-op. */
void ipc_sem_free(ipc_sem *s);

#define IPC_SEM_MAX 0x7fffffffu

#ifdef __cplusplus
}
#endif
#endif
