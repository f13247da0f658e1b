/*
 * placement.c — where the two processes run matters more than which pipe
 * you pick.
 *
 * A ping-pong: the parent sends a 64-byte message on one channel, a child
 * echoes it back on another, and the parent times the round trip with
 * CLOCK_MONOTONIC.  The same is done for several mechanisms and three
 * placements chosen with sched_setaffinity(2):
 *
 *   same core   both processes pinned to one CPU: a send makes the
 *               receiver runnable and the kernel switches to it on the
 *               spot — a context switch, no cross-CPU wake-up;
 *   two cores   one process per CPU: every hand-off wakes a sleeping CPU
 *               through an inter-processor interrupt, and on a virtual
 *               machine that wake-up goes through the hypervisor;
 *   unpinned    the scheduler decides (and may move them around).
 *
 * On the 2-vCPU virtual machines this project is built on, the cross-core
 * wake-up costs far more than the differences between pipe, socketpair and
 * a shared-memory queue — so for latency, placement (and the wait
 * strategy: spinning shared-memory rings avoid the sleep altogether, at the
 * price of a busy CPU) decides more than the choice of pipe.  The figures
 * are noisy on a shared machine: read the medians, and run it twice.
 * bench/ (make run) measures the same thing with warm-up, percentiles and
 * CPU time; this demo is the five-second version.
 *
 * Mirrors: no seed example; it answers the seeds' "choose the mechanism
 * that fits" with a measurement (see TUTORIAL.md, "How to choose").
 *
 * Usage: placement [--help] [MECHANISM...]
 *        (default: every built-in mechanism that works across fork() and
 *        carries 64 bytes, brokers aside — bench/ measures those)
 */
#define _GNU_SOURCE
#include "demo.h"

#include <sched.h>
#include <stdint.h>

enum { WARMUP = 200, ROUNDS = 2000, SIZE = 64, MAX_MECHS = 16 };

typedef struct placement {
    const char *label;
    int         parent_cpu, child_cpu; /* -1: not pinned */
} placement;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Does the mechanism busy-wait before sleeping?  (Its default wait strategy says.) */
static int spins(const char *mech)
{
    int w = ipc_find(mech)->wait_default;
    return w == IPC_WAIT_SPIN || w == IPC_WAIT_ADAPTIVE;
}

static void pin(int cpu, const cpu_set_t *all)
{
    cpu_set_t set;
    if (cpu < 0) {
        set = *all;
    } else {
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
    }
    demo_sys(sched_setaffinity(0, sizeof set, &set), "sched_setaffinity");
}

/* The echo side: receive on ping, send back on pong, until ping is closed. */
static void echo(ipc_channel *ping, ipc_channel *pong)
{
    char buf[SIZE];
    size_t len;
    int rc;
    while ((rc = ipc_recv(ping, buf, sizeof buf, &len, NULL, -1)) == IPC_OK)
        demo_ok(ipc_send(pong, buf, len, 0, -1), "echo: ipc_send");
    if (rc != IPC_ECLOSED) demo_ok(rc, "echo: ipc_recv");
}

/* Median and 99th percentile of ROUNDS round trips, in microseconds. */
static void ping_pong(const char *mech, const placement *pl, const cpu_set_t *all, double *p50, double *p99)
{
    ipc_channel *ping, *pong;
    ipc_config cfg = { .max_msg = SIZE };
    demo_ok(ipc_open(mech, &cfg, &ping), mech);
    demo_ok(ipc_open(mech, &cfg, &pong), mech);
    pid_t child = demo_fork();
    if (child == 0) {
        pin(pl->child_cpu, all);
        echo(ping, pong);
        _exit(0);
    }
    pin(pl->parent_cpu, all);

    static int64_t rtt[ROUNDS];
    char msg[SIZE] = "ping", back[SIZE];
    size_t len;
    for (int i = 0; i < WARMUP + ROUNDS; i++) {
        int64_t t0 = ipc_now_ns();
        /* Block without a timeout, the way a real user waits: some mechanisms
         * (sysv_mq) can only honour a timeout by polling with back-off. */
        demo_ok(ipc_send(ping, msg, sizeof msg, 0, -1), "ipc_send(ping)");
        demo_ok(ipc_recv(pong, back, sizeof back, &len, NULL, -1), "ipc_recv(pong)");
        if (i >= WARMUP) rtt[i - WARMUP] = ipc_now_ns() - t0; /* the first rounds warm caches up */
    }
    demo_ok(ipc_close(ping), "ipc_close");
    demo_reap(child, "echo");
    pin(-1, all);
    ipc_free(ping);
    ipc_free(pong);

    qsort(rtt, ROUNDS, sizeof rtt[0], cmp_i64);
    *p50 = (double)rtt[ROUNDS / 2] / 1e3;
    *p99 = (double)rtt[ROUNDS * 99 / 100] / 1e3;
}

int main(int argc, char **argv)
{
    /* One optional argument: a comma-separated list, as ipcbench --mech takes. */
    demo_start_opts(argc, argv,
               "usage: placement [MECHANISM[,MECHANISM...]]\n"
               "Times a 64-byte ping-pong between two processes for each mechanism with both on\n"
               "one core, on two cores, and unpinned.  Default: every mechanism that works\n"
               "across fork() (brokers aside).  Example: placement pipe,procq,shm\n",
               (const char *const[]){ argc > 1 && argv[1][0] != '-' ? argv[1] : NULL, NULL });
    const char *mechs[MAX_MECHS];
    int n = 0;
    if (argc > 1) n = demo_list(argv[1], mechs, MAX_MECHS);
    if (n == 0) { /* every built-in mechanism that works across fork and carries 64 bytes */
        size_t all_count;
        const ipc_mechanism *const *all = ipc_mechanisms(&all_count);
        for (size_t i = 0; i < all_count && n < MAX_MECHS; i++)
            if ((all[i]->caps & IPC_CAP_FORK) && all[i]->max_msg_limit >= SIZE
                && all[i]->family_id != IPC_FAMILY_BROKERS)
                mechs[n++] = all[i]->name;
    }
    int count = n;

    alarm(120); /* waits below have no timeout: if a child dies, do not hang forever */
    cpu_set_t all;
    demo_sys(sched_getaffinity(0, sizeof all, &all), "sched_getaffinity");
    int cpu[2] = { -1, -1 }, ncpu = 0;
    for (int c = 0; c < CPU_SETSIZE && ncpu < 2; c++)
        if (CPU_ISSET(c, &all)) cpu[ncpu++] = c;
    placement places[3] = {
        { "same core", cpu[0], cpu[0] },
        { "two cores", cpu[0], cpu[1] },
        { "unpinned", -1, -1 },
    };
    printf("%d CPUs available to this process; round trip of a %d-byte message, %d rounds after %d\n"
           "warm-up; median / 99th percentile in microseconds\n\n", CPU_COUNT(&all), SIZE, ROUNDS, WARMUP);
    printf("%-14s %-42s", "mechanism", "wait strategy");
    for (int p = 0; p < 3; p++) printf(" %17s", places[p].label);
    printf("\n");

    double med[MAX_MECHS][3];
    for (int m = 0; m < count; m++) {
        const ipc_mechanism *mm = ipc_find(mechs[m]);
        if (!mm || !(mm->caps & IPC_CAP_FORK)) {
            fprintf(stderr, "%s: not a mechanism that works across fork()\n", mechs[m]);
            return 1;
        }
        printf("%-14s %-42.42s", mm->name, mm->wait_strategy);
        for (int p = 0; p < 3; p++) {
            if (places[p].child_cpu == -1 && places[p].parent_cpu != -1) { /* one CPU only */
                printf(" %17s", "n/a (1 CPU)");
                med[m][p] = 0;
                continue;
            }
            double p50, p99;
            ping_pong(mm->name, &places[p], &all, &p50, &p99);
            printf(" %8.1f / %6.1f", p50, p99);
            med[m][p] = p50;
        }
        printf("\n");
    }

    /* The lesson in numbers, from this run's medians.  Kernel-blocking
     * mechanisms and spinning ones are told apart: they behave oppositely. */
    double lo[2] = { 0, 0 }, hi[2] = { 0, 0 }, moved[MAX_MECHS], picked[2 * MAX_MECHS];
    int kernel = 0;
    for (int m = 0; m < count && ncpu == 2; m++) {
        if (spins(mechs[m])) continue;
        for (int p = 0; p < 2; p++) {
            if (lo[p] == 0 || med[m][p] < lo[p]) lo[p] = med[m][p];
            if (med[m][p] > hi[p]) hi[p] = med[m][p];
        }
        moved[kernel++] = med[m][1] / med[m][0];
    }
    if (kernel > 0) {
        /* "picked": each mechanism against the fastest one at the same placement */
        int k = 0;
        for (int m = 0; m < count; m++)
            if (!spins(mechs[m]))
                for (int p = 0; p < 2; p++) picked[k++] = med[m][p] / lo[p];
        qsort(moved, (size_t)kernel, sizeof moved[0], cmp_double);
        qsort(picked, (size_t)k, sizeof picked[0], cmp_double);
        double r_move = moved[kernel / 2], r_pick = picked[k / 2];
        printf("\non this run, the %d mechanisms that sleep in the kernel took\n"
               "  on one core:   %5.1f to %5.1f us per round trip\n"
               "  on two cores:  %5.1f to %5.1f us per round trip\n"
               "moving a pair from one core to two: x%.1f (median over the %d mechanisms)\n"
               "picking another mechanism, same placement: x%.1f (median, against the fastest)\n",
               kernel, lo[0], hi[0], lo[1], hi[1], r_move, kernel, r_pick);
        if (r_move > r_pick)
            printf("-> where the two processes run mattered more than which mechanism they used\n");
    }
    for (int m = 0; m < count && ncpu == 2; m++)
        if (spins(mechs[m]))
            printf("%s spins before it sleeps: %.1f us on two cores, where the waiter is already\n"
                   "spinning when the message lands; %.1f us on one core, where spinning cannot help\n"
                   "(the peer it waits for is not running)\n", mechs[m], med[m][1], med[m][0]);
    return 0;
}
