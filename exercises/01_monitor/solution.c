/*
 * 01_monitor (the solution) — a bounded buffer as a monitor: one mutex,
 * two condition variables, and `while`, never `if`, around every wait.
 *
 * Chapter 1 of TUTORIAL.md.  Complete bb_put() and bb_get(); main() runs
 * 4 producers and 4 consumers over a buffer of 8 slots and checks that no
 * item is lost or duplicated and that the buffer never holds more than its
 * capacity.  It prints PASS or FAIL and exits 0 or 1.
 *
 *   make exercises && build/exercises/01_monitor/starter
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

enum { CAP = 8, PRODUCERS = 4, CONSUMERS = 4, PER_PRODUCER = 20000 };

typedef struct bb {
    pthread_mutex_t lock;
    pthread_cond_t  not_full, not_empty;
    long            slot[CAP];
    size_t          head, count;
    size_t          max_count; /* the most ever held: checked by main */
} bb;

static void bb_put(bb *b, long item)
{
    /* SOLUTION BEGIN: lock; wait on not_full WHILE the buffer is full; store at (head + count) % CAP; count++; track max_count; signal not_empty; unlock | (void)b, (void)item; */
    pthread_mutex_lock(&b->lock);
    while (b->count == CAP) pthread_cond_wait(&b->not_full, &b->lock);
    b->slot[(b->head + b->count) % CAP] = item;
    b->count++;
    if (b->count > b->max_count) b->max_count = b->count;
    pthread_cond_signal(&b->not_empty);
    pthread_mutex_unlock(&b->lock);
    /* SOLUTION END */
}

static long bb_get(bb *b)
{
    /* SOLUTION BEGIN: lock; wait on not_empty WHILE the buffer is empty; take slot[head]; advance head; count--; signal not_full; unlock; return the item | (void)b; return -1; */
    pthread_mutex_lock(&b->lock);
    while (b->count == 0) pthread_cond_wait(&b->not_empty, &b->lock);
    long item = b->slot[b->head];
    b->head = (b->head + 1) % CAP;
    b->count--;
    pthread_cond_signal(&b->not_full);
    pthread_mutex_unlock(&b->lock);
    return item;
    /* SOLUTION END */
}

static bb buf = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, { 0 }, 0, 0, 0 };
static long taken[CONSUMERS], sums[CONSUMERS];

static void *producer(void *arg)
{
    long id = (long)arg;
    for (long i = 0; i < PER_PRODUCER; i++) bb_put(&buf, id * PER_PRODUCER + i + 1);
    return NULL;
}

static void *consumer(void *arg)
{
    long id = (long)arg;
    for (long i = 0; i < PRODUCERS * PER_PRODUCER / CONSUMERS; i++) {
        long item = bb_get(&buf);
        if (item <= 0) return NULL; /* not written yet */
        taken[id]++;
        sums[id] += item;
    }
    return NULL;
}

int main(void)
{
    pthread_t p[PRODUCERS], c[CONSUMERS];
    for (long i = 0; i < CONSUMERS; i++) pthread_create(&c[i], NULL, consumer, (void *)i);
    for (long i = 0; i < PRODUCERS; i++) pthread_create(&p[i], NULL, producer, (void *)i);
    for (int i = 0; i < CONSUMERS; i++) pthread_join(c[i], NULL);
    /* a starter's consumers give up at once; do not wait for producers stuck on a full buffer */
    long n = 0, sum = 0;
    for (int i = 0; i < CONSUMERS; i++) n += taken[i], sum += sums[i];
    long want_n = PRODUCERS * PER_PRODUCER, want_sum = want_n * (want_n + 1) / 2;
    printf("items received: %ld of %ld, checksum %s, buffer held at most %zu of %d\n", n, want_n,
           sum == want_sum ? "ok" : "WRONG", buf.max_count, CAP);
    if (n != want_n || sum != want_sum || buf.max_count > CAP) {
        printf("FAIL\n");
        /* never joined, stuck or done: detached, so exit is their end (ThreadSanitizer
         * would call unjoined finished threads leaked and exit 66 instead of 1) */
        for (int i = 0; i < PRODUCERS; i++) pthread_detach(p[i]);
        return 1;
    }
    for (int i = 0; i < PRODUCERS; i++) pthread_join(p[i], NULL);
    printf("PASS\n");
    return 0;
}
