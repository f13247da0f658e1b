/*
 * shared_value.c — numbers in shared memory, with and without a lock.
 *
 * multiprocessing.Value and Array put C numbers in memory that the parent
 * and its children share: mmap(MAP_SHARED | MAP_ANONYMOUS) before fork(),
 * so both sides see the very same physical pages.  No message is sent at
 * all — a write by one process is simply there for the others to read.
 * mechanisms/include/ipcplay/shm/shared_value.h is the C counterpart.
 *
 *   part 1  the seed: a child adds 1 to a Value and to every element of
 *           an Array; the parent prints 1 and [1, 2, ..., 10].
 *   part 2  four processes each add 1 a hundred thousand times:
 *           - without a lock, "v.value += 1" is a load, an add and a store;
 *             two processes can both load 41 and both store 42, and one
 *             increment is lost.  The total comes out short — by how much
 *             depends on the run;
 *           - with the Value's lock (Python: `with v.get_lock():`), exact;
 *           - with one atomic fetch-and-add (C11 atomic_fetch_add, LOCK
 *             XADD on x86), exact and without a lock — something Python's
 *             Value cannot offer.
 *
 * The seed's own example is safe only because ONE child writes while the
 * parent waits in join(); its text "these objects can be safely read and
 * written by multiple processes" is what part 2 corrects.
 *
 * Mirrors: seed 002 §3.1 (Value('i', 0), Array('i', range(10)), a worker
 * process incrementing both).
 *
 * Usage: shared_value [--help]
 */
#define _GNU_SOURCE
#include "demo.h"
#include "shm/shared_value.h"

enum { WORKERS = 4, ADDS = 100000 };

typedef enum { RACY, LOCKED, ATOMIC } add_kind;

static void part1_seed(void)
{
    printf("part 1: a child adds 1 to num and to every arr[i]\n");
    ipc_value *num, *arr;
    demo_ok(ipc_value_open(&num, 'l', true), "ipc_value_open");   /* Value('i', 0)         */
    demo_ok(ipc_array_open(&arr, 'l', 10, true), "ipc_array_open"); /* Array('i', range(10)) */
    for (size_t i = 0; i < 10; i++) demo_ok(ipc_array_set(arr, i, (long)i), "ipc_array_set");

    pid_t child = demo_fork();
    if (child == 0) {
        demo_ok(ipc_value_add(num, 1, NULL), "child: ipc_value_add");
        for (size_t i = 0; i < ipc_array_len(arr); i++)
            demo_ok(ipc_array_add(arr, i, 1, NULL), "child: ipc_array_add");
        _exit(0);
    }
    demo_reap(child, "child");

    long v;
    demo_ok(ipc_value_get(num, &v), "ipc_value_get");
    printf("%ld\n[", v);
    for (size_t i = 0; i < ipc_array_len(arr); i++) {
        long x;
        demo_ok(ipc_array_get(arr, i, &x), "ipc_array_get");
        printf("%s%ld", i ? ", " : "", x);
    }
    printf("]\n");
    ipc_value_free(num);
    ipc_value_free(arr);
}

/* WORKERS processes each add 1 ADDS times in the given way; returns the total. */
static long count_with(add_kind kind)
{
    ipc_value *v;
    demo_ok(ipc_value_open(&v, 'l', kind == LOCKED), "ipc_value_open");
    pid_t pids[WORKERS];
    for (int w = 0; w < WORKERS; w++) {
        pids[w] = demo_fork();
        if (pids[w] == 0) {
            for (int i = 0; i < ADDS; i++) {
                int rc = kind == RACY   ? ipc_value_add_racy(v, 1)
                       : kind == LOCKED ? ipc_value_add(v, 1, NULL)
                                        : ipc_value_add_atomic(v, 1, NULL);
                demo_ok(rc, "worker: add");
            }
            _exit(0);
        }
    }
    for (int w = 0; w < WORKERS; w++) demo_reap(pids[w], "worker");
    long total;
    demo_ok(ipc_value_get(v, &total), "ipc_value_get");
    ipc_value_free(v);
    return total;
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: shared_value\n"
               "A child increments a shared Value and Array (the seed); then four processes\n"
               "increment one Value without a lock (updates lost), with a lock and atomically.\n");
    part1_seed();

    const long expected = (long)WORKERS * ADDS;
    printf("\npart 2: %d processes x %d increments of one shared value (expected %ld)\n", WORKERS, ADDS,
           expected);
    int64_t t0 = ipc_now_ns();
    long racy = count_with(RACY);
    int64_t t1 = ipc_now_ns();
    long locked = count_with(LOCKED);
    int64_t t2 = ipc_now_ns();
    long atomic = count_with(ATOMIC);
    int64_t t3 = ipc_now_ns();
    printf("  without a lock:      %7ld  (%ld updates lost on this run)   %4.0f ms\n", racy, expected - racy,
           (double)(t1 - t0) / 1e6);
    printf("  with a lock:         %7ld  (exact)                          %4.0f ms\n", locked,
           (double)(t2 - t1) / 1e6);
    printf("  atomic fetch-and-add:%7ld  (exact, no lock)                 %4.0f ms\n", atomic,
           (double)(t3 - t2) / 1e6);
    if (racy == expected)
        printf("  (no update was lost this time: the race is real but needs the processes to overlap;\n"
               "   run it again)\n");
    if (locked != expected || atomic != expected) return 1;
    printf("lesson: shared memory is fast because nothing is copied, and unsafe for the same reason:\n"
           "every read-modify-write needs a lock or an atomic instruction\n");
    return 0;
}
