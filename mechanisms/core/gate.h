/*
 * core/gate.h — the close gate: ipc_close linearizable against sends whose
 * publish is one system call the library cannot make conditional (mq_send,
 * msgsnd), for the kernel-queue mechanisms (posix_mq, sysv_mq).
 *
 * The defect it closes (issue 12).  "Check shut, then publish" has a window:
 * a send that read shut == 0 can be preempted before its mq_send; close
 * sets shut, the receivers drain the queue and answer IPC_ECLOSED; then the
 * send lands and returns IPC_OK — a message acknowledged to its sender that
 * nobody will ever receive.  A second window is on the receiving side: a
 * receiver that found the queue empty and THEN reads shut == 1 may have
 * looked before the last acknowledged sends landed.
 *
 * The protocol (one robust process-shared mutex and one flag, in memory every
 * holder maps):
 *   send     ipc__gate_enter (lock; shut? -> IPC_ECLOSED), publish without
 *            blocking, ipc__gate_leave.  A send never waits for room inside
 *            the gate: it leaves, waits, and enters again.
 *   close    ipc__gate_close: sets shut under the lock, so every publish that
 *            entered before it is complete, and none can start after it.
 *   receive  finds the queue empty and ipc__gate_is_shut() true: it must look
 *            at the queue ONCE MORE before answering IPC_ECLOSED (the shut it
 *            read, ACQUIRE, comes after every acknowledged publish; its
 *            earlier look may not).  Empty again: drained.
 * Then an acknowledged send happened before the close and is taken by some
 * receiver before any receiver is told IPC_ECLOSED: exactly ipc.h's promise.
 *
 * Failure analysis.  A sender killed inside the gate: the mutex is robust, the
 * next locker gets EOWNERDEAD and takes it over (the flag is one atomic word,
 * never half-written).  A closer killed inside: the same; shut is either set
 * or not.  The lock is held for one non-blocking system call, never across a
 * wait, so a nowait send still takes it (ipc__lock_brief) and a timed one
 * gives up at its deadline.  Cost: one uncontended robust lock/unlock per
 * send (tens of ns beside a ~1 µs system call); senders of one channel take
 * turns for the length of their system call.
 *
 * Zeroed memory is NOT a valid gate: the creator calls ipc__gate_init before
 * any other process can reach the memory (mark a named segment ready after
 * it, or create the object attachers look up first after it).
 */
#ifndef IPCPLAY_CORE_GATE_H
#define IPCPLAY_CORE_GATE_H

#include "core/deadline.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef struct ipc_gate {
    pthread_mutex_t lock; /* robust, process-shared: a publish, or close's store */
    atomic_int      shut; /* 1 once closed; written under lock, read anywhere */
} ipc_gate;

/* IPC_OK or IPC_ESYS. */
int  ipc__gate_init(ipc_gate *g);
/* Enter to publish: IPC_OK (inside: publish without blocking, then
 * ipc__gate_leave), IPC_ECLOSED (shut: not inside), 1 (the deadline passed
 * while another holder was inside: not inside; the caller answers as for a
 * full queue), IPC_ESYS. */
int  ipc__gate_enter(ipc_gate *g, const ipc_deadline *d, const char *who);
void ipc__gate_leave(ipc_gate *g);
/* Shut the gate: after it returns, no publish is in progress and none will
 * start.  Idempotent.  IPC_OK or IPC_ESYS. */
int  ipc__gate_close(ipc_gate *g);
/* Closed?  ACQUIRE: pairs with the RELEASE store in ipc__gate_close, so a
 * caller that sees 1 sees every publish that completed before the close. */
static inline bool ipc__gate_is_shut(const ipc_gate *g)
{
    return atomic_load_explicit(&((ipc_gate *)g)->shut, memory_order_acquire);
}

#endif /* IPCPLAY_CORE_GATE_H */
