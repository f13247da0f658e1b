/*
 * 07_sem_buffer (starter: complete the TODOs) — the classic bounded buffer between
 * PROCESSES with three POSIX semaphores.
 *
 * Chapter 6 of TUTORIAL.md.  In a MAP_SHARED mapping: a ring
 * of 4 slots and three unnamed process-shared semaphores:
 *   empty_slots  starts at 4: a producer takes one before writing a slot
 *   full_slots   starts at 0: a consumer takes one before reading a slot
 *   mutex        starts at 1: guards the ring indices (several producers
 *                and consumers share them)
 * Two producer processes send 5,000 numbers each; two consumer processes
 * add up what they receive (a consumer stops at a 0, one per consumer,
 * sent after the producers are done).  It prints PASS when the sum matches.
 *
 *   make exercises && build/exercises/07_sem_buffer/starter
 */
#define _GNU_SOURCE
#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

enum { CAP = 4, PRODUCERS = 2, CONSUMERS = 2, PER_PRODUCER = 5000 };

typedef struct shared {
    sem_t empty_slots, full_slots, mutex;
    long  slot[CAP];
    int   head, tail;
    long  sums[CONSUMERS];
} shared;

static shared *sh;

/* sem_wait that retries on EINTR. */
static inline void P(sem_t *s)
{
    while (sem_wait(s) == -1)
        if (errno != EINTR) { perror("sem_wait"); _exit(1); }
}

static inline void V(sem_t *s)
{
    if (sem_post(s) == -1) { perror("sem_post"); _exit(1); }
}

static void put(long v)
{
    /* TODO: P(empty_slots); P(mutex); store at tail, advance tail; V(mutex); V(full_slots) */
    (void)v;
}

static long get(void)
{
    /* TODO: P(full_slots); P(mutex); take slot[head], advance head; V(mutex); V(empty_slots); return it */
    return 0;
}

int main(void)
{
    alarm(20); /* a wrong solution may deadlock: do not hang for ever */
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) { perror("mmap"); return 1; }
    if (sem_init(&sh->empty_slots, 1, CAP) || sem_init(&sh->full_slots, 1, 0) || sem_init(&sh->mutex, 1, 1)) {
        perror("sem_init");
        return 1;
    }
    pid_t consumers[CONSUMERS], producers[PRODUCERS];
    for (int c = 0; c < CONSUMERS; c++) {
        if ((consumers[c] = fork()) == 0) {
            alarm(20);
            long v;
            while ((v = get()) != 0) sh->sums[c] += v;
            _exit(0);
        }
    }
    for (int p = 0; p < PRODUCERS; p++) {
        if ((producers[p] = fork()) == 0) {
            alarm(20);
            for (long i = 1; i <= PER_PRODUCER; i++) put(i);
            _exit(0);
        }
    }
    int ok = 1, status;
    for (int p = 0; p < PRODUCERS; p++) {
        waitpid(producers[p], &status, 0);
        ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    for (int c = 0; c < CONSUMERS; c++) put(0); /* one stop sign per consumer */
    long sum = 0;
    for (int c = 0; c < CONSUMERS; c++) {
        waitpid(consumers[c], &status, 0);
        ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        sum += sh->sums[c];
    }
    long want = PRODUCERS * ((long)PER_PRODUCER * (PER_PRODUCER + 1) / 2);
    printf("consumers received a sum of %ld (want %ld)\n", sum, want);
    ok = ok && sum == want;
    printf("%s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
