/*
 * eventfd.c — "eventfd": two kernel counters and a ring, Dijkstra's bounded
 * buffer (eventfd(2)).
 *
 * An eventfd is a 64-bit counter in the kernel behind a file descriptor:
 * write(2) ADDS an 8-byte value to it, read(2) returns the counter and sets
 * it to 0, and poll(2) says readable while it is above 0.  Written values
 * merge — 1, 2 and 3 written are one read of 6 — so an eventfd cannot carry
 * messages (ipc_eventfd_show_counter in eventfd.h shows it).
 *
 * With EFD_SEMAPHORE a read instead returns 1 and subtracts 1, blocking (or
 * EAGAIN) at 0: a counting semaphore you can poll.  Two of them around a
 * ring of slots are the classic producer/consumer solution:
 *
 *     items  = eventfd(0,        EFD_SEMAPHORE)   messages in the ring
 *     spaces = eventfd(capacity, EFD_SEMAPHORE)   free slots
 *
 *     send:  P(spaces); lock; put in slot;  unlock; V(items)
 *     recv:  P(items);  lock; take a slot;  unlock; V(spaces)
 *
 * where P is a read (take one unit, or wait) and V a write of 1.  The ring
 * keeps each message whole (0..8 bytes: one 8-byte value, like the counter's)
 * and in order; the counters do the waking and the bound.  The ring and its
 * robust mutex live in MAP_SHARED memory and the eventfds are inherited, so
 * the channel works across fork(); nothing has a name, so there is no
 * attaching by unrelated processes.  ipc_pollfd is `items`.
 *
 * Shutdown.  A shared flag, and one extra V on each semaphore: a unit with
 * no message (or slot) behind it.  Whoever takes it — a blocked receiver
 * woken by it, or a poller of `items` — finds the ring empty (or the flag
 * set), puts the unit back for the next one and reports IPC_ECLOSED.
 * Messages queued before the close come first: they have units of their own.
 * Close is linearizable against sends: the flag is set, and checked by a
 * sender, under the ring's lock, right where the message is put in.  A
 * sender that saw "open" has its message in the ring before the flag is
 * set; a receiver that finds the ring empty with the flag set (under the
 * same lock) therefore knows no acknowledged message can still come.
 *
 * A process killed between the semaphore and the ring update (a window of
 * a few instructions) leaves the counts one off from the ring: a message
 * that nobody is told about, or a slot lost to capacity.  The ring itself
 * stays consistent: a slot is filled before `count` says so.
 */
#define _GNU_SOURCE
#include "events/eventfd.h"
#include "../ipc_internal.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { VALUE_SIZE = 8, MAX_CAPACITY = 1 << 20 };

typedef struct slot {
    uint8_t       len;
    unsigned char data[VALUE_SIZE];
} slot;

typedef struct evq_shared {
    pthread_mutex_t lock;          /* guards head and count */
    size_t          capacity, head, count;
    atomic_long     depth;         /* copy of count for ipc_depth */
    atomic_bool     shut;
    slot            slots[];
} evq_shared;

typedef struct evq {
    ipc_channel base;
    int         items, spaces;
    evq_shared *sh;
    size_t      mapped;
} evq;

static bool is_shut(const evq *q) { return atomic_load(&q->sh->shut); }

/* ---- the two semaphore operations -------------------------------------- */

/* P: take one unit from a semaphore eventfd, waiting until the deadline.
 * Returns 1 taken, 0 deadline passed, IPC_ECLOSED (shut down and nothing to
 * take), IPC_ESYS. */
static int sem_take(evq *q, int fd, enum ipc_event_kind kind, const ipc_deadline *d)
{
    for (;;) {
        uint64_t one;
        if (read(fd, &one, sizeof one) == (ssize_t)sizeof one) return 1;
        if (errno == EINTR) continue;
        if (errno != EAGAIN) return ipc__fail(IPC_ESYS, "read(eventfd)");
        if (is_shut(q)) return IPC_ECLOSED;
        if (ipc__deadline_is_nowait(d)) return 0;
        ipc__blocked(&q->base, kind);
        int w = ipc__wait_fd(fd, POLLIN, -1, d); /* close gives a unit: it wakes us too */
        if (w == 0) return 0;
        if (w < 0) return w;
    }
}

/* V: give one unit back.  The counter never gets near its 2^64-2 maximum
 * (it stays <= capacity), so write cannot block. */
static int sem_give(int fd)
{
    uint64_t one = 1;
    while (write(fd, &one, sizeof one) < 0)
        if (errno != EINTR) return ipc__fail(IPC_ESYS, "write(eventfd)");
    return IPC_OK;
}

static int lock_ring(evq *q)
{
    /* A holder that died left the ring consistent (see the top): go on. */
    return ipc__lock(&q->sh->lock, &ipc__forever, NULL);
}

/* ---- send and receive -------------------------------------------------- */

static int evq_send(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    (void)prio; /* one order: the ring's */
    evq *q = (evq *)ch;
    if (is_shut(q)) return ipc__fail(IPC_ECLOSED, "eventfd: channel is shut down");
    int r = sem_take(q, q->spaces, IPC_EV_SEND_BLOCKED, d);
    if (r == 0) return ipc__fail(IPC_EFULL, "eventfd channel is full (%zu messages)", q->sh->capacity);
    if (r == IPC_ECLOSED) return ipc__fail(IPC_ECLOSED, "eventfd: channel is shut down");
    if (r < 0) return r;
    if ((r = lock_ring(q)) != 0) {
        sem_give(q->spaces);
        return r;
    }
    evq_shared *sh = q->sh;
    if (is_shut(q)) { /* closed while we waited for room; under the lock: see the top */
        pthread_mutex_unlock(&sh->lock);
        sem_give(q->spaces);
        return ipc__fail(IPC_ECLOSED, "eventfd: channel is shut down");
    }
    slot *s = &sh->slots[(sh->head + sh->count) % sh->capacity];
    s->len = (uint8_t)len;
    if (len) memcpy(s->data, msg, len);
    sh->count++; /* only now is the message in the ring */
    atomic_store_explicit(&sh->depth, (long)sh->count, memory_order_relaxed);
    pthread_mutex_unlock(&sh->lock);
    return sem_give(q->items);
}

static int evq_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    evq *q = (evq *)ch;
    *prio = 0;
    int r = sem_take(q, q->items, IPC_EV_RECV_BLOCKED, d);
    if (r == 0) return ipc__fail(IPC_EEMPTY, "eventfd channel is empty");
    /* No unit, and shut down: a sender may have put its message in the ring
     * before the close and not yet given its unit (it does so after the
     * lock).  Look at the ring itself: such a message is taken without its
     * unit, which then arrives as one more "closed" unit. */
    bool unit = r == 1;
    if (r < 0 && r != IPC_ECLOSED) return r;
    if ((r = lock_ring(q)) != 0) {
        if (unit) sem_give(q->items);
        return r;
    }
    evq_shared *sh = q->sh;
    if (sh->count == 0) { /* drained: a unit with no message is ipc_close's; pass it on */
        pthread_mutex_unlock(&sh->lock);
        if (unit) sem_give(q->items);
        return ipc__fail(IPC_ECLOSED, "eventfd: shut down and drained");
    }
    slot *s = &sh->slots[sh->head];
    *len = s->len;
    if (s->len > cap) { /* leave it at the head and give its unit back */
        pthread_mutex_unlock(&sh->lock);
        if (unit) sem_give(q->items);
        return ipc__fail(IPC_EMSGSIZE, "message of %zu bytes does not fit a %zu-byte buffer", *len, cap);
    }
    if (s->len) memcpy(buf, s->data, s->len);
    sh->head = (sh->head + 1) % sh->capacity;
    sh->count--;
    atomic_store_explicit(&sh->depth, (long)sh->count, memory_order_relaxed);
    pthread_mutex_unlock(&sh->lock);
    return sem_give(q->spaces);
}

/* ---- close, free, poll, depth ------------------------------------------ */

static int evq_close(ipc_channel *ch)
{
    evq *q = (evq *)ch;
    int rc = lock_ring(q);
    if (rc != 0) return rc;
    atomic_store(&q->sh->shut, true); /* under the lock: no send is half-way in */
    pthread_mutex_unlock(&q->sh->lock);
    rc = sem_give(q->items); /* wakes a receiver (and pollers of items) */
    return rc == IPC_OK ? sem_give(q->spaces) : rc; /* and a blocked sender */
}

static void release(evq *q)
{
    if (q->items >= 0) close(q->items);
    if (q->spaces >= 0) close(q->spaces);
    /* No pthread_mutex_destroy: other processes may still use the ring; the
     * mapping goes away with its last holder. */
    ipc__shared_free(q->sh, q->mapped);
}

static void evq_free(ipc_channel *ch)
{
    release((evq *)ch);
    free(ch);
}

static int evq_pollfd(ipc_channel *ch) { return ((evq *)ch)->items; }

static long evq_depth(const ipc_channel *ch)
{
    return atomic_load_explicit(&((const evq *)ch)->sh->depth, memory_order_relaxed);
}

/* ---- open -------------------------------------------------------------- */

static int evq_open(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out)
{
    if (cfg->capacity > MAX_CAPACITY)
        return ipc__fail(IPC_EINVAL, "eventfd: capacity %zu > %d", cfg->capacity, MAX_CAPACITY);
    evq *q = ipc__channel_alloc(sizeof *q, m, cfg);
    if (!q) return IPC_ESYS;
    q->items = q->spaces = -1;
    int rc = IPC_OK;
    q->items = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
    q->spaces = eventfd((unsigned)cfg->capacity, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->items < 0 || q->spaces < 0) rc = ipc__fail(IPC_ESYS, "eventfd");
    if (rc == IPC_OK) {
        q->mapped = sizeof(evq_shared) + cfg->capacity * sizeof(slot);
        q->sh = ipc__shared_alloc(q->mapped);
        if (!q->sh) rc = IPC_ESYS;
    }
    if (rc == IPC_OK) {
        q->sh->capacity = cfg->capacity;
        rc = ipc__shared_mutex_init(&q->sh->lock);
    }
    if (rc != IPC_OK) {
        release(q);
        free(q);
        return rc;
    }
    *out = &q->base;
    return IPC_OK;
}

static const struct ipc_ops eventfd_ops = {
    .open = evq_open, .send = evq_send, .recv = evq_recv, .close = evq_close,
    .free = evq_free, .pollfd = evq_pollfd, .depth = evq_depth,
};

const ipc_mechanism ipc_mech_eventfd = {
    .name = "eventfd", .family = "events",
    .family_id = IPC_FAMILY_EVENTS, .carrier = IPC_CARRIER_EVENTFD,
    .summary = "eventfd semaphores (items/spaces) around a shared ring of 8-byte values",
    .caps = IPC_CAP_THREADS | IPC_CAP_FORK | IPC_CAP_MPMC | IPC_CAP_BOUNDED | IPC_CAP_POLL
          | IPC_CAP_FIFO | IPC_CAP_CLOSE_WAKES,
    .max_msg_limit = VALUE_SIZE, .default_max_msg = VALUE_SIZE, .default_capacity = 1024,
    .wait_strategy = "kernel block (poll on eventfd semaphores)", .ops = &eventfd_ops,
    .waits = IPC_WAITS_ALL, .wait_default = IPC_WAIT_BLOCK,
};

/* ---- the bare counter, for the course ---------------------------------- */

int ipc_eventfd_show_counter(const uint64_t *values, size_t n, bool semaphore,
                             uint64_t *reads, size_t max_reads, size_t *nreads)
{
    if ((!values && n) || (!reads && max_reads) || !nreads)
        return ipc__fail(IPC_EINVAL, "ipc_eventfd_show_counter: NULL argument");
    *nreads = 0;
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC | (semaphore ? EFD_SEMAPHORE : 0));
    if (fd < 0) return ipc__fail(IPC_ESYS, "eventfd");
    int rc = IPC_OK;
    for (size_t i = 0; i < n && rc == IPC_OK; i++)
        if (write(fd, &values[i], sizeof values[i]) != (ssize_t)sizeof values[i])
            rc = ipc__fail(IPC_ESYS, "write(eventfd, %llu)", (unsigned long long)values[i]);
    uint64_t v;
    while (rc == IPC_OK && read(fd, &v, sizeof v) == (ssize_t)sizeof v) {
        if (*nreads < max_reads) reads[*nreads] = v;
        ++*nreads;
    }
    if (rc == IPC_OK && errno != EAGAIN) rc = ipc__fail(IPC_ESYS, "read(eventfd)");
    close(fd);
    return rc;
}
