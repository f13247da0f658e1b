/*
 * ipc.c — the thin dispatch layer: check arguments, turn the timeout into a
 * deadline, call the mechanism's op, tell the observer.  Everything about a
 * particular mechanism lives in its own file.
 */
#define _GNU_SOURCE
#include "ipc_internal.h"
#include "core/stale.h"

#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- errors ------------------------------------------------------------ */

static _Thread_local char last_error[512];

const char *ipc_strerror(int err)
{
    switch (err) {
    case IPC_OK:       return "success";
    case IPC_EFULL:    return "channel is full (send would block or timed out)";
    case IPC_EEMPTY:   return "channel is empty (receive would block or timed out)";
    case IPC_ECLOSED:  return "channel is closed (or the peer is gone)";
    case IPC_EMSGSIZE: return "message too large for the channel or the buffer";
    case IPC_EINVAL:   return "invalid argument";
    case IPC_ENOMECH:  return "unknown mechanism";
    case IPC_ESYS:     return "system call failed (see errno)";
    case IPC_ENOTSUP:  return "not supported by this mechanism";
    default:           return "unknown error code";
    }
}

const char *ipc_last_error(void) { return last_error; }

int ipc__fail(int err, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    if (err == IPC_ESYS && n >= 0 && (size_t)n < sizeof last_error)
        snprintf(last_error + n, sizeof last_error - (size_t)n, ": %s", strerror(saved));
    errno = saved;
    return err;
}

/* ---- time and deadlines ------------------------------------------------ */

int64_t ipc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const ipc_deadline ipc__forever = { .timeout_ms = -1 };
const ipc_deadline ipc__nowait = { .timeout_ms = 0 };

void ipc__deadline_arm(ipc_deadline *d, int timeout_ms)
{
    d->timeout_ms = timeout_ms;
    d->w = NULL;
    d->spin_end = 0;
    clock_gettime(CLOCK_MONOTONIC, &d->when);
    d->when.tv_sec += timeout_ms / 1000;
    d->when.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (d->when.tv_nsec >= 1000000000L) {
        d->when.tv_sec += 1;
        d->when.tv_nsec -= 1000000000L;
    }
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

struct timespec ipc__deadline_realtime(const ipc_deadline *d)
{
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    int64_t left = d->timeout_ms > 0 ? ns_left(d) : 0;
    if (left < 0) left = 0;
    int64_t ns = rt.tv_nsec + left % 1000000000;
    rt.tv_sec += (time_t)(left / 1000000000 + ns / 1000000000);
    rt.tv_nsec = (long)(ns % 1000000000);
    return rt;
}

/* ---- names ------------------------------------------------------------- */

const char *ipc__name_prefix(void)
{
    const char *p = getenv("IPCPLAY_NAME_PREFIX");
    return (p && *p) ? p : "ipcplay";
}

int ipc__unique_name(char *buf, size_t size, const char *lead, const char *suffix)
{
    static atomic_uint counter;
    unsigned n = atomic_fetch_add(&counter, 1);
    int len = snprintf(buf, size, "%s%s.%ld.%u%s", lead ? lead : "", ipc__name_prefix(),
                       (long)getpid(), n, suffix ? suffix : "");
    if (len < 0 || (size_t)len >= size)
        return ipc__fail(IPC_EINVAL, "generated name does not fit in %zu bytes", size);
    return IPC_OK;
}

void ipc__ignore_sigpipe(void)
{
    static atomic_flag done = ATOMIC_FLAG_INIT;
    if (atomic_flag_test_and_set(&done)) return;
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL) {
        struct sigaction ign = { .sa_handler = SIG_IGN };
        sigemptyset(&ign.sa_mask);
        sigaction(SIGPIPE, &ign, NULL);
    }
}

void *ipc__channel_alloc(size_t size, const ipc_mechanism *m, const ipc_config *cfg)
{
    ipc_channel *ch = calloc(1, size);
    if (!ch) {
        ipc__fail(IPC_ESYS, "calloc(%zu)", size);
        return NULL;
    }
    ch->mech = m;
    ch->magic = IPC_CHANNEL_MAGIC;
    ch->max_msg = cfg->max_msg;
    ch->capacity = cfg->capacity;
    return ch;
}

static bool valid(const ipc_channel *ch) { return ch && ch->magic == IPC_CHANNEL_MAGIC; }

/* ---- observer ---------------------------------------------------------- */

/* The channel whose current call in this thread has already reported
 * BLOCKED: a wait loop may call ipc__blocked() once per round (a spin round
 * under IPC_WAIT_SPIN/ADAPTIVE, a spurious wake-up), the observer hears it
 * once per call.  Per thread, and touched only while an observer is set. */
static _Thread_local const ipc_channel *blocked_reported;

void ipc__observer_emit(ipc_channel *ch, enum ipc_event_kind kind, int result,
                        size_t len, int prio, const void *msg)
{
    if (kind == IPC_EV_SEND_BEGIN || kind == IPC_EV_RECV_BEGIN) blocked_reported = NULL;
    if (kind == IPC_EV_SEND_BLOCKED || kind == IPC_EV_RECV_BLOCKED) {
        if (blocked_reported == ch) return;
        blocked_reported = ch;
    }
    /* Depth can cost a system call (posix_mq, sysv_mq): ask only where the
     * call may have changed it, not at its beginning. */
    bool begin = kind == IPC_EV_SEND_BEGIN || kind == IPC_EV_RECV_BEGIN;
    ipc_event ev = {
        .kind = kind, .t_ns = ipc_now_ns(), .result = result,
        .len = len, .prio = prio, .msg = msg,
        .depth = !begin && ch->mech->ops->depth ? ch->mech->ops->depth(ch) : -1,
    };
    ch->observer(ch->observer_arg, ch, &ev);
}

#ifdef IPC_NO_OBSERVER
#define OBSERVE(ch, ...) do { (void)(ch); } while (0)
#else
#define OBSERVE(ch, ...) \
    do { if (__builtin_expect((ch)->observer != NULL, 0)) ipc__observer_emit((ch), __VA_ARGS__); } while (0)
#endif

int ipc_observe(ipc_channel *ch, ipc_observer_fn fn, void *arg)
{
    if (!valid(ch)) return ipc__fail(IPC_EINVAL, "ipc_observe: not an open channel");
#ifdef IPC_NO_OBSERVER
    if (fn) return ipc__fail(IPC_ENOTSUP, "ipc_observe: built with -DIPC_NO_OBSERVER");
#endif
    ch->observer = fn;
    ch->observer_arg = fn ? arg : NULL;
    return IPC_OK;
}

/* ---- dispatch ---------------------------------------------------------- */

/* The registered names, comma-separated; cut short if buf is too small. */
static void list_known(char *buf, size_t size)
{
    size_t count, used = 0;
    const ipc_mechanism *const *all = ipc_mechanisms(&count);
    buf[0] = '\0';
    for (size_t i = 0; i < count && used < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", all[i]->name);
        if (n < 0) break;
        used += (size_t)n;
    }
}

int ipc_open(const char *mechanism, const ipc_config *cfg, ipc_channel **out)
{
    if (out) *out = NULL;
    if (!mechanism || !out)
        return ipc__fail(IPC_EINVAL, "ipc_open: %s is NULL", mechanism ? "out" : "mechanism");
    const ipc_mechanism *m = ipc_find(mechanism);
    if (!m) {
        char known[400];
        list_known(known, sizeof known);
        return ipc__fail(IPC_ENOMECH, "unknown mechanism '%s' (known: %s)", mechanism, known);
    }
    /* Names left by killed creators go before we make new ones (once per
     * process; core/stale.c). */
    if (m->caps & (IPC_CAP_FORK | IPC_CAP_UNRELATED)) ipc__stale_sweep_once();

    ipc_config c = cfg ? *cfg : (ipc_config){ 0 };
    if (c.max_msg == 0) c.max_msg = m->default_max_msg;
    if (c.capacity == 0) c.capacity = m->default_capacity;
    if (c.max_msg > m->max_msg_limit)
        return ipc__fail(IPC_EINVAL, "%s: max_msg %zu exceeds the mechanism's limit of %zu bytes",
                         m->name, c.max_msg, m->max_msg_limit);
    if (c.capacity > ((size_t)1 << 30))
        return ipc__fail(IPC_EINVAL, "%s: capacity %zu is absurd (limit 2^30)", m->name, c.capacity);
    if (c.order != IPC_FIFO && c.order != IPC_LIFO && c.order != IPC_PRIORITY)
        return ipc__fail(IPC_EINVAL, "%s: order %d is not IPC_FIFO, IPC_LIFO or IPC_PRIORITY",
                         m->name, c.order);
    if ((c.flags & IPC_ATTACH) && !c.name && !c.endpoint)
        return ipc__fail(IPC_EINVAL, "%s: IPC_ATTACH needs a name or an endpoint", m->name);
    if ((c.flags & (IPC_ATTACH | IPC_ATTACHABLE)) && !(m->caps & IPC_CAP_UNRELATED))
        return ipc__fail(IPC_ENOTSUP, "%s: cannot be attached by name", m->name);
    /* The wait strategy: checked here, once, for every mechanism. */
    if (!ipc_wait_name(c.wait))
        return ipc__fail(IPC_EINVAL, "%s: wait %d is not an enum ipc_wait", m->name, c.wait);
    if (c.spin_ns < 0 || c.spin_ns > 1000000000L)
        return ipc__fail(IPC_EINVAL, "%s: spin_ns %ld is not within 0..1e9 (1 s)", m->name, c.spin_ns);
    if (c.wait == IPC_WAIT_DEFAULT) c.wait = m->wait_default ? m->wait_default : IPC_WAIT_BLOCK;
    unsigned waits = m->waits ? m->waits : IPC_WAIT_BIT(IPC_WAIT_BLOCK);
    if (!(waits & IPC_WAIT_BIT(c.wait)))
        return ipc__fail(IPC_ENOTSUP, "%s: cannot wait by '%s' (it can: %s%s%s)", m->name,
                         ipc_wait_name(c.wait),
                         waits & IPC_WAIT_BIT(IPC_WAIT_BLOCK) ? "block " : "",
                         waits & IPC_WAIT_BIT(IPC_WAIT_SPIN) ? "spin " : "",
                         waits & IPC_WAIT_BIT(IPC_WAIT_ADAPTIVE) ? "adaptive" : "");
    int rc = m->ops->open(m, &c, out);
    if (rc == IPC_OK) ipc__waiter_init(&(*out)->waiter, c.wait, c.spin_ns);
    return rc;
}

/* The calls themselves; ipc_send/ipc_recv below add the argument checks and
 * choose, with one branch, whether an observer must hear about it. */
static inline int send_plain(ipc_channel *ch, const void *msg, size_t len, int prio, int timeout_ms)
{
    if (ch->closed) return ipc__fail(IPC_ECLOSED, "ipc_send: channel was closed");
    if (len > ch->max_msg)
        return ipc__fail(IPC_EMSGSIZE, "%s: message of %zu bytes exceeds max_msg %zu",
                         ch->mech->name, len, ch->max_msg);
    ipc_deadline d;
    ipc__deadline_start(&d, timeout_ms);
    d.w = &ch->waiter;
    d.spin_end = 0;
    return ch->mech->ops->send(ch, msg, len, prio, &d);
}

static inline int recv_plain(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, int timeout_ms)
{
    ipc_deadline d;
    ipc__deadline_start(&d, timeout_ms);
    d.w = &ch->waiter;
    d.spin_end = 0;
    *len = 0;
    *prio = 0;
    return ch->mech->ops->recv(ch, buf, cap, len, prio, &d);
}

#ifndef IPC_NO_OBSERVER
__attribute__((cold, noinline))
static int send_observed(ipc_channel *ch, const void *msg, size_t len, int prio, int timeout_ms)
{
    ipc__observer_emit(ch, IPC_EV_SEND_BEGIN, 0, len, prio, msg);
    int rc = send_plain(ch, msg, len, prio, timeout_ms);
    if (ch->observer) ipc__observer_emit(ch, IPC_EV_SEND_DONE, rc, len, prio, msg);
    return rc;
}

__attribute__((cold, noinline))
static int recv_observed(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, int timeout_ms)
{
    ipc__observer_emit(ch, IPC_EV_RECV_BEGIN, 0, cap, 0, NULL);
    int rc = recv_plain(ch, buf, cap, len, prio, timeout_ms);
    if (ch->observer) ipc__observer_emit(ch, IPC_EV_RECV_DONE, rc, *len, *prio, rc == IPC_OK ? buf : NULL);
    return rc;
}
#endif

int ipc_send(ipc_channel *ch, const void *msg, size_t len, int prio, int timeout_ms)
{
    if (!valid(ch)) return ipc__fail(IPC_EINVAL, "ipc_send: not an open channel");
    if (!msg && len) return ipc__fail(IPC_EINVAL, "ipc_send: msg is NULL");
#ifndef IPC_NO_OBSERVER
    if (__builtin_expect(ch->observer != NULL, 0)) return send_observed(ch, msg, len, prio, timeout_ms);
#endif
    return send_plain(ch, msg, len, prio, timeout_ms);
}

int ipc_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, int timeout_ms)
{
    if (!valid(ch)) return ipc__fail(IPC_EINVAL, "ipc_recv: not an open channel");
    if (!len) return ipc__fail(IPC_EINVAL, "ipc_recv: len is NULL");
    if (!buf && cap) return ipc__fail(IPC_EINVAL, "ipc_recv: buf is NULL");
    int p;
#ifndef IPC_NO_OBSERVER
    if (__builtin_expect(ch->observer != NULL, 0)) {
        int rc = recv_observed(ch, buf, cap, len, &p, timeout_ms);
        if (prio) *prio = p;
        return rc;
    }
#endif
    int rc = recv_plain(ch, buf, cap, len, &p, timeout_ms);
    if (prio) *prio = p;
    return rc;
}

int ipc_close(ipc_channel *ch)
{
    if (!valid(ch)) return ipc__fail(IPC_EINVAL, "ipc_close: not an open channel");
    if (atomic_exchange(&ch->closed, true)) return IPC_OK;
    int rc = ch->mech->ops->close(ch);
    OBSERVE(ch, IPC_EV_CLOSE, rc, 0, 0, NULL);
    return rc;
}

void ipc_free(ipc_channel *ch)
{
    if (!valid(ch)) return;
    ch->magic = 0;
    ch->mech->ops->free(ch);
}

int ipc_pollfd(ipc_channel *ch)
{
    if (!valid(ch)) return ipc__fail(IPC_EINVAL, "ipc_pollfd: not an open channel"), -1;
    return ch->mech->ops->pollfd ? ch->mech->ops->pollfd(ch) : -1;
}

long ipc_depth(const ipc_channel *ch)
{
    if (!valid(ch)) return ipc__fail(IPC_EINVAL, "ipc_depth: not an open channel"), -1;
    return ch->mech->ops->depth ? ch->mech->ops->depth(ch) : -1;
}

int ipc_wait_strategy(const ipc_channel *ch) { return valid(ch) ? ch->waiter.wait : -1; }

const ipc_mechanism *ipc_channel_mechanism(const ipc_channel *ch)
{
    return valid(ch) ? ch->mech : NULL;
}

size_t ipc_max_msg(const ipc_channel *ch) { return valid(ch) ? ch->max_msg : 0; }
size_t ipc_capacity(const ipc_channel *ch) { return valid(ch) ? ch->capacity : 0; }

int ipc_attach_config(const ipc_channel *ch, ipc_config *cfg)
{
    if (!valid(ch) || !cfg) return ipc__fail(IPC_EINVAL, "ipc_attach_config: %s", cfg ? "not an open channel" : "cfg is NULL");
    if (!(ch->mech->caps & IPC_CAP_UNRELATED) || !ch->mech->ops->attach_config)
        return ipc__fail(IPC_ENOTSUP, "%s: cannot be attached by another process", ch->mech->name);
    *cfg = (ipc_config){ .flags = IPC_ATTACH, .max_msg = ch->max_msg, .capacity = ch->capacity };
    int rc = ch->mech->ops->attach_config(ch, cfg);
    if (rc == IPC_OK && !cfg->name && !cfg->endpoint)
        rc = ipc__fail(IPC_EINVAL, "%s: a private channel has no name to attach by "
                       "(open it with cfg->name or IPC_ATTACHABLE)", ch->mech->name);
    return rc;
}
