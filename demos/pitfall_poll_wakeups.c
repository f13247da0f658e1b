/*
 * pitfall_poll_wakeups.c — waiting in poll() changes how a pipe wakes you.
 *
 * A writer thread sends 100,000 messages of 100 bytes (a 4-byte length and
 * the payload, one writev each) through a pipe to a reader thread; both are
 * pinned to CPU 0, so every wakeup of the reader is a context switch.  Three
 * readers:
 *   1. blocking readv(2) of one message — no timeout, no way to be told
 *      "closed" except end-of-file;
 *   2. poll(2), then the same readv — what any reader that needs a deadline
 *      or a second fd to watch must do;
 *   3. ipcplay's "pipe": poll on the pipe and the shutdown eventfd, then one
 *      read(2) of up to 64 KiB parsed into many messages.
 *
 * What to see: (2) costs about 1.6x (1).  It makes one more system call per
 * message, and it is woken more often: a blocking reader is woken when the
 * pipe goes from empty to non-empty, but once a pipe has been poll()ed the
 * kernel wakes its readers on every write (pipe->poll_usage, Linux 5.16+).
 * (3) sleeps in poll() too, and because each read(2) empties the pipe it is
 * woken (and, on one core, switched to) even more often; but whenever
 * messages have queued it takes them all in one read(2) and needs no system
 * call per message, so it ends up cheaper than (2).  Deadlines and close
 * notification are not free: the blocking reader is only cheaper because it
 * can do neither.
 *
 * Mirrors: the pitfall behind seed 004 §2 (Pipe.recv blocks with no timeout;
 * Connection.poll(timeout) is how Python gets one — at this price).
 *
 * Usage: pitfall_poll_wakeups [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/uio.h>

enum { MESSAGES = 100000, SIZE = 100 };

enum reader_kind { BLOCKING_READV, POLL_THEN_READV, IPCPLAY_PIPE };

struct run {
    enum reader_kind kind;
    int              fds[2];
    ipc_channel     *ch;
};

static void pin_to_cpu0(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    demo_pthread(pthread_setaffinity_np(pthread_self(), sizeof set, &set), "pthread_setaffinity_np");
}

static void *reader(void *arg)
{
    struct run *r = arg;
    pin_to_cpu0();
    unsigned char buf[SIZE];
    for (int i = 0; i < MESSAGES; i++) {
        if (r->kind == IPCPLAY_PIPE) {
            size_t len;
            demo_ok(ipc_recv(r->ch, buf, sizeof buf, &len, NULL, -1), "ipc_recv");
            continue;
        }
        if (r->kind == POLL_THEN_READV) {
            struct pollfd p = { .fd = r->fds[0], .events = POLLIN };
            while (poll(&p, 1, -1) < 0) demo_sys(errno == EINTR ? 0 : -1, "poll");
        }
        uint32_t header;
        struct iovec v[2] = { { &header, sizeof header }, { buf, SIZE } };
        ssize_t n;
        while ((n = readv(r->fds[0], v, 2)) < 0 && errno == EINTR) {}
        demo_sys(n == (ssize_t)(sizeof header + SIZE) ? 0 : -1, "readv (whole message)");
    }
    return NULL;
}

static long context_switches(void)
{
    struct rusage ru;
    demo_sys(getrusage(RUSAGE_SELF, &ru), "getrusage"); /* all threads of the process */
    return ru.ru_nvcsw + ru.ru_nivcsw;
}

/* Run one reader kind; print ns per message and context switches. */
static double measure(enum reader_kind kind, const char *label)
{
    struct run r = { .kind = kind, .fds = { -1, -1 } };
    if (kind == IPCPLAY_PIPE) demo_ok(ipc_open("pipe", NULL, &r.ch), "ipc_open(pipe)");
    else demo_sys(pipe(r.fds), "pipe");

    long switches = context_switches();
    int64_t t0 = ipc_now_ns();
    pthread_t t;
    demo_pthread(pthread_create(&t, NULL, reader, &r), "pthread_create");
    unsigned char msg[SIZE] = { 0 };
    for (int i = 0; i < MESSAGES; i++) {
        if (kind == IPCPLAY_PIPE) {
            demo_ok(ipc_send(r.ch, msg, SIZE, 0, -1), "ipc_send");
            continue;
        }
        uint32_t header = SIZE;
        struct iovec v[2] = { { &header, sizeof header }, { msg, SIZE } };
        ssize_t n;
        while ((n = writev(r.fds[1], v, 2)) < 0 && errno == EINTR) {}
        demo_sys(n == (ssize_t)(sizeof header + SIZE) ? 0 : -1, "writev");
    }
    demo_pthread(pthread_join(t, NULL), "pthread_join");
    double ns = (double)(ipc_now_ns() - t0) / MESSAGES;
    switches = context_switches() - switches;

    if (kind == IPCPLAY_PIPE) ipc_free(r.ch);
    else { close(r.fds[0]); close(r.fds[1]); }
    printf("  %-34s %6.0f ns per message, %6ld context switches\n", label, ns, switches);
    return ns;
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: pitfall_poll_wakeups\n"
               "A writer and a reader thread on CPU 0 move 100,000 messages of 100 bytes through a\n"
               "pipe, with three kinds of reader: blocking readv, poll + readv, ipcplay's pipe.\n");
    pin_to_cpu0();
    printf("%d messages of %d bytes, writer and reader both on CPU 0:\n", MESSAGES, SIZE);
    double blocking = measure(BLOCKING_READV, "1. blocking readv (no timeout)");
    double polling = measure(POLL_THEN_READV, "2. poll + readv (can time out)");
    double ours = measure(IPCPLAY_PIPE, "3. ipcplay pipe (timeouts, close)");
    printf("poll + readv costs %.2fx the blocking reader; ipcplay's pipe %.2fx the polling one\n",
           polling / blocking, ours / polling);
    printf("why: a reader that can time out must wait in poll(): one more system call per\n"
           "message, and a pipe that has been polled wakes its reader on every write.  ipcplay\n"
           "pays that too, but takes every queued message with one read(2).\n");
    return 0;
}
