/*
 * poll.h — wait on several channels, of any mechanisms, at once.
 *
 * The select()/selectors/asyncio idea for ipcplay channels: one consumer
 * thread serves a pipe, a socketpair, a POSIX queue and a signal channel
 * without a thread per channel.  An ipc_poller is a tiny dispatch object
 * over epoll, like Redis's ae.c: add channels (and plain fds), then wait
 * for the ones that are ready.  ipc_poll() is the one-shot form.
 *
 * Only channels with a pollfd can be watched (IPC_CAP_POLL: pipe,
 * socketpair, ...).  Mechanisms that wait on a condition variable or a
 * futex (queue, procq, shm rings) have no fd to give: adding one answers
 * IPC_ENOTSUP, and ipc_last_error says which.
 *
 * THE CONTRACT: drain after every "ready", like an epoll edge-triggered
 * user.  Ready means "a receive may succeed", not "one message is there",
 * and an empty fd does not mean an empty channel: a mechanism may keep
 * messages it already took from the kernel (the held-back message of
 * posix_mq, sysv_mq and signal; the stream mechanisms — pipe, socketpair,
 * fifo, unix, tcp — take all the kernel holds, up to 64 KiB, into a shared
 * window per read and hand out one message per ipc_recv), so the fd may be
 * empty while messages are still waiting.  So, for every ready channel:
 *
 *     while ((rc = ipc_recv(ch, buf, cap, &len, NULL, 0)) == IPC_OK)
 *         handle(buf, len);
 *     // rc == IPC_EEMPTY: now it is safe to wait again
 *     // rc == IPC_ECLOSED: remove the channel from the poller
 *
 * Internally the fds are level-triggered (a caller that forgets to drain
 * is woken again while bytes remain in the kernel), but only draining
 * reaches the messages already buffered.
 *
 * A poller belongs to one thread of one process: create it after fork().
 * Remove a channel before you ipc_free it.
 */
#ifndef IPCPLAY_POLL_H
#define IPCPLAY_POLL_H

#include "../ipc.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ipc_poller ipc_poller;

typedef struct ipc_ready {
    ipc_channel *ch;   /* the ready channel, or NULL for a plain fd      */
    int          fd;   /* the fd that polled ready                       */
    void        *user; /* what was given to ipc_poller_add / _add_fd     */
} ipc_ready;

/* RETURNS 0 and *out, IPC_EINVAL, IPC_ESYS (*out left NULL). */
int  ipc_poller_open(ipc_poller **out);

/* Watch ch for "a receive may succeed"; user comes back in ipc_ready.
 * RETURNS 0, IPC_ENOTSUP (the mechanism has no pollfd), IPC_EINVAL (not a
 * channel, or already added), IPC_ESYS. */
int  ipc_poller_add(ipc_poller *p, ipc_channel *ch, void *user);

/* Watch any readable fd too: an event's ipc_event_pollfd, a timerfd,
 * stdin...  It is reported with ch == NULL.  Same returns as add. */
int  ipc_poller_add_fd(ipc_poller *p, int fd, void *user);

/* Stop watching.  RETURNS 0, IPC_EINVAL (not in this poller), IPC_ESYS. */
int  ipc_poller_remove(ipc_poller *p, ipc_channel *ch);
int  ipc_poller_remove_fd(ipc_poller *p, int fd);

/* Wait until at least one watched channel or fd is ready and fill up to max
 * entries of ready[].  timeout_ms: -1 forever, 0 just look, >0 ms on
 * CLOCK_MONOTONIC; signals do not restart the clock.  A hung-up peer (every
 * sender gone) counts as ready: the receive then says IPC_ECLOSED.  Whether
 * another holder's ipc_close() wakes the poller depends on the mechanism's
 * pollfd (stream mechanisms signal shutdown on a separate fd today).
 * RETURNS the number of entries filled (>= 1), IPC_ETIMEDOUT (nothing ready
 * before the deadline), IPC_EINVAL (also a timeout below -1), IPC_ESYS. */
int  ipc_poller_wait(ipc_poller *p, ipc_ready *ready, size_t max, int timeout_ms);

/* How many channels and fds are watched. */
size_t ipc_poller_count(const ipc_poller *p);

/* Release the poller (not the channels).  NULL is a no-op. */
void ipc_poller_free(ipc_poller *p);

/* One shot: wait until at least one of chs[0..n) is ready; ready[i] says
 * which.  For a loop keep an ipc_poller instead (this one sets a poller up
 * and tears it down on every call).
 * RETURNS how many are ready (>= 1), IPC_ETIMEDOUT (timeout), IPC_ENOTSUP
 * (chs[i] has no pollfd; ipc_last_error names it), IPC_EINVAL, IPC_ESYS. */
int  ipc_poll(ipc_channel *const *chs, size_t n, bool *ready, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif /* IPCPLAY_POLL_H */
