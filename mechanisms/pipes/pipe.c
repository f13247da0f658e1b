/*
 * pipe.c — the anonymous pipe: multiprocessing.Pipe(duplex=False).
 *
 * pipe(2) gives a read end and a write end; both are inherited by fork(), so
 * the parent and its children all hold the same kernel buffer (64 KiB by
 * default).  Framing, locking and the shared read buffer are in stream.c.
 */
#define _GNU_SOURCE
#include "engines/stream.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static int pipe_open(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out)
{
    ipc_stream *s = ipc__channel_alloc(sizeof *s, m, cfg);
    if (!s) return IPC_ESYS;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        free(s);
        return ipc__fail(IPC_ESYS, "pipe2");
    }
    int rc = ipc__stream_init(s, fds[0], fds[1], false, NULL);
    if (rc != IPC_OK) {
        close(fds[0]);
        close(fds[1]);
        free(s);
        return rc;
    }
    *out = &s->base;
    return IPC_OK;
}

static void pipe_free(ipc_channel *ch)
{
    ipc__stream_destroy((ipc_stream *)ch);
    free(ch);
}

static const struct ipc_ops pipe_ops = {
    .open = pipe_open, .send = ipc__stream_send, .recv = ipc__stream_recv,
    .close = ipc__stream_close, .free = pipe_free, .pollfd = ipc__stream_pollfd,
    .depth = NULL, /* a pipe knows its bytes (FIONREAD), not its messages */
};

const ipc_mechanism ipc_mech_pipe = {
    .name = "pipe", .family = "pipes",
    .family_id = IPC_FAMILY_PIPES, .carrier = IPC_CARRIER_PIPE,
    .summary = "anonymous pipe, length-prefixed frames (multiprocessing.Pipe(duplex=False))",
    .caps = IPC_CAP_THREADS | IPC_CAP_FORK | IPC_CAP_MPMC | IPC_CAP_FIFO | IPC_CAP_POLL
          | IPC_CAP_CLOSE_WAKES,
    .max_msg_limit = IPC_STREAM_MAX_MSG, .default_max_msg = 1 << 20, .default_capacity = 0,
    .wait_strategy = "kernel block (poll)", .ops = &pipe_ops,
    .waits = IPC_WAITS_ALL, .wait_default = IPC_WAIT_BLOCK,
};
