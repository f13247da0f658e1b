/*
 * stream.c — length-prefixed messages over any byte stream.
 *
 * Sending.  POSIX promises that a write of at most PIPE_BUF (4096 on Linux)
 * bytes to a pipe or FIFO is atomic: it is never interleaved with another
 * writer's bytes, and with O_NONBLOCK it either goes in whole or fails with
 * EAGAIN.  So a frame (header + payload) of <= PIPE_BUF bytes needs no lock
 * at all, from any number of processes.  A larger frame can be split and
 * interleaved with another writer's, which would corrupt the stream for
 * every reader: those senders take write_lock, a robust process-shared
 * mutex, for the whole frame.  Sockets promise no atomicity at any size, so
 * socket senders always take it.  Header and payload leave in one writev, so
 * a small message costs one system call.
 *
 * Receiving.  A reader that read(2)s the 4-byte header and then the payload
 * pays two system calls per message.  Instead the receiver holding
 * read_lock reads up to 64 KiB at once into a buffer and hands out as many
 * messages as that contains.  The buffer lives in the shared mapping, not
 * in the reader's process: a reader that exits (or is killed) between two
 * messages takes nothing with it, and any other process continues where it
 * stopped.
 *
 * Timeouts.  Once the first byte of a frame has left, the frame must be
 * finished whatever the deadline says: a half-sent frame could never be
 * parsed.  So a frame only starts when it can go out whole: one writev of
 * <= PIPE_BUF bytes to a pipe is all-or-nothing; a larger one waits (under
 * the deadline) until the pipe surely has room for all of it (pipe_room);
 * one sendmsg on a Unix stream socket of up to about SO_SNDBUF/2 bytes is a
 * single buffer, all-or-nothing too.  Only a frame larger than the kernel
 * buffer itself (56 KiB for a default pipe; raise it with F_SETPIPE_SZ)
 * starts as soon as some room appears, and then its deadline covers only
 * that start.
 */
#define _GNU_SOURCE
#include "stream.h"
#include "pipes/stream_info.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static ipc_stream *as_stream(ipc_channel *ch) { return (ipc_stream *)ch; }

int ipc__stream_shared_init(ipc_stream_shared *sh)
{
    int rc = ipc__shared_mutex_init(&sh->write_lock);
    if (rc == IPC_OK && (rc = ipc__shared_mutex_init(&sh->read_lock)) != IPC_OK)
        pthread_mutex_destroy(&sh->write_lock);
    return rc;
}

int ipc__stream_init(ipc_stream *s, int rfd, int wfd, bool is_socket, ipc_stream_shared *shared)
{
    s->rfd = rfd;
    s->wfd = wfd;
    s->is_socket = is_socket;
    s->shut_fd = -1;
    s->shared = shared;
    s->shared_is_mapped = false;
    int rc = ipc__set_nonblock(rfd);
    if (rc == IPC_OK && wfd != rfd) rc = ipc__set_nonblock(wfd);
    if (rc != IPC_OK) return rc;
    if (!is_socket) ipc__ignore_sigpipe(); /* writev has no MSG_NOSIGNAL */

    /* One eventfd shared by every holder (it is inherited by fork): ipc_close
     * makes it readable for good, which wakes every poll() waiting on it. */
    s->shut_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->shut_fd < 0) return ipc__fail(IPC_ESYS, "eventfd");
    if (!shared) {
        s->shared = ipc__shared_alloc(sizeof *s->shared);
        if (!s->shared || (rc = ipc__stream_shared_init(s->shared)) != IPC_OK) {
            ipc__shared_free(s->shared, sizeof *s->shared);
            s->shared = NULL;
            close(s->shut_fd);
            s->shut_fd = -1;
            return s->shared ? rc : IPC_ESYS;
        }
        s->shared_is_mapped = true;
    }
    return IPC_OK;
}

void ipc__stream_destroy(ipc_stream *s)
{
    int pollset = atomic_exchange(&s->pollset, 0);
    if (pollset > 0) close(pollset - 1);
    if (s->rfd >= 0) close(s->rfd);
    if (s->wfd >= 0 && s->wfd != s->rfd) close(s->wfd);
    if (s->shut_fd >= 0) close(s->shut_fd);
    if (s->shared_is_mapped) ipc__shared_free(s->shared, sizeof *s->shared);
    s->rfd = s->wfd = s->shut_fd = -1;
    s->shared = NULL;
}

static bool is_shut(const ipc_stream *s) { return atomic_load(&s->shared->shut); }

/* A holder died while it held a lock mid-frame: nobody can find the next
 * frame boundary any more.  Say so instead of delivering garbage. */
static int broken(void)
{
    return ipc__fail(IPC_ECLOSED, "stream broken: a holder died in the middle of a message");
}

/* ---- send -------------------------------------------------------------- */

static ssize_t write_frame_part(const ipc_stream *s, struct iovec *iov, int iovcnt)
{
    if (s->is_socket) {
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)iovcnt };
        return sendmsg(s->wfd, &mh, MSG_NOSIGNAL);
    }
    return writev(s->wfd, iov, iovcnt);
}

/* Bytes a pipe surely accepts right now without blocking.  A pipe stores
 * data in page-sized slots (F_GETPIPE_SZ / page of them); `used` bytes fill
 * at most ceil(used/page) + 2 slots, because only the oldest slot can be
 * partly read and only the newest partly written.  *most gets the room of an
 * empty pipe.  0 when the pipe cannot tell (then the caller just writes). */
static size_t pipe_room(const ipc_stream *s, size_t *most)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    int size = fcntl(s->wfd, F_GETPIPE_SZ), used = 0;
    *most = 0;
    if (size <= 0 || ioctl(s->wfd, FIONREAD, &used) < 0) return 0;
    size_t slots = (size_t)size / page, busy = ((size_t)used + page - 1) / page + 2;
    *most = slots > 2 ? (slots - 2) * page : 0;
    return slots > busy ? (slots - busy) * page : 0;
}

/* A frame bigger than PIPE_BUF (write_lock held): wait, under the caller's
 * deadline, until the pipe has room for all of it.  POLLOUT means "one slot
 * is free", maybe less than we need; then nap 1 ms and look again. */
static int wait_for_pipe_room(ipc_stream *s, size_t total, const ipc_deadline *d)
{
    size_t most;
    for (;;) {
        if (is_shut(s)) return ipc__fail(IPC_ECLOSED, "channel is shut down");
        if (pipe_room(s, &most) >= total || total > most) return IPC_OK; /* fits, or never can */
        if (ipc__deadline_passed(d)) return ipc__fail(IPC_EFULL, "no room for a %zu-byte frame", total);
        ipc__blocked(&s->base, IPC_EV_SEND_BLOCKED);
        int w = ipc__wait_fd(s->wfd, POLLOUT, s->shut_fd, d);
        if (w < 0 && w != IPC_ECLOSED) return w;
        if (w == 1 && pipe_room(s, &most) < total) {
            ipc_deadline nap;
            ipc__deadline_start(&nap, 1);
            ipc__wait_fd(s->shut_fd, POLLIN, -1, &nap);
        }
    }
}

int ipc__stream_send(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    (void)prio; /* a stream has one order: the order of the bytes */
    ipc_stream *s = as_stream(ch);
    if (is_shut(s)) return ipc__fail(IPC_ECLOSED, "channel is shut down");
    if (atomic_load(&s->shared->broken)) return broken();

    uint32_t header = (uint32_t)len;
    struct iovec iov[2] = {
        { .iov_base = &header, .iov_len = sizeof header },
        { .iov_base = (void *)msg, .iov_len = len },
    };
    size_t total = sizeof header + len, sent = 0;
    bool locked = s->is_socket || total > PIPE_BUF;
    if (locked) {
        bool died = false;
        int r = ipc__lock(&s->shared->write_lock, d, &died);
        if (r == 1) return ipc__fail(IPC_EFULL, "another sender holds the channel");
        if (r < 0) return r;
        /* A holder that died waiting for room left the stream intact; one
         * that died after its first byte left half a frame in it. */
        if (died && s->shared->mid_frame) atomic_store(&s->shared->broken, true);
        if (atomic_load(&s->shared->broken)) {
            pthread_mutex_unlock(&s->shared->write_lock);
            return broken();
        }
        if (!s->is_socket) {
            int r = wait_for_pipe_room(s, total, d);
            if (r != IPC_OK) {
                pthread_mutex_unlock(&s->shared->write_lock);
                return r;
            }
        }
    }

    int rc = IPC_OK;
    struct iovec *v = iov;
    int nv = 2;
    while (sent < total) {
        ssize_t n = write_frame_part(s, v, nv);
        if (n > 0) {
            sent += (size_t)n;
            if (locked) s->shared->mid_frame = sent < total;
            while (nv > 0 && (size_t)n >= v->iov_len) { n -= (ssize_t)v->iov_len; v++; nv--; }
            if (nv > 0) { v->iov_base = (char *)v->iov_base + n; v->iov_len -= (size_t)n; }
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            ipc__blocked(ch, IPC_EV_SEND_BLOCKED);
            /* Before the first byte: the caller's deadline, and shutdown
             * stops us.  After it: finish the frame, whatever happens. */
            int w = sent ? ipc__wait_fd(s->wfd, POLLOUT, -1, &ipc__forever)
                         : ipc__wait_fd(s->wfd, POLLOUT, s->shut_fd, d);
            if (w == 0) { rc = ipc__fail(IPC_EFULL, "channel is full"); break; }
            if (w == IPC_ECLOSED) { rc = ipc__fail(IPC_ECLOSED, "channel is shut down"); break; }
            if (w < 0) { rc = w; break; }
            continue;
        }
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
            rc = ipc__fail(IPC_ECLOSED, "no receiver is left");
        } else {
            rc = ipc__fail(IPC_ESYS, "%s", s->is_socket ? "sendmsg" : "writev");
        }
        if (sent) atomic_store(&s->shared->broken, true);
        break;
    }
    if (locked) pthread_mutex_unlock(&s->shared->write_lock);
    return rc;
}

/* ---- receive ----------------------------------------------------------- */

/* Read whatever the stream has into the shared buffer (read_lock held).
 * Returns bytes read (>0), 0 on end of stream, IPC_EEMPTY when nothing is
 * there before the deadline, IPC_ECLOSED on shutdown, IPC_ESYS. */
static int fill(ipc_stream *s, const ipc_deadline *d)
{
    ipc_stream_shared *sh = s->shared;
    if (sh->rd_start > 0) { /* slide the unparsed tail to the front */
        memmove(sh->rbuf, sh->rbuf + sh->rd_start, sh->rd_end - sh->rd_start);
        sh->rd_end -= sh->rd_start;
        sh->rd_start = 0;
    }
    for (;;) {
        ssize_t n = read(s->rfd, sh->rbuf + sh->rd_end, sizeof sh->rbuf - sh->rd_end);
        if (n >= 0) {
            sh->rd_end += (size_t)n;
            return (int)n;
        }
        if (errno == EINTR) continue;
        if (errno == ECONNRESET) return 0;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return ipc__fail(IPC_ESYS, "read");
        /* Nothing there.  After a shutdown, drained means done. */
        if (is_shut(s)) return IPC_ECLOSED;
        ipc__blocked(&s->base, IPC_EV_RECV_BLOCKED);
        int w = ipc__wait_fd(s->rfd, POLLIN, s->shut_fd, d);
        if (w == 0) return IPC_EEMPTY;
        if (w < 0 && w != IPC_ECLOSED) return w;
        /* readable, or shut down: loop to read what is left */
    }
}

/* Mid-frame, the sender holds write_lock until its last byte is out (frames
 * larger than PIPE_BUF, and every socket frame, are written under it).  If
 * the lock can be taken, the sender is gone: EOWNERDEAD says it died, and a
 * free lock with still no bytes to read says the same.  Returns true when the
 * frame can never complete. */
static bool sender_vanished(ipc_stream *s)
{
    bool died = false;
    if (ipc__lock(&s->shared->write_lock, &ipc__nowait, &died) != 0) return false; /* still writing */
    pthread_mutex_unlock(&s->shared->write_lock);
    if (died) return true;
    struct pollfd p = { .fd = s->rfd, .events = POLLIN };
    return poll(&p, 1, 0) == 0; /* it finished and still nothing came: gone */
}

/* The frame is bigger than the shared buffer: the buffered part goes to buf
 * first, the rest is read straight into buf (no copy through the buffer). */
static int read_large(ipc_stream *s, unsigned char *buf, size_t need)
{
    ipc_stream_shared *sh = s->shared;
    size_t have = sh->rd_end - sh->rd_start;
    memcpy(buf, sh->rbuf + sh->rd_start, have);
    sh->rd_start = sh->rd_end = 0;
    while (have < need) {
        ssize_t n = read(s->rfd, buf + have, need - have);
        if (n > 0) { have += (size_t)n; continue; }
        if (n == 0) break;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            /* The sender is mid-frame and will finish (see "Timeouts"),
             * unless it was killed: look again every 100 ms. */
            ipc_deadline slice;
            ipc__deadline_start(&slice, 100);
            int w = ipc__wait_fd(s->rfd, POLLIN, -1, &slice);
            if (w < 0) return w;
            if (w == 0 && sender_vanished(s)) break;
            continue;
        }
        return ipc__fail(IPC_ESYS, "read");
    }
    if (have < need) {
        atomic_store(&sh->broken, true);
        return ipc__fail(IPC_ECLOSED, "the sender vanished in the middle of a message");
    }
    return IPC_OK;
}

int ipc__stream_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    ipc_stream *s = as_stream(ch);
    ipc_stream_shared *sh = s->shared;
    *prio = 0;
    bool died = false;
    int r = ipc__lock(&sh->read_lock, d, &died);
    if (r == 1) return ipc__fail(IPC_EEMPTY, "another receiver is waiting on the channel");
    if (r < 0) return r;
    /* A receiver died holding the lock.  Between frames the shared buffer is
     * consistent (indices move only after a whole frame is copied out);
     * inside read_large() the rest of a frame was still in the kernel. */
    if (died && sh->in_large_read) atomic_store(&sh->broken, true);

    int rc;
    for (;;) {
        if (atomic_load(&sh->broken)) { rc = broken(); break; }
        size_t have = sh->rd_end - sh->rd_start;
        if (have >= IPC_STREAM_HEADER) {
            uint32_t size;
            memcpy(&size, sh->rbuf + sh->rd_start, sizeof size);
            if (size > cap) { /* leave it queued, say how big it is */
                *len = size;
                rc = ipc__fail(IPC_EMSGSIZE, "message of %u bytes does not fit a %zu-byte buffer", size, cap);
                break;
            }
            if (IPC_STREAM_HEADER + size > sizeof sh->rbuf) {
                sh->rd_start += IPC_STREAM_HEADER;
                sh->in_large_read = true;
                rc = read_large(s, buf, size);
                sh->in_large_read = false;
                if (rc == IPC_OK) *len = size;
                break;
            }
            if (have >= IPC_STREAM_HEADER + size) {
                if (size) memcpy(buf, sh->rbuf + sh->rd_start + IPC_STREAM_HEADER, size);
                sh->rd_start += IPC_STREAM_HEADER + size;
                *len = size;
                rc = IPC_OK;
                break;
            }
        }
        int n = fill(s, d);
        if (n > 0) continue;
        if (n == 0 || n == IPC_ECLOSED) {
            if (sh->rd_end > sh->rd_start && n == 0) {
                rc = ipc__fail(IPC_ECLOSED, "stream ended inside a message (sender died?)");
            } else {
                rc = ipc__fail(IPC_ECLOSED, n == 0 ? "every sender is gone" : "channel is shut down and drained");
            }
            break;
        }
        rc = n == IPC_EEMPTY ? ipc__fail(IPC_EEMPTY, "channel is empty") : n;
        break;
    }
    pthread_mutex_unlock(&sh->read_lock);
    return rc;
}

/* ---- close and poll ---------------------------------------------------- */

int ipc__stream_close(ipc_channel *ch)
{
    ipc_stream *s = as_stream(ch);
    atomic_store(&s->shared->shut, true);
    /* Wake every poll() on shut_fd, in every process holding the channel. */
    uint64_t one = 1;
    if (s->shut_fd >= 0 && write(s->shut_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        return ipc__fail(IPC_ESYS, "write(eventfd)");
    return IPC_OK;
}

/* "Readable when a receive may succeed" includes "the channel was shut
 * down" (the receive then answers IPC_ECLOSED at once), so the pollable fd is
 * an epoll set over the data fd and the shutdown eventfd: an epoll fd is
 * itself readable when any fd in its set is.  Made on first use; two threads
 * racing here keep one set and the loser closes its own. */
int ipc__stream_pollfd(ipc_channel *ch)
{
    ipc_stream *s = as_stream(ch);
    int have = atomic_load(&s->pollset);
    if (have > 0) return have - 1;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) return ipc__fail(IPC_ESYS, "epoll_create1"), -1;
    struct epoll_event data = { .events = EPOLLIN, .data.fd = s->rfd };
    struct epoll_event shut = { .events = EPOLLIN, .data.fd = s->shut_fd };
    if (epoll_ctl(ep, EPOLL_CTL_ADD, s->rfd, &data) < 0
        || (s->shut_fd >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, s->shut_fd, &shut) < 0)) {
        ipc__fail(IPC_ESYS, "epoll_ctl");
        close(ep);
        return -1;
    }
    int expected = 0;
    if (!atomic_compare_exchange_strong(&s->pollset, &expected, ep + 1)) {
        close(ep);
        return expected - 1;
    }
    return ep;
}

/* The extra of pipes/stream_info.h.  Which channels are streams: those whose
 * pollfd op is this engine's (pipe, fifo, socketpair, unix); their channel
 * struct starts with an ipc_stream. */
long ipc_stream_kernel_bytes(const ipc_channel *ch)
{
    const ipc_mechanism *m = ipc_channel_mechanism(ch);
    if (!m || !m->ops || m->ops->pollfd != ipc__stream_pollfd)
        return ipc__fail(IPC_EINVAL, "ipc_stream_kernel_bytes: not an open stream channel");
    const ipc_stream *s = (const ipc_stream *)ch;
    int n = 0;
    if (ioctl(s->rfd, FIONREAD, &n) < 0) return ipc__fail(IPC_ESYS, "ioctl(FIONREAD) on the read end");
    return n;
}
