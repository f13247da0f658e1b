/*
 * signals.h — the extras of the "signal" mechanism, and two helpers for the
 * course: a classic SIGUSR1 handler, and a measurement of how standard
 * signals coalesce while real-time signals queue.
 */
#ifndef IPCPLAY_SIGNALS_H
#define IPCPLAY_SIGNALS_H

#include "../ipc.h"

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the "signal" channel ----------------------------------------------- */

/* The real-time signal number that carries this channel, or IPC_EINVAL. */
int   ipc_signal_number(const ipc_channel *ch);

/* Block the channel's signal in the calling thread.  ipc_open blocks it in
 * the opening thread and threads created afterwards inherit that; a thread
 * that already existed must call this (or block it itself), otherwise the
 * kernel may pick that thread for a message and the signal's default action
 * terminates the whole process.  RETURNS 0, IPC_EINVAL, IPC_ESYS. */
int   ipc_signal_block(const ipc_channel *ch);

/* Send this handle's messages to `pid` from now on (a pidfd is taken now, so
 * a later reuse of the pid cannot misdirect them); pid 0 goes back to the
 * default peer: the opener sends to its newest child that is still alive
 * (a pool: once the newest exits, the next newest live one; IPC_ECLOSED when
 * none is left; itself before any fork), a child to its parent.
 * Affects this process only.  RETURNS 0, IPC_EINVAL, IPC_ECLOSED (no such
 * process), IPC_ESYS. */
int   ipc_signal_set_target(ipc_channel *ch, pid_t pid);

/* The pid a send on this handle would go to right now (getpid() for the
 * loopback case), or a negative IPC_E* code. */
pid_t ipc_signal_target(ipc_channel *ch);

/* ---- SIGUSR1, the classic way (for the demos) ---------------------------- */

/* Install a SIGUSR1 handler that only counts (a volatile sig_atomic_t: the
 * one kind of work that is async-signal-safe), and block SIGUSR1 in the
 * calling thread so ipc_signal_usr1_wait can wait for it without a race.
 * RETURNS 0 or IPC_ESYS. */
int   ipc_signal_usr1_install(void);

/* How many SIGUSR1 the handler has seen so far. */
long  ipc_signal_usr1_count(void);

/* Wait until the count exceeds `seen` or timeout_ms passes: ppoll(2) unblocks
 * SIGUSR1 and sleeps in one atomic step, so a signal arriving between the
 * check and the sleep is not missed.  RETURNS 0, IPC_ETIMEDOUT (timed out),
 * IPC_ESYS. */
int   ipc_signal_usr1_wait(long seen, int timeout_ms);

/* ---- coalescing --------------------------------------------------------- */

/* Block `sig` in the calling thread, send it n times to this thread, then
 * take what is pending with sigtimedwait and return how many arrived.  A
 * standard signal (SIGUSR1) is one pending bit: the answer is 1.  A
 * real-time signal (SIGRTMIN..SIGRTMAX) queues one entry per send: n.  The
 * mask is restored.  RETURNS the count, or IPC_EINVAL / IPC_ESYS. */
long  ipc_signal_count_deliveries(int sig, int n);

#ifdef __cplusplus
}
#endif
#endif /* IPCPLAY_SIGNALS_H */
