/*
 * pitfall_zombie.c — children that exited but were never waited for.
 *
 * When a process exits, the kernel frees its memory and files but keeps a
 * small record — pid, exit status, resource usage — until the parent
 * collects it with wait(2)/waitpid(2).  Until then the child is a zombie:
 * state Z in ps, "<defunct>" in the command column.  Each zombie holds a
 * pid; a long-running server that forks and never waits eventually cannot
 * fork at all.  (Python's Process.join() is that waitpid; multiprocessing
 * also reaps finished children whenever you start a new one.)
 *
 * The demo:
 *   1. forks three children that exit at once and does NOT wait: it reads
 *      their state from /proc/<pid>/stat and finds Z;
 *   2. reaps them with waitpid(): /proc/<pid> disappears;
 *   3. shows the alternative for a parent that never wants exit statuses:
 *      SIGCHLD set to SIG_IGN makes the kernel reap children by itself.
 *
 * Mirrors: the pitfall behind every Process(...).start() in seeds 001-004
 * that is not followed by join().
 *
 * Usage: pitfall_zombie [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

#include <signal.h>

enum { CHILDREN = 3 };

/* The state letter of /proc/<pid>/stat ("R", "S", "Z" ...), or '-' if
 * the process no longer exists. */
static char proc_state(pid_t pid)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno != ENOENT) demo_sys(-1, path);
        return '-';
    }
    char *got = fgets(line, sizeof line, f);
    fclose(f);
    /* "pid (comm) S ...": comm may hold spaces and ')', so use the last ')'. */
    char *paren = got ? strrchr(line, ')') : NULL;
    return paren && paren[1] == ' ' ? paren[2] : '?';
}

/* Wait (up to 2 s) until pid's state is `want`: a child needs a moment to exit. */
static char await_state(pid_t pid, char want)
{
    char s = proc_state(pid);
    for (int i = 0; i < 200 && s != want; i++) {
        demo_sleep_ms(10);
        s = proc_state(pid);
    }
    return s;
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: pitfall_zombie\n"
               "Forks children that exit at once, shows them as zombies (state Z) in /proc,\n"
               "reaps them with waitpid(), then lets SIGCHLD=SIG_IGN reap automatically.\n");
    pid_t kids[CHILDREN];
    int zombies = 0;

    printf("1. fork %d children that exit at once; the parent (pid %d) does not wait\n", CHILDREN,
           (int)getpid());
    for (int i = 0; i < CHILDREN; i++) {
        kids[i] = demo_fork();
        if (kids[i] == 0) _exit(0);
    }
    for (int i = 0; i < CHILDREN; i++) {
        char s = await_state(kids[i], 'Z');
        printf("   child %d: /proc/%d/stat says state %c%s\n", (int)kids[i], (int)kids[i], s,
               s == 'Z' ? " (zombie: exited, status not collected)" : "");
        zombies += s == 'Z';
    }
    printf("   (see them yourself while a program like this runs: ps -o pid,stat,cmd --ppid %d)\n",
           (int)getpid());

    printf("2. waitpid() each one\n");
    int reaped = 0;
    for (int i = 0; i < CHILDREN; i++) {
        demo_reap(kids[i], "child");
        char s = proc_state(kids[i]);
        printf("   child %d reaped: /proc/%d %s\n", (int)kids[i], (int)kids[i],
               s == '-' ? "is gone" : "still exists");
        reaped += s == '-';
    }

    printf("3. signal(SIGCHLD, SIG_IGN): the kernel reaps children by itself\n");
    struct sigaction ign = { .sa_handler = SIG_IGN }, old;
    demo_sys(sigemptyset(&ign.sa_mask), "sigemptyset");
    demo_sys(sigaction(SIGCHLD, &ign, &old), "sigaction(SIGCHLD, SIG_IGN)");
    pid_t kid = demo_fork();
    if (kid == 0) _exit(0);
    /* With SIGCHLD ignored, waitpid waits for the child to end and then
     * fails with ECHILD: there is no status to collect. */
    int r = waitpid(kid, NULL, 0);
    int err = errno;
    int gone = proc_state(kid) == '-';
    printf("   waitpid: %s; /proc/%d %s\n", r == -1 ? strerror(err) : "collected a status", (int)kid,
           gone ? "is gone without anyone collecting it" : "still exists");
    int auto_reaped = r == -1 && err == ECHILD && gone;
    demo_sys(sigaction(SIGCHLD, &old, NULL), "sigaction(restore SIGCHLD)");

    if (zombies != CHILDREN || reaped != CHILDREN || !auto_reaped) {
        fprintf(stderr, "unexpected: %d zombies, %d reaped, auto-reap %s\n", zombies, reaped,
                auto_reaped ? "worked" : "failed");
        return 1;
    }
    printf("lesson: every fork() needs a wait() — or SIGCHLD ignored if no one needs the status\n");
    return 0;
}
