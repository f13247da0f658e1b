/*
 * ipc_internal.h — what every mechanism module shares, and nothing more.
 *
 * A module defines one `const ipc_mechanism` (or a few variants) whose ops
 * table is filled with designated initializers, embeds `ipc_channel` as the
 * first member of its own channel struct, and is listed once in registry.c.
 */
#ifndef IPCPLAY_IPC_INTERNAL_H
#define IPCPLAY_IPC_INTERNAL_H

#include "ipc.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "core/wait.h"

/* ---- deadlines: a timeout turned into an absolute CLOCK_MONOTONIC time once,
 * at the start of the call, so retries after EINTR never restart the clock. */
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

void ipc__deadline_arm(ipc_deadline *d, int timeout_ms); /* the >0 case */
/* Inline: on the blocking and nowait paths it is two stores, not a call. */
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
bool ipc__deadline_blocks_forever(const ipc_deadline *d);
bool ipc__deadline_is_nowait(const ipc_deadline *d);
bool ipc__deadline_passed(const ipc_deadline *d);
/* Milliseconds left for poll(2): -1 forever, 0 when passed (rounded up so a
 * wait never ends before the deadline). */
int  ipc__deadline_poll_ms(const ipc_deadline *d);
/* Absolute time on CLOCK_REALTIME for APIs that only take that clock
 * (mq_timedsend, semtimedop's relative form is derived from poll_ms).  */
struct timespec ipc__deadline_realtime(const ipc_deadline *d);
/* Wait until fd is ready for `events` (POLLIN/POLLOUT), also watching
 * wake_fd (may be -1) for a close notification.  Returns 1 when fd is
 * ready, 0 on deadline, IPC_ECLOSED when wake_fd fired, IPC_ESYS. */
int  ipc__wait_fd(int fd, short events, int wake_fd, const ipc_deadline *d);

/* ---- the ops table: one per mechanism ---------------------------------- */
struct ipc_ops {
    /* Create (or with IPC_ATTACH attach to) a channel.  cfg is never NULL and
     * capacity/max_msg are already defaulted and checked against
     * max_msg_limit.  On failure: release everything, return IPC_E*, and say
     * why with ipc__fail(). */
    int  (*open)(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out);
    /* Send one message or fail leaving nothing sent.  len <= ch->max_msg is
     * already checked.  Call ipc__blocked() right before going to sleep. */
    int  (*send)(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d);
    /* Receive one message.  If cap is too small: *len = size, return
     * IPC_EMSGSIZE, and the message stays queued. */
    int  (*recv)(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d);
    /* Shut the channel down for every holder and wake blocked callers;
     * further send returns IPC_ECLOSED, recv drains then returns
     * IPC_ECLOSED.  Called at most once per handle by the dispatch layer. */
    int  (*close)(ipc_channel *ch);
    /* Release this handle only (no shutdown); the owner unlinks names.
     * Must free ch itself. */
    void (*free)(ipc_channel *ch);
    /* Readable-when-ready fd, or NULL if the mechanism has none. */
    int  (*pollfd)(ipc_channel *ch);
    /* Queued messages, or NULL if unknown. */
    long (*depth)(const ipc_channel *ch);
    /* Mechanisms with IPC_CAP_UNRELATED: set cfg->name and/or cfg->endpoint
     * (pointing into ch) so that ipc_open(mech, cfg) with IPC_ATTACH in any
     * process reaches this channel.  The dispatch layer fills the rest.
     * A private channel (opened with neither cfg->name nor IPC_ATTACHABLE,
     * where that leaves it nameless) sets neither: the dispatch layer then
     * answers IPC_EINVAL. */
    int  (*attach_config)(const ipc_channel *ch, ipc_config *cfg);
};

/* ---- the part of every channel the dispatch layer owns ----------------- */
struct ipc_channel {
    const ipc_mechanism *mech;
    unsigned             magic;     /* IPC_CHANNEL_MAGIC while open         */
    atomic_bool          closed;    /* ipc_close() was called on this handle */
    size_t               max_msg;   /* effective limit for this channel     */
    size_t               capacity;  /* effective capacity (0 = unbounded)   */
    ipc_observer_fn      observer;  /* NULL: the one branch per call        */
    void                *observer_arg;
    struct ipc_waiter    waiter;    /* how this handle waits (core/wait.h)  */
};

#define IPC_CHANNEL_MAGIC 0x1BC0C4A7u

/* Record why a call failed (printf-style) and return err, so a module can
 * write `return ipc__fail(IPC_EINVAL, "name '%s' too long", name);`.  For
 * IPC_ESYS it appends strerror(errno) and leaves errno unchanged. */
int ipc__fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Report "I am about to sleep" to the observer.  Cheap when none: one
 * predictable branch.  Building with -DIPC_NO_OBSERVER compiles every hook
 * out (ipc_observe then answers IPC_ENOTSUP), so the benchmark can measure
 * what the branch costs: `make EXTRA_CFLAGS=-DIPC_NO_OBSERVER BUILD=build/noobs`. */
/* cold + noinline: the call sits behind the unlikely branch and must not
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

/* A unique name for a private named object: "<prefix>.<pid>.<counter><suffix>".
 * The prefix is "ipcplay" or $IPCPLAY_NAME_PREFIX (tests use a per-run prefix
 * so they can prove they left nothing behind).  Returns IPC_EINVAL if it does
 * not fit in size. */
int ipc__unique_name(char *buf, size_t size, const char *lead, const char *suffix);
const char *ipc__name_prefix(void);

/* Process-wide one-time SIGPIPE policy: writes to a broken pipe must return
 * EPIPE (-> IPC_ECLOSED), never kill the process.  Uses MSG_NOSIGNAL where it
 * can; for pipes it ignores SIGPIPE unless the program installed a handler. */
void ipc__ignore_sigpipe(void);

/* Allocate a zeroed channel struct of `size` bytes (size >= sizeof(ipc_channel))
 * and fill the base from the mechanism and the effective config. */
void *ipc__channel_alloc(size_t size, const ipc_mechanism *m, const ipc_config *cfg);

/* ---- process-shared synchronisation (shared_sync.c) --------------------
 * Used by every mechanism whose state lives in shared memory. */
#include <pthread.h>

/* A robust, process-shared mutex: if its holder dies, the next locker gets
 * it back (EOWNERDEAD) instead of hanging forever. */
int  ipc__shared_mutex_init(pthread_mutex_t *m);
/* A process-shared condition variable on CLOCK_MONOTONIC. */
int  ipc__shared_cond_init(pthread_cond_t *c);
/* Lock with the call's deadline.  Returns 0 (locked), 1 (deadline passed,
 * not locked) or IPC_ESYS.  *holder_died is set when the previous holder
 * died with it locked: the lock is made consistent again and the caller
 * decides whether the data it guards can be trusted. */
int  ipc__lock(pthread_mutex_t *m, const ipc_deadline *d, bool *holder_died);
/* The same for a lock that is never held across a wait (a monitor's mutex,
 * a ring's side lock): a nowait call still takes it, the way Python's
 * put_nowait takes the queue's mutex — only the wait for room or data is
 * skipped, so a nowait send never fails while there is room. */
int  ipc__lock_brief(pthread_mutex_t *m, const ipc_deadline *d, bool *holder_died);
/* Wait on c (m held) until signalled or the deadline: 0 woken, 1 timed out
 * (m held again in both cases).  On EOWNERDEAD the mutex is made consistent
 * and *holder_died set.  A negative IPC_E* return means m could not be made
 * consistent and is NOT held: return at once without unlocking. */
int  ipc__cond_wait(pthread_cond_t *c, pthread_mutex_t *m, const ipc_deadline *d, bool *holder_died);
/* size bytes of zeroed MAP_SHARED|MAP_ANONYMOUS memory, inherited by fork().
 * NULL (with ipc__fail) on error. */
void *ipc__shared_alloc(size_t size);
void  ipc__shared_free(void *p, size_t size);

#endif /* IPCPLAY_IPC_INTERNAL_H */
