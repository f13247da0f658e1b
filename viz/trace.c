/*
 * trace.c — a multi-writer, single-reader ring of event records in shared
 * memory.
 *
 * Writers (every producer and consumer, thread or forked process) claim an
 * index with one atomic fetch_add on `head` and fill that slot; nobody waits
 * for anybody, so recording never slows the run it records.  The one reader
 * (the visualizer's main loop) copies records out every frame.
 *
 * Each slot carries a sequence word, seqlock style: 0 while being written,
 * index+1 once complete.  The reader accepts a slot only if the word says
 * "complete, and it is the index I expect" both before and after copying,
 * so it never hands out a half-written record or one from a lap ahead.
 * The record itself is stored as relaxed atomic 64-bit words: a reader may
 * look at a slot while a writer fills it, and that must not be a data race
 * in C11 terms (the sequence word decides whether the copy is kept).
 */
#define _GNU_SOURCE
#include "trace.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

typedef struct slot {
    atomic_uint_least64_t seq;   /* 0 = being written, else index + 1 */
    atomic_uint_least64_t w[4];  /* the packed viz_rec                */
} slot;

struct viz_trace {
    size_t                mapped;
    uint64_t              mask;
    uint64_t              read;  /* the reader's next index (reader only) */
    _Alignas(64) atomic_uint_least64_t head;  /* next index to claim: writers' cache line */
    _Alignas(64) slot     slots[];
};

viz_trace *viz_trace_create(unsigned order)
{
    size_t n = (size_t)1 << order;
    size_t size = sizeof(viz_trace) + n * sizeof(slot);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    viz_trace *tr = p; /* anonymous memory is zero: every seq reads "not written" */
    tr->mapped = size;
    tr->mask = n - 1;
    return tr;
}

void viz_trace_destroy(viz_trace *tr)
{
    if (tr) munmap(tr, tr->mapped);
}

void viz_trace_put(viz_trace *tr, const viz_rec *r)
{
    uint64_t i = atomic_fetch_add_explicit(&tr->head, 1, memory_order_relaxed);
    slot *s = &tr->slots[i & tr->mask];
    atomic_store_explicit(&s->seq, 0, memory_order_relaxed);
    atomic_thread_fence(memory_order_release); /* "busy" is visible before any new word */
    atomic_store_explicit(&s->w[0], (uint64_t)r->t_ns, memory_order_relaxed);
    atomic_store_explicit(&s->w[1], (uint64_t)r->kind | (uint64_t)r->actor << 8
                          | (uint64_t)(uint16_t)r->result << 16 | (uint64_t)(uint32_t)r->depth << 32,
                          memory_order_relaxed);
    atomic_store_explicit(&s->w[2], (uint64_t)r->tok.producer | (uint64_t)(uint16_t)r->tok.prio << 16
                          | (uint64_t)r->tok.seq << 32, memory_order_relaxed);
    atomic_store_explicit(&s->w[3], r->len, memory_order_relaxed);
    atomic_store_explicit(&s->seq, i + 1, memory_order_release); /* publish */
}

static viz_rec unpack(const uint64_t w[4])
{
    return (viz_rec){
        .t_ns = (int64_t)w[0],
        .kind = (uint8_t)w[1], .actor = (uint8_t)(w[1] >> 8),
        .result = (int16_t)(uint16_t)(w[1] >> 16), .depth = (int32_t)(uint32_t)(w[1] >> 32),
        .tok = { .producer = (uint16_t)w[2], .prio = (int16_t)(uint16_t)(w[2] >> 16),
                 .seq = (uint32_t)(w[2] >> 32) },
        .len = (uint32_t)w[3],
    };
}

enum slot_state { READY, PENDING, LOST };

/* Look at the slot at the read position; READY copies its words. */
static enum slot_state peek(viz_trace *tr, uint64_t head, uint64_t w[4])
{
    slot *s = &tr->slots[tr->read & tr->mask];
    uint64_t want = tr->read + 1;
    uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
    if (seq != want)
        /* Not written yet: wait for the next frame, unless the slot has been
         * pending for half a lap (its writer died mid-record) or a later
         * lap already reused it. */
        return seq > want || head - tr->read > (tr->mask + 1) / 2 ? LOST : PENDING;
    for (int k = 0; k < 4; k++) w[k] = atomic_load_explicit(&s->w[k], memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire); /* the words are read before the re-check */
    return atomic_load_explicit(&s->seq, memory_order_relaxed) == want ? READY : LOST;
}

uint64_t viz_trace_skip_lost(viz_trace *tr)
{
    uint64_t head = atomic_load_explicit(&tr->head, memory_order_acquire), lost = 0, w[4];
    if (head - tr->read > tr->mask + 1) { /* writers lapped us: those records are gone */
        lost = head - (tr->mask + 1) - tr->read;
        tr->read = head - (tr->mask + 1);
    }
    for (; tr->read < head && peek(tr, head, w) == LOST; tr->read++) lost++;
    return lost;
}

size_t viz_trace_drain(viz_trace *tr, viz_rec *out, size_t max)
{
    uint64_t head = atomic_load_explicit(&tr->head, memory_order_acquire), w[4];
    size_t n = 0;
    if (head - tr->read > tr->mask + 1) return 0; /* a gap first: viz_trace_skip_lost */
    for (; tr->read < head && n < max && peek(tr, head, w) == READY; tr->read++) out[n++] = unpack(w);
    return n;
}

/* ---- the message format ------------------------------------------------ */

#define TOKEN_CHECK 0x1BC0u

void viz_token_encode(const viz_token *t, void *buf, size_t len)
{
    unsigned char *b = buf;
    uint16_t check = (uint16_t)(t->producer ^ TOKEN_CHECK);
    memcpy(b, &t->producer, 2);
    memcpy(b + 2, &check, 2);
    memcpy(b + 4, &t->seq, 4);
    for (size_t i = VIZ_TOKEN_BYTES; i < len; i++) b[i] = (unsigned char)(t->seq + i);
}

viz_token viz_token_decode(const void *buf, size_t len)
{
    viz_token t = { .producer = VIZ_NO_PRODUCER };
    if (!buf || len < VIZ_TOKEN_BYTES) return t;
    uint16_t producer, check;
    memcpy(&producer, buf, 2);
    memcpy(&check, (const char *)buf + 2, 2);
    if ((uint16_t)(producer ^ TOKEN_CHECK) != check) return t;
    t.producer = producer;
    memcpy(&t.seq, (const char *)buf + 4, 4);
    return t;
}
