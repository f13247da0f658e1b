/*
 * queue.c — queue.Queue, LifoQueue and PriorityQueue in C.
 *
 * Messages are copied in and out (a queue of bytes, not of pointers), so a
 * sender may reuse its buffer as soon as ipc_send returns.  Two designs:
 *
 * FIFO (queue.Queue): a two-lock ring (Michael & Scott's two-lock queue,
 * on an array).  Producers serialize on tail_lock and own `tail`;
 * consumers serialize on head_lock and own `head`; a producer and a
 * consumer never take the same lock, so neither ever waits for the
 * other's copy.  Both indices count messages since open (64 bits, never
 * wrap); message i lives in slots[i & mask].  The ring's invariants:
 *   head <= tail <= head + allocated, and tail - head <= capacity (bounded);
 *   slots in [head, tail) hold published messages, written only by the
 *   producer that reserved them (under tail_lock) BEFORE its RELEASE store
 *   of tail, and read by a consumer (under head_lock) AFTER its ACQUIRE
 *   load of tail; a slot is reused only after the consumer's RELEASE store
 *   of head that retires it.
 * Each side caches the other's index (head_cache under tail_lock,
 * tail_cache under head_lock) and re-reads the shared one only when the
 * cache says full or empty, so in a stream the index lines cross CPUs
 * once per batch, not per message (rigtorp's SPSCQueue does the same).
 * A slot holds up to INLINE bytes in place: no allocation per message at
 * any depth once the ring has grown to it; a larger message is copied
 * into its own allocation OUTSIDE every lock (and out again after the
 * consumer has released head_lock), so a 1 MiB memcpy never holds anyone up.
 * The ring grows (unbounded queue, or bounded one below its capacity) by
 * doubling, with both locks held (order: tail_lock, then head_lock; no
 * caller ever takes them the other way round).  It shrinks only when it
 * has been too big for a while: a consumer that finds the ring empty looks
 * at the deepest it saw since the last time it was empty (peak); once the
 * cycles of a whole SHRINK_AFTER_NS (1 s) have each used under a quarter of
 * a ring larger than SHRINK_MIN slots, it sizes the ring to twice the last
 * peak, if it can take tail_lock without waiting (trylock: the order is
 * kept).  A stream that refills the ring every cycle keeps it; a burst's
 * ring is given back a second after the burst; and since one thread on one
 * CPU often sees a single message at a time (its producer preempted by the
 * wake-up), shrinking at most once a second keeps that from becoming a
 * shrink-and-regrow churn.
 *
 * LIFO and PRIORITY: the classic monitor, one mutex guarding the storage
 * and two condition variables, "something to take" (not_empty) and "room
 * to put" (not_full) — exactly the structure of CPython's Lib/queue.py:
 *   LIFO      a stack                          (LifoQueue's list)
 *   PRIORITY  a binary max-heap on (prio, -seq) (PriorityQueue's heapq;
 *             the sequence number keeps equal priorities first-in first-out)
 * Small messages (up to SMALL bytes) live in blocks the queue recycles (it
 * keeps as many as it ever held at once, up to SHRINK_ABOVE: no allocation
 * per message once warm); a large one is allocated and copied outside the
 * lock.
 *
 * Waiting and waking (FIFO).  A side that finds the ring full or empty
 * releases its lock and waits on a latch (core/futex.h: not_full,
 * not_empty) under the handle's strategy: SPIN/ADAPTIVE look at the
 * indices without any lock or system call first.  A sender wakes
 * not_empty after publishing, a receiver not_full after retiring; the
 * latch makes that a fence and a load unless someone armed it since the
 * last wake, so a stream pays no wake-up system call while the other side
 * is awake, and one per sleep otherwise.  Close sets `shut` under
 * tail_lock (so no send can publish after a close has been seen) and wakes
 * both latches; a consumer that finds the ring empty and shut looks at tail
 * once more before it answers IPC_ECLOSED, so what was sent before the
 * close is always drained.
 *
 * task_done()/join() (all orders): `unfinished` is an atomic counter (a
 * send adds one BEFORE it publishes, so a task_done for that message can
 * never find it 0) and join() waits on the all_done latch.
 */
#define _GNU_SOURCE
#include "queues/thread_queue.h"
#include "../ipc_internal.h"

#include "core/futex.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Monitor blocks (LIFO, PRIORITY): SMALL bytes inline, SPARES_MAX kept.
 * FIFO slots: 256 bytes each (4 cache lines), INLINE of them payload;
 * FIFO_FIRST slots at open; SHRINK_MIN, SHRINK_ABOVE: see the top. */
enum { SMALL = 256, SPARES_MAX = 64 };
enum { FIFO_FIRST = 16, SHRINK_MIN = 4096, SHRINK_ABOVE = 1 << 16 };
#define SHRINK_AFTER_NS 1000000000LL

/* ---- FIFO storage ------------------------------------------------------ */

typedef struct fslot {
    size_t         len;
    int            prio;
    unsigned char *big;   /* len > INLINE: the message's own allocation */
    unsigned char  data[256 - sizeof(size_t) - sizeof(int) - 4 - sizeof(unsigned char *)];
} fslot;
#define INLINE sizeof(((fslot *)0)->data)
_Static_assert(sizeof(fslot) == 256, "a FIFO slot is four cache lines");

/* Groups that different threads write are kept 64 bytes apart (the
 * channel comes from calloc, so padding, not _Alignas, separates them). */
#define LINE_GAP(n) unsigned char gap##n[64]

typedef struct fifo {
    /* producers': tail_lock guards head_cache and every write of tail */
    pthread_mutex_t  tail_lock;
    uint64_t         head_cache;  /* a past value of head (<= head)           */
    LINE_GAP(0);
    /* written by the producer holding tail_lock, read by everyone */
    _Atomic uint64_t tail;
    LINE_GAP(1);
    /* consumers': head_lock guards tail_cache and every write of head */
    pthread_mutex_t  head_lock;
    uint64_t         tail_cache;  /* a past value of tail (<= tail)           */
    uint64_t         peak;        /* deepest seen since the ring was last empty */
    int64_t          used_ns;     /* when a cycle last used a quarter of the ring */
    LINE_GAP(2);
    _Atomic uint64_t head;
    LINE_GAP(3);
    /* the storage: changed only with both locks held (grow, shrink) */
    fslot           *slots;
    uint64_t         mask;        /* allocated - 1; allocated is a power of two */
    LINE_GAP(4);
    ipc_latch         not_empty;
    LINE_GAP(5);
    ipc_latch         not_full;
    LINE_GAP(6);
} fifo;

/* ---- monitor storage (LIFO, PRIORITY) ---------------------------------- */

typedef struct message {
    size_t          len;
    int             prio;
    uint64_t        seq;   /* insertion order: the priority tie-break */
    struct message *next;  /* in the spare list                       */
    unsigned char   data[]; /* SMALL bytes for a small block, else len */
} message;

typedef struct monitor {
    pthread_mutex_t lock;
    pthread_cond_t  not_empty, not_full;
    message       **slots;     /* stack (LIFO) or heap (PRIORITY)             */
    size_t          allocated; /* length of slots[]                           */
    atomic_size_t   count;     /* written under lock; read lock-free by qsize() */
    uint64_t        next_seq;
    message        *spares;     /* recycled small blocks (lock held)            */
    size_t          spare_count;
    size_t          peak;        /* the most messages ever queued (lock held)    */
} monitor;

typedef struct thread_queue {
    ipc_channel     base;
    int             order;
    /* RELAXED writes under tail_lock (FIFO) or the monitor's lock; read
     * anywhere.  FIFO readers look at tail again after seeing it (top). */
    _Atomic bool    shut;
    LINE_GAP(0);
    /* sent but not yet task_done() (top) */
    _Atomic size_t  unfinished;
    ipc_latch        all_done;
    union {
        fifo        f;
        monitor     m;
    };
} thread_queue;

static thread_queue *as_queue(ipc_channel *ch) { return (thread_queue *)ch; }

/* shut: RELAXED store under the lock that orders it (see thread_queue);
 * ACQUIRE load: a reader that sees it also sees what was published before
 * the close took that lock. */
static bool is_shut(const thread_queue *q)
{
    return atomic_load_explicit(&((thread_queue *)q)->shut, memory_order_acquire);
}

/* ---- FIFO -------------------------------------------------------------- */

static fslot *fslot_at(const fifo *f, uint64_t i) { return &f->slots[i & f->mask]; }

/* Both locks held: move the live messages into a ring of n slots. */
static int fifo_resize(fifo *f, uint64_t n)
{
    fslot *s = malloc(n * sizeof *s);
    if (!s) return ipc__fail(IPC_ESYS, "thread queue: malloc(%llu slots)", (unsigned long long)n);
    /* RELAXED: both locks are held, nobody else writes head or tail now */
    uint64_t h = atomic_load_explicit(&f->head, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&f->tail, memory_order_relaxed);
    for (uint64_t i = h; i < t; i++) {
        const fslot *from = fslot_at(f, i);
        fslot *to = &s[i & (n - 1)];
        to->len = from->len;
        to->prio = from->prio;
        to->big = from->big;
        if (!from->big && from->len) memcpy(to->data, from->data, from->len);
    }
    free(f->slots);
    f->slots = s;
    f->mask = n - 1;
    return IPC_OK;
}

typedef struct fifo_look { thread_queue *q; } fifo_look;

/* ready() for the latches, read without locks (hints; the caller looks
 * again under its lock).  ACQUIRE: pairs with the RELEASE stores of the
 * indices, so a "ready" is never older than what it reports. */
static bool fifo_has_data(void *arg)
{
    thread_queue *q = arg;
    return atomic_load_explicit(&q->f.tail, memory_order_acquire) !=
               atomic_load_explicit(&q->f.head, memory_order_acquire) || is_shut(q);
}

static bool fifo_has_room(void *arg)
{
    thread_queue *q = arg;
    return atomic_load_explicit(&q->f.tail, memory_order_acquire) -
               atomic_load_explicit(&q->f.head, memory_order_acquire) < q->base.capacity || is_shut(q);
}

/* tail_lock held, ring full at its current size: grow it (unbounded, or
 * bounded below capacity).  Takes head_lock (order: tail, then head). */
static int fifo_grow(fifo *f)
{
    pthread_mutex_lock(&f->head_lock);
    int rc = fifo_resize(f, (f->mask + 1) * 2);
    pthread_mutex_unlock(&f->head_lock);
    return rc;
}

static int fifo_send(thread_queue *q, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    fifo *f = &q->f;
    unsigned char *big = NULL;
    if (len > INLINE) { /* allocate and copy outside every lock */
        big = malloc(len);
        if (!big) return ipc__fail(IPC_ESYS, "thread queue: malloc(%zu)", len);
        memcpy(big, msg, len);
    }
    size_t cap = q->base.capacity;
    bool told = false;
    int rc = IPC_OK;
    pthread_mutex_lock(&f->tail_lock);
    for (;;) {
        if (atomic_load_explicit(&q->shut, memory_order_relaxed)) { /* RELAXED: written under this lock */
            rc = ipc__fail(IPC_ECLOSED, "queue is shut down");
            break;
        }
        /* RELAXED: only tail_lock's holder writes tail */
        uint64_t t = atomic_load_explicit(&f->tail, memory_order_relaxed);
        uint64_t limit = cap && cap <= f->mask + 1 ? cap : f->mask + 1;
        if (t - f->head_cache >= limit) /* ACQUIRE: the slots up to head are free */
            f->head_cache = atomic_load_explicit(&f->head, memory_order_acquire);
        if (t - f->head_cache < limit) break;
        if (!cap || t - f->head_cache < cap) { /* full at this size only: grow */
            rc = fifo_grow(f);
            if (rc != IPC_OK) break;
            continue;
        }
        if (ipc__deadline_is_nowait(d)) {
            rc = ipc__fail(IPC_EFULL, "queue is full (%zu messages)", cap);
            break;
        }
        /* Bounded and full: wait for room without the lock. */
        pthread_mutex_unlock(&f->tail_lock);
        if (!told) {
            ipc__blocked(&q->base, IPC_EV_SEND_BLOCKED);
            told = true;
        }
        int w = ipc__latch_await(&f->not_full, false, d, 0, fifo_has_room, q);
        if (w < 0) {
            free(big);
            return w;
        }
        pthread_mutex_lock(&f->tail_lock);
        if (w == 1) { /* the deadline passed: one last look */
            t = atomic_load_explicit(&f->tail, memory_order_relaxed);
            f->head_cache = atomic_load_explicit(&f->head, memory_order_acquire);
            if (atomic_load_explicit(&q->shut, memory_order_relaxed)) continue; /* ECLOSED above */
            if (t - f->head_cache < cap) continue;
            rc = ipc__fail(IPC_EFULL, "queue is full (%zu messages)", cap);
            break;
        }
    }
    if (rc == IPC_OK) {
        uint64_t t = atomic_load_explicit(&f->tail, memory_order_relaxed);
        fslot *s = fslot_at(f, t);
        s->len = len;
        s->prio = prio;
        s->big = big;
        if (!big && len) memcpy(s->data, msg, len);
        /* RELAXED: ordered before the publication by the RELEASE below */
        atomic_fetch_add_explicit(&q->unfinished, 1, memory_order_relaxed);
        /* RELEASE: the slot's bytes are visible before the message is */
        atomic_store_explicit(&f->tail, t + 1, memory_order_release);
    }
    pthread_mutex_unlock(&f->tail_lock);
    if (rc != IPC_OK) {
        free(big);
        return rc;
    }
    ipc__latch_wake(&f->not_empty, false); /* no system call unless someone sleeps */
    return IPC_OK;
}

/* head_lock held, the ring found empty: if the fill-and-drain cycles of
 * the last SHRINK_AFTER_NS all used under a quarter of a big ring, give
 * most of it back, provided tail_lock is free right now (trylock keeps the
 * lock order).  Starts a new cycle. */
static void fifo_idle(fifo *f)
{
    uint64_t size = f->mask + 1, peak = f->peak;
    f->peak = 0;
    if (size <= SHRINK_MIN) return;
    int64_t now = ipc_now_ns();
    if (peak >= size / 4 || f->used_ns == 0) { /* the ring is (or just got) this big for a reason */
        f->used_ns = now;
        return;
    }
    if (now - f->used_ns < SHRINK_AFTER_NS || pthread_mutex_trylock(&f->tail_lock) != 0) return;
    uint64_t n = FIFO_FIRST;
    while (n < 2 * peak) n *= 2;
    /* RELAXED: both locks held */
    if (atomic_load_explicit(&f->tail, memory_order_relaxed) == atomic_load_explicit(&f->head, memory_order_relaxed) &&
        fifo_resize(f, n) == IPC_OK) /* on failure the big ring simply stays */
        f->used_ns = 0;
    pthread_mutex_unlock(&f->tail_lock);
}

static int fifo_recv(thread_queue *q, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    fifo *f = &q->f;
    bool told = false, last_look = false;
    int rc;
    unsigned char *big = NULL;
    pthread_mutex_lock(&f->head_lock);
    for (;;) {
        /* RELAXED: only head_lock's holder writes head */
        uint64_t h = atomic_load_explicit(&f->head, memory_order_relaxed);
        if (h == f->tail_cache) /* ACQUIRE: the slots below tail are written */
            f->tail_cache = atomic_load_explicit(&f->tail, memory_order_acquire);
        if (h == f->tail_cache && is_shut(q)) /* the close may follow a last send: look again */
            f->tail_cache = atomic_load_explicit(&f->tail, memory_order_acquire);
        if (h != f->tail_cache) {
            fslot *s = fslot_at(f, h);
            *len = s->len;
            if (s->len > cap) { /* leave it queued; say how big it is */
                rc = ipc__fail(IPC_EMSGSIZE, "message of %zu bytes does not fit a %zu-byte buffer", s->len, cap);
                break;
            }
            if (prio) *prio = s->prio;
            big = s->big;
            if (!big && s->len) memcpy(buf, s->data, s->len);
            /* RELEASE: the slot is read before a producer may reuse it */
            atomic_store_explicit(&f->head, h + 1, memory_order_release);
            if (f->tail_cache - h > f->peak) f->peak = f->tail_cache - h;
            rc = IPC_OK;
            break;
        }
        if (is_shut(q)) {
            rc = ipc__fail(IPC_ECLOSED, "queue is shut down and drained");
            break;
        }
        fifo_idle(f);
        if (last_look || ipc__deadline_is_nowait(d)) {
            rc = ipc__fail(IPC_EEMPTY, "queue is empty");
            break;
        }
        pthread_mutex_unlock(&f->head_lock);
        if (!told) {
            ipc__blocked(&q->base, IPC_EV_RECV_BLOCKED);
            told = true;
        }
        int w = ipc__latch_await(&f->not_empty, false, d, 0, fifo_has_data, q);
        if (w < 0) return w;
        last_look = w == 1;
        pthread_mutex_lock(&f->head_lock);
    }
    pthread_mutex_unlock(&f->head_lock);
    if (rc != IPC_OK) return rc;
    if (big) { /* a large one: copy outside the lock */
        memcpy(buf, big, *len);
        free(big);
    }
    if (q->base.capacity) ipc__latch_wake(&f->not_full, false); /* unbounded: no sender ever waits */
    return IPC_OK;
}

/* Both locks held: drop every queued message; returns how many. */
static size_t fifo_discard(fifo *f)
{
    /* RELAXED: both locks held */
    uint64_t h = atomic_load_explicit(&f->head, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&f->tail, memory_order_relaxed);
    for (uint64_t i = h; i < t; i++) free(fslot_at(f, i)->big);
    /* RELEASE: as a receive retires a slot */
    atomic_store_explicit(&f->head, t, memory_order_release);
    f->tail_cache = t;
    return (size_t)(t - h);
}

static long fifo_depth(const thread_queue *q)
{
    /* RELAXED: a hint (qsize); head first, so the difference is never negative */
    uint64_t h = atomic_load_explicit(&((thread_queue *)q)->f.head, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&((thread_queue *)q)->f.tail, memory_order_acquire);
    return t > h ? (long)(t - h) : 0;
}

/* ---- monitor storage: two orders --------------------------------------- */

/* A small block from the spare list, or a new one (lock held; a miss only
 * happens until the queue is warm). */
static inline message *small_block(monitor *q)
{
    message *m = q->spares;
    if (m) {
        q->spares = m->next;
        q->spare_count--;
        return m;
    }
    return malloc(sizeof *m + SMALL);
}

/* Give a small block back (lock held).  The queue keeps as many spares as
 * it has ever held messages (at least SPARES_MAX, at most SHRINK_ABOVE), so
 * a queue that refills to its usual depth allocates nothing; past that,
 * really free it. */
static inline void recycle(monitor *q, message *m)
{
    size_t keep = q->peak < SPARES_MAX ? SPARES_MAX : q->peak < SHRINK_ABOVE ? q->peak : SHRINK_ABOVE;
    if (q->spare_count < keep) {
        m->next = q->spares;
        q->spares = m;
        q->spare_count++;
    } else {
        free(m);
    }
}

static bool higher(const message *a, const message *b)
{
    return a->prio != b->prio ? a->prio > b->prio : a->seq < b->seq;
}

static void heap_swap(message **s, size_t i, size_t j)
{
    message *t = s[i];
    s[i] = s[j];
    s[j] = t;
}

/* Make room for one more slot. */
static int grow(monitor *q)
{
    size_t count = atomic_load_explicit(&q->count, memory_order_relaxed);
    if (count < q->allocated) return IPC_OK;
    size_t n = q->allocated ? q->allocated * 2 : 16;
    message **s = realloc(q->slots, n * sizeof *s);
    if (!s) return ipc__fail(IPC_ESYS, "thread queue: malloc");
    q->slots = s;
    q->allocated = n;
    return IPC_OK;
}

static inline void store(monitor *q, int order, message *m)
{
    size_t count = atomic_load_explicit(&q->count, memory_order_relaxed);
    if (order == IPC_LIFO) {
        q->slots[count] = m;
    } else { /* sift up */
        size_t i = count;
        q->slots[i] = m;
        while (i > 0 && higher(q->slots[i], q->slots[(i - 1) / 2])) {
            heap_swap(q->slots, i, (i - 1) / 2);
            i = (i - 1) / 2;
        }
    }
    atomic_store_explicit(&q->count, count + 1, memory_order_relaxed);
    if (count + 1 > q->peak) q->peak = count + 1;
}

/* The message the next take() will return. */
static inline message *peek(const monitor *q, int order)
{
    size_t count = atomic_load_explicit(&q->count, memory_order_relaxed);
    return order == IPC_LIFO ? q->slots[count - 1] : q->slots[0];
}

static inline message *take(monitor *q, int order)
{
    message *m = peek(q, order);
    size_t count = atomic_load_explicit(&q->count, memory_order_relaxed) - 1;
    if (order == IPC_PRIORITY) { /* move the last leaf to the root, sift down */
        q->slots[0] = q->slots[count];
        for (size_t i = 0;;) {
            size_t l = 2 * i + 1, r = l + 1, best = i;
            if (l < count && higher(q->slots[l], q->slots[best])) best = l;
            if (r < count && higher(q->slots[r], q->slots[best])) best = r;
            if (best == i) break;
            heap_swap(q->slots, i, best);
            i = best;
        }
    }
    atomic_store_explicit(&q->count, count, memory_order_relaxed);
    return m;
}

/* 1 when the deadline passed (or nowait), 0 when woken: ipc__cond_wait on a
 * private mutex (no owner can die, so it never fails). */
static int wait_on(monitor *q, pthread_cond_t *cv, const ipc_deadline *d)
{
    return ipc__cond_wait(cv, &q->lock, d, NULL) == 1;
}

static inline bool is_full(const thread_queue *tq)
{
    return tq->base.capacity && atomic_load_explicit(&tq->m.count, memory_order_relaxed) >= tq->base.capacity;
}

static int mon_send(thread_queue *tq, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    monitor *q = &tq->m;
    message *m = NULL;
    if (len > SMALL) { /* allocate and copy outside the lock */
        m = malloc(sizeof *m + len);
        if (!m) return ipc__fail(IPC_ESYS, "thread queue: malloc(%zu)", len);
        memcpy(m->data, msg, len);
    }

    int rc = IPC_OK;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        if (atomic_load_explicit(&tq->shut, memory_order_relaxed)) { rc = ipc__fail(IPC_ECLOSED, "queue is shut down"); break; }
        if (!is_full(tq)) break;
        ipc__blocked(&tq->base, IPC_EV_SEND_BLOCKED);
        if (wait_on(q, &q->not_full, d)) {
            rc = atomic_load_explicit(&tq->shut, memory_order_relaxed) ? IPC_ECLOSED : IPC_EFULL;
            if (rc == IPC_EFULL && !is_full(tq)) rc = IPC_OK; /* room appeared as time ran out */
            if (rc != IPC_OK) ipc__fail(rc, "queue is %s", rc == IPC_EFULL ? "full" : "shut down");
            break;
        }
    }
    if (rc == IPC_OK) rc = grow(q);
    if (rc == IPC_OK && !m) {
        m = small_block(q);
        if (!m) rc = ipc__fail(IPC_ESYS, "thread queue: malloc");
        else if (len) memcpy(m->data, msg, len);
    }
    if (rc == IPC_OK) {
        m->len = len;
        m->prio = prio;
        m->seq = q->next_seq++;
        store(q, tq->order, m);
        /* RELAXED: the lock orders it with the message (top) */
        atomic_fetch_add_explicit(&tq->unfinished, 1, memory_order_relaxed);
        pthread_cond_signal(&q->not_empty); /* glibc: no system call without waiters */
    }
    pthread_mutex_unlock(&q->lock);
    if (rc != IPC_OK && len > SMALL) free(m);
    return rc;
}

static int mon_recv(thread_queue *tq, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    monitor *q = &tq->m;
    int rc = IPC_OK;
    message *m = NULL;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        if (atomic_load_explicit(&q->count, memory_order_relaxed) > 0) break;
        if (atomic_load_explicit(&tq->shut, memory_order_relaxed)) { rc = ipc__fail(IPC_ECLOSED, "queue is shut down and drained"); break; }
        ipc__blocked(&tq->base, IPC_EV_RECV_BLOCKED);
        if (wait_on(q, &q->not_empty, d) && atomic_load_explicit(&q->count, memory_order_relaxed) == 0) {
            rc = atomic_load_explicit(&tq->shut, memory_order_relaxed) ? IPC_ECLOSED : ipc__fail(IPC_EEMPTY, "queue is empty");
            break;
        }
    }
    if (rc == IPC_OK) {
        if (peek(q, tq->order)->len > cap) {      /* leave it queued; say how big it is */
            *len = peek(q, tq->order)->len;
            rc = ipc__fail(IPC_EMSGSIZE, "message of %zu bytes does not fit a %zu-byte buffer", *len, cap);
        } else {
            m = take(q, tq->order);
            *len = m->len;
            if (prio) *prio = m->prio;
            if (m->len <= SMALL) { /* copy out here, keep the block */
                if (m->len) memcpy(buf, m->data, m->len);
                recycle(q, m);
                m = NULL;
            }
            pthread_cond_signal(&q->not_full);
        }
    }
    pthread_mutex_unlock(&q->lock);
    if (m) { /* a large one: copy outside the lock */
        memcpy(buf, m->data, m->len);
        free(m);
    }
    return rc;
}

/* Lock held: drop every queued message; returns how many. */
static size_t mon_discard(thread_queue *tq)
{
    monitor *q = &tq->m;
    size_t n = 0;
    while (atomic_load_explicit(&q->count, memory_order_relaxed) > 0) {
        message *m = take(q, tq->order);
        if (m->len <= SMALL) recycle(q, m);
        else free(m);
        n++;
    }
    return n;
}

/* ---- ops --------------------------------------------------------------- */

static int tq_send(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    thread_queue *q = as_queue(ch);
    return q->order == IPC_FIFO ? fifo_send(q, msg, len, prio, d) : mon_send(q, msg, len, prio, d);
}

static int tq_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    thread_queue *q = as_queue(ch);
    return q->order == IPC_FIFO ? fifo_recv(q, buf, cap, len, prio, d) : mon_recv(q, buf, cap, len, prio, d);
}

/* `n` messages were discarded: they will never be task_done(). */
static void forget_tasks(thread_queue *q, size_t n)
{
    size_t u = atomic_load_explicit(&q->unfinished, memory_order_relaxed);
    /* RELAXED: the queue's lock(s) order it with the messages; the latch's
     * fence orders it with join's look */
    while (n && !atomic_compare_exchange_weak_explicit(&q->unfinished, &u, u > n ? u - n : 0,
                                                       memory_order_relaxed, memory_order_relaxed)) {}
    if (n && u <= n) ipc__latch_wake(&q->all_done, false);
}

static int tq_shutdown(thread_queue *q, bool immediate)
{
    if (q->order == IPC_FIFO) {
        pthread_mutex_lock(&q->f.tail_lock);
        /* RELAXED: under tail_lock, which every publishing send holds */
        atomic_store_explicit(&q->shut, true, memory_order_release);
        size_t n = 0;
        if (immediate) {
            pthread_mutex_lock(&q->f.head_lock);
            n = fifo_discard(&q->f);
            pthread_mutex_unlock(&q->f.head_lock);
        }
        pthread_mutex_unlock(&q->f.tail_lock);
        forget_tasks(q, n);
        ipc__latch_wake_always(&q->f.not_empty, false); /* everyone asleep wakes and looks again */
        ipc__latch_wake_always(&q->f.not_full, false);
        return IPC_OK;
    }
    pthread_mutex_lock(&q->m.lock);
    atomic_store_explicit(&q->shut, true, memory_order_release); /* RELEASE: see is_shut */
    size_t n = immediate ? mon_discard(q) : 0;
    pthread_cond_broadcast(&q->m.not_empty); /* everyone blocked wakes and re-checks */
    pthread_cond_broadcast(&q->m.not_full);
    pthread_mutex_unlock(&q->m.lock);
    forget_tasks(q, n);
    return IPC_OK;
}

static int tq_close(ipc_channel *ch) { return tq_shutdown(as_queue(ch), false); }

static void tq_free(ipc_channel *ch)
{
    thread_queue *q = as_queue(ch);
    if (q->order == IPC_FIFO) {
        fifo_discard(&q->f);
        free(q->f.slots);
        pthread_mutex_destroy(&q->f.tail_lock);
        pthread_mutex_destroy(&q->f.head_lock);
    } else {
        monitor *m = &q->m;
        while (atomic_load_explicit(&m->count, memory_order_relaxed) > 0) free(take(m, q->order));
        while (m->spares) {
            message *b = m->spares;
            m->spares = b->next;
            free(b);
        }
        free(m->slots);
        pthread_cond_destroy(&m->not_empty);
        pthread_cond_destroy(&m->not_full);
        pthread_mutex_destroy(&m->lock);
    }
    free(q);
}

static long tq_depth(const ipc_channel *ch)
{
    const thread_queue *q = (const thread_queue *)ch;
    if (q->order == IPC_FIFO) return fifo_depth(q);
    return (long)atomic_load_explicit(&((thread_queue *)q)->m.count, memory_order_relaxed);
}

static int tq_open(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out);

static const struct ipc_ops thread_queue_ops = {
    .open = tq_open, .send = tq_send, .recv = tq_recv, .close = tq_close,
    .free = tq_free, .pollfd = NULL, .depth = tq_depth,
};

#define THREAD_QUEUE_CAPS (IPC_CAP_THREADS | IPC_CAP_MPMC | IPC_CAP_BOUNDED | IPC_CAP_CLOSE_WAKES)

const ipc_mechanism ipc_mech_queue = {
    .name = "queue", .family = "queues",
    .family_id = IPC_FAMILY_QUEUES, .carrier = IPC_CARRIER_MONITOR, .variant = IPC_FIFO,
    .summary = "thread queue, FIFO (queue.Queue): two-lock ring, futex latches",
    .caps = THREAD_QUEUE_CAPS | IPC_CAP_FIFO,
    .max_msg_limit = (size_t)1 << 30, .default_max_msg = 1 << 20, .default_capacity = 0,
    .wait_strategy = "two locks+futex", .ops = &thread_queue_ops,
    .waits = IPC_WAITS_ALL, .wait_default = IPC_WAIT_BLOCK,
};
const ipc_mechanism ipc_mech_lifo = {
    .name = "lifo", .family = "queues",
    .family_id = IPC_FAMILY_QUEUES, .carrier = IPC_CARRIER_MONITOR, .variant = IPC_LIFO,
    .summary = "thread queue, last in first out (queue.LifoQueue)",
    .caps = THREAD_QUEUE_CAPS | IPC_CAP_LIFO,
    .max_msg_limit = (size_t)1 << 30, .default_max_msg = 1 << 20, .default_capacity = 0,
    .wait_strategy = "mutex+condvar", .ops = &thread_queue_ops,
    .waits = IPC_WAITS_ALL, .wait_default = IPC_WAIT_BLOCK,
};
const ipc_mechanism ipc_mech_priority = {
    .name = "priority", .family = "queues",
    .family_id = IPC_FAMILY_QUEUES, .carrier = IPC_CARRIER_MONITOR, .variant = IPC_PRIORITY,
    .summary = "thread queue, highest prio first, FIFO among equals (queue.PriorityQueue)",
    .caps = THREAD_QUEUE_CAPS | IPC_CAP_PRIORITY,
    .max_msg_limit = (size_t)1 << 30, .default_max_msg = 1 << 20, .default_capacity = 0,
    .wait_strategy = "mutex+condvar", .ops = &thread_queue_ops,
    .waits = IPC_WAITS_ALL, .wait_default = IPC_WAIT_BLOCK,
};

static int fifo_open(fifo *f)
{
    f->slots = malloc(FIFO_FIRST * sizeof *f->slots);
    if (!f->slots) return ipc__fail(IPC_ESYS, "thread queue: malloc(%d slots)", FIFO_FIRST);
    f->mask = FIFO_FIRST - 1;
    int rc = ipc__mutex_init(&f->tail_lock, false);
    if (rc == IPC_OK && (rc = ipc__mutex_init(&f->head_lock, false)) != IPC_OK)
        pthread_mutex_destroy(&f->tail_lock);
    if (rc != IPC_OK) free(f->slots);
    return rc;
}

static int monitor_open(monitor *q)
{
    int rc = ipc__mutex_init(&q->lock, false);
    if (rc == IPC_OK && (rc = ipc__cond_init(&q->not_empty, false)) != IPC_OK) pthread_mutex_destroy(&q->lock);
    if (rc == IPC_OK && (rc = ipc__cond_init(&q->not_full, false)) != IPC_OK) {
        pthread_cond_destroy(&q->not_empty);
        pthread_mutex_destroy(&q->lock);
    }
    return rc;
}

static int tq_open(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out)
{
    thread_queue *q = ipc__channel_alloc(sizeof *q, m, cfg); /* zeroed */
    if (!q) return IPC_ESYS;
    /* The mechanism fixes the order (dispatch allows no other): the three
     * descriptors share these ops, and each one's variant is its order. */
    q->order = m->variant;
    int rc = q->order == IPC_FIFO ? fifo_open(&q->f) : monitor_open(&q->m);
    if (rc != IPC_OK) {
        free(q);
        return rc;
    }
    *out = &q->base;
    return IPC_OK;
}

/* ---- the extras -------------------------------------------------------- */

static thread_queue *checked(const ipc_channel *ch)
{
    const ipc_mechanism *m = ipc_channel_mechanism(ch);
    if (m && m->ops == &thread_queue_ops)
        return (thread_queue *)ch;
    ipc__fail(IPC_EINVAL, "not an open thread queue (queue, lifo or priority)");
    return NULL;
}

int ipc_queue_task_done(ipc_channel *ch)
{
    thread_queue *q = checked(ch);
    if (!q) return IPC_EINVAL;
    /* RELAXED: a counter; join's latch orders its last look */
    size_t u = atomic_load_explicit(&q->unfinished, memory_order_relaxed);
    do {
        if (u == 0) return ipc__fail(IPC_EINVAL, "task_done() called more times than there were messages");
    } while (!atomic_compare_exchange_weak_explicit(&q->unfinished, &u, u - 1, memory_order_relaxed,
                                                    memory_order_relaxed));
    if (u == 1) ipc__latch_wake(&q->all_done, false);
    return IPC_OK;
}

static bool all_done(void *arg)
{
    /* ACQUIRE: pairs with nothing in particular; a hint read (join looks again) */
    return atomic_load_explicit(&((thread_queue *)arg)->unfinished, memory_order_acquire) == 0;
}

int ipc_queue_join(ipc_channel *ch, int timeout_ms)
{
    thread_queue *q = checked(ch);
    if (!q) return IPC_EINVAL;
    ipc_deadline d;
    int rc = ipc__deadline_begin(&d, timeout_ms, "ipc_queue_join");
    if (rc != IPC_OK) return rc;
    /* join is not a channel call: it waits the plain way (BLOCK), so the
     * deadline carries no strategy */
    d.w = NULL;
    while (!all_done(q)) {
        int w = ipc__latch_await(&q->all_done, false, &d, 0, all_done, q);
        if (w < 0) return w;
        if (w == 1 && !all_done(q))
            return ipc__fail(IPC_ETIMEDOUT, "join timed out with %zu unfinished tasks",
                             atomic_load_explicit(&q->unfinished, memory_order_relaxed));
    }
    return IPC_OK;
}

long ipc_queue_qsize(const ipc_channel *ch)
{
    const thread_queue *q = checked(ch);
    return q ? tq_depth(ch) : IPC_EINVAL;
}

bool ipc_queue_empty(const ipc_channel *ch) { return ipc_queue_qsize(ch) == 0; }

bool ipc_queue_full(const ipc_channel *ch)
{
    const thread_queue *q = checked(ch);
    return q && q->base.capacity && (size_t)tq_depth(ch) >= q->base.capacity;
}

static int shutdown_op(ipc_channel *ch, void *immediate)
{
    return tq_shutdown(as_queue(ch), *(const bool *)immediate);
}

/* Through dispatch (ipc__close_via): the handle is marked closed and the
 * observer hears IPC_EV_CLOSE, exactly as for ipc_close.  Python allows
 * shutdown(immediate=True) after shutdown(): the second call still
 * discards what is queued. */
int ipc_queue_shutdown(ipc_channel *ch, bool immediate)
{
    thread_queue *q = checked(ch);
    if (!q) return IPC_EINVAL;
    int rc = ipc__close_via(ch, shutdown_op, &immediate);
    if (rc == IPC_OK && immediate) rc = tq_shutdown(q, true); /* already closed: discard now */
    return rc;
}
