/*
 * posix_mq.c — "posix_mq", the POSIX message queue (mq_overview(7)).
 *
 * The kernel does the queueing: mq_open(2) creates a named queue of at most
 * mq_maxmsg messages of at most mq_msgsize bytes, mq_send(3) appends a
 * message with a priority, mq_receive(3) takes the oldest message of the
 * highest priority.  Boundaries, priorities (FIFO among equals), the bound
 * and the sleeping all come from the kernel; this file adds deadlines,
 * shutdown and the ipc.h error rules.
 *
 * Names.  "/<prefix>.<pid>.<n>" from ipc__unique_name(), or cfg->name (a
 * leading '/' is added if missing).  Created 0600 with O_EXCL; an unrelated
 * process attaches with IPC_ATTACH and the same name.  Only the creating
 * process unlinks (a forked child holds a copy of the handle and must not),
 * at free; a private channel (no cfg->name, no IPC_ATTACHABLE) unlinks its
 * names right after creating them, since fork() shares it through the
 * descriptors.
 * Each channel is three kernel objects, all starting with the name:
 *   NAME        the queue itself;
 *   NAME.shut   the shutdown doorbell: a queue for one 1-byte message that
 *               ipc_close() posts and nobody ever takes, so it polls readable
 *               for good — in every process, attached or forked;
 *   NAME.ctl    (in /dev/shm, core/segment.h) the close gate (core/gate.h):
 *               a robust lock and the `shut` word.  A private channel's is an
 *               anonymous shared mapping instead, inherited by fork().
 * The creator makes them in the order ctl, doorbell, queue (and an attacher
 * looks them up in the reverse order, the ctl waiting for its ready magic),
 * so an attacher that finds the queue finds a channel fully set up.
 *
 * Close against sends (issue 12).  A send checks "shut" and calls mq_send
 * inside the gate; close sets shut inside it; a receiver that finds the
 * queue empty and the channel shut looks once more before IPC_ECLOSED.  So
 * a send acknowledged with IPC_OK was queued before the close, and some
 * receiver takes it before any is told IPC_ECLOSED (gate.h has the proof;
 * before the gate a send preempted between its check and its mq_send
 * landed after the receivers had drained and gone: lost).  A message put
 * back after IPC_EMSGSIZE is not a new send and bypasses the gate.
 *
 * Waiting.  The descriptors are O_NONBLOCK; when a call would block we
 * poll(2) the queue (on Linux an mqd_t is a file descriptor: POLLIN when a
 * message is there, POLLOUT when there is room) together with the doorbell.
 * ipc_pollfd is an epoll set over the same two, so it polls readable for a
 * message and also once the channel is shut down; it is built on the first
 * ipc_pollfd call, because a queue in an epoll set pays for it on every
 * send and receive (the kernel runs epoll's wake-up callback: ~9% here).
 * We do not use
 * mq_timedsend/mq_timedreceive:
 * they take an absolute CLOCK_REALTIME time, which a clock step stretches or
 * cuts, and they cannot also watch a doorbell, so ipc_close could not wake a
 * blocked sender.  The fast path is one mq_send or mq_receive.
 *
 * Priorities.  The kernel's are 0..MQ_PRIO_MAX-1 (32767), higher first.  An
 * ipc prio p in -8192..8191 is stored as 2*(p+8192); the odd level just
 * above it is for a message put back (below).
 *
 * A buffer too small.  mq_receive refuses any buffer shorter than
 * mq_msgsize (EMSGSIZE) without taking a message, so it cannot tell us the
 * size.  A receive with a smaller buffer therefore goes through one of
 * mq_msgsize bytes on the stack; if the message is longer than the caller's
 * buffer, it is sent back at the odd priority level above its own: the next
 * one out, for every holder.  Only if the queue filled up in that instant is
 * it kept in this handle (kernel_util.h holdback) and handed out first.
 *
 * Limits (Linux).  /proc/sys/fs/mqueue/msg_max (10 by default) bounds the
 * capacity and msgsize_max (8192) the message size, even for root without
 * CAP_SYS_RESOURCE: above them open answers IPC_EINVAL and names the file.
 * The kernel also charges capacity x max_msg bytes to the user's
 * RLIMIT_MSGQUEUE (800 KiB): 8 KiB messages would allow only 9 queues per
 * user, hence the 1 KiB default message size.
 */
#define _GNU_SOURCE
#include "core/fd.h"
#include "core/gate.h"
#include "core/kernel_util.h"
#include "core/segment.h"

#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/epoll.h>
#include <unistd.h>

enum { PRIO_BIAS = 8192, PRIO_MIN = -8192, PRIO_MAX = 8191 };

static unsigned to_mq_prio(int prio) { return 2u * (unsigned)(prio + PRIO_BIAS); }
static int from_mq_prio(unsigned p) { return (int)(p / 2) - PRIO_BIAS; }

typedef struct mq_ctl {
    _Atomic uint32_t magic; /* CTL_MAGIC once the gate is set up (segment.h) */
    ipc_gate         gate;  /* shut + the lock sends and close take (gate.h) */
} mq_ctl;

#define CTL_MAGIC 0x6d716731u /* "mqg1": the ctl layout with a gate */

enum { MADE_QUEUE = 1, MADE_DOORBELL = 2 };

typedef struct posix_mq {
    ipc_channel  base;
    mqd_t        q, doorbell;
    atomic_int   pollset;  /* epoll over q and doorbell: ipc_pollfd; -1 until asked for */
    ipc_segment  ctl_seg;  /* NAME.ctl, or anonymous for a private channel */
    mq_ctl      *ctl;      /* ctl_seg.addr */
    size_t       msgsize;  /* mq_msgsize: mq_receive wants a buffer this big */
    pid_t        owner;    /* the creating process; 0 when attached */
    unsigned     made;     /* MADE_*: what this handle created (and unlinks) */
    bool         named;    /* reachable by name: not a private channel       */
    ipc_holdback held;
    char         name[NAME_MAX + 1];
} posix_mq;

static bool is_shut(const posix_mq *p) { return ipc__gate_is_shut(&p->ctl->gate); }

/* ---- names ------------------------------------------------------------- */

/* NAME + suffix ("" for the queue, ".shut", ".ctl") */
static int object_name(char *out, const posix_mq *p, const char *suffix)
{
    int n = snprintf(out, NAME_MAX + 1, "%s%s", p->name, suffix);
    if (n < 0 || n > NAME_MAX) return ipc__fail(IPC_EINVAL, "posix_mq: name '%s%s' is too long", p->name, suffix);
    return IPC_OK;
}

static int set_name(posix_mq *p, const char *name)
{
    if (!name) return ipc__unique_name(p->name, sizeof p->name, "/", NULL);
    const char *base = name[0] == '/' ? name + 1 : name;
    if (!*base || strchr(base, '/'))
        return ipc__fail(IPC_EINVAL, "posix_mq: name '%s' must be \"/word\" with no other '/'", name);
    /* leave room for the longest suffix, ".shut" */
    if (strlen(base) + 1 + 5 > NAME_MAX)
        return ipc__fail(IPC_EINVAL, "posix_mq: name '%s' is longer than %d bytes", name, NAME_MAX - 6);
    snprintf(p->name, sizeof p->name, "/%s", base);
    return IPC_OK;
}

/* ---- open -------------------------------------------------------------- */

static int check_limit(const char *what, size_t want, const char *path)
{
    long limit;
    if (ipc__read_proc_limit(path, &limit) != IPC_OK) return IPC_OK; /* no /proc: let mq_open judge */
    if (want > (size_t)limit)
        return ipc__fail(IPC_EINVAL, "posix_mq: %s %zu > %s %ld (as root: sysctl fs.mqueue.%s=%zu)",
                         what, want, path, limit, strrchr(path, '/') + 1, want);
    return IPC_OK;
}

static int mq_open_failed(const char *name, const ipc_config *cfg)
{
    /* EMFILE is either limit: descriptors, or the bytes of all the user's queues */
    if (errno == EMFILE && ipc__fds_left(1) == 0)
        return ipc__fail(IPC_ESYS, "mq_open(%s): this process has used every descriptor RLIMIT_NOFILE allows "
                         "(ulimit -n)", name);
    if (errno == EMFILE && cfg)
        return ipc__fail(IPC_ESYS, "mq_open(%s): the user's RLIMIT_MSGQUEUE (ulimit -q) cannot hold another "
                         "%zu x %zu bytes", name, cfg->capacity, cfg->max_msg);
    if (errno == ENOSPC)
        return ipc__fail(IPC_ESYS, "mq_open(%s): /proc/sys/fs/mqueue/queues_max reached", name);
    return ipc__fail(IPC_ESYS, "mq_open(%s)", name);
}

/* The ctl segment: created (and its gate set up before it is marked ready),
 * or attached (waiting for the ready mark). */
static int open_ctl(posix_mq *p, bool create)
{
    char name[NAME_MAX + 1];
    int rc = object_name(name, p, ".ctl");
    if (rc != IPC_OK) return rc;
    if (!create) {
        rc = ipc__segment_attach(&p->ctl_seg, name, sizeof *p->ctl, offsetof(mq_ctl, magic), CTL_MAGIC);
        if (rc == IPC_OK) p->ctl = p->ctl_seg.addr;
        return rc;
    }
    rc = ipc__segment_create(&p->ctl_seg, p->named ? name : NULL, sizeof *p->ctl, 0);
    if (rc != IPC_OK) return rc;
    p->ctl = p->ctl_seg.addr;
    if ((rc = ipc__gate_init(&p->ctl->gate)) != IPC_OK) return rc;
    ipc__segment_ready(&p->ctl->magic, CTL_MAGIC);
    return IPC_OK;
}

static int create_objects(posix_mq *p, const ipc_config *cfg)
{
    int rc = check_limit("capacity", cfg->capacity, "/proc/sys/fs/mqueue/msg_max");
    if (rc == IPC_OK) rc = check_limit("max_msg", cfg->max_msg, "/proc/sys/fs/mqueue/msgsize_max");
    if (rc == IPC_OK) rc = open_ctl(p, true); /* first: see the top */
    if (rc != IPC_OK) return rc;

    /* Linux opens every mqd_t close-on-exec; O_NONBLOCK because we wait in poll. */
    char bell[NAME_MAX + 1];
    if ((rc = object_name(bell, p, ".shut")) != IPC_OK) return rc;
    struct mq_attr one = { .mq_maxmsg = 1, .mq_msgsize = 1 };
    p->doorbell = mq_open(bell, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK, 0600, &one);
    if (p->doorbell == (mqd_t)-1) return mq_open_failed(bell, NULL);
    p->made |= MADE_DOORBELL;

    struct mq_attr attr = { .mq_maxmsg = (long)cfg->capacity, .mq_msgsize = (long)cfg->max_msg };
    p->q = mq_open(p->name, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK, 0600, &attr);
    if (p->q == (mqd_t)-1) return mq_open_failed(p->name, cfg);
    p->made |= MADE_QUEUE;
    p->msgsize = cfg->max_msg;
    return IPC_OK;
}

static int attach_objects(posix_mq *p)
{
    p->q = mq_open(p->name, O_RDWR | O_NONBLOCK);
    if (p->q == (mqd_t)-1) return mq_open_failed(p->name, NULL);
    struct mq_attr attr;
    if (mq_getattr(p->q, &attr) < 0) return ipc__fail(IPC_ESYS, "mq_getattr(%s)", p->name);
    if (attr.mq_msgsize > IPC_KERNEL_MAX_MSG)
        return ipc__fail(IPC_EINVAL, "posix_mq: %s has mq_msgsize %ld, above the %d bytes this module handles",
                         p->name, attr.mq_msgsize, IPC_KERNEL_MAX_MSG);
    p->msgsize = (size_t)attr.mq_msgsize;
    p->base.max_msg = p->msgsize; /* the creator's limits, not our defaults */
    p->base.capacity = (size_t)attr.mq_maxmsg;

    char bell[NAME_MAX + 1];
    int rc = object_name(bell, p, ".shut");
    if (rc != IPC_OK) return rc;
    p->doorbell = mq_open(bell, O_RDWR | O_NONBLOCK);
    if (p->doorbell == (mqd_t)-1)
        return ipc__fail(IPC_EINVAL, "posix_mq: %s has no doorbell %s: not an ipcplay channel", p->name, bell);
    return open_ctl(p, false);
}

/* Remove the names this handle created.  The objects live on while a
 * descriptor or mapping refers to them. */
static void unlink_names(posix_mq *p)
{
    char name[NAME_MAX + 1];
    if ((p->made & MADE_QUEUE) && object_name(name, p, "") == IPC_OK) mq_unlink(name);
    if ((p->made & MADE_DOORBELL) && object_name(name, p, ".shut") == IPC_OK) mq_unlink(name);
    p->made = 0;
}

/* Close what this handle opened; unlink what it created (on free: only the
 * creating process, see the top). */
static void release(posix_mq *p, bool unlink)
{
    if (p->q != (mqd_t)-1) mq_close(p->q);
    if (p->doorbell != (mqd_t)-1) mq_close(p->doorbell);
    if (atomic_load(&p->pollset) >= 0) close(atomic_load(&p->pollset));
    if (!unlink) p->ctl_seg.unlinker = 0; /* a forked child's copy: never its name */
    ipc__segment_release(&p->ctl_seg);    /* the creator's also unlinks NAME.ctl */
    p->ctl = NULL;
    if (unlink) unlink_names(p);
}

static int pmq_open(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out)
{
    if (cfg->endpoint) return ipc__fail(IPC_EINVAL, "posix_mq: takes a name, not an endpoint");
    posix_mq *p = ipc__channel_alloc(sizeof *p, m, cfg);
    if (!p) return IPC_ESYS;
    p->q = p->doorbell = (mqd_t)-1;
    atomic_init(&p->pollset, -1);
    bool attach = cfg->flags & IPC_ATTACH;
    /* A private channel is shared only through inherited descriptors and
     * mappings: its queue names can go at once, like a deleted temporary
     * file, and then nothing is left behind even if every holder is killed. */
    p->named = cfg->name || (cfg->flags & IPC_ATTACHABLE);
    int rc = set_name(p, cfg->name);
    if (rc == IPC_OK) rc = attach ? attach_objects(p) : create_objects(p, cfg);
    if (rc == IPC_OK) rc = ipc__holdback_init(&p->held);
    if (rc != IPC_OK) {
        release(p, true);
        free(p);
        return rc;
    }
    p->owner = attach ? 0 : getpid();
    if (!p->named) unlink_names(p);
    *out = &p->base;
    return IPC_OK;
}

/* ---- send and receive -------------------------------------------------- */

/* Sleep in poll(2) until the queue is ready for `events`, the doorbell
 * rings, or the deadline passes: 1 ready, 0 deadline, IPC_ECLOSED, IPC_ESYS. */
static int wait_queue(posix_mq *p, short events, enum ipc_event_kind kind, const ipc_deadline *d)
{
    if (ipc__deadline_is_nowait(d)) return 0;
    ipc__blocked(&p->base, kind);
    return ipc__wait_fd(p->q, events, p->doorbell, d);
}

static int pmq_send(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    posix_mq *p = (posix_mq *)ch;
    if (prio < PRIO_MIN || prio > PRIO_MAX)
        return ipc__fail(IPC_EINVAL, "posix_mq: prio %d is outside %d..%d", prio, PRIO_MIN, PRIO_MAX);
    if (!msg) msg = ""; /* a 0-byte message may come without a buffer; mq_send wants one */
    for (;;) {
        int rc = ipc__gate_enter(&p->ctl->gate, d, "posix_mq");
        if (rc == 1) return ipc__fail(IPC_EFULL, "posix_mq: another sender held the gate past the deadline");
        if (rc != IPC_OK) return rc;
        rc = mq_send(p->q, msg, len, to_mq_prio(prio));
        int err = errno;
        ipc__gate_leave(&p->ctl->gate);
        if (rc == 0) return IPC_OK;
        if ((errno = err) == EINTR) continue;
        if (errno != EAGAIN) return ipc__fail(IPC_ESYS, "mq_send(%s)", p->name);
        int w = wait_queue(p, POLLOUT, IPC_EV_SEND_BLOCKED, d);
        if (w == 0) return ipc__fail(IPC_EFULL, "posix_mq is full (%zu messages)", p->base.capacity);
        if (w < 0 && w != IPC_ECLOSED) return w;
        /* room, or the doorbell: the loop looks again */
    }
}

/* A message taken into `tmp` is longer than the caller's buffer: put it
 * back in front of its priority class, or hold it in this handle. */
static void put_back(posix_mq *p, const unsigned char *tmp, size_t n, unsigned mq_prio)
{
    if (mq_send(p->q, (const char *)tmp, n, mq_prio | 1) == 0) return;
    ipc__holdback_put(&p->held, tmp, n, from_mq_prio(mq_prio));
}

static int pmq_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    posix_mq *p = (posix_mq *)ch;
    int rc = ipc__holdback_take(&p->held, buf, cap, len, prio);
    if (rc != IPC_HOLDBACK_EMPTY) return rc;

    unsigned char tmp[IPC_KERNEL_MAX_MSG];
    bool direct = cap >= p->msgsize; /* the caller's buffer is big enough for mq_receive */
    bool relooked = false; /* found empty once after seeing shut (gate.h) */
    for (;;) {
        unsigned mq_prio;
        ssize_t n = direct ? mq_receive(p->q, buf, cap, &mq_prio)
                           : mq_receive(p->q, (char *)tmp, p->msgsize, &mq_prio);
        if (n >= 0) {
            *len = (size_t)n;
            *prio = from_mq_prio(mq_prio);
            if (direct) return IPC_OK;
            if ((size_t)n > cap) {
                put_back(p, tmp, (size_t)n, mq_prio);
                return ipc__fail(IPC_EMSGSIZE, "message of %zd bytes does not fit a %zu-byte buffer", n, cap);
            }
            if (n) memcpy(buf, tmp, (size_t)n);
            return IPC_OK;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN) return ipc__fail(IPC_ESYS, "mq_receive(%s)", p->name);
        if (is_shut(p)) {
            if (relooked) return ipc__fail(IPC_ECLOSED, "posix_mq: shut down and drained");
            relooked = true; /* the look above may predate the last acknowledged sends */
            continue;
        }
        int w = wait_queue(p, POLLIN, IPC_EV_RECV_BLOCKED, d);
        if (w == 0) return ipc__fail(IPC_EEMPTY, "posix_mq is empty");
        if (w < 0 && w != IPC_ECLOSED) return w;
    }
}

/* ---- close, free, poll, depth ------------------------------------------ */

static int pmq_close(ipc_channel *ch)
{
    posix_mq *p = (posix_mq *)ch;
    int rc = ipc__gate_close(&p->ctl->gate);
    if (rc != IPC_OK) return rc;
    /* Ring the doorbell; EAGAIN means another holder already rang it. */
    if (mq_send(p->doorbell, "x", 1, 0) < 0 && errno != EAGAIN)
        return ipc__fail(IPC_ESYS, "mq_send(%s.shut)", p->name);
    return IPC_OK;
}

static void pmq_free(ipc_channel *ch)
{
    posix_mq *p = (posix_mq *)ch;
    /* A message this handle still holds (the queue filled up in the instant
     * its put-back needed a slot) goes back to the queue for the others,
     * waiting up to IPC_HOLDBACK_FREE_MS for room: lost only if the queue
     * stays full that long (issue 12, defect 9), or is shut. */
    unsigned char msg[IPC_KERNEL_MAX_MSG];
    size_t n;
    int prio;
    ipc_deadline d;
    ipc__deadline_start(&d, IPC_HOLDBACK_FREE_MS);
    ipc_backoff b = IPC_BACKOFF_INIT;
    while (ipc__holdback_pop(&p->held, msg, &n, &prio))
        while (mq_send(p->q, (const char *)msg, n, to_mq_prio(prio) | 1) < 0 && (errno == EAGAIN || errno == EINTR)
               && !is_shut(p) && ipc__backoff_sleep(&b, &d)) {}
    ipc__holdback_destroy(&p->held);
    release(p, p->owner == getpid());
    free(p);
}

static int pmq_pollfd(ipc_channel *ch)
{
    posix_mq *p = (posix_mq *)ch;
    int fd = atomic_load(&p->pollset);
    if (fd >= 0) return fd;
    fd = epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0) return ipc__fail(IPC_ESYS, "epoll_create1"), -1;
    struct epoll_event ev = { .events = EPOLLIN };
    if (epoll_ctl(fd, EPOLL_CTL_ADD, p->q, &ev) < 0 || epoll_ctl(fd, EPOLL_CTL_ADD, p->doorbell, &ev) < 0) {
        ipc__fail(IPC_ESYS, "epoll_ctl(%s)", p->name);
        close(fd);
        return -1;
    }
    int none = -1; /* two threads asking at once: one set wins */
    if (!atomic_compare_exchange_strong(&p->pollset, &none, fd)) {
        close(fd);
        fd = none;
    }
    return fd;
}

static long pmq_depth(const ipc_channel *ch)
{
    struct mq_attr attr;
    if (mq_getattr(((const posix_mq *)ch)->q, &attr) < 0) return -1;
    return attr.mq_curmsgs;
}

static int pmq_attach_config(const ipc_channel *ch, ipc_config *cfg)
{
    const posix_mq *p = (const posix_mq *)ch;
    cfg->name = p->named ? p->name : NULL; /* a private channel's names are gone */
    return IPC_OK;
}

static const struct ipc_ops posix_mq_ops = {
    .open = pmq_open, .send = pmq_send, .recv = pmq_recv, .close = pmq_close,
    .free = pmq_free, .pollfd = pmq_pollfd, .depth = pmq_depth, .attach_config = pmq_attach_config,
};

const ipc_mechanism ipc_mech_posix_mq = {
    .name = "posix_mq", .family = "queues",
    .family_id = IPC_FAMILY_QUEUES, .carrier = IPC_CARRIER_POSIX_MQ,
    .summary = "POSIX message queue (mq_open): kernel priorities, named, pollable; <= msg_max messages",
    .caps = IPC_CAP_THREADS | IPC_CAP_FORK | IPC_CAP_UNRELATED | IPC_CAP_MPMC | IPC_CAP_PRIORITY
          | IPC_CAP_BOUNDED | IPC_CAP_POLL | IPC_CAP_FIFO | IPC_CAP_CLOSE_WAKES,
    .max_msg_limit = IPC_KERNEL_MAX_MSG, .default_max_msg = 1024, .default_capacity = 10,
    .wait_strategy = "kernel block (poll on the mqd)", .ops = &posix_mq_ops,
    .waits = IPC_WAITS_ALL, .wait_default = IPC_WAIT_BLOCK,
};
