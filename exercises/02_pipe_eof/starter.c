/*
 * 02_pipe_eof (starter: complete the TODOs) — why a reader waiting for end-of-file hangs,
 * and which copies of the write end must be closed.
 *
 * Chapter 3 of TUTORIAL.md, exercise 1.  The parent writes three lines into
 * a pipe; the child reads until end-of-file (read() returns 0), counts the
 * lines and exits; the parent waits for it.  A reader sees end-of-file only
 * when EVERY write end in EVERY process is closed — and after fork() there
 * are two: the parent's and the child's own copy.
 *
 * It prints PASS, or FAIL after 5 s if the program hung.
 *
 *   make exercises && build/exercises/02_pipe_eof/starter
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child = -1;

/* The watchdog: say FAIL and take the child along (kill is async-signal-safe). */
static void on_alarm(int sig)
{
    (void)sig;
    if (child > 0) kill(child, SIGKILL);
    static const char msg[] = "FAIL: hung for 5 s: which process still holds a write end of the pipe?\n";
    if (write(STDOUT_FILENO, msg, sizeof msg - 1) < 0) _exit(2);
    _exit(1);
}

int main(void)
{
    int fd[2];
    if (pipe(fd) == -1) { perror("pipe"); return 1; }
    signal(SIGALRM, on_alarm);
    alarm(5);

    child = fork();
    if (child == -1) { perror("fork"); return 1; }
    if (child == 0) {
        alarm(6); /* timers are not inherited: the child's own watchdog */
        /* TODO: the child only reads: close what it does not need */
        char buf[256];
        int lines = 0;
        ssize_t n;
        while ((n = read(fd[0], buf, sizeof buf)) > 0)
            for (ssize_t i = 0; i < n; i++) lines += buf[i] == '\n';
        if (n < 0) { perror("read"); _exit(1); }
        printf("child: end-of-file after %d lines\n", lines);
        _exit(lines == 3 ? 0 : 1);
    }

    /* TODO: the parent only writes: close what it does not need */
    const char *text = "one\ntwo\nthree\n";
    if (write(fd[1], text, strlen(text)) != (ssize_t)strlen(text)) { perror("write"); return 1; }
    /* TODO: the parent is done writing: tell the reader */

    int status;
    if (waitpid(child, &status, 0) == -1) { perror("waitpid"); return 1; }
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    printf("%s\n", ok ? "PASS" : "FAIL: the child did not count 3 lines");
    return ok ? 0 : 1;
}
