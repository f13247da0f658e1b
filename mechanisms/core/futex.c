/*
 * core/futex.c — futex(2) (glibc has no wrapper: syscall(SYS_futex, ...))
 * and the wait-point protocol of futex.h.
 */
#define _GNU_SOURCE
#include "core/futex.h"
#include "core/error.h"
#include "core/wait.h"

#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "futex words must be lock-free: they may live in shared memory");

#ifdef IPC_TESTING
_Atomic long ipc__futex_syscalls; /* futex.h */
#endif

static long futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *abs, bool shared)
{
#ifdef IPC_TESTING
    /* RELAXED: a count the test reads after joining every thread. */
    atomic_fetch_add_explicit(&ipc__futex_syscalls, 1, memory_order_relaxed);
#endif
    if (!shared) op |= FUTEX_PRIVATE_FLAG; /* threads of one process: cheaper hashing */
    return syscall(SYS_futex, (uint32_t *)word, op, val, abs, NULL, FUTEX_BITSET_MATCH_ANY);
}

int ipc__futex_wait_word(_Atomic uint32_t *word, uint32_t expected, bool shared, const struct timespec *abs)
{
    if (futex(word, FUTEX_WAIT_BITSET, expected, abs, shared) == 0) return 0;
    if (errno == ETIMEDOUT) return 1;
    if (errno == EAGAIN || errno == EINTR) return 0;
    return ipc__fail(IPC_ESYS, "futex(FUTEX_WAIT_BITSET)");
}

int ipc__futex_wake_word(_Atomic uint32_t *word, int n, bool shared)
{
    long r = futex(word, FUTEX_WAKE, (uint32_t)n, NULL, shared);
    if (r < 0) return ipc__fail(IPC_ESYS, "futex(FUTEX_WAKE)");
    return (int)r;
}

uint32_t ipc__futex_prepare(ipc_futex *wp)
{
    /* SEQ_CST add and fence: `waiters` is visible before the caller looks
     * at the state again (the other half of the fence in ipc__futex_wake). */
    atomic_fetch_add_explicit(&wp->waiters, 1, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst);
    /* ACQUIRE: pairs with the RELEASE bump in wake, so a waiter that reads
     * the new seq also sees the change published before it. */
    return atomic_load_explicit(&wp->seq, memory_order_acquire);
}

int ipc__futex_wait_until(ipc_futex *wp, uint32_t seen, bool shared, const struct timespec *abs)
{
    return ipc__futex_wait_word(&wp->seq, seen, shared, abs);
}

int ipc__futex_wait(ipc_futex *wp, uint32_t seen, bool shared, const ipc_deadline *d)
{
    if (ipc__deadline_is_nowait(d)) return 1;
    const struct timespec *abs = ipc__deadline_blocks_forever(d) ? NULL : &d->when;
    int r = ipc__futex_wait_word(&wp->seq, seen, shared, abs);
    if (r == 0 && ipc__deadline_passed(d)) return 1;
    return r;
}

void ipc__futex_done(ipc_futex *wp)
{
    /* RELAXED: only a hint for wakers; a late decrement costs one needless
     * FUTEX_WAKE, never a lost one (the sleeper is awake already). */
    atomic_fetch_sub_explicit(&wp->waiters, 1, memory_order_relaxed);
}

void ipc__futex_wake_always(ipc_futex *wp, bool shared)
{
    /* RELEASE: a waiter that reads the new seq also sees the change. */
    atomic_fetch_add_explicit(&wp->seq, 1, memory_order_release);
    /* fails only for an unmapped or misaligned word, which a live wait
     * point's is not; the waker has already succeeded, nothing to report */
    (void)futex(&wp->seq, FUTEX_WAKE, INT_MAX, NULL, shared);
}

void ipc__futex_wake(ipc_futex *wp, bool shared)
{
    /* SEQ_CST fence: orders the caller's publishing store before the load
     * of `waiters` (Dekker with ipc__futex_prepare): either we see the
     * sleeper, or it sees the change and does not sleep. */
    atomic_thread_fence(memory_order_seq_cst);
    /* RELAXED: the fence above already ordered this load. */
    if (atomic_load_explicit(&wp->waiters, memory_order_relaxed) == 0) return;
    ipc__futex_wake_always(wp, shared);
}

/* ---- the gate (futex.h) ---------------------------------------------------- */

uint32_t ipc__latch_prepare(ipc_latch *g)
{
    /* ACQUIRE: pairs with the RELEASE bump below.  Read BEFORE arming: a
     * waker that consumes our armed store bumps seq after this read. */
    uint32_t seen = atomic_load_explicit(&g->seq, memory_order_acquire);
    /* RELEASE: a waker whose exchange reads this store also sees the read
     * above as done (so its bump cannot be the value we sleep on). */
    atomic_store_explicit(&g->armed, 1, memory_order_release);
    /* SEQ_CST fence: armed is visible before our last look at the state
     * (Dekker with the fence in ipc__latch_wake). */
    atomic_thread_fence(memory_order_seq_cst);
    return seen;
}

void ipc__latch_wake_always(ipc_latch *g, bool shared)
{
    atomic_store_explicit(&g->armed, 0, memory_order_relaxed); /* RELAXED: a hint; the bump orders */
    /* RELEASE: a sleeper that reads the new seq also sees the change. */
    atomic_fetch_add_explicit(&g->seq, 1, memory_order_release);
    (void)futex(&g->seq, FUTEX_WAKE, INT_MAX, NULL, shared); /* fails only for a bad address */
}

void ipc__latch_wake(ipc_latch *g, bool shared)
{
    /* SEQ_CST fence: our publishing store is ordered before the load of
     * armed (the other half of the fence in ipc__latch_prepare). */
    atomic_thread_fence(memory_order_seq_cst);
    /* RELAXED load first: with nobody asleep the line stays shared and the
     * check costs no write; the fence above ordered it. */
    if (atomic_load_explicit(&g->armed, memory_order_relaxed) == 0) return;
    /* ACQ_REL: one waker wins the round (the others read 0), and it
     * acquires the sleepers' seq reads (see prepare). */
    if (atomic_exchange_explicit(&g->armed, 0, memory_order_acq_rel) == 0) return;
    /* RELEASE: a sleeper that reads the new seq also sees the change. */
    atomic_fetch_add_explicit(&g->seq, 1, memory_order_release);
    (void)futex(&g->seq, FUTEX_WAKE, INT_MAX, NULL, shared); /* fails only for a bad address */
}

int ipc__latch_await(ipc_latch *g, bool shared, const ipc_deadline *d, int64_t recheck_ns,
                    bool (*ready)(void *arg), void *arg)
{
    if (ipc__deadline_is_nowait(d)) return 1;
    for (;;) { /* SPIN / ADAPTIVE: rounds of ready() with no system call */
        int s = ipc__spin_next(d);
        if (s == IPC__SPIN_TIMEOUT) return 1;
        if (s == IPC__SPIN_BLOCK) break;
        if (ready(arg)) return 0;
        ipc__spin_pause(d);
    }
    uint32_t seen = ipc__latch_prepare(g);
    if (ready(arg)) return 0; /* the last look, after arming */
    const struct timespec *abs = NULL;
    struct timespec until;
    if (recheck_ns > 0) {
        until = ipc__deadline_step(d, recheck_ns);
        abs = &until;
    } else if (!ipc__deadline_blocks_forever(d)) {
        abs = &d->when;
    }
    int r = ipc__futex_wait_word(&g->seq, seen, shared, abs); /* absolute: EINTR cannot stretch it */
    if (r < 0) return r;
    return ipc__deadline_passed(d) ? 1 : 0;
}
