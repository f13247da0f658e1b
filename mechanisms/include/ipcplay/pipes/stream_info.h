/*
 * stream_info.h — what a byte-stream channel (pipe, fifo, socketpair, the
 * unix stream socket) holds right now, for teaching: the visualizer shows a
 * pipe's kernel buffer with it.
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

#ifdef __cplusplus
}
#endif
#endif
