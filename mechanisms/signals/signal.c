/*
 * signal.c — "signal": real-time signals as messages (signal(7),
 * sigqueue(3), signalfd(2)).
 *
 * A signal is addressed to a process, not to a queue.  Real-time signals
 * (SIGRTMIN..SIGRTMAX) are the kind that carry data and queue: each one sent
 * brings an 8-byte union sigval, and N sent are N received in send order,
 * whereas N standard signals sent while one is pending collapse into one
 * (ipc_signal_count_deliveries in signals.h measures both).  So a channel is
 * one RT signal number, and its queue is the list of signals pending for the
 * receiving process — bounded per user by RLIMIT_SIGPENDING (ulimit -i); a
 * full list (EAGAIN) is IPC_EFULL.
 *
 * Sending.  sigqueue(pid, sig, value) is a thin wrapper over the system call
 * rt_sigqueueinfo(pid, sig, info), which lets the sender fill the siginfo
 * itself provided si_code is negative ("sent by a process").  We use that to
 * carry what the sigval cannot: si_code = -(65536 + 16*tag + kind), where
 * kind is the length 0..8 (9 marks close) and tag, random per channel, tells
 * our messages from anyone else's use of the same signal number (or a stale
 * one from an earlier channel).  Encoding the length in the signal NUMBER
 * would cost nine signals per channel and lose FIFO: the kernel delivers a
 * lower-numbered RT signal first.  To another process we send through a
 * pidfd (pidfd_send_signal): once a process is reaped its pid can be reused,
 * and an unexpected RT signal's default action kills.
 *
 * Receiving.  The signal is blocked (so its default action never runs) and
 * read from a signalfd: read(2) takes one pending signal with its siginfo,
 * poll(2) says one is pending — that fd is ipc_pollfd.  ipc_open blocks the
 * signal in the opening thread; threads created later inherit the mask;
 * threads that already existed must call ipc_signal_block() — if the kernel
 * picks a thread that does not block it, the process dies.  After
 * ipc_free the signal stays blocked, for the same reason.
 *
 * Where a send goes (the peer).  Like multiprocessing.Pipe(): before any
 * fork the opener talks to itself (a loopback queue); after fork() the
 * opener's sends go to its newest child that is still alive, and a child's
 * go to its parent.  So a pool works: when the newest worker exits, the
 * opener's sends go to the next newest live one (among its last 64
 * children), and only when none is left do they answer IPC_ECLOSED.  Each
 * send checks the peer is alive (its pidfd polls readable once it has
 * exited — a signal sent to a zombie would be lost silently); a message
 * that reached a worker which then exits is lost with it, like pending
 * signals at exit.  The opener's messages are not shared out among the
 * workers: they all go to one of them (ipc_signal_set_target picks another).  A
 * fork handler (core/process.h's table, registered at the first open) keeps the books: in each new child it takes a pidfd
 * of the parent (alive at that moment, so the pidfd cannot name a stranger)
 * and, for the opener's children, records the child's pid in the channel's
 * shared page.  ipc_signal_set_target() overrides, per process.  A channel
 * is therefore not MPMC across processes: a message belongs to the process
 * it was sent to.  Threads of one process may all send and receive.
 *
 * Shutdown.  A shared flag (MAP_SHARED page, inherited) that every send and
 * every wait checks, plus a close marker sent to this process and to its
 * peer, so their blocked receivers wake at once; a receiver that takes the
 * marker posts it again for the next one.  Close is linearizable against
 * sends: a sender checks the flag and posts under send_lock (a robust
 * process-shared mutex in the shared page), and close sets the flag and
 * posts the markers under it, so every acknowledged message is queued ahead
 * of the marker (RT signals of one number are delivered in order).  A third process holding the
 * channel sees the flag within 100 ms: waits are sliced.  Messages pending
 * for a process when it frees the channel are discarded (as pending
 * signals are at exit).
 */
#define _GNU_SOURCE
#include "signals/signals.h"
#include "core/kernel_util.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
    PAYLOAD = 8,          /* bytes in a union sigval */
    KIND_CLOSE = 9,       /* kinds 0..8 are message lengths */
    CODE_BASE = 1 << 16,  /* far from the kernel's own negative codes */
    TAG_MASK = (1 << 20) - 1,
    SLICE_MS = 100,
    FORK_WAIT_MS = 1000,
    KIDS = 64,            /* the opener's most recent children, for the pool rule */
};
_Static_assert(sizeof(union sigval) == PAYLOAD, "the payload is one union sigval");

typedef struct sig_shared {
    atomic_bool     shut;
    atomic_uint     forks_begun; /* bumped by the opener right before fork() */
    /* The opener's newest child: ticket (that fork's forks_begun) << 32 | pid,
     * one word so a reader never pairs one child's ticket with another's pid. */
    _Atomic uint64_t newest;
    /* The last KIDS children, same encoding, at [ticket % KIDS]: when the
     * newest has exited, sends go to the newest one still alive. */
    _Atomic uint64_t kids[KIDS];
    /* Held by a sender around "shut?" and its post, and by close around
     * setting shut and posting the markers: close is linearizable against
     * sends (an acknowledged message is queued before the close marker). */
    pthread_mutex_t send_lock;
} sig_shared;

typedef struct sig_channel {
    ipc_channel     base;
    sig_shared     *sh;
    int             sig, sfd;
    unsigned        tag;
    pid_t           self;    /* getpid(), cached: it is a system call */
    uid_t           uid;
    pid_t           opener;
    pid_t           forker;  /* set before fork(): a child's parent */
    unsigned        ticket;  /* set before fork() in the opener      */
    pthread_mutex_t peer_lock;
    pid_t           peer;    /* the process peer_fd names; 0 = not resolved */
    pid_t           newest_seen; /* opener: the newest child last considered */
    int             peer_fd; /* its pidfd, -1 if none (or gone)             */
    bool            pinned;  /* ipc_signal_set_target chose the peer        */
    ipc_holdback    held;
    struct sig_channel *next;
} sig_channel;

extern const ipc_mechanism ipc_mech_signal;

/* ---- the open channels of this process (for fork and signal numbers) --- */

static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static sig_channel *open_list;
static uint32_t used_signals; /* bit (sig - SIGRTMIN) */

static void register_newest(sig_shared *sh, unsigned ticket, pid_t pid)
{
    uint64_t mine = (uint64_t)ticket << 32 | (uint32_t)pid;
    if (pid > 0) atomic_store(&sh->kids[ticket % KIDS], mine);
    uint64_t cur = atomic_load(&sh->newest);
    /* a later fork's child may have registered first: never go back */
    while ((int)(ticket - (unsigned)(cur >> 32)) > 0
           && !atomic_compare_exchange_weak(&sh->newest, &cur, mine)) {}
}

/* In a child: the peer is the process it was forked from.  The pidfd names
 * it only if that process is still our parent after the pidfd was taken (a
 * parent that died in between may have had its pid reused). */
static void aim_at_parent(sig_channel *c)
{
    c->peer = c->forker;
    c->peer_fd = pidfd_open(c->forker, 0);
    if (c->peer_fd >= 0 && getppid() != c->forker) {
        close(c->peer_fd);
        c->peer_fd = -1;
    }
}

static void before_fork(void)
{
    pthread_mutex_lock(&open_lock);
    pid_t me = getpid();
    for (sig_channel *c = open_list; c; c = c->next) {
        c->forker = me;
        if (me == c->opener) c->ticket = atomic_fetch_add(&c->sh->forks_begun, 1) + 1;
    }
}

static void after_fork_parent(void) { pthread_mutex_unlock(&open_lock); }

/* In the new child (one thread, the one that called fork). */
static void after_fork_child(void)
{
    for (sig_channel *c = open_list; c; c = c->next) {
        /* The forking thread may not have blocked the signal. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, c->sig);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        /* What the parent held back is the parent's; so are its pending signals. */
        ipc__holdback_reset(&c->held);
        pthread_mutex_init(&c->peer_lock, NULL);
        if (c->peer_fd >= 0) close(c->peer_fd);
        c->pinned = false;
        aim_at_parent(c);
        c->self = getpid();
        if (c->forker == c->opener) register_newest(c->sh, c->ticket, c->self);
    }
    pthread_mutex_unlock(&open_lock);
}

/* A free RT signal: not used by another channel here, no handler installed. */
static int take_signal(void)
{
    for (int s = SIGRTMIN; s <= SIGRTMAX; s++) {
        struct sigaction old;
        if (used_signals & (1u << (s - SIGRTMIN))) continue;
        if (sigaction(s, NULL, &old) < 0 || (old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) continue;
        used_signals |= 1u << (s - SIGRTMIN);
        return s;
    }
    return -1;
}

/* ---- the peer ---------------------------------------------------------- */

/* A pidfd for our child `pid`, or -1 if it has exited (a reaped child's pid
 * may already be someone else's: waitid on the pidfd says whether it is
 * still our child, and alive). */
static int child_pidfd(pid_t pid)
{
    int fd = pidfd_open(pid, 0);
    if (fd < 0) return -1;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The opener's newest child, 0 if none.  Right after fork() the child may
 * not have registered yet: wait for it (microseconds), but not forever — if
 * fork() failed, no child will come. */
static pid_t newest_child(sig_shared *sh)
{
    unsigned begun = atomic_load(&sh->forks_begun);
    int64_t give_up = ipc_now_ns() + (int64_t)FORK_WAIT_MS * 1000000;
    uint64_t n;
    while ((unsigned)((n = atomic_load(&sh->newest)) >> 32) != begun) {
        if (ipc_now_ns() > give_up) {
            register_newest(sh, begun, (pid_t)(uint32_t)n);
            break;
        }
        struct timespec ts = { 0, 50000 };
        nanosleep(&ts, NULL);
    }
    return (pid_t)(uint32_t)atomic_load(&sh->newest);
}

/* Before the pool rule scans kids[]: every recent fork's child has
 * registered (its slot holds that ticket or a later one).  A child that
 * has not been scheduled since its fork() is not in kids[] yet, and an
 * older one may be the only live child: without this wait the scan missed
 * it and a send answered IPC_ECLOSED with a worker alive (test_signals'
 * pool case, once in a BROKERS=none run at load 2).  Bounded like
 * newest_child: a failed fork() leaves a ticket no child will take, so
 * after FORK_WAIT_MS its slot is marked taken with no pid. */
static void await_recent_kids(sig_shared *sh)
{
    unsigned begun = atomic_load(&sh->forks_begun);
    unsigned from = begun > KIDS ? begun - KIDS + 1 : 1;
    int64_t give_up = ipc_now_ns() + (int64_t)FORK_WAIT_MS * 1000000;
    for (unsigned t = from; (int)(begun - t) >= 0; t++) {
        for (;;) {
            uint64_t k = atomic_load(&sh->kids[t % KIDS]);
            if (k && (int)((unsigned)(k >> 32) - t) >= 0) break; /* this fork's child, or a later one */
            if (ipc_now_ns() > give_up) {
                uint64_t none = (uint64_t)t << 32; /* pid 0: child_pidfd finds nobody */
                atomic_compare_exchange_strong(&sh->kids[t % KIDS], &k, none);
                break;
            }
            struct timespec ts = { 0, 50000 };
            nanosleep(&ts, NULL);
        }
    }
}

/* Has the process behind this pidfd exited?  (A pidfd polls readable then,
 * while it is a zombie too: a signal sent to a zombie is silently lost.) */
static bool exited(int pidfd)
{
    struct pollfd p = { .fd = pidfd, .events = POLLIN };
    return poll(&p, 1, 0) != 0;
}

/* The opener's peer (peer_lock held): its newest child that is still alive
 * (see "Where a send goes" at the top).  Sets c->peer/peer_fd; peer_fd -1
 * when every child has exited. */
static void aim_at_live_child(sig_channel *c, pid_t newest)
{
    if (newest != c->newest_seen) { /* a new fork: it becomes the peer */
        c->newest_seen = newest;
        int fd = child_pidfd(newest);
        if (fd >= 0) {
            if (c->peer_fd >= 0) close(c->peer_fd);
            c->peer = newest;
            c->peer_fd = fd;
            return;
        }
    }
    if (c->peer_fd >= 0 && !exited(c->peer_fd)) return;
    if (c->peer_fd >= 0) close(c->peer_fd);
    c->peer_fd = -1;
    /* the next newest still alive, among the last KIDS children */
    await_recent_kids(c->sh);
    unsigned best = 0;
    for (int i = 0; i < KIDS; i++) {
        uint64_t k = atomic_load(&c->sh->kids[i]);
        unsigned ticket = (unsigned)(k >> 32);
        pid_t pid = (pid_t)(uint32_t)k;
        if (!k || (c->peer_fd >= 0 && (int)(ticket - best) <= 0)) continue;
        int fd = child_pidfd(pid);
        if (fd < 0) continue;
        if (c->peer_fd >= 0) close(c->peer_fd);
        c->peer = pid;
        c->peer_fd = fd;
        best = ticket;
    }
}

/* Where a send goes: *fd = a pidfd, or -1 for this process.  peer_lock held.
 * IPC_OK or IPC_ECLOSED (the peer has exited; for the opener: every child). */
static int resolve_peer(sig_channel *c, int *fd)
{
    pid_t me = c->self;
    if (!c->pinned && me == c->opener) {
        pid_t child = newest_child(c->sh);
        if (child == 0) { /* no child yet: loopback */
            *fd = -1;
            return IPC_OK;
        }
        aim_at_live_child(c, child);
        if (c->peer_fd < 0) return ipc__fail(IPC_ECLOSED, "signal: every child of the opener has exited");
    }
    if (c->pinned && c->peer == me) {
        *fd = -1;
        return IPC_OK;
    }
    if (c->peer_fd < 0) return ipc__fail(IPC_ECLOSED, "signal: the receiving process %d has exited", (int)c->peer);
    *fd = c->peer_fd;
    return IPC_OK;
}

static void fill_info(const sig_channel *c, siginfo_t *info, int kind, const void *msg, size_t len)
{
    memset(info, 0, sizeof *info);
    info->si_signo = c->sig;
    info->si_code = -(CODE_BASE + (int)(c->tag << 4) + kind);
    info->si_pid = c->self;
    info->si_uid = c->uid;
    if (len) memcpy(&info->si_value, msg, len);
}

/* Returns the kind (0..9), or -1 for a signal that is not ours. */
static int kind_of(const sig_channel *c, int32_t code)
{
    long v = -(long)code - CODE_BASE;
    if (v < 0 || ((unsigned long)v >> 4) != c->tag || (v & 15) > KIND_CLOSE) return -1;
    return (int)(v & 15);
}

/* Queue the signal to the process fd names (-1: this one).  0 or -1/errno. */
static int post(const sig_channel *c, int fd, siginfo_t *info)
{
    if (fd < 0) return (int)syscall(SYS_rt_sigqueueinfo, c->self, c->sig, info);
    return pidfd_send_signal(fd, c->sig, info, 0);
}

/* Post the close marker to this process and to its peer; failures are
 * harmless (the shared flag says the same, within a slice). */
static void post_markers(sig_channel *c, bool to_peer)
{
    siginfo_t info;
    fill_info(c, &info, KIND_CLOSE, NULL, 0);
    post(c, -1, &info);
    if (!to_peer) return;
    pthread_mutex_lock(&c->peer_lock);
    int fd;
    if (resolve_peer(c, &fd) == IPC_OK && fd >= 0) post(c, fd, &info);
    pthread_mutex_unlock(&c->peer_lock);
}

/* ---- send and receive -------------------------------------------------- */

static bool is_shut(const sig_channel *c) { return atomic_load(&c->sh->shut); }

static int sig_send(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    (void)prio; /* one signal number, one order */
    sig_channel *c = (sig_channel *)ch;
    siginfo_t info;
    fill_info(c, &info, (int)len, msg, len);
    ipc_backoff backoff = IPC_BACKOFF_INIT;
    bool reported = false;
    for (;;) {
        if (is_shut(c)) return ipc__fail(IPC_ECLOSED, "signal: channel is shut down");
        int rc = ipc__lock_brief(&c->sh->send_lock, d, NULL);
        if (rc == 1) return ipc__fail(IPC_EFULL, "signal: another sender held the channel past the deadline");
        if (rc < 0) return rc;
        if (is_shut(c)) { /* under send_lock: see the top */
            pthread_mutex_unlock(&c->sh->send_lock);
            return ipc__fail(IPC_ECLOSED, "signal: channel is shut down");
        }
        pthread_mutex_lock(&c->peer_lock);
        int fd, r = -1, err = 0;
        rc = resolve_peer(c, &fd);
        if (rc == IPC_OK) {
            r = post(c, fd, &info);
            err = errno;
        }
        pthread_mutex_unlock(&c->peer_lock);
        pthread_mutex_unlock(&c->sh->send_lock);
        if (rc != IPC_OK) return rc;
        if (r == 0) return IPC_OK;
        errno = err;
        if (errno == ESRCH) return ipc__fail(IPC_ECLOSED, "signal: the receiving process has exited");
        if (errno != EAGAIN) return ipc__fail(IPC_ESYS, "%s", fd < 0 ? "rt_sigqueueinfo" : "pidfd_send_signal");
        /* The receiver's pending-signal list is full (RLIMIT_SIGPENDING):
         * nothing to poll for, so retry after a pause. */
        if (ipc__deadline_is_nowait(d))
            return ipc__fail(IPC_EFULL, "signal: the receiver's pending-signal queue is full (RLIMIT_SIGPENDING)");
        if (!reported) {
            ipc__blocked(ch, IPC_EV_SEND_BLOCKED);
            reported = true;
        }
        if (!ipc__backoff_sleep(&backoff, d))
            return ipc__fail(IPC_EFULL, "signal: the receiver's pending-signal queue stayed full (RLIMIT_SIGPENDING)");
    }
}

/* Wait for the signalfd for at most one slice: 1 ready (or slice over), 0 deadline, IPC_ESYS. */
static int wait_slice(sig_channel *c, const ipc_deadline *d)
{
    int left = ipc__deadline_poll_ms(d);
    ipc_deadline slice;
    ipc__deadline_start(&slice, left < 0 || left > SLICE_MS ? SLICE_MS : left);
    int w = ipc__wait_fd(c->sfd, POLLIN, -1, &slice);
    if (w < 0) return w;
    return w == 1 || !ipc__deadline_passed(d);
}

static int sig_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    sig_channel *c = (sig_channel *)ch;
    int rc = ipc__holdback_take(&c->held, buf, cap, len, prio);
    if (rc != IPC_HOLDBACK_EMPTY) return rc;
    *prio = 0;
    bool reported = false, looked_again = false;
    for (;;) {
        struct signalfd_siginfo si;
        ssize_t n = read(c->sfd, &si, sizeof si);
        if (n == (ssize_t)sizeof si) {
            int kind = kind_of(c, si.ssi_code);
            if (kind < 0) continue; /* not one of ours: drop it */
            if (kind == KIND_CLOSE) {
                post_markers(c, false); /* for the next receiver here */
                return ipc__fail(IPC_ECLOSED, "signal: shut down and drained");
            }
            unsigned char payload[PAYLOAD];
            memcpy(payload, &si.ssi_ptr, PAYLOAD);
            *len = (size_t)kind;
            if (*len > cap) { /* no peeking at signals: this handle keeps it */
                ipc__holdback_put(&c->held, payload, *len, 0);
                return ipc__fail(IPC_EMSGSIZE, "message of %zu bytes does not fit a %zu-byte buffer", *len, cap);
            }
            if (*len) memcpy(buf, payload, *len);
            return IPC_OK;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN) return ipc__fail(IPC_ESYS, "read(signalfd)");
        if (is_shut(c)) {
            /* Shut was set after every acknowledged send was queued (under
             * send_lock), but maybe after our read: read once more. */
            if (!looked_again) {
                looked_again = true;
                continue;
            }
            return ipc__fail(IPC_ECLOSED, "signal: shut down and drained");
        }
        if (ipc__deadline_is_nowait(d)) return ipc__fail(IPC_EEMPTY, "signal: nothing pending");
        if (!reported) {
            ipc__blocked(ch, IPC_EV_RECV_BLOCKED);
            reported = true;
        }
        int w = wait_slice(c, d);
        if (w == 0) return ipc__fail(IPC_EEMPTY, "signal: nothing pending");
        if (w < 0) return w;
    }
}

/* ---- close, free, poll ------------------------------------------------- */

static int sig_close(ipc_channel *ch)
{
    sig_channel *c = (sig_channel *)ch;
    int rc = ipc__lock(&c->sh->send_lock, &ipc__forever, NULL);
    if (rc != 0) return rc;
    /* Under send_lock: every acknowledged send is queued before the markers. */
    atomic_store(&c->sh->shut, true);
    post_markers(c, true);
    pthread_mutex_unlock(&c->sh->send_lock);
    return IPC_OK;
}

static void release(sig_channel *c)
{
    if (c->sig > 0) {
        pthread_mutex_lock(&open_lock);
        for (sig_channel **p = &open_list; *p; p = &(*p)->next)
            if (*p == c) {
                *p = c->next;
                break;
            }
        used_signals &= ~(1u << (c->sig - SIGRTMIN));
        pthread_mutex_unlock(&open_lock);
    }
    if (c->sfd >= 0) {
        struct signalfd_siginfo si; /* discard what is still pending for us */
        while (read(c->sfd, &si, sizeof si) == (ssize_t)sizeof si) {}
        close(c->sfd);
    }
    if (c->peer_fd >= 0) close(c->peer_fd);
    ipc__shared_free(c->sh, sizeof *c->sh);
    ipc__holdback_destroy(&c->held);
    pthread_mutex_destroy(&c->peer_lock);
}

static void sig_free(ipc_channel *ch)
{
    release((sig_channel *)ch);
    free(ch);
}

static int sig_pollfd(ipc_channel *ch) { return ((sig_channel *)ch)->sfd; }

/* ---- open -------------------------------------------------------------- */

static int sig_open(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out)
{
    /* core/process.h's one table: registering again is a no-op */
    int hooked = ipc__atfork(before_fork, after_fork_parent, after_fork_child);
    if (hooked != IPC_OK) return hooked;
    sig_channel *c = ipc__channel_alloc(sizeof *c, m, cfg);
    if (!c) return IPC_ESYS;
    c->base.capacity = 0; /* bounded by RLIMIT_SIGPENDING, per user, not per channel */
    c->sfd = c->peer_fd = -1;
    c->opener = c->self = getpid();
    c->uid = getuid();
    static atomic_uint opened;
    c->tag = ((unsigned)c->opener * 2654435761u + atomic_fetch_add(&opened, 1) * 40503u) & TAG_MASK;

    int rc = ipc__holdback_init(&c->held), err;
    if (rc != IPC_OK) {
        free(c);
        return rc;
    }
    if ((err = pthread_mutex_init(&c->peer_lock, NULL)) != 0) {
        errno = err;
        rc = ipc__fail(IPC_ESYS, "pthread_mutex_init");
        goto fail_lock;
    }
    if (!(c->sh = ipc__shared_alloc(sizeof *c->sh))) {
        rc = IPC_ESYS;
        goto fail;
    }
    if ((rc = ipc__shared_mutex_init(&c->sh->send_lock)) != IPC_OK) goto fail;

    pthread_mutex_lock(&open_lock);
    c->sig = take_signal();
    if (c->sig < 0) {
        pthread_mutex_unlock(&open_lock);
        rc = ipc__fail(IPC_EINVAL, "signal: all %d real-time signals are taken (by channels or handlers)",
                       SIGRTMAX - SIGRTMIN + 1);
        goto fail;
    }
    c->next = open_list;
    open_list = c;
    pthread_mutex_unlock(&open_lock);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, c->sig);
    if ((err = pthread_sigmask(SIG_BLOCK, &set, NULL)) != 0) {
        errno = err;
        rc = ipc__fail(IPC_ESYS, "pthread_sigmask(SIG_BLOCK, %d)", c->sig);
        goto fail;
    }
    c->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (c->sfd < 0) {
        rc = ipc__fail(IPC_ESYS, "signalfd(%d)", c->sig);
        goto fail;
    }
    *out = &c->base;
    return IPC_OK;

fail:
    release(c);
    free(c);
    return rc;
fail_lock:
    ipc__holdback_destroy(&c->held);
    free(c);
    return rc;
}

static const struct ipc_ops signal_ops = {
    .open = sig_open, .send = sig_send, .recv = sig_recv, .close = sig_close,
    .free = sig_free, .pollfd = sig_pollfd,
    .depth = NULL, /* the kernel shows pending signals as a set, not a count */
};

const ipc_mechanism ipc_mech_signal = {
    .name = "signal", .family = "signals",
    .family_id = IPC_FAMILY_SIGNALS, .carrier = IPC_CARRIER_SIGNAL,
    .summary = "real-time signals: 8-byte payload in the sigval, read from a signalfd",
    .caps = IPC_CAP_THREADS | IPC_CAP_FORK | IPC_CAP_POLL | IPC_CAP_FIFO | IPC_CAP_CLOSE_WAKES | IPC_CAP_PEER,
    .max_msg_limit = PAYLOAD, .default_max_msg = PAYLOAD, .default_capacity = 0,
    .wait_strategy = "kernel block (poll on a signalfd, 100 ms slices)", .ops = &signal_ops,
};

/* ---- module extras ----------------------------------------------------- */

static sig_channel *as_signal(const ipc_channel *ch)
{
    if (ipc_channel_mechanism(ch) != &ipc_mech_signal) {
        ipc__fail(IPC_EINVAL, "not an open \"signal\" channel");
        return NULL;
    }
    return (sig_channel *)ch;
}

int ipc_signal_number(const ipc_channel *ch)
{
    sig_channel *c = as_signal(ch);
    return c ? c->sig : IPC_EINVAL;
}

int ipc_signal_block(const ipc_channel *ch)
{
    sig_channel *c = as_signal(ch);
    if (!c) return IPC_EINVAL;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, c->sig);
    int err = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (err) {
        errno = err;
        return ipc__fail(IPC_ESYS, "pthread_sigmask");
    }
    return IPC_OK;
}

int ipc_signal_set_target(ipc_channel *ch, pid_t pid)
{
    sig_channel *c = as_signal(ch);
    if (!c) return IPC_EINVAL;
    if (pid < 0) return ipc__fail(IPC_EINVAL, "ipc_signal_set_target: pid %d", (int)pid);
    int fd = -1;
    if (pid && pid != c->self && (fd = pidfd_open(pid, 0)) < 0)
        return errno == ESRCH ? ipc__fail(IPC_ECLOSED, "ipc_signal_set_target: no process %d", (int)pid)
                              : ipc__fail(IPC_ESYS, "pidfd_open(%d)", (int)pid);
    pthread_mutex_lock(&c->peer_lock);
    if (c->peer_fd >= 0) close(c->peer_fd);
    c->pinned = pid != 0;
    c->peer = pid;
    c->peer_fd = fd;
    if (!pid && c->self != c->opener) aim_at_parent(c); /* a child's default peer */
    pthread_mutex_unlock(&c->peer_lock);
    return IPC_OK;
}

pid_t ipc_signal_target(ipc_channel *ch)
{
    sig_channel *c = as_signal(ch);
    if (!c) return IPC_EINVAL;
    pthread_mutex_lock(&c->peer_lock);
    int fd;
    int rc = resolve_peer(c, &fd);
    pid_t pid = rc != IPC_OK ? rc : fd < 0 ? c->self : c->peer;
    pthread_mutex_unlock(&c->peer_lock);
    return pid;
}

/* ---- SIGUSR1, the classic way ------------------------------------------ */

static volatile sig_atomic_t usr1_seen;

static void on_usr1(int sig)
{
    (void)sig;
    usr1_seen = usr1_seen + 1; /* only async-signal-safe work in a handler */
}

int ipc_signal_usr1_install(void)
{
    struct sigaction sa = { .sa_handler = on_usr1 };
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) < 0) return ipc__fail(IPC_ESYS, "sigaction(SIGUSR1)");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    int err = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (err) {
        errno = err;
        return ipc__fail(IPC_ESYS, "pthread_sigmask(SIGUSR1)");
    }
    return IPC_OK;
}

long ipc_signal_usr1_count(void) { return usr1_seen; }

int ipc_signal_usr1_wait(long seen, int timeout_ms)
{
    ipc_deadline d;
    int rc = ipc__deadline_begin(&d, timeout_ms, "ipc_signal_usr1_wait");
    if (rc != IPC_OK) return rc;
    sigset_t during;
    pthread_sigmask(SIG_BLOCK, NULL, &during);
    sigdelset(&during, SIGUSR1);
    while (usr1_seen <= seen) {
        int ms = ipc__deadline_poll_ms(&d);
        if (ms == 0 && ipc__deadline_passed(&d)) return ipc__fail(IPC_ETIMEDOUT, "no SIGUSR1 within %d ms", timeout_ms);
        struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
        /* SIGUSR1 is unblocked only inside ppoll: checking the count and
         * going to sleep cannot be split by the signal. */
        if (ppoll(NULL, 0, ms < 0 ? NULL : &ts, &during) < 0 && errno != EINTR)
            return ipc__fail(IPC_ESYS, "ppoll");
    }
    return IPC_OK;
}

/* ---- coalescing -------------------------------------------------------- */

long ipc_signal_count_deliveries(int sig, int n)
{
    if (sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP || n < 0)
        return ipc__fail(IPC_EINVAL, "ipc_signal_count_deliveries: signal %d, n %d", sig, n);
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, sig);
    int err = pthread_sigmask(SIG_BLOCK, &set, &old);
    if (err) {
        errno = err;
        return ipc__fail(IPC_ESYS, "pthread_sigmask");
    }
    /* Thread-directed (tgkill, rt_tgsigqueueinfo): only this thread, which
     * blocks it, can get them — no other thread's default action runs. */
    pid_t pid = getpid(), tid = gettid();
    long rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        int r;
        if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
            siginfo_t info;
            memset(&info, 0, sizeof info);
            info.si_signo = sig;
            info.si_code = SI_QUEUE;
            info.si_pid = pid;
            info.si_uid = getuid();
            info.si_value.sival_int = i;
            r = (int)syscall(SYS_rt_tgsigqueueinfo, pid, tid, sig, &info);
        } else {
            r = tgkill(pid, tid, sig);
        }
        if (r < 0) rc = ipc__fail(IPC_ESYS, "sending signal %d", sig);
    }
    long delivered = 0;
    const struct timespec none = { 0, 0 };
    while (sigtimedwait(&set, NULL, &none) == sig) delivered++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc < 0 ? rc : delivered;
}
