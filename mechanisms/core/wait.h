/*
 * core/wait.h — how a caller waits: the three strategies of ipc.h
 * (IPC_WAIT_BLOCK, IPC_WAIT_SPIN, IPC_WAIT_ADAPTIVE), written once for every
 * kind of waiting the mechanisms have.  See wait.c for the design.
 *
 * A handle's strategy lives in its ipc_waiter (ipc_channel.waiter); the
 * dispatch layer points every call's deadline at it (ipc_deadline.w), so a
 * wait helper that is handed the deadline knows how to wait:
 *   an fd            ipc__wait_fd (wait.c): poll(…, 0) rounds, then poll;
 *   a monitor        ipc__cond_wait (shared_sync.c) and the thread queue:
 *                    unlock, pause, relock and report "woken" (the caller
 *                    re-checks its condition), then the condition variable;
 *   a futex word     the ring's wait (same rounds around its ready() check);
 *   a broker reply   the broker's fd, through ipc__wait_fd.
 * Each of them asks ipc__spin_next() "one more spin round, block now, or has
 * the deadline passed?" before each round, and calls ipc__spin_pause()
 * between rounds that are not themselves a system call.
 *
 * This header needs no other: ipc_internal.h includes it before it defines
 * ipc_channel, which embeds an ipc_waiter.
 */
#ifndef IPCPLAY_CORE_WAIT_H
#define IPCPLAY_CORE_WAIT_H

#include <stdatomic.h>
#include <stdint.h>

struct ipc_deadline;

/* One handle's strategy and its adaptive state.  The state is shared by the
 * threads using the handle (RELAXED atomics: a lost update only means a
 * slightly different budget, never a wrong result). */
typedef struct ipc_waiter {
    int              wait;     /* IPC_WAIT_BLOCK, _SPIN or _ADAPTIVE (resolved)   */
    uint32_t         spin_max; /* ADAPTIVE's ceiling in ns; 0 on a one-CPU machine */
    _Atomic uint32_t budget;   /* ADAPTIVE's current budget in ns (0..spin_max)   */
    _Atomic uint32_t probes;   /* waits since the budget fell to 0                */
} ipc_waiter;

/* The tuned default of ipc_config.spin_ns: 20 µs.  A cross-CPU hand-off
 * through the kernel (pipe, socket, mq) answers in 2–4 µs and a futex word
 * in well under 1 µs on this project's machines (TOOLCHAIN.md), so a peer
 * that answers at all answers well inside it; one that does not costs at
 * most 20 µs before the budget shrinks. */
#define IPC_SPIN_NS_DEFAULT 20000u
/* The smallest spin an ADAPTIVE waiter keeps; below it the budget is 0
 * (block at once), and one wait in IPC_SPIN_PROBE_EVERY spins the whole
 * ceiling as a probe: it notices that the peer can answer again (moved to
 * another CPU, the machine got quieter) even when the peer is itself
 * asleep and needs a wake-up first.  On one CPU a probe costs spin_ns /
 * IPC_SPIN_PROBE_EVERY per wait (20 µs / 64 ≈ 0.3 µs). */
#define IPC_SPIN_NS_MIN 500u
#define IPC_SPIN_PROBE_EVERY 64u
/* SPIN's one concession to a shared CPU: a sched_yield() every this many
 * rounds, so a peer waiting for this very CPU gets it within ~10 µs rather
 * than at the end of the spinner's time slice. */
#define IPC_SPIN_YIELD_EVERY 32

/* Fill a handle's waiter (wait already resolved, spin_ns already checked). */
void ipc__waiter_init(ipc_waiter *w, int wait, long spin_ns);

/* What a wait does next (ipc__spin_next). */
enum ipc__spin_step {
    IPC__SPIN_BLOCK   = 0, /* sleep now (BLOCK, or ADAPTIVE's budget is spent) */
    IPC__SPIN_ROUND   = 1, /* check once more without sleeping                 */
    IPC__SPIN_TIMEOUT = 2, /* the deadline passed while spinning               */
};
/* Before each round.  Never answers IPC__SPIN_ROUND for a nowait deadline
 * (callers handle "do not wait" first).  ADAPTIVE: the first call of a send
 * or recv arms the spin phase (and optimistically grows the budget); the
 * call that ends it without progress shrinks the budget (wait.c). */
int  ipc__spin_next(const struct ipc_deadline *d);
/* Between rounds that are not a system call: a few pause instructions
 * (and, under SPIN, a sched_yield now and then). */
void ipc__spin_pause(const struct ipc_deadline *d);

static inline void ipc__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause(); /* tells the core it is a spin: saves power, frees the sibling thread */
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif /* IPCPLAY_CORE_WAIT_H */
