/*
 * test_queues.c — what the conformance suite cannot ask of every mechanism:
 * the thread queue's Python extras (task_done/join, qsize/empty/full,
 * shutdown(immediate)), its three orders, the duplex socket pair, and the
 * process queue's shutdown reaching another process; and what the fast
 * paths promise: no allocation per message at any depth once warm, a FIFO
 * ring that grows while wrapped without reordering anything.
 */
#define _GNU_SOURCE
#include "testlib.h"

#include "pipes/socketpair.h"
#include "queues/thread_queue.h"

#include <dlfcn.h>
#include <malloc.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* ---- counting allocations ------------------------------------------------
 * The executable's malloc interposes the library's (and everyone's); it
 * counts calls while `counting` is set and hands them to glibc's own.  Not
 * under ASan or TSan, which interpose malloc themselves. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define COUNTS_MALLOC 0
#else
#define COUNTS_MALLOC 1
extern void *__libc_malloc(size_t size);
static atomic_bool counting;
static atomic_long mallocs;
void *malloc(size_t size)
{
    if (atomic_load_explicit(&counting, memory_order_relaxed))
        atomic_fetch_add_explicit(&mallocs, 1, memory_order_relaxed);
    return __libc_malloc(size);
}
#endif

static ipc_channel *open_q(const char *mech, size_t capacity)
{
    ipc_channel *ch = NULL;
    assert_ipc(ipc_open(mech, &(ipc_config){ .capacity = capacity }, &ch), IPC_OK);
    return ch;
}

static int put_int(ipc_channel *ch, int v, int prio) { return ipc_send(ch, &v, sizeof v, prio, 1000); }

static int get_int(ipc_channel *ch, int *prio)
{
    int v = -1;
    size_t len;
    int rc = ipc_recv(ch, &v, sizeof v, &len, prio, 1000);
    if (rc != IPC_OK) fail_msg("recv: %s (%s)", ipc_strerror(rc), ipc_last_error());
    assert_int_equal(len, sizeof v);
    return v;
}

/* ---- orders -------------------------------------------------------------- */

static void test_lifo_returns_newest_first(void **state)
{
    (void)state;
    ipc_channel *ch = open_q("lifo", 0);
    for (int i = 0; i < 5; i++) assert_ipc(put_int(ch, i, 0), IPC_OK);
    for (int i = 4; i >= 0; i--) assert_int_equal(get_int(ch, NULL), i);
    ipc_free(ch);
}

/* Issue 12.5: "queue" claims IPC_CAP_FIFO, so it must not turn LIFO (or
 * PRIORITY) on request; the order is the mechanism's ("lifo", "priority"). */
static void test_order_field_selects_lifo_on_queue(void **state)
{
    (void)state;
    ipc_channel *ch = NULL;
    assert_ipc(ipc_open("queue", &(ipc_config){ .order = IPC_LIFO }, &ch), IPC_EINVAL);
    assert_ipc(ipc_open("queue", &(ipc_config){ .order = IPC_PRIORITY }, &ch), IPC_EINVAL);
    assert_null(ch);
    assert_ipc(ipc_open("lifo", &(ipc_config){ .order = IPC_LIFO }, &ch), IPC_OK);
    for (int i = 0; i < 3; i++) assert_ipc(put_int(ch, i, 0), IPC_OK);
    assert_int_equal(get_int(ch, NULL), 2);
    ipc_free(ch);
}

/* Like PriorityQueue with (priority, counter) tuples: ties leave in
 * insertion order, also after the heap has been reshuffled many times. */
static void test_priority_ties_keep_insertion_order(void **state)
{
    (void)state;
    ipc_channel *ch = open_q("priority", 0);
    int n = 0;
    for (int i = 0; i < 300; i++, n++) assert_ipc(put_int(ch, i, (i * 7) % 5), IPC_OK);
    int last_prio = 1 << 30, last_value = -1;
    for (int i = 0; i < n; i++) {
        int prio;
        int v = get_int(ch, &prio);
        assert_int_equal(prio, (v * 7) % 5);
        assert_true(prio <= last_prio);
        if (prio == last_prio) assert_true(v > last_value);
        last_prio = prio;
        last_value = v;
    }
    ipc_free(ch);
}

/* ---- task_done / join ---------------------------------------------------- */

struct worker { ipc_channel *ch; atomic_int done; };

static void *worker(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        int v;
        size_t len;
        int rc = ipc_recv(w->ch, &v, sizeof v, &len, NULL, -1);
        if (rc == IPC_ECLOSED) return NULL;
        if (rc != IPC_OK) return NULL;
        tl_sleep_ms(1);
        atomic_fetch_add(&w->done, 1);
        ipc_queue_task_done(w->ch);
    }
}

static void test_join_waits_for_every_task_done(void **state)
{
    (void)state;
    struct worker w = { .ch = open_q("queue", 0) };
    pthread_t t[3];
    for (int i = 0; i < 3; i++) t[i] = tl_thread(worker, &w);
    for (int i = 0; i < 30; i++) assert_ipc(put_int(w.ch, i, 0), IPC_OK);
    assert_ipc(ipc_queue_join(w.ch, 10000), IPC_OK);
    assert_int_equal(atomic_load(&w.done), 30); /* all processed, not just taken */
    assert_ipc(ipc_close(w.ch), IPC_OK);        /* instead of one sentinel per worker */
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    ipc_free(w.ch);
}

static void test_join_times_out_with_unfinished_tasks(void **state)
{
    (void)state;
    ipc_channel *ch = open_q("queue", 0);
    assert_ipc(put_int(ch, 1, 0), IPC_OK);
    get_int(ch, NULL); /* taken but never task_done() */
    int64_t t0 = ipc_now_ns();
    assert_ipc(ipc_queue_join(ch, 100), IPC_ETIMEDOUT); /* a state, not data: ipc.h */
    assert_true(tl_ms_since(t0) >= 99);
    assert_ipc(ipc_queue_task_done(ch), IPC_OK);
    assert_ipc(ipc_queue_join(ch, 0), IPC_OK);
    ipc_free(ch);
}

static void test_task_done_more_than_put_is_an_error(void **state)
{
    (void)state;
    ipc_channel *ch = open_q("queue", 0);
    assert_ipc(ipc_queue_task_done(ch), IPC_EINVAL); /* Python: ValueError */
    assert_ipc(put_int(ch, 1, 0), IPC_OK);
    get_int(ch, NULL);
    assert_ipc(ipc_queue_task_done(ch), IPC_OK);
    assert_ipc(ipc_queue_task_done(ch), IPC_EINVAL);
    ipc_free(ch);
}

/* ---- hints and shutdown --------------------------------------------------- */

static void test_qsize_empty_full_hints(void **state)
{
    (void)state;
    ipc_channel *ch = open_q("queue", 3);
    assert_true(ipc_queue_empty(ch));
    assert_false(ipc_queue_full(ch));
    for (int i = 0; i < 3; i++) assert_ipc(put_int(ch, i, 0), IPC_OK);
    assert_int_equal(ipc_queue_qsize(ch), 3);
    assert_true(ipc_queue_full(ch));
    assert_false(ipc_queue_empty(ch));
    assert_int_equal(ipc_depth(ch), 3);
    ipc_free(ch);
    /* unbounded is never full */
    ch = open_q("queue", 0);
    for (int i = 0; i < 100; i++) assert_ipc(put_int(ch, i, 0), IPC_OK);
    assert_false(ipc_queue_full(ch));
    ipc_free(ch);
}

static void test_extras_refuse_other_mechanisms(void **state)
{
    (void)state;
    ipc_channel *ch = open_q("pipe", 0);
    assert_ipc(ipc_queue_task_done(ch), IPC_EINVAL);
    assert_ipc(ipc_queue_join(ch, 0), IPC_EINVAL);
    assert_int_equal(ipc_queue_qsize(ch), IPC_EINVAL);
    assert_ipc(ipc_queue_shutdown(ch, true), IPC_EINVAL);
    assert_ipc(ipc_queue_task_done(NULL), IPC_EINVAL);
    ipc_free(ch);
}

static void test_shutdown_immediate_discards_and_releases_join(void **state)
{
    (void)state;
    ipc_channel *ch = open_q("queue", 0);
    for (int i = 0; i < 5; i++) assert_ipc(put_int(ch, i, 0), IPC_OK);
    assert_ipc(ipc_queue_shutdown(ch, true), IPC_OK);
    assert_int_equal(ipc_queue_qsize(ch), 0);
    int v;
    size_t len;
    assert_ipc(ipc_recv(ch, &v, sizeof v, &len, NULL, 1000), IPC_ECLOSED);
    assert_ipc(ipc_queue_join(ch, 1000), IPC_OK); /* discarded = done */
    assert_ipc(put_int(ch, 1, 0), IPC_ECLOSED);
    ipc_free(ch);
}

static void test_shutdown_graceful_lets_receivers_drain(void **state)
{
    (void)state;
    ipc_channel *ch = open_q("priority", 0);
    for (int i = 0; i < 3; i++) assert_ipc(put_int(ch, i, i), IPC_OK);
    assert_ipc(ipc_queue_shutdown(ch, false), IPC_OK);
    assert_ipc(put_int(ch, 9, 0), IPC_ECLOSED);
    for (int i = 2; i >= 0; i--) assert_int_equal(get_int(ch, NULL), i);
    int v;
    size_t len;
    assert_ipc(ipc_recv(ch, &v, sizeof v, &len, NULL, 1000), IPC_ECLOSED);
    ipc_free(ch);
}

/* ---- the duplex pair -------------------------------------------------- */

static void test_duplex_pair_talks_both_ways_across_fork(void **state)
{
    (void)state;
    ipc_channel *a, *b;
    assert_ipc(ipc_duplex_open(NULL, &a, &b), IPC_OK);
    pid_t pid = tl_fork(20);
    if (pid == 0) { /* the child keeps end b: echo each number doubled, then close */
        ipc_free(a);
        for (;;) {
            int v;
            size_t len;
            int rc = ipc_recv(b, &v, sizeof v, &len, NULL, 10000);
            if (rc == IPC_ECLOSED) break;
            if (rc != IPC_OK) _exit(1);
            v *= 2;
            if (ipc_send(b, &v, sizeof v, 0, 10000) != IPC_OK) _exit(2);
        }
        ipc_close(b);
        ipc_free(b);
        _exit(0);
    }
    ipc_free(b);
    for (int i = 1; i <= 50; i++) {
        assert_ipc(put_int(a, i, 0), IPC_OK);
        assert_int_equal(get_int(a, NULL), 2 * i);
    }
    assert_ipc(ipc_close(a), IPC_OK); /* the child sees end-of-stream... */
    int v;
    size_t len;
    assert_ipc(ipc_recv(a, &v, sizeof v, &len, NULL, 5000), IPC_ECLOSED); /* ...and so do we */
    assert_int_equal(tl_wait(pid, 20), 0);
    ipc_free(a);
}

static void test_duplex_open_bad_input(void **state)
{
    (void)state;
    ipc_channel *a = (ipc_channel *)0x1;
    assert_ipc(ipc_duplex_open(NULL, &a, NULL), IPC_EINVAL);
    assert_null(a);
    assert_ipc(ipc_duplex_open(&(ipc_config){ .max_msg = (size_t)1 << 40 }, &a, &a), IPC_EINVAL);
}

/* ---- the process queue -------------------------------------------------- */

/* Shutdown in one process wakes a receiver blocked in another. */
static void test_procq_shutdown_wakes_other_process(void **state)
{
    (void)state;
    ipc_channel *ch = open_q("procq", 4);
    pid_t pid = tl_fork(20);
    if (pid == 0) {
        int v;
        size_t len;
        int64_t t0 = ipc_now_ns();
        int rc = ipc_recv(ch, &v, sizeof v, &len, NULL, -1);
        _exit(rc == IPC_ECLOSED && tl_ms_since(t0) < 8000 ? 0 : 1);
    }
    tl_sleep_ms(200);
    assert_ipc(ipc_close(ch), IPC_OK);
    assert_int_equal(tl_wait(pid, 20), 0);
    ipc_free(ch);
}

/* A child that exits (frees its handle) does not shut the queue down. */
static void test_child_exit_does_not_close_queue(void **state)
{
    (void)state;
    ipc_channel *ch = open_q("procq", 4);
    pid_t pid = tl_fork(20);
    if (pid == 0) {
        int rc = put_int(ch, 7, 0);
        ipc_free(ch);
        _exit(rc == IPC_OK ? 0 : 1);
    }
    assert_int_equal(tl_wait(pid, 20), 0);
    assert_int_equal(get_int(ch, NULL), 7);
    assert_ipc(put_int(ch, 8, 0), IPC_OK);
    assert_int_equal(get_int(ch, NULL), 8);
    ipc_free(ch);
}

static void test_procq_rejects_what_does_not_fit(void **state)
{
    (void)state;
    ipc_channel *ch = NULL;
    assert_ipc(ipc_open("procq", &(ipc_config){ .capacity = 1u << 20, .max_msg = 1u << 20 }, &ch), IPC_EINVAL);
    assert_non_null(strstr(ipc_last_error(), "1 GiB"));
    assert_ipc(ipc_open("procq", &(ipc_config){ .name = "x" }, &ch), IPC_EINVAL);
    assert_null(ch);
}

/* ---- fast paths ---------------------------------------------------------- */

/* A queue that once held `depth` messages carries that many again with no
 * malloc at all: the storage is recycled, not allocated per message (the
 * monitor used to keep only 64 spare blocks, so every message past the
 * 64th was a malloc and a free). */
static void test_deep_queue_allocates_nothing_per_message(void **state)
{
    (void)state;
#if !COUNTS_MALLOC
    skip(); /* the sanitizer owns malloc */
#else
    static const char *const mechs[] = { "queue", "lifo", "priority" };
    enum { DEPTH = 4096, SIZE = 100 };
    unsigned char msg[SIZE], buf[SIZE];
    memset(msg, 0x5a, sizeof msg);
    for (size_t k = 0; k < sizeof mechs / sizeof *mechs; k++) {
        ipc_channel *ch = open_q(mechs[k], 0);
        for (int round = 0; round < 2; round++) { /* round 0 warms up, round 1 counts */
            atomic_store(&mallocs, 0);
            atomic_store(&counting, round == 1);
            for (int i = 0; i < DEPTH; i++) assert_int_equal(ipc_send(ch, msg, SIZE, i % 7, 0), IPC_OK);
            for (int i = 0; i < DEPTH; i++) {
                size_t len = 0;
                int prio = 0;
                assert_int_equal(ipc_recv(ch, buf, sizeof buf, &len, &prio, 0), IPC_OK);
                assert_int_equal(len, SIZE);
            }
            atomic_store(&counting, false);
        }
        if (atomic_load(&mallocs) != 0)
            fail_msg("%s: %ld mallocs for %d messages at depth %d, once warm", mechs[k], atomic_load(&mallocs),
                     DEPTH, DEPTH);
        ipc_free(ch);
    }
#endif
}

/* The FIFO ring grows while its live messages wrap around its end, with
 * small (in the slot) and large (allocated) messages mixed: every byte
 * comes out, in order; a message too big for the buffer stays first. */
static void test_fifo_ring_grows_while_wrapped(void **state)
{
    (void)state;
    ipc_channel *ch = open_q("queue", 0);
    static unsigned char msg[3000], buf[3000];
    long next_in = 0, next_out = 0;
    /* sizes cycle through small, boundary and large ones */
    static const size_t sizes[] = { 0, 1, 100, 231, 232, 233, 256, 1000, 3000 };
    enum { NSIZES = sizeof sizes / sizeof *sizes };
    for (int round = 1; round <= 9; round++) {
        /* take a few out first so head is not at slot 0 when it grows */
        for (int i = 0; i < round * 37; i++) {
            size_t len = sizes[next_in % NSIZES];
            for (size_t b = 0; b < len; b++) msg[b] = (unsigned char)(next_in + (long)b * 13);
            assert_int_equal(ipc_send(ch, msg, len, (int)(next_in % 5), 0), IPC_OK);
            next_in++;
        }
        long keep = round % 3 ? 11 : 0; /* leave some queued across the next growth */
        while (next_in - next_out > keep) {
            size_t want = sizes[next_out % NSIZES], len = 0;
            int prio = -1;
            if (want > 0) { /* too small a buffer: refused, left first */
                assert_int_equal(ipc_recv(ch, buf, want - 1, &len, &prio, 0), IPC_EMSGSIZE);
                assert_int_equal(len, want);
            }
            assert_int_equal(ipc_recv(ch, buf, sizeof buf, &len, &prio, 0), IPC_OK);
            assert_int_equal(len, want);
            assert_int_equal(prio, (int)(next_out % 5));
            for (size_t b = 0; b < len; b++)
                if (buf[b] != (unsigned char)(next_out + (long)b * 13))
                    fail_msg("message %ld byte %zu corrupt", next_out, b);
            next_out++;
        }
        assert_int_equal(ipc_queue_qsize(ch), keep);
    }
    size_t len;
    assert_int_equal(ipc_recv(ch, buf, sizeof buf, &len, NULL, 0), IPC_EEMPTY);
    ipc_free(ch);
}


/* A ring that every cycle refills to the same depth keeps its size (no
 * malloc in a second cycle past 65536 messages: it used to be given back
 * each time it drained, and grown again), and the quiet cycles of a second
 * after a burst give the burst's ring back (queue.c: SHRINK_AFTER_NS). */
static void test_fifo_ring_keeps_its_size_and_gives_a_burst_back(void **state)
{
    (void)state;
#if !COUNTS_MALLOC
    skip(); /* the sanitizer owns malloc */
#else
    enum { DEPTH = 70000, SIZE = 100 };
    unsigned char msg[SIZE] = { 1 }, buf[SIZE];
    size_t len;
    ipc_channel *ch = open_q("queue", 0);
    for (int round = 0; round < 3; round++) {
        int depth = round < 2 ? DEPTH : 10; /* round 2 is the quiet cycle */
        atomic_store(&mallocs, 0);
        atomic_store(&counting, round == 1);
        for (int i = 0; i < depth; i++) assert_int_equal(ipc_send(ch, msg, SIZE, 0, 0), IPC_OK);
        for (int i = 0; i < depth; i++) assert_int_equal(ipc_recv(ch, buf, sizeof buf, &len, NULL, 0), IPC_OK);
        size_t mapped = mallinfo2().hblkhd;
        assert_int_equal(ipc_recv(ch, buf, sizeof buf, &len, NULL, 0), IPC_EEMPTY); /* found empty */
        if (round == 2) { /* quiet for a second, then found empty once more */
            usleep(1100000);
            assert_int_equal(ipc_recv(ch, buf, sizeof buf, &len, NULL, 0), IPC_EEMPTY);
        }
        atomic_store(&counting, false);
        if (round == 1 && atomic_load(&mallocs) != 0)
            fail_msg("%ld mallocs in a second cycle of %d messages", atomic_load(&mallocs), DEPTH);
        if (round == 2 && mallinfo2().hblkhd + (size_t)DEPTH * SIZE > mapped)
            fail_msg("the burst's ring was kept: %zu bytes mapped before the quiet cycle ended, %zu after",
                     mapped, mallinfo2().hblkhd);
    }
    ipc_free(ch);
#endif
}

/* True once process pid sleeps in futex(2) (its /proc syscall line starts
 * with SYS_futex while it is blocked in one). */
int main(void)
{
    const struct CMUnitTest tests[] = {
        TL_CASE(test_lifo_returns_newest_first),
        TL_CASE(test_order_field_selects_lifo_on_queue),
        TL_CASE(test_priority_ties_keep_insertion_order),
        TL_CASE(test_join_waits_for_every_task_done),
        TL_CASE(test_join_times_out_with_unfinished_tasks),
        TL_CASE(test_task_done_more_than_put_is_an_error),
        TL_CASE(test_qsize_empty_full_hints),
        TL_CASE(test_extras_refuse_other_mechanisms),
        TL_CASE(test_shutdown_immediate_discards_and_releases_join),
        TL_CASE(test_shutdown_graceful_lets_receivers_drain),
        TL_CASE(test_duplex_pair_talks_both_ways_across_fork),
        TL_CASE(test_duplex_open_bad_input),
        TL_CASE(test_procq_shutdown_wakes_other_process),
        TL_CASE(test_child_exit_does_not_close_queue),
        TL_CASE(test_procq_rejects_what_does_not_fit),
        TL_CASE(test_deep_queue_allocates_nothing_per_message),
        TL_CASE(test_fifo_ring_grows_while_wrapped),
        TL_CASE(test_fifo_ring_keeps_its_size_and_gives_a_burst_back),
    };
    return cmocka_run_group_tests_name("queues", tests, NULL, NULL);
}
