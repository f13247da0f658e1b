/*
 * eintr_restart.c — a signal interrupts a blocked system call: EINTR, and
 * what SA_RESTART does about it.
 *
 * When a signal handler runs while the thread is blocked in a "slow" system
 * call (read from a pipe, wait, sem_wait, ...), the call is interrupted.
 * Without SA_RESTART it fails with errno EINTR and the program must retry;
 * with SA_RESTART the kernel restarts it transparently after the handler.
 * But not every call restarts: poll, select, epoll_wait, nanosleep,
 * sem_timedwait and the calls with a timeout fail with EINTR whatever
 * SA_RESTART says (signal(7), "Interruption of system calls").  Hence the
 * loop `while (call() == -1 && errno == EINTR)` everywhere in careful code
 * — and hence ipcplay computes one deadline at the start of a call, so a
 * retry after EINTR never restarts the clock.
 *
 * The demo blocks in read() on an empty pipe; 100 ms later SIGALRM arrives
 * and its handler writes "data" into the pipe (write(2) is async-signal-
 * safe), so what the interrupted call does next is plain to see:
 *   1. handler installed without SA_RESTART: read() fails with EINTR,
 *      although the data is now there;
 *   2. with SA_RESTART: read() is restarted and returns the data;
 *   3. with SA_RESTART, poll() still fails with EINTR.
 *
 * Mirrors: Python's PEP 475 (since 3.5, the interpreter retries on EINTR for
 * you); TLPI section 21.5.
 *
 * Usage: eintr_restart [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

#include <poll.h>
#include <signal.h>
#include <sys/time.h>

static volatile sig_atomic_t alarms;
static int wake_fd = -1; /* the pipe's write end, set before each alarm */

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
    /* async-signal-safe: a sig_atomic_t store and write(2); errno is saved
     * because the interrupted code reads it after we return */
    int saved = errno;
    if (write(wake_fd, "data", 4) != 4) alarms += 100; /* noticed by the checks */
    errno = saved;
}

static void install(int flags)
{
    struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = flags };
    demo_sys(sigemptyset(&sa.sa_mask), "sigemptyset");
    demo_sys(sigaction(SIGALRM, &sa, NULL), "sigaction(SIGALRM)");
}

/* An empty pipe; SIGALRM in 100 ms writes "data" into it. */
static void pipe_and_alarm(int fds[2])
{
    demo_sys(pipe(fds), "pipe");
    wake_fd = fds[1];
    struct itimerval t = { .it_value = { .tv_sec = 0, .tv_usec = 100000 } };
    demo_sys(setitimer(ITIMER_REAL, &t, NULL), "setitimer");
}

static void close_pipe(int fds[2])
{
    demo_sys(close(fds[0]), "close");
    demo_sys(close(fds[1]), "close");
}

static int64_t ms_since(int64_t t0) { return (ipc_now_ns() - t0) / 1000000; }

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: eintr_restart\n"
               "A SIGALRM interrupts a blocked read(): EINTR without SA_RESTART, a transparent\n"
               "restart with it; poll() is never restarted.\n");
    int fds[2];
    char buf[8];

    printf("1. handler without SA_RESTART, read() blocked on an empty pipe\n");
    install(0);
    int64_t t0 = ipc_now_ns();
    pipe_and_alarm(fds);
    ssize_t n = read(fds[0], buf, sizeof buf);
    int err = errno;
    printf("   after %lld ms: read() = %zd, %s (the handler's data waits in the pipe)\n",
           (long long)ms_since(t0), n, n < 0 ? strerror(err) : "data");
    int eintr1 = n < 0 && err == EINTR;
    close_pipe(fds);

    printf("2. handler with SA_RESTART\n");
    install(SA_RESTART);
    t0 = ipc_now_ns();
    pipe_and_alarm(fds);
    n = read(fds[0], buf, sizeof buf);
    err = errno;
    printf("   after %lld ms: read() = %zd (%s)\n", (long long)ms_since(t0), n,
           n == 4 ? "\"data\": restarted transparently after the handler" : strerror(err));
    int restarted = n == 4;
    close_pipe(fds);

    printf("3. SA_RESTART still set, poll() on an empty pipe\n");
    t0 = ipc_now_ns();
    pipe_and_alarm(fds);
    struct pollfd p = { .fd = fds[0], .events = POLLIN };
    int r = poll(&p, 1, 5000);
    err = errno;
    printf("   after %lld ms: poll() = %d, %s\n", (long long)ms_since(t0), r, r < 0 ? strerror(err) : "ready");
    int eintr3 = r < 0 && err == EINTR;
    close_pipe(fds);

    if (!eintr1 || !restarted || !eintr3 || alarms != 3) return 1;
    printf("lesson: retry on EINTR yourself — SA_RESTART does not cover calls with a timeout\n");
    return 0;
}
