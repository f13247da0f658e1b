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
 *                read buffer, shut flag): a core/segment.h segment tagged
 *                with the FIFO's identity, named
 *                "/<prefix>.<pid>.<n>.fifo.<st_dev>.<st_ino>".  fork()
 *                children inherit the mapping; an attacher fstat(2)s the
 *                FIFO it opened and finds the state by that tag
 *                (ipc__segment_find lists /dev/shm), whatever path it used.
 *                The owner's pid in the name lets the stale sweep and
 *                ipcplay-clean remove it once the owner is killed (issue 12,
 *                defect 10).  The prefix is $IPCPLAY_NAME_PREFIX (default
 *                "ipcplay"), so an attacher must run with the owner's prefix;
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
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    ipc_segment seg;            /* the state (core/segment.h: creator unlinks) */
    fifo_state *state;          /* seg.addr                                    */
    pid_t       owner;          /* the creating process (0 in an attacher)     */
    bool        made_fifo, made_shut;
    char        path[PATH_MAX];
    char        dir[PATH_MAX];  /* owner: private directory (holds "shut")     */
} fifo_chan;

extern const ipc_mechanism ipc_mech_fifo;

/* Everything this handle holds; the owner also removes the names.  errno
 * is kept: after a failed open it is the failing call's. */
static void fifo_release(fifo_chan *f)
{
    int saved = errno;
    ipc__stream_destroy(&f->s);
    ipc__segment_release(&f->seg); /* unlinks in the creating process only */
    /* A fork()ed child holds a copy of the owner's handle: only the process
     * that created the names removes them. */
    if (f->owner == getpid()) {
        if (f->made_fifo) unlink(f->path);
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

/* The state's tag comes from the FIFO's identity, which the owner and
 * every attacher can read with fstat(2), whatever path they used. */
static int state_tag(const fifo_chan *f, char *tag, size_t size)
{
    struct stat st;
    if (fstat(f->s.rfd, &st) < 0) return ipc__fail(IPC_ESYS, "fifo: fstat('%s')", f->path);
    snprintf(tag, size, ".fifo.%llx.%llx", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    return IPC_OK;
}

/* The FIFO's inode is brand new, so an older state tagged with it can only
 * be a killed owner's, of an earlier inode: core/segment replaces it. */
static int create_state(fifo_chan *f)
{
    char tag[64];
    int rc = state_tag(f, tag, sizeof tag);
    if (rc == IPC_OK) rc = ipc__segment_create(&f->seg, tag, sizeof *f->state, IPC_SEGMENT_TAGGED);
    if (rc != IPC_OK) return rc;
    f->state = f->seg.addr;
    return ipc__stream_shared_init(&f->state->stream);
}

static int attach_state(fifo_chan *f)
{
    char tag[64], name[NAME_MAX + 1];
    int rc = state_tag(f, tag, sizeof tag);
    if (rc != IPC_OK) return rc;
    if ((rc = ipc__segment_find(name, sizeof name, tag)) == IPC_ESYS) /* errno ENOENT: none */
        return ipc__fail(rc, "fifo: no channel state <prefix>.<pid>.<n>%s for '%s' (not an ipcplay fifo, its "
                         "owner is gone, or $IPCPLAY_NAME_PREFIX differs from the owner's '%s')", tag, f->path,
                         ipc__name_prefix());
    if (rc != IPC_OK) return rc;
    rc = ipc__segment_attach(&f->seg, name, sizeof *f->state, offsetof(fifo_state, magic), FIFO_MAGIC);
    if (rc == IPC_OK) f->state = f->seg.addr;
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
    ipc__segment_ready(&st->magic, FIFO_MAGIC);
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
    if (ipc_channel_mechanism(ch) != &ipc_mech_fifo)
        return ipc__fail(IPC_EINVAL, "ipc_fifo_path: not a fifo channel"), NULL;
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
    .family_id = IPC_FAMILY_PIPES, .carrier = IPC_CARRIER_PIPE,
    .summary = "named pipe (mkfifo), length-prefixed frames; unrelated processes attach by path",
    .caps = IPC_CAP_THREADS | IPC_CAP_FORK | IPC_CAP_UNRELATED | IPC_CAP_MPMC | IPC_CAP_FIFO
          | IPC_CAP_POLL | IPC_CAP_CLOSE_WAKES,
    .max_msg_limit = IPC_STREAM_MAX_MSG, .default_max_msg = 1 << 20, .default_capacity = 0,
    .wait_strategy = "kernel block (poll)", .ops = &fifo_ops,
    .waits = IPC_WAITS_ALL, .wait_default = IPC_WAIT_BLOCK,
};
