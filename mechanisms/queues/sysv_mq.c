/*
 * sysv_mq.c — "sysv_mq", the System V message queue (svipc(7), msgop(2)).
 *
 * The oldest kernel message queue of Unix.  msgget(2) returns an integer
 * msqid; msgsnd(2) appends a message, a `long mtype` followed by its bytes;
 * msgrcv(2) picks one by type: 0 = the oldest, T > 0 = the oldest of type T,
 * -T = the oldest of the LOWEST type <= T.  That last form is a priority
 * queue upside down — lower types first — so an ipc prio p (any int) is
 * stored as type 2*(2^31 - p): prio INT_MAX becomes 2, INT_MIN 2^33 (a long
 * is 64 bits here).  The odd type just below a message's own (half a step
 * more urgent) is for a message put back; type 2^33+1, the least urgent of all,
 * is the close marker, so a receiver meets it only after every real message:
 * exactly "drain, then IPC_ECLOSED".
 *
 * Keys.  With no name: IPC_PRIVATE, a fresh queue only fork() shares.  With a
 * name (or IPC_ATTACHABLE: a generated one): the key is a hash of it (no
 * ftok, which needs an existing file), so an unrelated process attaches with
 * the same name; a collision shows as EEXIST at create.  The owner (the creating process, not a forked child
 * holding a copy) removes the queue with IPC_RMID at free; a holder still
 * using it then gets IPC_ECLOSED.  SysV objects have no file names and the
 * kernel keeps a queue until someone removes it, so an owner killed before
 * its free leaks the queue: it shows in `ipcs -q` (or /proc/sysvipc/msg) as
 * key 0x00000000 with our uid and the lspid/lrpid of finished processes,
 * until `ipcrm -q <msqid>`.  The tests check removal by name and by the
 * EIDRM a sleeping holder gets.
 *
 * Bounds.  msgmax (8192) bytes per message and msgmnb (16384) bytes per queue,
 * which also caps the NUMBER of messages at msgmnb.  The kernel bounds bytes,
 * not messages: a capacity in cfg becomes a byte budget, q_qbytes =
 * capacity x max_msg (at most msgmnb; raising it needs CAP_SYS_RESOURCE), so
 * at least `capacity` full-size messages fit and more small ones do.  Hence
 * no IPC_CAP_BOUNDED, and ipc_capacity() says 0.
 *
 * Waiting.  No SysV call has a timeout, and a sender sleeping in msgsnd can
 * be woken only by room, a signal or IPC_RMID — not by a deadline or by
 * ipc_close.  So:
 *   - a receive with no deadline sleeps in a plain blocking msgrcv: the
 *     kernel wakes it for a message or for the close marker, at no cost;
 *   - every other wait (timed receives, any send into a full queue) retries
 *     with IPC_NOWAIT and sleeps in between, 20 us doubling to 1 ms, never
 *     past the deadline.  The cost: such a waiter reacts up to 1 ms late and
 *     wakes up to ~1000 times a second.
 *
 * Shutdown.  The close gate (core/gate.h: a robust lock and the shut flag)
 * lives in a SysV shared memory segment with the same key (one key, two
 * namespaces: ipcs -m shows it), together with max_msg for attachers.  The
 * creator makes and fills the segment BEFORE the queue, and an attacher
 * looks up the queue first, so one that finds the queue finds the gate set
 * up.  A send checks shut and calls msgsnd inside the gate; close sets shut
 * inside it, then posts the marker: every acknowledged message is queued
 * before the marker, and the marker is the least urgent type, so a receiver
 * meets it only after all of them.  A receiver that finds the queue empty
 * (a peer holds the marker for an instant) and the flag set looks once more
 * before IPC_ECLOSED (gate.h).  Before the gate, a send preempted between
 * its check and its msgsnd landed after the receivers had gone (issue 12).
 *
 * Copies.  A message must sit right after its mtype in one buffer, so a send
 * copies the payload behind a type and a receive copies it out: one copy on
 * each side, inherent to the API.
 */
#define _GNU_SOURCE
#include "core/gate.h"
#include "core/kernel_util.h"
#include "core/stale.h" /* ipc__check_owner */

#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <unistd.h>

_Static_assert(sizeof(long) >= 8, "message types need a 64-bit long");

#define PRIO_TOP    ((long)1 << 31)
#define TYPE_MARKER (((long)1 << 33) + 1)

static long to_type(int prio) { return 2 * (PRIO_TOP - prio); }
static int from_type(long type) { return (int)(PRIO_TOP - (type + 1) / 2); }

typedef struct msgbuf_max {
    long          mtype;
    unsigned char mtext[IPC_KERNEL_MAX_MSG];
} msgbuf_max;

typedef struct sysv_ctl {
    ipc_gate gate;    /* shut + the lock sends and close take (gate.h) */
    uint32_t max_msg;
} sysv_ctl;

typedef struct sysv_mq {
    ipc_channel  base;
    int          msqid, shmid;
    sysv_ctl    *ctl;
    pid_t        owner;   /* the creating process; 0 when attached */
    ipc_holdback held;
    char         name[256]; /* the key's name; "" for IPC_PRIVATE */
} sysv_mq;

static bool is_shut(const sysv_mq *s) { return ipc__gate_is_shut(&s->ctl->gate); }

/* The queue is gone: its owner freed the channel (IPC_RMID). */
static bool removed(int err) { return err == EIDRM || err == EINVAL; }

/* ---- open -------------------------------------------------------------- */

static key_t key_of(const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) h = (h ^ *c) * 16777619u;
    key_t k = (key_t)(h & 0x7fffffff);
    return k == IPC_PRIVATE ? 1 : k;
}

/* The key's name: cfg->name, a generated one (IPC_ATTACHABLE), or none. */
static int set_name(sysv_mq *s, const ipc_config *cfg)
{
    if (!cfg->name)
        return (cfg->flags & IPC_ATTACHABLE) ? ipc__unique_name(s->name, sizeof s->name, "", NULL) : IPC_OK;
    size_t n = strlen(cfg->name);
    if (n == 0 || n >= sizeof s->name)
        return ipc__fail(IPC_EINVAL, "sysv_mq: name of %zu bytes (must be 1..%zu)", n, sizeof s->name - 1);
    memcpy(s->name, cfg->name, n + 1);
    return IPC_OK;
}

static int create_objects(sysv_mq *s, key_t key, const ipc_config *cfg)
{
    long msgmax, msgmnb;
    if (ipc__read_proc_limit("/proc/sys/kernel/msgmax", &msgmax) == IPC_OK && cfg->max_msg > (size_t)msgmax)
        return ipc__fail(IPC_EINVAL, "sysv_mq: max_msg %zu > /proc/sys/kernel/msgmax %ld", cfg->max_msg, msgmax);

    /* The segment first, set up, then the queue: see "Shutdown" at the top. */
    s->owner = getpid();
    s->shmid = shmget(key, sizeof *s->ctl, IPC_CREAT | IPC_EXCL | 0600);
    if (s->shmid < 0) return ipc__fail(IPC_ESYS, "shmget(key 0x%x, IPC_CREAT|IPC_EXCL)", (unsigned)key);
    void *m = shmat(s->shmid, NULL, 0);
    if (m == (void *)-1) return ipc__fail(IPC_ESYS, "shmat");
    s->ctl = m; /* a new segment reads as zeros */
    s->ctl->max_msg = (uint32_t)cfg->max_msg;
    int rc = ipc__gate_init(&s->ctl->gate);
    if (rc != IPC_OK) return rc;
    /* A private segment is shared only by fork(), which inherits the
     * attachment: mark it removed now and it goes with the last detach, even
     * if every holder is killed.  (The queue cannot: IPC_RMID ends it at once.) */
    if (key == IPC_PRIVATE && shmctl(s->shmid, IPC_RMID, NULL) == 0) s->shmid = -1;

    s->msqid = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
    if (s->msqid < 0) return ipc__fail(IPC_ESYS, "msgget(key 0x%x, IPC_CREAT|IPC_EXCL)", (unsigned)key);

    /* capacity -> byte budget (see the top); never below one full message */
    if (cfg->capacity && ipc__read_proc_limit("/proc/sys/kernel/msgmnb", &msgmnb) == IPC_OK) {
        size_t budget = cfg->capacity > (size_t)msgmnb / (cfg->max_msg ? cfg->max_msg : 1)
                      ? (size_t)msgmnb : cfg->capacity * cfg->max_msg;
        if (budget < cfg->max_msg) budget = cfg->max_msg;
        struct msqid_ds ds;
        if (msgctl(s->msqid, IPC_STAT, &ds) < 0) return ipc__fail(IPC_ESYS, "msgctl(IPC_STAT)");
        ds.msg_qbytes = budget;
        if (msgctl(s->msqid, IPC_SET, &ds) < 0) return ipc__fail(IPC_ESYS, "msgctl(IPC_SET, msg_qbytes %zu)", budget);
    }
    return IPC_OK;
}

static int attach_objects(sysv_mq *s, key_t key, const char *name)
{
    s->msqid = msgget(key, 0);
    if (s->msqid < 0) return ipc__fail(IPC_ESYS, "sysv_mq: msgget(key of '%s')", name);
    struct msqid_ds ds;
    if (msgctl(s->msqid, IPC_STAT, &ds) < 0) return ipc__fail(IPC_ESYS, "sysv_mq: msgctl(IPC_STAT)");
    int rc = ipc__check_owner(ds.msg_perm.uid, name);
    if (rc != IPC_OK) return rc;
    s->shmid = shmget(key, 0, 0);
    if (s->shmid < 0)
        return ipc__fail(IPC_EINVAL, "sysv_mq: '%s' has no control segment: not an ipcplay channel", name);
    void *m = shmat(s->shmid, NULL, 0);
    if (m == (void *)-1) return ipc__fail(IPC_ESYS, "shmat");
    s->ctl = m;
    s->base.max_msg = s->ctl->max_msg; /* the creator's limit */
    return IPC_OK;
}

static void release(sysv_mq *s)
{
    if (s->ctl) shmdt(s->ctl);
    if (s->owner == getpid()) {
        if (s->msqid >= 0) msgctl(s->msqid, IPC_RMID, NULL); /* wakes every sleeper with EIDRM */
        if (s->shmid >= 0) shmctl(s->shmid, IPC_RMID, NULL); /* goes when the last one detaches */
    }
}

static int sysv_open(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out)
{
    if (cfg->endpoint) return ipc__fail(IPC_EINVAL, "sysv_mq: takes a name, not an endpoint");
    sysv_mq *s = ipc__channel_alloc(sizeof *s, m, cfg);
    if (!s) return IPC_ESYS;
    s->msqid = s->shmid = -1;
    s->base.capacity = 0; /* bounded in bytes, not messages */
    int rc = set_name(s, cfg);
    key_t key = s->name[0] ? key_of(s->name) : IPC_PRIVATE;
    if (rc == IPC_OK)
        rc = (cfg->flags & IPC_ATTACH) ? attach_objects(s, key, s->name) : create_objects(s, key, cfg);
    if (rc == IPC_OK) rc = ipc__holdback_init(&s->held);
    if (rc != IPC_OK) {
        release(s);
        free(s);
        return rc;
    }
    *out = &s->base;
    return IPC_OK;
}

/* ---- send and receive -------------------------------------------------- */

static int sysv_send(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    sysv_mq *s = (sysv_mq *)ch;
    msgbuf_max mb; /* no initializer: zeroing 8 KiB per send would cost more than the copy */
    mb.mtype = to_type(prio);
    if (len) memcpy(mb.mtext, msg, len);
    ipc_backoff backoff = IPC_BACKOFF_INIT;
    bool reported = false;
    for (;;) {
        int rc = ipc__gate_enter(&s->ctl->gate, d, "sysv_mq");
        if (rc == 1) return ipc__fail(IPC_EFULL, "sysv_mq: another sender held the gate past the deadline");
        if (rc != IPC_OK) return rc;
        rc = msgsnd(s->msqid, &mb, len, IPC_NOWAIT);
        int err = errno;
        ipc__gate_leave(&s->ctl->gate);
        if (rc == 0) return IPC_OK;
        if ((errno = err) == EINTR) continue;
        if (removed(errno)) return ipc__fail(IPC_ECLOSED, "sysv_mq: the queue was removed by its owner");
        if (errno != EAGAIN) return ipc__fail(IPC_ESYS, "msgsnd");
        /* full: q_qbytes bytes (or as many messages) are queued */
        if (!reported && !ipc__deadline_is_nowait(d)) {
            ipc__blocked(ch, IPC_EV_SEND_BLOCKED);
            reported = true;
        }
        if (!ipc__backoff_sleep(&backoff, d)) return ipc__fail(IPC_EFULL, "sysv_mq is full");
    }
}

/* Post the close marker (zero bytes always fit the byte budget; only a
 * queue holding msgmnb messages refuses it, and then receivers still find
 * the flag when it runs empty). */
static void post_marker(sysv_mq *s)
{
    struct { long mtype; } marker = { TYPE_MARKER };
    msgsnd(s->msqid, &marker, 0, IPC_NOWAIT);
}

static int deliver(sysv_mq *s, msgbuf_max *mb, size_t n, void *buf, size_t cap, size_t *len, int *prio)
{
    if (mb->mtype == TYPE_MARKER) {
        post_marker(s); /* for the next receiver */
        return ipc__fail(IPC_ECLOSED, "sysv_mq: shut down and drained");
    }
    *len = n;
    *prio = from_type(mb->mtype);
    if (n > cap) {
        /* Back in front of its class (odd type = one step more urgent); if
         * the queue refilled in that instant, keep it in this handle. */
        if (!(mb->mtype & 1)) mb->mtype -= 1;
        if (msgsnd(s->msqid, mb, n, IPC_NOWAIT) < 0) ipc__holdback_put(&s->held, mb->mtext, n, *prio);
        return ipc__fail(IPC_EMSGSIZE, "message of %zu bytes does not fit a %zu-byte buffer", n, cap);
    }
    if (n) memcpy(buf, mb->mtext, n);
    return IPC_OK;
}

static int sysv_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    sysv_mq *s = (sysv_mq *)ch;
    int rc = ipc__holdback_take(&s->held, buf, cap, len, prio);
    if (rc != IPC_HOLDBACK_EMPTY) return rc;

    msgbuf_max mb;
    ipc_backoff backoff = IPC_BACKOFF_INIT;
    bool reported = false;
    int flags = IPC_NOWAIT; /* first look without sleeping */
    bool relooked = false;  /* found empty once after seeing shut (gate.h) */
    for (;;) {
        ssize_t n = msgrcv(s->msqid, &mb, sizeof mb.mtext, -TYPE_MARKER, flags);
        if (n >= 0) return deliver(s, &mb, (size_t)n, buf, cap, len, prio);
        if (errno == EINTR) continue;
        if (removed(errno)) return ipc__fail(IPC_ECLOSED, "sysv_mq: the queue was removed by its owner");
        if (errno != ENOMSG && errno != EAGAIN) return ipc__fail(IPC_ESYS, "msgrcv");
        if (is_shut(s)) {
            if (relooked) return ipc__fail(IPC_ECLOSED, "sysv_mq: shut down and drained");
            relooked = true; /* the look above may predate the last acknowledged sends */
            flags = IPC_NOWAIT;
            continue;
        }
        if (ipc__deadline_is_nowait(d)) return ipc__fail(IPC_EEMPTY, "sysv_mq is empty");
        if (!reported) {
            ipc__blocked(ch, IPC_EV_RECV_BLOCKED);
            reported = true;
        }
        if (ipc__deadline_blocks_forever(d)) {
            flags = 0; /* sleep in the kernel: a message or the marker wakes us */
            continue;
        }
        if (!ipc__backoff_sleep(&backoff, d)) return ipc__fail(IPC_EEMPTY, "sysv_mq is empty");
    }
}

/* ---- close, free, depth ------------------------------------------------ */

static int sysv_close(ipc_channel *ch)
{
    sysv_mq *s = (sysv_mq *)ch;
    int rc = ipc__gate_close(&s->ctl->gate);
    if (rc != IPC_OK) return rc;
    post_marker(s); /* after the gate: behind every acknowledged message */
    return IPC_OK;
}

static void sysv_free(ipc_channel *ch)
{
    sysv_mq *s = (sysv_mq *)ch;
    /* What this handle still holds goes back to the queue, waiting up to
     * IPC_HOLDBACK_FREE_MS for room: lost only if the queue stays full that
     * long, or is shut (issue 12, defect 9). */
    msgbuf_max mb;
    size_t n;
    int prio;
    ipc_deadline d;
    ipc__deadline_start(&d, IPC_HOLDBACK_FREE_MS);
    ipc_backoff b = IPC_BACKOFF_INIT;
    while (ipc__holdback_pop(&s->held, mb.mtext, &n, &prio)) {
        mb.mtype = to_type(prio) - 1;
        while (msgsnd(s->msqid, &mb, n, IPC_NOWAIT) < 0 && (errno == EAGAIN || errno == EINTR) && !is_shut(s)
               && ipc__backoff_sleep(&b, &d)) {}
    }
    ipc__holdback_destroy(&s->held);
    release(s);
    free(s);
}

/* Messages queued, not counting the close marker: after close the queue
 * holds exactly one (posted by close, re-posted by each receiver that meets
 * it; for an instant none while a receiver holds it — depth is a hint). */
static long sysv_depth(const ipc_channel *ch)
{
    const sysv_mq *s = (const sysv_mq *)ch;
    struct msqid_ds ds;
    if (msgctl(s->msqid, IPC_STAT, &ds) < 0) return -1;
    long n = (long)ds.msg_qnum;
    /* is_shut is ACQUIRE (gate.h): close set it before it posted the marker */
    if (n > 0 && is_shut(s)) n--;
    return n;
}

static int sysv_attach_config(const ipc_channel *ch, ipc_config *cfg)
{
    const sysv_mq *s = (const sysv_mq *)ch;
    cfg->name = s->name[0] ? s->name : NULL; /* IPC_PRIVATE: fork() only */
    return IPC_OK;
}

static const struct ipc_ops sysv_mq_ops = {
    .open = sysv_open, .send = sysv_send, .recv = sysv_recv, .close = sysv_close,
    .free = sysv_free, .pollfd = NULL, /* SysV IPC objects are not files */
    .depth = sysv_depth, .attach_config = sysv_attach_config,
};

const ipc_mechanism ipc_mech_sysv_mq = {
    .name = "sysv_mq", .family = "queues",
    .family_id = IPC_FAMILY_QUEUES, .carrier = IPC_CARRIER_SYSV_MQ,
    .summary = "System V message queue (msgget): mtype as priority, bounded in bytes (msgmnb)",
    .caps = IPC_CAP_THREADS | IPC_CAP_FORK | IPC_CAP_UNRELATED | IPC_CAP_MPMC | IPC_CAP_PRIORITY
          | IPC_CAP_FIFO | IPC_CAP_CLOSE_WAKES,
    .max_msg_limit = IPC_KERNEL_MAX_MSG, .default_max_msg = IPC_KERNEL_MAX_MSG, .default_capacity = 0,
    .wait_strategy = "kernel block (receive forever), else IPC_NOWAIT + sleeps 20us..1ms",
    .ops = &sysv_mq_ops,
};
