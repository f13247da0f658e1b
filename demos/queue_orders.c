/*
 * queue_orders.c — the same five puts, taken out in three orders.
 *
 * Python's queue module has three classes that differ only in which item
 * get() returns: Queue (first in, first out), LifoQueue (last in, first
 * out) and PriorityQueue (smallest entry first).  Here they are three
 * mechanisms of one module — "queue", "lifo", "priority" — whose storage
 * is a ring, a stack and a binary heap under the same lock and condition
 * variables.
 *
 * Two differences from Python to remember:
 *   - Our priority is the prio argument of ipc_send and HIGHER comes out
 *     first (as with POSIX message queues); Python's PriorityQueue returns
 *     the SMALLEST tuple first.  Negate to translate.
 *   - Equal priorities come out in insertion order (a sequence number
 *     breaks ties); Python gets the same only if you add a counter to your
 *     tuples yourself, because heapq is not stable.
 *
 * Mirrors: seed 004 §3 example 2 (Queue 0..4, "while not q.empty(): print
 * q.get()"), seed 004 §3 and seed 000 (lifo and priority queues).
 *
 * Usage: queue_orders [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

/* Put the five (prio, text) entries, then get until empty, printing. */
static void show(const char *mechanism, const char *python)
{
    static const struct { int prio; const char *text; } entries[] = {
        { 1, "0 (prio 1)" }, { 5, "1 (prio 5)" }, { 1, "2 (prio 1)" },
        { 9, "3 (prio 9)" }, { 5, "4 (prio 5)" },
    };
    enum { N = sizeof entries / sizeof entries[0] };
    ipc_channel *q;
    demo_ok(ipc_open(mechanism, NULL, &q), "ipc_open");
    for (int i = 0; i < N; i++)
        demo_ok(ipc_send(q, entries[i].text, strlen(entries[i].text), entries[i].prio, -1), "ipc_send");
    printf("%-8s = %-19s gives:", mechanism, python);
    for (;;) { /* while not q.empty(): print(q.get()) — get_nowait until Empty */
        char buf[32];
        size_t len;
        int rc = ipc_recv(q, buf, sizeof buf, &len, NULL, 0);
        if (rc == IPC_EEMPTY) break;
        demo_ok(rc, "ipc_recv");
        printf("  %.*s", (int)len, buf);
    }
    printf("\n");
    ipc_free(q);
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: queue_orders\n"
               "Puts items 0..4 (with priorities 1 5 1 9 5) into a FIFO, a LIFO and a\n"
               "priority queue and prints the order each gives them back in.\n");
    printf("put, in this order: 0 (prio 1), 1 (prio 5), 2 (prio 1), 3 (prio 9), 4 (prio 5)\n");
    show("queue", "queue.Queue");
    show("lifo", "queue.LifoQueue");
    show("priority", "queue.PriorityQueue");
    printf("priority: highest prio first; 1 before 4 and 0 before 2 because equal priorities keep insertion order\n");
    return 0;
}
