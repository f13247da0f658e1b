/*
 * 06_delay_queue (the solution) — a delay queue without a broker: a heap
 * ordered by due time, a mutex, and a condition variable waited on with a
 * deadline.
 *
 * Chapter 9 of TUTORIAL.md, exercise 3 (the broker's delay queue, built
 * from this course's parts).  dq_put(item, delay) makes the item due
 * `delay` ms from now; dq_get() returns the item that is due first, and
 * never before it is due.  The consumer sleeps on the condition variable
 * until the earliest due time — and must be woken when a put brings in an
 * EARLIER due time than the one it sleeps towards.
 *
 * The check: a producer thread puts 8 items with delays given out of order
 * (one of them earlier than everything queued, while the consumer already
 * sleeps); the consumer must receive them in due order, each no earlier than
 * due and less than a second late (a consumer nobody woke would take the
 * early one almost two seconds late).  It prints PASS or FAIL.
 *
 *   make exercises && build/exercises/06_delay_queue/starter
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

enum { CAP = 64, ITEMS = 8 };

typedef struct entry { int64_t due_ns; int item; } entry;

typedef struct dq {
    pthread_mutex_t lock;
    pthread_cond_t  changed;   /* on CLOCK_MONOTONIC: see main */
    entry           heap[CAP]; /* a binary min-heap on due_ns  */
    int             n;
} dq;

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void swap(entry *a, entry *b) { entry t = *a; *a = *b; *b = t; }

static void heap_push(dq *q, entry e)
{
    int i = q->n++;
    q->heap[i] = e;
    while (i > 0 && q->heap[(i - 1) / 2].due_ns > q->heap[i].due_ns) {
        swap(&q->heap[(i - 1) / 2], &q->heap[i]);
        i = (i - 1) / 2;
    }
}

static entry heap_pop(dq *q)
{
    entry top = q->heap[0];
    q->heap[0] = q->heap[--q->n];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->n && q->heap[l].due_ns < q->heap[m].due_ns) m = l;
        if (r < q->n && q->heap[r].due_ns < q->heap[m].due_ns) m = r;
        if (m == i) break;
        swap(&q->heap[m], &q->heap[i]);
        i = m;
    }
    return top;
}

static void dq_put(dq *q, int item, int delay_ms)
{
    pthread_mutex_lock(&q->lock);
    heap_push(q, (entry){ now_ns() + (int64_t)delay_ms * 1000000, item });
    /* SOLUTION BEGIN: wake the consumer: its deadline may no longer be the earliest |  */
    pthread_cond_broadcast(&q->changed);
    /* SOLUTION END */
    pthread_mutex_unlock(&q->lock);
}

static entry dq_get(dq *q)
{
    pthread_mutex_lock(&q->lock);
    /* SOLUTION BEGIN: loop: while empty wait on `changed`; if heap[0] is due, pop and return it; else pthread_cond_timedwait until heap[0].due_ns (an absolute CLOCK_MONOTONIC timespec) and look again | entry e = q->n ? heap_pop(q) : (entry){ 0, -1 }; pthread_mutex_unlock(&q->lock); return e; */
    for (;;) {
        while (q->n == 0) pthread_cond_wait(&q->changed, &q->lock);
        int64_t due = q->heap[0].due_ns;
        if (now_ns() >= due) break;
        struct timespec until = { .tv_sec = due / 1000000000, .tv_nsec = due % 1000000000 };
        pthread_cond_timedwait(&q->changed, &q->lock, &until); /* woken early by a put: look again */
    }
    entry e = heap_pop(q);
    pthread_mutex_unlock(&q->lock);
    return e;
    /* SOLUTION END */
}

static dq q = { .lock = PTHREAD_MUTEX_INITIALIZER };
/* item i is due after delays[i] ms; the last is put 50 ms late but due long
 * before the others: a consumer nobody wakes would sleep until 2100 ms */
static const int delays[ITEMS] = { 2400, 2100, 2200, 2500, 2300, 2450, 2150, 200 };
static int64_t t0;

static void *producer(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITEMS - 1; i++) dq_put(&q, i, delays[i]);
    struct timespec pause = { 0, 50 * 1000000L };
    nanosleep(&pause, NULL);                    /* the consumer now sleeps towards the 2100 ms item... */
    dq_put(&q, ITEMS - 1, delays[ITEMS - 1] - 50); /* ...and this one is due far sooner (at ~200 ms) */
    return NULL;
}

int main(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC); /* deadlines immune to clock changes */
    pthread_cond_init(&q.changed, &a);
    t0 = now_ns();
    pthread_t p;
    pthread_create(&p, NULL, producer, NULL);

    int ok = 1, prev_due = -1;
    for (int k = 0; k < ITEMS; k++) {
        entry e = dq_get(&q);
        int64_t at_ms = (now_ns() - t0) / 1000000;
        if (e.item < 0 || e.item >= ITEMS) {
            printf("got nothing (item %d) at %lld ms\n", e.item, (long long)at_ms);
            ok = 0;
            break;
        }
        int due = delays[e.item];
        int early = at_ms < due - 5, late = at_ms > due + 1000, order = due < prev_due;
        printf("item %d due at %d ms, received at %lld ms%s\n", e.item, due, (long long)at_ms,
               early ? "  EARLY" : late ? "  LATE" : order ? "  OUT OF ORDER" : "");
        ok = ok && !early && !late && !order;
        prev_due = due;
    }
    pthread_join(p, NULL);
    printf("%s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
