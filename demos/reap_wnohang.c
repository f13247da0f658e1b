/*
 * reap_wnohang.c — reaping many children: SIGCHLD merges, WNOHANG loops.
 *
 * A parent learns that children ended through SIGCHLD.  But standard
 * signals are not queued: while one SIGCHLD is pending, more of them merge
 * into it.  Five children that exit at about the same time may produce one,
 * two or three handler calls — never reliably five.  So a parent must not
 * reap ONE child per SIGCHLD; it must reap in a loop until there is nothing
 * left to collect:
 *
 *     while ((pid = waitpid(-1, &status, WNOHANG)) > 0)   // collect all
 *         ...;
 *     // pid == 0: children remain, none finished; -1/ECHILD: no children
 *
 * WNOHANG makes waitpid return at once instead of blocking, so the loop
 * can run inside the handler (waitpid is async-signal-safe) or in the main
 * loop after the handler sets a flag, as here.
 *
 * The demo forks 5 children that exit together, counts the SIGCHLD handler
 * calls (usually fewer than 5), then reaps all 5 with the WNOHANG loop and
 * checks that no zombie is left.
 *
 * Mirrors: multiprocessing's active_children(), which reaps finished
 * children with a non-blocking wait; TLPI section 26.3.
 *
 * Usage: reap_wnohang [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

#include <signal.h>

enum { CHILDREN = 5 };

static volatile sig_atomic_t sigchld_calls;

static void on_sigchld(int sig)
{
    (void)sig;
    sigchld_calls++; /* async-signal-safe: a flag; the reaping happens in main */
}

/* Wait (up to 10 s) until pid is a zombie: exited, not yet reaped.
 * waitid(WNOWAIT) asks exactly that and reaps nothing.  (Not /proc's "Z":
 * a child with more than one thread — under ThreadSanitizer every child has
 * the runtime's — shows its main thread Z before the others are gone, and
 * waitpid reports it only then.) */
static void await_zombie(pid_t pid)
{
    for (int i = 0; i < 1000; i++) {
        siginfo_t si = { .si_pid = 0 };
        demo_sys(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT), "waitid");
        if (si.si_pid == pid) return;
        demo_sleep_ms(10);
    }
    fprintf(stderr, "child %d did not exit\n", (int)pid);
    exit(1);
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: reap_wnohang\n"
               "Five children exit at once; SIGCHLD arrives fewer times than that (signals\n"
               "merge), and a waitpid(-1, WNOHANG) loop reaps every one.\n");

    struct sigaction sa = { .sa_handler = on_sigchld, .sa_flags = SA_RESTART | SA_NOCLDSTOP };
    demo_sys(sigemptyset(&sa.sa_mask), "sigemptyset");
    demo_sys(sigaction(SIGCHLD, &sa, NULL), "sigaction(SIGCHLD)");

    /* Block SIGCHLD while the children start and exit, so their signals
     * pile up as ONE pending signal: the merging, made visible on demand. */
    sigset_t chld, old;
    demo_sys(sigemptyset(&chld), "sigemptyset");
    demo_sys(sigaddset(&chld, SIGCHLD), "sigaddset");
    demo_sys(sigprocmask(SIG_BLOCK, &chld, &old), "sigprocmask");

    int go[2];
    pid_t kids[CHILDREN];
    demo_sys(pipe(go), "pipe");
    for (int i = 0; i < CHILDREN; i++) {
        pid_t kid = kids[i] = demo_fork();
        if (kid == 0) {
            char c;
            close(go[1]);
            _exit(read(go[0], &c, 1) == 0 ? i : 100); /* exit together on EOF */
        }
    }
    close(go[0]);
    close(go[1]); /* EOF for every child at once: they all exit now */
    for (int i = 0; i < CHILDREN; i++) await_zombie(kids[i]);
    printf("%d children exited while SIGCHLD was blocked\n", CHILDREN);
    demo_sys(sigprocmask(SIG_SETMASK, &old, NULL), "sigprocmask(unblock)");
    printf("SIGCHLD handler calls: %d (for %d children: pending signals merge)\n", (int)sigchld_calls, CHILDREN);

    int reaped = 0, status_sum = 0;
    pid_t pid;
    int status;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        printf("   waitpid(-1, WNOHANG) reaped %d (exit status %d)\n", (int)pid,
               WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        reaped++;
        status_sum += WIFEXITED(status) ? WEXITSTATUS(status) : 1000;
    }
    int err = errno;
    printf("then waitpid returned %d (%s): nothing left\n", (int)pid, pid < 0 ? strerror(err) : "children remain");

    if (reaped != CHILDREN || status_sum != 0 + 1 + 2 + 3 + 4 || pid != -1 || err != ECHILD || sigchld_calls >= CHILDREN)
        return 1;
    printf("lesson: one SIGCHLD may stand for many children: reap with WNOHANG until none is left\n");
    return 0;
}
