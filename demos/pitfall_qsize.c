/*
 * pitfall_qsize.c — qsize(), empty() and full() are hints, not promises.
 *
 * Between the moment empty() answers "no" and the moment you call get(),
 * another consumer can take the item.  Python's documentation says it
 * plainly: "if empty() returns False it doesn't guarantee that a subsequent
 * call to get() will not block".  The check-then-act idiom of the seeds
 * (`if not q.empty(): q.get()`) is a race whenever two consumers share the
 * queue.
 *
 * The demo:
 *   1. makes the race happen on purpose: one item, two consumer threads
 *      that both see "not empty", then both take with get_nowait: one gets
 *      the item, the other gets IPC_EEMPTY (Python: queue.Empty — or, with
 *      a blocking get(), a consumer stuck forever);
 *   2. lets it happen by chance: two consumers race over 100000 items with
 *      check-then-get_nowait, and the demo counts how often the check lied;
 *   3. shows that some mechanisms cannot even guess: a pipe knows how many
 *      bytes it holds, not how many messages (ipc_depth() returns -1);
 *   4. the right way: just receive, with a timeout, and handle IPC_EEMPTY.
 *
 * Mirrors: seed 001 §1 ("the recommended way is to check full() before
 * writing", `if not q.empty()`), seed 004 §3 ("qsize() ... not reliable",
 * `while not q.empty()`) and seed 003 §3.2 ("qsize may be inaccurate").
 *
 * Usage: pitfall_qsize [--help]
 */
#define _GNU_SOURCE
#include "demo.h"
#include "queues/thread_queue.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

enum { ITEMS = 100000 };

typedef struct racer {
    pthread_t          thread;
    const char        *name;
    ipc_channel       *q;
    pthread_barrier_t *between; /* part 1: both have checked before either takes */
    long               got, lied;
} racer;

static atomic_bool producer_done;

/* One check-then-act step: "if not q.empty(): q.get_nowait()". */
static void check_then_get(racer *r)
{
    if (ipc_queue_empty(r->q)) return;
    if (r->between) { /* wait until both have checked; one of them gets SERIAL_THREAD */
        int err = pthread_barrier_wait(r->between);
        if (err != PTHREAD_BARRIER_SERIAL_THREAD) demo_pthread(err, "pthread_barrier_wait");
    }
    int32_t item;
    size_t len;
    int rc = ipc_recv(r->q, &item, sizeof item, &len, NULL, 0);
    if (rc == IPC_EEMPTY) r->lied++;
    else r->got += demo_ok(rc, "ipc_recv") == IPC_OK;
}

static void *race_once(void *arg)
{
    check_then_get(arg);
    return NULL;
}

static void *race_many(void *arg)
{
    racer *r = arg;
    while (!atomic_load(&producer_done) || !ipc_queue_empty(r->q)) check_then_get(r);
    return NULL;
}

static void run_pair(racer *rs, void *(*fn)(void *))
{
    for (int i = 0; i < 2; i++)
        demo_pthread(pthread_create(&rs[i].thread, NULL, fn, &rs[i]), "pthread_create");
}

static void join_pair(racer *rs)
{
    for (int i = 0; i < 2; i++) demo_pthread(pthread_join(rs[i].thread, NULL), "pthread_join");
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: pitfall_qsize\n"
               "Two consumers check empty() and then get_nowait(): shows the check going\n"
               "stale, on purpose and by chance, and the right way to receive.\n");
    ipc_channel *q;
    int32_t item = 42;

    printf("1. one item, two consumers both check empty() before either takes\n");
    demo_ok(ipc_open("queue", NULL, &q), "ipc_open(queue)");
    demo_ok(ipc_send(q, &item, sizeof item, 0, -1), "ipc_send");
    pthread_barrier_t between;
    demo_pthread(pthread_barrier_init(&between, NULL, 2), "pthread_barrier_init");
    racer pair[2] = { { .name = "A", .q = q, .between = &between },
                      { .name = "B", .q = q, .between = &between } };
    run_pair(pair, race_once);
    join_pair(pair);
    demo_pthread(pthread_barrier_destroy(&between), "pthread_barrier_destroy");
    for (int i = 0; i < 2; i++)
        printf("   consumer %s: empty() said no, then get_nowait() %s\n", pair[i].name,
               pair[i].got ? "got the item" : "said \"channel is empty\"");
    long lied_on_purpose = pair[0].lied + pair[1].lied;
    ipc_free(q);

    printf("2. %d items, two consumers doing check-then-get_nowait while a producer puts\n", ITEMS);
    demo_ok(ipc_open("queue", NULL, &q), "ipc_open(queue)");
    racer many[2] = { { .name = "A", .q = q }, { .name = "B", .q = q } };
    run_pair(many, race_many);
    for (int32_t i = 0; i < ITEMS; i++) demo_ok(ipc_send(q, &i, sizeof i, 0, -1), "ipc_send");
    atomic_store(&producer_done, true);
    join_pair(many);
    printf("   got %ld + %ld items; the check was already stale %ld times on this run\n", many[0].got,
           many[1].got, many[0].lied + many[1].lied);
    long got_all = many[0].got + many[1].got;
    ipc_free(q);

    printf("3. a pipe cannot even guess\n");
    demo_ok(ipc_open("pipe", NULL, &q), "ipc_open(pipe)");
    demo_ok(ipc_send(q, &item, sizeof item, 0, -1), "ipc_send");
    printf("   one message in a pipe: ipc_depth() = %ld (a pipe counts bytes, not messages)\n",
           ipc_depth(q));

    printf("4. the right way: receive with a timeout and handle \"empty\"\n");
    size_t len;
    for (int round = 0; round < 2; round++) {
        int rc = ipc_recv(q, &item, sizeof item, &len, NULL, 100);
        if (rc == IPC_EEMPTY) {
            printf("   nothing within 100 ms: do something else, try later\n");
        } else {
            demo_ok(rc, "ipc_recv");
            printf("   got %d\n", (int)item);
        }
    }
    ipc_free(q);

    if (lied_on_purpose != 1 || got_all != ITEMS) {
        fprintf(stderr, "unexpected: %ld stale checks in part 1, %ld of %d items in part 2\n",
                lied_on_purpose, got_all, ITEMS);
        return 1;
    }
    printf("lesson: never decide with qsize()/empty()/full(); act, and handle the failure\n");
    return 0;
}
