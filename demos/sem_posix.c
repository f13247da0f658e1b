/*
 * sem_posix.c — POSIX semaphores: a counter the kernel can sleep on.
 *
 * A semaphore is a non-negative counter with two operations: sem_wait()
 * takes one (sleeping while the counter is 0) and sem_post() gives one back
 * (waking a sleeper).  Dijkstra's P and V.  With the counter started at N it
 * admits at most N holders at once: a pool of N identical resources.
 *
 * POSIX offers two kinds (sem_overview(7)):
 *   named     sem_open("/name", O_CREAT, mode, N): a file in /dev/shm
 *             ("sem.name"), reachable by any process that knows the name,
 *             alive until sem_unlink() (like shm_open objects);
 *   unnamed   sem_init(&s, pshared, N) on memory you place yourself: with
 *             pshared = 1 it must sit in memory the processes share (a
 *             MAP_SHARED mapping), and it dies with that memory.
 * Both are futexes underneath: sem_post() makes no system call when nobody
 * sleeps.
 *
 * The demo:
 *   1. a named semaphore started at 3 guards a "room"; 6 child processes
 *      enter, stay 100 ms and leave; a shared counter records how many were
 *      inside at once: never more than 3;
 *   2. sem_timedwait() on an unnamed process-shared semaphore at 0 gives up
 *      after its deadline with ETIMEDOUT (note: an absolute CLOCK_REALTIME
 *      time, unlike ipcplay's monotonic timeouts);
 *   3. sem_unlink() removes the name; /dev/shm/sem.<name> is gone;
 *   4. the cost of an uncontended sem_wait + sem_post pair, next to a
 *      pthread mutex lock + unlock (both stay in user space: one atomic
 *      instruction each way, no system call when nobody sleeps).
 *
 * Mirrors: multiprocessing.Semaphore / BoundedSemaphore (a Python course's
 * "limit concurrency" example).  TLPI chapter 53.
 *
 * Usage: sem_posix [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <sys/mman.h>

enum { SLOTS = 3, CHILDREN = 6, STAY_MS = 100 };

typedef struct shared {
    sem_t       unnamed;   /* part 2: an unnamed, process-shared semaphore    */
    atomic_int  inside;    /* how many children hold the room right now       */
    atomic_int  max_inside;/* the most ever seen at once                      */
} shared;

static double median5(double v[5])
{
    for (int i = 1; i < 5; i++) /* insertion sort: five values */
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[2];
}

static void enter_and_leave(sem_t *room, shared *sh, int id)
{
    demo_sys(sem_wait(room), "sem_wait");
    /* relaxed would do for a counter; seq_cst keeps the lesson simple and the
     * cost is nothing next to a 100 ms stay */
    int now = atomic_fetch_add(&sh->inside, 1) + 1;
    int seen = atomic_load(&sh->max_inside);
    while (now > seen && !atomic_compare_exchange_weak(&sh->max_inside, &seen, now)) {
    }
    printf("   child %d entered (%d inside)\n", id, now);
    demo_sleep_ms(STAY_MS);
    atomic_fetch_sub(&sh->inside, 1);
    demo_sys(sem_post(room), "sem_post");
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: sem_posix\n"
               "A named POSIX semaphore started at 3 lets at most 3 of 6 processes into a\n"
               "room at once; sem_timedwait gives up at its deadline; sem_unlink removes the name.\n");

    shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) demo_sys(-1, "mmap");
    atomic_init(&sh->inside, 0);
    atomic_init(&sh->max_inside, 0);

    char name[64];
    snprintf(name, sizeof name, "/ipcplay-demo-sem.%d", (int)getpid());
    sem_t *room = sem_open(name, O_CREAT | O_EXCL, 0600, SLOTS);
    if (room == SEM_FAILED) demo_sys(-1, "sem_open");

    printf("1. sem_open(\"%s\", O_CREAT, 0600, %d): a room with %d places, %d children\n", name, SLOTS,
           SLOTS, CHILDREN);
    pid_t kids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++) {
        kids[i] = demo_fork();
        if (kids[i] == 0) {
            /* a child inherits the mapping of the named semaphore: no sem_open needed */
            enter_and_leave(room, sh, i);
            _exit(0);
        }
    }
    for (int i = 0; i < CHILDREN; i++) demo_reap(kids[i], "child");
    int max_inside = atomic_load(&sh->max_inside);
    printf("   at most %d inside at once (the semaphore started at %d)\n", max_inside, SLOTS);

    printf("2. sem_timedwait on an unnamed process-shared semaphore at 0, deadline 200 ms\n");
    demo_sys(sem_init(&sh->unnamed, 1, 0), "sem_init");
    struct timespec until;
    demo_sys(clock_gettime(CLOCK_REALTIME, &until), "clock_gettime");
    until.tv_nsec += 200 * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    int r;
    while ((r = sem_timedwait(&sh->unnamed, &until)) == -1 && errno == EINTR) {
    }
    int timed_out = r == -1 && errno == ETIMEDOUT;
    if (r == -1 && !timed_out) demo_sys(-1, "sem_timedwait");
    printf("   sem_timedwait: %s\n", timed_out ? "ETIMEDOUT (nobody posted)" : "took it?!");
    demo_sys(sem_destroy(&sh->unnamed), "sem_destroy");

    printf("3. sem_unlink(\"%s\")\n", name);
    char path[96];
    snprintf(path, sizeof path, "/dev/shm/sem.%s", name + 1);
    int before = access(path, F_OK) == 0;
    demo_sys(sem_close(room), "sem_close");
    demo_sys(sem_unlink(name), "sem_unlink");
    int after = access(path, F_OK) == 0;
    printf("   %s: %s before, %s after\n", path, before ? "present" : "absent", after ? "present" : "gone");
    printf("4. an uncontended pair, no one sleeping (median of 5 runs of 1,000,000)\n");
    demo_sys(sem_init(&sh->unnamed, 1, 1), "sem_init");
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    double sem_ns[5], mutex_ns[5];
    for (int r = 0; r < 5; r++) {
        int64_t t0 = ipc_now_ns();
        for (int i = 0; i < 1000000; i++) {
            demo_sys(sem_wait(&sh->unnamed), "sem_wait");
            demo_sys(sem_post(&sh->unnamed), "sem_post");
        }
        int64_t t1 = ipc_now_ns();
        for (int i = 0; i < 1000000; i++) {
            demo_pthread(pthread_mutex_lock(&m), "pthread_mutex_lock");
            demo_pthread(pthread_mutex_unlock(&m), "pthread_mutex_unlock");
        }
        sem_ns[r] = (double)(t1 - t0) / 1e6;
        mutex_ns[r] = (double)(ipc_now_ns() - t1) / 1e6;
    }
    demo_sys(sem_destroy(&sh->unnamed), "sem_destroy");
    printf("   sem_wait + sem_post: %.1f ns; pthread_mutex_lock + unlock: %.1f ns\n", median5(sem_ns),
           median5(mutex_ns));
    demo_sys(munmap(sh, sizeof *sh), "munmap");

    if (max_inside < 1 || max_inside > SLOTS || !timed_out || after) {
        fprintf(stderr, "unexpected: max inside %d, timed out %d, name left %d\n", max_inside, timed_out, after);
        return 1;
    }
    printf("lesson: a semaphore at N admits N holders; a named one lives until sem_unlink\n");
    return 0;
}
