/*
 * signal_thread.c — signals in a threaded program: block them everywhere,
 * take them in one thread with sigwait().
 *
 * A process-directed signal (kill(pid, ...)) goes to ANY thread that does
 * not block it, and its handler interrupts whatever that thread was doing —
 * and may call only async-signal-safe functions.  The clean pattern for a
 * threaded program (pthread_sigmask(3), sigwait(3)):
 *   1. block the signals in main BEFORE creating threads (the mask is
 *      inherited, so every thread blocks them);
 *   2. one dedicated thread loops on sigwait(): the signal is received as a
 *      plain return value, in ordinary code, where printf, mutexes and ipc
 *      calls are all allowed;
 *   3. the workers are never interrupted (no EINTR for them).
 *
 * The demo starts three workers and a signal thread with SIGUSR1 and
 * SIGTERM blocked everywhere; a child sends SIGUSR1 three times and then
 * SIGTERM to the PROCESS; the signal thread reports each (with its thread
 * id) and on SIGTERM closes a thread queue, so the workers finish the items
 * queued and exit — a clean shutdown driven by a signal.
 *
 * Mirrors: Python's rule that signal handlers always run in the main thread
 * (signal.signal) and signal.sigwait / pthread_sigmask; TLPI chapter 33.
 *
 * Usage: signal_thread [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>

enum { WORKERS = 3, ITEMS = 9 };

typedef struct ctx {
    sigset_t     set;
    ipc_channel *q;
    int          usr1;      /* written by the signal thread, read after join */
    int          ack;       /* pipe write end: one byte per SIGUSR1 taken      */
    int          done[WORKERS];
} ctx;

static void *signal_thread(void *arg)
{
    ctx *c = arg;
    for (;;) {
        int sig;
        int err = sigwait(&c->set, &sig);
        if (err != 0) demo_pthread(err, "sigwait");
        printf("   signal thread (tid %ld): got %s\n", (long)syscall(SYS_gettid), strsignal(sig));
        if (sig == SIGUSR1) {
            c->usr1++;
            if (write(c->ack, "a", 1) != 1) demo_sys(-1, "write(ack)");
        } else { /* SIGTERM: shut the queue; workers drain it and leave */
            demo_ok(ipc_close(c->q), "ipc_close");
            return NULL;
        }
    }
}

typedef struct worker { ctx *c; int id; pthread_t t; } worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (;;) {
        int item;
        size_t len;
        int rc = ipc_recv(w->c->q, &item, sizeof item, &len, NULL, -1);
        if (rc == IPC_ECLOSED) return NULL; /* closed and drained */
        demo_ok(rc, "ipc_recv");
        w->c->done[w->id]++;
    }
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: signal_thread\n"
               "SIGUSR1 and SIGTERM are blocked in every thread and taken by one thread with\n"
               "sigwait(); SIGTERM closes the work queue for a clean shutdown.\n");
    ctx c = { .usr1 = 0 };
    demo_sys(sigemptyset(&c.set), "sigemptyset");
    demo_sys(sigaddset(&c.set, SIGUSR1), "sigaddset");
    demo_sys(sigaddset(&c.set, SIGTERM), "sigaddset");
    /* 1. block before any thread exists: every thread inherits the mask */
    demo_pthread(pthread_sigmask(SIG_BLOCK, &c.set, NULL), "pthread_sigmask");
    demo_ok(ipc_open("queue", NULL, &c.q), "ipc_open(queue)");
    printf("main (tid %ld): SIGUSR1 and SIGTERM blocked, then threads started\n", (long)syscall(SYS_gettid));

    /* the ack pipe before the thread that writes it: pthread_create orders
     * c.ack for it (a signal orders nothing between threads) */
    int ack[2];
    demo_sys(pipe(ack), "pipe");
    c.ack = ack[1];
    pthread_t st;
    demo_pthread(pthread_create(&st, NULL, signal_thread, &c), "pthread_create");
    worker w[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        w[i] = (worker){ .c = &c, .id = i };
        demo_pthread(pthread_create(&w[i].t, NULL, work, &w[i]), "pthread_create");
    }
    for (int i = 0; i < ITEMS; i++) demo_ok(ipc_send(c.q, &i, sizeof i, 0, -1), "ipc_send");

    pid_t me = getpid();
    pid_t kid = demo_fork();
    if (kid == 0) {
        close(ack[1]); /* only the parent writes: if it dies, read sees EOF, never waits for good */
        for (int i = 0; i < 3; i++) {
            char a;
            if (kill(me, SIGUSR1) == -1) _exit(2);
            /* wait until it was taken: pending signals of one kind merge */
            if (read(ack[0], &a, 1) != 1) _exit(4);
        }
        _exit(kill(me, SIGTERM) == -1 ? 3 : 0);
    }
    demo_reap(kid, "sender");
    demo_pthread(pthread_join(st, NULL), "pthread_join(signal thread)");
    int total = 0;
    for (int i = 0; i < WORKERS; i++) {
        demo_pthread(pthread_join(w[i].t, NULL), "pthread_join(worker)");
        total += c.done[i];
    }
    demo_sys(close(ack[0]), "close");
    demo_sys(close(ack[1]), "close");
    printf("workers processed %d of %d items, none interrupted; SIGUSR1 taken %d times\n", total, ITEMS, c.usr1);
    ipc_free(c.q);

    if (total != ITEMS || c.usr1 != 3) return 1;
    printf("lesson: block signals before creating threads, and sigwait() for them in one thread\n");
    return 0;
}
