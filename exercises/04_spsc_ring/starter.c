/*
 * 04_spsc_ring (starter: complete the TODOs) — a lock-free single-producer/single-consumer
 * ring: the ORDER of two stores is the whole algorithm.
 *
 * Chapter 5 of TUTORIAL.md.  One thread pushes 2,000,000 numbers in order,
 * another pops them; no lock.  The producer alone writes `tail`, the
 * consumer alone writes `head`, so no compare-and-swap is needed — only
 * memory orders:
 *   producer: write the slot, then store tail with memory_order_release;
 *   consumer: load tail with memory_order_acquire, then read the slot;
 *   and the same pair on head, so a slot is never overwritten before it
 *   has been read.
 * Complete push() and pop().  It prints PASS when every number arrived once
 * and in order.  (Try it under `make SANITIZE=thread exercises` too.)
 *
 *   make exercises && build/exercises/04_spsc_ring/starter
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

enum { CAP = 1024, N = 2000000 };

typedef struct ring {
    _Alignas(64) _Atomic uint64_t head; /* next to read: written by the consumer only  */
    _Alignas(64) _Atomic uint64_t tail; /* next to write: written by the producer only */
    _Alignas(64) uint64_t slot[CAP];
} ring;

static ring r;

/* Producer only.  Returns false when the ring is full. */
static bool push(uint64_t v)
{
    /* TODO: full when tail - head == CAP (head: acquire, it frees slots); write slot[tail % CAP]; then publish tail + 1 with release */
    (void)v, (void)r; return false;
}

/* Consumer only.  Returns false when the ring is empty. */
static bool pop(uint64_t *v)
{
    /* TODO: empty when head == tail (tail: acquire, it publishes slots); read slot[head % CAP]; then store head + 1 with release */
    (void)v, (void)r; return false;
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void *producer(void *arg)
{
    (void)arg;
    for (uint64_t i = 1; i <= N; i++) {
        int64_t since = now_ms();
        while (!push(i)) {
            if (now_ms() - since > 3000) return (void *)1; /* never drained for 3 s: give up */
            sched_yield();
        }
    }
    return NULL;
}

int main(void)
{
    pthread_t p;
    pthread_create(&p, NULL, producer, NULL);
    uint64_t expect = 1, got;
    long misordered = 0;
    int64_t last = now_ms();
    while (expect <= N && now_ms() - last < 3000) { /* 3 s without a number: give up */
        if (pop(&got)) {
            misordered += got != expect;
            expect++;
            last = now_ms();
        } else {
            sched_yield();
        }
    }
    void *gave_up;
    pthread_join(p, &gave_up);
    printf("received %llu of %d numbers, %ld out of order\n", (unsigned long long)(expect - 1), N, misordered);
    int ok = expect == (uint64_t)N + 1 && misordered == 0 && gave_up == NULL;
    printf("%s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
