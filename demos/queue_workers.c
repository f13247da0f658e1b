/*
 * queue_workers.c — worker threads fed by one thread queue.
 *
 * The C counterpart of the queue.Queue example every Python course starts
 * with: four worker threads take items from one queue, call task_done()
 * after each, the main thread waits with join() until every item is done,
 * then stops the workers.  It is shown twice, with the two ways to stop:
 *
 *   part 1, sentinels   one "None" per worker (here an empty message); each
 *                       worker exits when it receives one.  You must know
 *                       how many workers there are, and a sentinel sent
 *                       too early strands the items queued behind it.
 *   part 2, ipc_close   Python 3.13's Queue.shutdown(): no more puts, the
 *                       workers drain what is queued and then their get()
 *                       fails with IPC_ECLOSED.  One call, any number of
 *                       workers, nothing stranded.
 *
 * The queue is the "queue" mechanism (queue.Queue's contract; inside, a ring
 * with one lock for producers and one for consumers, mechanisms/queues/queue.c);
 * task_done/join are its extras in mechanisms/include/ipcplay/queues/thread_queue.h.
 *
 * Mirrors: seed 002 §1.1 (threading + queue.Queue, task_done, join, None
 * sentinels) and seed 000 (queue.Queue: put, get, task_done).
 *
 * Usage: queue_workers [--help]
 */
#define _GNU_SOURCE
#include "demo.h"
#include "queues/thread_queue.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

enum { WORKERS = 4, ITEMS = 10 };

typedef struct worker {
    pthread_t    thread;
    int          id;
    ipc_channel *q;
    int          processed;
} worker;

static atomic_int total_processed;

/* The loop of seed 002: get, stop on the sentinel, process, task_done.
 * With ipc_close the "stop" is the IPC_ECLOSED answer instead. */
static void *work(void *arg)
{
    worker *w = arg;
    for (;;) {
        int32_t item;
        size_t len;
        int rc = ipc_recv(w->q, &item, sizeof item, &len, NULL, -1);
        if (rc == IPC_ECLOSED) {
            printf("  worker %d: receive says \"%s\": queue drained, exiting\n", w->id, ipc_strerror(rc));
            break;
        }
        demo_ok(rc, "ipc_recv");
        if (len == 0) { /* the sentinel: Python's None */
            printf("  worker %d: got a sentinel, exiting\n", w->id);
            demo_ok(ipc_queue_task_done(w->q), "task_done");
            break;
        }
        printf("  worker %d: processing item %d\n", w->id, (int)item);
        demo_sleep_ms(10); /* the "work": long enough for the others to get items too */
        w->processed++;
        atomic_fetch_add(&total_processed, 1);
        demo_ok(ipc_queue_task_done(w->q), "task_done");
    }
    return NULL;
}

static void start_workers(worker *ws, ipc_channel *q)
{
    for (int i = 0; i < WORKERS; i++) {
        ws[i] = (worker){ .id = i, .q = q };
        demo_pthread(pthread_create(&ws[i].thread, NULL, work, &ws[i]), "pthread_create");
    }
}

static void join_workers(worker *ws)
{
    for (int i = 0; i < WORKERS; i++)
        demo_pthread(pthread_join(ws[i].thread, NULL), "pthread_join");
}

/* Every item processed exactly once, or the demo failed. */
static void expect_all_processed(void)
{
    int done = atomic_load(&total_processed);
    printf("main: every worker exited; processed %d of %d items\n", done, ITEMS);
    if (done != ITEMS) exit(1);
    atomic_store(&total_processed, 0);
}

static void put_items(ipc_channel *q)
{
    for (int32_t item = 0; item < ITEMS; item++)
        demo_ok(ipc_send(q, &item, sizeof item, 0, -1), "ipc_send");
    printf("main: put %d items\n", ITEMS);
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: queue_workers\n"
               "Four worker threads share one thread queue (queue.Queue).  Part 1 stops them\n"
               "with one sentinel each, part 2 with ipc_close() (Queue.shutdown()).\n");
    worker ws[WORKERS];
    ipc_channel *q;

    printf("part 1: %d worker threads, %d items, one sentinel per worker to stop them\n", WORKERS, ITEMS);
    demo_ok(ipc_open("queue", NULL, &q), "ipc_open(queue)");
    start_workers(ws, q);
    put_items(q);
    demo_ok(ipc_queue_join(q, -1), "ipc_queue_join");
    printf("main: join() returned: all %d items were task_done()\n", ITEMS);
    printf("main: sending %d sentinels (empty messages), one per worker\n", WORKERS);
    for (int i = 0; i < WORKERS; i++)
        demo_ok(ipc_send(q, "", 0, 0, -1), "ipc_send(sentinel)");
    join_workers(ws);
    expect_all_processed();
    ipc_free(q);

    printf("\npart 2: the same, stopped by ipc_close() instead of sentinels\n");
    demo_ok(ipc_open("queue", NULL, &q), "ipc_open(queue)");
    start_workers(ws, q);
    put_items(q);
    demo_ok(ipc_close(q), "ipc_close");
    printf("main: ipc_close() right away, with about %ld items still queued (qsize is a hint)\n",
           ipc_queue_qsize(q));
    printf("main: the workers drain them, then every get() answers IPC_ECLOSED\n");
    join_workers(ws);
    demo_ok(ipc_queue_join(q, -1), "ipc_queue_join");
    expect_all_processed();
    ipc_free(q);
    printf("done: sentinels need one per worker; close needs one call and strands nothing\n");
    return 0;
}
