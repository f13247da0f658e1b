/*
 * stream_info.h — what a byte-stream channel (pipe, fifo, socketpair, the
 * unix stream socket) holds right now, for teaching: the visualizer shows a
 * pipe's kernel buffer with it.
 *
 * Every message sent and not yet received is in the kernel's buffer
 * (written, not yet read: FIONREAD on the read end), whose size is the
 * pipe's capacity (64 KiB by default).  A receiver takes exactly one frame
 * out of it per receive; the channel's own 64 KiB window in user space is
 * only a copy of the buffer's first bytes (peeked, not taken), so that a
 * receiver killed mid-receive takes at most the message it was receiving.
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

#ifdef __cplusplus
}
#endif
#endif
