/*
 * process_queue.c — "procq", the counterpart of multiprocessing.Queue.
 *
 * multiprocessing.Queue is a pipe plus a lock, a semaphore and a hidden
 * feeder thread that pickles and writes in the background.  That design has
 * two famous costs: put() can fail silently (the error surfaces in the
 * feeder thread, not in the caller), and a process that still has data in
 * its feeder cannot be joined before the queue is drained.
 *
 * This queue is the textbook monitor instead, placed in shared memory that
 * fork() hands to every child: a fixed array of `capacity` slots of
 * `max_msg` bytes, one robust process-shared mutex, and two process-shared
 * condition variables.  put() copies the message into a slot before it
 * returns, so every failure is reported to its caller and nothing is left
 * in flight when a process exits.
 *
 * Robustness: if a process dies holding the mutex, the next locker gets it
 * back (EOWNERDEAD).  State changes are ordered so that a death at any point
 * leaves the ring consistent: the message is copied into its slot before
 * `count` makes it visible.  Wakeups use broadcast, not signal: a waiter
 * killed while asleep could otherwise swallow the one wakeup meant for a
 * live process.
 */
#define _GNU_SOURCE
#include "../ipc_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct slot {
    uint32_t      len;
    int32_t       prio;
    unsigned char data[]; /* max_msg bytes */
} slot;

typedef struct procq_shared {
    pthread_mutex_t lock;
    pthread_cond_t  not_empty, not_full;
    size_t          capacity, slot_size;
    size_t          head, count; /* guarded by lock */
    bool            shut;        /* guarded by lock */
    atomic_long     depth;       /* copy of count for lock-free qsize()  */
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

/* Take the lock; a dead previous holder is survivable here (see top). */
static int lock(procq_shared *q, const ipc_deadline *d)
{
    return ipc__lock_brief(&q->lock, d, NULL);
}

static int pq_send(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    procq_shared *q = ((procq *)ch)->q;
    int r = lock(q, d);
    if (r == 1) return ipc__fail(IPC_EFULL, "procq: lock busy until the deadline");
    if (r < 0) return r;
    int rc = IPC_OK;
    while (!q->shut && q->count == q->capacity) {
        ipc__blocked(ch, IPC_EV_SEND_BLOCKED);
        int w = ipc__cond_wait(&q->not_full, &q->lock, d, NULL);
        if (w < 0) return w; /* the lock is gone with the error */
        if (w == 1 && q->count == q->capacity && !q->shut) {
            rc = ipc__fail(IPC_EFULL, "procq is full (%zu messages)", q->capacity);
            break;
        }
    }
    if (rc == IPC_OK && q->shut) rc = ipc__fail(IPC_ECLOSED, "procq is shut down");
    if (rc == IPC_OK) {
        slot *s = slot_at(q, q->head + q->count);
        s->len = (uint32_t)len;
        s->prio = prio;
        if (len) memcpy(s->data, msg, len);
        q->count++; /* only now is the message visible */
        atomic_store_explicit(&q->depth, (long)q->count, memory_order_relaxed);
        pthread_cond_broadcast(&q->not_empty);
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

static int pq_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    procq_shared *q = ((procq *)ch)->q;
    int r = lock(q, d);
    if (r == 1) return ipc__fail(IPC_EEMPTY, "procq: lock busy until the deadline");
    if (r < 0) return r;
    int rc = IPC_OK;
    while (q->count == 0) {
        if (q->shut) { rc = ipc__fail(IPC_ECLOSED, "procq is shut down and drained"); break; }
        ipc__blocked(ch, IPC_EV_RECV_BLOCKED);
        int w = ipc__cond_wait(&q->not_empty, &q->lock, d, NULL);
        if (w < 0) return w;
        if (w == 1 && q->count == 0) {
            rc = q->shut ? ipc__fail(IPC_ECLOSED, "procq is shut down and drained")
                         : ipc__fail(IPC_EEMPTY, "procq is empty");
            break;
        }
    }
    if (rc == IPC_OK) {
        slot *s = slot_at(q, q->head);
        *len = s->len;
        if (s->len > cap) {
            rc = ipc__fail(IPC_EMSGSIZE, "message of %u bytes does not fit a %zu-byte buffer", s->len, cap);
        } else {
            if (s->len) memcpy(buf, s->data, s->len);
            *prio = s->prio;
            if (++q->head == q->capacity) q->head = 0;
            q->count--;
            atomic_store_explicit(&q->depth, (long)q->count, memory_order_relaxed);
            pthread_cond_broadcast(&q->not_full);
        }
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

static int pq_close(ipc_channel *ch)
{
    procq_shared *q = ((procq *)ch)->q;
    int r = lock(q, &ipc__forever);
    if (r < 0) return r;
    q->shut = true;
    pthread_cond_broadcast(&q->not_empty); /* wakes waiters in every process */
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
    return IPC_OK;
}

static void pq_free(ipc_channel *ch)
{
    procq *p = (procq *)ch;
    /* No pthread_*_destroy: other processes may still use the objects; the
     * mapping disappears with its last holder. */
    ipc__shared_free(p->q, p->mapped);
    free(p);
}

static long pq_depth(const ipc_channel *ch)
{
    return atomic_load_explicit(&((const procq *)ch)->q->depth, memory_order_relaxed);
}

static int pq_open(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out)
{
    if (cfg->name || cfg->endpoint)
        return ipc__fail(IPC_EINVAL, "procq: shared by inheritance only; it has no name");
    size_t slot_size = (sizeof(slot) + cfg->max_msg + 63) & ~(size_t)63;
    if (cfg->capacity > ((size_t)1 << 30) / slot_size)
        return ipc__fail(IPC_EINVAL, "procq: capacity %zu x max_msg %zu exceeds 1 GiB of shared memory",
                         cfg->capacity, cfg->max_msg);
    procq *p = ipc__channel_alloc(sizeof *p, m, cfg);
    if (!p) return IPC_ESYS;
    p->mapped = sizeof(procq_shared) + cfg->capacity * slot_size;
    p->q = ipc__shared_alloc(p->mapped);
    if (!p->q) {
        free(p);
        return IPC_ESYS;
    }
    procq_shared *q = p->q;
    q->capacity = cfg->capacity;
    q->slot_size = slot_size;
    int rc = ipc__shared_mutex_init(&q->lock);
    if (rc == IPC_OK) rc = ipc__shared_cond_init(&q->not_empty);
    if (rc == IPC_OK) rc = ipc__shared_cond_init(&q->not_full);
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
    .summary = "process queue in shared memory (multiprocessing.Queue): robust mutex + condvars",
    .caps = IPC_CAP_THREADS | IPC_CAP_FORK | IPC_CAP_MPMC | IPC_CAP_BOUNDED | IPC_CAP_FIFO
          | IPC_CAP_CLOSE_WAKES,
    .max_msg_limit = 16u << 20, .default_max_msg = 64 * 1024, .default_capacity = 64,
    .wait_strategy = "robust mutex+condvar (futex)", .ops = &procq_ops,
};
