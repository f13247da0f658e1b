/*
 * pitfall_coalesce.c — ten signals sent, one handled.
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
 * The demo blocks the signal, lets a child send it ten times, waits until
 * the child has exited (so all ten were sent), then unblocks and counts how
 * many times the handler ran: first with SIGUSR1, then with SIGRTMIN.
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

static volatile sig_atomic_t handled;

static void count(int signum)
{
    (void)signum;
    handled++;
}

/* Send `sig` SENT times from a child while it is blocked here, then
 * unblock it and return how many times the handler ran. */
static int send_while_blocked(int sig)
{
    struct sigaction sa = { .sa_handler = count };
    demo_sys(sigemptyset(&sa.sa_mask), "sigemptyset");
    demo_sys(sigaction(sig, &sa, NULL), "sigaction");
    sigset_t set;
    demo_sys(sigemptyset(&set), "sigemptyset");
    demo_sys(sigaddset(&set, sig), "sigaddset");
    demo_sys(sigprocmask(SIG_BLOCK, &set, NULL), "sigprocmask(SIG_BLOCK)");

    handled = 0;
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
    demo_sys(sigprocmask(SIG_UNBLOCK, &set, NULL), "sigprocmask(SIG_UNBLOCK)"); /* delivered here */
    return handled;
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: pitfall_coalesce\n"
               "A child sends SIGUSR1 ten times while it is blocked: the handler runs once.\n"
               "The same with the real-time signal SIGRTMIN: it runs ten times.\n");
    int usr1 = send_while_blocked(SIGUSR1);
    printf("SIGUSR1:  sent %d times, handler ran %d time(s)  <- standard signals coalesce\n", SENT, usr1);
    int rt = send_while_blocked(SIGRTMIN);
    printf("SIGRTMIN: sent %d times, handler ran %d time(s) <- real-time signals are queued\n", SENT, rt);
    if (usr1 != 1 || rt != SENT) {
        fprintf(stderr, "unexpected counts (expected 1 and %d)\n", SENT);
        return 1;
    }
    printf("lesson: a standard signal means \"at least once\"; never count on it as a message count\n");
    return 0;
}
