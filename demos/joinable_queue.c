/*
 * joinable_queue.c — multiprocessing.JoinableQueue in C: a cross-process
 * queue plus a count of unfinished tasks.
 *
 * JoinableQueue is Queue with two more calls: every get() must be matched
 * by a task_done() once the item is processed, and join() blocks until
 * every item ever put has been task_done()'d.  It is built from three
 * pieces, and the demo assembles the same three from ipcplay parts:
 *
 *   the items            a procq channel (cross-process queue)
 *   "unfinished tasks"   a shared Value with a lock (shm/shared_value.h):
 *                        put adds 1 BEFORE sending, task_done subtracts 1
 *   "all done"           an Event (events/event.h), set by the task_done
 *                        that brings the count to 0, cleared by the put that
 *                        raises it from 0 — both under the Value's lock, so
 *                        the flag always agrees with the count
 *
 * join() is then "wait for the event".  task_done() called once too often
 * finds the count at 0 and refuses, like Python's ValueError.
 *
 * The demo: the parent puts 12 items, 3 worker processes take them, sleep
 * a little per item, and task_done() each; the parent join()s, then closes
 * the queue so the workers leave, and shows the extra task_done refused.
 *
 * Mirrors: multiprocessing.JoinableQueue (task_done, join) from the Python
 * tutorials; the thread-only version is queue_workers.c.
 *
 * Usage: joinable_queue [--help]
 */
#define _GNU_SOURCE
#include "demo.h"
#include "events/event.h"
#include "shm/shared_value.h"

enum { WORKERS = 3, ITEMS = 12 };

typedef struct joinable {
    ipc_channel   *items;
    ipc_value     *unfinished;
    ipc_event_obj *all_done;
} joinable;

static void jq_put(joinable *jq, int item)
{
    long n;
    demo_ok(ipc_value_lock(jq->unfinished), "lock");
    demo_ok(ipc_value_add(jq->unfinished, 1, &n), "unfinished += 1");
    if (n == 1) demo_ok(ipc_event_clear(jq->all_done), "clear"); /* 0 -> 1: not all done */
    demo_ok(ipc_value_unlock(jq->unfinished), "unlock");
    demo_ok(ipc_send(jq->items, &item, sizeof item, 0, -1), "ipc_send");
}

/* RETURNS 0, or IPC_EINVAL when there is no unfinished task (ValueError). */
static int jq_task_done(joinable *jq)
{
    long n;
    int rc = IPC_OK;
    demo_ok(ipc_value_lock(jq->unfinished), "lock");
    demo_ok(ipc_value_get(jq->unfinished, &n), "get");
    if (n <= 0) {
        rc = IPC_EINVAL;
    } else {
        demo_ok(ipc_value_add(jq->unfinished, -1, &n), "unfinished -= 1");
        if (n == 0) demo_ok(ipc_event_set(jq->all_done), "set"); /* the last one: wake join() */
    }
    demo_ok(ipc_value_unlock(jq->unfinished), "unlock");
    return rc;
}

static void jq_join(joinable *jq) { demo_ok(ipc_event_wait(jq->all_done, -1), "join"); }

static int worker(joinable *jq, int id)
{
    int done = 0, item;
    size_t len;
    for (;;) {
        int rc = ipc_recv(jq->items, &item, sizeof item, &len, NULL, -1);
        if (rc == IPC_ECLOSED) break;
        demo_ok(rc, "ipc_recv");
        demo_sleep_ms(10 + 5 * id); /* "process" the item */
        demo_ok(jq_task_done(jq), "task_done");
        done++;
    }
    printf("   worker %d: processed %d items, queue closed, exiting\n", id, done);
    return 0;
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: joinable_queue\n"
               "A JoinableQueue across processes from a procq, a locked shared Value (the\n"
               "unfinished count) and an Event (all done): put, task_done, join.\n");
    joinable jq;
    ipc_config cfg = { .capacity = 4 };
    demo_ok(ipc_open("procq", &cfg, &jq.items), "ipc_open(procq)");
    demo_ok(ipc_value_open(&jq.unfinished, 'l', true), "ipc_value_open");
    demo_ok(ipc_event_open(&jq.all_done), "ipc_event_open");
    demo_ok(ipc_event_set(jq.all_done), "ipc_event_set"); /* nothing unfinished yet */

    pid_t kids[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        kids[i] = demo_fork();
        if (kids[i] == 0) _exit(worker(&jq, i));
    }
    printf("put %d items (capacity 4: put blocks while the workers catch up)\n", ITEMS);
    for (int i = 0; i < ITEMS; i++) jq_put(&jq, i);
    int64_t t0 = ipc_now_ns();
    jq_join(&jq);
    long left;
    demo_ok(ipc_value_get(jq.unfinished, &left), "get");
    printf("join() returned after %lld ms: %ld unfinished tasks\n", (long long)((ipc_now_ns() - t0) / 1000000),
           left);

    demo_ok(ipc_close(jq.items), "ipc_close");
    for (int i = 0; i < WORKERS; i++) demo_reap(kids[i], "worker");

    int extra = jq_task_done(&jq);
    printf("one task_done() too many: %s\n", extra == IPC_EINVAL ? "refused (Python: ValueError)" : "accepted?!");

    ipc_event_free(jq.all_done);
    ipc_value_free(jq.unfinished);
    ipc_free(jq.items);
    if (left != 0 || extra != IPC_EINVAL) return 1;
    printf("lesson: join() waits for task_done(), not for get(): count tasks, not items taken\n");
    return 0;
}
