/*
 * test_task.c — the task queue (tasks/task.h) over procq: a result fetched
 * with a timeout (Celery's add.delay(4, 4).get()), retries with backoff,
 * the dead-letter list, a worker killed mid-job whose job completes in
 * another worker, a job timeout that stops a stuck worker, countdown, and a
 * pool stopped while a job waits for its time (nothing lost).
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "tasks/task.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* State the handlers share across the forked workers. */
typedef struct counters { atomic_int flaky_calls, crash_calls; } counters;
static counters *shared_counters;

static int add(void *user, const void *args, size_t len, void *result, size_t cap, size_t *rlen)
{
    (void)user;
    int32_t v[2];
    if (len != sizeof v || cap < sizeof(int32_t)) return 1;
    memcpy(v, args, sizeof v);
    int32_t sum = v[0] + v[1];
    memcpy(result, &sum, sizeof sum);
    *rlen = sizeof sum;
    return 0;
}

/* Fails twice, then succeeds. */
static int flaky(void *user, const void *args, size_t len, void *result, size_t cap, size_t *rlen)
{
    (void)user, (void)args, (void)len, (void)cap;
    if (atomic_fetch_add(&shared_counters->flaky_calls, 1) < 2) return 7;
    memcpy(result, "ok", 2);
    *rlen = 2;
    return 0;
}

static int always_fails(void *user, const void *args, size_t len, void *result, size_t cap, size_t *rlen)
{
    (void)user, (void)args, (void)len, (void)result, (void)cap, (void)rlen;
    return 3;
}

/* The first run kills its own worker (a crash); the second succeeds. */
static int crash_once(void *user, const void *args, size_t len, void *result, size_t cap, size_t *rlen)
{
    (void)user, (void)args, (void)len, (void)cap;
    if (atomic_fetch_add(&shared_counters->crash_calls, 1) == 0) raise(SIGKILL);
    memcpy(result, "survived", 8);
    *rlen = 8;
    return 0;
}

static int stuck(void *user, const void *args, size_t len, void *result, size_t cap, size_t *rlen)
{
    (void)user, (void)args, (void)len, (void)result, (void)cap, (void)rlen;
    for (;;) pause(); /* only SIGKILL ends it */
    return 0;
}

static ipc_task_queue *open_queue(void)
{
    ipc_task_queue *tq;
    assert_ipc(ipc_task_open("procq", &(ipc_config){ .capacity = 64, .max_msg = 4096 }, &tq), IPC_OK);
    assert_ipc(ipc_task_register(tq, "add", add, NULL), IPC_OK);
    assert_ipc(ipc_task_register(tq, "flaky", flaky, NULL), IPC_OK);
    assert_ipc(ipc_task_register(tq, "always_fails", always_fails, NULL), IPC_OK);
    assert_ipc(ipc_task_register(tq, "crash_once", crash_once, NULL), IPC_OK);
    assert_ipc(ipc_task_register(tq, "stuck", stuck, NULL), IPC_OK);
    return tq;
}

static int setup(void **state)
{
    shared_counters = mmap(NULL, sizeof *shared_counters, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared_counters == MAP_FAILED) return -1;
    atomic_init(&shared_counters->flaky_calls, 0);
    atomic_init(&shared_counters->crash_calls, 0);
    return tl_setup(state);
}

static int teardown(void **state)
{
    munmap(shared_counters, sizeof *shared_counters);
    return tl_teardown(state);
}

static void result_with_timeout(void **state)
{
    (void)state;
    ipc_task_queue *tq = open_queue();
    assert_ipc(ipc_task_work(tq, 2), IPC_OK);
    uint64_t id;
    int32_t args[2] = { 4, 4 }, sum = 0;
    assert_ipc(ipc_task_enqueue(tq, "add", args, sizeof args, NULL, &id), IPC_OK);
    ipc_task_info info;
    assert_ipc(ipc_task_result(tq, id, &sum, sizeof sum, &info, 20000), IPC_OK);
    assert_int_equal(info.state, IPC_TASK_FINISHED);
    assert_int_equal(sum, 8);
    assert_int_equal(info.attempts, 1);
    assert_int_equal(ipc_task_status(tq, id), IPC_TASK_FINISHED);
    /* many at once, every result right */
    uint64_t ids[40];
    for (int i = 0; i < 40; i++) {
        int32_t a[2] = { i, 1000 };
        assert_ipc(ipc_task_enqueue(tq, "add", a, sizeof a, NULL, &ids[i]), IPC_OK);
    }
    for (int i = 0; i < 40; i++) {
        assert_ipc(ipc_task_result(tq, ids[i], &sum, sizeof sum, NULL, 20000), IPC_OK);
        assert_int_equal(sum, i + 1000);
    }
    assert_ipc(ipc_task_stop(tq), IPC_OK);
    ipc_task_free(tq);
}

static void retries_then_success(void **state)
{
    (void)state;
    ipc_task_queue *tq = open_queue();
    assert_ipc(ipc_task_work(tq, 2), IPC_OK);
    uint64_t id;
    int64_t t0 = ipc_now_ns();
    assert_ipc(ipc_task_enqueue(tq, "flaky", NULL, 0, &(ipc_task_opts){ .retries = 3, .backoff_ms = 50 }, &id), IPC_OK);
    char out[8];
    ipc_task_info info;
    assert_ipc(ipc_task_result(tq, id, out, sizeof out, &info, 20000), IPC_OK);
    assert_int_equal(info.state, IPC_TASK_FINISHED);
    assert_int_equal(info.attempts, 3);
    assert_true(tl_ms_since(t0) >= 50 + 100); /* backoff 50 ms, then 100 ms */
    assert_memory_equal(out, "ok", 2);
    ipc_task_free(tq);
}

static void dead_letters(void **state)
{
    (void)state;
    ipc_task_queue *tq = open_queue();
    assert_ipc(ipc_task_work(tq, 1), IPC_OK);
    uint64_t id, dead[4];
    assert_ipc(ipc_task_enqueue(tq, "always_fails", NULL, 0, &(ipc_task_opts){ .retries = 2, .backoff_ms = 10 }, &id),
               IPC_OK);
    ipc_task_info info;
    assert_ipc(ipc_task_result(tq, id, NULL, 0, &info, 20000), IPC_OK);
    assert_int_equal(info.state, IPC_TASK_DEAD);
    assert_int_equal(info.attempts, 3);
    assert_non_null(strstr(info.error, "returned 3"));
    assert_int_equal(ipc_task_dead(tq, dead, 4), 1);
    assert_true(dead[0] == id);
    /* a job nobody can run is dead too, with the reason */
    assert_ipc(ipc_task_enqueue(tq, "nobody", NULL, 0, NULL, &id), IPC_OK);
    assert_ipc(ipc_task_result(tq, id, NULL, 0, &info, 20000), IPC_OK);
    assert_int_equal(info.state, IPC_TASK_DEAD);
    assert_non_null(strstr(info.error, "no handler 'nobody'"));
    ipc_task_free(tq);
}

/* Late acknowledgement: the worker dies with the job; the job runs again. */
static void worker_death_runs_the_job_elsewhere(void **state)
{
    (void)state;
    ipc_task_queue *tq = open_queue();
    assert_ipc(ipc_task_work(tq, 2), IPC_OK);
    uint64_t id;
    assert_ipc(ipc_task_enqueue(tq, "crash_once", NULL, 0, &(ipc_task_opts){ .retries = 1, .backoff_ms = 10 }, &id),
               IPC_OK);
    char out[16];
    ipc_task_info info;
    assert_ipc(ipc_task_result(tq, id, out, sizeof out, &info, 20000), IPC_OK);
    assert_int_equal(info.state, IPC_TASK_FINISHED);
    assert_int_equal(info.attempts, 2);
    assert_memory_equal(out, "survived", 8);
    assert_int_equal(atomic_load(&shared_counters->crash_calls), 2);
    ipc_task_free(tq);
}

static void timeout_stops_a_stuck_worker(void **state)
{
    (void)state;
    ipc_task_queue *tq = open_queue();
    assert_ipc(ipc_task_work(tq, 1), IPC_OK);
    uint64_t id;
    int64_t t0 = ipc_now_ns();
    assert_ipc(ipc_task_enqueue(tq, "stuck", NULL, 0, &(ipc_task_opts){ .timeout_ms = 300 }, &id), IPC_OK);
    ipc_task_info info;
    assert_ipc(ipc_task_result(tq, id, NULL, 0, &info, 20000), IPC_OK);
    assert_int_equal(info.state, IPC_TASK_DEAD);
    assert_non_null(strstr(info.error, "timed out"));
    assert_true(tl_ms_since(t0) >= 300);
    /* the pool still works: a new worker took the killed one's place */
    int32_t args[2] = { 1, 2 }, sum = 0;
    assert_ipc(ipc_task_enqueue(tq, "add", args, sizeof args, NULL, &id), IPC_OK);
    assert_ipc(ipc_task_result(tq, id, &sum, sizeof sum, NULL, 20000), IPC_OK);
    assert_int_equal(sum, 3);
    ipc_task_free(tq);
}

static void countdown_and_stop_keep_the_job(void **state)
{
    (void)state;
    ipc_task_queue *tq = open_queue();
    assert_ipc(ipc_task_work(tq, 1), IPC_OK);
    uint64_t id;
    int32_t args[2] = { 20, 22 }, sum = 0;
    int64_t t0 = ipc_now_ns();
    assert_ipc(ipc_task_enqueue(tq, "add", args, sizeof args, &(ipc_task_opts){ .countdown_ms = 600 }, &id), IPC_OK);
    assert_ipc(ipc_task_result(tq, id, &sum, sizeof sum, NULL, 150), IPC_ETIMEDOUT); /* not yet: not due */
    assert_ipc(ipc_task_stop(tq), IPC_OK);       /* the held job goes back to the queue */
    assert_ipc(ipc_task_work(tq, 1), IPC_OK);    /* a new pool finds it, still not due  */
    assert_ipc(ipc_task_result(tq, id, &sum, sizeof sum, NULL, 20000), IPC_OK);
    assert_int_equal(sum, 42);
    assert_true(tl_ms_since(t0) >= 600);
    ipc_task_free(tq);
}

/* The same over a broker (redis, its embedded server): what a queue of
 * several machines would use.  Skipped in a build without it. */
static void result_over_redis(void **state)
{
    (void)state;
    if (!ipc_find("redis")) {
        print_message("redis is not built (BROKERS): skipped\n");
        skip();
    }
    ipc_task_queue *tq;
    assert_ipc(ipc_task_open("redis", NULL, &tq), IPC_OK);
    assert_ipc(ipc_task_register(tq, "add", add, NULL), IPC_OK);
    assert_ipc(ipc_task_register(tq, "crash_once", crash_once, NULL), IPC_OK);
    assert_ipc(ipc_task_work(tq, 2), IPC_OK);
    uint64_t id, id2;
    int32_t args[2] = { 4, 4 }, sum = 0;
    assert_ipc(ipc_task_enqueue(tq, "add", args, sizeof args, NULL, &id), IPC_OK);
    assert_ipc(ipc_task_enqueue(tq, "crash_once", NULL, 0, &(ipc_task_opts){ .retries = 1, .backoff_ms = 10 }, &id2),
               IPC_OK);
    assert_ipc(ipc_task_result(tq, id, &sum, sizeof sum, NULL, 30000), IPC_OK);
    assert_int_equal(sum, 8);
    ipc_task_info info;
    char out[16];
    assert_ipc(ipc_task_result(tq, id2, out, sizeof out, &info, 30000), IPC_OK);
    assert_int_equal(info.state, IPC_TASK_FINISHED);
    assert_int_equal(info.attempts, 2);
    ipc_task_free(tq);
}

static void bad_input(void **state)
{
    (void)state;
    ipc_task_queue *tq = (ipc_task_queue *)1;
    assert_ipc(ipc_task_open("nonsense", NULL, &tq), IPC_ENOMECH);
    assert_null(tq);
    assert_ipc(ipc_task_open("queue", NULL, &tq), IPC_ENOTSUP); /* threads only */
    assert_ipc(ipc_task_open("procq", NULL, NULL), IPC_EINVAL);
    tq = open_queue();
    assert_ipc(ipc_task_register(tq, "", add, NULL), IPC_EINVAL);
    assert_ipc(ipc_task_enqueue(tq, NULL, NULL, 0, NULL, NULL), IPC_EINVAL);
    assert_ipc(ipc_task_enqueue(tq, "add", NULL, 0, &(ipc_task_opts){ .retries = -1 }, NULL), IPC_EINVAL);
    static char big[8192];
    assert_ipc(ipc_task_enqueue(tq, "add", big, sizeof big, NULL, NULL), IPC_EMSGSIZE);
    assert_ipc(ipc_task_work(tq, 0), IPC_EINVAL);
    assert_ipc(ipc_task_result(tq, 1, NULL, 0, NULL, -2), IPC_EINVAL);
    assert_ipc(ipc_task_result(tq, 12345, NULL, 0, NULL, 0), IPC_ETIMEDOUT); /* never heard of */
    assert_int_equal(ipc_task_status(tq, 12345), IPC_TASK_UNKNOWN);
    assert_ipc(ipc_task_stop(NULL), IPC_EINVAL);
    ipc_task_free(tq);
    ipc_task_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(result_with_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(retries_then_success, setup, teardown),
        cmocka_unit_test_setup_teardown(dead_letters, setup, teardown),
        cmocka_unit_test_setup_teardown(worker_death_runs_the_job_elsewhere, setup, teardown),
        cmocka_unit_test_setup_teardown(timeout_stops_a_stuck_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(countdown_and_stop_keep_the_job, setup, teardown),
        cmocka_unit_test_setup_teardown(result_over_redis, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_input, setup, teardown),
    };
    return cmocka_run_group_tests_name("task", tests, NULL, NULL);
}
