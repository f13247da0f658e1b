/*
 * raw_events.c — the raw baselines of eventfd and real-time signals.
 *
 *   raw:eventfd   write(2) of an 8-byte number adds it to the counter; a
 *                 read(2) takes the whole sum and resets it.  So the kernel
 *                 MERGES messages: three writes of 1 may come out as one
 *                 read of 3.  This baseline keeps what the kernel keeps —
 *                 a count — and hands it out one message per receive
 *                 (payload byte 0 = DATA or STOP, the rest zero): data adds
 *                 1, STOP adds 2^32.  That is the bare cost of an eventfd;
 *                 an ipcplay mechanism that keeps message boundaries and
 *                 payloads must do more, and the ratio shows how much.
 *   raw:signal    sigqueue(2) carries 8 bytes in its sigval; the receiver
 *                 takes it with sigwaitinfo(2).  One real-time signal number
 *                 per channel, blocked in the opening thread before any
 *                 peer starts (threads and forked children inherit the
 *                 mask), so it is never delivered to a handler, only
 *                 accepted.  A signal goes to a process: the receiver
 *                 writes its pid into the channel's shared page before it
 *                 says ready.  When the queue of pending signals is full
 *                 (RLIMIT_SIGPENDING) sigqueue fails with EAGAIN and the
 *                 sender yields and retries: signals have no way to block a
 *                 sender.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- raw:eventfd -------------------------------------------------------- */

#define STOP_UNIT ((uint64_t)1 << 32)

typedef struct efd_chan {
    bench_chan base;
    int        fd;
    uint64_t   data_left, stops_left; /* the receiver's: taken, not yet handed out */
} efd_chan;

static int efd_send(bench_chan *c, const void *msg, size_t len)
{
    uint64_t add = len >= 1 && ((const unsigned char *)msg)[0] == MSG_STOP ? STOP_UNIT : 1;
    while (write(((efd_chan *)c)->fd, &add, sizeof add) < 0)
        if (errno != EINTR) return bench_fail_errno("write(eventfd)");
    return 0;
}

static int efd_recv(bench_chan *c, void *buf, size_t cap, size_t *len)
{
    efd_chan *e = (efd_chan *)c;
    while (e->data_left == 0 && e->stops_left == 0) {
        uint64_t sum;
        if (read(e->fd, &sum, sizeof sum) < 0) {
            if (errno == EINTR) continue;
            return bench_fail_errno("read(eventfd)");
        }
        e->data_left = sum % STOP_UNIT;
        e->stops_left = sum / STOP_UNIT;
    }
    memset(buf, 0, cap);
    if (cap) ((unsigned char *)buf)[0] = e->data_left ? MSG_DATA : MSG_STOP;
    if (e->data_left) e->data_left--; else e->stops_left--; /* data first: STOP is sent last */
    *len = cap < 8 ? cap : 8;
    return 0;
}

static void efd_free(bench_chan *c)
{
    close(((efd_chan *)c)->fd);
    free(c);
}

static int open_eventfd(const bench_impl *impl, size_t max_msg, bench_chan **out)
{
    (void)impl, (void)max_msg;
    efd_chan *e = calloc(1, sizeof *e);
    if (!e) return bench_fail_errno("calloc");
    if ((e->fd = eventfd(0, EFD_CLOEXEC)) < 0) {
        free(e);
        return bench_fail_errno("eventfd");
    }
    e->base = (bench_chan){ .send = efd_send, .recv = efd_recv, .free = efd_free };
    *out = &e->base;
    return 0;
}

const bench_impl raw_eventfd = {
    .name = "raw:eventfd", .wait = "kernel block (read)",
    .about = "eventfd counter: write adds, read takes the sum (messages merge, payload lost)",
    .caps = IPC_CAP_THREADS | IPC_CAP_FORK, .max_msg = 8, .open = open_eventfd,
};

/* ---- raw:signal --------------------------------------------------------- */

typedef struct sig_chan {
    bench_chan    base;
    int           signo;
    atomic_int   *receiver;  /* shared page: the receiving process's pid */
    sigset_t      set, old;  /* {signo}, and the opener's mask before     */
} sig_chan;

static int sig_send(bench_chan *c, const void *msg, size_t len)
{
    sig_chan *s = (sig_chan *)c;
    union sigval v = { 0 };
    memcpy(&v, msg, len < sizeof v ? len : sizeof v);
    pid_t to = atomic_load(s->receiver);
    if (to <= 0) return bench_fail("raw:signal: no receiver has bound the channel");
    while (sigqueue(to, s->signo, v) < 0) {
        if (errno == EAGAIN) sched_yield(); /* the pending queue is full */
        else if (errno != EINTR) return bench_fail_errno("sigqueue(%ld, %d)", (long)to, s->signo);
    }
    return 0;
}

static int sig_recv(bench_chan *c, void *buf, size_t cap, size_t *len)
{
    sig_chan *s = (sig_chan *)c;
    siginfo_t info;
    while (sigwaitinfo(&s->set, &info) < 0)
        if (errno != EINTR) return bench_fail_errno("sigwaitinfo");
    *len = cap < sizeof info.si_value ? cap : sizeof info.si_value;
    memcpy(buf, &info.si_value, *len);
    return 0;
}

static int sig_bind(bench_chan *c)
{
    atomic_store(((sig_chan *)c)->receiver, getpid());
    return 0;
}

static void sig_free(bench_chan *c)
{
    sig_chan *s = (sig_chan *)c;
    /* Accept what is still pending, then unblock this one signal (only
     * this one: the other channel of a ping-pong may still have some). */
    siginfo_t info;
    const struct timespec zero = { 0 };
    while (sigtimedwait(&s->set, &info, &zero) > 0) {}
    if (!sigismember(&s->old, s->signo)) pthread_sigmask(SIG_UNBLOCK, &s->set, NULL);
    munmap(s->receiver, sizeof *s->receiver);
    free(s);
}

static int open_signal(const bench_impl *impl, size_t max_msg, bench_chan **out)
{
    (void)impl, (void)max_msg;
    static atomic_uint counter;
    sig_chan *s = calloc(1, sizeof *s);
    if (!s) return bench_fail_errno("calloc");
    /* From the top of the real-time range down, so that the two channels of
     * a ping-pong get different numbers. */
    s->signo = SIGRTMAX - (int)(atomic_fetch_add(&counter, 1) % 8);
    s->receiver = mmap(NULL, sizeof *s->receiver, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s->receiver == MAP_FAILED) {
        free(s);
        return bench_fail_errno("mmap");
    }
    sigemptyset(&s->set);
    sigaddset(&s->set, s->signo);
    int err = pthread_sigmask(SIG_BLOCK, &s->set, &s->old);
    if (err) {
        munmap(s->receiver, sizeof *s->receiver);
        free(s);
        errno = err;
        return bench_fail_errno("pthread_sigmask");
    }
    s->base = (bench_chan){ .send = sig_send, .recv = sig_recv, .bind_receiver = sig_bind, .free = sig_free };
    *out = &s->base;
    return 0;
}

const bench_impl raw_signal = {
    .name = "raw:signal", .wait = "kernel block (sigwaitinfo)",
    .about = "sigqueue with 8 bytes in the sigval, sigwaitinfo on a blocked RT signal",
    .caps = IPC_CAP_THREADS | IPC_CAP_FORK, .max_msg = 8, .open = open_signal,
};
