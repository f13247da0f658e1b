/*
 * unix.c — Unix domain sockets, in three flavours:
 *
 *   "unix"            SOCK_STREAM: a byte stream, so messages are framed by
 *                     stream.c exactly as on a pipe (but no PIPE_BUF
 *                     atomicity: every sender takes the write lock);
 *   "unix_seqpacket"  SOCK_SEQPACKET: the kernel keeps each send(2) as one
 *                     record, in order, reliably — no framing at all;
 *   "unix_dgram"      SOCK_DGRAM: the same with datagrams (on a Unix socket
 *                     they are reliable and ordered too, unlike UDP).
 *
 * The data path is a socketpair(2) of that type: sends go into one end,
 * receives come out of the other, and every holder holds both ends, so a
 * handle works alone, across threads and across fork() (like "socketpair").
 *
 * The name is only a door.  With cfg->name (or IPC_ATTACHABLE: a generated
 * path in a private temporary directory) the owner also binds a listening
 * stream socket at that path.  Unix sockets can carry open file descriptors
 * (SCM_RIGHTS), so a small thread in the owner accepts each caller at the
 * door and hands it the very kernel objects a fork() child would inherit:
 * both ends of the pair, the shut-down eventfd and the memfd that holds the
 * shared state (locks, stream buffer) — and hangs up.  From then on the
 * attacher is a full holder: it sends, receives, and ipc_close wakes it, and
 * nothing passes through the owner.  Without either the channel is
 * private: no door, no thread, reachable by inheritance only.  As with a
 * pipe whose holders all keep the write end, no end-of-file ever tells a
 * receiver that every sender is gone (it holds a send end itself): it waits
 * for its deadline, or for ipc_close.
 *
 * Message sockets — limits and the EMSGSIZE rule:
 *   - One message must fit the sender's SO_SNDBUF whole (the kernel answers
 *     EMSGSIZE above about sndbuf - 32 bytes).  The default max_msg, 64 KiB,
 *     fits the default buffer; a larger max_msg grows SO_SNDBUF at open, up
 *     to net.core.wmem_max (the kernel doubles the request), or ipc_open
 *     fails with IPC_EINVAL saying so.
 *   - Capacity is in bytes of kernel memory, not in messages: each queued
 *     message costs its size plus a few hundred bytes of bookkeeping.
 *   - recv(2) into too small a buffer silently drops the rest of the
 *     message (MSG_TRUNC).  To keep IPC_EMSGSIZE lossless, a receive whose
 *     buffer is smaller than max_msg first asks the size with
 *     recv(MSG_PEEK|MSG_TRUNC), which returns the full length and takes
 *     nothing.  Peek-then-take is two calls, so receivers take the shared
 *     read lock; with a buffer of max_msg bytes it is one recv(2).
 *   - A zero-length message is a real, empty record here (on a stream
 *     socket a 0 from recv would mean end-of-file).
 */
#define _GNU_SOURCE
#include "core/stale.h" /* ipc__check_owner */
#include "pipes/unix.h"
#include "named.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define UNIX_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)
#define MSG_SOCK_LIMIT ((size_t)4 << 20) /* and net.core.wmem_max decides */

typedef struct unix_chan {
    ipc_stream s;          /* rfd/wfd: the pair's two ends; shared: in the memfd */
    int        type;       /* SOCK_STREAM, SOCK_SEQPACKET or SOCK_DGRAM          */
    int        state_fd;   /* memfd holding s.shared: passed to attachers        */
    int        door_fd;    /* owner of a named channel: listening at path        */
    ipc_helper door;       /* owner: the thread answering at the door            */
    pid_t      owner;      /* the creating process (0: attacher or private)      */
    bool       made_path;
    char       path[UNIX_PATH_MAX];
    char       dir[UNIX_PATH_MAX]; /* owner, IPC_ATTACHABLE: the directory holding path */
} unix_chan;

extern const ipc_mechanism ipc_mech_unix, ipc_mech_unix_seqpacket, ipc_mech_unix_dgram;

/* Each descriptor's variant is its socket type. */
static int type_of(const ipc_mechanism *m) { return m->variant; }

static const char *mech_of(uint32_t type)
{
    return type == SOCK_SEQPACKET ? "unix_seqpacket" : type == SOCK_DGRAM ? "unix_dgram"
         : type == SOCK_STREAM ? "unix" : "unknown";
}

/* ---- message sockets: one send(2) is one message --------------------- */

static int msg_send(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    (void)prio; /* one queue, one order */
    ipc_stream *s = (ipc_stream *)ch;
    for (;;) {
        if (atomic_load(&s->shared->shut)) return ipc__fail(IPC_ECLOSED, "channel is shut down");
        /* "shut?" and the send under write_lock (held for this one
         * non-blocking call): close is linearizable against sends, as in
         * stream.c — msg_recv passes through the lock before "drained". */
        int r = ipc__lock_brief(&s->shared->write_lock, d, NULL);
        if (r == 1) return ipc__fail(IPC_EFULL, "another sender held the channel past the deadline");
        if (r < 0) return r;
        ssize_t n = -1;
        if (atomic_load(&s->shared->shut)) errno = ESHUTDOWN;
        else n = send(s->wfd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        int err = errno;
        pthread_mutex_unlock(&s->shared->write_lock);
        errno = err;
        if (n >= 0) return IPC_OK;
        if (errno == ESHUTDOWN) return ipc__fail(IPC_ECLOSED, "channel is shut down");
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            ipc__blocked(ch, IPC_EV_SEND_BLOCKED);
            int w = ipc__wait_fd(s->wfd, POLLOUT, s->shut_fd, d);
            if (w == 0) return ipc__fail(IPC_EFULL, "the socket's send buffer is full");
            if (w == IPC_ECLOSED) return ipc__fail(IPC_ECLOSED, "channel is shut down");
            if (w < 0) return w;
            continue;
        }
        if (errno == EPIPE || errno == ECONNRESET || errno == ECONNREFUSED)
            return ipc__fail(IPC_ECLOSED, "no receiver is left");
        if (errno == EMSGSIZE)
            return ipc__fail(IPC_EMSGSIZE, "%s: %zu bytes do not fit the socket's send buffer",
                             ch->mech->name, len);
        return ipc__fail(IPC_ESYS, "send");
    }
}

static int msg_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    ipc_stream *s = (ipc_stream *)ch;
    *prio = 0;
    /* read_lock makes the size peek and the take one step, so it is needed
     * only when the buffer may be too small; one recv(2) of a message that
     * fits is atomic by itself, and receivers then wait side by side in the
     * kernel.  (Holding the lock across the wait for every receiver let one
     * receiver stall the others: in creator storms, a survivor's receives all
     * answered "another receiver is waiting" with a full queue — issue 12.)
     * The kernel holds only whole messages, so a receiver that died with the
     * lock left nothing half done: just take the lock over. */
    bool locked = cap < ch->max_msg;
    int r = locked ? ipc__lock(&s->shared->read_lock, d, NULL) : 0;
    if (r == 1) return ipc__fail(IPC_EEMPTY, "another receiver is waiting on the channel");
    if (r < 0) return r;
    int rc;
    bool looked_again = false;
    for (;;) {
        ssize_t n = 0;
        if (cap < ch->max_msg) { /* might not fit: look at the size first */
            n = recv(s->rfd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
            if (n >= 0 && (size_t)n > cap) {
                *len = (size_t)n;
                rc = ipc__fail(IPC_EMSGSIZE, "message of %zd bytes does not fit a %zu-byte buffer", n, cap);
                break;
            }
        }
        if (n >= 0) n = recv(s->rfd, buf, cap, MSG_TRUNC | MSG_DONTWAIT);
        if (n >= 0) {
            *len = (size_t)n;
            rc = (size_t)n <= cap ? IPC_OK
               : ipc__fail(IPC_EMSGSIZE, "a %zd-byte message above max_msg was cut to %zu bytes "
                           "(its sender ignored the channel's limit)", n, cap);
            break;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) { rc = ipc__fail(IPC_ESYS, "recv"); break; }
        if (atomic_load(&s->shared->shut)) {
            /* A sender that saw "not shut" may have sent after our recv:
             * wait for it to leave write_lock, then look once more. */
            if (!looked_again) {
                if ((r = ipc__lock_brief(&s->shared->write_lock, &ipc__forever, NULL)) < 0) { rc = r; break; }
                pthread_mutex_unlock(&s->shared->write_lock);
                looked_again = true;
                continue;
            }
            rc = ipc__fail(IPC_ECLOSED, "channel is shut down and drained");
            break;
        }
        ipc__blocked(ch, IPC_EV_RECV_BLOCKED);
        int w = ipc__wait_fd(s->rfd, POLLIN, s->shut_fd, d);
        if (w == 0) { rc = ipc__fail(IPC_EEMPTY, "channel is empty"); break; }
        if (w < 0 && w != IPC_ECLOSED) { rc = w; break; }
        /* readable, or shut down: look again (drain before ECLOSED) */
    }
    if (locked) pthread_mutex_unlock(&s->shared->read_lock);
    return rc;
}

/* A message must fit SO_SNDBUF whole: make room for max_msg (see the top). */
static int fit_sndbuf(int fd, size_t max_msg, const char *mech)
{
    size_t need = max_msg + 64; /* the kernel refuses len > sndbuf - 32 */
    int have = 0;
    socklen_t sl = sizeof have;
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &have, &sl) < 0) return ipc__fail(IPC_ESYS, "getsockopt(SO_SNDBUF)");
    if ((size_t)have >= need) return IPC_OK;
    int want = (int)need;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want) < 0)
        return ipc__fail(IPC_ESYS, "setsockopt(SO_SNDBUF, %d)", want);
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &have, &sl) < 0) return ipc__fail(IPC_ESYS, "getsockopt(SO_SNDBUF)");
    if ((size_t)have < need)
        return ipc__fail(IPC_EINVAL, "%s: max_msg %zu needs SO_SNDBUF >= %zu but the kernel allows %d "
                         "(raise net.core.wmem_max, or lower max_msg)", mech, max_msg, need, have);
    return IPC_OK;
}

/* ---- the door --------------------------------------------------------- */

static void *door_main(void *arg)
{
    unix_chan *u = arg;
    const ipc_hello hello = { .magic = IPC_HELLO_MAGIC, .kind = (uint32_t)u->type,
                              .max_msg = u->s.base.max_msg };
    const int fds[4] = { u->s.rfd, u->s.wfd, u->s.shut_fd, u->state_fd };
    struct pollfd p[2] = {
        { .fd = u->door.stop_fd, .events = POLLIN },
        { .fd = u->door_fd, .events = POLLIN },
    };
    for (;;) {
        if (poll(p, 2, -1) < 0 && errno != EINTR) break;
        if (p[0].revents) break; /* ipc_free: stop */
        if (!p[1].revents) continue;
        int c = accept4(u->door_fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            /* Out of fds or memory: the caller stays queued and the door
             * stays readable; pause instead of spinning on it. */
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                poll(p, 1, 50);
            continue;
        }
        /* A failure here reaches the attacher as a hang-up without hello. */
        ipc__hello_send(c, &hello, fds, 4);
        close(c);
    }
    return NULL;
}

/* Is a Unix socket at path still served?  (A refused connect means its
 * owner died without removing it.) */
static bool door_is_alive(const struct sockaddr_un *a)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return true; /* cannot tell: do not touch it */
    bool alive = connect(fd, (const struct sockaddr *)a, sizeof *a) == 0 || errno != ECONNREFUSED;
    close(fd);
    return alive;
}

static int open_door(unix_chan *u)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    memcpy(a.sun_path, u->path, strlen(u->path) + 1);
    u->door_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (u->door_fd < 0) return ipc__fail(IPC_ESYS, "socket(AF_UNIX)");
    int r = bind(u->door_fd, (struct sockaddr *)&a, sizeof a);
    struct stat st;
    if (r < 0 && errno == EADDRINUSE && lstat(u->path, &st) == 0 && S_ISSOCK(st.st_mode)
        && !door_is_alive(&a)) {
        unlink(u->path); /* a dead owner's leftover: take the name over */
        r = bind(u->door_fd, (struct sockaddr *)&a, sizeof a);
    }
    if (r < 0) return ipc__fail(IPC_ESYS, "%s: bind('%s')", u->s.base.mech->name, u->path);
    u->made_path = true;
    /* bind made the file with the umask's mode; nobody can connect before
     * listen(), so tightening it here leaves no window. */
    if (chmod(u->path, 0600) < 0) return ipc__fail(IPC_ESYS, "chmod('%s')", u->path);
    if (listen(u->door_fd, 64) < 0) return ipc__fail(IPC_ESYS, "listen('%s')", u->path);
    int rc = ipc__helper_init(&u->door);
    return rc == IPC_OK ? ipc__helper_start(&u->door, door_main, u) : rc;
}

/* ---- open ------------------------------------------------------------- */

static int map_state(unix_chan *u)
{
    void *p = mmap(NULL, sizeof(ipc_stream_shared), PROT_READ | PROT_WRITE, MAP_SHARED, u->state_fd, 0);
    if (p == MAP_FAILED) return ipc__fail(IPC_ESYS, "mmap(channel state)");
    u->s.shared = p;
    return IPC_OK;
}

static int owner_open(unix_chan *u, const ipc_config *cfg)
{
    int sv[2];
    if (socketpair(AF_UNIX, u->type | SOCK_CLOEXEC, 0, sv) < 0) return ipc__fail(IPC_ESYS, "socketpair");
    u->s.rfd = sv[1];
    u->s.wfd = sv[0];
    int rc = u->type == SOCK_STREAM ? IPC_OK : fit_sndbuf(u->s.wfd, u->s.base.max_msg, u->s.base.mech->name);
    if (rc != IPC_OK) return rc;
    /* The shared state lives in a memfd, so that it can be passed at the door. */
    u->state_fd = memfd_create("ipcplay-unix", MFD_CLOEXEC);
    if (u->state_fd < 0) return ipc__fail(IPC_ESYS, "memfd_create");
    if (ftruncate(u->state_fd, sizeof(ipc_stream_shared)) < 0) return ipc__fail(IPC_ESYS, "ftruncate(memfd)");
    if ((rc = map_state(u)) != IPC_OK || (rc = ipc__stream_shared_init(u->s.shared)) != IPC_OK) return rc;
    if ((rc = ipc__stream_init(&u->s, sv[1], sv[0], true, u->s.shared)) != IPC_OK) return rc;
    if (!cfg->name && !(cfg->flags & IPC_ATTACHABLE)) return IPC_OK; /* private */
    u->owner = getpid();
    if (cfg->name) snprintf(u->path, sizeof u->path, "%s", cfg->name);
    else if ((rc = ipc__named_tempdir(u->dir, sizeof u->dir, u->s.base.mech->name)) != IPC_OK
             || (rc = ipc__named_path(u->path, sizeof u->path, u->dir, "door", u->s.base.mech->name)) != IPC_OK)
        return rc;
    return open_door(u);
}

static int attacher_open(unix_chan *u, const ipc_config *cfg)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(u->path, sizeof u->path, "%s", cfg->name);
    memcpy(a.sun_path, u->path, strlen(u->path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return ipc__fail(IPC_ESYS, "socket(AF_UNIX)");
    ipc_deadline d;
    ipc__deadline_start(&d, IPC_ATTACH_TIMEOUT_MS);
    ipc_hello h;
    int fds[4];
    int rc = ipc__named_connect(fd, (struct sockaddr *)&a, sizeof a, &d);
    if (rc == IPC_ESYS) ipc__fail(IPC_ESYS, "%s: connect('%s')", u->s.base.mech->name, u->path);
    struct ucred peer;
    socklen_t plen = sizeof peer;
    if (rc == IPC_OK && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &plen) < 0)
        rc = ipc__fail(IPC_ESYS, "getsockopt(SO_PEERCRED)");
    if (rc == IPC_OK) rc = ipc__check_owner(peer.uid, u->path); /* the door's server */
    if (rc == IPC_OK) rc = ipc__hello_recv(fd, &h, fds, 4, &d);
    close(fd);
    if (rc != IPC_OK) return rc;
    u->s.rfd = fds[0];
    u->s.wfd = fds[1];
    u->state_fd = fds[3];
    int shut_fd = fds[2];
    if (h.kind != (uint32_t)u->type) {
        close(shut_fd);
        return ipc__fail(IPC_EINVAL, "%s: '%s' is a %s channel", u->s.base.mech->name, u->path, mech_of(h.kind));
    }
    if (ipc__hello_check(&h, (uint32_t)u->type, u->s.base.mech->max_msg_limit, u->s.base.mech->name) != IPC_OK) {
        close(shut_fd);
        return IPC_EINVAL;
    }
    rc = map_state(u);
    if (rc == IPC_OK) rc = ipc__stream_init(&u->s, fds[0], fds[1], true, u->s.shared);
    ipc__named_adopt_shut_fd(&u->s, shut_fd);
    u->s.base.max_msg = (size_t)h.max_msg; /* the channel's limit is the owner's */
    return rc;
}

/* Everything this handle holds (errno kept, as after a failed open). */
static void unix_release(unix_chan *u)
{
    int saved = errno;
    ipc__helper_stop(&u->door, 1000, NULL, NULL); /* before closing what it passes */
    if (u->door_fd >= 0) close(u->door_fd);
    if (u->owner == getpid()) { /* not a fork()ed copy */
        if (u->made_path) unlink(u->path);
        if (u->dir[0]) rmdir(u->dir);
    }
    if (u->s.shared) munmap(u->s.shared, sizeof(ipc_stream_shared));
    u->s.shared = NULL;
    ipc__stream_destroy(&u->s);
    if (u->state_fd >= 0) close(u->state_fd);
    free(u);
    errno = saved;
}

static void unix_free(ipc_channel *ch) { unix_release((unix_chan *)ch); }

static int unix_open(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out)
{
    bool attach = cfg->flags & IPC_ATTACH;
    if (cfg->endpoint) return ipc__fail(IPC_EINVAL, "%s: takes a path in cfg->name, not an endpoint", m->name);
    if (cfg->name && (!*cfg->name || strlen(cfg->name) >= UNIX_PATH_MAX))
        return ipc__fail(IPC_EINVAL, "%s: socket path of %zu bytes (must be 1..%zu: sun_path is %zu bytes)",
                         m->name, strlen(cfg->name), UNIX_PATH_MAX - 1, UNIX_PATH_MAX);
    unix_chan *u = ipc__channel_alloc(sizeof *u, m, cfg);
    if (!u) return IPC_ESYS;
    u->s.rfd = u->s.wfd = u->s.shut_fd = u->state_fd = u->door_fd = u->door.stop_fd = -1;
    u->type = type_of(m);
    int rc = attach ? attacher_open(u, cfg) : owner_open(u, cfg);
    if (rc != IPC_OK) {
        unix_release(u);
        return rc;
    }
    *out = &u->s.base;
    return IPC_OK;
}

const char *ipc_unix_path(const ipc_channel *ch)
{
    const ipc_mechanism *m = ipc_channel_mechanism(ch);
    if (m != &ipc_mech_unix && m != &ipc_mech_unix_seqpacket && m != &ipc_mech_unix_dgram)
        return ipc__fail(IPC_EINVAL, "ipc_unix_path: not a unix channel"), NULL;
    const unix_chan *u = (const unix_chan *)ch;
    return u->path[0] ? u->path : NULL;
}

/* The door's path; NULL for a private channel (the dispatch layer answers
 * IPC_EINVAL). */
static int unix_attach_config(const ipc_channel *ch, ipc_config *cfg)
{
    cfg->name = ipc_unix_path(ch);
    return IPC_OK;
}

/* ---- the three mechanisms ---------------------------------------------- */

#define UNIX_CAPS (IPC_CAP_THREADS | IPC_CAP_FORK | IPC_CAP_UNRELATED | IPC_CAP_MPMC | IPC_CAP_FIFO \
                   | IPC_CAP_POLL | IPC_CAP_CLOSE_WAKES)

static const struct ipc_ops unix_stream_ops = {
    .open = unix_open, .send = ipc__stream_send, .recv = ipc__stream_recv,
    .close = ipc__stream_close, .free = unix_free, .pollfd = ipc__stream_pollfd, .depth = NULL,
    .attach_config = unix_attach_config,
};

static const struct ipc_ops unix_msg_ops = {
    .open = unix_open, .send = msg_send, .recv = msg_recv,
    .close = ipc__stream_close, .free = unix_free, .pollfd = ipc__stream_pollfd, .depth = NULL,
    .attach_config = unix_attach_config,
};

const ipc_mechanism ipc_mech_unix = {
    .name = "unix", .family = "pipes",
    .family_id = IPC_FAMILY_PIPES, .carrier = IPC_CARRIER_UNIX_STREAM, .variant = SOCK_STREAM,
    .summary = "Unix stream socket pair, length-prefixed frames; attach by path (fds passed by SCM_RIGHTS)",
    .caps = UNIX_CAPS,
    .max_msg_limit = IPC_STREAM_MAX_MSG, .default_max_msg = 1 << 20, .default_capacity = 0,
    .wait_strategy = "kernel block (poll)", .ops = &unix_stream_ops,
    .waits = IPC_WAITS_ALL, .wait_default = IPC_WAIT_BLOCK,
};

const ipc_mechanism ipc_mech_unix_seqpacket = {
    .name = "unix_seqpacket", .family = "pipes",
    .family_id = IPC_FAMILY_PIPES, .carrier = IPC_CARRIER_UNIX_SEQPACKET, .variant = SOCK_SEQPACKET,
    .summary = "Unix SOCK_SEQPACKET pair: the kernel keeps message boundaries; attach by path",
    .caps = UNIX_CAPS,
    .max_msg_limit = MSG_SOCK_LIMIT, .default_max_msg = 64 * 1024, .default_capacity = 0,
    .wait_strategy = "kernel block (poll)", .ops = &unix_msg_ops,
    .waits = IPC_WAITS_ALL, .wait_default = IPC_WAIT_BLOCK,
};

const ipc_mechanism ipc_mech_unix_dgram = {
    .name = "unix_dgram", .family = "pipes",
    .family_id = IPC_FAMILY_PIPES, .carrier = IPC_CARRIER_UNIX_DGRAM, .variant = SOCK_DGRAM,
    .summary = "Unix SOCK_DGRAM pair: reliable, ordered datagrams; attach by path",
    .caps = UNIX_CAPS,
    .max_msg_limit = MSG_SOCK_LIMIT, .default_max_msg = 64 * 1024, .default_capacity = 0,
    .wait_strategy = "kernel block (poll)", .ops = &unix_msg_ops,
    .waits = IPC_WAITS_ALL, .wait_default = IPC_WAIT_BLOCK,
};
