/*
 * 05_poll_loop (the solution) — one thread serving several pipes with
 * poll(): an event loop, and what end-of-file means inside it.
 *
 * Chapter 7 of TUTORIAL.md.  Three child processes each write 5 lines at
 * their own pace into their own pipe, then exit.  The parent must read
 * every line from all three with ONE poll() loop, remove a pipe from the
 * set when its writer is gone (read() returns 0: POLLHUP/POLLIN with no
 * data), and stop when no pipe is left.  It prints PASS when it counted
 * 5 lines from each child.
 *
 *   make exercises && build/exercises/05_poll_loop/starter
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { CHILDREN = 3, LINES = 5 };

int main(void)
{
    struct pollfd pfd[CHILDREN];
    int lines[CHILDREN] = { 0 };
    pid_t kids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++) {
        int fd[2];
        if (pipe(fd) == -1) { perror("pipe"); return 1; }
        kids[i] = fork();
        if (kids[i] == -1) { perror("fork"); return 1; }
        if (kids[i] == 0) {
            close(fd[0]);
            for (int k = 0; k < LINES; k++) {
                struct timespec t = { 0, (10 + 15 * i) * 1000000L }; /* each at its own pace */
                nanosleep(&t, NULL);
                char line[64];
                int n = snprintf(line, sizeof line, "child %d line %d\n", i, k);
                if (write(fd[1], line, (size_t)n) != n) _exit(1);
            }
            _exit(0);
        }
        close(fd[1]);
        pfd[i] = (struct pollfd){ .fd = fd[0], .events = POLLIN };
    }

    int open_pipes = CHILDREN, rounds = 0;
    while (open_pipes > 0 && rounds++ < 1000) {
        /* SOLUTION BEGIN: poll() the set (a 2 s timeout is a fine safety net); for each ready fd read what is there, count the '\n's into lines[i]; on read() == 0 close it, set pfd[i].fd = -1 (poll skips negative fds) and decrement open_pipes | break; */
        int ready = poll(pfd, CHILDREN, 2000);
        if (ready == -1) { perror("poll"); return 1; }
        if (ready == 0) { fprintf(stderr, "nothing for 2 s\n"); break; }
        for (int i = 0; i < CHILDREN; i++) {
            if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP))) continue;
            char buf[256];
            ssize_t n = read(pfd[i].fd, buf, sizeof buf);
            if (n < 0) { perror("read"); return 1; }
            if (n == 0) { /* end-of-file: the writer is gone */
                close(pfd[i].fd);
                pfd[i].fd = -1;
                open_pipes--;
                continue;
            }
            for (ssize_t k = 0; k < n; k++) lines[i] += buf[k] == '\n';
        }
        /* SOLUTION END */
    }

    int ok = open_pipes == 0;
    for (int i = 0; i < CHILDREN; i++) {
        int status;
        if (pfd[i].fd >= 0) close(pfd[i].fd); /* a starter's loop may leave some open */
        waitpid(kids[i], &status, 0);
        printf("child %d: %d lines\n", i, lines[i]);
        ok = ok && lines[i] == LINES && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    printf("%s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
