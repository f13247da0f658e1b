/*
 * odd_even.c — two consumers that put back what is not theirs: an
 * anti-pattern, measured.
 *
 * A producer puts 1..9 into one queue.  The "odd" consumer wants odd
 * numbers, the "even" consumer even ones; each takes whatever is at the
 * head and, if it is not its kind, puts it back at the tail.  It works, in
 * the sense that every number is eventually handled, but:
 *
 *   - it is busy waiting: while only odd numbers are left, the even
 *     consumer takes and re-puts them as fast as it can, burning a core and
 *     taking the lock away from the consumer that has real work;
 *   - order is lost: a re-put number goes behind the ones after it, so the
 *     numbers are not handled in the order they were produced.
 *
 * To make this visible on every run, the even consumer starts 50 ms after
 * the odd one (threads never start at the same instant; here the gap is
 * just made large enough to see).
 *
 * Part 2 shows the fix: route at the producer, one queue per kind.  No
 * re-puts, each consumer sees its numbers in order, nobody spins.
 *
 * (The seed's version has a second bug: `while self.queue.empty:` tests the
 * method object, which is always true, so its consumers never stop.  Here
 * the consumer that handles the last number calls ipc_close(), which wakes
 * the other one.)
 *
 * Mirrors: seed 004 §3 (Proceduer / Consumer_odd / Consumer_even threads).
 *
 * Usage: odd_even [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/resource.h>

enum { N = 9 };

typedef struct consumer {
    const char  *name;
    int          parity;   /* 1 = odd, 0 = even */
    ipc_channel *in;       /* where it takes from                  */
    long         late_ms;  /* starts this much after the other one  */
    long         requeued; /* numbers it took and had to put back   */
    int          handled;
} consumer;

static atomic_int handled_total;
static atomic_int order[N];   /* the numbers in the order they were handled */

static void handle(consumer *c, int32_t number)
{
    int slot = atomic_fetch_add(&handled_total, 1);
    atomic_store(&order[slot], number);
    c->handled++;
    printf("  get %d from queue %s\n", (int)number, c->name);
    demo_sleep_ms(5); /* the work; the seed sleeps a second */
    if (slot + 1 == N) demo_ok(ipc_close(c->in), "ipc_close"); /* the last one: wake the other */
}

static void *consume(void *arg)
{
    consumer *c = arg;
    demo_sleep_ms(c->late_ms);
    for (;;) {
        int32_t number;
        size_t len;
        int rc = ipc_recv(c->in, &number, sizeof number, &len, NULL, -1);
        if (rc == IPC_ECLOSED) return NULL;
        demo_ok(rc, "ipc_recv");
        if ((number & 1) == c->parity) {
            handle(c, number);
        } else { /* not mine: put it back at the tail */
            demo_ok(ipc_send(c->in, &number, sizeof number, 0, -1), "ipc_send (requeue)");
            c->requeued++;
        }
    }
}

static double cpu_seconds(void)
{
    struct rusage ru;
    demo_sys(getrusage(RUSAGE_SELF, &ru), "getrusage");
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Run both consumers to the end; print the wall and CPU time it took. */
static void run(consumer *odd, consumer *even)
{
    double cpu0 = cpu_seconds();
    int64_t t0 = ipc_now_ns();
    pthread_t t[2];
    demo_pthread(pthread_create(&t[0], NULL, consume, odd), "pthread_create");
    demo_pthread(pthread_create(&t[1], NULL, consume, even), "pthread_create");
    demo_pthread(pthread_join(t[0], NULL), "pthread_join");
    demo_pthread(pthread_join(t[1], NULL), "pthread_join");
    printf("  consumers took %.0f ms of wall time and %.0f ms of CPU time\n",
           (double)(ipc_now_ns() - t0) / 1e6, (cpu_seconds() - cpu0) * 1e3);
}

static void report(const consumer *odd, const consumer *even)
{
    printf("  handled in this order:");
    for (int i = 0; i < N; i++) printf(" %d", atomic_load(&order[i]));
    printf("\n  odd consumer: handled %d, put back %ld;  even consumer: handled %d, put back %ld\n",
           odd->handled, odd->requeued, even->handled, even->requeued);
    if (odd->handled + even->handled != N) exit(1);
    atomic_store(&handled_total, 0);
}

static void put_numbers(ipc_channel *odd_q, ipc_channel *even_q)
{
    for (int32_t i = 1; i <= N; i++) {
        printf("  put data is: %d to queue\n", (int)i);
        demo_ok(ipc_send(i & 1 ? odd_q : even_q, &i, sizeof i, 0, -1), "ipc_send");
    }
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: odd_even\n"
               "Odd and even consumers share one queue and put back what is not theirs\n"
               "(part 1: busy requeueing, order lost); part 2 routes at the producer.\n");

    printf("part 1: one queue, consumers put back what is not theirs (EVEN starts 50 ms late)\n");
    ipc_channel *q;
    demo_ok(ipc_open("queue", NULL, &q), "ipc_open(queue)");
    put_numbers(q, q);
    consumer odd = { .name = "ODD", .parity = 1, .in = q };
    consumer even = { .name = "EVEN", .parity = 0, .in = q, .late_ms = 50 };
    run(&odd, &even);
    report(&odd, &even);
    printf("  -> %ld useless take-and-put-back round trips, and the order is not 1..9\n",
           odd.requeued + even.requeued);
    ipc_free(q);

    printf("\npart 2: the fix — route at the producer, one queue per consumer (EVEN again 50 ms late)\n");
    ipc_channel *oq, *eq;
    demo_ok(ipc_open("queue", NULL, &oq), "ipc_open(queue)");
    demo_ok(ipc_open("queue", NULL, &eq), "ipc_open(queue)");
    put_numbers(oq, eq);
    /* Each consumer now stops when its own queue is closed and drained. */
    demo_ok(ipc_close(oq), "ipc_close");
    demo_ok(ipc_close(eq), "ipc_close");
    consumer odd2 = { .name = "ODD", .parity = 1, .in = oq };
    consumer even2 = { .name = "EVEN", .parity = 0, .in = eq, .late_ms = 50 };
    run(&odd2, &even2);
    report(&odd2, &even2);
    printf("  -> nothing put back; each consumer saw its numbers in order\n");
    ipc_free(oq);
    ipc_free(eq);
    return 0;
}
