/*
 * core/deadline.c — the monotonic clock, deadlines and the timespec helper.
 * No state: every function reads the clock or its arguments only.
 */
#define _GNU_SOURCE
#include "core/deadline.h"
#include "core/error.h"
#include "ipc.h"

int64_t ipc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const ipc_deadline ipc__forever = { .timeout_ms = -1 };
const ipc_deadline ipc__nowait = { .timeout_ms = 0 };

void ipc__timespec_add_ns(struct timespec *t, int64_t ns)
{
    t->tv_sec += (time_t)(ns / 1000000000);
    t->tv_nsec += (long)(ns % 1000000000);
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec += 1;
        t->tv_nsec -= 1000000000L;
    }
}

void ipc__deadline_arm(ipc_deadline *d, int timeout_ms)
{
    d->timeout_ms = timeout_ms;
    d->w = NULL;
    d->spin_end = 0;
    clock_gettime(CLOCK_MONOTONIC, &d->when);
    ipc__timespec_add_ns(&d->when, (int64_t)timeout_ms * 1000000);
}

int ipc__timeout_check(const char *what, int timeout_ms)
{
    if (__builtin_expect(ipc__timeout_valid(timeout_ms), 1)) return IPC_OK;
    return ipc__fail(IPC_EINVAL, "%s: timeout %d ms (use -1 to block, 0 not to wait, > 0 to wait)",
                     what, timeout_ms);
}

int ipc__deadline_begin(ipc_deadline *d, int timeout_ms, const char *what)
{
    int rc = ipc__timeout_check(what, timeout_ms);
    if (rc == IPC_OK) ipc__deadline_start(d, timeout_ms);
    return rc;
}

bool ipc__deadline_blocks_forever(const ipc_deadline *d) { return d->timeout_ms < 0; }
bool ipc__deadline_is_nowait(const ipc_deadline *d) { return d->timeout_ms == 0; }

static int64_t ns_left(const ipc_deadline *d)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)(d->when.tv_sec - now.tv_sec) * 1000000000 + (d->when.tv_nsec - now.tv_nsec);
}

bool ipc__deadline_passed(const ipc_deadline *d)
{
    if (d->timeout_ms < 0) return false;
    if (d->timeout_ms == 0) return true;
    return ns_left(d) <= 0;
}

int ipc__deadline_poll_ms(const ipc_deadline *d)
{
    if (d->timeout_ms <= 0) return d->timeout_ms;
    int64_t left = ns_left(d);
    if (left <= 0) return 0;
    return (int)((left + 999999) / 1000000);
}

struct timespec ipc__deadline_step(const ipc_deadline *d, int64_t step_ns)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    ipc__timespec_add_ns(&t, step_ns);
    if (d->timeout_ms == 0) return d->when; /* nowait: already passed */
    if (d->timeout_ms > 0 && ipc__timespec_before(&d->when, &t)) t = d->when;
    return t;
}

struct timespec ipc__deadline_realtime(const ipc_deadline *d)
{
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    int64_t left = d->timeout_ms > 0 ? ns_left(d) : 0;
    if (left > 0) ipc__timespec_add_ns(&rt, left);
    return rt;
}
