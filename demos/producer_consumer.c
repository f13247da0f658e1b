/*
 * producer_consumer.c — producer and consumer processes over one queue.
 *
 * fork() hands the queue to the children, the way multiprocessing passes a
 * Queue to Process(target=..., args=(q,)).  Two ways to tell consumers that
 * no more work is coming:
 *
 *   part 1, a sentinel   one producer process, one consumer process; the
 *                        parent waits for the producer, then puts the
 *                        sentinel (Python's None; here an empty message),
 *                        and the consumer stops when it takes it.
 *   part 2, ipc_close    four worker processes; the parent puts ten items
 *                        and calls ipc_close() at once.  Every worker
 *                        drains what is left and then gets IPC_ECLOSED: no
 *                        need to count workers or send one sentinel each.
 *                        The workers report how many items they handled on
 *                        a second queue, so the parent can check nothing
 *                        was lost or handled twice.
 *
 * Note for Python users: multiprocessing.Queue.close() only means "this
 * process will put no more"; ipc_close() is the channel-wide shutdown of
 * Python 3.13's Queue.shutdown(), seen by every process.
 *
 * The queue is "procq" (shared-memory monitor: robust process-shared mutex
 * and condition variables), so put() returns only once the message is in
 * shared memory, and a process may exit right after its last put.
 *
 * Mirrors: seed 003 §3.1 (producer/consumer processes, None sentinel after
 * producer.join()) and seed 002 §1.2 (four worker processes, one None each).
 *
 * Usage: producer_consumer [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

#include <stdint.h>

enum { WORKERS = 4, ITEMS = 10, MAXMSG = 64 };

static void producer(ipc_channel *q)
{
    for (int i = 0; i < 5; i++) {
        char item[MAXMSG];
        int n = snprintf(item, sizeof item, "data %d", i);
        printf("  producer (pid %d): put \"%s\"\n", (int)getpid(), item);
        demo_ok(ipc_send(q, item, (size_t)n, 0, -1), "producer: ipc_send");
    }
}

/* Take until the sentinel (part 1) or until the queue is shut (part 2);
 * returns how many real items were taken. */
static int consume(ipc_channel *q, const char *who)
{
    int taken = 0;
    for (;;) {
        char item[MAXMSG];
        size_t len;
        int rc = ipc_recv(q, item, sizeof item, &len, NULL, -1);
        if (rc == IPC_ECLOSED) {
            printf("  %s (pid %d): queue closed and drained, exiting\n", who, (int)getpid());
            return taken;
        }
        demo_ok(rc, "consumer: ipc_recv");
        if (len == 0) {
            printf("  %s (pid %d): got the sentinel, exiting\n", who, (int)getpid());
            return taken;
        }
        printf("  %s (pid %d): got \"%.*s\"\n", who, (int)getpid(), (int)len, item);
        taken++;
    }
}

static void part1_sentinel(void)
{
    printf("part 1: a producer process and a consumer process, stopped by a sentinel\n");
    ipc_channel *q;
    ipc_config cfg = { .max_msg = MAXMSG };
    demo_ok(ipc_open("procq", &cfg, &q), "ipc_open(procq)");

    pid_t prod = demo_fork();
    if (prod == 0) {
        producer(q);
        _exit(0);
    }
    pid_t cons = demo_fork();
    if (cons == 0) _exit(consume(q, "consumer") == 5 ? 0 : 1);

    demo_reap(prod, "producer");
    printf("main: producer joined; putting the sentinel\n");
    demo_ok(ipc_send(q, "", 0, 0, -1), "ipc_send(sentinel)");
    demo_reap(cons, "consumer");
    printf("main: consumer joined; it took all 5 items\n");
    ipc_free(q);
}

static void part2_close(void)
{
    printf("\npart 2: %d worker processes, %d items, stopped by ipc_close()\n", WORKERS, ITEMS);
    ipc_channel *q, *report;
    ipc_config cfg = { .max_msg = MAXMSG };
    demo_ok(ipc_open("procq", &cfg, &q), "ipc_open(procq)");
    demo_ok(ipc_open("procq", &cfg, &report), "ipc_open(procq for reports)");

    pid_t pids[WORKERS];
    for (int w = 0; w < WORKERS; w++) {
        pids[w] = demo_fork();
        if (pids[w] == 0) {
            char who[32];
            snprintf(who, sizeof who, "worker %d", w);
            int32_t taken = consume(q, who);
            demo_ok(ipc_send(report, &taken, sizeof taken, 0, -1), "worker: report");
            _exit(0);
        }
    }
    for (int i = 0; i < ITEMS; i++) {
        char item[MAXMSG];
        int n = snprintf(item, sizeof item, "item %d", i);
        demo_ok(ipc_send(q, item, (size_t)n, 0, -1), "ipc_send");
    }
    printf("main: put %d items, now ipc_close() — one call, however many workers\n", ITEMS);
    demo_ok(ipc_close(q), "ipc_close");

    int total = 0;
    for (int w = 0; w < WORKERS; w++) {
        demo_reap(pids[w], "worker");
        int32_t taken;
        size_t len;
        demo_ok(ipc_recv(report, &taken, sizeof taken, &len, NULL, -1), "ipc_recv(report)");
        total += taken;
    }
    printf("main: all %d workers joined; together they took %d of %d items\n", WORKERS, total, ITEMS);
    ipc_free(report);
    ipc_free(q);
    if (total != ITEMS) exit(1);
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: producer_consumer\n"
               "Producer and consumer processes share a procq (multiprocessing.Queue).\n"
               "Part 1 stops the consumer with a sentinel, part 2 stops four workers with\n"
               "ipc_close().\n");
    part1_sentinel();
    part2_close();
    printf("done\n");
    return 0;
}
