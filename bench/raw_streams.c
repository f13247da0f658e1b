/*
 * raw_streams.c — the raw baselines of the pipes family: a pipe, a Unix
 * socket pair, a TCP loopback connection, and the two message-keeping Unix
 * sockets (SOCK_SEQPACKET, SOCK_DGRAM), with no ipcplay code.
 *
 * What they do is the least a program can do to move framed messages over a
 * byte stream: the sender writes a 4-byte length and the payload with ONE
 * writev/sendmsg, the receiver takes both with ONE readv.  That reader
 * relies on knowing every message's size in advance (the benchmark sends
 * fixed sizes): it is the cheapest possible reader that does one read(2)
 * per message.  A general reader must either read the header first (two
 * system calls per message) or read big chunks into a buffer and parse many
 * messages per read — which is what stream.c does, and what the throughput
 * of small messages compares against this one-read-per-message reader.
 *
 * The file descriptors are plain blocking ones: a raw program waits in the
 * kernel, so the wait strategy is "kernel block".
 */
#define _GNU_SOURCE
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

typedef struct raw_stream {
    bench_chan base;
    int        rfd, wfd;
    bool       socket;  /* sendmsg with MSG_NOSIGNAL instead of writev */
} raw_stream;

/* ---- byte streams: framed by hand ----------------------------------------- */

/* Move all of iov, resuming after short transfers (a pipe splits frames
 * above PIPE_BUF, a socket may split anything). */
static int transfer_all(raw_stream *r, struct iovec *iov, int n, bool out)
{
    while (n > 0) {
        ssize_t k;
        if (!out) {
            k = readv(r->rfd, iov, n);
        } else if (r->socket) {
            struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
            k = sendmsg(r->wfd, &mh, MSG_NOSIGNAL);
        } else {
            k = writev(r->wfd, iov, n);
        }
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return bench_fail_errno(out ? "writev/sendmsg" : "readv");
        if (k == 0) return bench_fail("end of stream");
        while (n > 0 && (size_t)k >= iov->iov_len) { k -= (ssize_t)iov->iov_len; iov++; n--; }
        if (n > 0) { iov->iov_base = (char *)iov->iov_base + k; iov->iov_len -= (size_t)k; }
    }
    return 0;
}

static int rs_send(bench_chan *c, const void *msg, size_t len)
{
    uint32_t header = (uint32_t)len;
    struct iovec iov[2] = { { &header, sizeof header }, { (void *)msg, len } };
    return transfer_all((raw_stream *)c, iov, 2, true);
}

static int rs_recv(bench_chan *c, void *buf, size_t cap, size_t *len)
{
    uint32_t header;
    struct iovec iov[2] = { { &header, sizeof header }, { buf, cap } };
    if (transfer_all((raw_stream *)c, iov, 2, false) < 0) return -1;
    if (header != cap) return bench_fail("raw stream: a %u-byte message, expected %zu", header, cap);
    *len = header;
    return 0;
}

static void rs_free(bench_chan *c)
{
    raw_stream *r = (raw_stream *)c;
    close(r->rfd);
    if (r->wfd != r->rfd) close(r->wfd);
    free(r);
}

/* Wrap two connected descriptors; on failure they are closed. */
static int wrap(int rfd, int wfd, bool socket, bench_chan **out)
{
    raw_stream *r = malloc(sizeof *r);
    if (!r) {
        bench_fail_errno("malloc");
        close(rfd);
        close(wfd);
        return -1;
    }
    *r = (raw_stream){
        .base = { .send = rs_send, .recv = rs_recv, .free = rs_free },
        .rfd = rfd, .wfd = wfd, .socket = socket,
    };
    *out = &r->base;
    return 0;
}

static int open_pipe(const bench_impl *impl, size_t max_msg, bench_chan **out)
{
    (void)impl, (void)max_msg;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) return bench_fail_errno("pipe2");
    return wrap(fds[0], fds[1], false, out);
}

static int open_socketpair(const bench_impl *impl, size_t max_msg, bench_chan **out)
{
    (void)impl, (void)max_msg;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return bench_fail_errno("socketpair");
    return wrap(sv[0], sv[1], true, out);
}

/* A TCP connection to ourselves on 127.0.0.1, Nagle off on both ends (a
 * latency benchmark with Nagle on measures the 40 ms delayed ACK). */
static int open_tcp(const bench_impl *impl, size_t max_msg, bench_chan **out)
{
    (void)impl, (void)max_msg;
    int one = 1, lfd = -1, cfd = -1, afd = -1;
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof addr;
    if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) { bench_fail_errno("socket"); goto fail; }
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) { bench_fail_errno("bind(127.0.0.1:0)"); goto fail; }
    if (listen(lfd, 1) < 0) { bench_fail_errno("listen"); goto fail; }
    if (getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) { bench_fail_errno("getsockname"); goto fail; }
    if ((cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) { bench_fail_errno("socket"); goto fail; }
    if (connect(cfd, (struct sockaddr *)&addr, sizeof addr) < 0) { bench_fail_errno("connect"); goto fail; }
    if ((afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) { bench_fail_errno("accept4"); goto fail; }
    if (setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
        setsockopt(afd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) {
        bench_fail_errno("setsockopt(TCP_NODELAY)");
        goto fail;
    }
    close(lfd);
    return wrap(afd, cfd, true, out);
fail:
    if (lfd >= 0) close(lfd);
    if (cfd >= 0) close(cfd);
    if (afd >= 0) close(afd);
    return -1;
}

/* ---- message sockets: one send(2), one recv(2) per message ------------------ */

/* SOCK_SEQPACKET and SOCK_DGRAM keep message boundaries themselves: no
 * header, no framing, one call each way.  A datagram must fit SO_SNDBUF
 * whole, so the buffer is grown for the largest message first. */
static int ms_send(bench_chan *c, const void *msg, size_t len)
{
    while (send(((raw_stream *)c)->wfd, msg, len, MSG_NOSIGNAL) < 0)
        if (errno != EINTR) return bench_fail_errno("send");
    return 0;
}

static int ms_recv(bench_chan *c, void *buf, size_t cap, size_t *len)
{
    ssize_t n;
    while ((n = recv(((raw_stream *)c)->rfd, buf, cap, 0)) < 0)
        if (errno != EINTR) return bench_fail_errno("recv");
    *len = (size_t)n;
    return 0;
}

static int open_msg_socket(const bench_impl *impl, size_t max_msg, bench_chan **out)
{
    int type = impl == &raw_dgram ? SOCK_DGRAM : SOCK_SEQPACKET;
    int sv[2];
    if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) < 0) return bench_fail_errno("socketpair");
    int want = (int)(2 * max_msg + 65536);
    if (setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &want, sizeof want) < 0) {
        bench_fail_errno("setsockopt(SO_SNDBUF, %d)", want);
        close(sv[0]);
        close(sv[1]);
        return -1;
    }
    if (wrap(sv[0], sv[1], true, out) < 0) return -1;
    (*out)->send = ms_send;
    (*out)->recv = ms_recv;
    return 0;
}

#define RAW_STREAM_CAPS (IPC_CAP_THREADS | IPC_CAP_FORK)

const bench_impl raw_pipe = {
    .name = "raw:pipe", .wait = "kernel block (read)",
    .about = "pipe2, writev(header+payload), one readv per message",
    .caps = RAW_STREAM_CAPS, .max_msg = UINT32_MAX, .open = open_pipe,
};
const bench_impl raw_socketpair = {
    .name = "raw:socketpair", .wait = "kernel block (read)",
    .about = "AF_UNIX stream socketpair, sendmsg(header+payload), one readv per message",
    .caps = RAW_STREAM_CAPS, .max_msg = UINT32_MAX, .open = open_socketpair,
};
const bench_impl raw_tcp = {
    .name = "raw:tcp", .wait = "kernel block (read)",
    .about = "TCP over 127.0.0.1 with TCP_NODELAY, sendmsg(header+payload), one readv per message",
    .caps = RAW_STREAM_CAPS, .max_msg = UINT32_MAX, .open = open_tcp,
};
const bench_impl raw_seqpacket = {
    .name = "raw:seqpacket", .wait = "kernel block (recv)",
    .about = "AF_UNIX SOCK_SEQPACKET socketpair, one send + one recv per message",
    .caps = RAW_STREAM_CAPS, .max_msg = 1u << 20, .open = open_msg_socket,
};
const bench_impl raw_dgram = {
    .name = "raw:dgram", .wait = "kernel block (recv)",
    .about = "AF_UNIX SOCK_DGRAM socketpair, one send + one recv per message",
    .caps = RAW_STREAM_CAPS, .max_msg = 1u << 20, .open = open_msg_socket,
};
