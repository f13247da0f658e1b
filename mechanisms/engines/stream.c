/*
 * stream.c — length-prefixed messages over any byte stream.
 *
 * Sending.  A frame (4-byte length, then the payload) leaves in one
 * writev/sendmsg, so a small message costs one system call.  Two frames must
 * never interleave, and a frame must never be torn (half of it written: no
 * reader could find the next boundary).  Every sender takes write_lock, a
 * robust process-shared mutex, around "is the channel shut?" and its write;
 * the lock is held across non-blocking calls only (one exception below), so
 * a nowait sender that finds it taken waits microseconds, like Python's
 * put_nowait waiting for the queue's mutex.
 *
 * Timeouts: a frame starts only when the kernel surely takes it whole, so a
 * nowait or timed send never waits past its deadline for room and never
 * leaves half a frame.  We reserve room the kernel reports, with bounds that
 * hold for every history of writes (not a helper thread that finishes a
 * started frame: that would make a send "succeed" with the message still in
 * our process, lost if it exits, and cannot release a robust mutex another
 * thread took):
 *   - pipe, frame <= PIPE_BUF: POSIX makes the write all-or-nothing.
 *   - pipe, larger frame: the pipe is a ring of page-sized slots.  A write
 *     either merges its len % page tail into the newest slot or starts new
 *     slots (full pages first), so of any two neighbouring slots behind the
 *     oldest one, together they hold at least a page.  With `used` bytes
 *     queued (FIONREAD) at most 2*floor(used/page) + 2 slots are busy (0 when
 *     empty); the frame needs ceil(total/page) free ones.  (The old estimate,
 *     ceil(used/page) + 2, was wrong for frames just over PIPE_BUF: ten
 *     4,100-byte frames fill 15 of 16 slots, not 13.)
 *   - Unix stream socket: one sendmsg is cut into skbs of at most 32 KiB of
 *     payload (plus a head of under a page); one skb is all-or-nothing, and
 *     each next skb is allocated only while the socket's write memory is
 *     below SO_SNDBUF.  So a frame of k skbs goes in whole when wmem_alloc
 *     (SO_MEMINFO) + total + 8 KiB * k < SO_SNDBUF.
 *   - TCP: tcp.c checks the room before calling us (its own notes).
 * When the frame does not fit yet, the sender drops the lock and waits for
 * POLLOUT (then re-checks, napping 1 ms while POLLOUT is not enough), under
 * its deadline.  The exception: a frame larger than the kernel buffer itself
 * (a default pipe holds 64 KiB, a Unix socket about 208 KiB; raise them with
 * F_SETPIPE_SZ or SO_SNDBUF) can never go in whole.  It starts under the
 * deadline as soon as some room appears and is then finished, holding
 * write_lock across the waits (long_hold tells a nowait sender not to wait
 * for it); its deadline covers only the start.  ipc.h says so.
 *
 * Close is linearizable against sends.  Senders check `shut` under
 * write_lock and count the bytes of every whole frame in `sent`.  A
 * receiver that finds the fd empty and the channel shut does not answer
 * IPC_ECLOSED yet: it passes through write_lock once (any sender that saw
 * "not shut" has then finished its write, and any later one sees "shut"),
 * then looks at the kernel again.  A pipe or a Unix socket holds a written
 * frame the moment the write returns, so "still empty" is drained.  TCP
 * may hold an acknowledged frame on its way for a moment: there every byte
 * counted in `sent` must have arrived (TCP_INFO's bytes_received) and none
 * be unread.  So a send that returned IPC_OK is received before anyone is
 * told "closed and drained".  (A sender killed mid-frame never counted its
 * frame: more may arrive than `sent` says, never less.)
 *
 * Batches (ipc_stream_send_batch, issue 13 item 4): a sender with a backlog
 * hands over many messages and they leave in as few system calls as the
 * rules above allow.  Each round takes write_lock once, checks `shut` and
 * `broken` under it, and writes the longest run of the next frames that the
 * kernel surely takes whole right now, in one writev/sendmsg (at most 512
 * frames: two iovecs each within IOV_MAX).  The room rules are the ones of
 * a single frame, applied to the whole write: up to atomic_max bytes
 * (PIPE_BUF; one skb of a Unix socket) a write is all-or-nothing and may
 * always be tried; a longer one must fit the free pipe slots (a write of B
 * bytes fills at most ceil(B/page) new slots) or, on a Unix socket, stay
 * under SO_SNDBUF with 8 KiB per skb of B/skb + 1 skbs; TCP's rule is
 * tcp.c's (the batch_room hook), paid from its shared budget.  So a round
 * ends at a frame boundary: what the call reports sent is exactly what the
 * kernel holds, counted in `sent` under the lock like single frames (close
 * stays linearizable, frame by frame).  Waiting happens only between
 * rounds, where no frame is open, under the caller's deadline: a nowait or
 * timed batch stops at a message boundary and tells how many went.  A
 * frame that no rule lets start now (larger than the room) goes through
 * the mechanism's ordinary send, with its waits and its exception for
 * frames larger than the kernel buffer.  A sender killed during its
 * writev leaves whole frames only: a non-blocking write of bytes that fit
 * completes in the kernel (pipe_write and the socket send loops look at
 * signals only when they would wait), and mid_frame is never set on that
 * path, so the next holder of the lock carries on; frames it had not
 * counted in `sent` only make more arrive than `sent` says.  If a rule is
 * wrong after all (a foreign writer on a FIFO, F_SETPIPE_SZ shrinking the
 * pipe meanwhile) the kernel takes part of a frame, and that frame is
 * finished as under "Timeouts", past the deadline.  (Not ruled out from
 * user space, here as for a single frame longer than a page: a SIGKILL
 * landing while the kernel faults in a page of the caller's buffer can cut
 * the copy short.)  Nothing is buffered in the process: a message the
 * call has not written is not sent, so nothing acknowledged can die with
 * the sender.  Combining the frames of concurrent senders of one handle
 * (a thread that finds write_lock taken hands its frame to the holder) is
 * not done: the batch extra covers a sender that has a backlog itself.
 *
 * Receiving: a killed receiver takes at most the message it was receiving,
 * and a read returns many.  Several processes may receive from one channel
 * (fork, attach), and any of them may be SIGKILLed at any instruction —
 * also inside a read(2), which then completes in the kernel while the
 * process dies before recording what it took.  (Issue 12: the old reader
 * read 64 KiB ahead into its buffer, and a reader killed inside that read
 * took every frame of it along: 280 acknowledged messages per kill.)  So:
 *   - the receiver holding read_lock takes every byte the kernel holds
 *     (FIONREAD; up to the window's room) with one read into the window
 *     rbuf[rd_start, rd_end), in the shared mapping, and hands out every
 *     frame in it, one per receive, with no system call — to any receiver
 *     in any process;
 *   - before that read it records it (pend_from, pend_n) and writes
 *     IPC_STREAM_SENTINEL where the read will put the next frame header
 *     (the kernel buffer starts at a frame boundary, or inside the frame
 *     the window ends with, whose size is known).  A read of bytes the
 *     kernel already holds copies them all (pipe_read and the socket
 *     receive loops look at signals only when they would wait), so a
 *     receiver that finds read_lock EOWNERDEAD knows from the sentinel
 *     whether its predecessor's read happened, and how far the window
 *     reaches: nothing is lost with a killed receiver but the one frame it
 *     was copying out — and not even that, since rd_start moves only after
 *     the copy;
 *   - a read that cannot reach a header (the kernel holds only the rest of
 *     the window's last frame, or part of a header) and a frame larger than
 *     the window, read in parts straight into the caller's buffer, run with
 *     in_large_read set: a receiver killed there leaves the stream marked
 *     broken, never misparsed.  With small frames on a pipe or a Unix
 *     socket (written whole) that never happens;
 *   - IPC_EMSGSIZE takes nothing: the frame stays in the window.
 * Messages in the window do not make the fd readable: after ipc_pollfd says
 * ready, receive with timeout 0 until IPC_EEMPTY (events/poll.h says so).
 */
#define _GNU_SOURCE
#include "stream.h"
#include "pipes/stream_info.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* How this fd tells "the frame fits whole" (see "Timeouts" at the top). */
static void set_room_kind(ipc_stream *s)
{
    s->room_kind = IPC_STREAM_ROOM_NONE;
    s->atomic_max = 0;
    if (!s->is_socket) {
        s->room_kind = IPC_STREAM_ROOM_PIPE;
        s->atomic_max = PIPE_BUF;
        return;
    }
    int domain = 0, sndbuf = 0;
    socklen_t dl = sizeof domain, bl = sizeof sndbuf;
    if (getsockopt(s->wfd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) == 0)
        s->is_tcp = domain == AF_INET || domain == AF_INET6;
    if (domain != AF_UNIX || getsockopt(s->wfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &bl) < 0)
        return; /* TCP: tcp.c looks at the room itself */
    s->room_kind = IPC_STREAM_ROOM_UNIX;
    /* one skb: at most sndbuf/2 - 64 bytes, and 32 KiB of page fragments
     * plus a head (we count only the fragments: conservative) */
    size_t one_skb = (size_t)sndbuf / 2 > 64 ? (size_t)sndbuf / 2 - 64 : 0;
    s->atomic_max = one_skb < 32768 ? one_skb : 32768;
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
    set_room_kind(s);
    if (!is_socket) {
        /* Do we hold a read end of the pipe we write to (every pipe and
         * FIFO holder does: pipe.c keeps both ends, fifo.c opens O_RDWR)? */
        struct stat rs, ws;
        s->holds_reader = rfd >= 0 && fstat(rfd, &rs) == 0 && fstat(wfd, &ws) == 0 && rs.st_dev == ws.st_dev
                       && rs.st_ino == ws.st_ino && S_ISFIFO(rs.st_mode);
    }

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
    /* A pipe we hold a read end of has a reader while that end is open:
     * the write cannot raise SIGPIPE and needs no guard (the guard costs
     * two system calls per message: block SIGPIPE, restore the mask — on
     * this machine that was the writer's largest cost after the write).
     * F_GETFD, the cheapest look at an fd, says the end is still open:
     * only a program that closed our descriptor behind our back (test_core
     * does, to provoke EPIPE) takes the guarded path. */
    if (s->holds_reader && fcntl(s->rfd, F_GETFD) >= 0) return writev(s->wfd, iov, iovcnt);
    /* writev has no MSG_NOSIGNAL: SIGPIPE blocked in this thread for the
     * write and consumed if raised; the process's disposition untouched. */
    return ipc__writev_nosigpipe(s->wfd, iov, iovcnt);
}

/* Skip n bytes already written off the front of an iovec array. */
static void advance(struct iovec **v, int *nv, size_t n)
{
    while (*nv > 0 && n >= (*v)->iov_len) { n -= (*v)->iov_len; (*v)++; (*nv)--; }
    if (*nv > 0) { (*v)->iov_base = (char *)(*v)->iov_base + n; (*v)->iov_len -= n; }
}

enum fit { FITS, NOT_NOW, NEVER };

/* Does a frame of `total` bytes go into the kernel buffer whole right now
 * (write_lock held, so no other sender of ours writes meanwhile)?  NEVER:
 * it is larger than the empty buffer.  See "Timeouts" at the top. */
static enum fit frame_fits(const ipc_stream *s, size_t total)
{
    if (total <= s->atomic_max) return FITS;
    if (s->room_kind == IPC_STREAM_ROOM_PIPE) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        int size = fcntl(s->wfd, F_GETPIPE_SZ), used = 0;
        if (size <= 0 || ioctl(s->wfd, FIONREAD, &used) < 0 || used < 0) return FITS; /* cannot tell */
        size_t slots = (size_t)size / page, need = (total + page - 1) / page;
        if (need > slots) return NEVER;
        size_t busy = used == 0 ? 0 : 2 * ((size_t)used / page) + 2;
        return busy + need <= slots ? FITS : NOT_NOW;
    }
    if (s->room_kind == IPC_STREAM_ROOM_UNIX) {
        uint32_t mi[SK_MEMINFO_VARS];
        socklen_t ml = sizeof mi;
        if (getsockopt(s->wfd, SOL_SOCKET, SO_MEMINFO, mi, &ml) < 0) return FITS; /* cannot tell */
        size_t sndbuf = mi[SK_MEMINFO_SNDBUF], wmem = mi[SK_MEMINFO_WMEM_ALLOC];
        size_t need = total + 8192 * ((total + 32767) / 32768);
        if (need >= sndbuf) return NEVER;
        return wmem + need < sndbuf ? FITS : NOT_NOW;
    }
    return FITS; /* TCP: tcp.c checked; a partial write is finished below */
}

/* Take write_lock for a sender.  A nowait send waits for a holder that only
 * does a non-blocking write (microseconds), never for one that holds the
 * lock across waits (long_hold): it then answers IPC_EFULL.  0 locked, or
 * an IPC_E* code (lock not held). */
static int lock_writer(ipc_stream *s, const ipc_deadline *d, bool *died)
{
    pthread_mutex_t *m = &s->shared->write_lock;
    int r;
    if (ipc__deadline_is_nowait(d)) {
        while ((r = ipc__lock(m, &ipc__nowait, died)) == 1) {
            if (atomic_load(&s->shared->long_hold))
                return ipc__fail(IPC_EFULL, "another sender is writing a frame larger than the kernel buffer");
            sched_yield();
        }
    } else {
        r = ipc__lock(m, d, died);
        if (r == 1) return ipc__fail(IPC_EFULL, "another sender held the channel past the deadline");
    }
    return r;
}

/* write_lock held, `done` bytes of the frame already written (0 for a frame
 * larger than the kernel buffer, which starts here under the deadline):
 * write the rest.  After the first byte nothing stops us (not the deadline,
 * not a shutdown): a half frame would corrupt the stream for everyone. */
static int finish_frame(ipc_stream *s, struct iovec *v, int nv, size_t done, size_t total, const ipc_deadline *d)
{
    ipc_stream_shared *sh = s->shared;
    atomic_store(&sh->long_hold, true);
    int rc = IPC_OK;
    bool reported = false;
    while (done < total) {
        ssize_t n = write_frame_part(s, v, nv);
        if (n > 0) {
            done += (size_t)n;
            sh->mid_frame = done < total;
            advance(&v, &nv, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!reported) ipc__blocked(&s->base, IPC_EV_SEND_BLOCKED);
            reported = true;
            int w = done ? ipc__wait_fd(s->wfd, POLLOUT, -1, &ipc__forever)
                         : ipc__wait_fd(s->wfd, POLLOUT, s->shut_fd, d);
            if (w == 0) { rc = ipc__fail(IPC_EFULL, "channel is full"); break; }
            if (w == IPC_ECLOSED) { rc = ipc__fail(IPC_ECLOSED, "channel is shut down"); break; }
            if (w < 0) { rc = w; break; }
            continue;
        }
        rc = n < 0 && (errno == EPIPE || errno == ECONNRESET)
           ? ipc__fail(IPC_ECLOSED, "no receiver is left")
           : ipc__fail(IPC_ESYS, "%s", s->is_socket ? "sendmsg" : "writev");
        break;
    }
    if (rc != IPC_OK && done) atomic_store(&sh->broken, true);
    if (rc == IPC_OK) atomic_fetch_add_explicit(&sh->sent, total, memory_order_relaxed); /* lock orders it */
    sh->mid_frame = false;
    atomic_store(&sh->long_hold, false);
    return rc;
}

/* Wait for room under the deadline (write_lock not held).  1: look again,
 * or an IPC_E* code. */
static int wait_for_room(ipc_stream *s, bool need_more_than_pollout, const ipc_deadline *d)
{
    /* POLLOUT may hold while the frame still does not fit: the deadline
     * is checked here, not left to the poll */
    if (need_more_than_pollout && ipc__deadline_passed(d)) return ipc__fail(IPC_EFULL, "channel is full");
    int w = ipc__wait_fd(s->wfd, POLLOUT, s->shut_fd, d);
    if (w == 0) return ipc__fail(IPC_EFULL, "channel is full");
    if (w == IPC_ECLOSED) return ipc__fail(IPC_ECLOSED, "channel is shut down");
    if (w < 0) return w;
    if (need_more_than_pollout) {
        /* POLLOUT means "some room", maybe less than the frame needs: nap
         * 1 ms (never past the deadline) and look again */
        int left = ipc__deadline_poll_ms(d);
        ipc_deadline nap;
        ipc__deadline_start(&nap, left < 0 || left > 1 ? 1 : left);
        if (left != 0 && ipc__wait_fd(s->shut_fd, POLLIN, -1, &nap) == 1)
            return ipc__fail(IPC_ECLOSED, "channel is shut down");
    }
    return 1;
}

int ipc__stream_send(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    (void)prio; /* a stream has one order: the order of the bytes */
    ipc_stream *s = as_stream(ch);
    ipc_stream_shared *sh = s->shared;
    if (is_shut(s)) return ipc__fail(IPC_ECLOSED, "channel is shut down");
    if (atomic_load(&sh->broken)) return broken();

    uint32_t header = (uint32_t)len;
    struct iovec iov[2] = {
        { .iov_base = &header, .iov_len = sizeof header },
        { .iov_base = (void *)msg, .iov_len = len },
    };
    size_t total = sizeof header + len;
    bool reported = false, nap = false;
    for (;;) {
        bool died = false;
        int rc = lock_writer(s, d, &died);
        if (rc != 0) return rc;
        /* A holder that died waiting for room left the stream intact; one
         * that died after its first byte left half a frame in it. */
        if (died && sh->mid_frame) atomic_store(&sh->broken, true);
        if (atomic_load(&sh->broken)) rc = broken();
        else if (is_shut(s)) rc = ipc__fail(IPC_ECLOSED, "channel is shut down"); /* under the lock: see the top */
        else {
            enum fit f = frame_fits(s, total);
            if (f == NEVER) {
                rc = finish_frame(s, iov, 2, 0, total, d);
            } else if (f == FITS) {
                ssize_t n = write_frame_part(s, iov, 2);
                if (n == (ssize_t)total) {
                    atomic_fetch_add_explicit(&sh->sent, total, memory_order_relaxed); /* lock orders it */
                } else if (n > 0) { /* the kernel took part after all: finish it */
                    struct iovec *v = iov;
                    int nv = 2;
                    advance(&v, &nv, (size_t)n);
                    sh->mid_frame = true;
                    rc = finish_frame(s, v, nv, (size_t)n, total, &ipc__forever);
                } else if (errno == EINTR) {
                    rc = 1; /* look again */
                } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    rc = 2; /* wait for room */
                } else {
                    rc = errno == EPIPE || errno == ECONNRESET ? ipc__fail(IPC_ECLOSED, "no receiver is left")
                       : ipc__fail(IPC_ESYS, "%s", s->is_socket ? "sendmsg" : "writev");
                }
            } else {
                rc = 2;
                nap = true;
            }
        }
        pthread_mutex_unlock(&sh->write_lock);
        if (rc <= 0) return rc;
        if (rc == 1) continue;
        if (ipc__deadline_is_nowait(d)) return ipc__fail(IPC_EFULL, "channel is full");
        if (!reported) ipc__blocked(ch, IPC_EV_SEND_BLOCKED);
        reported = true;
        if ((rc = wait_for_room(s, nap, d)) != 1) return rc;
    }
}

/* ---- batches: many whole frames per system call --------------------------- */

#ifdef IPC_TESTING
static ipc__stream_send_hook_fn send_hook; /* set before the test's channels run */
void ipc__stream_set_send_hook(ipc__stream_send_hook_fn fn) { send_hook = fn; }
#endif

/* Frames per write: two iovecs each (header, payload), within IOV_MAX. */
#define BATCH_FRAMES (IOV_MAX / 2 < 512 ? IOV_MAX / 2 : 512)

/* How many bytes may start in one write now, every frame of them going in
 * whole (write_lock held; see "Batches" at the top).  want: the bytes the
 * candidate frames take.  *room may be 0 (not even the first frame: it
 * goes the ordinary way). */
static int batch_room(ipc_stream *s, size_t want, size_t *room)
{
    if (s->batch_room) return s->batch_room(s, want, room);
    *room = s->atomic_max; /* all or nothing: safe to try, whatever is queued */
    if (want <= s->atomic_max) return IPC_OK;
    if (s->room_kind == IPC_STREAM_ROOM_PIPE) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        int size = fcntl(s->wfd, F_GETPIPE_SZ), used = 0;
        if (size <= 0 || ioctl(s->wfd, FIONREAD, &used) < 0 || used < 0) return IPC_OK; /* cannot tell */
        size_t slots = (size_t)size / page, busy = used == 0 ? 0 : 2 * ((size_t)used / page) + 2;
        size_t free_bytes = busy < slots ? (slots - busy) * page : 0;
        if (free_bytes > *room) *room = free_bytes;
    } else if (s->room_kind == IPC_STREAM_ROOM_UNIX) {
        uint32_t mi[SK_MEMINFO_VARS];
        socklen_t ml = sizeof mi;
        if (getsockopt(s->wfd, SOL_SOCKET, SO_MEMINFO, mi, &ml) < 0) return IPC_OK; /* cannot tell */
        size_t sndbuf = mi[SK_MEMINFO_SNDBUF], wmem = mi[SK_MEMINFO_WMEM_ALLOC], skb = s->atomic_max;
        /* B bytes make at most B/skb + 1 skbs of 8 KiB overhead each:
         * wmem + B + 8 KiB * (B/skb + 1) < sndbuf */
        if (skb > 0 && sndbuf > wmem + 8192 + 1) {
            size_t fit = (size_t)((unsigned long long)(sndbuf - wmem - 8192 - 1) * skb / (skb + 8192));
            if (fit > *room) *room = fit;
        }
    } else {
        *room = 0; /* no rule known: one frame at a time */
    }
    return IPC_OK;
}

int ipc__stream_send_batch(ipc_channel *ch, const void *const *msgs, const size_t *lens, size_t n,
                           const ipc_deadline *d, size_t *sent)
{
    ipc_stream *s = as_stream(ch);
    ipc_stream_shared *sh = s->shared;
    uint32_t headers[BATCH_FRAMES];
    struct iovec iov[2 * BATCH_FRAMES];
    size_t i = 0; /* msgs[0, i) are in the kernel */
    bool reported = false;
    int rc = IPC_OK;
    while (i < n) {
        if (is_shut(s)) { rc = ipc__fail(IPC_ECLOSED, "channel is shut down"); break; }
        if (atomic_load(&sh->broken)) { rc = broken(); break; }
        bool died = false;
        if ((rc = lock_writer(s, d, &died)) != 0) break;
        if (died && sh->mid_frame) atomic_store(&sh->broken, true);
        /* rc: 0 progress, 1 look again, 2 wait for room, 3 the next frame
         * the ordinary way, < 0 stop */
        if (atomic_load(&sh->broken)) rc = broken();
        else if (is_shut(s)) rc = ipc__fail(IPC_ECLOSED, "channel is shut down"); /* under the lock: see the top */
        else {
            size_t k = 0, want = 0;
            while (i + k < n && k < BATCH_FRAMES) want += IPC_STREAM_HEADER + lens[i + k++];
            size_t room = 0, take = 0, bytes = 0;
            rc = batch_room(s, want, &room);
            while (rc == IPC_OK && take < k && bytes + IPC_STREAM_HEADER + lens[i + take] <= room)
                bytes += IPC_STREAM_HEADER + lens[i + take++];
            if (rc == IPC_OK && take == 0) rc = 3;
            if (rc == IPC_OK) {
                for (size_t f = 0; f < take; f++) {
                    headers[f] = (uint32_t)lens[i + f];
                    iov[2 * f] = (struct iovec){ .iov_base = &headers[f], .iov_len = IPC_STREAM_HEADER };
                    iov[2 * f + 1] = (struct iovec){ .iov_base = (void *)msgs[i + f], .iov_len = lens[i + f] };
                }
                ssize_t w = write_frame_part(s, iov, (int)(2 * take));
                if (w > 0) {
                    size_t whole = 0, done = 0; /* frames and bytes the kernel took whole */
                    while (whole < take && done + IPC_STREAM_HEADER + lens[i + whole] <= (size_t)w)
                        done += IPC_STREAM_HEADER + lens[i + whole++];
#ifdef IPC_TESTING
                    if (send_hook) send_hook(ch, whole);
#endif
                    atomic_fetch_add_explicit(&sh->sent, done, memory_order_relaxed); /* write_lock orders it */
                    i += whole;
                    if (done < (size_t)w) {
                        /* The room rule was wrong (a foreign writer on a FIFO,
                         * a shrunk buffer): the kernel took part of a frame,
                         * which must be finished whatever the deadline. */
                        struct iovec *v = &iov[2 * whole];
                        int nv = 2;
                        size_t part = (size_t)w - done;
                        advance(&v, &nv, part);
                        sh->mid_frame = true;
                        rc = finish_frame(s, v, nv, part, IPC_STREAM_HEADER + lens[i], &ipc__forever);
                        if (rc == IPC_OK) i++;
                    }
                } else if (errno == EINTR) {
                    rc = 1;
                } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    rc = 2;
                } else {
                    rc = errno == EPIPE || errno == ECONNRESET ? ipc__fail(IPC_ECLOSED, "no receiver is left")
                       : ipc__fail(IPC_ESYS, "%s", s->is_socket ? "sendmsg" : "writev");
                }
            }
        }
        pthread_mutex_unlock(&sh->write_lock);
        if (rc < 0) break;
        if (rc <= 1) continue;
        if (rc == 3) { /* a frame no batch rule lets start now: the ordinary send waits for it */
            if ((rc = ch->mech->ops->send(ch, msgs[i], lens[i], 0, d)) != IPC_OK) break;
            i++;
            continue;
        }
        if (ipc__deadline_is_nowait(d)) { rc = ipc__fail(IPC_EFULL, "channel is full"); break; }
        if (!reported) ipc__blocked(ch, IPC_EV_SEND_BLOCKED);
        reported = true;
        if ((rc = wait_for_room(s, false, d)) != 1) break;
        rc = IPC_OK;
    }
    *sent = i;
    if (i == n) return IPC_OK;
    if (rc == IPC_OK) rc = ipc__fail(IPC_ESYS, "batch stopped without a reason"); /* cannot happen */
    return rc;
}

/* ---- receive ----------------------------------------------------------- */

#ifdef IPC_TESTING
static ipc__stream_take_hook_fn take_hook; /* set before the test's channels run */
void ipc__stream_set_take_hook(ipc__stream_take_hook_fn fn) { take_hook = fn; }
#endif

/* The window's first frame boundary at or after rd_end (rd_start == 0):
 * where the header of the next frame lands if a read reaches it.
 * SIZE_MAX when the window ends inside a header (the boundary is unknown). */
static size_t next_boundary(const ipc_stream_shared *sh)
{
    size_t pos = 0;
    for (;;) {
        if (pos == sh->rd_end) return pos;
        if (pos + IPC_STREAM_HEADER > sh->rd_end) return SIZE_MAX;
        uint32_t size;
        memcpy(&size, sh->rbuf + pos, sizeof size);
        size_t next = pos + IPC_STREAM_HEADER + (size_t)size;
        if (next > sh->rd_end) return next;
        pos = next;
    }
}

/* A receiver died holding read_lock (read_lock held now): finish or undo
 * what it recorded before its last read (see "Receiving" at the top). */
static void recover_receiver(ipc_stream_shared *sh)
{
    if (sh->pend) {
        uint32_t mark;
        memcpy(&mark, sh->rbuf + sh->pend_at, sizeof mark);
        /* the read happened iff it overwrote the sentinel with a header */
        sh->rd_end = mark != IPC_STREAM_SENTINEL ? sh->pend_from + sh->pend_n : sh->pend_from;
        sh->pend = false;
    }
    if (sh->in_large_read) atomic_store(&sh->broken, true);
}

/* What the kernel says about a TCP receive side: bytes that ever arrived
 * (TCP_INFO) and bytes not yet read (SIOCINQ).  false: cannot tell. */
static bool tcp_counts(const ipc_stream *s, uint64_t *arrived, int *unread)
{
    struct tcp_info ti;
    socklen_t tl = sizeof ti;
    memset(&ti, 0, sizeof ti);
    if (getsockopt(s->rfd, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0
        || tl < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof ti.tcpi_bytes_received)
        return false;
    if (ioctl(s->rfd, SIOCINQ, unread) < 0) return false;
    *arrived = ti.tcpi_bytes_received;
    return true;
}

/* The channel is shut and the fd was empty (read_lock held): may we answer
 * IPC_ECLOSED?  Pass through write_lock once — a sender that saw "not shut"
 * has then finished, any later one sees "shut" — then look at the kernel:
 * a pipe or a Unix socket holds a written frame at once, so "still empty"
 * means drained; TCP may hold an acknowledged frame on its way for a
 * moment, so every byte of whole frames sent (`sent`) must have arrived.
 * 1 drained, 0 not yet (a sender holds the lock, or bytes are in flight),
 * or an IPC_E* code. */
static int drained(ipc_stream *s)
{
    ipc_stream_shared *sh = s->shared;
    bool died = false;
    int r = ipc__lock(&sh->write_lock, &ipc__nowait, &died); /* never wait here: the holder may need us to read */
    if (r == 1) return 0;
    if (r < 0) return r;
    if (died && sh->mid_frame) atomic_store(&sh->broken, true);
    /* RELAXED: write_lock orders the senders' updates before our load */
    uint64_t sent = atomic_load_explicit(&sh->sent, memory_order_relaxed);
    pthread_mutex_unlock(&sh->write_lock);
    if (atomic_load(&sh->broken)) return 1; /* the caller reports it */
    int unread = 0;
    if (s->is_tcp) {
        uint64_t arrived = 0;
        if (!tcp_counts(s, &arrived, &unread)) return ipc__fail(IPC_ESYS, "getsockopt(TCP_INFO)/ioctl(SIOCINQ)");
        return arrived >= sent && unread == 0;
    }
    if (ioctl(s->rfd, FIONREAD, &unread) < 0) return ipc__fail(IPC_ESYS, "ioctl(FIONREAD)");
    return unread == 0;
}

/* Take what the kernel holds into the window (read_lock held): every byte
 * FIONREAD counts, up to the window's room, in one read.  Returns bytes
 * taken (>0), 0 at end of stream, IPC_EEMPTY when nothing came before the
 * deadline, IPC_ECLOSED on shutdown, IPC_ESYS. */
static int fill(ipc_stream *s, const ipc_deadline *d)
{
    ipc_stream_shared *sh = s->shared;
    unsigned in_flight_naps = 0;
    if (sh->rd_start > sh->rd_end || sh->rd_end > sizeof sh->rbuf) { /* never follow bad indices */
        atomic_store(&sh->broken, true);
        return ipc__fail(IPC_ECLOSED, "stream broken: read buffer indices out of range");
    }
    if (sh->rd_start > 0) { /* slide the unfinished frame to the front */
        memmove(sh->rbuf, sh->rbuf + sh->rd_start, sh->rd_end - sh->rd_start);
        sh->rd_end -= sh->rd_start;
        sh->rd_start = 0;
    }
    bool woke = false; /* poll said readable */
    for (;;) {
        int avail = 0;
        if (ioctl(s->rfd, FIONREAD, &avail) < 0) return ipc__fail(IPC_ESYS, "ioctl(FIONREAD)");
        if (avail == 0 && woke && s->is_socket) {
            /* readable with nothing to read: end of stream (the peer shut
             * its send side), which FIONREAD cannot tell from "empty".  A
             * peek takes nothing.  (Every pipe holder holds a write end:
             * a pipe never ends.) */
            char byte;
            ssize_t k = recv(s->rfd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
            if (k == 0 || (k < 0 && errno == ECONNRESET)) return 0;
            if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return ipc__fail(IPC_ESYS, "recv(MSG_PEEK)");
            if (k > 0) continue; /* it came just now: count it */
        }
        woke = false;
        size_t room = sizeof sh->rbuf - sh->rd_end;
        if (avail > 0 && room > 0) {
            size_t want = (size_t)avail < room ? (size_t)avail : room;
            size_t mark = next_boundary(sh);
            bool marked = mark != SIZE_MAX && mark + IPC_STREAM_HEADER <= sh->rd_end + want;
            if (marked) { /* the read will write a header at mark: the sentinel there tells it did */
                const uint32_t sentinel = IPC_STREAM_SENTINEL;
                memcpy(sh->rbuf + mark, &sentinel, sizeof sentinel);
                sh->pend_at = mark;
                sh->pend_from = sh->rd_end;
                sh->pend_n = want;
                atomic_signal_fence(memory_order_seq_cst); /* the record is in memory before pend says so */
                sh->pend = true;
            } else {
                sh->in_large_read = true; /* killed inside this read: the stream cannot be resumed */
            }
            atomic_signal_fence(memory_order_seq_cst); /* ... and before the read */
            ssize_t n;
            do n = s->is_socket ? recv(s->rfd, sh->rbuf + sh->rd_end, want, MSG_DONTWAIT)
                                : read(s->rfd, sh->rbuf + sh->rd_end, want);
            while (n < 0 && errno == EINTR);
#ifdef IPC_TESTING
            if (n > 0 && take_hook) take_hook(&s->base);
#endif
            if (n > 0) sh->rd_end += (size_t)n;
            atomic_signal_fence(memory_order_seq_cst); /* rd_end moves before the record is dropped */
            sh->pend = false;
            sh->in_large_read = false;
            if (n > 0) return (int)n;
            if (n == 0) return 0;
            if (errno == ECONNRESET) return 0;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return ipc__fail(IPC_ESYS, "read");
            continue; /* FIONREAD said more than there was: look again */
        }
        if (avail > 0) { /* a window full of one unfinished frame cannot happen: LARGE takes those */
            atomic_store(&sh->broken, true);
            return ipc__fail(IPC_ECLOSED, "stream broken: a frame does not fit the window");
        }
        /* Nothing there.  After a shutdown, drained means done — once no
         * acknowledged frame can still be on its way (see the top). */
        if (is_shut(s)) {
            int q = drained(s);
            if (q < 0) return q;
            if (q == 1) return IPC_ECLOSED;
            /* in flight: wait for it (a nowait call too, briefly: it is
             * already acknowledged and arrives within microseconds) */
            if (ipc__deadline_is_nowait(d) && ++in_flight_naps > 100) return IPC_EEMPTY;
            if (!ipc__deadline_is_nowait(d) && ipc__deadline_passed(d)) return IPC_EEMPTY;
            ipc_deadline slice;
            ipc__deadline_start(&slice, 1);
            int w = ipc__wait_fd(s->rfd, POLLIN, -1, &slice);
            if (w < 0) return w;
            continue;
        }
        ipc__blocked(&s->base, IPC_EV_RECV_BLOCKED);
        int w = ipc__wait_fd(s->rfd, POLLIN, s->shut_fd, d);
        if (w == 0) return IPC_EEMPTY;
        if (w < 0 && w != IPC_ECLOSED) return w;
        woke = w == 1;
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

/* The frame is bigger than the window: the part in the window goes to buf
 * first, the rest is read straight into buf (no copy through the window).
 * in_large_read is set throughout: a receiver killed here leaves the rest
 * of a frame in the kernel, and the stream is marked broken, never
 * misparsed. */
static int read_large(ipc_stream *s, unsigned char *buf, size_t need)
{
    ipc_stream_shared *sh = s->shared;
    size_t have = sh->rd_end - sh->rd_start;
    sh->in_large_read = true;
    atomic_signal_fence(memory_order_seq_cst); /* marked before the window is given up */
    memcpy(buf, sh->rbuf + sh->rd_start, have);
    sh->rd_start = sh->rd_end = 0;
    while (have < need) {
        ssize_t n = read(s->rfd, buf + have, need - have);
        if (n > 0) {
            have += (size_t)n;
            continue;
        }
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
    sh->in_large_read = false;
    return IPC_OK;
}

int ipc__stream_parse(const unsigned char *rbuf, size_t rbuf_size, size_t start, size_t end, size_t cap,
                      uint32_t *size)
{
    if (start > end || end > rbuf_size) return IPC_FRAME_CORRUPT;
    size_t have = end - start;
    if (have < IPC_STREAM_HEADER) return IPC_FRAME_NEED_MORE;
    memcpy(size, rbuf + start, sizeof *size);
    if (*size > cap) return IPC_FRAME_TOO_BIG;
    if (IPC_STREAM_HEADER + (size_t)*size > rbuf_size) return IPC_FRAME_LARGE;
    return have >= IPC_STREAM_HEADER + (size_t)*size ? IPC_FRAME_WHOLE : IPC_FRAME_NEED_MORE;
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
    if (died) recover_receiver(sh);

    int rc;
    for (;;) {
        if (atomic_load(&sh->broken)) { rc = broken(); break; }
        uint32_t size = 0;
        int f = ipc__stream_parse(sh->rbuf, sizeof sh->rbuf, sh->rd_start, sh->rd_end, cap, &size);
        if (f == IPC_FRAME_CORRUPT) { /* a holder wrote the shared indices wrongly: never follow them */
            atomic_store(&sh->broken, true);
            rc = ipc__fail(IPC_ECLOSED, "stream broken: read buffer indices %zu..%zu out of range",
                           sh->rd_start, sh->rd_end);
            break;
        }
        if (f == IPC_FRAME_TOO_BIG) { /* leave it queued, say how big it is */
            *len = size;
            rc = ipc__fail(IPC_EMSGSIZE, "message of %u bytes does not fit a %zu-byte buffer", size, cap);
            break;
        }
        if (f == IPC_FRAME_LARGE) {
            sh->rd_start += IPC_STREAM_HEADER;
            rc = read_large(s, buf, size);
            if (rc == IPC_OK) *len = size;
            break;
        }
        if (f == IPC_FRAME_WHOLE) {
            /* Copied out before rd_start moves: a receiver killed in the
             * copy leaves the frame in the window for the next one. */
            if (size) memcpy(buf, sh->rbuf + sh->rd_start + IPC_STREAM_HEADER, size);
            sh->rd_start += IPC_STREAM_HEADER + size;
            *len = size;
            rc = IPC_OK;
            break;
        }
        int n = fill(s, d);
        if (n > 0) continue;
        if (n == 0 || n == IPC_ECLOSED) {
            if (sh->rd_end > sh->rd_start && n == 0) {
                rc = ipc__fail(IPC_ECLOSED, "stream ended inside a message (sender died?)");
            } else if (atomic_load(&sh->broken)) {
                rc = broken();
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

/* ---- the batch extra (pipes/stream_info.h) ------------------------------- */

/* The byte-stream carriers run on this engine (their channel struct starts
 * with an ipc_stream); the message sockets share its pollfd but not its
 * framing. */
static bool is_stream_mechanism(const ipc_mechanism *m)
{
    return m && m->family_id == IPC_FAMILY_PIPES
        && (m->carrier == IPC_CARRIER_PIPE || m->carrier == IPC_CARRIER_UNIX_STREAM
            || m->carrier == IPC_CARRIER_TCP);
}

typedef struct batch_args {
    const void *const *msgs;
    const size_t      *lens;
    size_t             n;
    size_t            *sent;
} batch_args;

/* Called by dispatch (ipc__send_via) in place of the ops' send. */
static int batch_op(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d, void *arg)
{
    (void)msg, (void)len, (void)prio;
    const batch_args *b = arg;
    return ipc__stream_send_batch(ch, b->msgs, b->lens, b->n, d, b->sent);
}

int ipc_stream_send_batch(ipc_channel *ch, const void *const msgs[], const size_t lens[], size_t n, int timeout_ms,
                          size_t *sent)
{
    static const char what[] = "ipc_stream_send_batch";
    if (sent) *sent = 0;
    const ipc_mechanism *m = ipc_channel_mechanism(ch);
    if (!is_stream_mechanism(m))
        return ipc__fail(IPC_EINVAL, "%s: not an open stream channel (pipe, fifo, socketpair, unix, tcp)", what);
    if (!sent) return ipc__fail(IPC_EINVAL, "%s: sent is NULL", what);
    if (n && (!msgs || !lens)) return ipc__fail(IPC_EINVAL, "%s: %s is NULL", what, msgs ? "lens" : "msgs");
    if (!ipc__timeout_valid(timeout_ms)) return ipc__timeout_check(what, timeout_ms);
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i] && lens[i]) return ipc__fail(IPC_EINVAL, "%s: message %zu is NULL", what, i);
        if (lens[i] > ch->max_msg)
            return ipc__fail(IPC_EMSGSIZE, "%s: message %zu of %zu bytes exceeds max_msg %zu (nothing sent)", what,
                             i, lens[i], ch->max_msg);
    }
    if (n == 0) return IPC_OK;
    int rc;
    if (ch->observer) {
        /* Observed: one dispatched send per message, under the batch's
         * deadline, so the observer hears each as it happens. */
        ipc_deadline d;
        ipc__deadline_start(&d, timeout_ms);
        size_t i = 0;
        while (i < n && (rc = ipc__send_via(ch, msgs[i], lens[i], 0, ipc__deadline_poll_ms(&d), NULL, NULL)) == IPC_OK)
            i++;
        *sent = i;
        if (i == n) return IPC_OK;
    } else {
        /* Through dispatch: the closed handle, the wait strategy and errno
         * are handled as for ipc_send. */
        batch_args b = { .msgs = msgs, .lens = lens, .n = n, .sent = sent };
        rc = ipc__send_via(ch, msgs[0], lens[0], 0, timeout_ms, batch_op, &b);
        if (rc == IPC_OK) return IPC_OK;
    }
    if (rc == IPC_ESYS) return rc; /* its message names the call and errno (dispatch restored it) */
    char why[200];
    snprintf(why, sizeof why, "%s", ipc_last_error());
    return ipc__fail(rc, "%s: %zu of %zu messages sent: %s", what, *sent, n, why);
}
