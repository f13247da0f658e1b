/*
 * core/wait.c — the wait strategies (ipc.h, enum ipc_wait), once for every
 * kind of waiting: what a caller does while the channel is full or empty.
 *
 * BLOCK sleeps in the kernel at once; SPIN never sleeps (it retries until
 * ready, the deadline or close); ADAPTIVE spins up to a budget, then blocks.
 * A wait helper (ipc__wait_fd below, ipc__cond_wait, the thread queue's and
 * the ring's waits) runs the same loop whatever it waits on:
 *
 *     for (;;) switch (ipc__spin_next(d)) {
 *     case IPC__SPIN_ROUND:   check without sleeping; ready -> return;
 *                             ipc__spin_pause(d); continue;
 *     case IPC__SPIN_TIMEOUT: return "deadline passed";
 *     case IPC__SPIN_BLOCK:   sleep as BLOCK always did;
 *     }
 *
 * so deadlines, close and EINTR behave the same under every strategy: a spin
 * round checks the same readiness (and the same close signal: the fd's
 * wake_fd, the monitor's condition re-checked by its caller, the ring's shut
 * flag) that the blocking sleep would have woken for, and the deadline is
 * the call's absolute one, which a signal does not restart.
 *
 * Adaptive, and why it does not collapse on one CPU.  Spinning pays only
 * while the other side is running on another CPU: then it answers within a
 * cache-line transfer or a syscall, far sooner than a sleep and a wake-up.
 * When it cannot be running — both pinned to one CPU, the peer preempted or
 * idle — every spun nanosecond is taken from the CPU the peer needs, and the
 * spin always ends without progress.  So each handle keeps a budget (ns):
 *   - the first wait of a call arms a spin phase of `budget` ns and doubles
 *     the budget at once (optimistically, up to spin_ns);
 *   - a spin phase that runs out and has to block quarters it: so a
 *     successful spin doubles the budget and a failed one halves it
 *     (no second hook is needed to observe success);
 *   - below IPC_SPIN_NS_MIN the budget is 0: block at once;
 *   - with the budget at 0, one wait in IPC_SPIN_PROBE_EVERY spins the whole
 *     ceiling anyway (a probe).  Short probes are not enough: in a
 *     ping-pong where both sides have fallen back to blocking, each side's
 *     peer is asleep, so an answer takes a wake-up (10-20 µs on a VM) and
 *     only a spin that outlasts it can see the answer and start the climb
 *     back (the other side's next probe then meets a spinning peer and
 *     succeeds at once).  A failed probe puts the budget straight back to 0;
 *   - on a machine with one online CPU the ceiling is 0: ADAPTIVE is BLOCK.
 *   - on a machine with one online CPU the ceiling is 0: ADAPTIVE is BLOCK.
 * On one CPU a ping-pong therefore pays, after a handful of calls, the
 * probes: 20 µs / 64 ≈ 0.3 µs per wait more than BLOCK; across two CPUs the budget
 * sits at the ceiling and every wait that the peer answers within it skips
 * the sleep and the wake-up.  (The alternative designs — the waiter
 * publishing its CPU so a peer on the same one stops, or yielding — need
 * memory both sides share, which an fd or a kernel queue does not give us;
 * the budget works for every kind of waiting, so it is the one here.)
 * The state is per handle (ipc_channel.waiter), so a process-shared ring's
 * two sides each learn their own budget, and nothing is process-wide.
 *
 * SPIN yields the CPU every IPC_SPIN_YIELD_EVERY rounds: it never sleeps,
 * but on one CPU its peer then runs within ~10 µs instead of at the end of
 * the spinner's time slice (milliseconds).
 */
#define _GNU_SOURCE
#include "ipc_internal.h"

#include <poll.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

/* ---- names ------------------------------------------------------------- */

const char *ipc_wait_name(int wait)
{
    switch (wait) {
    case IPC_WAIT_DEFAULT:  return "default";
    case IPC_WAIT_BLOCK:    return "block";
    case IPC_WAIT_SPIN:     return "spin";
    case IPC_WAIT_ADAPTIVE: return "adaptive";
    default:                return NULL;
    }
}

int ipc_wait_parse(const char *name)
{
    if (!name) return -1;
    for (int w = IPC_WAIT_DEFAULT; w <= IPC_WAIT_ADAPTIVE; w++)
        if (strcmp(name, ipc_wait_name(w)) == 0) return w;
    return -1;
}

/* ---- the adaptive budget ----------------------------------------------- */

void ipc__waiter_init(ipc_waiter *w, int wait, long spin_ns)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    uint32_t max = spin_ns > 0 ? (uint32_t)spin_ns : IPC_SPIN_NS_DEFAULT;
    w->wait = wait;
    w->spin_max = cpus > 1 ? max : 0; /* one CPU: the peer can never run while we spin */
    atomic_init(&w->budget, w->spin_max);
    atomic_init(&w->probes, 0);
}

/* spin_end's values besides a time: not armed yet, and "blocking now". */
#define SPIN_UNARMED 0
#define SPIN_OVER    (-1)

/* The first wait of an ADAPTIVE call: how long to spin (0 = block at once);
 * *probe says it is a probe (see the top). */
static uint32_t arm(ipc_waiter *w, bool *probe)
{
    /* RELAXED throughout: the budget is a per-handle hint (see ipc_waiter). */
    uint32_t b = atomic_load_explicit(&w->budget, memory_order_relaxed);
    *probe = false;
    if (b == 0) { /* blocked every time lately: probe now and then */
        uint32_t p = atomic_fetch_add_explicit(&w->probes, 1, memory_order_relaxed) + 1;
        if (w->spin_max == 0 || p % IPC_SPIN_PROBE_EVERY != 0) return 0;
        *probe = true;
        b = w->spin_max;
        atomic_store_explicit(&w->budget, b, memory_order_relaxed); /* kept if it succeeds */
        return b;
    }
    uint32_t grown = b > w->spin_max / 2 ? w->spin_max : b * 2;
    if (grown != b) atomic_store_explicit(&w->budget, grown, memory_order_relaxed);
    return b;
}

/* The spin phase ran out without progress: quarter the budget (it was
 * doubled when armed, so this halves it), to 0 below the minimum or after
 * a failed probe. */
static void spin_failed(ipc_waiter *w, bool probe)
{
    uint32_t b = probe ? 0 : atomic_load_explicit(&w->budget, memory_order_relaxed) / 4;
    atomic_store_explicit(&w->budget, b < IPC_SPIN_NS_MIN ? 0 : b, memory_order_relaxed);
}

/* spin_end holds when the phase ends, its lowest bit whether it is a probe
 * (a nanosecond of difference, and no field more in every deadline). */
int ipc__spin_next(const ipc_deadline *cd)
{
    ipc_waiter *w = cd->w;
    if (!w || w->wait == IPC_WAIT_BLOCK || cd->timeout_ms == 0) return IPC__SPIN_BLOCK;
    /* Not a const object whenever w is set (ipc_deadline's comment). */
    ipc_deadline *d = (ipc_deadline *)cd;
    if (w->wait == IPC_WAIT_SPIN)
        return ipc__deadline_passed(d) ? IPC__SPIN_TIMEOUT : IPC__SPIN_ROUND;
    /* ADAPTIVE */
    if (d->spin_end == SPIN_OVER) return IPC__SPIN_BLOCK;
    int64_t now = ipc_now_ns();
    if (d->spin_end == SPIN_UNARMED) {
        bool probe;
        uint32_t b = arm(w, &probe);
        if (b == 0) {
            d->spin_end = SPIN_OVER;
            return IPC__SPIN_BLOCK;
        }
        d->spin_end = probe ? (now + b) | 1 : (now + b) & ~(int64_t)1;
    } else if (now >= d->spin_end) {
        spin_failed(w, d->spin_end & 1);
        d->spin_end = SPIN_OVER;
        return IPC__SPIN_BLOCK;
    }
    /* A deadline shorter than the budget ends the wait, as sleeping would. */
    if (d->timeout_ms > 0 && ipc__deadline_passed(d)) return IPC__SPIN_TIMEOUT;
    return IPC__SPIN_ROUND;
}

void ipc__spin_pause(const ipc_deadline *cd)
{
    for (int i = 0; i < 8; i++) ipc__cpu_relax();
    if (cd->w && cd->w->wait == IPC_WAIT_SPIN) {
        /* SPIN never arms spin_end: it counts rounds there instead. */
        ipc_deadline *d = (ipc_deadline *)cd;
        if (++d->spin_end % IPC_SPIN_YIELD_EVERY == 0) sched_yield();
    }
}

/* ---- an fd ---------------------------------------------------------------- */

/* Spin rounds of poll(…, 0), each a check without sleeping: 1 ready,
 * IPC_ECLOSED (wake_fd fired), 0 the deadline passed, IPC_ESYS, or
 * FD_GO_BLOCK when it is time to sleep (BLOCK, or ADAPTIVE's budget spent). */
#define FD_GO_BLOCK (-100)
static int spin_fd(struct pollfd *p, nfds_t n, const ipc_deadline *d)
{
    for (;;) {
        switch (ipc__spin_next(d)) {
        case IPC__SPIN_BLOCK:   return FD_GO_BLOCK;
        case IPC__SPIN_TIMEOUT: return 0;
        default: break;
        }
        int r = poll(p, n, 0);
        if (r < 0 && errno != EINTR) return ipc__fail(IPC_ESYS, "poll");
        if (r > 0) return n > 1 && p[1].revents ? IPC_ECLOSED : 1;
        /* The round was a system call: only SPIN's occasional yield. */
        if (d->w->wait == IPC_WAIT_SPIN) {
            ipc_deadline *md = (ipc_deadline *)d;
            if (++md->spin_end % IPC_SPIN_YIELD_EVERY == 0) sched_yield();
        }
    }
}

int ipc__wait_fd(int fd, short events, int wake_fd, const ipc_deadline *d)
{
    struct pollfd p[2] = {
        { .fd = fd, .events = events },
        { .fd = wake_fd, .events = POLLIN },
    };
    nfds_t n = wake_fd >= 0 ? 2 : 1;
    if (d->w && d->w->wait != IPC_WAIT_BLOCK && d->timeout_ms != 0) {
        int r = spin_fd(p, n, d);
        if (r != FD_GO_BLOCK) return r;
    }
    for (;;) {
        int r = poll(p, n, ipc__deadline_poll_ms(d));
        if (r < 0) {
            if (errno == EINTR) continue; /* the deadline is absolute: no restart */
            return ipc__fail(IPC_ESYS, "poll");
        }
        if (r == 0) {
            /* poll's millisecond rounding may wake a hair early: re-check */
            if (d->timeout_ms > 0 && !ipc__deadline_passed(d)) continue;
            return 0;
        }
        if (wake_fd >= 0 && p[1].revents) return IPC_ECLOSED;
        return 1; /* ready, or POLLHUP/POLLERR: the following call reports it */
    }
}
