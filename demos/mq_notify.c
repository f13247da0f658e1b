/*
 * mq_notify.c — let a POSIX message queue tell you when a message arrives.
 *
 * Instead of blocking in mq_receive(), a process can register for ONE
 * notification with mq_notify(2): when a message arrives on an EMPTY queue
 * the kernel delivers a signal (SIGEV_SIGNAL) or starts a thread
 * (SIGEV_THREAD) and removes the registration.  Three rules surprise people
 * (mq_notify(3)):
 *   - it is one-shot: the handler must register again, BEFORE draining, or
 *     a message arriving in between is never announced;
 *   - it fires only on the empty -> non-empty transition: messages sent
 *     while the queue already holds some announce nothing;
 *   - only one process may be registered per queue (EBUSY for a second),
 *     and a process blocked in mq_receive() takes precedence over it.
 *
 * The demo registers a SIGEV_THREAD notification; a child sends three
 * bursts, each once the queue is empty again; each notification thread
 * re-arms, then drains with non-blocking receives.  It counts notifications
 * (typically one per burst, not one per message: a burst is announced twice
 * only if the handler emptied the queue between two of its sends) and shows
 * a second registration failing with EBUSY.
 *
 * Mirrors: asyncio-style "call me when ready" in place of a blocking get();
 * TLPI chapter 52.  ipcplay's event loop (demos/event_loop.c) does the same
 * with epoll on the queue's descriptor.
 *
 * Usage: mq_notify [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

enum { BURSTS = 3, PER_BURST = 3, MSG = 64 };

static mqd_t       q;
static atomic_int  notifications; /* seq_cst: a counter read by main at the end */
static atomic_int  received;

static void arm(void);

/* Runs in a new thread the kernel (glibc) starts on empty -> non-empty. */
static void on_message(union sigval sv)
{
    (void)sv;
    atomic_fetch_add(&notifications, 1);
    arm(); /* re-register FIRST: a message sent while we drain must not go unannounced */
    char buf[MSG];
    ssize_t n;
    while ((n = mq_receive(q, buf, sizeof buf, NULL)) >= 0) {
        atomic_fetch_add(&received, 1);
        printf("   notification %d: received \"%.*s\"\n", atomic_load(&notifications), (int)n, buf);
    }
    if (errno != EAGAIN) demo_sys(-1, "mq_receive");
}

static void arm(void)
{
    struct sigevent sev = { .sigev_notify = SIGEV_THREAD, .sigev_notify_function = on_message };
    demo_sys(mq_notify(q, &sev), "mq_notify");
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: mq_notify\n"
               "A POSIX message queue announces each empty -> non-empty transition to a\n"
               "SIGEV_THREAD handler that re-arms and drains: one notification per burst.\n");

    char name[64];
    snprintf(name, sizeof name, "/ipcplay-demo-mqn.%d", (int)getpid());
    struct mq_attr attr = { .mq_maxmsg = 10, .mq_msgsize = MSG };
    q = mq_open(name, O_RDONLY | O_NONBLOCK | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
    if (q == (mqd_t)-1) demo_sys(-1, "mq_open");
    arm();
    printf("mq_notify(SIGEV_THREAD) registered on %s\n", name);

    pid_t parent = getpid();
    pid_t kid = demo_fork();
    if (kid == 0) {
        mqd_t w = mq_open(name, O_WRONLY | O_CLOEXEC);
        if (w == (mqd_t)-1) _exit(2);
        /* a second registration, from another process, is refused */
        struct sigevent sev = { .sigev_notify = SIGEV_NONE };
        int busy = mq_notify(w, &sev) == -1 && errno == EBUSY;
        printf("   child: mq_notify from a second process: %s\n", busy ? "EBUSY (one per queue)" : "accepted?!");
        for (int b = 0; b < BURSTS; b++) {
            for (int i = 0; i < PER_BURST; i++) {
                char m[MSG];
                int len = snprintf(m, sizeof m, "burst %d message %d", b, i);
                if (mq_send(w, m, (size_t)len, 0) == -1) _exit(3);
            }
            /* wait until the handler drained: the next burst starts on an
             * empty queue (and the handler re-armed before it drained) */
            struct mq_attr a;
            do {
                demo_sleep_ms(10);
                if (mq_getattr(w, &a) == -1) _exit(5);
                if (getppid() != parent) { /* it died: nobody drains, nobody unlinks */
                    mq_unlink(name);
                    _exit(6);
                }
            } while (a.mq_curmsgs > 0);
        }
        _exit(busy ? 0 : 4);
    }
    demo_reap(kid, "sender");
    for (int i = 0; i < 100 && atomic_load(&received) < BURSTS * PER_BURST; i++) demo_sleep_ms(10);

    int n = atomic_load(&notifications), r = atomic_load(&received);
    printf("%d messages in %d bursts: %d received, %d notifications\n", BURSTS * PER_BURST, BURSTS, r, n);
    demo_sys(mq_notify(q, NULL), "mq_notify(NULL) (unregister)");
    demo_sys(mq_close(q), "mq_close");
    demo_sys(mq_unlink(name), "mq_unlink");

    /* Each burst's first message finds the queue empty; the others do not.
     * A burst may be split in two if the handler drained between two sends. */
    if (r != BURSTS * PER_BURST || n < BURSTS || n > r) return 1;
    printf("lesson: one notification per empty -> non-empty transition, and it must be re-armed\n");
    return 0;
}
