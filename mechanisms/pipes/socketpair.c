/*
 * socketpair.c — a connected pair of Unix stream sockets.
 *
 * As a channel ("socketpair" in the registry) it is used like a pipe: sends
 * go into one socket and receives come out of the other, so the conformance
 * suite, the benchmarks and the visualizer treat it like any queue.  Its own
 * call ipc_duplex_open() gives the two ends separately — each end both sends
 * and receives — which is what Python's Pipe(duplex=True) returns.
 *
 * Unlike a pipe, a stream socket promises no write atomicity at any size, so
 * every sender takes the write lock (stream.c); and a socket can be half
 * closed: shutdown(SHUT_WR) gives the readers at the other end end-of-file,
 * in every process at once.
 */
#define _GNU_SOURCE
#include "pipes/socketpair.h"
#include "engines/stream.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static int sp_close(ipc_channel *ch)
{
    ipc_stream *s = (ipc_stream *)ch;
    int rc = ipc__stream_close(ch);
    /* The peer end sees EOF once it has drained: that is how a duplex end
     * learns the other side is done.  ENOTCONN: the peer is already gone. */
    if (shutdown(s->wfd, SHUT_WR) < 0 && errno != ENOTCONN && rc == IPC_OK)
        rc = ipc__fail(IPC_ESYS, "shutdown(SHUT_WR)");
    return rc;
}

static void sp_free(ipc_channel *ch)
{
    ipc__stream_destroy((ipc_stream *)ch);
    free(ch);
}

static int sp_open(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out);

static const struct ipc_ops socketpair_ops = {
    .open = sp_open, .send = ipc__stream_send, .recv = ipc__stream_recv,
    .close = sp_close, .free = sp_free, .pollfd = ipc__stream_pollfd, .depth = NULL,
};

const ipc_mechanism ipc_mech_socketpair = {
    .name = "socketpair", .family = "pipes",
    .family_id = IPC_FAMILY_PIPES, .carrier = IPC_CARRIER_UNIX_STREAM,
    .summary = "connected Unix stream socket pair (multiprocessing.Pipe(duplex=True))",
    .caps = IPC_CAP_THREADS | IPC_CAP_FORK | IPC_CAP_MPMC | IPC_CAP_FIFO | IPC_CAP_POLL
          | IPC_CAP_CLOSE_WAKES,
    .max_msg_limit = IPC_STREAM_MAX_MSG, .default_max_msg = 1 << 20, .default_capacity = 0,
    .wait_strategy = "kernel block (poll)", .ops = &socketpair_ops,
    .waits = IPC_WAITS_ALL, .wait_default = IPC_WAIT_BLOCK,
};

/* One stream over (rfd, wfd); on failure nothing is left open. */
static int make_end(const ipc_config *cfg, int rfd, int wfd, ipc_channel **out)
{
    ipc_stream *s = ipc__channel_alloc(sizeof *s, &ipc_mech_socketpair, cfg);
    if (!s) return IPC_ESYS;
    int rc = ipc__stream_init(s, rfd, wfd, true, NULL);
    if (rc != IPC_OK) {
        free(s);
        return rc;
    }
    *out = &s->base;
    return IPC_OK;
}

static int open_pair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return ipc__fail(IPC_ESYS, "socketpair");
    return IPC_OK;
}

static int sp_open(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out)
{
    (void)m;
    int sv[2];
    int rc = open_pair(sv);
    if (rc == IPC_OK && (rc = make_end(cfg, sv[1], sv[0], out)) != IPC_OK) {
        close(sv[0]);
        close(sv[1]);
    }
    return rc;
}

int ipc_duplex_open(const ipc_config *cfg, ipc_channel **a, ipc_channel **b)
{
    if (a) *a = NULL;
    if (b) *b = NULL;
    if (!a || !b) return ipc__fail(IPC_EINVAL, "ipc_duplex_open: a and b must not be NULL");
    ipc_config c = cfg ? *cfg : (ipc_config){ 0 };
    if (c.max_msg == 0) c.max_msg = ipc_mech_socketpair.default_max_msg;
    if (c.max_msg > ipc_mech_socketpair.max_msg_limit)
        return ipc__fail(IPC_EINVAL, "ipc_duplex_open: max_msg %zu exceeds %zu", c.max_msg,
                         ipc_mech_socketpair.max_msg_limit);
    int sv[2];
    int rc = open_pair(sv);
    if (rc != IPC_OK) return rc;
    /* Each end reads and writes its own socket: a's bytes come out at b. */
    if ((rc = make_end(&c, sv[0], sv[0], a)) != IPC_OK) {
        close(sv[0]);
        close(sv[1]);
        return rc;
    }
    if ((rc = make_end(&c, sv[1], sv[1], b)) != IPC_OK) {
        close(sv[1]);
        ipc_free(*a);
        *a = NULL;
    }
    return rc;
}
