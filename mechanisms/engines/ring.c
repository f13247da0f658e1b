/*
 * engines/ring.c — the lock-free single-producer/single-consumer ring that
 * three mechanisms share: "spsc" keeps it in the heap for two threads,
 * "shm_spsc" and "shm" place it in shared memory (shm/shm.c).
 *
 * The idea (Lamport 1983; the modern form is rigtorp's SPSCQueue or the
 * Linux kfifo): a circular array and two counters.  The producer alone
 * advances `tail`, the consumer alone advances `head`; tail - head is the
 * number of queued messages.  Because each counter has exactly one writer,
 * no lock and no compare-and-swap is needed: only the ORDER in which the
 * slot and the counter become visible to the other core matters, and that
 * is what the acquire/release pairs below say:
 *
 *   producer: write the slot, then store tail with RELEASE
 *   consumer: load tail with ACQUIRE, then read the slot
 *   (and symmetrically for head: the consumer has finished reading a slot
 *    before the producer can see it free and overwrite it)
 *
 * The counters count up forever (64 bits do not wrap in practice); the slot
 * is counter % capacity, so capacity is exact and need not be a power of two.
 *
 * Waiting.  When the ring is full (or empty) a caller waits the way its
 * handle's strategy says (ipc_config.wait, core/wait.c): SPIN and ADAPTIVE
 * first check the ring in rounds with the CPU's pause hint (across two
 * cores the other side usually answers within a cache-line transfer, far
 * sooner than the kernel could put us to sleep and wake us); BLOCK, and
 * ADAPTIVE once its budget is spent, sleep on a futex, so an idle ring
 * costs no CPU.  The futex is core/futex.h's latch, the one futex
 * implementation of the library (its protocol, with wake elision, is
 * written there; ring_wait below is its waiter half): a push makes a
 * FUTEX_WAKE only when a sleeper armed the latch since the last wake, so
 * a stream into a sleeping receiver pays one system call per round of
 * sleeps, not one per message until the woken receiver runs.
 *
 * Close.  A `shut` flag plus a wake of every sleeper; pop keeps returning
 * queued messages until the ring is drained, then IPC_ECLOSED.  Close must
 * be linearizable against push: a push that returned IPC_OK is popped before
 * anyone is told "closed and drained".  A flag checked before the publish
 * leaves a window (push sees "open", close, pop sees "shut and empty", push
 * publishes: a message acknowledged and never received).  So the close
 * also sets the top bit of `tail` itself (TAIL_SHUT, one atomic OR), and a
 * push publishes with a compare-and-swap of tail that fails once that bit
 * is set: "shut" and "how far the producer got" are one word, read and
 * written atomically.  On x86 the CAS costs what the store plus the fence
 * of wake() cost before (both are one locked instruction).
 *
 * Loans (shm/loan.h).  push is claim (room at tail?) + copy + publish (the
 * CAS above), pop is look (a message at head?) + copy + retire (the head
 * store); ipc__ring_reserve/commit and peek/release are the same halves
 * with the caller's work in place of the copy, so a loan keeps every rule
 * above: the slot is published by the same CAS, freed by the same store.
 *
 * Hostile or crashed peers.  In shared memory another process can write
 * anything into the header.  The geometry (capacity, slot size) is taken
 * from this process's own handle (ch->capacity, ch->max_msg, checked
 * against the mapping at attach), never re-read from the header, and the
 * indices and lengths are checked where they are read: head <= tail,
 * tail - head <= capacity, a slot's length <= max_msg.  A ring that fails
 * them answers IPC_ECLOSED ("ring header corrupt") instead of being
 * followed.  They are a few compares on values already in registers.
 */
#define _GNU_SOURCE
#include "ring.h"

#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
               "the ring's counters must be lock-free: they may live in memory shared by processes");

typedef struct ring_slot {
    uint32_t      len;
    int32_t       prio;
    /* The low 32 bits of (position + 1), stored by the producer when it
     * fills the slot: a HINT for a spinning receiver, which watches the
     * slot it waits for instead of the producer's `tail` line (see
     * spin_for_message).  Never trusted: pop still reads tail. */
    _Atomic uint32_t seq;
    uint32_t      unused;
    unsigned char data[]; /* up to slot_size - 16 bytes, 8-byte aligned */
} ring_slot;

/* The top bit of tail: set by close, after which no push can publish. */
#define TAIL_SHUT ((uint64_t)1 << 63)

/* The geometry, from this process's handle (never from the shared header). */
typedef struct ring_geom { uint64_t capacity, slot_size, max_msg; } ring_geom;

static inline uint64_t slot_bytes(size_t max_msg) { return (sizeof(ring_slot) + max_msg + 63) & ~(uint64_t)63; }

static inline ring_geom geom_of(const ipc_channel *ch)
{
    return (ring_geom){ .capacity = ch->capacity, .slot_size = slot_bytes(ch->max_msg), .max_msg = ch->max_msg };
}

static ring_slot *slot_at(const ipc_ring *r, const ring_geom *g, uint64_t index)
{
    return (ring_slot *)((char *)r + sizeof(ipc_ring) + (index % g->capacity) * g->slot_size);
}

int ipc__ring_check(const ipc_ring *r, size_t capacity, size_t max_msg, size_t bytes)
{
    size_t need = ipc__ring_size(capacity, max_msg);
    if (need == 0 || need > bytes || r->capacity != capacity || r->slot_size != slot_bytes(max_msg))
        return ipc__fail(IPC_EINVAL, "ring header corrupt: capacity %llu, slot %llu bytes, for max_msg %zu "
                         "in %zu bytes", (unsigned long long)r->capacity, (unsigned long long)r->slot_size,
                         max_msg, bytes);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire) & ~TAIL_SHUT;
    uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    if (head > tail || tail - head > capacity)
        return ipc__fail(IPC_EINVAL, "ring header corrupt: head %llu, tail %llu, capacity %zu",
                         (unsigned long long)head, (unsigned long long)tail, capacity);
    return IPC_OK;
}

/* Cold: the message of a failed index or length check. */
__attribute__((cold, noinline))
static int corrupt(const ipc_channel *ch, uint64_t head, uint64_t tail, uint64_t len)
{
    return ipc__fail(IPC_ECLOSED, "%s: ring header corrupt (head %llu, tail %llu, capacity %zu, slot length %llu, "
                     "max_msg %zu): a peer wrote it wrongly or died mid-write", ch->mech->name,
                     (unsigned long long)head, (unsigned long long)tail, ch->capacity,
                     (unsigned long long)len, ch->max_msg);
}

size_t ipc__ring_size(size_t capacity, size_t max_msg)
{
    size_t slot = slot_bytes(max_msg);
    if (capacity == 0 || capacity > ((size_t)1 << 30) / slot) return 0;
    return sizeof(ipc_ring) + capacity * slot;
}

void ipc__ring_init(ipc_ring *r, size_t capacity, size_t max_msg, bool shared)
{
    r->capacity = capacity;
    r->slot_size = (sizeof(ring_slot) + max_msg + 63) & ~(size_t)63;
    r->shared = shared;
    /* The slots' bytes need no zeroing, their hints do (heap memory may
     * hold anything; a stale match would only cost a wasted look). */
    for (size_t i = 0; i < capacity; i++)
        atomic_init(&((ring_slot *)((char *)r + sizeof(ipc_ring) + i * r->slot_size))->seq, 0);
}

/* ---- the wait protocol (core/futex.h) ------------------------------------ */

/* The notifier's half, called right after publishing tail (or head).  Most
 * of the time nobody sleeps and ipc__latch_wake is one fence and one load:
 * no system call (wake elision, counted by tests/test_wait.c).  A latch,
 * not a count of sleepers: a sleeper that was woken but has not run yet
 * (its CPU busy with us, on one CPU; a wake-up's 20-50 us on a loaded
 * VM) is counted as asleep by a count, and then every push in between
 * paid a FUTEX_WAKE — on one CPU, up to a whole ring of them per round
 * (shm_spsc moved 0.28 M msg/s there against procq's 3 M).  The latch's
 * first waker clears `armed`, and the later ones make no system call. */
static inline void wake(ipc_ring *r, ipc_latch *lp) { ipc__latch_wake(lp, r->shared); }

/* A latch's waker killed between clearing `armed` and its FUTEX_WAKE
 * leaves the sleepers asleep, and later wakers find nothing armed: so no
 * sleep lasts longer than this; a sleeper then looks again (and re-arms).
 * An idle ring's sleeper costs one wake-up a second. */
#define RING_RECHECK_NS 1000000000LL

/* Can the caller make progress?  A hint only (the real check is the next
 * push/pop), so RELAXED loads do: the fences in the protocol order them. */
static bool ready(const ipc_ring *r, bool for_room)
{
    if (atomic_load_explicit(&r->shut, memory_order_relaxed)) return true;
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed) & ~TAIL_SHUT;
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    return for_room ? tail - head < r->capacity : tail != head;
}

/*
 * A receiver's spin round.  Looking at `tail` in a tight loop would pull
 * the producer's line away from it between every two pushes, and its
 * publishing CAS (a locked instruction: it cannot hide the miss in a store
 * buffer) would then wait for the line each time.  So the receiver looks
 * at the one slot it waits for: the producer writes that line anyway (a
 * plain store, buffered), and its seq turns to head + 1 when it is filled.
 * RING_HINT_LOOKS looks with a pause between them, then once at the real
 * indices (so a peer that never writes seq cannot keep us spinning: the
 * hint only makes us look sooner).  Measured (spsc 8 B, two pinned
 * threads, medians of 7-11 interleaved runs, load 10-16): one look per
 * round of 8 pauses gave round trips of ~520 ns when a cache-line
 * ping-pong took ~110 ns; 8 looks at tail ~320 ns but streaming 1.3-1.7x
 * slower; 8 looks at the slot ~350 ns (0.90x of before when the machine
 * was slower: cache line 430 ns), streaming within noise of before
 * (0.88-1.07x in three sets).
 */
enum { RING_HINT_LOOKS = 8 };

static bool spin_for_message(const ipc_ring *r, const ring_geom *g)
{
    for (int i = 0; i < RING_HINT_LOOKS; i++) {
        /* RELAXED: hints (the close flag, our own index, the slot's seq);
         * pop decides with its ACQUIRE load of tail. */
        if (atomic_load_explicit(&r->shut, memory_order_relaxed)) return true;
        uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
        if (atomic_load_explicit(&slot_at(r, g, head)->seq, memory_order_relaxed) == (uint32_t)(head + 1))
            return true;
        ipc__cpu_relax();
    }
    return ready(r, false);
}

/*
 * The waiter's half.  The lost wakeup to avoid: the waiter checks "empty",
 * the producer pushes and finds nobody asleep, then the waiter sleeps
 * forever.  core/futex.h's latch prevents it: ipc__latch_prepare reads the
 * futex word and arms the latch BEFORE the last check of the ring, and the
 * sleep happens only if the word has not moved since.  The sleep ends at
 * the call's absolute deadline (so an EINTR and a retry never restart the
 * clock) or after RING_RECHECK_NS, whichever comes first.  A waiter killed
 * while asleep leaves the latch armed: one needless FUTEX_WAKE later,
 * never a lost wakeup.  Returns 0 (look again), 1 (the deadline passed) or
 * IPC_ESYS.
 */
static int ring_wait(ipc_channel *ch, ipc_ring *r, bool for_room, const ipc_deadline *d)
{
    if (ipc__deadline_is_nowait(d)) return 1;
    ipc_latch *lp = for_room ? &r->not_full : &r->not_empty;
    const ring_geom g = geom_of(ch);
    ipc__blocked(ch, for_room ? IPC_EV_SEND_BLOCKED : IPC_EV_RECV_BLOCKED);

    for (;;) { /* SPIN and ADAPTIVE: look in rounds before (or instead of) sleeping */
        int step = ipc__spin_next(d);
        if (step == IPC__SPIN_BLOCK) break;
        if (step == IPC__SPIN_TIMEOUT) return 1;
        if (for_room ? ready(r, true) : spin_for_message(r, &g)) return 0;
        if (for_room) {
            ipc__spin_pause(d);
        } else if (d->w->wait == IPC_WAIT_SPIN) {
            /* spin_for_message paused already: only SPIN's occasional
             * yield (as ipc__spin_pause and core/wait.c's fd rounds do). */
            ipc_deadline *md = (ipc_deadline *)d;
            if (++md->spin_end % IPC_SPIN_YIELD_EVERY == 0) sched_yield();
        }
    }
    for (;;) {
        uint32_t seen = ipc__latch_prepare(lp);
        if (ready(r, for_room)) return 0; /* the last look, after arming */
        struct timespec until = ipc__deadline_step(d, RING_RECHECK_NS);
        int rc = ipc__futex_wait_word(&lp->seq, seen, r->shared, &until);
        if (ready(r, for_room)) return 0;
        if (rc < 0) return rc; /* IPC_ESYS (ipc__fail said why) */
        if (ipc__deadline_passed(d)) return 1;
        /* woken (maybe for another waiter), the recheck period, EAGAIN or
         * EINTR: look again */
    }
}

/* ---- push and pop -------------------------------------------------------- */

/* One attempt, never waits: IPC_OK, IPC_EFULL, IPC_ECLOSED, or RING_CORRUPT. */
enum { RING_CORRUPT = -100 };

/* Push, first half: is there room at tail?  IPC_OK with *tail_out the slot
 * to fill, IPC_EFULL, IPC_ECLOSED or RING_CORRUPT. */
static inline int claim(ipc_ring *r, const ring_geom *g, uint64_t *tail_out)
{
    /* RELAXED: tail is our own index (close only sets its top bit, and the
     * CAS in publish is what decides). */
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (tail & TAIL_SHUT) return IPC_ECLOSED;
    if (tail - r->head_cache >= g->capacity) {
        /* ACQUIRE: pairs with the consumer's RELEASE store of head, so its
         * reads of the slots it freed are done before we overwrite them. */
        uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
        if (__builtin_expect(head > tail || tail - head > g->capacity, 0)) return RING_CORRUPT;
        r->head_cache = head;
        if (tail - head >= g->capacity) return IPC_EFULL;
    }
    *tail_out = tail;
    return IPC_OK;
}

/* Push, second half: the slot at `tail` is filled; make it the receiver's.
 * IPC_OK, IPC_ECLOSED (close came first: the slot is simply not there) or
 * RING_CORRUPT (tail moved under us: only close may touch it). */
static inline int publish(ipc_ring *r, uint64_t tail)
{
    /* SEQ_CST compare-and-swap: publishes the slot (RELEASE: its contents
     * are visible no later than the new tail, pairing with the consumer's
     * ACQUIRE load of tail), and fails if close set TAIL_SHUT meanwhile. */
    uint64_t expected = tail;
    if (!atomic_compare_exchange_strong_explicit(&r->tail, &expected, tail + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return expected & TAIL_SHUT ? IPC_ECLOSED : RING_CORRUPT; /* only close may touch tail */
    wake(r, &r->not_empty);
    return IPC_OK;
}

static int push(ipc_ring *r, const ring_geom *g, const void *msg, size_t len, int prio)
{
    uint64_t tail;
    int rc = claim(r, g, &tail);
    if (rc != IPC_OK) return rc;
    ring_slot *s = slot_at(r, g, tail);
    s->len = (uint32_t)len;
    s->prio = prio;
    if (len) memcpy(s->data, msg, len);
    /* RELAXED: a hint for a spinning receiver (ring_slot); the CAS publishes. */
    atomic_store_explicit(&s->seq, (uint32_t)(tail + 1), memory_order_relaxed);
    return publish(r, tail);
}

/* Pop, first half: the oldest message, in place.  IPC_OK with *head_out
 * and *slot_out, IPC_EEMPTY, IPC_ECLOSED (shut and drained), RING_CORRUPT
 * (*len = the bad length, or 0). */
static inline int look(ipc_ring *r, const ring_geom *g, uint64_t *head_out, const ring_slot **slot_out,
                       size_t *len)
{
    /* RELAXED: head is our own index. */
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (head == r->tail_cache) {
        /* ACQUIRE: pairs with the producer's publishing CAS of tail: the
         * slots up to it are filled.  Its top bit says shut: index and flag
         * in one word, so "shut and empty" really means drained. */
        uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
        uint64_t t = tail & ~TAIL_SHUT;
        if (__builtin_expect(head > t || t - head > g->capacity, 0)) {
            *len = 0;
            return RING_CORRUPT;
        }
        r->tail_cache = t;
        if (head == t) return tail & TAIL_SHUT ? IPC_ECLOSED : IPC_EEMPTY;
    }
    const ring_slot *s = slot_at(r, g, head);
    *len = s->len;
    if (__builtin_expect(*len > g->max_msg, 0)) return RING_CORRUPT;
    *head_out = head;
    *slot_out = s;
    return IPC_OK;
}

/* Pop, second half: the slot at `head` has been read; free it. */
static inline void retire(ipc_ring *r, uint64_t head)
{
    /* RELEASE: our reads of the slot are done before the producer can see
     * it free (pairs with the producer's ACQUIRE load of head). */
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
    wake(r, &r->not_full);
}

/* One attempt: IPC_OK, IPC_EEMPTY, IPC_ECLOSED (shut and drained),
 * IPC_EMSGSIZE (*len = its size; the message stays queued), RING_CORRUPT. */
static int pop(ipc_ring *r, const ring_geom *g, void *buf, size_t cap, size_t *len, int *prio)
{
    uint64_t head;
    const ring_slot *s;
    int rc = look(r, g, &head, &s, len);
    if (rc != IPC_OK) return rc;
    if (*len > cap) return IPC_EMSGSIZE; /* head unchanged: it stays queued */
    if (*len) memcpy(buf, s->data, *len);
    *prio = s->prio;
    retire(r, head);
    return IPC_OK;
}

/* ---- send and receive: try, wait, try again ----------------------------- */

#ifdef IPC_TESTING
static ipc__ring_lock_hook_fn lock_hook; /* set before the test's channels run */
void ipc__ring_set_lock_hook(ipc__ring_lock_hook_fn fn) { lock_hook = fn; }
#endif

/* Take a side's lock, if there is one.  0 locked (or no lock), 1 deadline,
 * IPC_ESYS.  A holder that died inside push/pop left the ring consistent:
 * its index store, the only shared effect that matters, is one atomic
 * store that either happened or did not (see shm/shm.c), so
 * EOWNERDEAD needs no repair beyond what ipc__lock already does. */
static int lock_side(ipc_channel *ch, pthread_mutex_t *lock, const ipc_deadline *d, int is_recv)
{
    if (!lock) return 0;
    int rc = ipc__lock_brief(lock, d, NULL);
#ifdef IPC_TESTING
    if (rc == 0 && lock_hook) lock_hook(ch, is_recv);
#else
    (void)ch, (void)is_recv;
#endif
    return rc;
}

int ipc__ring_send(ipc_channel *ch, ipc_ring *r, pthread_mutex_t *lock,
                   const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    const ring_geom g = geom_of(ch);
    for (;;) {
        int rc = lock_side(ch, lock, d, 0);
        if (rc == 1) return ipc__fail(IPC_EFULL, "%s: another sender held the lock past the deadline",
                                      ch->mech->name);
        if (rc < 0) return rc;
        rc = push(r, &g, msg, len, prio);
        if (lock) pthread_mutex_unlock(lock);
        if (rc == IPC_ECLOSED) return ipc__fail(rc, "%s: channel is shut down", ch->mech->name);
        if (rc == RING_CORRUPT)
            return corrupt(ch, atomic_load(&r->head), atomic_load(&r->tail), len);
        if (rc != IPC_EFULL) return rc;
        rc = ring_wait(ch, r, true, d);
        if (rc == 1) return ipc__fail(IPC_EFULL, "%s: ring is full (%llu messages)", ch->mech->name,
                                      (unsigned long long)r->capacity);
        if (rc < 0) return rc;
    }
}

int ipc__ring_recv(ipc_channel *ch, ipc_ring *r, pthread_mutex_t *lock,
                   void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    const ring_geom g = geom_of(ch);
    for (;;) {
        int rc = lock_side(ch, lock, d, 1);
        if (rc == 1) return ipc__fail(IPC_EEMPTY, "%s: another receiver held the lock past the deadline",
                                      ch->mech->name);
        if (rc < 0) return rc;
        rc = pop(r, &g, buf, cap, len, prio);
        if (lock) pthread_mutex_unlock(lock);
        if (rc == IPC_ECLOSED) return ipc__fail(rc, "%s: shut down and drained", ch->mech->name);
        if (rc == RING_CORRUPT)
            return corrupt(ch, atomic_load(&r->head), atomic_load(&r->tail), *len);
        if (rc == IPC_EMSGSIZE)
            return ipc__fail(rc, "%s: message of %zu bytes does not fit a %zu-byte buffer",
                             ch->mech->name, *len, cap);
        if (rc != IPC_EEMPTY) return rc;
        rc = ring_wait(ch, r, false, d);
        if (rc == 1) return ipc__fail(IPC_EEMPTY, "%s: ring is empty", ch->mech->name);
        if (rc < 0) return rc;
    }
}

/* ---- loans (shm/loan.h): push and pop cut in two ------------------------ */

int ipc__ring_reserve(ipc_channel *ch, ipc_ring *r, uint64_t *index, void **data, const ipc_deadline *d)
{
    const ring_geom g = geom_of(ch);
    for (;;) {
        int rc = claim(r, &g, index);
        if (rc == IPC_OK) {
            *data = slot_at(r, &g, *index)->data;
            return IPC_OK;
        }
        if (rc == IPC_ECLOSED) return ipc__fail(rc, "%s: channel is shut down", ch->mech->name);
        if (rc == RING_CORRUPT) return corrupt(ch, atomic_load(&r->head), atomic_load(&r->tail), 0);
        rc = ring_wait(ch, r, true, d);
        if (rc == 1) return ipc__fail(IPC_EFULL, "%s: ring is full (%zu messages)", ch->mech->name, ch->capacity);
        if (rc < 0) return rc;
    }
}

int ipc__ring_commit(ipc_channel *ch, ipc_ring *r, uint64_t index, size_t len, int prio)
{
    const ring_geom g = geom_of(ch);
    ring_slot *s = slot_at(r, &g, index);
    s->len = (uint32_t)len;
    s->prio = prio;
    /* RELAXED: a hint for a spinning receiver (ring_slot); the CAS publishes. */
    atomic_store_explicit(&s->seq, (uint32_t)(index + 1), memory_order_relaxed);
    int rc = publish(r, index);
    if (rc == IPC_ECLOSED) return ipc__fail(rc, "%s: channel was shut down while the loan was out", ch->mech->name);
    if (rc == RING_CORRUPT) return corrupt(ch, atomic_load(&r->head), atomic_load(&r->tail), len);
    return IPC_OK;
}

int ipc__ring_peek(ipc_channel *ch, ipc_ring *r, uint64_t *index, void **data, size_t *len, int *prio,
                   const ipc_deadline *d)
{
    const ring_geom g = geom_of(ch);
    for (;;) {
        const ring_slot *s;
        int rc = look(r, &g, index, &s, len);
        if (rc == IPC_OK) {
            *data = (void *)s->data; /* the caller reads it in place until release */
            *prio = s->prio;
            return IPC_OK;
        }
        if (rc == IPC_ECLOSED) return ipc__fail(rc, "%s: shut down and drained", ch->mech->name);
        if (rc == RING_CORRUPT) return corrupt(ch, atomic_load(&r->head), atomic_load(&r->tail), *len);
        rc = ring_wait(ch, r, false, d);
        if (rc == 1) return ipc__fail(IPC_EEMPTY, "%s: ring is empty", ch->mech->name);
        if (rc < 0) return rc;
    }
}

bool ipc__ring_at(const ipc_ring *r, uint64_t index, bool send)
{
    /* RELAXED: each index is written only by its own side, the caller. */
    if (send) return (atomic_load_explicit(&((ipc_ring *)r)->tail, memory_order_relaxed) & ~TAIL_SHUT) == index;
    return atomic_load_explicit(&((ipc_ring *)r)->head, memory_order_relaxed) == index;
}

int ipc__ring_release(ipc_channel *ch, ipc_ring *r, uint64_t index)
{
    /* RELAXED: head is our own index (the one consumer of the moment). */
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (head != index)
        return ipc__fail(IPC_EINVAL, "%s: the peeked message is gone (head %llu, loan at %llu): "
                         "another receiver took it", ch->mech->name, (unsigned long long)head,
                         (unsigned long long)index);
    retire(r, index);
    return IPC_OK;
}

int ipc__ring_close(ipc_ring *r)
{
    /* SEQ_CST store then unconditional wakes: every sleeper, in every
     * process, re-checks and sees shut (ready() returns true for it). */
    atomic_store(&r->shut, true);
    /* SEQ_CST OR: from here on no push can publish (see "Close" at the top). */
    atomic_fetch_or(&r->tail, TAIL_SHUT);
    /* Always, not only when a latch is armed: a close is rare, and it must
     * not depend on a waker that may have died between clearing `armed`
     * and its wake. */
    ipc__latch_wake_always(&r->not_empty, r->shared);
    ipc__latch_wake_always(&r->not_full, r->shared);
    return IPC_OK;
}

long ipc__ring_depth(const ipc_ring *r)
{
    /* RELAXED: a hint, like qsize(); head first so the result is never negative. */
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed) & ~TAIL_SHUT;
    /* (a header another process wrote may say anything: never a negative count) */
    return tail > head && tail - head <= r->capacity && tail - head <= (uint64_t)LONG_MAX ? (long)(tail - head) : 0;
}
