/*
 * pipe_simplex.c — a one-way pipe between two processes.
 *
 * Python's Pipe(duplex=False) returns (receive end, send end) over one
 * pipe(2).  Here the "pipe" mechanism wraps the same system call: pipe2()
 * gives a read fd and a write fd, fork() copies both into the children,
 * and each message travels as a 4-byte length followed by its bytes, sent
 * with one writev() so a reader never sees half a header.
 *
 * The sender sends 1..9 (with a short pause, as the seed does with
 * time.sleep(3)), the receiver receives them.  Then the sender calls
 * ipc_close(): the receiver drains what is in the pipe and gets
 * IPC_ECLOSED — the counterpart of Python's recv() raising EOFError.
 *
 * Why close() and not "just exit": with a raw pipe the reader sees
 * end-of-file only when EVERY copy of the write fd is closed — and after
 * fork() the parent and the receiver itself hold copies too.  Forgetting
 * one of them is the classic hang of pipe programs.  ipc_close() reaches
 * every holder through a shared shutdown flag and eventfd, so it does not
 * depend on who still holds what.
 *
 * Mirrors: seed 004 §2 (Pipe(duplex=False), proc1 sends 1..9, proc2 receives
 * 9 times).
 *
 * Usage: pipe_simplex [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

#include <stdint.h>

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: pipe_simplex\n"
               "One process sends 1..9 through a pipe (Pipe(duplex=False)), another\n"
               "receives them; ipc_close() then ends the receiver (EOFError in Python).\n");
    ipc_channel *pipe;
    demo_ok(ipc_open("pipe", NULL, &pipe), "ipc_open(pipe)");
    printf("pipe open: mechanism \"%s\" (%s), waits by %s\n", ipc_channel_mechanism(pipe)->name,
           ipc_channel_mechanism(pipe)->summary, ipc_channel_mechanism(pipe)->wait_strategy);

    pid_t sender = demo_fork();
    if (sender == 0) {
        for (int32_t i = 1; i <= 9; i++) {
            demo_ok(ipc_send(pipe, &i, sizeof i, 0, -1), "sender: ipc_send");
            printf("  sender:   send %d to pipe\n", (int)i);
            demo_sleep_ms(20);
        }
        printf("  sender:   done, ipc_close()\n");
        demo_ok(ipc_close(pipe), "sender: ipc_close");
        ipc_free(pipe);
        _exit(0);
    }
    pid_t receiver = demo_fork();
    if (receiver == 0) {
        int32_t i, expect = 1;
        size_t len;
        int rc;
        while ((rc = ipc_recv(pipe, &i, sizeof i, &len, NULL, -1)) == IPC_OK) {
            printf("  receiver: recv %d from pipe\n", (int)i);
            if (i != expect++) _exit(1);
        }
        printf("  receiver: %s (Python: EOFError), exiting\n", ipc_strerror(rc));
        ipc_free(pipe);
        _exit(rc == IPC_ECLOSED && expect == 10 ? 0 : 1);
    }
    /* The parent holds both ends too, and it does not matter: see above. */
    demo_reap(sender, "sender");
    demo_reap(receiver, "receiver");
    printf("main: both processes joined; 9 messages, in order, none lost\n");
    ipc_free(pipe);
    return 0;
}
