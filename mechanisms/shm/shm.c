/*
 * shm_ring.c — "shm" and "shm_spsc": a ring of message slots in shared
 * memory, used by several processes at once.
 *
 * The memory.  shm_open(3) creates a named object in /dev/shm (a tmpfs
 * file), ftruncate(2) gives it its size and mmap(2) with MAP_SHARED maps the
 * same physical pages into every process that opens the name.  An unrelated
 * process attaches by name (cfg.name with IPC_ATTACH; IPC_ATTACHABLE with no
 * name makes the creator generate one); a child made by fork() inherits the
 * mapping.  A private channel (no name) is an anonymous MAP_SHARED mapping:
 * fork is its only way in, and nothing can be left behind in /dev/shm.  The creator unlinks the name in ipc_free; the pages
 * live on until the last process unmaps them.
 *
 * The ring is spsc.c's ring, placed in that memory: indices on separate
 * cache lines, acquire/release ordering, spin then futex.  Its futexes are
 * "shared" ones (no FUTEX_PRIVATE_FLAG): the kernel keys them by physical
 * page, so a FUTEX_WAKE in one process wakes a FUTEX_WAIT in another.
 *
 * "shm_spsc" is that ring and nothing more: one sending process and one
 * receiving process at a time, no lock anywhere.
 *
 * "shm" makes it many-producer/many-consumer the simplest way that stays
 * correct: a two-lock queue (Michael & Scott 1996).  Senders take
 * send_lock, receivers take recv_lock, and the holder of each is the one
 * producer (consumer) the SPSC ring expects.  Senders never contend with
 * receivers, and no lock is held while waiting for room or data.  (So a
 * put_nowait, timeout 0, that finds another sender inside its memcpy waits
 * for that short copy, like Python's put_nowait takes the queue's mutex:
 * see ipc__lock_brief.  Only the wait for room is skipped.)
 *
 * A peer killed with a lock held.  Both locks are robust, process-shared
 * mutexes: the kernel marks a dead holder's mutex and the next locker gets
 * it (EOWNERDEAD, then pthread_mutex_consistent).  Is the ring still sane?
 * Within push and pop, the only writes other processes depend on are:
 *   - the slot's bytes (push): written BEFORE tail moves, into a slot no
 *     one reads until it does — a half-written slot is simply not there;
 *   - head_cache / tail_cache: always some earlier value of the real index,
 *     so at worst a later push/pop re-reads the index;
 *   - tail (push) or head (pop): one 64-bit atomic store, which either
 *     happened or did not.
 * So a sender that dies sent its message or did not; a receiver that dies
 * before its head store leaves the message for the next receiver.
 *
 * What it cannot tell: that the only peer on the other side has died.  A
 * receiver with no deadline then waits until someone sends or closes.
 */
#define _GNU_SOURCE
#include "core/stale.h" /* ipc__check_owner */
#include "shm/shm.h"
#include "engines/ring.h"

#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SHM_MAGIC 0x53484d31u /* "SHM1": change the digit when the layout changes */

/* The mapping, as every process sees it. */
typedef struct shm_segment {
    _Atomic uint32_t magic;     /* SHM_MAGIC, stored last by the creator      */
    uint32_t         mpmc;      /* 1: "shm" (locks in use), 0: "shm_spsc"     */
    uint64_t         size;      /* bytes in the mapping                       */
    uint64_t         max_msg;
    pthread_mutex_t  send_lock; /* "shm": the one producer of the moment      */
    pthread_mutex_t  recv_lock; /* "shm": the one consumer of the moment      */
    ipc_ring         ring;      /* last: its slots follow it                  */
} shm_segment;

/* This process's handle. */
typedef struct shm_chan {
    ipc_channel  base;
    shm_segment *seg;
    pid_t        unlinker;         /* the creator's pid: only it unlinks the name */
    char         name[NAME_MAX];   /* "/..." or "" for a private channel         */
} shm_chan;

static shm_chan *as_shm(ipc_channel *ch) { return (shm_chan *)ch; }

static pthread_mutex_t *lock_for(shm_segment *seg, pthread_mutex_t *m)
{
    return seg->mpmc ? m : NULL; /* shm_spsc: the ring alone */
}

/* ---- ops ------------------------------------------------------------------ */

static int shm_send(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    shm_segment *seg = as_shm(ch)->seg;
    return ipc__ring_send(ch, &seg->ring, lock_for(seg, &seg->send_lock), msg, len, prio, d);
}

static int shm_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    shm_segment *seg = as_shm(ch)->seg;
    return ipc__ring_recv(ch, &seg->ring, lock_for(seg, &seg->recv_lock), buf, cap, len, prio, d);
}

static int shm_close(ipc_channel *ch) { return ipc__ring_close(&as_shm(ch)->seg->ring); }

static long shm_depth(const ipc_channel *ch) { return ipc__ring_depth(&((const shm_chan *)ch)->seg->ring); }

static void shm_free(ipc_channel *ch)
{
    shm_chan *c = as_shm(ch);
    /* No pthread_mutex_destroy: other processes may still be using them. */
    munmap(c->seg, c->seg->size);
    /* The creator unlinks, not its children: a forked child that frees its
     * copy of the handle must not pull the name from under the parent. */
    if (c->name[0] && c->unlinker == getpid()) shm_unlink(c->name);
    free(c);
}

/* ---- open: create or attach ---------------------------------------------- */

/* shm_open wants "/name" with no other slash; accept "name" too. */
static int set_name(shm_chan *c, const char *name)
{
    const char *bare = name[0] == '/' ? name + 1 : name;
    if (!bare[0] || strchr(bare, '/'))
        return ipc__fail(IPC_EINVAL, "shm: name '%s' must be \"/word\" with no other '/'", name);
    int n = snprintf(c->name, sizeof c->name, "/%s", bare);
    if (n < 0 || (size_t)n >= sizeof c->name)
        return ipc__fail(IPC_EINVAL, "shm: name '%s' is longer than %d bytes", name, NAME_MAX - 2);
    return IPC_OK;
}

static int create(shm_chan *c, const ipc_config *cfg, bool mpmc)
{
    size_t ring = ipc__ring_size(cfg->capacity, cfg->max_msg);
    if (ring == 0)
        return ipc__fail(IPC_EINVAL, "shm: capacity %zu x max_msg %zu exceeds 1 GiB",
                         cfg->capacity, cfg->max_msg);
    size_t size = offsetof(shm_segment, ring) + ring;

    shm_segment *seg;
    if (cfg->name || (cfg->flags & IPC_ATTACHABLE)) {
        int rc = cfg->name ? set_name(c, cfg->name) : ipc__unique_name(c->name, sizeof c->name, "/", NULL);
        if (rc != IPC_OK) return rc;
        int fd = shm_open(c->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) return ipc__fail(IPC_ESYS, "shm_open(%s)", c->name);
        if (ftruncate(fd, (off_t)size) < 0) {
            rc = ipc__fail(IPC_ESYS, "ftruncate(%s, %zu)", c->name, size);
            shm_unlink(c->name);
            close(fd);
            return rc;
        }
        seg = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (seg == MAP_FAILED) {
            rc = ipc__fail(IPC_ESYS, "mmap(%s, %zu)", c->name, size);
            shm_unlink(c->name);
            close(fd);
            return rc;
        }
        close(fd); /* the mapping keeps the object alive */
        c->unlinker = getpid();
    } else {
        seg = ipc__shared_alloc(size);
        if (!seg) return IPC_ESYS;
    }

    /* The new pages are zero: only the non-zero fields need setting. */
    seg->mpmc = mpmc;
    seg->size = size;
    seg->max_msg = cfg->max_msg;
    ipc__ring_init(&seg->ring, cfg->capacity, cfg->max_msg, true);
    int rc = IPC_OK;
    if (mpmc) rc = ipc__shared_mutex_init(&seg->send_lock);
    if (mpmc && rc == IPC_OK) rc = ipc__shared_mutex_init(&seg->recv_lock);
    if (rc != IPC_OK) {
        munmap(seg, size);
        if (c->name[0]) shm_unlink(c->name);
        return rc;
    }
    /* RELEASE, last: an attacher that sees the magic sees everything above. */
    atomic_store_explicit(&seg->magic, SHM_MAGIC, memory_order_release);
    c->seg = seg;
    return IPC_OK;
}

/* Between the creator's shm_open and its magic store an attacher can see an
 * empty or half-initialised object: give the creator a moment (1 s). */
static bool settle(bool (*done)(const void *), const void *arg)
{
    struct timespec tick = { .tv_sec = 0, .tv_nsec = 1000000 };
    for (int i = 0; i < 1000; i++) {
        if (done(arg)) return true;
        nanosleep(&tick, NULL);
    }
    return done(arg);
}

static bool sized(const void *fd)
{
    struct stat st;
    return fstat(*(const int *)fd, &st) == 0 && (size_t)st.st_size >= sizeof(shm_segment);
}

static bool initialised(const void *seg)
{
    /* ACQUIRE: pairs with the creator's RELEASE store of the magic. */
    return atomic_load_explicit(&((const shm_segment *)seg)->magic, memory_order_acquire) == SHM_MAGIC;
}

static int attach(shm_chan *c, const char *name, bool mpmc)
{
    int rc = set_name(c, name);
    if (rc != IPC_OK) return rc;
    int fd = shm_open(c->name, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) return ipc__fail(IPC_ESYS, "shm_open(%s) to attach", c->name);
    struct stat st;
    if (!settle(sized, &fd) || fstat(fd, &st) < 0) {
        close(fd);
        return ipc__fail(IPC_EINVAL, "shm: %s is not an ipcplay ring (too small)", c->name);
    }
    if ((rc = ipc__check_owner(st.st_uid, c->name)) != IPC_OK) {
        close(fd);
        return rc;
    }
    size_t size = (size_t)st.st_size;
    shm_segment *seg = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (seg == MAP_FAILED) {
        rc = ipc__fail(IPC_ESYS, "mmap(%s, %zu)", c->name, size);
        close(fd);
        return rc;
    }
    close(fd);
    if (!settle(initialised, seg) || seg->size != size) {
        munmap(seg, size);
        return ipc__fail(IPC_EINVAL, "shm: %s is not an ipcplay ring of this version", c->name);
    }
    if (seg->mpmc != mpmc) {
        munmap(seg, size);
        return ipc__fail(IPC_EINVAL, "shm: %s is a %s ring", c->name, mpmc ? "shm_spsc" : "shm");
    }
    c->seg = seg;
    c->unlinker = 0; /* an attacher never unlinks */
    c->base.capacity = seg->ring.capacity;
    c->base.max_msg = seg->max_msg;
    return IPC_OK;
}

extern const ipc_mechanism ipc_mech_shm;

static int shm_open_op(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out)
{
    if (cfg->endpoint) return ipc__fail(IPC_EINVAL, "%s: shared memory has no endpoint", m->name);
    if (cfg->order != IPC_FIFO) return ipc__fail(IPC_EINVAL, "%s: a ring is FIFO only", m->name);
    shm_chan *c = ipc__channel_alloc(sizeof *c, m, cfg);
    if (!c) return IPC_ESYS;
    bool mpmc = m == &ipc_mech_shm;
    int rc = (cfg->flags & IPC_ATTACH) ? attach(c, cfg->name, mpmc) : create(c, cfg, mpmc);
    if (rc != IPC_OK) {
        free(c);
        return rc;
    }
    *out = &c->base;
    return IPC_OK;
}

static int shm_attach_config(const ipc_channel *ch, ipc_config *cfg)
{
    const shm_chan *c = (const shm_chan *)ch;
    cfg->name = c->name[0] ? c->name : NULL; /* "": anonymous, fork() only */
    return IPC_OK;
}

static const struct ipc_ops shm_ops = {
    .open = shm_open_op, .send = shm_send, .recv = shm_recv, .close = shm_close,
    .free = shm_free, .pollfd = NULL, .depth = shm_depth, .attach_config = shm_attach_config,
};

#define SHM_CAPS (IPC_CAP_THREADS | IPC_CAP_FORK | IPC_CAP_UNRELATED | IPC_CAP_BOUNDED \
                  | IPC_CAP_FIFO | IPC_CAP_CLOSE_WAKES)

const ipc_mechanism ipc_mech_shm = {
    .name = "shm", .family = "shm",
    .summary = "shared-memory ring across processes, MPMC (a robust lock per side)",
    .caps = SHM_CAPS | IPC_CAP_MPMC,
    .max_msg_limit = 16u << 20, .default_max_msg = 64 * 1024, .default_capacity = 64,
    .wait_strategy = IPC_RING_WAIT_STRATEGY, .ops = &shm_ops,
    .waits = IPC_WAIT_BIT(IPC_WAIT_ADAPTIVE), .wait_default = IPC_WAIT_ADAPTIVE,
};

const ipc_mechanism ipc_mech_shm_spsc = {
    .name = "shm_spsc", .family = "shm",
    .summary = "shared-memory ring across processes, one sender and one receiver, lock-free",
    .caps = SHM_CAPS,
    .max_msg_limit = 16u << 20, .default_max_msg = 64 * 1024, .default_capacity = 64,
    .wait_strategy = IPC_RING_WAIT_STRATEGY, .ops = &shm_ops,
    .waits = IPC_WAIT_BIT(IPC_WAIT_ADAPTIVE), .wait_default = IPC_WAIT_ADAPTIVE,
};

/* ---- extras (shm.h) ------------------------------------------------------ */

const char *ipc_shm_name(const ipc_channel *ch)
{
    const ipc_mechanism *m = ipc_channel_mechanism(ch);
    if (!m || m->ops != &shm_ops) return NULL;
    const shm_chan *c = (const shm_chan *)ch;
    return c->name[0] ? c->name : NULL;
}

void ipc_shm_set_lock_hook(ipc_shm_lock_hook fn) { ipc__ring_lock_hook = fn; }
