/*
 * thread_queue.c — queue.Queue, LifoQueue and PriorityQueue in C.
 *
 * The classic monitor: one mutex guards the storage, and two condition
 * variables say "something to take" (not_empty) and "room to put"
 * (not_full); a third, all_done, serves task_done()/join().  Exactly the
 * structure of CPython's Lib/queue.py, with the three orders as three tiny
 * storage strategies chosen at open:
 *
 *   FIFO      a ring buffer that grows        (Queue's deque)
 *   LIFO      a stack                          (LifoQueue's list)
 *   PRIORITY  a binary max-heap on (prio, -seq) (PriorityQueue's heapq;
 *             the sequence number keeps equal priorities first-in first-out)
 *
 * Messages are copied in and out (a queue of bytes, not of pointers), so a
 * sender may reuse its buffer as soon as ipc_send returns.  Small messages
 * (up to SMALL bytes) live in blocks the queue recycles: they are copied
 * under the lock, like the slots of a fixed ring, and cost no malloc/free
 * once the queue is warm.  A large message is allocated and copied outside
 * the lock, so a 1 MiB memcpy never holds up the other threads.
 */
#define _GNU_SOURCE
#include "queues/thread_queue.h"
#include "../ipc_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { SMALL = 256, SPARES_MAX = 64 };

typedef struct message {
    size_t          len;
    int             prio;
    uint64_t        seq;   /* insertion order: the priority tie-break */
    struct message *next;  /* in the spare list                       */
    unsigned char   data[]; /* SMALL bytes for a small block, else len */
} message;

typedef struct thread_queue {
    ipc_channel     base;
    pthread_mutex_t lock;
    pthread_cond_t  not_empty, not_full, all_done;
    int             order;
    message       **slots;     /* ring (FIFO), stack (LIFO) or heap (PRIORITY) */
    size_t          allocated; /* length of slots[]: a power of two, so ring
                                  indices wrap with a mask, not a division     */
    size_t          head;      /* FIFO only: index of the oldest message        */
    atomic_size_t   count;     /* written under lock; read lock-free by qsize() */
    uint64_t        next_seq;
    size_t          unfinished; /* sent but not yet task_done()                 */
    bool            shut;
    message        *spares;     /* recycled small blocks (lock held)            */
    size_t          spare_count;
} thread_queue;

/* A small block from the spare list, or a new one (lock held; a miss only
 * happens until the queue is warm). */
static inline message *small_block(thread_queue *q)
{
    message *m = q->spares;
    if (m) {
        q->spares = m->next;
        q->spare_count--;
        return m;
    }
    return malloc(sizeof *m + SMALL);
}

/* Give a small block back (lock held); past SPARES_MAX, really free it. */
static inline void recycle(thread_queue *q, message *m)
{
    if (q->spare_count < SPARES_MAX) {
        m->next = q->spares;
        q->spares = m;
        q->spare_count++;
    } else {
        free(m);
    }
}

/* ---- storage: three orders ------------------------------------------- */

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

/* Make room for one more slot; FIFO unrolls its ring into the new array. */
static int grow(thread_queue *q)
{
    size_t count = atomic_load_explicit(&q->count, memory_order_relaxed);
    if (count < q->allocated) return IPC_OK;
    size_t n = q->allocated ? q->allocated * 2 : 16;
    message **s = malloc(n * sizeof *s);
    if (!s) return ipc__fail(IPC_ESYS, "thread queue: malloc");
    for (size_t i = 0; i < count; i++)
        s[i] = q->slots[(q->order == IPC_FIFO ? q->head + i : i) & (q->allocated - 1)];
    free(q->slots);
    q->slots = s;
    q->allocated = n;
    q->head = 0;
    return IPC_OK;
}

static inline void store(thread_queue *q, message *m)
{
    size_t count = atomic_load_explicit(&q->count, memory_order_relaxed);
    if (q->order == IPC_FIFO) {
        q->slots[(q->head + count) & (q->allocated - 1)] = m;
    } else if (q->order == IPC_LIFO) {
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
}

/* The message the next take() will return. */
static inline message *peek(const thread_queue *q)
{
    size_t count = atomic_load_explicit(&q->count, memory_order_relaxed);
    if (q->order == IPC_FIFO) return q->slots[q->head];
    if (q->order == IPC_LIFO) return q->slots[count - 1];
    return q->slots[0];
}

static inline message *take(thread_queue *q)
{
    message *m = peek(q);
    size_t count = atomic_load_explicit(&q->count, memory_order_relaxed) - 1;
    if (q->order == IPC_FIFO) {
        q->head = (q->head + 1) & (q->allocated - 1);
    } else if (q->order == IPC_PRIORITY) { /* move the last leaf to the root, sift down */
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

/* ---- waiting --------------------------------------------------------- */

/* Sleep on cv until signalled or the deadline passes.  Returns 0 when woken
 * (the caller re-checks its condition: wakeups may be spurious), 1 on
 * timeout. */
/* 1 when the deadline passed (or nowait), 0 when woken: ipc__cond_wait on a
 * private mutex (no owner can die, so it never fails). */
static int wait_on(thread_queue *q, pthread_cond_t *cv, const ipc_deadline *d)
{
    return ipc__cond_wait(cv, &q->lock, d, NULL) == 1;
}

static inline bool is_full(const thread_queue *q)
{
    return q->base.capacity && atomic_load_explicit(&q->count, memory_order_relaxed) >= q->base.capacity;
}

/* ---- ops --------------------------------------------------------------- */

static thread_queue *as_queue(ipc_channel *ch) { return (thread_queue *)ch; }

static int tq_send(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    thread_queue *q = as_queue(ch);
    message *m = NULL;
    if (len > SMALL) { /* allocate and copy outside the lock */
        m = malloc(sizeof *m + len);
        if (!m) return ipc__fail(IPC_ESYS, "thread queue: malloc(%zu)", len);
        memcpy(m->data, msg, len);
    }

    int rc = IPC_OK;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        if (q->shut) { rc = ipc__fail(IPC_ECLOSED, "queue is shut down"); break; }
        if (!is_full(q)) break;
        ipc__blocked(ch, IPC_EV_SEND_BLOCKED);
        if (wait_on(q, &q->not_full, d)) {
            rc = q->shut ? IPC_ECLOSED : IPC_EFULL;
            if (rc == IPC_EFULL && !is_full(q)) rc = IPC_OK; /* room appeared as time ran out */
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
        store(q, m);
        q->unfinished++;
        pthread_cond_signal(&q->not_empty);
    }
    pthread_mutex_unlock(&q->lock);
    if (rc != IPC_OK && len > SMALL) free(m);
    return rc;
}

static int tq_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    thread_queue *q = as_queue(ch);
    int rc = IPC_OK;
    message *m = NULL;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        if (atomic_load_explicit(&q->count, memory_order_relaxed) > 0) break;
        if (q->shut) { rc = ipc__fail(IPC_ECLOSED, "queue is shut down and drained"); break; }
        ipc__blocked(ch, IPC_EV_RECV_BLOCKED);
        if (wait_on(q, &q->not_empty, d) && atomic_load_explicit(&q->count, memory_order_relaxed) == 0) {
            rc = q->shut ? IPC_ECLOSED : ipc__fail(IPC_EEMPTY, "queue is empty");
            break;
        }
    }
    if (rc == IPC_OK) {
        if (peek(q)->len > cap) {      /* leave it queued; say how big it is */
            *len = peek(q)->len;
            rc = ipc__fail(IPC_EMSGSIZE, "message of %zu bytes does not fit a %zu-byte buffer", *len, cap);
        } else {
            m = take(q);
            *len = m->len;
            *prio = m->prio;
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

static int tq_shutdown(thread_queue *q, bool immediate)
{
    pthread_mutex_lock(&q->lock);
    q->shut = true;
    if (immediate) {
        while (atomic_load_explicit(&q->count, memory_order_relaxed) > 0) {
            message *m = take(q);
            if (m->len <= SMALL) recycle(q, m);
            else free(m);
            if (q->unfinished) q->unfinished--;
        }
        if (q->unfinished == 0) pthread_cond_broadcast(&q->all_done);
    }
    pthread_cond_broadcast(&q->not_empty); /* everyone blocked wakes and re-checks */
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
    return IPC_OK;
}

static int tq_close(ipc_channel *ch) { return tq_shutdown(as_queue(ch), false); }

static void tq_free(ipc_channel *ch)
{
    thread_queue *q = as_queue(ch);
    while (atomic_load_explicit(&q->count, memory_order_relaxed) > 0) free(take(q));
    while (q->spares) {
        message *m = q->spares;
        q->spares = m->next;
        free(m);
    }
    free(q->slots);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->all_done);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static long tq_depth(const ipc_channel *ch)
{
    return (long)atomic_load_explicit(&((const thread_queue *)ch)->count, memory_order_relaxed);
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
    .summary = "thread queue, FIFO (queue.Queue): mutex + two condition variables",
    .caps = THREAD_QUEUE_CAPS | IPC_CAP_FIFO,
    .max_msg_limit = (size_t)1 << 30, .default_max_msg = 1 << 20, .default_capacity = 0,
    .wait_strategy = "mutex+condvar", .ops = &thread_queue_ops,
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

static int tq_open(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out)
{
    thread_queue *q = ipc__channel_alloc(sizeof *q, m, cfg);
    if (!q) return IPC_ESYS;
    /* The mechanism fixes the order (dispatch allows no other): the three
     * descriptors share these ops, and each one's variant is its order. */
    q->order = m->variant;

    int rc = ipc__mutex_init(&q->lock, false);
    if (rc == IPC_OK && (rc = ipc__cond_init(&q->not_empty, false)) != IPC_OK) pthread_mutex_destroy(&q->lock);
    if (rc == IPC_OK && (rc = ipc__cond_init(&q->not_full, false)) != IPC_OK) {
        pthread_cond_destroy(&q->not_empty);
        pthread_mutex_destroy(&q->lock);
    }
    if (rc == IPC_OK && (rc = ipc__cond_init(&q->all_done, false)) != IPC_OK) {
        pthread_cond_destroy(&q->not_full);
        pthread_cond_destroy(&q->not_empty);
        pthread_mutex_destroy(&q->lock);
    }
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
    int rc = IPC_OK;
    pthread_mutex_lock(&q->lock);
    if (q->unfinished == 0)
        rc = ipc__fail(IPC_EINVAL, "task_done() called more times than there were messages");
    else if (--q->unfinished == 0)
        pthread_cond_broadcast(&q->all_done);
    pthread_mutex_unlock(&q->lock);
    return rc;
}

int ipc_queue_join(ipc_channel *ch, int timeout_ms)
{
    thread_queue *q = checked(ch);
    if (!q) return IPC_EINVAL;
    ipc_deadline d;
    int rc = ipc__deadline_begin(&d, timeout_ms, "ipc_queue_join");
    if (rc != IPC_OK) return rc;
    pthread_mutex_lock(&q->lock);
    while (q->unfinished > 0) {
        if (wait_on(q, &q->all_done, &d) && q->unfinished > 0) {
            rc = ipc__fail(IPC_ETIMEDOUT, "join timed out with %zu unfinished tasks", q->unfinished);
            break;
        }
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
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
