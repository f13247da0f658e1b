/*
 * stream_info.h — the extras of the byte-stream channels (pipe, fifo,
 * socketpair, the unix stream socket, tcp): many messages in one system
 * call for a sender with a backlog, and what a stream holds right now, for
 * teaching (the visualizer shows a pipe's kernel buffer with it).
 *
 * A stream channel keeps messages in two places: bytes the kernel holds
 * (written, not yet read: FIONREAD on the read end) and frames already read
 * into the channel's shared window in user space (one read takes all the
 * kernel holds, up to 64 KiB; one message per receive; a receiver killed
 * in that read loses nothing: engines/stream.c).  Only the first is the
 * kernel's buffer, whose size is the pipe's capacity (64 KiB by default).
 */
#ifndef IPCPLAY_STREAM_INFO_H
#define IPCPLAY_STREAM_INFO_H

#include "../ipc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes the kernel holds for ch right now (a hint, like ipc_depth: another
 * holder may change it at once).  Lock-free: one ioctl(FIONREAD).
 * RETURNS the count (>= 0), or IPC_EINVAL (ch is not an open stream
 * channel of this process), IPC_ESYS. */
long ipc_stream_kernel_bytes(const ipc_channel *ch);

/* Send msgs[0..n-1] (lens[i] bytes each), in order, packing as many whole
 * messages into each write(2)/sendmsg(2) as the kernel buffer takes whole
 * right now: for a sender with a backlog, one system call carries up to
 * 512 messages instead of one.  Every promise of ipc_send holds for each
 * message: it is never torn nor interleaved with another sender's, it
 * counts as sent only once the kernel holds it (a sender killed at any
 * point leaves whole messages only: those the kernel took), a close
 * orders against it message by message, and the call never waits past
 * timeout_ms (-1 forever, 0 never, > 0 ms) for room — it then stops at a
 * message boundary (a message larger than the kernel buffer itself is
 * finished once started, exactly as ipc_send does: ipc.h).  Other senders' messages may come between two of the
 * batch's system calls, never inside a message.  On a tcp channel an
 * attacher's batch goes to the owner's channel like its ipc_send does.  A
 * handle with an observer (ipc_observe) sends one message per call, so the
 * observer hears each send (BEGIN, DONE) as it happens; without one the
 * batch is one dispatched call and no events are emitted.  The receiving
 * side needs nothing: one read already takes every frame the kernel holds
 * (engines/stream.c).
 * *sent gets the number of leading messages sent (the kernel holds them);
 * the rest, from msgs[*sent] on, were not sent at all.
 * RETURNS IPC_OK (*sent == n; also for n == 0), or the error that stopped
 * the batch at msgs[*sent]: IPC_EFULL (no room before the deadline),
 * IPC_ECLOSED (shut down, or no receiver left), IPC_EMSGSIZE (some lens[i]
 * exceeds ipc_max_msg: checked first, nothing sent), IPC_EINVAL (ch is not
 * an open stream channel, sent is NULL, msgs or lens NULL with n > 0, a
 * msgs[i] NULL with lens[i] > 0, timeout_ms below -1), IPC_ESYS. */
int ipc_stream_send_batch(ipc_channel *ch, const void *const msgs[], const size_t lens[], size_t n, int timeout_ms,
                          size_t *sent);

#ifdef __cplusplus
}
#endif
#endif
