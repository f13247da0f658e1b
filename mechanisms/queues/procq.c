/*
 * procq.c — "procq", the counterpart of multiprocessing.Queue.
 *
 * multiprocessing.Queue is a pipe plus a lock, a semaphore and a hidden
 * feeder thread that pickles and writes in the background.  That design has
 * two famous costs: put() can fail silently (the error surfaces in the
 * feeder thread, not in the caller), and a process that still has data in
 * its feeder cannot be joined before the queue is drained.
 *
 * This queue is a monitor instead, placed in shared memory that fork()
 * hands to every child: a fixed array of `capacity` slots of `max_msg`
 * bytes, one robust process-shared mutex, and two wait points (not_empty,
 * not_full), each a futex word plus a count of sleepers.  put() copies the
 * message into a slot before it returns, so every failure is reported to
 * its caller and nothing is left in flight when a process exits.
 *
 * Why no condition variables.  glibc's process-shared condvar keeps every
 * waiter registered in a "group"; a waiter SIGKILLed in its sleep never
 * leaves it, and the next group switch (a later broadcast) waits for it
 * forever — holding our mutex (issue 12, defect 2).  The robust mutex does
 * not help: the condvar's own counters are not robust.  A wait point here is
 * state a dead process cannot corrupt, the core's futex wait point
 * (core/futex.h):
 *   seq      the futex word.  A sleeper registers and reads it under the
 *            lock, after its last check, then unlocks and sleeps "while seq
 *            still holds that value"; a waker changes the state under the
 *            lock and, after unlocking, bumps seq and wakes if anyone is
 *            registered: a change between the unlock and the sleep makes
 *            FUTEX_WAIT return at once, so no wakeup is lost.
 *   waiters  sleepers right now, so a waker skips the FUTEX_WAKE system call
 *            when nobody sleeps.
 *
 * What a dead process can and cannot break (SIGKILL at any instruction):
 *   - killed holding the mutex: the next locker gets it back (EOWNERDEAD,
 *     pthread_mutex_consistent).  The ring is consistent at every instant:
 *     a put copies into a free slot first and publishes with ONE store of
 *     the packed (head, count) word; a get reads its slot first and retires
 *     it with one store of the same word.  A death before that store leaves
 *     the message where it was (put: not sent; get: still queued), after
 *     it the call had happened.  The locker that found the holder dead also
 *     wakes every sleeper, in case the dead one changed state but died
 *     before its wake.
 *   - killed asleep (or between waiters++ and waiters--): `waiters` stays one
 *     too high.  Cost: wakers make a FUTEX_WAKE nobody needed.  Never a hang.
 *   - killed between its state change (lock released) and its FUTEX_WAKE:
 *     a sleeper misses that wake.  So no sleep lasts longer than
 *     PQ_RECHECK_NS (1 s): a sleeper re-checks the ring at least every
 *     second, and a dead waker costs a survivor at most that delay — and
 *     only a survivor with no other traffic.
 *   - what it cannot do: corrupt a message (slots are written only while
 *     free, under the lock) or make `count` exceed capacity.
 * What stays lost: the message a put was copying when its process died
 * (the put never returned, so nobody was told it was sent) and a get's
 * message after the retiring store (it was taken; the taker died).
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

/* A wait point (core/futex.h): seq, the futex word, and waiters, the
 * sleepers right now (one too high per dead one: a wasted wake, never a
 * lost one). */
typedef ipc_futex waitpoint;

/* head (the oldest message's slot) and count in ONE word, so that a put and
 * a get each publish with a single store a dying process either made or
 * did not make.  head < capacity <= 2^30, count <= capacity. */
#define HC(head, count) (((uint64_t)(head) << 32) | (uint64_t)(count))
#define HC_HEAD(hc)     ((size_t)((hc) >> 32))
#define HC_COUNT(hc)    ((size_t)((hc) & 0xffffffffu))

typedef struct procq_shared {
    pthread_mutex_t  lock;     /* robust: a dead holder is recoverable (top) */
    waitpoint        not_empty, not_full;
    size_t           capacity, slot_size;
    _Atomic uint64_t hc;       /* HC(head, count); written under lock       */
    _Atomic bool     shut;     /* written under lock, read anywhere         */
    _Alignas(64) unsigned char slots[];
} procq_shared;

typedef struct procq {
    ipc_channel   base;
    procq_shared *q;
    size_t        mapped;
} procq;

/* Slot i, for i < 2 * capacity (head < capacity and count <= capacity):
 * one compare instead of a division on every send and receive. */
static slot *slot_at(procq_shared *q, size_t i)
{
    if (i >= q->capacity) i -= q->capacity;
    return (slot *)(q->slots + i * q->slot_size);
}

/* RELAXED for hc and shut everywhere: every writer holds the lock and every
 * reader that acts on them holds it too (the mutex orders the slots' bytes
 * with them); depth() reads a hint. */
static uint64_t hc_of(procq_shared *q) { return atomic_load_explicit(&q->hc, memory_order_relaxed); }
static bool is_shut(procq_shared *q) { return atomic_load_explicit(&q->shut, memory_order_relaxed); }

/* ---- the wait points ---------------------------------------------------- */

/* After unlocking: wake every sleeper on wp, in any process, or return at
 * once when none is registered (core/futex.h).  A sleeper registered under
 * the lock before our change, so the unlock/lock pair already orders its
 * registration before this check. */
static void wake(waitpoint *wp) { ipc__futex_wake(wp, true); }

/* Take the lock (short-held: never held across a wait, so a nowait call
 * takes it too).  A holder that died: the ring is consistent (top), but it
 * may have changed state without waking anyone, so wake everyone. */
static int lock(procq_shared *q, const ipc_deadline *d)
{
    bool died = false;
    int r = ipc__lock_brief(&q->lock, d, &died);
    if (r == 0 && died) {
        ipc__futex_wake_always(&q->not_empty, true);
        ipc__futex_wake_always(&q->not_full, true);
    }
    return r;
}

/* Sleep on wp, the lock held on entry.  Returns with the lock held: 0 (look
 * again) or 1 (the deadline has passed: look once more, then give up); or a
 * negative IPC_E* with the lock NOT held. */
static int sleep_on(ipc_channel *ch, procq_shared *q, waitpoint *wp, const ipc_deadline *d,
                    enum ipc_event_kind kind)
{
    if (ipc__deadline_is_nowait(d) || ipc__deadline_passed(d)) return 1;
    ipc__blocked(ch, kind);
    bool died = false;
    int spun = ipc__monitor_spin(&q->lock, d, &died); /* SPIN/ADAPTIVE: a round first */
    if (spun == 0 && died) { /* retaken from a dead holder: as lock() does */
        ipc__futex_wake_always(&q->not_empty, true);
        ipc__futex_wake_always(&q->not_full, true);
    }
    if (spun != IPC__MONITOR_SLEEP) return spun;
    uint32_t seq = ipc__futex_prepare(wp); /* under the lock: see wake() */
    pthread_mutex_unlock(&q->lock);

    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += PQ_RECHECK_NS / 1000000000LL;
    if (!ipc__deadline_blocks_forever(d) &&
        (d->when.tv_sec < until.tv_sec || (d->when.tv_sec == until.tv_sec && d->when.tv_nsec < until.tv_nsec)))
        until = d->when;
    int r = ipc__futex_wait_until(wp, seq, true, &until); /* absolute: EINTR cannot stretch it */
    ipc__futex_done(wp);
    if (r < 0) return r; /* IPC_ESYS, the lock not held */
    int l = lock(q, &ipc__forever);
    if (l < 0) return l;
    return ipc__deadline_passed(d) ? 1 : 0;
}

/* ---- send and receive ---------------------------------------------------- */

static int pq_send(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    procq_shared *q = ((procq *)ch)->q;
    int r = lock(q, d);
    if (r == 1) return ipc__fail(IPC_EFULL, "procq: lock busy until the deadline");
    if (r < 0) return r;
    int rc = IPC_OK;
    for (;;) {
        if (is_shut(q)) { rc = ipc__fail(IPC_ECLOSED, "procq is shut down"); break; }
        if (HC_COUNT(hc_of(q)) < q->capacity) break;
        int w = sleep_on(ch, q, &q->not_full, d, IPC_EV_SEND_BLOCKED);
        if (w < 0) return w; /* the lock is gone with the error */
        if (w == 1 && !is_shut(q) && HC_COUNT(hc_of(q)) == q->capacity) {
            rc = ipc__fail(IPC_EFULL, "procq is full (%zu messages)", q->capacity);
            break;
        }
    }
    if (rc == IPC_OK) {
        uint64_t hc = hc_of(q);
        slot *s = slot_at(q, HC_HEAD(hc) + HC_COUNT(hc));
        s->len = (uint32_t)len;
        s->prio = prio;
        if (len) memcpy(s->data, msg, len);
        /* the one store that makes the message visible (see the top) */
        atomic_store_explicit(&q->hc, hc + 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&q->lock);
    if (rc == IPC_OK) wake(&q->not_empty);
    return rc;
}

static int pq_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    procq_shared *q = ((procq *)ch)->q;
    int r = lock(q, d);
    if (r == 1) return ipc__fail(IPC_EEMPTY, "procq: lock busy until the deadline");
    if (r < 0) return r;
    int rc = IPC_OK;
    while (HC_COUNT(hc_of(q)) == 0) {
        if (is_shut(q)) { rc = ipc__fail(IPC_ECLOSED, "procq is shut down and drained"); break; }
        int w = sleep_on(ch, q, &q->not_empty, d, IPC_EV_RECV_BLOCKED);
        if (w < 0) return w;
        if (w == 1 && HC_COUNT(hc_of(q)) == 0) {
            rc = is_shut(q) ? ipc__fail(IPC_ECLOSED, "procq is shut down and drained")
                            : ipc__fail(IPC_EEMPTY, "procq is empty");
            break;
        }
    }
    bool took = false;
    if (rc == IPC_OK) {
        uint64_t hc = hc_of(q);
        size_t head = HC_HEAD(hc);
        slot *s = slot_at(q, head);
        *len = s->len;
        if (s->len > cap) {
            rc = ipc__fail(IPC_EMSGSIZE, "message of %u bytes does not fit a %zu-byte buffer", s->len, cap);
        } else {
            if (s->len) memcpy(buf, s->data, s->len);
            *prio = s->prio;
            if (++head == q->capacity) head = 0;
            /* the one store that retires the message (see the top) */
            atomic_store_explicit(&q->hc, HC(head, HC_COUNT(hc) - 1), memory_order_relaxed);
            took = true;
        }
    }
    pthread_mutex_unlock(&q->lock);
    if (took) wake(&q->not_full);
    return rc;
}

static int pq_close(ipc_channel *ch)
{
    procq_shared *q = ((procq *)ch)->q;
    int r = lock(q, &ipc__forever);
    if (r < 0) return r;
    atomic_store_explicit(&q->shut, true, memory_order_relaxed);
    pthread_mutex_unlock(&q->lock);
    wake(&q->not_empty); /* wakes sleepers in every process */
    wake(&q->not_full);
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
    return (long)HC_COUNT(hc_of(((const procq *)ch)->q));
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
    int rc = ipc__shared_mutex_init(&q->lock);
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
    .summary = "process queue in shared memory (multiprocessing.Queue): robust mutex + futex wait points",
    .caps = IPC_CAP_THREADS | IPC_CAP_FORK | IPC_CAP_MPMC | IPC_CAP_BOUNDED | IPC_CAP_FIFO
          | IPC_CAP_CLOSE_WAKES,
    .max_msg_limit = 16u << 20, .default_max_msg = 64 * 1024, .default_capacity = 64,
    .wait_strategy = "robust mutex+futex", .ops = &procq_ops,
    .waits = IPC_WAITS_ALL, .wait_default = IPC_WAIT_BLOCK,
};
