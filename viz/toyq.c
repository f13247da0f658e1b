/*
 * toyq.c — the UNLOCKED queue: what a ring buffer does without its mutex.
 *
 * The code is the naive textbook ring, written as a beginner would:
 *
 *     send:  while (count == capacity) wait;   slots[tail % cap] = msg;
 *            tail = tail + 1;  count = count + 1;
 *     recv:  while (count == 0) wait;          msg = slots[head % cap];
 *            head = head + 1;  count = count - 1;
 *
 * Every line is fine on its own; the bug is between the lines.  Two
 * producers that both pass the "not full" check read the same `tail`, write
 * the same slot, and one message is gone.  Two consumers read the same
 * `head` and one message is delivered twice.  `count = count + 1` from two
 * threads at once adds one, not two (a lost update), so the count drifts.
 *
 * Each variable is a C11 atomic accessed with relaxed loads and stores: each
 * access is indivisible (so the program has no undefined behaviour and the
 * sanitizers stay quiet), but nothing makes the *sequence* indivisible, which
 * is exactly the race a mutex removes.  race_window() sleeps a moment between
 * reading an index and writing it back: on a real machine the window is a
 * few nanoseconds and the bug shows once in a million; here it shows in the
 * first seconds, at classroom speed.
 *
 * The `taken` flags are not part of the queue: they are the visualizer's
 * god's-eye view, so an overwritten (lost) message can be shown when it
 * happens instead of being silently missing.
 */
#define _GNU_SOURCE
#include "toyq.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct toyq {
    size_t                 capacity;
    toyq_hooks             hooks;
    atomic_bool            shut;
    atomic_size_t          head, tail;
    atomic_long            count;
    atomic_uint_least64_t *slots;  /* the message bytes; 0 = never written */
    atomic_bool           *taken;  /* instrumentation only (see top)       */
};

static void emit(toyq *q, enum ipc_event_kind kind, int result, const void *msg)
{
    ipc_event ev = {
        .kind = kind, .t_ns = ipc_now_ns(), .result = result, .len = VIZ_TOKEN_BYTES,
        .depth = atomic_load_explicit(&q->count, memory_order_relaxed), .msg = msg,
    };
    q->hooks.event(q->hooks.arg, NULL, &ev);
}

static void sleep_us(long us)
{
    struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = us % 1000000 * 1000 };
    nanosleep(&ts, NULL); /* an early wake-up only shortens a toy's nap */
}

/* The check-then-act gap, widened to 0..2 ms. */
static void race_window(void)
{
    static _Thread_local unsigned seed;
    if (!seed) seed = (unsigned)ipc_now_ns() | 1;
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    sleep_us(seed % 2000);
}

toyq *toyq_create(size_t capacity, const toyq_hooks *hooks)
{
    toyq *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->capacity = capacity ? capacity : 1;
    q->hooks = *hooks;
    q->slots = calloc(q->capacity, sizeof *q->slots);
    q->taken = calloc(q->capacity, sizeof *q->taken);
    if (!q->slots || !q->taken) {
        toyq_destroy(q);
        return NULL;
    }
    for (size_t i = 0; i < q->capacity; i++) atomic_init(&q->taken[i], true);
    return q;
}

void toyq_destroy(toyq *q)
{
    if (!q) return;
    free(q->slots);
    free(q->taken);
    free(q);
}

/* Wait (by polling) while the queue is full (sending) or empty.  Returns 0 to go on, or the error
 * that ends the call. */
static int wait_while(toyq *q, bool sending, int timeout_ms)
{
    int64_t deadline = ipc_now_ns() + (int64_t)timeout_ms * 1000000;
    bool told = false;
    for (;;) {
        long count = atomic_load_explicit(&q->count, memory_order_relaxed);
        bool busy = sending ? count >= (long)q->capacity : count <= 0;
        if (!busy) return 0;
        if (atomic_load(&q->shut)) return IPC_ECLOSED;
        if (ipc_now_ns() >= deadline) return sending ? IPC_EFULL : IPC_EEMPTY;
        if (!told) emit(q, sending ? IPC_EV_SEND_BLOCKED : IPC_EV_RECV_BLOCKED, 0, NULL);
        told = true;
        sleep_us(1000);
    }
}

int toyq_send(toyq *q, const void *msg, size_t len, int timeout_ms)
{
    emit(q, IPC_EV_SEND_BEGIN, 0, msg);
    int rc = len == VIZ_TOKEN_BYTES ? IPC_OK : IPC_EMSGSIZE;
    if (rc == IPC_OK && atomic_load(&q->shut)) rc = IPC_ECLOSED;
    if (rc == IPC_OK) rc = wait_while(q, true, timeout_ms);
    if (rc == IPC_OK) {
        uint64_t word;
        memcpy(&word, msg, sizeof word);
        size_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
        race_window();
        size_t i = t % q->capacity;
        uint64_t old = atomic_exchange_explicit(&q->slots[i], word, memory_order_relaxed);
        bool was_taken = atomic_exchange_explicit(&q->taken[i], false, memory_order_relaxed);
        atomic_store_explicit(&q->tail, t + 1, memory_order_relaxed);
        atomic_store_explicit(&q->count, atomic_load_explicit(&q->count, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        if (!was_taken) q->hooks.overwritten(q->hooks.arg, viz_token_decode(&old, sizeof old));
    }
    emit(q, IPC_EV_SEND_DONE, rc, msg);
    return rc;
}

int toyq_recv(toyq *q, void *buf, size_t cap, size_t *len, int timeout_ms)
{
    emit(q, IPC_EV_RECV_BEGIN, 0, NULL);
    int rc = cap >= VIZ_TOKEN_BYTES ? IPC_OK : IPC_EMSGSIZE;
    if (rc == IPC_OK) rc = wait_while(q, false, timeout_ms);
    if (rc == IPC_OK) {
        size_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
        race_window();
        size_t i = h % q->capacity;
        uint64_t word = atomic_load_explicit(&q->slots[i], memory_order_relaxed);
        atomic_store_explicit(&q->taken[i], true, memory_order_relaxed);
        atomic_store_explicit(&q->head, h + 1, memory_order_relaxed);
        atomic_store_explicit(&q->count, atomic_load_explicit(&q->count, memory_order_relaxed) - 1,
                              memory_order_relaxed);
        memcpy(buf, &word, sizeof word);
        *len = VIZ_TOKEN_BYTES;
    }
    emit(q, IPC_EV_RECV_DONE, rc, rc == IPC_OK ? buf : NULL);
    return rc;
}

long toyq_depth(toyq *q) { return atomic_load_explicit(&q->count, memory_order_relaxed); }

void toyq_close(toyq *q) { atomic_store(&q->shut, true); }
