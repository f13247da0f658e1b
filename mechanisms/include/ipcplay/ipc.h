/*
 * ipc.h — the one interface of ipcplay.
 *
 * A channel is a message queue: any holder may send, any holder may receive,
 * and every message keeps its boundaries.  A channel opened before fork() is
 * usable from both sides (the way multiprocessing passes queues by
 * inheritance); named mechanisms can also be attached by an unrelated process.
 *
 * Every mechanism — thread queue, pipe, shared-memory ring, broker — sits
 * behind the same seven calls, so a program (or a test, or a benchmark) can
 * swap "pipe" for "shm" and nothing else changes.
 *
 * Conventions, the same for every function below:
 *   - Return values: 0 (IPC_OK) or a positive count on success, a negative
 *     IPC_E* code on failure.  Nothing here aborts or prints.
 *   - On failure, ipc_last_error() describes what happened in this thread
 *     (e.g. which system call failed, or the list of known mechanisms), and
 *     for IPC_ESYS errno is left as the failing system call set it (kept in
 *     a thread-local beside the message, so the library's own clean-up on
 *     the error path cannot change it).
 *   - Timeouts follow Python's queue module: -1 blocks, 0 never waits
 *     (put_nowait/get_nowait), >0 waits at most that many milliseconds,
 *     measured against CLOCK_MONOTONIC; a signal (EINTR) does not restart
 *     the clock.  Any other negative value (-2, INT_MIN: a computed timeout
 *     gone negative) is a mistake and answers IPC_EINVAL; it never blocks.
 *   - A message that cannot be delivered is never lost silently: either the
 *     call succeeds or it fails and the message is still where it was
 *     (the caller's buffer on send, the channel on receive).
 */
#ifndef IPCPLAY_IPC_H
#define IPCPLAY_IPC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- error codes (negative, so they can share a return value with counts) */
enum {
    IPC_OK       = 0,
    IPC_EFULL    = -1, /* send would block / timed out: the channel is full          */
    IPC_EEMPTY   = -2, /* receive would block / timed out: nothing queued           */
    IPC_ECLOSED  = -3, /* closed and drained, or every peer is gone                  */
    IPC_EMSGSIZE = -4, /* too large for the channel, or for the caller's buffer:
                          on receive the message stays queued and *len says its size */
    IPC_EINVAL   = -5, /* bad argument: NULL, absurd size, bad name, wrong state     */
    IPC_ENOMECH  = -6, /* unknown mechanism name (ipc_last_error lists known ones)   */
    IPC_ESYS     = -7, /* a system call failed; errno kept                           */
    IPC_ENOTSUP  = -8, /* the mechanism cannot do this (see its caps)                */
    IPC_ETIMEDOUT= -9, /* a wait for a state, not for a message or room, timed out:
                          ipc_queue_join, ipc_event_wait, ipc_poll/ipc_poller_wait,
                          ipc_task_result, ipc_signal_usr1_wait (see below)        */
};
/* The most negative code: every IPC_E* lies in [IPC_E_LAST, -1]. */
#define IPC_E_LAST IPC_ETIMEDOUT

/* Which code a timeout gives — one rule, for ipc_* and every extra:
 *   - a wait for a MESSAGE or for ROOM for one (ipc_send/ipc_recv, a
 *     subscriber's *_sub_recv, *_recv_batch, ipc_sem_acquire/release: a unit
 *     of a semaphore is a token in a queue) answers IPC_EFULL / IPC_EEMPTY,
 *     like Python's queue.Full / queue.Empty: "would block" and "timed out"
 *     are the same answer there, and timeout 0 is the non-blocking try;
 *   - a wait for a STATE (all tasks done, a flag raised, some channel ready,
 *     a job finished, a signal counted) answers IPC_ETIMEDOUT, like Python's
 *     Event.wait() returning False or AsyncResult.get() raising TimeoutError.
 *
 * The extras (the module headers under ipcplay/) follow the conventions of
 * this file too: a call that can fail returns an int (a long for counts)
 * that is >= 0 on success or a negative IPC_E* code with ipc_last_error()
 * set; a call that returns a pointer returns NULL on failure with
 * ipc_last_error() set; a bool or size_t query of a bad handle answers
 * false / 0 with ipc_last_error() set; release calls (*_free, *_stop) take
 * NULL as a no-op, like free().  Every timeout argument follows the rule at
 * the top (-1, 0, > 0; below -1 is IPC_EINVAL). */

/* Short fixed text for an error code ("channel is full"); never NULL. */
const char *ipc_strerror(int err);

/* The detailed message of the last failure in the calling thread, e.g.
 * "unknown mechanism 'pip' (known: queue, lifo, ...)" or
 * "mq_open: Invalid argument (capacity 20 > /proc/sys/fs/mqueue/msg_max 10)".
 * Empty string if nothing failed yet.  Valid until the next ipc_* call. */
const char *ipc_last_error(void);

/* ---- configuration ------------------------------------------------------ */
enum ipc_order { IPC_FIFO = 0, IPC_LIFO = 1, IPC_PRIORITY = 2 };

enum ipc_open_flags {
    IPC_ATTACH     = 1u << 0, /* attach to the existing named channel cfg->name
                                 instead of creating it; the attacher never unlinks */
    IPC_ATTACHABLE = 1u << 1, /* with cfg->name NULL: create under a generated name
                                 that unrelated processes may attach to (see
                                 ipc_attach_config), not as a private channel    */
};

/* How a caller waits when the channel is full (send) or empty (recv).  A
 * channel's strategy is chosen once, at ipc_open; every wait of every call on
 * that handle follows it.  Whatever the strategy, a wait ends exactly as the
 * timeout rules above say (-1 never, 0 at once, >0 at the deadline), ends
 * when the channel is closed (where IPC_CAP_CLOSE_WAKES promises it), and a
 * signal (EINTR) neither ends it nor restarts its clock.  What differs is
 * what the caller does meanwhile:
 *   IPC_WAIT_BLOCK     sleep in the kernel at once (poll, futex, condvar):
 *                      no CPU while waiting, a wake-up (several µs) to resume;
 *   IPC_WAIT_SPIN      never sleep: retry without blocking until ready, the
 *                      deadline or close.  Fastest reaction, a whole CPU
 *                      burnt while waiting; on a busy or one-CPU machine the
 *                      spinner also takes time from the side it waits for;
 *   IPC_WAIT_ADAPTIVE  spin up to spin_ns, then block.  The budget adapts per
 *                      handle: it shrinks while spins end without progress
 *                      (the peer cannot be running: same CPU, preempted,
 *                      idle) and grows back when they succeed, so a one-CPU
 *                      ping-pong pays about what BLOCK pays.
 * IPC_WAIT_DEFAULT (0, what a zeroed config says) picks the mechanism's own
 * default (ipc_mechanism.wait_default).  A strategy the mechanism cannot do
 * (not in ipc_mechanism.waits) makes ipc_open answer IPC_ENOTSUP. */
enum ipc_wait {
    IPC_WAIT_DEFAULT  = 0,
    IPC_WAIT_BLOCK    = 1,
    IPC_WAIT_SPIN     = 2,
    IPC_WAIT_ADAPTIVE = 3,
};
/* A set of strategies, as in ipc_mechanism.waits. */
#define IPC_WAIT_BIT(w) (1u << (w))
#define IPC_WAITS_ALL (IPC_WAIT_BIT(IPC_WAIT_BLOCK) | IPC_WAIT_BIT(IPC_WAIT_SPIN) | \
                       IPC_WAIT_BIT(IPC_WAIT_ADAPTIVE))
/* "block", "spin", "adaptive" ("default" for 0); NULL for anything else. */
const char *ipc_wait_name(int wait);
/* The strategy called `name` (one of the above), or -1. */
int ipc_wait_parse(const char *name);

typedef struct ipc_config {
    size_t      capacity;  /* messages in flight before send blocks; 0 = default   */
    size_t      max_msg;   /* largest message in bytes; 0 = mechanism default      */
    int         order;     /* IPC_FIFO, IPC_LIFO or IPC_PRIORITY where supported   */
    const char *name;      /* named mechanisms: path, mq name, shm name, key;
                              NULL = private (reachable by inheritance), or
                              generated with IPC_ATTACHABLE                     */
    const char *endpoint;  /* brokers and sockets: "tcp://127.0.0.1:5555",
                              "redis://127.0.0.1:6379", "127.0.0.1:0" ...          */
    unsigned    flags;     /* IPC_ATTACH, IPC_ATTACHABLE                            */
    int         wait;      /* enum ipc_wait; 0 = the mechanism's default          */
    long        spin_ns;   /* IPC_WAIT_ADAPTIVE's spin ceiling in ns, 0 = the tuned
                              default (20 µs); at most 1 s; ignored otherwise.
                              Private to this handle: an attacher picks its own */
} ipc_config;

/* ---- capability flags: what a mechanism can promise --------------------- */
enum ipc_caps {
    IPC_CAP_THREADS    = 1u << 0,  /* usable between threads of one process        */
    IPC_CAP_FORK       = 1u << 1,  /* a handle inherited across fork() works         */
    IPC_CAP_UNRELATED  = 1u << 2,  /* an unrelated process can attach by name        */
    IPC_CAP_HOSTS      = 1u << 3,  /* can cross machines                             */
    IPC_CAP_MPMC       = 1u << 4,  /* many senders and many receivers at once; without
                                      it, across processes a message goes to one
                                      process (signal: the opener's sends to its
                                      newest live child, a child's to its parent) */
    IPC_CAP_PRIORITY   = 1u << 5,  /* the prio argument orders delivery              */
    IPC_CAP_BOUNDED    = 1u << 6,  /* capacity in messages is enforced exactly       */
    IPC_CAP_PERSISTENT = 1u << 7,  /* an acknowledged message is on the broker's disk:
                                      it survives the processes that send and
                                      receive, and a restart of the broker on its
                                      data dir.  Not the death of the process that
                                      runs an EMBEDDED broker (a channel opened with
                                      no endpoint): that broker lives as long as
                                      its creator, and when the creator dies the
                                      channel ends with what it held; the other
                                      holders are told IPC_ECLOSED (ipc_amqp.h).
                                      For durability beyond one process, start the
                                      broker on a data dir and pass its endpoint  */
    IPC_CAP_BROADCAST  = 1u << 8,  /* module API offers publish/subscribe            */
    IPC_CAP_POLL       = 1u << 9,  /* ipc_pollfd gives a readable-when-ready fd      */
    IPC_CAP_FIFO       = 1u << 10, /* one sender's messages arrive in send order     */
    IPC_CAP_LIFO       = 1u << 11, /* last in, first out                             */
    IPC_CAP_CLOSE_WAKES= 1u << 12, /* ipc_close wakes callers blocked on the channel */
    IPC_CAP_PEER       = 1u << 13, /* messages go to one peer PROCESS (the opener's
                                      child, a child's parent), not into a queue any
                                      holder may read: two children of one parent
                                      cannot talk over it (signal)                 */
};

/* ---- the channel -------------------------------------------------------- */
typedef struct ipc_channel ipc_channel;

/* Open a channel of the named mechanism.  cfg may be NULL (all defaults).
 * The config is checked against the mechanism's caps, the same way for
 * every mechanism: unknown flag bits, order IPC_LIFO without IPC_CAP_LIFO,
 * IPC_PRIORITY without IPC_CAP_PRIORITY, and a name or endpoint without
 * IPC_CAP_UNRELATED are IPC_EINVAL (the message names the cap); IPC_FIFO
 * (0) means "the mechanism's own order".
 * RETURNS 0 and *out, or IPC_ENOMECH, IPC_EINVAL (e.g. max_msg above the
 * mechanism's limit, a bad name, a field the caps rule out (above), wait not an enum ipc_wait, spin_ns < 0 or
 * > 1 s), IPC_ENOTSUP (IPC_ATTACH or IPC_ATTACHABLE on a mechanism without
 * IPC_CAP_UNRELATED; a wait strategy not in the mechanism's waits), IPC_ECLOSED (IPC_ATTACH to a
 * channel whose owner has shut it down or gone), IPC_ESYS.  On failure *out
 * is NULL. */
int  ipc_open(const char *mechanism, const ipc_config *cfg, ipc_channel **out);

/* Send len bytes.  prio matters only with IPC_CAP_PRIORITY (higher first).
 * RETURNS 0, or IPC_EFULL (timed out), IPC_ECLOSED (closed, or no receiver
 * can ever read it), IPC_EMSGSIZE (len > channel's max_msg), IPC_EINVAL,
 * IPC_ESYS.  On failure nothing was sent.  A send never waits past its
 * deadline, with one exception: on a byte stream (pipe, fifo, socketpair,
 * unix, tcp) a message larger than the kernel's buffer (64 KiB for a default
 * pipe) cannot go in whole, so once its first byte is in, the send finishes
 * it as receivers make room; its deadline covers only that start. */
int  ipc_send(ipc_channel *ch, const void *msg, size_t len, int prio, int timeout_ms);

/* Receive one message into buf (cap bytes).  *len gets its size; prio may be
 * NULL.  RETURNS 0, or IPC_EEMPTY (timed out), IPC_ECLOSED (closed and
 * drained, or every sender is gone), IPC_EMSGSIZE (cap too small: the
 * message stays queued and *len holds the size needed), IPC_ENOTSUP (this
 * handle can only send, e.g. a tcp attacher), IPC_EINVAL, IPC_ESYS. */
int  ipc_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, int timeout_ms);

/* Shut the channel down for every holder (Python 3.13's Queue.shutdown()):
 * sends fail with IPC_ECLOSED at once, receives return what is still queued
 * and then IPC_ECLOSED instead of blocking, and callers blocked on the channel
 * wake.  Across processes this holds wherever the mechanism can signal it
 * (IPC_CAP_CLOSE_WAKES); elsewhere blocked peers notice at their next call or
 * deadline.  It replaces the "one sentinel per consumer" idiom.  Idempotent
 * once it has succeeded.  RETURNS 0, IPC_EINVAL (not an open channel), or
 * the mechanism's failure to signal the shutdown (IPC_ESYS, or IPC_ECLOSED /
 * IPC_EFULL from a broker that cannot be reached): then the handle is left
 * open, exactly as before the call, and ipc_close may be called again. */
int  ipc_close(ipc_channel *ch);

/* Release this process's handle.  It does not shut the channel down for the
 * others (a child exiting must not end its parent's queue).  The creator of a
 * named channel also unlinks the name.  ch must not be used afterwards,
 * exactly like free().  NULL is a no-op. */
void ipc_free(ipc_channel *ch);

/* An fd that polls readable when a receive may succeed, or -1 (the mechanism
 * has none: see IPC_CAP_POLL).  Owned by the channel: do not close it. */
int  ipc_pollfd(ipc_channel *ch);

/* Messages queued right now, or -1 if the mechanism cannot tell.  Like
 * Python's qsize(), a hint: another thread may change it at once. */
long ipc_depth(const ipc_channel *ch);

/* Fill *cfg with what another process passes to ipc_open() to attach to
 * this channel: flags = IPC_ATTACH, name and/or endpoint (strings owned by
 * ch, valid until ipc_free), max_msg and capacity.  RETURNS 0, IPC_ENOTSUP
 * (the mechanism has no IPC_CAP_UNRELATED), IPC_EINVAL (cfg NULL, or a
 * private channel: opened with neither a name nor IPC_ATTACHABLE on a
 * mechanism whose private channels have no name). */
int  ipc_attach_config(const ipc_channel *ch, ipc_config *cfg);

/* The effective limits of this channel (after defaults were applied). */
size_t ipc_max_msg(const ipc_channel *ch);   /* 0 if ch is not an open channel */
size_t ipc_capacity(const ipc_channel *ch);  /* 0 = unbounded (or not a channel) */

/* The strategy this handle waits with (never IPC_WAIT_DEFAULT: the default
 * is resolved at open), or -1 if ch is not an open channel. */
int ipc_wait_strategy(const ipc_channel *ch);

/* The mechanism this channel runs on. */
const struct ipc_mechanism *ipc_channel_mechanism(const ipc_channel *ch);

/* ---- observation: the visualizer and the latency histograms read this --- */
enum ipc_event_kind {
    IPC_EV_SEND_BEGIN, IPC_EV_SEND_BLOCKED, IPC_EV_SEND_DONE,
    IPC_EV_RECV_BEGIN, IPC_EV_RECV_BLOCKED, IPC_EV_RECV_DONE,
    IPC_EV_CLOSE,
};

typedef struct ipc_event {
    enum ipc_event_kind kind;
    int64_t  t_ns;    /* CLOCK_MONOTONIC                                     */
    int      result;  /* *_DONE: the call's return value                      */
    size_t   len;     /* bytes sent or received (DONE), requested (BEGIN)    */
    int      prio;
    long     depth;   /* ipc_depth() after BLOCKED, DONE and CLOSE events;
                         -1 on BEGIN events and when the mechanism cannot tell */
    const void *msg;  /* SEND_BEGIN: the message; RECV_DONE: the received one */
} ipc_event;

typedef void (*ipc_observer_fn)(void *arg, const ipc_channel *ch, const ipc_event *ev);

/* Attach (fn != NULL) or detach (fn == NULL) this handle's observer.  It is
 * called synchronously in the calling thread, so it must be quick and must
 * not call ipc_* on the same channel.  Without one, the cost is one branch.
 * RETURNS 0, IPC_EINVAL, or IPC_ENOTSUP in a build with -DIPC_NO_OBSERVER. */
int  ipc_observe(ipc_channel *ch, ipc_observer_fn fn, void *arg);

/* ---- the registry ------------------------------------------------------- */
struct ipc_ops;

/* The course's chapters, one per directory under mechanisms/. */
enum ipc_family {
    IPC_FAMILY_QUEUES = 1, /* queue, lifo, priority, procq, posix_mq, sysv_mq   */
    IPC_FAMILY_PIPES,      /* pipe, socketpair, fifo, unix*, tcp                */
    IPC_FAMILY_SIGNALS,    /* signal                                            */
    IPC_FAMILY_SHM,        /* shm, shm_spsc, spsc                               */
    IPC_FAMILY_EVENTS,     /* eventfd                                           */
    IPC_FAMILY_BROKERS,    /* zmq, redis, websocket, amqp                       */
};
/* What carries the bytes underneath: the kernel or library object a send
 * ends up in.  Mechanisms with one carrier cost about the same at the
 * bottom (fifo is a pipe with a name; unix and socketpair are one AF_UNIX
 * stream); the benchmark picks its raw baseline by it, the visualizer its
 * picture, never by a mechanism's name. */
enum ipc_carrier {
    IPC_CARRIER_MONITOR = 1,    /* a mutex + condvar (or futex) around a queue in memory */
    IPC_CARRIER_PIPE,           /* a kernel pipe                                    */
    IPC_CARRIER_UNIX_STREAM,    /* an AF_UNIX SOCK_STREAM socket                    */
    IPC_CARRIER_UNIX_SEQPACKET, /* an AF_UNIX SOCK_SEQPACKET socket                 */
    IPC_CARRIER_UNIX_DGRAM,     /* an AF_UNIX SOCK_DGRAM socket                     */
    IPC_CARRIER_TCP,            /* a TCP connection                                 */
    IPC_CARRIER_POSIX_MQ,       /* a POSIX message queue (mq_open)                  */
    IPC_CARRIER_SYSV_MQ,        /* a System V message queue (msgget)                */
    IPC_CARRIER_EVENTFD,        /* eventfd counters                                 */
    IPC_CARRIER_SIGNAL,         /* queued real-time signals                         */
    IPC_CARRIER_SHM_RING,       /* a ring of slots in shared memory, no lock        */
    IPC_CARRIER_BROKER,         /* a server process between the peers               */
};
/* "queues", "pipes", ... for an enum ipc_family; NULL for anything else. */
const char *ipc_family_name(int family);
/* "monitor", "pipe", "unix_stream", ... for an enum ipc_carrier; NULL for
 * anything else. */
const char *ipc_carrier_name(int carrier);

typedef struct ipc_mechanism {
    const char *name;          /* "pipe", "shm", ...                             */
    const char *family;        /* "queues", "pipes", "signals", "shm", "events", "brokers":
                                  ipc_family_name(family_id), for printing */
    const char *summary;       /* one line for --help and tables                */
    unsigned    caps;          /* IPC_CAP_*                                     */
    size_t      max_msg_limit; /* largest message it can ever carry (8 for signals) */
    size_t      default_max_msg;
    size_t      default_capacity; /* 0 = unbounded by default                   */
    const char *wait_strategy; /* what BLOCK sleeps in: "mutex+condvar", "kernel block" ... */
    const struct ipc_ops *ops;
    /* (after ops: fields a newer ipc.h appends keep the older offsets) */
    unsigned    waits;         /* IPC_WAIT_BIT()s of the strategies it supports;
                                  0 = IPC_WAIT_BLOCK only                        */
    int         wait_default;  /* the strategy IPC_WAIT_DEFAULT picks; 0 = BLOCK */
    /* What the mechanism is, as data: views, baselines and variants are
     * chosen by these, never by the name or by comparing descriptors: */
    enum ipc_family  family_id; /* `family` is ipc_family_name(family_id)      */
    enum ipc_carrier carrier;   /* what carries the bytes                      */
    int         variant;       /* which of the descriptors sharing one ops table
                                  this is; its meaning is the mechanism file's
                                  (the order of queue/lifo/priority, the socket
                                  type of unix*); 0 for a lone descriptor      */
} ipc_mechanism;

/* All mechanisms, in course order (family by family); *count gets how many. */
const ipc_mechanism *const *ipc_mechanisms(size_t *count);
const ipc_mechanism *ipc_find(const char *name);     /* NULL if unknown      */

/* Monotonic clock in nanoseconds: the clock every timestamp here uses. */
int64_t ipc_now_ns(void);

#ifdef __cplusplus
}
#endif
#endif /* IPCPLAY_IPC_H */
