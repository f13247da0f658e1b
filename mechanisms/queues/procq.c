/*
 * procq.c — "procq", the counterpart of multiprocessing.Queue.
 *
 * multiprocessing.Queue is a pipe plus a lock, a semaphore and a hidden
 * feeder thread that pickles and writes in the background.  That design has
 * two famous costs: put() can fail silently (the error surfaces in the
 * feeder thread, not in the caller), and a process that still has data in
 * its feeder cannot be joined before the queue is drained.
 *
 * This queue lives in shared memory that fork() hands to every child: a
 * fixed array of `capacity` slots of `max_msg` bytes, and a two-lock ring
 * over it (the thread queue's FIFO design, queue.c): producers serialize on
 * a robust process-shared tail_lock and own the `tail` word, consumers on a
 * robust head_lock and own `head`, so a sender never waits for a receiver's
 * copy nor the other way round, and each side caches the other's word
 * (re-read only when the cache says full or empty).  put() copies the
 * message into its slot before it returns, so every failure is reported to
 * its caller and nothing is left in flight when a process exits.
 *
 * Why no condition variables.  glibc's process-shared condvar keeps every
 * waiter registered in a "group"; a waiter SIGKILLed in its sleep never
 * leaves it, and the next group switch (a later broadcast) waits for it
 * forever — holding our mutex (issue 12, defect 2).  The robust mutex does
 * not help: the condvar's own counters are not robust.  A wait point here is
 * state a dead process cannot corrupt, the core's latch (core/futex.h):
 * a futex word `seq` and a flag `armed` that a sleeper sets right before
 * its last look at the ring.  A waker publishes, then makes the FUTEX_WAKE
 * system call only if it finds armed set (and clears it): no system call
 * while nobody sleeps, and one per round of sleepers, not one per message
 * while a woken sleeper waits for its CPU.
 *
 * The ring's words.  tail = (slot of the next put << 32) | puts mod 2^32,
 * head = (slot of the next get << 32) | gets mod 2^32; the count is the
 * difference of the low halves (capacity <= 2^30).  Each word is written
 * only under its lock, with ONE store, so a dying process either made it
 * or did not.  A put writes its slot, then stores tail (RELEASE); a get
 * loads tail (ACQUIRE), reads its slot, then stores head (RELEASE), and a
 * put reuses a slot only after loading that head (ACQUIRE).
 *
 * What a dead process can and cannot break (SIGKILL at any instruction):
 *   - killed holding a lock: the next locker gets it back (EOWNERDEAD,
 *     pthread_mutex_consistent).  The ring is consistent at every instant:
 *     a death before the one store of tail (put) or head (get) leaves the
 *     message where it was (put: not sent; get: still queued), after it
 *     the call had happened.  The locker that found the holder dead also
 *     wakes every sleeper, in case the dead one changed state but died
 *     before its wake.
 *   - killed asleep (armed set): one needless wake-up later.  Never a hang.
 *   - killed between its store (lock released) and its wake: a sleeper
 *     misses that wake.  So no sleep lasts longer than PQ_RECHECK_NS (1 s):
 *     a sleeper re-checks the ring at least every second, and a dead waker
 *     costs a survivor at most that delay — and only a survivor with no
 *     other traffic.
 *   - what it cannot do: corrupt a message (a slot is written only while
 *     free, under tail_lock, read only while published, under head_lock) or
 *     make the count exceed capacity.
 * What stays lost: the message a put was copying when its process died
 * (the put never returned, so nobody was told it was sent) and a get's
 * message after the retiring store (it was taken; the taker died).
 *
 * Close takes tail_lock to set `shut`, so no put publishes after a close
 * has been seen; a get that finds the ring empty and shut loads tail once
 * more before it answers IPC_ECLOSED, so what was put before is drained.
 */
#define _GNU_SOURCE
#include "../ipc_internal.h"

#include "core/futex.h"

#include <stdlib.h>
#include <string.h>

/* The longest a sleeper goes without looking at the ring (see the top). */
#define PQ_RECHECK_NS 1000000000LL

typedef struct slot {
    uint32_t      len;
    int32_t       prio;
    unsigned char data[]; /* max_msg bytes */
} slot;

/* A ring word: the slot of the next operation and the operations so far
 * (mod 2^32), in ONE 64-bit word (see the top). */
#define W(pos, n)   (((uint64_t)(pos) << 32) | (uint32_t)(n))
#define W_POS(w)    ((size_t)((w) >> 32))
#define W_N(w)      ((uint32_t)(w))
/* Messages between a head word and a tail word. */
static inline size_t span(uint64_t tail, uint64_t head) { return (uint32_t)(W_N(tail) - W_N(head)); }

/* Groups that different processes write are kept a cache line apart. */
#define LINE_GAP(n) unsigned char gap##n[64]

typedef struct procq_shared {
    /* producers': tail_lock (robust) guards head_cache and every write of tail */
    pthread_mutex_t  tail_lock;
    uint64_t         head_cache;  /* a past head word */
    LINE_GAP(0);
    _Atomic uint64_t tail;
    LINE_GAP(1);
    /* consumers': head_lock (robust) guards tail_cache and every write of head */
    pthread_mutex_t  head_lock;
    uint64_t         tail_cache;  /* a past tail word */
    LINE_GAP(2);
    _Atomic uint64_t head;
    LINE_GAP(3);
    ipc_latch        not_empty;
    LINE_GAP(4);
    ipc_latch        not_full;
    LINE_GAP(5);
    size_t           capacity, slot_size;
    _Atomic bool     shut;        /* written under tail_lock (see the top) */
    _Alignas(64) unsigned char slots[];
} procq_shared;

typedef struct procq {
    ipc_channel   base;
    procq_shared *q;
    size_t        mapped;
} procq;

static slot *slot_at(procq_shared *q, size_t pos) { return (slot *)(q->slots + pos * q->slot_size); }

static inline uint64_t advance(const procq_shared *q, uint64_t w)
{
    size_t pos = W_POS(w) + 1;
    return W(pos == q->capacity ? 0 : pos, W_N(w) + 1);
}

/* ACQUIRE: a reader that sees shut also sees every put published before
 * the close took tail_lock (the close's RELEASE store). */
static bool is_shut(procq_shared *q) { return atomic_load_explicit(&q->shut, memory_order_acquire); }

/* ---- locks and wait points ---------------------------------------------- */

/* Take one of the two locks (short-held: never held across a wait, so a
 * nowait call takes it too).  A holder that died: the ring is consistent
 * (top), but it may have changed state without waking anyone, so wake
 * everyone.  0 locked, 1 the deadline passed, or IPC_ESYS. */
static int lock(procq_shared *q, pthread_mutex_t *m, const ipc_deadline *d)
{
    bool died = false;
    int r = ipc__lock_brief(m, d, &died);
    if (r == 0 && died) {
        ipc__latch_wake_always(&q->not_empty, true);
        ipc__latch_wake_always(&q->not_full, true);
    }
    return r;
}

/* ready() of the latches: lock-free hints (the caller looks again under
 * its lock).  ACQUIRE: pairs with the RELEASE stores of the words. */
static bool has_data(void *arg)
{
    procq_shared *q = arg;
    return span(atomic_load_explicit(&q->tail, memory_order_acquire),
                atomic_load_explicit(&q->head, memory_order_acquire)) > 0 || is_shut(q);
}

static bool has_room(void *arg)
{
    procq_shared *q = arg;
    return span(atomic_load_explicit(&q->tail, memory_order_acquire),
                atomic_load_explicit(&q->head, memory_order_acquire)) < q->capacity || is_shut(q);
}

/* ---- send and receive ---------------------------------------------------- */

static int pq_send(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    procq_shared *q = ((procq *)ch)->q;
    int r = lock(q, &q->tail_lock, d);
    if (r == 1) return ipc__fail(IPC_EFULL, "procq: lock busy until the deadline");
    if (r < 0) return r;
    bool told = false, last_look = false;
    int rc = IPC_OK;
    uint64_t t = 0;
    for (;;) {
        if (is_shut(q)) { rc = ipc__fail(IPC_ECLOSED, "procq is shut down"); break; }
        /* RELAXED: only tail_lock's holder writes tail */
        t = atomic_load_explicit(&q->tail, memory_order_relaxed);
        if (span(t, q->head_cache) >= q->capacity) /* ACQUIRE: slots before head are free */
            q->head_cache = atomic_load_explicit(&q->head, memory_order_acquire);
        if (span(t, q->head_cache) < q->capacity) break;
        if (last_look || ipc__deadline_is_nowait(d)) {
            rc = ipc__fail(IPC_EFULL, "procq is full (%zu messages)", q->capacity);
            break;
        }
        pthread_mutex_unlock(&q->tail_lock);
        if (!told) {
            ipc__blocked(ch, IPC_EV_SEND_BLOCKED);
            told = true;
        }
        int w = ipc__latch_await(&q->not_full, true, d, PQ_RECHECK_NS, has_room, q);
        if (w < 0) return w;
        last_look = w == 1;
        r = lock(q, &q->tail_lock, &ipc__forever);
        if (r < 0) return r;
    }
    if (rc == IPC_OK) {
        slot *s = slot_at(q, W_POS(t));
        s->len = (uint32_t)len;
        s->prio = prio;
        if (len) memcpy(s->data, msg, len);
        /* RELEASE: the one store that makes the message visible, after its bytes */
        atomic_store_explicit(&q->tail, advance(q, t), memory_order_release);
    }
    pthread_mutex_unlock(&q->tail_lock);
    if (rc == IPC_OK) ipc__latch_wake(&q->not_empty, true); /* no system call unless someone sleeps */
    return rc;
}

static int pq_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    procq_shared *q = ((procq *)ch)->q;
    int r = lock(q, &q->head_lock, d);
    if (r == 1) return ipc__fail(IPC_EEMPTY, "procq: lock busy until the deadline");
    if (r < 0) return r;
    bool told = false, last_look = false;
    int rc;
    for (;;) {
        /* RELAXED: only head_lock's holder writes head */
        uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
        if (span(q->tail_cache, h) == 0) /* ACQUIRE: slots before tail are written */
            q->tail_cache = atomic_load_explicit(&q->tail, memory_order_acquire);
        if (span(q->tail_cache, h) == 0 && is_shut(q)) /* a put may precede the close: look again */
            q->tail_cache = atomic_load_explicit(&q->tail, memory_order_acquire);
        if (span(q->tail_cache, h) > 0) {
            slot *s = slot_at(q, W_POS(h));
            *len = s->len;
            if (s->len > cap) {
                rc = ipc__fail(IPC_EMSGSIZE, "message of %u bytes does not fit a %zu-byte buffer", s->len, cap);
                break;
            }
            if (s->len) memcpy(buf, s->data, s->len);
            *prio = s->prio;
            /* RELEASE: the one store that retires the message, after its bytes were read */
            atomic_store_explicit(&q->head, advance(q, h), memory_order_release);
            rc = IPC_OK;
            break;
        }
        if (is_shut(q)) { rc = ipc__fail(IPC_ECLOSED, "procq is shut down and drained"); break; }
        if (last_look || ipc__deadline_is_nowait(d)) { rc = ipc__fail(IPC_EEMPTY, "procq is empty"); break; }
        pthread_mutex_unlock(&q->head_lock);
        if (!told) {
            ipc__blocked(ch, IPC_EV_RECV_BLOCKED);
            told = true;
        }
        int w = ipc__latch_await(&q->not_empty, true, d, PQ_RECHECK_NS, has_data, q);
        if (w < 0) return w;
        last_look = w == 1;
        r = lock(q, &q->head_lock, &ipc__forever);
        if (r < 0) return r;
    }
    pthread_mutex_unlock(&q->head_lock);
    if (rc == IPC_OK) ipc__latch_wake(&q->not_full, true);
    return rc;
}

static int pq_close(ipc_channel *ch)
{
    procq_shared *q = ((procq *)ch)->q;
    int r = lock(q, &q->tail_lock, &ipc__forever);
    if (r < 0) return r;
    /* RELEASE: under tail_lock, after every put that published (see is_shut) */
    atomic_store_explicit(&q->shut, true, memory_order_release);
    pthread_mutex_unlock(&q->tail_lock);
    ipc__latch_wake_always(&q->not_empty, true); /* wakes sleepers in every process */
    ipc__latch_wake_always(&q->not_full, true);
    return IPC_OK;
}

static void pq_free(ipc_channel *ch)
{
    procq *p = (procq *)ch;
    /* No pthread_mutex_destroy: other processes may still use it; the
     * mapping disappears with its last holder. */
    ipc__shared_free(p->q, p->mapped);
    free(p);
}

static long pq_depth(const ipc_channel *ch)
{
    procq_shared *q = ((const procq *)ch)->q;
    /* RELAXED: a hint (qsize); head first, so the count is never negative */
    uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    size_t n = span(atomic_load_explicit(&q->tail, memory_order_acquire), h);
    return (long)(n > q->capacity ? q->capacity : n);
}

static int pq_open(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out)
{
    size_t slot_size = (sizeof(slot) + cfg->max_msg + 63) & ~(size_t)63;
    if (cfg->capacity > ((size_t)1 << 30) / slot_size)
        return ipc__fail(IPC_EINVAL, "procq: capacity %zu x max_msg %zu exceeds 1 GiB of shared memory",
                         cfg->capacity, cfg->max_msg);
    procq *p = ipc__channel_alloc(sizeof *p, m, cfg);
    if (!p) return IPC_ESYS;
    p->mapped = sizeof(procq_shared) + cfg->capacity * slot_size;
    p->q = ipc__shared_alloc(p->mapped); /* zeroed: empty, not shut, no sleepers */
    if (!p->q) {
        free(p);
        return IPC_ESYS;
    }
    procq_shared *q = p->q;
    q->capacity = cfg->capacity;
    q->slot_size = slot_size;
    int rc = ipc__shared_mutex_init(&q->tail_lock);
    if (rc == IPC_OK && (rc = ipc__shared_mutex_init(&q->head_lock)) != IPC_OK)
        pthread_mutex_destroy(&q->tail_lock);
    if (rc != IPC_OK) {
        ipc__shared_free(p->q, p->mapped);
        free(p);
        return rc;
    }
    *out = &p->base;
    return IPC_OK;
}

static const struct ipc_ops procq_ops = {
    .open = pq_open, .send = pq_send, .recv = pq_recv, .close = pq_close,
    .free = pq_free, .pollfd = NULL, .depth = pq_depth,
};

const ipc_mechanism ipc_mech_procq = {
    .name = "procq", .family = "queues",
    .family_id = IPC_FAMILY_QUEUES, .carrier = IPC_CARRIER_MONITOR,
    .summary = "process queue in shared memory (multiprocessing.Queue): two robust locks + futex latches",
    .caps = IPC_CAP_THREADS | IPC_CAP_FORK | IPC_CAP_MPMC | IPC_CAP_BOUNDED | IPC_CAP_FIFO
          | IPC_CAP_CLOSE_WAKES,
    .max_msg_limit = 16u << 20, .default_max_msg = 64 * 1024, .default_capacity = 64,
    .wait_strategy = "robust locks+futex", .ops = &procq_ops,
    .waits = IPC_WAITS_ALL, .wait_default = IPC_WAIT_BLOCK,
};
