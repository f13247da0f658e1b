/*
 * wait_strategies.c — how a side waits decides what a hand-off costs:
 * block, spin and adaptive, on one CPU and on two.
 *
 * A ping-pong between two threads: main sends a 64-byte message on one
 * channel, the echo thread sends it back on another, main times the round
 * trip.  The channels are opened with each wait strategy of ipc.h
 * (ipc_config.wait) in turn, and the two threads are pinned with
 * pthread_setaffinity_np(3) either to one CPU or to two:
 *
 *   block     the receiver sleeps in the kernel at once (poll, futex,
 *             condvar) and the sender's message wakes it: on two CPUs that
 *             wake-up is an inter-processor interrupt and a sleeping CPU
 *             coming back (several µs, more on a virtual machine); on one
 *             CPU it is a plain context switch;
 *   spin      the receiver never sleeps, it retries until the message is
 *             there: on two CPUs it sees the message as soon as the cache
 *             line (or the kernel's buffer) has it; on one CPU it burns
 *             the CPU its peer needs, and only its periodic sched_yield lets
 *             the peer run at all;
 *   adaptive  spin up to a budget, then block; the budget shrinks while
 *             spins end without progress (one CPU: the peer cannot run) and
 *             grows back when they succeed, so it should be close to spin on
 *             two CPUs and close to block on one (core/wait.c explains it).
 *
 * Beside the median round trip the demo prints what it costs: CPU time and
 * voluntary context switches (sleeps) per round trip, from getrusage(2) —
 * spinning buys its speed with a busy CPU.  Figures are noisy on a shared
 * machine: read the medians, compare within one run.
 *
 * Mirrors: the busy-polling trade of SO_BUSY_POLL, io_uring's SQPOLL, DPDK,
 * and the shared-memory transports of Aeron and iceoryx.
 *
 * Usage: wait_strategies [--help] [MECHANISM[,MECHANISM...]]
 *        (default: pipe,queue; any mechanism that works between threads)
 */
#define _GNU_SOURCE
#include "demo.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>

enum { WARMUP = 200, ROUNDS = 1500, SIZE = 64, MAX_MECHS = 8 };

typedef struct result {
    bool   measured;
    double p50_us, cpu_us, sleeps; /* per round trip */
} result;

typedef struct echo_arg {
    ipc_channel *ping, *pong;
    int          cpu;
} echo_arg;

static void pin_self(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    demo_pthread(pthread_setaffinity_np(pthread_self(), sizeof set, &set), "pthread_setaffinity_np");
}

/* The echo side: receive on ping, send back on pong, until ping is closed. */
static void *echo(void *p)
{
    echo_arg *a = p;
    pin_self(a->cpu);
    char buf[SIZE];
    size_t len;
    int rc;
    while ((rc = ipc_recv(a->ping, buf, sizeof buf, &len, NULL, -1)) == IPC_OK)
        demo_ok(ipc_send(a->pong, buf, len, 0, -1), "echo: ipc_send");
    if (rc != IPC_ECLOSED) demo_ok(rc, "echo: ipc_recv");
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void usage_now(double *cpu_s, double *sleeps)
{
    struct rusage ru;
    demo_sys(getrusage(RUSAGE_SELF, &ru), "getrusage"); /* both threads: one process */
    *cpu_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
           + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
    *sleeps = (double)ru.ru_nvcsw;
}

/* One ping-pong run: mech under strategy `wait`, main on cpu_a, echo on cpu_b. */
static result ping_pong(const char *mech, int wait, int cpu_a, int cpu_b)
{
    ipc_channel *ping, *pong;
    ipc_config cfg = { .max_msg = SIZE, .wait = wait };
    demo_ok(ipc_open(mech, &cfg, &ping), mech);
    demo_ok(ipc_open(mech, &cfg, &pong), mech);
    echo_arg a = { ping, pong, cpu_b };
    pthread_t t;
    pin_self(cpu_a);
    demo_pthread(pthread_create(&t, NULL, echo, &a), "pthread_create");

    static int64_t rtt[ROUNDS];
    char msg[SIZE] = "ping", back[SIZE];
    size_t len;
    double cpu0 = 0, sleeps0 = 0;
    for (int i = 0; i < WARMUP + ROUNDS; i++) {
        if (i == WARMUP) usage_now(&cpu0, &sleeps0); /* the first rounds warm caches (and budgets) up */
        int64_t t0 = ipc_now_ns();
        demo_ok(ipc_send(ping, msg, sizeof msg, 0, -1), "ipc_send(ping)");
        demo_ok(ipc_recv(pong, back, sizeof back, &len, NULL, -1), "ipc_recv(pong)");
        if (i >= WARMUP) rtt[i - WARMUP] = ipc_now_ns() - t0;
    }
    double cpu1, sleeps1;
    usage_now(&cpu1, &sleeps1);
    demo_ok(ipc_close(ping), "ipc_close");
    demo_pthread(pthread_join(t, NULL), "pthread_join");
    ipc_free(ping);
    ipc_free(pong);

    qsort(rtt, ROUNDS, sizeof rtt[0], cmp_i64);
    return (result){ .measured = true, .p50_us = (double)rtt[ROUNDS / 2] / 1e3,
                     .cpu_us = (cpu1 - cpu0) * 1e6 / ROUNDS, .sleeps = (sleeps1 - sleeps0) / ROUNDS };
}

int main(int argc, char **argv)
{
    demo_start_opts(argc, argv,
               "usage: wait_strategies [MECHANISM[,MECHANISM...]]\n"
               "Times a 64-byte ping-pong between two threads under each wait strategy\n"
               "(block, spin, adaptive), with both threads on one CPU and on two CPUs, and\n"
               "prints CPU time and sleeps per round trip.  Default: pipe,queue.\n",
               (const char *const[]){ argc > 1 && argv[1][0] != '-' ? argv[1] : NULL, NULL });
    char deflt[] = "pipe,queue";
    const char *mechs[MAX_MECHS];
    int n = demo_list(argc > 1 ? argv[1] : deflt, mechs, MAX_MECHS);
    alarm(300); /* every wait below blocks forever: if something breaks, do not hang */

    cpu_set_t all;
    demo_sys(sched_getaffinity(0, sizeof all, &all), "sched_getaffinity");
    int cpu[2] = { -1, -1 }, ncpu = 0;
    for (int c = 0; c < CPU_SETSIZE && ncpu < 2; c++)
        if (CPU_ISSET(c, &all)) cpu[ncpu++] = c;
    if (ncpu < 2) cpu[1] = cpu[0];
    static const char *const place[2] = { "one CPU", "two CPUs" };
    static const int waits[3] = { IPC_WAIT_BLOCK, IPC_WAIT_SPIN, IPC_WAIT_ADAPTIVE };

    printf("round trip of a %d-byte message between two threads, median of %d after %d warm-up;\n"
           "CPU µs and sleeps (voluntary context switches) per round trip, both threads\n\n",
           SIZE, ROUNDS, WARMUP);
    printf("%-10s %-9s %-9s %10s %10s %8s\n", "mechanism", "placement", "strategy", "p50 µs", "CPU µs", "sleeps");
    for (int m = 0; m < n; m++) {
        const ipc_mechanism *mm = ipc_find(mechs[m]);
        if (!mm || !(mm->caps & IPC_CAP_THREADS)) {
            fprintf(stderr, "%s: not a mechanism that works between threads\n", mechs[m]);
            return 1;
        }
        unsigned can = mm->waits ? mm->waits : IPC_WAIT_BIT(IPC_WAIT_BLOCK);
        result r[2][3] = { { { 0 } } };
        for (int p = 0; p < 2; p++) {
            if (p == 1 && ncpu < 2) {
                printf("%-10s %-9s (only one CPU to run on)\n", mm->name, place[p]);
                continue;
            }
            for (int w = 0; w < 3; w++) {
                if (!(can & IPC_WAIT_BIT(waits[w]))) {
                    printf("%-10s %-9s %-9s %10s\n", mm->name, place[p], ipc_wait_name(waits[w]), "n/a");
                    continue;
                }
                r[p][w] = ping_pong(mm->name, waits[w], cpu[0], cpu[p]);
                printf("%-10s %-9s %-9s %10.1f %10.1f %8.2f\n", mm->name, place[p], ipc_wait_name(waits[w]),
                       r[p][w].p50_us, r[p][w].cpu_us, r[p][w].sleeps);
            }
        }
        /* The lesson in numbers, from this run. */
        for (int p = 0; p < 2; p++) {
            if (!r[p][0].measured) continue;
            for (int w = 1; w < 3; w++)
                if (r[p][w].measured)
                    printf("  %s on %s: %s / block = %.2f (round trip), CPU x%.1f\n", mm->name, place[p],
                           ipc_wait_name(waits[w]), r[p][w].p50_us / r[p][0].p50_us,
                           r[p][0].cpu_us > 0 ? r[p][w].cpu_us / r[p][0].cpu_us : 0.0);
        }
    }
    printf("\nOn two CPUs spinning skips the sleep and the wake-up; on one CPU it takes the CPU\n"
           "its peer needs, and adaptive backs off to blocking.\n");
    return 0;
}
