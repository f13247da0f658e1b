/*
 * pipe_duplex.c — a two-way connection between two processes.
 *
 * Python's Pipe() (duplex=True, the default) returns two connection
 * objects, each able to send and receive.  Underneath it is a pair of
 * connected Unix stream sockets: socketpair(AF_UNIX, SOCK_STREAM).  Bytes
 * written to one socket are read from the other, in both directions.
 * ipc_duplex_open() (mechanisms/include/ipcplay/pipes/socketpair.h) gives the two ends as
 * two channels.
 *
 * The parent keeps end A, the child keeps end B, and each frees the end it
 * does not use (as you would close the unused fds after fork()).  They
 * play five rounds of ping-pong; then the parent closes its end, which
 * shuts its sending direction down (shutdown(SHUT_WR)): the child drains
 * and its next receive answers IPC_ECLOSED, so it exits.
 *
 * Mirrors: seed 004 §2 (Pipe's duplex parameter: "if duplex is True (the
 * default) both conn1 and conn2 can send and receive").
 *
 * Usage: pipe_duplex [--help]
 */
#define _GNU_SOURCE
#include "demo.h"
#include "pipes/socketpair.h"

enum { ROUNDS = 5 };

static int recv_text(ipc_channel *end, char *buf, size_t cap)
{
    size_t len;
    int rc = ipc_recv(end, buf, cap - 1, &len, NULL, -1);
    buf[rc == IPC_OK ? len : 0] = '\0';
    return rc;
}

static void send_text(ipc_channel *end, const char *text)
{
    demo_ok(ipc_send(end, text, strlen(text), 0, -1), "ipc_send");
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: pipe_duplex\n"
               "Parent and child play ping-pong over the two ends of a socketpair\n"
               "(Pipe(duplex=True)); closing the parent's end makes the child exit.\n");
    ipc_channel *a, *b;
    demo_ok(ipc_duplex_open(NULL, &a, &b), "ipc_duplex_open");

    pid_t child = demo_fork();
    if (child == 0) {
        ipc_free(a); /* the child uses end B only */
        char msg[64], reply[80];
        int rc;
        while ((rc = recv_text(b, msg, sizeof msg)) == IPC_OK) {
            printf("  child:  received \"%s\" on end B, answering\n", msg);
            snprintf(reply, sizeof reply, "pong for %s", msg);
            send_text(b, reply);
        }
        printf("  child:  end B says \"%s\": the parent is done, exiting\n", ipc_strerror(rc));
        ipc_free(b);
        _exit(rc == IPC_ECLOSED ? 0 : 1);
    }

    ipc_free(b); /* the parent uses end A only */
    for (int i = 1; i <= ROUNDS; i++) {
        char msg[64];
        snprintf(msg, sizeof msg, "ping %d", i);
        printf("parent: send \"%s\" on end A\n", msg);
        send_text(a, msg);
        demo_ok(recv_text(a, msg, sizeof msg), "parent: ipc_recv");
        printf("parent: received \"%s\" on end A\n", msg);
    }
    printf("parent: ipc_close(A): the child's receives drain, then answer IPC_ECLOSED\n");
    demo_ok(ipc_close(a), "ipc_close");
    demo_reap(child, "child");
    printf("parent: child joined after %d round trips in both directions\n", ROUNDS);
    ipc_free(a);
    return 0;
}
