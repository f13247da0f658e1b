/*
 * task_queue.c — Celery and RQ in C: a worker pool, a result fetched with a
 * timeout, a retry with backoff, a crashed worker whose job completes in
 * another, and the dead-letter list.
 *
 * The Python tutorials send readers who outgrow queue.Queue to Celery
 * ("add.delay(4, 4).get(timeout=10)") and RQ ("q.enqueue(count_words, url);
 * job.result").  Both are a queue of *jobs* (a function name and its
 * arguments), worker processes that run registered functions, and a place
 * where results and states come back.  tasks/task.h is that, over any
 * ipcplay channel that crosses processes (procq here; redis or amqp to
 * cross machines):
 *
 *   1. add(4, 4) on a pool of 3 workers: the result 8 fetched with a timeout;
 *   2. a flaky job that fails twice: retried after 50 then 100 ms, then done;
 *   3. a job whose worker crashes (SIGKILL) mid-run: the supervisor sees
 *      the worker die with the job still in its slot (late acknowledgement)
 *      and the job completes in another worker — so handlers must be
 *      idempotent;
 *   4. a job that always fails: dead after its retries, in the dead letters;
 *   5. 300 jobs through the pool: how many per second.
 *
 * Usage: task_queue [--help] [MECHANISM]   (default procq; e.g. redis)
 */
#define _GNU_SOURCE
#include "demo.h"
#include "tasks/task.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

enum { WORKERS = 3, MANY = 300 };

typedef struct shared_counts { atomic_int flaky, crash; } shared_counts; /* seen by every worker */
static shared_counts *counts;

static int add(void *user, const void *args, size_t len, void *result, size_t cap, size_t *rlen)
{
    (void)user;
    int32_t v[2], sum;
    if (len != sizeof v || cap < sizeof sum) return 1;
    memcpy(v, args, sizeof v);
    sum = v[0] + v[1];
    memcpy(result, &sum, sizeof sum);
    *rlen = sizeof sum;
    return 0;
}

static int flaky(void *user, const void *args, size_t len, void *result, size_t cap, size_t *rlen)
{
    (void)user, (void)args, (void)len, (void)cap;
    int call = atomic_fetch_add(&counts->flaky, 1) + 1; /* seq_cst: a counter across processes */
    printf("   flaky: call %d in worker %d%s\n", call, (int)getpid(), call <= 2 ? ": fails" : ": succeeds");
    if (call <= 2) return 1;
    memcpy(result, "done", 4);
    *rlen = 4;
    return 0;
}

static int crashy(void *user, const void *args, size_t len, void *result, size_t cap, size_t *rlen)
{
    (void)user, (void)args, (void)len, (void)cap;
    if (atomic_fetch_add(&counts->crash, 1) == 0) {
        printf("   crashy: worker %d dies in the middle of the job (SIGKILL)\n", (int)getpid());
        raise(SIGKILL);
    }
    printf("   crashy: worker %d runs it again and finishes\n", (int)getpid());
    memcpy(result, "survived", 8);
    *rlen = 8;
    return 0;
}

static int broken(void *user, const void *args, size_t len, void *result, size_t cap, size_t *rlen)
{
    (void)user, (void)args, (void)len, (void)result, (void)cap, (void)rlen;
    return 42;
}

int main(int argc, char **argv)
{
    demo_start_opts(argc, argv,
                    "usage: task_queue [MECHANISM]\n"
                    "Celery/RQ in C: a pool of 3 workers runs add(4, 4), a job that fails twice and is\n"
                    "retried, a job whose worker crashes and that completes elsewhere, and a job that\n"
                    "always fails (dead letters); then 300 jobs for a rate.  MECHANISM: procq (default),\n"
                    "redis, amqp... any that crosses fork() with many senders and receivers.\n",
                    (const char *const[]){ argc > 1 && argv[1][0] != '-' ? argv[1] : NULL, NULL });
    const char *mech = argc > 1 ? argv[1] : "procq";
    counts = mmap(NULL, sizeof *counts, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (counts == MAP_FAILED) demo_sys(-1, "mmap");

    ipc_task_queue *tq;
    demo_ok(ipc_task_open(mech, &(ipc_config){ .capacity = 64, .max_msg = 4096 }, &tq), "ipc_task_open");
    demo_ok(ipc_task_register(tq, "add", add, NULL), "register add");
    demo_ok(ipc_task_register(tq, "flaky", flaky, NULL), "register flaky");
    demo_ok(ipc_task_register(tq, "crashy", crashy, NULL), "register crashy");
    demo_ok(ipc_task_register(tq, "broken", broken, NULL), "register broken");
    demo_ok(ipc_task_work(tq, WORKERS), "ipc_task_work");
    printf("a pool of %d workers on '%s'\n", WORKERS, mech);

    uint64_t id;
    ipc_task_info info;
    int32_t args[2] = { 4, 4 }, sum = 0;
    printf("1. add.delay(4, 4).get(timeout=10)\n");
    demo_ok(ipc_task_enqueue(tq, "add", args, sizeof args, NULL, &id), "enqueue add");
    demo_ok(ipc_task_result(tq, id, &sum, sizeof sum, &info, 10000), "result add");
    printf("   result: %d (attempts %d)\n", sum, info.attempts);
    int add_ok = sum == 8 && info.attempts == 1;

    printf("2. a job that fails twice, retries=3, backoff 50 ms\n");
    char out[16] = "";
    int64_t t0 = ipc_now_ns();
    demo_ok(ipc_task_enqueue(tq, "flaky", NULL, 0, &(ipc_task_opts){ .retries = 3, .backoff_ms = 50 }, &id), "enqueue");
    demo_ok(ipc_task_result(tq, id, out, sizeof out - 1, &info, 10000), "result flaky");
    printf("   %s after %d attempts, %lld ms\n", info.state == IPC_TASK_FINISHED ? "finished" : "dead", info.attempts,
           (long long)((ipc_now_ns() - t0) / 1000000));
    int flaky_ok = info.state == IPC_TASK_FINISHED && info.attempts == 3;

    printf("3. a job whose worker crashes, retries=1\n");
    memset(out, 0, sizeof out);
    demo_ok(ipc_task_enqueue(tq, "crashy", NULL, 0, &(ipc_task_opts){ .retries = 1, .backoff_ms = 10 }, &id), "enqueue");
    demo_ok(ipc_task_result(tq, id, out, sizeof out - 1, &info, 10000), "result crashy");
    printf("   %s after %d attempts: \"%s\"\n", info.state == IPC_TASK_FINISHED ? "finished" : "dead", info.attempts, out);
    int crash_ok = info.state == IPC_TASK_FINISHED && info.attempts == 2;

    printf("4. a job that always fails, retries=2\n");
    demo_ok(ipc_task_enqueue(tq, "broken", NULL, 0, &(ipc_task_opts){ .retries = 2, .backoff_ms = 10 }, &id), "enqueue");
    demo_ok(ipc_task_result(tq, id, NULL, 0, &info, 10000), "result broken");
    uint64_t dead[4];
    long ndead = ipc_task_dead(tq, dead, 4);
    printf("   %s: \"%s\"; dead letters: %ld\n", info.state == IPC_TASK_DEAD ? "dead" : "finished?!", info.error, ndead);
    int dead_ok = info.state == IPC_TASK_DEAD && ndead == 1 && dead[0] == id;

    printf("5. %d add jobs through the pool\n", MANY);
    static uint64_t ids[MANY];
    t0 = ipc_now_ns();
    for (int i = 0; i < MANY; i++) {
        int32_t a[2] = { i, i };
        demo_ok(ipc_task_enqueue(tq, "add", a, sizeof a, NULL, &ids[i]), "enqueue");
    }
    int right = 0;
    for (int i = 0; i < MANY; i++) {
        demo_ok(ipc_task_result(tq, ids[i], &sum, sizeof sum, NULL, 30000), "result");
        right += sum == 2 * i;
    }
    double secs = (double)(ipc_now_ns() - t0) / 1e9;
    printf("   %d of %d results right; %.0f jobs/s (enqueue to result, %d workers)\n", right, MANY, MANY / secs, WORKERS);

    demo_ok(ipc_task_stop(tq), "ipc_task_stop");
    ipc_task_free(tq);
    munmap(counts, sizeof *counts);
    if (!add_ok || !flaky_ok || !crash_ok || !dead_ok || right != MANY) return 1;
    printf("lesson: a job queue is a message queue plus states, retries and a supervisor; handlers must be idempotent\n");
    return 0;
}
