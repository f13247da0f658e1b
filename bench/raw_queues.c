/*
 * raw_queues.c — the raw baselines of the queue mechanisms.
 *
 *   raw:condvar   the textbook monitor with nothing around it: a ring of 64
 *                 fixed slots, one mutex, two condition variables, in a
 *                 MAP_SHARED mapping with PTHREAD_PROCESS_SHARED attributes
 *                 so the same code serves threads and forked processes (the
 *                 counterpart of queue/lifo/priority and of procq).  No
 *                 robustness, no shutdown, no timeouts: what ipcplay adds
 *                 on top of these calls is what the ratio measures.
 *   raw:posix_mq  mq_open / mq_send / mq_receive, blocking.
 *   raw:sysv_mq   msgget(IPC_PRIVATE) / msgsnd / msgrcv, blocking.
 *
 * Named objects are unlinked at once (the open descriptor keeps a POSIX
 * queue alive and is inherited by fork) or removed by their creator
 * (IPC_RMID), so a killed benchmark leaves nothing behind.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <unistd.h>

/* ---- raw:condvar ---------------------------------------------------------- */

#define RING_SLOTS 64

typedef struct ring {
    pthread_mutex_t lock;
    pthread_cond_t  not_empty, not_full;
    size_t          head, count, slot_size;
    _Alignas(64) unsigned char slots[]; /* RING_SLOTS x (size_t len + payload) */
} ring;

typedef struct raw_ring {
    bench_chan base;
    ring      *r;
    size_t     mapped;
} raw_ring;

static unsigned char *slot_at(ring *r, size_t i)
{
    return r->slots + (i % RING_SLOTS) * r->slot_size;
}

static int ring_send(bench_chan *c, const void *msg, size_t len)
{
    ring *r = ((raw_ring *)c)->r;
    pthread_mutex_lock(&r->lock);
    while (r->count == RING_SLOTS) pthread_cond_wait(&r->not_full, &r->lock);
    unsigned char *s = slot_at(r, r->head + r->count);
    memcpy(s, &len, sizeof len);
    memcpy(s + sizeof len, msg, len);
    r->count++;
    pthread_cond_signal(&r->not_empty);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static int ring_recv(bench_chan *c, void *buf, size_t cap, size_t *len)
{
    ring *r = ((raw_ring *)c)->r;
    pthread_mutex_lock(&r->lock);
    while (r->count == 0) pthread_cond_wait(&r->not_empty, &r->lock);
    unsigned char *s = slot_at(r, r->head);
    memcpy(len, s, sizeof *len);
    memcpy(buf, s + sizeof *len, *len < cap ? *len : cap);
    r->head = (r->head + 1) % RING_SLOTS;
    r->count--;
    pthread_cond_signal(&r->not_full);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

static void ring_free(bench_chan *c)
{
    raw_ring *rr = (raw_ring *)c;
    munmap(rr->r, rr->mapped); /* forked holders keep their own mapping */
    free(rr);
}

static int open_condvar(const bench_impl *impl, size_t max_msg, bench_chan **out)
{
    (void)impl;
    raw_ring *rr = malloc(sizeof *rr);
    if (!rr) return bench_fail_errno("malloc");
    size_t slot = (sizeof(size_t) + max_msg + 63) & ~(size_t)63;
    rr->mapped = sizeof(ring) + RING_SLOTS * slot;
    rr->r = mmap(NULL, rr->mapped, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (rr->r == MAP_FAILED) {
        bench_fail_errno("mmap(%zu)", rr->mapped);
        free(rr);
        return -1;
    }
    ring *r = rr->r;
    r->slot_size = slot;
    pthread_mutexattr_t ma;
    pthread_condattr_t ca;
    int err = pthread_mutexattr_init(&ma);
    if (!err) err = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    if (!err) err = pthread_mutex_init(&r->lock, &ma);
    if (!err) err = pthread_condattr_init(&ca);
    if (!err) err = pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    if (!err) err = pthread_cond_init(&r->not_empty, &ca);
    if (!err) err = pthread_cond_init(&r->not_full, &ca);
    if (err) {
        munmap(rr->r, rr->mapped);
        free(rr);
        errno = err;
        return bench_fail_errno("raw:condvar: pthread init");
    }
    rr->base = (bench_chan){ .send = ring_send, .recv = ring_recv, .free = ring_free };
    *out = &rr->base;
    return 0;
}

const bench_impl raw_condvar = {
    .name = "raw:condvar", .wait = "mutex+condvar",
    .about = "ring of 64 slots, one pthread mutex + two condvars (process-shared), nothing else",
    .caps = IPC_CAP_THREADS | IPC_CAP_FORK, .max_msg = (size_t)16 << 20, .open = open_condvar,
};

/* ---- raw:posix_mq ------------------------------------------------------- */

typedef struct raw_mq {
    bench_chan base;
    mqd_t      mq;
} raw_mq;

static int mq_send_raw(bench_chan *c, const void *msg, size_t len)
{
    while (mq_send(((raw_mq *)c)->mq, msg, len, 0) < 0)
        if (errno != EINTR) return bench_fail_errno("mq_send");
    return 0;
}

static int mq_recv_raw(bench_chan *c, void *buf, size_t cap, size_t *len)
{
    ssize_t n;
    while ((n = mq_receive(((raw_mq *)c)->mq, buf, cap, NULL)) < 0)
        if (errno != EINTR) return bench_fail_errno("mq_receive");
    *len = (size_t)n;
    return 0;
}

static void mq_free_raw(bench_chan *c)
{
    mq_close(((raw_mq *)c)->mq);
    free(c);
}

static long proc_limit(const char *path, long fallback)
{
    FILE *f = fopen(path, "r");
    long v = fallback;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1) v = fallback;
        fclose(f);
    }
    return v;
}

static int open_posix_mq(const bench_impl *impl, size_t max_msg, bench_chan **out)
{
    (void)impl;
    static atomic_uint counter;
    const char *prefix = getenv("IPCPLAY_NAME_PREFIX");
    char name[128];
    snprintf(name, sizeof name, "/%s.bench.%ld.%u", prefix && *prefix ? prefix : "ipcplay",
             (long)getpid(), atomic_fetch_add(&counter, 1));
    struct mq_attr attr = {
        .mq_maxmsg = proc_limit("/proc/sys/fs/mqueue/msg_max", 10),
        .mq_msgsize = (long)max_msg,
    };
    long size_max = proc_limit("/proc/sys/fs/mqueue/msgsize_max", 8192);
    if (attr.mq_msgsize > size_max)
        return bench_fail("mq_open: %zu-byte messages > /proc/sys/fs/mqueue/msgsize_max %ld", max_msg, size_max);
    raw_mq *m = malloc(sizeof *m);
    if (!m) return bench_fail_errno("malloc");
    m->mq = mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
    if (m->mq == (mqd_t)-1) {
        free(m);
        return bench_fail_errno("mq_open(%s, maxmsg %ld, msgsize %ld)", name, attr.mq_maxmsg, attr.mq_msgsize);
    }
    mq_unlink(name); /* the descriptor keeps the queue; no name is left behind */
    m->base = (bench_chan){ .send = mq_send_raw, .recv = mq_recv_raw, .free = mq_free_raw };
    *out = &m->base;
    return 0;
}

const bench_impl raw_posix_mq = {
    .name = "raw:posix_mq", .wait = "kernel block (mq_receive)",
    .about = "mq_open (msg_max slots), blocking mq_send/mq_receive",
    .caps = IPC_CAP_THREADS | IPC_CAP_FORK, .max_msg = 8192, .open = open_posix_mq,
};

/* ---- raw:sysv_mq -------------------------------------------------------- */

/* msgsnd/msgrcv take a struct { long mtype; char text[]; }: the payload is
 * copied into and out of one (the API leaves no other way), one buffer per
 * direction since the sender and the receiver may be two threads. */
typedef struct raw_sysv {
    bench_chan base;
    int        id;
    pid_t      owner;
    size_t     max;
    long      *sbuf, *rbuf;
} raw_sysv;

static int sysv_send(bench_chan *c, const void *msg, size_t len)
{
    raw_sysv *q = (raw_sysv *)c;
    q->sbuf[0] = 1; /* mtype must be > 0 */
    memcpy(q->sbuf + 1, msg, len);
    while (msgsnd(q->id, q->sbuf, len, 0) < 0)
        if (errno != EINTR) return bench_fail_errno("msgsnd");
    return 0;
}

static int sysv_recv(bench_chan *c, void *buf, size_t cap, size_t *len)
{
    raw_sysv *q = (raw_sysv *)c;
    ssize_t n;
    while ((n = msgrcv(q->id, q->rbuf, q->max, 0, 0)) < 0)
        if (errno != EINTR) return bench_fail_errno("msgrcv");
    *len = (size_t)n;
    memcpy(buf, q->rbuf + 1, *len < cap ? *len : cap);
    return 0;
}

static void sysv_free(bench_chan *c)
{
    raw_sysv *q = (raw_sysv *)c;
    if (getpid() == q->owner) msgctl(q->id, IPC_RMID, NULL);
    free(q->sbuf);
    free(q->rbuf);
    free(q);
}

static int open_sysv_mq(const bench_impl *impl, size_t max_msg, bench_chan **out)
{
    (void)impl;
    raw_sysv *q = calloc(1, sizeof *q);
    if (!q) return bench_fail_errno("calloc");
    q->max = max_msg;
    q->owner = getpid();
    q->sbuf = malloc(sizeof(long) + max_msg);
    q->rbuf = malloc(sizeof(long) + max_msg);
    if (!q->sbuf || !q->rbuf) {
        bench_fail_errno("malloc");
        goto fail;
    }
    if ((q->id = msgget(IPC_PRIVATE, IPC_CREAT | 0600)) < 0) {
        bench_fail_errno("msgget");
        goto fail;
    }
    q->base = (bench_chan){ .send = sysv_send, .recv = sysv_recv, .free = sysv_free };
    *out = &q->base;
    return 0;
fail:
    free(q->sbuf);
    free(q->rbuf);
    free(q);
    return -1;
}

const bench_impl raw_sysv_mq = {
    .name = "raw:sysv_mq", .wait = "kernel block (msgrcv)",
    .about = "msgget(IPC_PRIVATE), blocking msgsnd/msgrcv",
    .caps = IPC_CAP_THREADS | IPC_CAP_FORK, .max_msg = 8192, .open = open_sysv_mq,
};
