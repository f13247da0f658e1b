/*
 * pitfall_join_drain.c — "join before drain": the multiprocessing deadlock,
 * shown safely (with a timeout), and why procq does not have it.
 *
 * Python's documentation warns: "a process that has put items in a queue
 * will wait before terminating until all the buffered items are fed by the
 * 'feeder' thread to the underlying pipe ... if you join that process
 * before the queue is drained, you may deadlock."  The parent waits for
 * the child to exit; the child cannot exit until its data is in the pipe;
 * the pipe is full (64 KiB) until the parent reads; the parent reads only
 * after the child has exited.  Nobody moves.
 *
 *   part 1  a pipe-backed queue ("pipe"): the child sends 200 messages of
 *           1 KiB (about 200 KiB, three times what the pipe holds).  The
 *           parent joins first.  The join times out after 1 s — without the
 *           timeout it would wait forever — and the child is found still
 *           blocked on its send.  The parent drains, and the child exits.
 *           (In Python the child's put() returned at once and the blocked
 *           write happens in the hidden feeder thread, so the program
 *           looks finished and simply never ends.)
 *   part 2  procq, the same 200 messages with capacity 256: put() copies
 *           each message into shared memory before it returns, so when the
 *           child's last put has returned nothing is in flight.  It exits at
 *           once, the join succeeds, then the parent drains all 200.
 *   part 3  procq with capacity 16: the child's put() cannot complete, and
 *           it is the CALLER that learns it — with a timeout it gets
 *           IPC_EFULL after message 16 and can decide what to do.  Nothing
 *           hangs invisibly in a background thread.
 *
 * Mirrors: the pitfall behind seeds 001-003's `p.join()` on processes that
 * put into a multiprocessing.Queue.
 *
 * Usage: pitfall_join_drain [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

enum { MESSAGES = 200, SIZE = 1024 };

/* waitpid with a deadline: 1 if the child exited (status checked: it must
 * have exited 0), 0 if it is still running after ms. */
static int join_with_timeout(pid_t pid, int ms)
{
    int64_t until = ipc_now_ns() + (int64_t)ms * 1000000;
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == -1 && errno != EINTR) demo_sys(-1, "waitpid");
        if (r == pid) {
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "child %d failed (status 0x%x)\n", (int)pid, status);
                exit(1);
            }
            return 1;
        }
        if (ipc_now_ns() >= until) return 0;
        demo_sleep_ms(10);
    }
}

/* The child: send MESSAGES messages of SIZE bytes, each with timeout_ms;
 * stop at the first failure, say so, exit 0 either way. */
static pid_t start_sender(ipc_channel *q, int timeout_ms)
{
    pid_t pid = demo_fork();
    if (pid != 0) return pid;
    static char msg[SIZE];
    for (int i = 0; i < MESSAGES; i++) {
        int rc = ipc_send(q, msg, sizeof msg, 0, timeout_ms);
        if (rc == IPC_EFULL) {
            printf("   child: put #%d failed: %s — the caller knows, and decides\n", i + 1, ipc_strerror(rc));
            _exit(0);
        }
        demo_ok(rc, "child: ipc_send");
    }
    printf("   child: all %d puts returned; exiting\n", MESSAGES);
    _exit(0);
}

static int drain(ipc_channel *q)
{
    static char buf[SIZE];
    size_t len;
    int n = 0;
    while (ipc_recv(q, buf, sizeof buf, &len, NULL, 200) == IPC_OK) n++;
    return n;
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: pitfall_join_drain\n"
               "A child puts 200 KiB into a pipe-backed queue and the parent joins it before\n"
               "draining: the join times out (it would deadlock).  With procq the child has\n"
               "nothing in flight and the join succeeds; a full procq fails the put visibly.\n");
    ipc_channel *q;
    ipc_config cfg = { .max_msg = SIZE };

    printf("1. pipe-backed queue, join before drain\n");
    demo_ok(ipc_open("pipe", &cfg, &q), "ipc_open(pipe)");
    pid_t child = start_sender(q, -1);
    int joined = join_with_timeout(child, 1000);
    printf("   parent: join %s\n", joined ? "succeeded?!" : "timed out after 1 s: the child is stuck on a full "
                                            "pipe, waiting for us to read — a deadlock");
    int drained = drain(q);
    int joined_after = join_with_timeout(child, 5000);
    printf("   parent: drained %d messages; the child %s\n", drained,
           joined_after ? "could then finish and was joined" : "is STILL stuck");
    ipc_free(q);
    int deadlocked = !joined && joined_after && drained == MESSAGES;

    printf("2. procq (capacity 256), join before drain\n");
    cfg.capacity = 256;
    demo_ok(ipc_open("procq", &cfg, &q), "ipc_open(procq)");
    child = start_sender(q, -1);
    joined = join_with_timeout(child, 5000);
    printf("   parent: join %s\n", joined ? "succeeded: nothing was left in flight" : "timed out?!");
    drained = drain(q);
    printf("   parent: then drained %d messages\n", drained);
    ipc_free(q);
    int fine = joined && drained == MESSAGES;

    printf("3. procq (capacity 16), puts with a 300 ms timeout, join before drain\n");
    cfg.capacity = 16;
    demo_ok(ipc_open("procq", &cfg, &q), "ipc_open(procq)");
    child = start_sender(q, 300);
    joined = join_with_timeout(child, 5000);
    drained = drain(q);
    printf("   parent: join %s; drained the %d messages that made it\n",
           joined ? "succeeded" : "timed out?!", drained);
    ipc_free(q);
    int visible = joined && drained == 16;

    if (!deadlocked || !fine || !visible) {
        fprintf(stderr, "unexpected: part 1 %s, part 2 %s, part 3 %s\n", deadlocked ? "ok" : "wrong",
                fine ? "ok" : "wrong", visible ? "ok" : "wrong");
        return 1;
    }
    printf("lesson: drain a pipe-backed queue before joining its producers; a queue whose put\n"
           "returns only when the message is stored (procq) cannot deadlock this way\n");
    return 0;
}
