/*
 * core/futex.h — the one futex wait/wake primitive.
 *
 * A wait point is two 32-bit words that may live in private or shared
 * memory (any process mapping them may wait or wake):
 *   seq      the futex word: every wake that finds a sleeper bumps it first,
 *            so a sleeper that read it before its last look at the state
 *            cannot miss a change made after that look (FUTEX_WAIT sleeps
 *            only while seq still holds the value it read);
 *   waiters  callers between ipc__futex_prepare and ipc__futex_done: a waker
 *            that reads 0 skips the system call (DESIGN.md: senders never pay
 *            a wake-up when nobody sleeps).
 *
 * The protocol (Dekker: each side stores, fences, then loads the other's
 * word, so at least one of them sees the other):
 *
 *   waiter                                  waker
 *     seen = ipc__futex_prepare(wp);          publish the change (any order
 *     if (!ready())                             the state needs), then
 *         r = ipc__futex_wait(wp, seen, ...);   ipc__futex_wake(wp, shared);
 *     ipc__futex_done(wp);
 *     look at the state again
 *
 * The same protocol works when the state is guarded by a lock (prepare under
 * the lock, unlock, wait; the waker wakes after its unlock).  Robustness: a
 * waiter killed asleep leaves `waiters` one too high — later wakes make a
 * system call nobody needed, never a lost wake-up; nothing here can be left
 * locked or corrupt by a dead process (DESIGN.md).
 *
 * Waits take an ABSOLUTE CLOCK_MONOTONIC time (FUTEX_WAIT_BITSET), so EINTR
 * and spurious wake-ups never stretch the caller's deadline.  Spinning and
 * adaptive strategies are built on top (core/wait.h); this is the kernel part.
 */
#ifndef IPCPLAY_CORE_FUTEX_H
#define IPCPLAY_CORE_FUTEX_H

#include "core/deadline.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct ipc_futex {
    _Atomic uint32_t seq;     /* the futex word: bumped by every wake that finds a sleeper */
    _Atomic uint32_t waiters; /* callers between prepare and done (one too high per dead one) */
} ipc_futex;

/* ---- the raw system call, for a state word that is its own futex word
 * (an event's flag+generation).  shared: the word may be in memory mapped
 * by several processes (no FUTEX_PRIVATE_FLAG). */
/* Sleep while *word == expected, until woken or `abs` (CLOCK_MONOTONIC; NULL
 * = forever).  Returns 0 (woken, or the word had changed: EAGAIN, or EINTR:
 * look again), 1 (abs passed) or IPC_ESYS. */
int  ipc__futex_wait_word(_Atomic uint32_t *word, uint32_t expected, bool shared,
                          const struct timespec *abs);
/* Wake up to n sleepers on word (INT_MAX: all).  Returns how many woke, or
 * IPC_ESYS (only for a bad address). */
int  ipc__futex_wake_word(_Atomic uint32_t *word, int n, bool shared);

/* ---- the wait point ------------------------------------------------------ */
/* Register as a waiter and return the current seq (the value to sleep on).
 * SEQ_CST: the increment is visible before the caller's next look at the
 * state (one half of the Dekker pair; the fence in ipc__futex_wake is the
 * other). */
uint32_t ipc__futex_prepare(ipc_futex *wp);
/* Sleep while seq == seen, until woken or the deadline (nowait: return 1 at
 * once).  Returns 0 (look again), 1 (deadline passed) or IPC_ESYS.  Does NOT
 * unregister: call ipc__futex_done afterwards in every case. */
int  ipc__futex_wait(ipc_futex *wp, uint32_t seen, bool shared, const ipc_deadline *d);
/* The same with an explicit absolute CLOCK_MONOTONIC time (NULL = forever),
 * for waits that also wake on a period (a recheck for dead peers). */
int  ipc__futex_wait_until(ipc_futex *wp, uint32_t seen, bool shared, const struct timespec *abs);
/* Unregister. */
void ipc__futex_done(ipc_futex *wp);
/* After publishing a change: wake every sleeper, or return at once without
 * a system call when nobody is registered.  All, not one: a woken waiter may
 * give up at its deadline (or die) without taking the change. */
void ipc__futex_wake(ipc_futex *wp, bool shared);
/* Bump and wake even when `waiters` reads 0 (after recovering a lock whose
 * holder died mid-update: nobody knows what it had published). */
void ipc__futex_wake_always(ipc_futex *wp, bool shared);
/* Someone registered right now?  A hint (RELAXED): what spin strategies and
 * tests look at. */
static inline uint32_t ipc__futex_waiters(const ipc_futex *wp)
{
    /* RELAXED: a hint only; the protocol above does not depend on it. */
    return atomic_load_explicit(&((ipc_futex *)wp)->waiters, memory_order_relaxed);
}

#ifdef IPC_TESTING
/* Futex system calls made here, counted in the tests' copy of the library
 * only: test_wait compares it with every SYS_futex it sees, to prove there
 * is one futex implementation. */
extern _Atomic long ipc__futex_syscalls;
#endif

/* ---- the latch: a wait point that wakes once per round of sleepers --------
 *
 * ipc_futex's `waiters` count elides the wake when nobody sleeps, but not
 * while a sleeper that was already woken has not yet run: until it gets
 * its CPU back and unregisters, every change its waker publishes pays a
 * FUTEX_WAKE (on a loaded machine that is many system calls per wake-up,
 * and a dead sleeper makes it every change forever).  A latch keeps one
 * word `armed` instead: a sleeper sets it right before its last look at
 * the state, and the waker that clears it (one atomic exchange) is the
 * only one that makes the system call; later wakers find it clear and
 * return at once.  The order (Dekker again, with the SEQ_CST fences):
 *
 *   sleeper                                 waker
 *     seen = ipc__latch_prepare(g);            publish the change, then
 *       (reads seq, THEN sets armed, fence)   ipc__latch_wake(g, shared);
 *     if (!ready()) ipc__futex_wait_word(...);    (fence, armed? exchange it
 *     look at the state again                   to 0, bump seq, wake all)
 *
 * A sleeper whose armed store a waker consumed read seq before that
 * waker's bump, so its FUTEX_WAIT cannot sleep through the bump; a sleeper
 * whose store came later sees the waker's change in its last look (the
 * fences), or leaves armed set for the next waker.  Robustness: a sleeper
 * killed asleep leaves armed set: ONE needless wake, then it is clear.  A
 * waker killed between its exchange and its FUTEX_WAKE leaves sleepers
 * asleep until their own deadline or recheck period (procq: 1 s). */
typedef struct ipc_latch {
    _Atomic uint32_t seq;   /* the futex word: bumped by every wake that finds armed set */
    _Atomic uint32_t armed; /* 1: someone registered since the last wake */
} ipc_latch;

/* Register (see above) and return the value of seq to sleep on. */
uint32_t ipc__latch_prepare(ipc_latch *g);
/* After publishing a change: wake every sleeper if one registered since the
 * last wake; otherwise no system call. */
void ipc__latch_wake(ipc_latch *g, bool shared);
/* Bump and wake unconditionally (a lock recovered from a dead holder). */
void ipc__latch_wake_always(ipc_latch *g, bool shared);
/* Wait, under the caller's strategy (core/wait.h), until ready(arg) is
 * true, the deadline passes or a wake-up: SPIN/ADAPTIVE first spin on
 * ready() without a system call, then (BLOCK, or ADAPTIVE's budget spent)
 * prepare, look once more, and sleep on seq until woken, the deadline, or
 * recheck_ns (0 = none: a period after which a sleeper looks again even
 * unwoken, for peers that may die between their change and its wake).
 * Hold no lock: ready() reads the state without one, as a hint; the caller
 * then looks again under its lock.  Returns 0 (look again), 1 (the
 * deadline passed; nowait returns 1 at once) or IPC_ESYS. */
int  ipc__latch_await(ipc_latch *g, bool shared, const ipc_deadline *d, int64_t recheck_ns,
                     bool (*ready)(void *arg), void *arg);

#endif /* IPCPLAY_CORE_FUTEX_H */
