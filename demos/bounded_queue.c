/*
 * bounded_queue.c — a queue that holds at most three messages.
 *
 * The C counterpart of the classic multiprocessing Queue(3) walk-through:
 * fill the queue, watch full() turn true, try a fourth put with a 2-second
 * timeout and then without waiting (both fail with "Full"), drain it, and
 * finally try to get from the empty queue without waiting and with a
 * 1-second timeout (both fail with "Empty").
 *
 * Python raises queue.Full / queue.Empty; here the calls return IPC_EFULL /
 * IPC_EEMPTY and the message stays with its owner.  full() and qsize() are
 * ipc_depth() compared with ipc_capacity(): a hint, as in Python (another
 * process could change the answer before you act on it).
 *
 * The queue is "procq", the multiprocessing.Queue counterpart (a monitor in
 * shared memory), opened with capacity 3.  Timeouts are measured against
 * CLOCK_MONOTONIC, and the demo prints how long each wait really took.
 *
 * Mirrors: seed 001 §1 (Queue(3), put(msg, True, 2), put_nowait, full(),
 * empty(), qsize(), get_nowait) and seed 003 §3.3 (get(timeout=1) except
 * queue.Empty).
 *
 * Usage: bounded_queue [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

#include <stdbool.h>

static bool is_full(const ipc_channel *q) { return (size_t)ipc_depth(q) >= ipc_capacity(q); }

static void put(ipc_channel *q, const char *msg, int timeout_ms)
{
    int64_t t0 = ipc_now_ns();
    int rc = ipc_send(q, msg, strlen(msg), 0, timeout_ms);
    double waited = (double)(ipc_now_ns() - t0) / 1e9;
    if (rc == IPC_EFULL)
        printf("Message queue is full, number of existing messages: %ld  (put timeout %d ms, waited %.1f s)\n",
               ipc_depth(q), timeout_ms, waited);
    else
        demo_ok(rc, "ipc_send");
}

static void get_from_empty(ipc_channel *q, int timeout_ms)
{
    char buf[64];
    size_t len;
    int64_t t0 = ipc_now_ns();
    int rc = ipc_recv(q, buf, sizeof buf, &len, NULL, timeout_ms);
    double waited = (double)(ipc_now_ns() - t0) / 1e9;
    if (rc != IPC_EEMPTY) {
        fprintf(stderr, "expected IPC_EEMPTY from the empty queue, got %d\n", rc);
        exit(1);
    }
    printf("Message queue is empty: %s  (get timeout %d ms, waited %.1f s)\n", ipc_strerror(rc),
           timeout_ms, waited);
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: bounded_queue\n"
               "multiprocessing Queue(3) in C: put with a timeout and put_nowait fail with\n"
               "Full, get_nowait and get with a timeout on an empty queue fail with Empty.\n");
    ipc_channel *q;
    ipc_config cfg = { .capacity = 3, .max_msg = 64 };
    demo_ok(ipc_open("procq", &cfg, &q), "ipc_open(procq, capacity 3)");
    printf("q = procq with capacity %zu\n", ipc_capacity(q));

    put(q, "Message 1", -1);
    put(q, "Message 2", -1);
    printf("%s  <- full() after two puts\n", is_full(q) ? "True" : "False");
    put(q, "Message 3", -1);
    printf("%s  <- full() after three puts\n", is_full(q) ? "True" : "False");

    /* The queue is full: the first try waits 2 s, the second fails at once. */
    put(q, "Message 4", 2000);
    put(q, "Message 4", 0); /* put_nowait */

    /* The "recommended" check-then-act of the seed; it is only safe here
     * because no other process uses the queue (see pitfall_qsize). */
    if (!is_full(q)) put(q, "Message 4", 0);

    long n = ipc_depth(q);
    for (long i = 0; i < n; i++) { /* for i in range(q.qsize()): print(q.get_nowait()) */
        char buf[64];
        size_t len;
        demo_ok(ipc_recv(q, buf, sizeof buf, &len, NULL, 0), "ipc_recv (get_nowait)");
        printf("%.*s\n", (int)len, buf);
    }

    get_from_empty(q, 0);    /* get_nowait() on an empty queue */
    get_from_empty(q, 1000); /* get(timeout=1) */
    ipc_free(q);
    return 0;
}
