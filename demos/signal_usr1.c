/*
 * signal_usr1.c — a SIGUSR1 handler, triggered by kill -USR1 <pid>.
 *
 * A signal is the smallest message there is: a number, delivered by the
 * kernel, that interrupts whatever the process was doing and runs the
 * handler installed with sigaction(2).  The program prints its pid; any
 * process with the right to (same user, or root) can send it SIGUSR1 with
 * kill(2) — or from a shell, `kill -USR1 <pid>`.
 *
 * Three things the Python version hides:
 *   - A handler may only call async-signal-safe functions: it can interrupt
 *     printf() or malloc() half-way, so it uses write(2) and sets a
 *     volatile sig_atomic_t flag; the main loop does the rest.
 *   - Waiting without a race: SIGUSR1 is blocked while the main loop checks
 *     its flag, and ppoll(2) unblocks it and sleeps in one atomic step.
 *     (Checking the flag and then calling sleep() could miss a signal that
 *     arrives in between, and sleep a whole second too long.)
 *   - Signals are not queued: two SIGUSR1 sent before the first is handled
 *     arrive as one.  The child here waits between sends so none merge; see
 *     pitfall_coalesce for what happens when they do.
 *
 * So the demo ends by itself, it forks a child that plays the student at
 * another terminal and sends three SIGUSR1.  With --manual no child is
 * started: type the printed command yourself (three times, within 60 s).
 *
 * Mirrors: seed 002 §2.1 (signal.signal(SIGUSR1, handler), print pid,
 * "Waiting for signal...", kill -USR1 <pid> from another terminal).
 *
 * Usage: signal_usr1 [--manual] [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

#include <poll.h>
#include <signal.h>

enum { SIGNALS = 3 };

static volatile sig_atomic_t received;

static void handle_usr1(int signum)
{
    /* write() is async-signal-safe; printf() is not. */
    static const char msg[] = "  handler: Signal handler called with signal SIGUSR1\n";
    int saved = errno;
    (void)signum;
    if (write(STDOUT_FILENO, msg, sizeof msg - 1) < 0) {} /* nothing safe to do on failure */
    received++;
    errno = saved;
}

int main(int argc, char **argv)
{
    static const char *const flags[] = { "--manual", NULL };
    demo_start_opts(argc, argv,
               "usage: signal_usr1 [--manual]\n"
               "Installs a SIGUSR1 handler and waits.  A child sends three SIGUSR1 so the\n"
               "demo ends by itself; with --manual, send them yourself with kill -USR1 <pid>.\n", flags);
    int manual = demo_flag(argc, argv, "--manual");

    struct sigaction sa = { .sa_handler = handle_usr1 };
    demo_sys(sigemptyset(&sa.sa_mask), "sigemptyset");
    demo_sys(sigaction(SIGUSR1, &sa, NULL), "sigaction(SIGUSR1)");

    /* Block SIGUSR1 except inside ppoll(): no signal can slip in between
     * "check received" and "go to sleep". */
    sigset_t usr1, during_wait;
    demo_sys(sigemptyset(&usr1), "sigemptyset");
    demo_sys(sigaddset(&usr1, SIGUSR1), "sigaddset");
    demo_sys(sigprocmask(SIG_BLOCK, &usr1, &during_wait), "sigprocmask");
    demo_sys(sigdelset(&during_wait, SIGUSR1), "sigdelset");

    pid_t me = getpid();
    printf("Process ID: %d\n", (int)me);
    printf("From another terminal you can type:  kill -USR1 %d\n", (int)me);

    pid_t child = -1;
    if (!manual) {
        child = demo_fork();
        if (child == 0) {
            for (int i = 0; i < SIGNALS; i++) {
                demo_sleep_ms(300); /* far apart, so no two of them merge */
                printf("  child (pid %d): kill(%d, SIGUSR1)\n", (int)getpid(), (int)me);
                demo_sys(kill(me, SIGUSR1), "kill");
            }
            _exit(0);
        }
    }

    int64_t give_up = ipc_now_ns() + (int64_t)(manual ? 60 : 10) * 1000000000;
    while (received < SIGNALS && ipc_now_ns() < give_up) {
        printf("Waiting for signal... (%d of %d so far)\n", (int)received, SIGNALS);
        struct timespec one_second = { .tv_sec = 1 };
        if (ppoll(NULL, 0, &one_second, &during_wait) == -1 && errno != EINTR)
            demo_sys(-1, "ppoll");
    }
    if (child > 0) demo_reap(child, "child");
    printf("received %d SIGUSR1 signal(s)\n", (int)received);
    return received == SIGNALS ? 0 : 1;
}
