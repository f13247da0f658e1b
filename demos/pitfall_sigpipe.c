/*
 * pitfall_sigpipe.c — writing to a pipe nobody reads kills the writer.
 *
 * When every read end of a pipe (or the peer of a stream socket) is
 * closed, write(2) has nowhere to put the bytes.  The kernel then sends the
 * writer SIGPIPE, whose default action is to terminate the process — no
 * error message, no chance to clean up, exit "killed by signal 13".  Only
 * if SIGPIPE is ignored (or handled) does write() return -1 with errno
 * EPIPE instead.  Shell pipelines rely on this (`yes | head` stops `yes`),
 * servers are killed by it when a client hangs up.
 *
 * Three runs:
 *   1. raw pipe, SIGPIPE at its default: the child writer dies silently;
 *   2. raw pipe, SIGPIPE ignored: write() fails with EPIPE, the child lives;
 *   3. ipcplay: the peer of a duplex channel has exited; ipc_send returns
 *      IPC_ECLOSED ("the peer is gone").  The library sends on sockets with
 *      MSG_NOSIGNAL and, for pipes, blocks SIGPIPE in the writing thread
 *      around each write and consumes the one it raised (core/fd.c), so a
 *      broken pipe is an error code, never a death — and the program's own
 *      SIGPIPE disposition is left exactly as it was.
 *
 * Mirrors: the pitfall behind seed 004 §2 (a Pipe whose other end is
 * closed: Python turns EPIPE into BrokenPipeError because the interpreter
 * ignores SIGPIPE at start-up — C programs do not).
 *
 * Usage: pitfall_sigpipe [--help]
 */
#define _GNU_SOURCE
#include "demo.h"
#include "pipes/socketpair.h"

#include <signal.h>

/* A child writes into a pipe whose read end is closed everywhere.
 * Returns the child's wait status. */
static int write_to_broken_pipe(void (*disposition)(int))
{
    int fds[2];
    demo_sys(pipe(fds), "pipe");
    demo_sys(close(fds[0]), "close"); /* the only read end: closed before fork, so nobody reads */
    pid_t child = demo_fork();
    if (child == 0) {
        struct sigaction sa = { .sa_handler = disposition };
        demo_sys(sigemptyset(&sa.sa_mask), "sigemptyset");
        demo_sys(sigaction(SIGPIPE, &sa, NULL), "sigaction(SIGPIPE)");
        if (write(fds[1], "hello", 5) == -1) {
            printf("   child: write() failed: %s (errno EPIPE); the child carries on and exits 0\n",
                   strerror(errno));
            _exit(errno == EPIPE ? 0 : 1);
        }
        printf("   child: write() succeeded?!\n");
        _exit(1);
    }
    demo_sys(close(fds[1]), "close");
    int status;
    while (waitpid(child, &status, 0) == -1)
        if (errno != EINTR) demo_sys(-1, "waitpid");
    return status;
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: pitfall_sigpipe\n"
               "A child writes to a pipe with no reader: with SIGPIPE at its default it is\n"
               "killed; with SIGPIPE ignored write() returns EPIPE; through ipcplay the send\n"
               "returns IPC_ECLOSED.\n");

    printf("1. raw pipe, no reader, SIGPIPE at its default action\n");
    int st = write_to_broken_pipe(SIG_DFL);
    int killed = WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE;
    if (killed)
        printf("   parent: the child was killed by signal %d (%s); it printed nothing\n", WTERMSIG(st),
               strsignal(WTERMSIG(st)));

    printf("2. raw pipe, no reader, SIGPIPE ignored\n");
    st = write_to_broken_pipe(SIG_IGN);
    int survived = WIFEXITED(st) && WEXITSTATUS(st) == 0;

    printf("3. ipcplay duplex channel whose peer process has exited\n");
    ipc_channel *a, *b;
    demo_ok(ipc_duplex_open(NULL, &a, &b), "ipc_duplex_open");
    pid_t peer = demo_fork();
    if (peer == 0) {
        ipc_free(a);
        ipc_free(b);
        _exit(0); /* the peer goes away without a word */
    }
    ipc_free(b); /* the parent keeps end A only: nobody holds B any more */
    demo_reap(peer, "peer");
    int rc = ipc_send(a, "hello", 5, 0, 1000);
    printf("   parent: ipc_send -> %s (%s)\n", ipc_strerror(rc), ipc_last_error());
    ipc_free(a);

    if (!killed || !survived || rc != IPC_ECLOSED) {
        fprintf(stderr, "unexpected: killed=%d survived=%d send=%d\n", killed, survived, rc);
        return 1;
    }
    printf("lesson: a C program that writes to pipes or sockets must ignore SIGPIPE (or use\n"
           "MSG_NOSIGNAL) and check for EPIPE, or a departed reader kills it silently\n");
    return 0;
}
