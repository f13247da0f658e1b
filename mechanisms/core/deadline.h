/*
 * core/deadline.h — timeouts, turned into an absolute CLOCK_MONOTONIC time
 * once, at the start of the call, so retries after EINTR never restart the
 * clock; and the one timespec helper every absolute wait uses.
 *
 * Invariants: timeout_ms is -1 (forever), 0 (never wait) or > 0; the
 * dispatch layer rejects other negatives with IPC_EINVAL before a deadline
 * is ever built (ipc.h).  `when` is meaningful only for timeout_ms > 0.
 */
#ifndef IPCPLAY_CORE_DEADLINE_H
#define IPCPLAY_CORE_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct ipc_waiter;
typedef struct ipc_deadline {
    int             timeout_ms; /* as the caller gave it: -1, 0 or >0 */
    struct timespec when;       /* valid when timeout_ms > 0            */
    /* The wait strategy travels with the deadline, so every wait helper
     * (core/wait.h) follows it without a new parameter: the dispatch layer
     * points w at the handle's strategy; NULL (every deadline a module makes
     * for itself) blocks.  spin_end is the wait helpers' scratch for one call
     * (when ADAPTIVE stops spinning); they write it through a cast, so a
     * deadline with w != NULL must not be a const object. */
    struct ipc_waiter *w;
    int64_t         spin_end;
} ipc_deadline;

/* The two deadlines that need no clock: block forever, and do not wait. */
extern const ipc_deadline ipc__forever, ipc__nowait;

/* ---- the one timespec helper ------------------------------------------ */
/* t += ns (ns >= 0), normalised so 0 <= tv_nsec < 1e9. */
void ipc__timespec_add_ns(struct timespec *t, int64_t ns);
/* a earlier than b. */
static inline bool ipc__timespec_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec != b->tv_sec ? a->tv_sec < b->tv_sec : a->tv_nsec < b->tv_nsec;
}

/* ---- deadlines --------------------------------------------------------- */
void ipc__deadline_arm(ipc_deadline *d, int timeout_ms); /* the >0 case */
/* Inline: on the blocking and nowait paths it is two stores, not a call.
 * timeout_ms < -1 is the dispatch layer's to reject; here it means -1. */
static inline void ipc__deadline_start(ipc_deadline *d, int timeout_ms)
{
    if (timeout_ms > 0) {
        ipc__deadline_arm(d, timeout_ms);
    } else {
        d->timeout_ms = timeout_ms < 0 ? -1 : 0;
        d->when.tv_sec = 0;
        d->when.tv_nsec = 0;
        d->w = NULL;
        d->spin_end = 0;
    }
}
/* A timeout an ipc_* call accepts: -1, 0 or > 0 (ipc.h). */
static inline bool ipc__timeout_valid(int timeout_ms) { return timeout_ms >= -1; }
/* The one check of a caller's timeout, for dispatch and every extra that
 * takes one (ipc_queue_join, ipc_event_wait, ipc_poll, *_sub_recv, ...):
 * RETURNS IPC_OK, or IPC_EINVAL (below -1) with a message naming `what`. */
int  ipc__timeout_check(const char *what, int timeout_ms);
/* ipc__timeout_check, then ipc__deadline_start: how an extra begins a wait.
 * RETURNS IPC_OK (d started) or IPC_EINVAL (d untouched). */
int  ipc__deadline_begin(ipc_deadline *d, int timeout_ms, const char *what);

bool ipc__deadline_blocks_forever(const ipc_deadline *d);
bool ipc__deadline_is_nowait(const ipc_deadline *d);
bool ipc__deadline_passed(const ipc_deadline *d);
/* Milliseconds left for poll(2): -1 forever, 0 when passed (rounded up so a
 * wait never ends before the deadline). */
int  ipc__deadline_poll_ms(const ipc_deadline *d);
/* Absolute CLOCK_MONOTONIC time of the next wake-up for a wait that must
 * also look around every step_ns (a backoff step, a recheck period): the
 * earlier of now + step_ns and the deadline.  For forever: now + step_ns. */
struct timespec ipc__deadline_step(const ipc_deadline *d, int64_t step_ns);
/* Absolute time on CLOCK_REALTIME for APIs that only take that clock
 * (mq_timedsend, pthread_timedjoin_np). */
struct timespec ipc__deadline_realtime(const ipc_deadline *d);

#endif /* IPCPLAY_CORE_DEADLINE_H */
