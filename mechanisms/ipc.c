/*
 * ipc.c — the dispatch layer: check arguments, resolve and validate the
 * config against the mechanism's caps, turn the timeout into a deadline,
 * call the mechanism's op, tell the observer.  What backends may rely on
 * is written in core/backend.h; everything about a particular mechanism
 * lives in its own file, everything shared in mechanisms/core/.
 */
#define _GNU_SOURCE
#include "ipc_internal.h"
#include "core/stale.h"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Resolve cfg against m: defaults applied, every field checked against the
 * caps, in this one place (core/backend.h lists what backends may rely on).
 * A config field the caps rule out (an order, a name, an endpoint) or that
 * no mechanism accepts answers IPC_EINVAL; asking to attach a mechanism
 * without IPC_CAP_UNRELATED answers IPC_ENOTSUP (ipc.h).  Each message
 * names the cap. */
int ipc__resolve_config(const ipc_mechanism *m, const ipc_config *cfg, ipc_config *c)
{
    *c = cfg ? *cfg : (ipc_config){ 0 };
    if (c->max_msg == 0) c->max_msg = m->default_max_msg;
    if (c->capacity == 0) c->capacity = m->default_capacity;
    if (c->max_msg > m->max_msg_limit)
        return ipc__fail(IPC_EINVAL, "%s: max_msg %zu exceeds the mechanism's limit of %zu bytes",
                         m->name, c->max_msg, m->max_msg_limit);
    if (c->capacity > ((size_t)1 << 30))
        return ipc__fail(IPC_EINVAL, "%s: capacity %zu is absurd (limit 2^30)", m->name, c->capacity);
    if (c->flags & ~(unsigned)(IPC_ATTACH | IPC_ATTACHABLE))
        return ipc__fail(IPC_EINVAL, "%s: unknown flags 0x%x (known: IPC_ATTACH, IPC_ATTACHABLE)",
                         m->name, c->flags & ~(unsigned)(IPC_ATTACH | IPC_ATTACHABLE));
    switch (c->order) {
    case IPC_FIFO: /* the default: the mechanism's own order */
        break;
    case IPC_LIFO:
        if (!(m->caps & IPC_CAP_LIFO))
            return ipc__fail(IPC_EINVAL, "%s: order IPC_LIFO needs IPC_CAP_LIFO (try \"lifo\")", m->name);
        break;
    case IPC_PRIORITY:
        if (!(m->caps & IPC_CAP_PRIORITY))
            return ipc__fail(IPC_EINVAL, "%s: order IPC_PRIORITY needs IPC_CAP_PRIORITY", m->name);
        break;
    default:
        return ipc__fail(IPC_EINVAL, "%s: order %d is not IPC_FIFO, IPC_LIFO or IPC_PRIORITY",
                         m->name, c->order);
    }
    if ((c->flags & IPC_ATTACH) && !c->name && !c->endpoint)
        return ipc__fail(IPC_EINVAL, "%s: IPC_ATTACH needs a name or an endpoint", m->name);
    if ((c->flags & (IPC_ATTACH | IPC_ATTACHABLE)) && !(m->caps & IPC_CAP_UNRELATED))
        return ipc__fail(IPC_ENOTSUP, "%s: cannot be attached by name (no IPC_CAP_UNRELATED)", m->name);
    if ((c->name || c->endpoint) && !(m->caps & IPC_CAP_UNRELATED))
        return ipc__fail(IPC_EINVAL, "%s: has no name or endpoint (no IPC_CAP_UNRELATED): "
                         "reachable by inheritance only", m->name);
    /* The wait strategy (core/wait.h). */
    if (!ipc_wait_name(c->wait))
        return ipc__fail(IPC_EINVAL, "%s: wait %d is not an enum ipc_wait", m->name, c->wait);
    if (c->spin_ns < 0 || c->spin_ns > 1000000000L)
        return ipc__fail(IPC_EINVAL, "%s: spin_ns %ld is not within 0..1e9 (1 s)", m->name, c->spin_ns);
    if (c->wait == IPC_WAIT_DEFAULT) c->wait = m->wait_default ? m->wait_default : IPC_WAIT_BLOCK;
    unsigned waits = m->waits ? m->waits : IPC_WAIT_BIT(IPC_WAIT_BLOCK);
    if (!(waits & IPC_WAIT_BIT(c->wait)))
        return ipc__fail(IPC_ENOTSUP, "%s: cannot wait by '%s' (it can: %s%s%s)", m->name,
                         ipc_wait_name(c->wait),
                         waits & IPC_WAIT_BIT(IPC_WAIT_BLOCK) ? "block " : "",
                         waits & IPC_WAIT_BIT(IPC_WAIT_SPIN) ? "spin " : "",
                         waits & IPC_WAIT_BIT(IPC_WAIT_ADAPTIVE) ? "adaptive" : "");
    return IPC_OK;
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

    ipc_config c;
    int rc = ipc__resolve_config(m, cfg, &c);
    if (rc != IPC_OK) return rc;
    rc = m->ops->open(m, &c, out);
    if (rc == IPC_OK) ipc__waiter_init(&(*out)->waiter, c.wait, c.spin_ns);
    if (rc != IPC_OK) {
        *out = NULL;
        ipc__restore_errno(rc);
    }
    return rc;
}

/* ---- send, recv, close --------------------------------------------------
 * The plain paths; ipc_send/ipc_recv below add the argument checks and
 * choose, with one branch, whether an observer must hear about it.  fn ==
 * NULL: the ops table's op; otherwise a module extra's own operation
 * (ipc__send_via and friends), which gets exactly the same treatment. */

enum { CH_OPEN = 0, CH_CLOSING = 1, CH_CLOSED = 2 }; /* ipc_channel.closed */

static inline int send_plain(ipc_channel *ch, const void *msg, size_t len, int prio, int timeout_ms,
                             ipc_send_fn fn, void *arg)
{
    /* RELAXED: a hint for a quick answer; the backend's own shut state is
     * what orders a send against a close. */
    if (atomic_load_explicit(&ch->closed, memory_order_relaxed) == CH_CLOSED)
        return ipc__fail(IPC_ECLOSED, "ipc_send: channel was closed");
    if (len > ch->max_msg)
        return ipc__fail(IPC_EMSGSIZE, "%s: message of %zu bytes exceeds max_msg %zu",
                         ch->mech->name, len, ch->max_msg);
    ipc_deadline d;
    ipc__deadline_start(&d, timeout_ms);
    d.w = &ch->waiter;
    d.spin_end = 0;
    int rc = fn ? fn(ch, msg, len, prio, &d, arg) : ch->mech->ops->send(ch, msg, len, prio, &d);
    if (__builtin_expect(rc == IPC_ESYS, 0)) ipc__restore_errno(rc);
    return rc;
}

static inline int recv_plain(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, int timeout_ms,
                             ipc_recv_fn fn, void *arg)
{
    ipc_deadline d;
    ipc__deadline_start(&d, timeout_ms);
    d.w = &ch->waiter;
    d.spin_end = 0;
    *len = 0;
    *prio = 0;
    int rc = fn ? fn(ch, buf, cap, len, prio, &d, arg) : ch->mech->ops->recv(ch, buf, cap, len, prio, &d);
    if (__builtin_expect(rc == IPC_ESYS, 0)) ipc__restore_errno(rc);
    return rc;
}

#ifndef IPC_NO_OBSERVER
__attribute__((cold, noinline))
static int send_observed(ipc_channel *ch, const void *msg, size_t len, int prio, int timeout_ms,
                         ipc_send_fn fn, void *arg)
{
    ipc__observer_emit(ch, IPC_EV_SEND_BEGIN, 0, len, prio, msg);
    int rc = send_plain(ch, msg, len, prio, timeout_ms, fn, arg);
    if (ch->observer) ipc__observer_emit(ch, IPC_EV_SEND_DONE, rc, len, prio, msg);
    return rc;
}

__attribute__((cold, noinline))
static int recv_observed(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, int timeout_ms,
                         ipc_recv_fn fn, void *arg)
{
    ipc__observer_emit(ch, IPC_EV_RECV_BEGIN, 0, cap, 0, NULL);
    int rc = recv_plain(ch, buf, cap, len, prio, timeout_ms, fn, arg);
    if (ch->observer) ipc__observer_emit(ch, IPC_EV_RECV_DONE, rc, *len, *prio, rc == IPC_OK ? buf : NULL);
    return rc;
}
#endif

static inline int send_checked(const char *what, ipc_channel *ch, const void *msg, size_t len, int prio,
                               int timeout_ms, ipc_send_fn fn, void *arg)
{
    if (!valid(ch)) return ipc__fail(IPC_EINVAL, "%s: not an open channel", what);
    if (!msg && len) return ipc__fail(IPC_EINVAL, "%s: msg is NULL", what);
    if (!ipc__timeout_valid(timeout_ms)) return ipc__timeout_check(what, timeout_ms);
#ifndef IPC_NO_OBSERVER
    if (__builtin_expect(ch->observer != NULL, 0)) return send_observed(ch, msg, len, prio, timeout_ms, fn, arg);
#endif
    return send_plain(ch, msg, len, prio, timeout_ms, fn, arg);
}

static inline int recv_checked(const char *what, ipc_channel *ch, void *buf, size_t cap, size_t *len,
                               int *prio, int timeout_ms, ipc_recv_fn fn, void *arg)
{
    if (!valid(ch)) return ipc__fail(IPC_EINVAL, "%s: not an open channel", what);
    if (!len) return ipc__fail(IPC_EINVAL, "%s: len is NULL", what);
    if (!buf && cap) return ipc__fail(IPC_EINVAL, "%s: buf is NULL", what);
    if (!ipc__timeout_valid(timeout_ms)) return ipc__timeout_check(what, timeout_ms);
    int p, rc;
#ifndef IPC_NO_OBSERVER
    if (__builtin_expect(ch->observer != NULL, 0))
        rc = recv_observed(ch, buf, cap, len, &p, timeout_ms, fn, arg);
    else
#endif
        rc = recv_plain(ch, buf, cap, len, &p, timeout_ms, fn, arg);
    if (prio) *prio = p;
    return rc;
}

int ipc_send(ipc_channel *ch, const void *msg, size_t len, int prio, int timeout_ms)
{
    return send_checked("ipc_send", ch, msg, len, prio, timeout_ms, NULL, NULL);
}

int ipc_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, int timeout_ms)
{
    return recv_checked("ipc_recv", ch, buf, cap, len, prio, timeout_ms, NULL, NULL);
}

int ipc__send_via(ipc_channel *ch, const void *msg, size_t len, int prio, int timeout_ms,
                  ipc_send_fn fn, void *arg)
{
    return send_checked(ch && valid(ch) ? ch->mech->name : "send", ch, msg, len, prio, timeout_ms, fn, arg);
}

int ipc__recv_via(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, int timeout_ms,
                  ipc_recv_fn fn, void *arg)
{
    return recv_checked(ch && valid(ch) ? ch->mech->name : "recv", ch, buf, cap, len, prio, timeout_ms, fn, arg);
}

/* Close: at most one backend close at a time per handle, and only a
 * successful one marks the handle closed, so a failed close can be retried.
 * A caller that finds another thread's close in progress waits for its
 * verdict (closes are short: a store and a wake) and then retries or
 * returns. */
int ipc__close_via(ipc_channel *ch, ipc_close_fn fn, void *arg)
{
    if (!valid(ch)) return ipc__fail(IPC_EINVAL, "close: not an open channel");
    for (;;) {
        int state = CH_OPEN;
        /* ACQ_REL: the winner's backend close happens after any earlier
         * close's verdict; a loser that sees CLOSED sees the close done. */
        if (atomic_compare_exchange_strong_explicit(&ch->closed, &state, CH_CLOSING,
                                                    memory_order_acq_rel, memory_order_acquire))
            break;
        if (state == CH_CLOSED) return IPC_OK; /* idempotent */
        sched_yield();                          /* CH_CLOSING: another thread's close */
    }
    int rc = fn ? fn(ch, arg) : ch->mech->ops->close(ch);
    /* RELEASE: the backend's close happens before anyone sees CLOSED. */
    atomic_store_explicit(&ch->closed, rc == IPC_OK ? CH_CLOSED : CH_OPEN, memory_order_release);
    if (rc == IPC_ESYS) ipc__restore_errno(rc);
    OBSERVE(ch, IPC_EV_CLOSE, rc, 0, 0, NULL);
    return rc;
}

int ipc_close(ipc_channel *ch)
{
    if (!valid(ch)) return ipc__fail(IPC_EINVAL, "ipc_close: not an open channel");
    return ipc__close_via(ch, NULL, NULL);
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
