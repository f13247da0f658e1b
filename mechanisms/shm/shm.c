/*
 * shm.c — "shm" and "shm_spsc": a ring of message slots in shared memory,
 * used by several processes at once; and its variant "spsc", the same ring
 * in the heap, between two threads.
 *
 * The memory.  shm_open(3) creates a named object in /dev/shm (a tmpfs
 * file), ftruncate(2) gives it its size and mmap(2) with MAP_SHARED maps the
 * same physical pages into every process that opens the name.  An unrelated
 * process attaches by name (cfg.name with IPC_ATTACH; IPC_ATTACHABLE with no
 * name makes the creator generate one); a child made by fork() inherits the
 * mapping.  A private channel (no name) is an anonymous MAP_SHARED mapping:
 * fork is its only way in, and nothing can be left behind in /dev/shm.  The creator unlinks the name in ipc_free; the pages
 * live on until the last process unmaps them.
 *
 * The ring is engines/ring.c's, placed in that memory: indices on separate
 * cache lines, acquire/release ordering, spin then futex.  Its futexes are
 * "shared" ones (no FUTEX_PRIVATE_FLAG): the kernel keys them by physical
 * page, so a FUTEX_WAKE in one process wakes a FUTEX_WAIT in another.
 *
 * "shm_spsc" is that ring and nothing more: one sending process and one
 * receiving process at a time, no lock anywhere.
 *
 * "shm" makes it many-producer/many-consumer the simplest way that stays
 * correct: a two-lock queue (Michael & Scott 1996).  Senders take
 * send_lock, receivers take recv_lock, and the holder of each is the one
 * producer (consumer) the SPSC ring expects.  Senders never contend with
 * receivers, and no lock is held while waiting for room or data.  (So a
 * put_nowait, timeout 0, that finds another sender inside its memcpy waits
 * for that short copy, like Python's put_nowait takes the queue's mutex:
 * see ipc__lock_brief.  Only the wait for room is skipped.)
 *
 * A peer killed with a lock held.  Both locks are robust, process-shared
 * mutexes: the kernel marks a dead holder's mutex and the next locker gets
 * it (EOWNERDEAD, then pthread_mutex_consistent).  Is the ring still sane?
 * Within push and pop, the only writes other processes depend on are:
 *   - the slot's bytes (push): written BEFORE tail moves, into a slot no
 *     one reads until it does — a half-written slot is simply not there;
 *   - head_cache / tail_cache: always some earlier value of the real index,
 *     so at worst a later push/pop re-reads the index;
 *   - tail (push) or head (pop): one 64-bit atomic store, which either
 *     happened or did not.
 * So a sender that dies sent its message or did not; a receiver that dies
 * before its head store leaves the message for the next receiver.
 *
 * What it cannot tell: that the only peer on the other side has died.  A
 * receiver with no deadline then waits until someone sends or closes.
 *
 * Loans (loan.h, at the end of this file): on "spsc" and "shm_spsc" a
 * sender may borrow the slot at tail (reserve), write in it and publish it
 * (commit), and a receiver may borrow the message at head (peek) and free
 * it (release): the ring's push and pop cut in two, with the caller's own
 * work in between instead of a memcpy.  While a loan is out it holds its
 * side's position, so the handle remembers it (`loans`): ipc_send (ipc_recv)
 * and a second reserve (peek) on that side answer IPC_EINVAL instead of
 * writing (freeing) the lent slot.  A dying borrower leaves the ring as a
 * dying sender (receiver) does: a reservation never committed was never
 * there; a peeked message never released is still queued.  Commit and
 * release go through dispatch (ipc__send_via/ipc__recv_via), so observers
 * hear them as a send and a receive.  "shm" (MPMC) has no loans: a loan
 * would hold its robust lock between two calls.
 */
#define _GNU_SOURCE
#include "shm/shm.h"
#include "shm/loan.h"
#include "engines/ring.h"

#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SHM_MAGIC 0x53484d33u /* "SHM3": change the digit when the layout changes (3: latches) */

/* The mapping, as every process sees it. */
typedef struct shm_segment {
    _Atomic uint32_t magic;     /* SHM_MAGIC, stored last by the creator      */
    uint32_t         mpmc;      /* 1: "shm" (locks in use), 0: "shm_spsc"     */
    uint64_t         size;      /* bytes in the mapping                       */
    uint64_t         max_msg;
    pthread_mutex_t  send_lock; /* "shm": the one producer of the moment      */
    pthread_mutex_t  recv_lock; /* "shm": the one consumer of the moment      */
    ipc_ring         ring;      /* last: its slots follow it                  */
} shm_segment;

/* A handle's loans (shm/loan.h): which side has one out.  A loan holds
 * that side's ring position, so while its bit is set ipc_send (ipc_recv)
 * and a second reserve (peek) on the handle answer IPC_EINVAL. */
enum { LOAN_SEND = 1u, LOAN_RECV = 2u };

/* This process's handle. */
typedef struct shm_chan {
    ipc_channel  base;
    _Atomic unsigned loans; /* LOAN_SEND | LOAN_RECV                          */
    shm_segment *seg;  /* == mem.addr                                        */
    ipc_segment  mem;  /* the mapping; mem.name "" for a private channel;
                          only the creating process unlinks (core/segment.h) */
} shm_chan;

static shm_chan *as_shm(ipc_channel *ch) { return (shm_chan *)ch; }

static pthread_mutex_t *lock_for(shm_segment *seg, pthread_mutex_t *m)
{
    return seg->mpmc ? m : NULL; /* shm_spsc: the ring alone */
}

/* ---- ops ------------------------------------------------------------------ */

/* ipc_send (ipc_recv) while a loan holds that side's position would write
 * (free) the lent slot under its borrower. */
__attribute__((cold, noinline))
static int loan_out(const ipc_channel *ch, unsigned side)
{
    return ipc__fail(IPC_EINVAL, "%s: a loan is out on this handle (%s): %s it first", ch->mech->name,
                     side == LOAN_SEND ? "ipc_loan_reserve" : "ipc_loan_peek",
                     side == LOAN_SEND ? "commit or abort" : "release");
}

/* RELAXED: the bit guards against misuse by this handle's own callers, who
 * order their calls themselves; it publishes no data. */
#define LOAN_HELD(flags, side) (atomic_load_explicit(&(flags), memory_order_relaxed) & (side))

static int shm_send(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    shm_segment *seg = as_shm(ch)->seg;
    if (__builtin_expect(LOAN_HELD(as_shm(ch)->loans, LOAN_SEND), 0)) return loan_out(ch, LOAN_SEND);
    return ipc__ring_send(ch, &seg->ring, lock_for(seg, &seg->send_lock), msg, len, prio, d);
}

static int shm_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    shm_segment *seg = as_shm(ch)->seg;
    if (__builtin_expect(LOAN_HELD(as_shm(ch)->loans, LOAN_RECV), 0)) return loan_out(ch, LOAN_RECV);
    return ipc__ring_recv(ch, &seg->ring, lock_for(seg, &seg->recv_lock), buf, cap, len, prio, d);
}

static int shm_close(ipc_channel *ch) { return ipc__ring_close(&as_shm(ch)->seg->ring); }

static long shm_depth(const ipc_channel *ch) { return ipc__ring_depth(&((const shm_chan *)ch)->seg->ring); }

static void shm_free(ipc_channel *ch)
{
    shm_chan *c = as_shm(ch);
    /* No pthread_mutex_destroy: other processes may still be using them. */
    ipc__segment_release(&c->mem);
    free(c);
}

/* ---- open: create or attach ---------------------------------------------- */

static int create(shm_chan *c, const ipc_config *cfg, bool mpmc)
{
    size_t ring = ipc__ring_size(cfg->capacity, cfg->max_msg);
    if (ring == 0)
        return ipc__fail(IPC_EINVAL, "shm: capacity %zu x max_msg %zu exceeds 1 GiB",
                         cfg->capacity, cfg->max_msg);
    size_t size = offsetof(shm_segment, ring) + ring;

    char generated[NAME_MAX + 1];
    const char *name = cfg->name;
    if (!name && (cfg->flags & IPC_ATTACHABLE)) {
        int rc = ipc__unique_name(generated, sizeof generated, "/", NULL);
        if (rc != IPC_OK) return rc;
        name = generated;
    }
    int rc = ipc__segment_create(&c->mem, name, size, 0); /* name NULL: anonymous, fork only */
    if (rc != IPC_OK) return rc;
    shm_segment *seg = c->mem.addr;

    /* The new pages are zero: only the non-zero fields need setting. */
    seg->mpmc = mpmc;
    seg->size = size;
    seg->max_msg = cfg->max_msg;
    ipc__ring_init(&seg->ring, cfg->capacity, cfg->max_msg, true);
    if (mpmc) rc = ipc__shared_mutex_init(&seg->send_lock);
    if (mpmc && rc == IPC_OK) rc = ipc__shared_mutex_init(&seg->recv_lock);
    if (rc != IPC_OK) {
        ipc__segment_release(&c->mem);
        return rc;
    }
    ipc__segment_ready(&seg->magic, SHM_MAGIC);
    c->seg = seg;
    return IPC_OK;
}

static int attach(shm_chan *c, const char *name, bool mpmc)
{
    int rc = ipc__segment_attach(&c->mem, name, sizeof(shm_segment),
                                 offsetof(shm_segment, magic), SHM_MAGIC);
    if (rc != IPC_OK) return rc;
    shm_segment *seg = c->mem.addr;
    if (seg->size != c->mem.size) rc = ipc__fail(IPC_EINVAL, "shm: %s is not an ipcplay ring of this version", c->mem.name);
    else if (seg->mpmc != mpmc) rc = ipc__fail(IPC_EINVAL, "shm: %s is a %s ring", c->mem.name, mpmc ? "shm_spsc" : "shm");
    if (rc != IPC_OK) {
        ipc__segment_release(&c->mem);
        return rc;
    }
    /* The header is another process's writing: check the geometry against
     * the mapping before trusting it, then keep our own copy (the ring
     * calls read it from the handle, never again from the header). */
    uint64_t capacity = seg->ring.capacity, max_msg = seg->max_msg;
    if (max_msg > c->base.mech->max_msg_limit
        || ipc__ring_check(&seg->ring, (size_t)capacity, (size_t)max_msg,
                           c->mem.size - offsetof(shm_segment, ring)) != IPC_OK) {
        rc = ipc__fail(IPC_EINVAL, "shm: %s has a corrupt header (capacity %llu, max_msg %llu, %zu bytes)",
                       c->mem.name, (unsigned long long)capacity, (unsigned long long)max_msg, c->mem.size);
        ipc__segment_release(&c->mem);
        return rc;
    }
    c->seg = seg;
    c->base.capacity = (size_t)capacity;
    c->base.max_msg = (size_t)max_msg;
    return IPC_OK;
}

/* The variants of shm_ops (ipc_mechanism.variant). */
enum { SHM_MPMC = 0, SHM_SPSC = 1 };

static int shm_open_op(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out)
{
    if (cfg->endpoint) return ipc__fail(IPC_EINVAL, "%s: shared memory has no endpoint", m->name);
    shm_chan *c = ipc__channel_alloc(sizeof *c, m, cfg);
    if (!c) return IPC_ESYS;
    bool mpmc = m->variant == SHM_MPMC;
    int rc = (cfg->flags & IPC_ATTACH) ? attach(c, cfg->name, mpmc) : create(c, cfg, mpmc);
    if (rc != IPC_OK) {
        free(c);
        return rc;
    }
    *out = &c->base;
    return IPC_OK;
}

static int shm_attach_config(const ipc_channel *ch, ipc_config *cfg)
{
    const shm_chan *c = (const shm_chan *)ch;
    cfg->name = c->mem.name[0] ? c->mem.name : NULL; /* "": anonymous, fork() only */
    return IPC_OK;
}

static const struct ipc_ops shm_ops = {
    .open = shm_open_op, .send = shm_send, .recv = shm_recv, .close = shm_close,
    .free = shm_free, .pollfd = NULL, .depth = shm_depth, .attach_config = shm_attach_config,
};

#define SHM_CAPS (IPC_CAP_THREADS | IPC_CAP_FORK | IPC_CAP_UNRELATED | IPC_CAP_BOUNDED \
                  | IPC_CAP_FIFO | IPC_CAP_CLOSE_WAKES)

const ipc_mechanism ipc_mech_shm = {
    .name = "shm", .family = "shm",
    .family_id = IPC_FAMILY_SHM, .carrier = IPC_CARRIER_SHM_RING, .variant = SHM_MPMC,
    .summary = "shared-memory ring across processes, MPMC (a robust lock per side)",
    .caps = SHM_CAPS | IPC_CAP_MPMC,
    .max_msg_limit = 16u << 20, .default_max_msg = 64 * 1024, .default_capacity = 64,
    .wait_strategy = IPC_RING_WAIT_STRATEGY, .ops = &shm_ops,
    .waits = IPC_WAITS_ALL, .wait_default = IPC_WAIT_ADAPTIVE,
};

const ipc_mechanism ipc_mech_shm_spsc = {
    .name = "shm_spsc", .family = "shm",
    .family_id = IPC_FAMILY_SHM, .carrier = IPC_CARRIER_SHM_RING, .variant = SHM_SPSC,
    .summary = "shared-memory ring across processes, one sender and one receiver, lock-free",
    .caps = SHM_CAPS,
    .max_msg_limit = 16u << 20, .default_max_msg = 64 * 1024, .default_capacity = 64,
    .wait_strategy = IPC_RING_WAIT_STRATEGY, .ops = &shm_ops,
    .waits = IPC_WAITS_ALL, .wait_default = IPC_WAIT_ADAPTIVE,
};

/* ---- "spsc": the ring in the heap, between two threads ------------------- */

typedef struct spsc {
    ipc_channel base;
    _Atomic unsigned loans; /* LOAN_SEND | LOAN_RECV, as in shm_chan */
    ipc_ring   *ring; /* aligned_alloc'd: its lines must start on 64-byte boundaries */
} spsc;

static ipc_ring *ring_of(ipc_channel *ch) { return ((spsc *)ch)->ring; }

static int spsc_send(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    if (__builtin_expect(LOAN_HELD(((spsc *)ch)->loans, LOAN_SEND), 0)) return loan_out(ch, LOAN_SEND);
    return ipc__ring_send(ch, ring_of(ch), NULL, msg, len, prio, d); /* one producer: no lock */
}

static int spsc_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    if (__builtin_expect(LOAN_HELD(((spsc *)ch)->loans, LOAN_RECV), 0)) return loan_out(ch, LOAN_RECV);
    return ipc__ring_recv(ch, ring_of(ch), NULL, buf, cap, len, prio, d);
}

static int spsc_close(ipc_channel *ch) { return ipc__ring_close(ring_of(ch)); }

static void spsc_free(ipc_channel *ch)
{
    free(ring_of(ch));
    free(ch);
}

static long spsc_depth(const ipc_channel *ch) { return ipc__ring_depth(((const spsc *)ch)->ring); }

static int spsc_open(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out)
{
    size_t size = ipc__ring_size(cfg->capacity, cfg->max_msg);
    if (size == 0)
        return ipc__fail(IPC_EINVAL, "spsc: capacity %zu x max_msg %zu exceeds 1 GiB",
                         cfg->capacity, cfg->max_msg);
    spsc *q = ipc__channel_alloc(sizeof *q, m, cfg);
    if (!q) return IPC_ESYS;
    q->ring = aligned_alloc(64, size); /* size is a multiple of 64, as C11 asks */
    if (!q->ring) {
        free(q);
        return ipc__fail(IPC_ESYS, "spsc: aligned_alloc(%zu)", size);
    }
    memset(q->ring, 0, sizeof(ipc_ring)); /* the slots need no zeroing */
    ipc__ring_init(q->ring, cfg->capacity, cfg->max_msg, false);
    *out = &q->base;
    return IPC_OK;
}

static const struct ipc_ops spsc_ops = {
    .open = spsc_open, .send = spsc_send, .recv = spsc_recv, .close = spsc_close,
    .free = spsc_free, .pollfd = NULL, .depth = spsc_depth,
};

const ipc_mechanism ipc_mech_spsc = {
    .name = "spsc", .family = "shm",
    .family_id = IPC_FAMILY_SHM, .carrier = IPC_CARRIER_SHM_RING,
    .summary = "lock-free single-producer/single-consumer ring between two threads (C11 atomics)",
    .caps = IPC_CAP_THREADS | IPC_CAP_BOUNDED | IPC_CAP_FIFO | IPC_CAP_CLOSE_WAKES,
    .max_msg_limit = 16u << 20, .default_max_msg = 64 * 1024, .default_capacity = 64,
    .wait_strategy = IPC_RING_WAIT_STRATEGY, .ops = &spsc_ops,
    .waits = IPC_WAITS_ALL, .wait_default = IPC_WAIT_ADAPTIVE,
};

/* ---- extras (shm.h) ------------------------------------------------------ */

const char *ipc_shm_name(const ipc_channel *ch)
{
    const ipc_mechanism *m = ipc_channel_mechanism(ch);
    if (!m || m->ops != &shm_ops) return ipc__fail(IPC_EINVAL, "ipc_shm_name: not a shm channel"), NULL;
    const shm_chan *c = (const shm_chan *)ch;
    return c->mem.name[0] ? c->mem.name : NULL;
}

/* ---- loans (loan.h) ------------------------------------------------------ */

/* ipc_loan.state: no loan (0), or which kind; anything else is garbage. */
enum { LOAN_NONE = 0, LOAN_RESERVED = 0x4c6f5265u /* "LoRe" */, LOAN_PEEKED = 0x4c6f5065u /* "LoPe" */ };

/* The ring of ch and its handle's loan bits, or IPC_EINVAL / IPC_ENOTSUP. */
static int loan_ring(ipc_channel *ch, const char *what, ipc_ring **ring, _Atomic unsigned **loans)
{
    const ipc_mechanism *m = ipc_channel_mechanism(ch);
    if (!m) return ipc__fail(IPC_EINVAL, "%s: not an open channel", what);
    if (m->ops == &spsc_ops) {
        *ring = ((spsc *)ch)->ring;
        *loans = &((spsc *)ch)->loans;
        return IPC_OK;
    }
    if (m->ops == &shm_ops && !as_shm(ch)->seg->mpmc) {
        *ring = &as_shm(ch)->seg->ring;
        *loans = &as_shm(ch)->loans;
        return IPC_OK;
    }
    return ipc__fail(IPC_ENOTSUP, "%s: %s has no single-producer/single-consumer ring to lend "
                     "(loans work on spsc and shm_spsc)", what, m->name);
}

/* Take this handle's `side`: IPC_OK, or IPC_EINVAL if a loan holds it. */
static int take_side(ipc_channel *ch, _Atomic unsigned *loans, unsigned side, const char *what)
{
    /* RELAXED: see LOAN_HELD; the RMW makes two racing reserves (peeks)
     * of one handle see each other. */
    if (atomic_fetch_or_explicit(loans, side, memory_order_relaxed) & side)
        return ipc__fail(IPC_EINVAL, "%s: %s: a loan is already out on this handle (%s it first)", what,
                         ch->mech->name, side == LOAN_SEND ? "commit or abort" : "release");
    return IPC_OK;
}

static void give_side(_Atomic unsigned *loans, unsigned side)
{
    /* RELAXED: see LOAN_HELD. */
    atomic_fetch_and_explicit(loans, ~side, memory_order_relaxed);
}

/* A loan argument that is not a live loan of this kind on ch: its state,
 * its handle, the handle's side still held, and the ring's position still
 * the loan's (a stale copy of an ended loan fails there). */
static int not_a_loan(const ipc_loan *loan, const ipc_channel *ch, const ipc_ring *ring,
                      _Atomic unsigned *loans, unsigned kind, const char *what)
{
    unsigned side = kind == LOAN_RESERVED ? LOAN_SEND : LOAN_RECV;
    if (loan->state == kind && loan->ch == ch && LOAN_HELD(*loans, side)
        && ipc__ring_at(ring, loan->index, side == LOAN_SEND))
        return IPC_OK;
    if (loan->state == kind && loan->ch != ch)
        return ipc__fail(IPC_EINVAL, "%s: this loan was taken on another handle", what);
    return ipc__fail(IPC_EINVAL, "%s: %s", what,
                     kind == LOAN_RESERVED ? "no reservation to commit (commit without reserve, or a second commit)"
                                           : "no peeked message to release (release without peek, or a second release)");
}

/* Start a commit, abort or release: loan is a live loan of this kind on
 * ch (not_a_loan); *ring and *loans are ch's. */
static int loan_end_begin(ipc_channel *ch, const ipc_loan *loan, unsigned kind, const char *what,
                          ipc_ring **ring, _Atomic unsigned **loans)
{
    if (!loan) return ipc__fail(IPC_EINVAL, "%s: loan is NULL", what);
    int rc = loan_ring(ch, what, ring, loans);
    return rc == IPC_OK ? not_a_loan(loan, ch, *ring, *loans, kind, what) : rc;
}

/* Start a reserve or peek: the loan is not live, the timeout is valid,
 * the deadline carries the handle's strategy (as dispatch does for
 * ipc_send/ipc_recv: core/wait.h). */
static int loan_begin(ipc_channel *ch, ipc_loan *loan, int timeout_ms, ipc_deadline *d, const char *what,
                      ipc_ring **ring, _Atomic unsigned **loans)
{
    if (!loan) return ipc__fail(IPC_EINVAL, "%s: loan is NULL", what);
    if (loan->state == LOAN_RESERVED || loan->state == LOAN_PEEKED) /* left as it is */
        return ipc__fail(IPC_EINVAL, "%s: this ipc_loan is still out (commit, abort or release it first)", what);
    *loan = (ipc_loan){ 0 };
    int rc = loan_ring(ch, what, ring, loans);
    if (rc == IPC_OK) rc = ipc__deadline_begin(d, timeout_ms, what);
    if (rc != IPC_OK) return rc;
    d->w = &ch->waiter;
    d->spin_end = 0;
    return IPC_OK;
}

int ipc_loan_reserve(ipc_channel *ch, size_t size, ipc_loan *loan, int timeout_ms)
{
    static const char what[] = "ipc_loan_reserve";
    ipc_ring *ring;
    _Atomic unsigned *loans;
    ipc_deadline d;
    int rc = loan_begin(ch, loan, timeout_ms, &d, what, &ring, &loans);
    if (rc != IPC_OK) return rc;
    if (size > ch->max_msg)
        return ipc__fail(IPC_EMSGSIZE, "%s: %s: %zu bytes exceed max_msg %zu", what, ch->mech->name, size,
                         ch->max_msg);
    if ((rc = take_side(ch, loans, LOAN_SEND, what)) != IPC_OK) return rc;
    uint64_t index;
    void *data;
    rc = ipc__ring_reserve(ch, ring, &index, &data, &d);
    if (rc != IPC_OK) {
        give_side(loans, LOAN_SEND);
        ipc__restore_errno(rc);
        return rc;
    }
    *loan = (ipc_loan){ .data = data, .len = size, .state = LOAN_RESERVED, .index = index, .ch = ch };
    return IPC_OK;
}

/* The send half of a commit, called by dispatch (ipc__send_via) between its
 * observer events. */
static int commit_op(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d, void *arg)
{
    (void)msg, (void)d;
    const ipc_loan *loan = arg;
    ipc_ring *ring;
    _Atomic unsigned *loans;
    int rc = loan_ring(ch, "ipc_loan_commit", &ring, &loans);
    return rc == IPC_OK ? ipc__ring_commit(ch, ring, loan->index, len, prio) : rc;
}

int ipc_loan_commit(ipc_channel *ch, ipc_loan *loan, size_t len, int prio)
{
    static const char what[] = "ipc_loan_commit";
    ipc_ring *ring;
    _Atomic unsigned *loans;
    int rc = loan_end_begin(ch, loan, LOAN_RESERVED, what, &ring, &loans);
    if (rc != IPC_OK) return rc;
    if (len > loan->len)
        return ipc__fail(IPC_EMSGSIZE, "%s: %zu bytes exceed the %zu reserved (the loan is still out)", what,
                         len, loan->len);
    /* Through dispatch: the observer hears a send, the closed handle and
     * the limits are checked as for ipc_send.  Never waits (timeout 0). */
    rc = ipc__send_via(ch, loan->data, len, prio, 0, commit_op, loan);
    *loan = (ipc_loan){ 0 };
    give_side(loans, LOAN_SEND);
    return rc;
}

int ipc_loan_abort(ipc_channel *ch, ipc_loan *loan)
{
    static const char what[] = "ipc_loan_abort";
    ipc_ring *ring;
    _Atomic unsigned *loans;
    int rc = loan_end_begin(ch, loan, LOAN_RESERVED, what, &ring, &loans);
    if (rc != IPC_OK) return rc;
    /* tail never moved: the slot is simply the next send's */
    *loan = (ipc_loan){ 0 };
    give_side(loans, LOAN_SEND);
    return IPC_OK;
}

int ipc_loan_peek(ipc_channel *ch, ipc_loan *loan, int timeout_ms)
{
    static const char what[] = "ipc_loan_peek";
    ipc_ring *ring;
    _Atomic unsigned *loans;
    ipc_deadline d;
    int rc = loan_begin(ch, loan, timeout_ms, &d, what, &ring, &loans);
    if (rc != IPC_OK) return rc;
    if ((rc = take_side(ch, loans, LOAN_RECV, what)) != IPC_OK) return rc;
    uint64_t index;
    void *data;
    size_t len;
    int prio;
    rc = ipc__ring_peek(ch, ring, &index, &data, &len, &prio, &d);
    if (rc != IPC_OK) {
        give_side(loans, LOAN_RECV);
        ipc__restore_errno(rc);
        return rc;
    }
    *loan = (ipc_loan){ .data = data, .len = len, .prio = prio, .state = LOAN_PEEKED, .index = index, .ch = ch };
    return IPC_OK;
}

/* The receive half of a release, called by dispatch (ipc__recv_via)
 * between its observer events: the message "arrives" when it leaves. */
static int release_op(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d,
                      void *arg)
{
    (void)buf, (void)cap, (void)d;
    const ipc_loan *loan = arg;
    ipc_ring *ring;
    _Atomic unsigned *loans;
    int rc = loan_ring(ch, "ipc_loan_release", &ring, &loans);
    if (rc == IPC_OK) rc = ipc__ring_release(ch, ring, loan->index);
    if (rc == IPC_OK) {
        *len = loan->len;
        *prio = loan->prio;
    }
    return rc;
}

int ipc_loan_release(ipc_channel *ch, ipc_loan *loan)
{
    static const char what[] = "ipc_loan_release";
    ipc_ring *ring;
    _Atomic unsigned *loans;
    int rc = loan_end_begin(ch, loan, LOAN_PEEKED, what, &ring, &loans);
    if (rc != IPC_OK) return rc;
    size_t len = 0;
    int prio = 0;
    rc = ipc__recv_via(ch, loan->data, loan->len, &len, &prio, 0, release_op, loan);
    *loan = (ipc_loan){ 0 };
    give_side(loans, LOAN_RECV);
    return rc;
}
