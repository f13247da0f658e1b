/*
 * core/backend.h — the backend contract: what a mechanism author writes and
 * what the dispatch layer (ipc.c) guarantees before calling it.  Read this
 * file first when adding a mechanism; README "Adding a mechanism" walks
 * through one.
 *
 * A mechanism is one file: it defines one `const ipc_mechanism` (or a few
 * variants sharing one ops table) at its end, embeds `ipc_channel` as the
 * FIRST member of its own channel struct, allocates it with
 * ipc__channel_alloc, and is listed once in registry.c.
 *
 * What dispatch does so that no backend repeats it (ipc.c):
 *   - open: mechanism found; cfg never NULL; max_msg and capacity defaulted
 *     and checked against max_msg_limit and 2^30; flags hold no unknown bit;
 *     order is FIFO, or LIFO/PRIORITY only with IPC_CAP_LIFO/IPC_CAP_PRIORITY;
 *     IPC_ATTACH has a name or an endpoint; IPC_ATTACH/IPC_ATTACHABLE and
 *     cfg->name/cfg->endpoint only with IPC_CAP_UNRELATED (a mechanism without
 *     it never sees a name or an endpoint);
 *   - send/recv: ch is an open channel of this mechanism; msg/buf/len are
 *     non-NULL where needed; len <= ch->max_msg; the timeout was -1, 0 or
 *     > 0 and is now a deadline; ipc_close has not been called on this
 *     handle (send);
 *   - close: called at most once per handle, until it succeeds (a failed
 *     close may be retried by the caller and reaches the backend again);
 *   - observer events (BEGIN/DONE/CLOSE) are emitted by dispatch; a backend
 *     only calls ipc__blocked() right before it goes to sleep.
 *
 * Concurrency, per op, on ONE handle:
 *   send, recv, close, pollfd, depth  may run at the same time in several
 *       threads, and — through inherited or attached handles — in several
 *       processes (IPC_CAP_FORK / IPC_CAP_UNRELATED).  close must wake every
 *       caller blocked in send/recv (IPC_CAP_CLOSE_WAKES) or let them notice
 *       at their deadline.
 *   free  never races with any other op on the same handle (ipc.h: the
 *       handle must not be used once ipc_free is called), but may run while
 *       other handles of the same channel, in this or other processes, are
 *       in any op.
 *   open  a failed open leaves nothing behind: no memory, fd, name or thread
 *       for anybody to free; *out untouched (dispatch set it to NULL).
 *   attach_config  reads only what open set; runs concurrently with all but
 *       free.
 */
#ifndef IPCPLAY_CORE_BACKEND_H
#define IPCPLAY_CORE_BACKEND_H

#include "ipc.h"
#include "core/deadline.h"
#include "core/wait.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* ---- the ops table: one per mechanism ---------------------------------- */
struct ipc_ops {
    /* MANDATORY.  Create (or with IPC_ATTACH attach to) a channel.  cfg is
     * resolved and validated (above).  On failure: release everything,
     * return IPC_E*, and say why with ipc__fail(). */
    int  (*open)(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out);
    /* MANDATORY.  Send one message or fail leaving nothing sent.  Returns
     * IPC_OK, IPC_EFULL (would block / deadline), IPC_ECLOSED, IPC_ESYS... */
    int  (*send)(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d);
    /* MANDATORY.  Receive one message.  If cap is too small: *len = size,
     * return IPC_EMSGSIZE, and the message stays queued.  IPC_EEMPTY for
     * would block / deadline. */
    int  (*recv)(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d);
    /* MANDATORY.  Shut the channel down for every holder and wake blocked
     * callers; further send returns IPC_ECLOSED, recv drains then returns
     * IPC_ECLOSED.  On failure the dispatch layer lets the caller retry, so
     * a failed close must leave the handle as it was (or closed). */
    int  (*close)(ipc_channel *ch);
    /* MANDATORY.  Release this handle only (no shutdown); the creator
     * unlinks names.  Must free ch itself.  Never fails visibly. */
    void (*free)(ipc_channel *ch);
    /* Iff IPC_CAP_POLL: a readable-when-ready fd, owned by the channel. */
    int  (*pollfd)(ipc_channel *ch);
    /* Optional: queued messages right now (a hint), NULL if unknown. */
    long (*depth)(const ipc_channel *ch);
    /* Iff IPC_CAP_UNRELATED: set cfg->name and/or cfg->endpoint (pointing
     * into ch) so that ipc_open(mech, cfg) with IPC_ATTACH in any process
     * reaches this channel.  The dispatch layer fills the rest.  A private
     * channel (opened with neither cfg->name nor IPC_ATTACHABLE, where that
     * leaves it nameless) sets neither: dispatch then answers IPC_EINVAL. */
    int  (*attach_config)(const ipc_channel *ch, ipc_config *cfg);
};

/* ---- the part of every channel the dispatch layer owns ----------------- */
struct ipc_channel {
    const ipc_mechanism *mech;
    unsigned             magic;     /* IPC_CHANNEL_MAGIC while open         */
    atomic_int           closed;    /* dispatch's: 0 open, 1 closing, 2 closed
                                       (ipc_close succeeded on this handle)  */
    size_t               max_msg;   /* effective limit for this channel     */
    size_t               capacity;  /* effective capacity (0 = unbounded)   */
    ipc_observer_fn      observer;  /* NULL: the one branch per call        */
    void                *observer_arg;
    struct ipc_waiter    waiter;    /* how this handle waits (core/wait.h)  */
};

#define IPC_CHANNEL_MAGIC 0x1BC0C4A7u

/* Allocate a zeroed channel struct of `size` bytes (size >= sizeof(ipc_channel))
 * and fill the base from the mechanism and the effective config.  NULL (with
 * ipc__fail) when out of memory. */
void *ipc__channel_alloc(size_t size, const ipc_mechanism *m, const ipc_config *cfg);

/* ---- extras through dispatch -------------------------------------------
 * The one way a module extra (ipc_redis_send_at, ipc_queue_shutdown, ...)
 * sends, receives or closes: the same argument checks, timeout rule,
 * closed flag, errno handling and observer events (BEGIN/DONE/CLOSE) as
 * ipc_send/ipc_recv/ipc_close, with the extra's own operation `fn` (given
 * `arg`) in place of the ops-table one.  The extra checks the mechanism
 * first (ipc_channel_mechanism). */
typedef int (*ipc_send_fn)(ipc_channel *ch, const void *msg, size_t len, int prio,
                           const ipc_deadline *d, void *arg);
typedef int (*ipc_recv_fn)(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio,
                           const ipc_deadline *d, void *arg);
typedef int (*ipc_close_fn)(ipc_channel *ch, void *arg);
int ipc__send_via(ipc_channel *ch, const void *msg, size_t len, int prio, int timeout_ms,
                  ipc_send_fn fn, void *arg);
int ipc__recv_via(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, int timeout_ms,
                  ipc_recv_fn fn, void *arg);
int ipc__close_via(ipc_channel *ch, ipc_close_fn fn, void *arg);

/* The open-time checks above, on their own (no syscall, no state): cfg
 * (NULL: all defaults) checked against m's caps and limits, the effective
 * config into *c.  IPC_OK, IPC_EINVAL or IPC_ENOTSUP naming the cap.
 * ipc_open calls it first; tests/fuzz/attach_config fuzzes it. */
int ipc__resolve_config(const ipc_mechanism *m, const ipc_config *cfg, ipc_config *c);

/* The registry's self-check: does m's ops table agree with its caps
 * (mandatory ops present; pollfd iff IPC_CAP_POLL; attach_config iff
 * IPC_CAP_UNRELATED; FIFO/LIFO/PRIORITY caps exclusive where they must be;
 * family and variant in range)?  IPC_OK, or IPC_EINVAL naming the first
 * disagreement.  Run on every registered mechanism by test_conformance. */
int ipc__mechanism_check(const ipc_mechanism *m);

/* ---- observer ----------------------------------------------------------
 * Report "I am about to sleep" to the observer.  Cheap when none: one
 * predictable branch.  Building with -DIPC_NO_OBSERVER compiles every hook
 * out (ipc_observe then answers IPC_ENOTSUP), so the benchmark can measure
 * what the branch costs: `make EXTRA_CFLAGS=-DIPC_NO_OBSERVER BUILD=build/noobs`.
 * cold + noinline: the call sits behind the unlikely branch and must not
 * drag its register pressure into the fast path of ipc_send/ipc_recv. */
__attribute__((cold, noinline))
void ipc__observer_emit(ipc_channel *ch, enum ipc_event_kind kind, int result,
                        size_t len, int prio, const void *msg);
static inline void ipc__blocked(ipc_channel *ch, enum ipc_event_kind kind)
{
#ifdef IPC_NO_OBSERVER
    (void)ch, (void)kind;
#else
    if (__builtin_expect(ch->observer != NULL, 0))
        ipc__observer_emit(ch, kind, 0, 0, 0, NULL);
#endif
}

#endif /* IPCPLAY_CORE_BACKEND_H */
