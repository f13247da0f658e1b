/*
 * named.c — helpers shared by fifo.c, unix.c and tcp.c (see named.h).
 */
#define _GNU_SOURCE
#include "named.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

void ipc__named_adopt_shut_fd(ipc_stream *s, int fd)
{
    if (s->shut_fd >= 0) close(s->shut_fd);
    s->shut_fd = fd;
}

/* ---- hello ----------------------------------------------------------- */

int ipc__hello_send(int fd, const ipc_hello *h, const int *fds, int nfds)
{
    struct iovec iov = { .iov_base = (void *)h, .iov_len = sizeof *h };
    union { /* aligned room for the control message */
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * IPC_HELLO_MAX_FDS)];
    } ctl;
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (nfds > 0) {
        memset(&ctl, 0, sizeof ctl);
        mh.msg_control = ctl.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS; /* the kernel installs duplicates in the receiver */
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    /* 16 bytes into a fresh connection: always fits, so never blocks. */
    ssize_t n;
    do n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof *h) return ipc__fail(IPC_ESYS, "sendmsg(hello)");
    return IPC_OK;
}

/* Take the fds out of a received control message; close any surplus. */
static int take_fds(struct msghdr *mh, int *fds, int nfds)
{
    int got = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (got < nfds) fds[got++] = fd;
            else close(fd);
        }
    }
    return got;
}

int ipc__hello_recv(int fd, ipc_hello *h, int *fds, int nfds, const ipc_deadline *d)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * IPC_HELLO_MAX_FDS)];
    } ctl;
    size_t have = 0;
    int got = 0, rc = IPC_OK;
    while (have < sizeof *h) {
        struct iovec iov = { .iov_base = (char *)h + have, .iov_len = sizeof *h - have };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (have == 0) { /* the fds ride on the first byte */
            mh.msg_control = ctl.buf;
            mh.msg_controllen = sizeof ctl.buf;
        }
        ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n > 0) {
            if (have == 0) {
                got = take_fds(&mh, fds, nfds);
                if (mh.msg_flags & MSG_CTRUNC) { rc = ipc__fail(IPC_ESYS, "recvmsg(hello): file descriptors truncated"); break; }
            }
            have += (size_t)n;
            continue;
        }
        if (n == 0) { rc = ipc__fail(IPC_ECLOSED, "the owner hung up without answering (channel shut down, or owner gone)"); break; }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) { rc = ipc__fail(IPC_ESYS, "recvmsg(hello)"); break; }
        int w = ipc__wait_fd(fd, POLLIN, -1, d);
        if (w == 0) {
            errno = ETIMEDOUT;
            rc = ipc__fail(IPC_ESYS, "the owner did not answer within %d ms", d->timeout_ms);
            break;
        }
        if (w < 0) { rc = w; break; }
    }
    if (rc == IPC_OK && h->magic != IPC_HELLO_MAGIC)
        rc = ipc__fail(IPC_EINVAL, "the peer is not an ipcplay channel (bad hello)");
    if (rc == IPC_OK && got != nfds)
        rc = ipc__fail(IPC_EINVAL, "the owner passed %d file descriptors, expected %d", got, nfds);
    if (rc != IPC_OK)
        for (int i = 0; i < got; i++) close(fds[i]);
    return rc;
}

int ipc__hello_check(const ipc_hello *h, uint32_t kind, size_t max_msg_limit, const char *mech)
{
    if (h->magic != IPC_HELLO_MAGIC || h->kind != kind)
        return ipc__fail(IPC_EINVAL, "%s: the peer is not an ipcplay %s channel (kind %u)", mech, mech, h->kind);
    if (h->max_msg == 0 || h->max_msg > max_msg_limit)
        return ipc__fail(IPC_EINVAL, "%s: the owner announced max_msg %llu (limit %zu): refused", mech,
                         (unsigned long long)h->max_msg, max_msg_limit);
    return IPC_OK;
}

/* ---- connect ---------------------------------------------------------- */

int ipc__named_connect(int fd, const struct sockaddr *addr, socklen_t len, const ipc_deadline *d)
{
    int rc = ipc__set_nonblock(fd);
    if (rc != IPC_OK) return rc;
    if (connect(fd, addr, len) == 0) return IPC_OK;
    /* A non-blocking connect that was interrupted or is under way finishes
     * in the background: wait for writability, then read its verdict. */
    if (errno != EINPROGRESS && errno != EINTR && errno != EAGAIN) return ipc__fail(IPC_ESYS, "connect");
    int w = ipc__wait_fd(fd, POLLOUT, -1, d);
    if (w == 0) {
        errno = ETIMEDOUT;
        return ipc__fail(IPC_ESYS, "connect: no answer within %d ms", d->timeout_ms);
    }
    if (w < 0) return w;
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0) return ipc__fail(IPC_ESYS, "getsockopt(SO_ERROR)");
    if (err) {
        errno = err;
        return ipc__fail(IPC_ESYS, "connect");
    }
    return IPC_OK;
}
