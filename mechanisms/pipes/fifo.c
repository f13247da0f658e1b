/*
 * fifo.c — the named pipe: a pipe with a name in the file system.
 *
 * mkfifo(3) makes a special file; every process that open(2)s it gets the
 * same kernel pipe buffer as if it had inherited both ends of pipe(2).  So
 * an unrelated process — one started from another shell — can join the
 * channel by path, which an anonymous pipe cannot do.  The bytes behave
 * exactly like a pipe's: PIPE_BUF atomicity, 64 KiB of kernel buffer.
 * Framing, the locks and the shared read buffer are stream.c's.
 *
 * Three names make one channel, all created 0600 by the owner and removed by
 * it in ipc_free (attachers never unlink):
 *
 *   the FIFO     cfg->name, or "fifo" in a private mkdtemp directory;
 *   the state    a POSIX shm object holding stream.c's shared part (locks,
 *                read buffer, shut flag).  fork() children inherit the
 *                mapping; an attacher finds it by a name derived from the
 *                FIFO's identity: "/<prefix>.fifo.<st_dev>.<st_ino>".  The
 *                prefix is $IPCPLAY_NAME_PREFIX (default "ipcplay"), so an
 *                attacher must run with the owner's prefix;
 *   shut         a second FIFO in the owner's private directory, the
 *                shut-down signal.  stream.c wakes blocked callers by making
 *                an eventfd readable, but an eventfd only reaches processes
 *                that inherit it.  A FIFO reaches anyone who can open it:
 *                ipc_close writes a few bytes that nobody ever reads, so it
 *                stays readable, and every holder polls it beside the data
 *                FIFO.  So close wakes unrelated attachers too, without
 *                polling on a timer.
 *
 * Why every open is O_RDWR.  POSIX leaves O_RDWR on a FIFO undefined; Linux
 * defines it usefully: the open never blocks, and the opener counts as a
 * reader and a writer at once.  With O_RDONLY/O_WRONLY instead, open blocks
 * until the other side appears (or O_NONBLOCK writers fail with ENXIO), a
 * reader sees end-of-file as soon as the last writer closes (and then polls
 * readable forever), and a writer dies of SIGPIPE when the last reader goes.
 * A channel is a queue that any holder may read and write, so each holder
 * simply holds both.  The price: no end-of-file ever tells a receiver that
 * every sender is gone — it waits for its deadline (or for close) instead.
 */
#define _GNU_SOURCE
#include "core/stale.h" /* ipc__check_owner */
#include "pipes/fifo.h"
#include "named.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIFO_MAGIC 0xF1F0C4A7u

/* The part every holder shares, in the shm object. */
typedef struct fifo_state {
    ipc_stream_shared stream;   /* stream.c's locks, read buffer and shut flag */
    _Atomic uint32_t  magic;    /* FIFO_MAGIC once the owner has filled it in  */
    uint64_t          max_msg;  /* the owner's limit: attachers adopt it       */
    char              shut_path[PATH_MAX];
} fifo_state;

typedef struct fifo_chan {
    ipc_stream  s;              /* rfd == wfd: the FIFO opened O_RDWR          */
    fifo_state *state;
    pid_t       owner;          /* the creating process (0 in an attacher)     */
    bool        made_fifo, made_shm, made_shut;
    char        path[PATH_MAX];
    char        shm_name[NAME_MAX];
    char        dir[PATH_MAX];  /* owner: private directory (holds "shut")     */
} fifo_chan;

extern const ipc_mechanism ipc_mech_fifo;

/* Everything this handle holds; the owner also removes the names.  errno
 * is kept: after a failed open it is the failing call's. */
static void fifo_release(fifo_chan *f)
{
    int saved = errno;
    ipc__stream_destroy(&f->s);
    if (f->state) munmap(f->state, sizeof *f->state);
    /* A fork()ed child holds a copy of the owner's handle: only the process
     * that created the names removes them. */
    if (f->owner == getpid()) {
        if (f->made_fifo) unlink(f->path);
        if (f->made_shm) shm_unlink(f->shm_name);
        if (f->made_shut) {
            char shut[PATH_MAX];
            if (ipc__named_path(shut, sizeof shut, f->dir, "shut", "fifo") == IPC_OK) unlink(shut);
        }
        if (f->dir[0]) rmdir(f->dir);
    }
    free(f);
    errno = saved;
}

static void fifo_free(ipc_channel *ch) { fifo_release((fifo_chan *)ch); }

/* open(2) a FIFO for reading and writing without blocking (see the top). */
static int open_fifo(const char *path, int *fd)
{
    *fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (*fd < 0) return ipc__fail(IPC_ESYS, "fifo: open('%s')", path);
    struct stat st;
    if (fstat(*fd, &st) < 0) return ipc__fail(IPC_ESYS, "fifo: fstat('%s')", path);
    if (!S_ISFIFO(st.st_mode)) return ipc__fail(IPC_EINVAL, "fifo: '%s' is not a FIFO", path);
    return ipc__check_owner(st.st_uid, path);
}

/* The state's shm name comes from the FIFO's identity, which the owner and
 * every attacher can read with fstat(2), whatever path they used. */
static int state_name(fifo_chan *f)
{
    struct stat st;
    if (fstat(f->s.rfd, &st) < 0) return ipc__fail(IPC_ESYS, "fifo: fstat('%s')", f->path);
    int n = snprintf(f->shm_name, sizeof f->shm_name, "/%s.fifo.%llx.%llx", ipc__name_prefix(),
                     (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    if (n < 0 || (size_t)n >= sizeof f->shm_name)
        return ipc__fail(IPC_EINVAL, "fifo: $IPCPLAY_NAME_PREFIX is too long for a shm name");
    return IPC_OK;
}

static int map_state(fifo_chan *f, int shm_fd)
{
    void *p = mmap(NULL, sizeof *f->state, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0);
    if (p == MAP_FAILED) return ipc__fail(IPC_ESYS, "fifo: mmap(%s)", f->shm_name);
    f->state = p;
    return IPC_OK;
}

static int create_state(fifo_chan *f)
{
    int rc = state_name(f);
    if (rc != IPC_OK) return rc;
    int fd = shm_open(f->shm_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
        /* The FIFO's inode is brand new, so an object named after it can
         * only be left over by a dead owner of an earlier inode: replace it. */
        shm_unlink(f->shm_name);
        fd = shm_open(f->shm_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
    if (fd < 0) return ipc__fail(IPC_ESYS, "fifo: shm_open('%s')", f->shm_name);
    f->made_shm = true;
    if (ftruncate(fd, sizeof *f->state) < 0) rc = ipc__fail(IPC_ESYS, "fifo: ftruncate(%s)", f->shm_name);
    if (rc == IPC_OK) rc = map_state(f, fd);
    close(fd);
    if (rc == IPC_OK) rc = ipc__stream_shared_init(&f->state->stream);
    return rc;
}

static int attach_state(fifo_chan *f)
{
    int rc = state_name(f);
    if (rc != IPC_OK) return rc;
    int fd = shm_open(f->shm_name, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return ipc__fail(IPC_ESYS, "fifo: no channel state %s for '%s' (not an ipcplay fifo, its owner "
                         "is gone, or $IPCPLAY_NAME_PREFIX differs from the owner's): shm_open",
                         f->shm_name, f->path);
    struct stat st;
    if (fstat(fd, &st) < 0) rc = ipc__fail(IPC_ESYS, "fifo: fstat(%s)", f->shm_name);
    else if ((size_t)st.st_size < sizeof *f->state)
        rc = ipc__fail(IPC_EINVAL, "fifo: %s is not ready yet (its owner is still opening it)", f->shm_name);
    if (rc == IPC_OK) rc = map_state(f, fd);
    close(fd);
    if (rc == IPC_OK && atomic_load_explicit(&f->state->magic, memory_order_acquire) != FIFO_MAGIC)
        rc = ipc__fail(IPC_EINVAL, "fifo: %s is not ready yet (its owner is still opening it)", f->shm_name);
    return rc;
}

static int owner_open(fifo_chan *f, const ipc_config *cfg)
{
    int rc = ipc__named_tempdir(f->dir, sizeof f->dir, "fifo");
    if (rc != IPC_OK) return rc;
    if (cfg->name) snprintf(f->path, sizeof f->path, "%s", cfg->name); /* length checked by the caller */
    else if ((rc = ipc__named_path(f->path, sizeof f->path, f->dir, "fifo", "fifo")) != IPC_OK) return rc;
    if (mkfifo(f->path, 0600) < 0) return ipc__fail(IPC_ESYS, "fifo: mkfifo('%s')", f->path);
    f->made_fifo = true;
    int fd;
    rc = open_fifo(f->path, &fd);
    f->s.rfd = f->s.wfd = fd;
    if (rc == IPC_OK) rc = create_state(f);
    if (rc != IPC_OK) return rc;

    fifo_state *st = f->state;
    st->max_msg = f->s.base.max_msg;
    if ((rc = ipc__named_path(st->shut_path, sizeof st->shut_path, f->dir, "shut", "fifo")) != IPC_OK) return rc;
    if (mkfifo(st->shut_path, 0600) < 0) return ipc__fail(IPC_ESYS, "fifo: mkfifo('%s')", st->shut_path);
    f->made_shut = true;
    int shut_fd;
    rc = open_fifo(st->shut_path, &shut_fd);
    if (shut_fd < 0) return rc;
    if (rc == IPC_OK) rc = ipc__stream_init(&f->s, fd, fd, false, &st->stream);
    ipc__named_adopt_shut_fd(&f->s, shut_fd);
    if (rc != IPC_OK) return rc;
    /* Publish: an attacher that sees the magic sees everything above. */
    atomic_store_explicit(&st->magic, FIFO_MAGIC, memory_order_release);
    return IPC_OK;
}

static int attacher_open(fifo_chan *f, const ipc_config *cfg)
{
    snprintf(f->path, sizeof f->path, "%s", cfg->name);
    int fd;
    int rc = open_fifo(f->path, &fd);
    f->s.rfd = f->s.wfd = fd;
    if (rc == IPC_OK) rc = attach_state(f);
    if (rc != IPC_OK) return rc;
    char shut_path[PATH_MAX];
    memcpy(shut_path, f->state->shut_path, sizeof shut_path);
    shut_path[sizeof shut_path - 1] = '\0'; /* shared memory: trust nothing */
    int shut_fd;
    rc = open_fifo(shut_path, &shut_fd);
    if (shut_fd < 0) return rc;
    if (rc == IPC_OK) rc = ipc__stream_init(&f->s, fd, fd, false, &f->state->stream);
    ipc__named_adopt_shut_fd(&f->s, shut_fd);
    f->s.base.max_msg = f->state->max_msg; /* the channel's limit is the owner's */
    return rc;
}

static int fifo_open(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out)
{
    bool attach = cfg->flags & IPC_ATTACH;
    if (cfg->endpoint) return ipc__fail(IPC_EINVAL, "fifo: takes a path in cfg->name, not an endpoint");
    if (cfg->name && (!*cfg->name || strlen(cfg->name) >= PATH_MAX))
        return ipc__fail(IPC_EINVAL, "fifo: path of %zu bytes (must be 1..%d)", strlen(cfg->name), PATH_MAX - 1);
    fifo_chan *f = ipc__channel_alloc(sizeof *f, m, cfg);
    if (!f) return IPC_ESYS;
    f->s.rfd = f->s.wfd = f->s.shut_fd = -1;
    if (!attach) f->owner = getpid();
    int rc = attach ? attacher_open(f, cfg) : owner_open(f, cfg);
    if (rc != IPC_OK) {
        fifo_release(f);
        return rc;
    }
    *out = &f->s.base;
    return IPC_OK;
}

const char *ipc_fifo_path(const ipc_channel *ch)
{
    if (ipc_channel_mechanism(ch) != &ipc_mech_fifo) return NULL;
    return ((const fifo_chan *)ch)->path;
}

/* Every fifo channel has a path (generated if cfg->name was NULL). */
static int fifo_attach_config(const ipc_channel *ch, ipc_config *cfg)
{
    cfg->name = ((const fifo_chan *)ch)->path;
    return IPC_OK;
}

static const struct ipc_ops fifo_ops = {
    .open = fifo_open, .send = ipc__stream_send, .recv = ipc__stream_recv,
    .close = ipc__stream_close, .free = fifo_free, .pollfd = ipc__stream_pollfd,
    .depth = NULL, /* like a pipe: bytes are known (FIONREAD), messages are not */
    .attach_config = fifo_attach_config,
};

const ipc_mechanism ipc_mech_fifo = {
    .name = "fifo", .family = "pipes",
    .summary = "named pipe (mkfifo), length-prefixed frames; unrelated processes attach by path",
    .caps = IPC_CAP_THREADS | IPC_CAP_FORK | IPC_CAP_UNRELATED | IPC_CAP_MPMC | IPC_CAP_FIFO
          | IPC_CAP_POLL | IPC_CAP_CLOSE_WAKES,
    .max_msg_limit = IPC_STREAM_MAX_MSG, .default_max_msg = 1 << 20, .default_capacity = 0,
    .wait_strategy = "kernel block (poll)", .ops = &fifo_ops,
    .waits = IPC_WAITS_ALL, .wait_default = IPC_WAIT_BLOCK,
};
