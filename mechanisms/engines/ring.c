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
 * ADAPTIVE once its budget is spent, sleep on a futex (futex(2), no glibc
 * wrapper: syscall(SYS_futex, ...)), so an idle ring costs no CPU.  The
 * futex protocol is in ring_wait.
 *
 * Close.  A `shut` flag plus a wake of every sleeper; pop keeps returning
 * queued messages until the ring is drained, then IPC_ECLOSED.
 */
#define _GNU_SOURCE
#include "ring.h"

#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
               "the ring's counters must be lock-free: they may live in memory shared by processes");

typedef struct ring_slot {
    uint32_t      len;
    int32_t       prio;
    unsigned char data[]; /* up to slot_size - 8 bytes */
} ring_slot;

static ring_slot *slot_at(const ipc_ring *r, uint64_t index)
{
    return (ring_slot *)((char *)r + sizeof(ipc_ring) + (index % r->capacity) * r->slot_size);
}

size_t ipc__ring_size(size_t capacity, size_t max_msg)
{
    size_t slot = (sizeof(ring_slot) + max_msg + 63) & ~(size_t)63;
    if (capacity == 0 || capacity > ((size_t)1 << 30) / slot) return 0;
    return sizeof(ipc_ring) + capacity * slot;
}

void ipc__ring_init(ipc_ring *r, size_t capacity, size_t max_msg, bool shared)
{
    r->capacity = capacity;
    r->slot_size = (sizeof(ring_slot) + max_msg + 63) & ~(size_t)63;
    r->shared = shared;
}

/* ---- the futex and the wait protocol ------------------------------------ */

static long futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *abs, bool shared)
{
    if (!shared) op |= FUTEX_PRIVATE_FLAG; /* threads of one process: cheaper hashing */
    return syscall(SYS_futex, word, op, val, abs, NULL, FUTEX_BITSET_MATCH_ANY);
}

/* The notifier's half of the protocol, called right after publishing tail
 * (or head).  Most of the time nobody sleeps and this is one fence and one
 * load: no system call. */
static void wake(ipc_ring *r, ipc_waitpoint *wp)
{
    /* SEQ_CST fence: orders our index store before the load of `waiters`.
     * Paired with the fence in ring_wait (store waiters; fence; load
     * index), at least one side sees the other's store (Dekker): either we
     * see the sleeper, or it sees our new index and does not sleep. */
    atomic_thread_fence(memory_order_seq_cst);
    /* RELAXED: the fence above already ordered this load. */
    if (atomic_load_explicit(&wp->waiters, memory_order_relaxed) == 0) return;
    /* RELEASE: a waiter that reads the new seq also sees our index store. */
    atomic_fetch_add_explicit(&wp->seq, 1, memory_order_release);
    /* Wake all, not one: a woken waiter may give up at its deadline (or
     * lose the race for an MPMC lock) without taking the message, and the
     * one-wakeup-per-message accounting would then strand the others.
     * FUTEX_WAKE fails only for an unmapped or misaligned word, which a
     * live ring's is not; the sender has already succeeded, so there is no
     * error to report to it either way. */
    (void)futex(&wp->seq, FUTEX_WAKE, INT_MAX, NULL, r->shared);
}

/* Can the caller make progress?  A hint only (the real check is the next
 * push/pop), so RELAXED loads do: the fences in the protocol order them. */
static bool ready(const ipc_ring *r, bool for_room)
{
    if (atomic_load_explicit(&r->shut, memory_order_relaxed)) return true;
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    return for_room ? tail - head < r->capacity : tail != head;
}

/*
 * The waiter's half.  The lost wakeup to avoid: the waiter checks "empty",
 * the producer pushes and finds nobody asleep, then the waiter sleeps
 * forever.  Two words prevent it:
 *   waiters  the producer skips the (costly) FUTEX_WAKE when it is 0;
 *            the waiter raises it BEFORE its last check of the ring;
 *   seq      the futex word.  The waiter reads it before its last check
 *            and FUTEX_WAIT sleeps only if it still holds that value; every
 *            wake bumps it first.  So a push between the last check and the
 *            sleep makes FUTEX_WAIT return at once (EAGAIN).
 * FUTEX_WAIT_BITSET takes an ABSOLUTE CLOCK_MONOTONIC time: we hand it the
 * call's deadline as is, so an EINTR and a retry never restart the clock
 * (plain FUTEX_WAIT would need the relative time recomputed each round).
 * A waiter killed while asleep leaves `waiters` one too high: that costs
 * needless FUTEX_WAKE calls later, never a lost wakeup.
 * Returns 0 (look again), 1 (the deadline passed) or IPC_ESYS.
 */
static int ring_wait(ipc_channel *ch, ipc_ring *r, bool for_room, const ipc_deadline *d)
{
    if (ipc__deadline_is_nowait(d)) return 1;
    ipc_waitpoint *wp = for_room ? &r->not_full : &r->not_empty;
    ipc__blocked(ch, for_room ? IPC_EV_SEND_BLOCKED : IPC_EV_RECV_BLOCKED);

    for (;;) { /* SPIN and ADAPTIVE: look in rounds before (or instead of) sleeping */
        int step = ipc__spin_next(d);
        if (step == IPC__SPIN_BLOCK) break;
        if (step == IPC__SPIN_TIMEOUT) return 1;
        if (ready(r, for_room)) return 0;
        ipc__spin_pause(d);
    }
    const struct timespec *abs = ipc__deadline_blocks_forever(d) ? NULL : &d->when;
    for (;;) {
        /* SEQ_CST add and fence: `waiters` is visible before we look at the
         * ring again (the other half of the fence pair in wake()). */
        atomic_fetch_add_explicit(&wp->waiters, 1, memory_order_seq_cst);
        atomic_thread_fence(memory_order_seq_cst);
        /* ACQUIRE: pairs with the RELEASE bump in wake(). */
        uint32_t seq = atomic_load_explicit(&wp->seq, memory_order_acquire);
        long rc = 0;
        int err = 0;
        if (!ready(r, for_room)) {
            rc = futex(&wp->seq, FUTEX_WAIT_BITSET, seq, abs, r->shared);
            err = errno;
        }
        atomic_fetch_sub_explicit(&wp->waiters, 1, memory_order_relaxed);
        if (ready(r, for_room)) return 0;
        if (rc < 0 && err == ETIMEDOUT) return 1;
        if (rc < 0 && err != EAGAIN && err != EINTR) {
            errno = err;
            return ipc__fail(IPC_ESYS, "futex(FUTEX_WAIT_BITSET)");
        }
        if (ipc__deadline_passed(d)) return 1;
        /* woken (maybe for another waiter), EAGAIN or EINTR: look again */
    }
}

/* ---- push and pop -------------------------------------------------------- */

/* One attempt, never waits: IPC_OK, IPC_EFULL or IPC_ECLOSED. */
static int push(ipc_ring *r, const void *msg, size_t len, int prio)
{
    /* RELAXED: shut is a flag with no data attached; a push racing with
     * close may land just before it, which is a legal order. */
    if (atomic_load_explicit(&r->shut, memory_order_relaxed)) return IPC_ECLOSED;
    /* RELAXED: tail is our own index; nobody else writes it. */
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (tail - r->head_cache >= r->capacity) {
        /* ACQUIRE: pairs with the consumer's RELEASE store of head, so its
         * reads of the slots it freed are done before we overwrite them. */
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        if (tail - r->head_cache >= r->capacity) return IPC_EFULL;
    }
    ring_slot *s = slot_at(r, tail);
    s->len = (uint32_t)len;
    s->prio = prio;
    if (len) memcpy(s->data, msg, len);
    /* RELEASE: the slot's contents become visible no later than the new
     * tail (pairs with the consumer's ACQUIRE load of tail). */
    atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
    wake(r, &r->not_empty);
    return IPC_OK;
}

/* One attempt: IPC_OK, IPC_EEMPTY, IPC_ECLOSED (shut and drained) or
 * IPC_EMSGSIZE (*len = its size; the message stays queued). */
static int pop(ipc_ring *r, void *buf, size_t cap, size_t *len, int *prio)
{
    /* RELAXED: head is our own index. */
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (head == r->tail_cache) {
        /* ACQUIRE, and BEFORE tail: if shut is seen set, every push that
         * happened before the close is seen by the tail load below, so
         * "shut and empty" really means drained. */
        bool shut = atomic_load_explicit(&r->shut, memory_order_acquire);
        /* ACQUIRE: pairs with the producer's RELEASE store of tail: the
         * slots up to it are filled. */
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (head == r->tail_cache) return shut ? IPC_ECLOSED : IPC_EEMPTY;
    }
    const ring_slot *s = slot_at(r, head);
    *len = s->len;
    if (s->len > cap) return IPC_EMSGSIZE; /* head unchanged: it stays queued */
    if (s->len) memcpy(buf, s->data, s->len);
    *prio = s->prio;
    /* RELEASE: our reads of the slot are done before the producer can see
     * it free (pairs with the producer's ACQUIRE load of head). */
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
    wake(r, &r->not_full);
    return IPC_OK;
}

/* ---- send and receive: try, wait, try again ----------------------------- */

void (*ipc__ring_lock_hook)(ipc_channel *ch, int is_recv);

/* Take a side's lock, if there is one.  0 locked (or no lock), 1 deadline,
 * IPC_ESYS.  A holder that died inside push/pop left the ring consistent:
 * its index store, the only shared effect that matters, is one atomic
 * store that either happened or did not (see shm/shm.c), so
 * EOWNERDEAD needs no repair beyond what ipc__lock already does. */
static int lock_side(ipc_channel *ch, pthread_mutex_t *lock, const ipc_deadline *d, int is_recv)
{
    if (!lock) return 0;
    int rc = ipc__lock_brief(lock, d, NULL);
    if (rc == 0 && ipc__ring_lock_hook) ipc__ring_lock_hook(ch, is_recv);
    return rc;
}

int ipc__ring_send(ipc_channel *ch, ipc_ring *r, pthread_mutex_t *lock,
                   const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    for (;;) {
        int rc = lock_side(ch, lock, d, 0);
        if (rc == 1) return ipc__fail(IPC_EFULL, "%s: another sender held the lock past the deadline",
                                      ch->mech->name);
        if (rc < 0) return rc;
        rc = push(r, msg, len, prio);
        if (lock) pthread_mutex_unlock(lock);
        if (rc == IPC_ECLOSED) return ipc__fail(rc, "%s: channel is shut down", ch->mech->name);
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
    for (;;) {
        int rc = lock_side(ch, lock, d, 1);
        if (rc == 1) return ipc__fail(IPC_EEMPTY, "%s: another receiver held the lock past the deadline",
                                      ch->mech->name);
        if (rc < 0) return rc;
        rc = pop(r, buf, cap, len, prio);
        if (lock) pthread_mutex_unlock(lock);
        if (rc == IPC_ECLOSED) return ipc__fail(rc, "%s: shut down and drained", ch->mech->name);
        if (rc == IPC_EMSGSIZE)
            return ipc__fail(rc, "%s: message of %zu bytes does not fit a %zu-byte buffer",
                             ch->mech->name, *len, cap);
        if (rc != IPC_EEMPTY) return rc;
        rc = ring_wait(ch, r, false, d);
        if (rc == 1) return ipc__fail(IPC_EEMPTY, "%s: ring is empty", ch->mech->name);
        if (rc < 0) return rc;
    }
}

int ipc__ring_close(ipc_ring *r)
{
    /* SEQ_CST store then unconditional wakes: every sleeper, in every
     * process, re-checks and sees shut (ready() returns true for it). */
    atomic_store(&r->shut, true);
    ipc_waitpoint *wps[] = { &r->not_empty, &r->not_full };
    for (size_t i = 0; i < 2; i++) {
        atomic_fetch_add_explicit(&wps[i]->seq, 1, memory_order_release);
        if (futex(&wps[i]->seq, FUTEX_WAKE, INT_MAX, NULL, r->shared) < 0)
            return ipc__fail(IPC_ESYS, "futex(FUTEX_WAKE)");
    }
    return IPC_OK;
}

long ipc__ring_depth(const ipc_ring *r)
{
    /* RELAXED: a hint, like qsize(); head first so the result is never negative. */
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    return tail > head ? (long)(tail - head) : 0;
}
