/*
 * pitfall_coalesce.c — ten signals sent, one delivered.
 *
 * The kernel keeps, per process, one "pending" BIT per standard signal, not
 * a counter.  If SIGUSR1 is sent ten times while it is blocked (or simply
 * before the target gets the CPU), the bit is set ten times and the handler
 * runs once.  Standard signals say "this happened at least once", never
 * "how many times".
 *
 * Real-time signals (SIGRTMIN..SIGRTMAX, POSIX.1b) are different: each one
 * sent is queued (up to RLIMIT_SIGPENDING) with an optional value attached
 * by sigqueue(3), and each is delivered separately.  That is why a
 * signal-based message channel must use them, or must count in shared
 * memory instead.
 *
 * The demo blocks the signal, lets a child send it ten times with
 * sigqueue(3) (value 0..9), waits until the child has exited (so all ten
 * were sent), then takes what is pending with sigtimedwait(2) — which
 * dequeues one signal per call, with its value — and counts: first with
 * SIGUSR1, then with SIGRTMIN.  (A handler would show the same count; this
 * way the values can be printed too, and no handler is needed at all.)
 *
 * Mirrors: the pitfall behind seed 002 §2 ("signals are suitable for
 * simple notifications"): a signal is a notification, not a message queue.
 *
 * Usage: pitfall_coalesce [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

#include <signal.h>

enum { SENT = 10 };

/* Send `sig` SENT times from a child while it is blocked here, then take
 * every pending instance; returns how many there were and prints their
 * values. */
static int send_while_blocked(int sig, const char *name)
{
    sigset_t set;
    demo_sys(sigemptyset(&set), "sigemptyset");
    demo_sys(sigaddset(&set, sig), "sigaddset");
    demo_sys(sigprocmask(SIG_BLOCK, &set, NULL), "sigprocmask(SIG_BLOCK)");

    pid_t parent = getpid();
    pid_t child = demo_fork();
    if (child == 0) {
        for (int i = 0; i < SENT; i++) {
            union sigval v = { .sival_int = i };
            demo_sys(sigqueue(parent, sig, v), "sigqueue");
        }
        _exit(0);
    }
    demo_reap(child, "sender"); /* all ten have been sent */

    int got = 0;
    printf("%-8s sent %d times; pending instances taken:", name, SENT);
    for (;;) {
        siginfo_t info;
        struct timespec now = { 0, 0 };
        if (sigtimedwait(&set, &info, &now) == -1) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break; /* nothing more pending */
            demo_sys(-1, "sigtimedwait");
        }
        printf(" [value %d]", info.si_value.sival_int);
        got++;
    }
    printf("  -> %d\n", got);
    demo_sys(sigprocmask(SIG_UNBLOCK, &set, NULL), "sigprocmask(SIG_UNBLOCK)");
    return got;
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: pitfall_coalesce\n"
               "A child sends SIGUSR1 ten times while it is blocked: one is delivered.\n"
               "The same with the real-time signal SIGRTMIN: all ten are, with their values.\n");
    int usr1 = send_while_blocked(SIGUSR1, "SIGUSR1");
    printf("  standard signals coalesce: %d sent, %d delivered\n", SENT, usr1);
    int rt = send_while_blocked(SIGRTMIN, "SIGRTMIN");
    printf("  real-time signals are queued: %d sent, %d delivered, in order, each with its value\n", SENT, rt);
    if (usr1 != 1 || rt != SENT) {
        fprintf(stderr, "unexpected counts (expected 1 and %d)\n", SENT);
        return 1;
    }
    printf("lesson: a standard signal means \"at least once\"; never count on it as a message count\n");
    return 0;
}
