/*
 * kernel_util.h — what the mechanisms built on kernel message objects
 * (posix_mq, sysv_mq, signal) share; nothing here is part of ipc.h.
 *
 *   holdback  mq_receive, msgrcv and read(signalfd) cannot peek: a message
 *             is known only once it has been taken out of the kernel.  When
 *             it does not fit the caller's buffer it must stay queued
 *             (ipc.h).  A mechanism that cannot put it back into the kernel
 *             keeps it here, in the handle, and hands it out first.
 *   backoff   SysV calls and a full pending-signal queue offer no timed
 *             wait: try without blocking, sleep a little, double, retry —
 *             never past the caller's deadline.
 *   limits    the kernel's limits, read from /proc/sys at open.
 */
#ifndef IPCPLAY_KERNEL_UTIL_H
#define IPCPLAY_KERNEL_UTIL_H

#include "ipc_internal.h"

/* The largest message the kernel-queue mechanisms carry: Linux's default
 * msgsize_max (POSIX mq) and msgmax (SysV).  Receive buffers of this size
 * live on the stack. */
#define IPC_KERNEL_MAX_MSG 8192

/* ---- holdback: messages taken from the kernel but not yet delivered ---- */
typedef struct ipc_held ipc_held;

typedef struct ipc_holdback {
    pthread_mutex_t lock;  /* guards the list: threads may share a handle */
    atomic_bool     any;   /* list non-empty: the lock-free fast check    */
    ipc_held       *head, *tail;
} ipc_holdback;

enum { IPC_HOLDBACK_EMPTY = 1 }; /* ipc__holdback_take: nothing held */

int  ipc__holdback_init(ipc_holdback *h);
/* Keep a message for the next receive on this handle (oldest first). */
int  ipc__holdback_put(ipc_holdback *h, const void *msg, size_t len, int prio);
/* Deliver the oldest held message: IPC_OK, IPC_EMSGSIZE (cap too small, it
 * stays held, *len = its size) or IPC_HOLDBACK_EMPTY. */
int  ipc__holdback_take(ipc_holdback *h, void *buf, size_t cap, size_t *len, int *prio);
/* Remove the oldest held message into msg (IPC_KERNEL_MAX_MSG bytes) so the
 * caller can put it back into the kernel on free: 1 taken, 0 none. */
int  ipc__holdback_pop(ipc_holdback *h, void *msg, size_t *len, int *prio);
/* How long ipc_free waits for room to hand a held message back to its
 * queue (posix_mq, sysv_mq) before it is lost with the handle. */
#define IPC_HOLDBACK_FREE_MS 1000

/* Drop everything (a forked child: what was held belongs to the parent). */
void ipc__holdback_reset(ipc_holdback *h);
void ipc__holdback_destroy(ipc_holdback *h);

/* ---- backoff: sleep between non-blocking attempts ---------------------- */
typedef struct ipc_backoff { long step_ns; } ipc_backoff;

/* 20 µs, doubling to 1 ms: a waiter reacts at most 1 ms late and wakes at
 * most ~1000 times a second (a few µs of CPU each). */
#define IPC_BACKOFF_FIRST_NS 20000L
#define IPC_BACKOFF_MAX_NS   1000000L
#define IPC_BACKOFF_INIT { IPC_BACKOFF_FIRST_NS }

/* Sleep one step on CLOCK_MONOTONIC, never past the deadline.  Returns 1 to
 * try again, 0 once the deadline has passed (0 at once for nowait). */
int  ipc__backoff_sleep(ipc_backoff *b, const ipc_deadline *d);

/* ---- limits ------------------------------------------------------------ */
/* Read one number from a /proc/sys file.  IPC_OK, or IPC_ESYS naming it. */
int  ipc__read_proc_limit(const char *path, long *value);

#endif /* IPCPLAY_KERNEL_UTIL_H */
