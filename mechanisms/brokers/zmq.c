/*
 * zmq.c — "zmq": a channel made of ZeroMQ PUSH/PULL sockets.
 *
 * ZeroMQ sockets are not file descriptors but message queues with a
 * background I/O thread: zmq_send() copies the message into an in-memory
 * pipe and returns; the I/O thread writes it to the kernel socket later.
 * That makes sending very cheap, and it is the same design as
 * multiprocessing.Queue's feeder thread, with the same price: a message is
 * not "out" when send returns.  ipc_free() lingers up to 2 s to flush what is
 * still queued; a process that ends with _exit() or a crash loses it.
 *
 * Topology.  Senders' PUSH sockets deal messages to a meeting point, the
 * device, a small thread in the channel's creator with two bound sockets:
 *
 *     every handle's PUSH ---> [PULL   device   ROUTER] <--> every handle's DEALER
 *                     "<ep>"  (frontend)      (backend)  "<ep>.out" or port+1
 *
 * so a channel has one address for senders and one for receivers: a private
 * ipc:// path by default (in a 0700 temp dir), or tcp://host:port (and
 * port+1) to cross machines.  Another process attaches with IPC_ATTACH and
 * the endpoint (see ipc_zmq_endpoint); attach first checks that somebody
 * serves it (a connect) and, for ipc://, that the socket is the caller's
 * own uid's — ZeroMQ's own connect succeeds with nobody at the other end,
 * and sends would then be accepted and dropped at free.
 *
 * No prefetch: receivers ask.  A PULL socket would prefetch its round-robin
 * share of every message, lost with a receiver that is killed (or that just
 * stops receiving).  So a receive sends the device a request (one byte on
 * its DEALER) and the device answers with ONE message, to the oldest
 * request; a message is read from the frontend only when a request waits
 * (so the frontend's HWM pushes back on senders).  A receive whose deadline
 * passes cancels its request; the device acknowledges, and a message that
 * crossed the cancel is returned (it is already here).  The device serves a
 * request before it reads the next one, so a device that was not scheduled
 * until after the deadline (its request and the cancel then arrive
 * together) still answers with a queued message instead of "nothing".  What a dying
 * receiver can take with it is therefore only the one message it asked
 * for: the one in flight to a receiver blocked in recv when it was killed,
 * or the one it kept after IPC_EMSGSIZE (kept for this handle's next
 * receive; ipc_free hands it back to the channel, at its tail).
 * ZMQ_ROUTER_MANDATORY makes an answer to a receiver that has gone fail
 * instead of vanishing: the device keeps the message for the next request.
 * The price is one round trip through the device per message received (a
 * few times the prefetching PULL's cost; see the tutorial's table).
 *
 * Capacity.  cfg->capacity becomes the high-water mark (HWM) of the
 * sender's pipe and of the device's frontend; by default 1000, ZeroMQ's own
 * default.  (It was "no limit" once: a sender then ran unboundedly ahead of
 * receivers, which pay a round trip per message, and 131,072 messages
 * acknowledged in 75 ms took 26-32 s to drain.)  The HWM is per pipe, and
 * kernel socket buffers lie between the pipes, so the number of messages in
 * flight is only roughly the capacity: IPC_CAP_BOUNDED is not claimed.
 *
 * Handles in the device's own process reach it through an inproc:// pair
 * bound beside the channel's addresses: no I/O thread or kernel socket on
 * the way, which makes a receive's round trip 3-4x cheaper.
 *
 * Closing.  ipc_close() sends a two-part "close frame" (data messages are
 * always one part, so none can be mistaken for it) through the closing
 * handle's PUSH, under the send lock: every send of that handle that
 * returned IPC_OK is ahead of it in the same pipe, and every later one is
 * refused.  The frame never waits for room: if the pipe is at its HWM (a
 * full channel with no receiver), a helper thread (`closer`) queues it when
 * a receiver has made room, and ipc_close returns at once; a handle freed
 * before that drops it.  ZeroMQ orders messages per connection only, so a close from one
 * process is not ordered after another process's sends: the device waits
 * CLOSE_GRACE_MS after the close frame, still delivering what arrives, and
 * answers "closed" only when the frontend is empty after that.  A receiver
 * then answers IPC_ECLOSED, and one blocked in recv(-1) wakes.  A
 * get_nowait drain (timeout 0) on the handle that closed waits (up to
 * DRAIN_MS) for that answer, so it returns everything sent before the close.
 * Senders of the closing handle (and of its fork()ed copies, which share its
 * eventfd) are woken and refused; senders in other processes learn of the
 * close only if they also receive — a PUSH socket hears nothing back — and
 * what they send after it is not delivered (not promised: see ipc_zmq.h).
 *
 * Descriptors.  A handle's sockets are made at open, and open refuses
 * (IPC_ESYS, EMFILE) when the process's descriptors would run short once
 * the connections ZeroMQ opens later, in its I/O thread, exist (see
 * check_fd_room): running out later would fail sends and receives instead.
 *
 * fork().  A ZeroMQ context (its I/O threads, its sockets) must not be used
 * after fork(): the threads did not come along.  A fork handler (core/process.h)
 * starts a new "generation" in the child; a handle inherited from the parent
 * forgets its sockets (they are never closed here: they belong to the
 * parent's context) and connects afresh through this process's own context
 * on first use.  This works — but since a send is finished only when the I/O
 * thread has written it, a child that sends and then _exit()s without
 * ipc_free() loses messages.  That is why IPC_CAP_FORK is not claimed: the
 * capability means "a send is complete when it returns".  The device lives
 * in the creator: when the creator frees its handle, the channel ends.
 *
 * ipc_pollfd.  ZMQ_FD is edge-triggered and means "the socket's state may
 * have changed, ask ZMQ_EVENTS", not "a message is ready", and a message in
 * the holdback never shows on it: a user who poll()s on it can sleep forever
 * next to a readable message.  So this returns -1 (no IPC_CAP_POLL).
 */
#define _GNU_SOURCE
#include "brokers/ipc_zmq.h"
#include "../ipc_internal.h"


#include <zmq.h>

#include <dirent.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define EP_MAX          (PATH_MAX + 32)
#define PREFETCH        16    /* HWM on the receiving side (backend, PULL)  */
#define LINGER_MS       2000  /* how long ipc_free flushes unsent messages   */
#define CLOSE_GRACE_MS  20    /* late messages still forwarded after a close */
#define CLOSE_SKIP      64    /* close frames one receive skips looking for data */
#define DEFAULT_HWM     1000  /* capacity 0: ZeroMQ's own default high-water mark */

extern const ipc_mechanism ipc_mech_zmq;

/* ---- one context per process, and fork generations -------------------- */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static void           *g_ctx;       /* this process's context, or NULL     */
static unsigned        g_ctx_refs;  /* handles, publishers, subscribers     */
static atomic_uint     g_gen;       /* bumped in every fork()ed child       */

static void fork_prepare(void) { pthread_mutex_lock(&g_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&g_lock); }

static void fork_child(void)
{
    /* The parent's context is unusable here: abandon it (never terminate
     * it: zmq_ctx_term would wait for I/O threads that do not exist). */
    g_ctx = NULL;
    g_ctx_refs = 0;
    atomic_fetch_add(&g_gen, 1);
    pthread_mutex_unlock(&g_lock);
}

static int ctx_acquire(void **ctx)
{
    int rc = IPC_OK;
    pthread_mutex_lock(&g_lock);
    if (!g_ctx && !(g_ctx = zmq_ctx_new())) rc = ipc__fail(IPC_ESYS, "zmq_ctx_new");
    if (rc == IPC_OK) {
        g_ctx_refs++;
        *ctx = g_ctx;
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

static void ctx_release(void)
{
    void *term = NULL;
    pthread_mutex_lock(&g_lock);
    if (g_ctx_refs > 0 && --g_ctx_refs == 0) {
        term = g_ctx;
        g_ctx = NULL;
    }
    pthread_mutex_unlock(&g_lock);
    /* Waits until every socket is closed and has flushed (its linger). */
    if (term)
        while (zmq_ctx_term(term) < 0 && errno == EINTR) {}
}

/* ---- sockets ----------------------------------------------------------- */

static int set_int(void *sock, int option, int value, const char *name)
{
    if (zmq_setsockopt(sock, option, &value, sizeof value) < 0)
        return ipc__fail(IPC_ESYS, "zmq_setsockopt(%s)", name);
    return IPC_OK;
}

/* A socket of `type` with its high-water mark, connected to or bound at ep.
 * Bound sockets report the real address (the port of "tcp://...:*") in
 * actual.  NULL on failure, with the reason recorded. */
static void *open_socket(void *ctx, int type, int hwm, int linger, const char *ep, bool bind,
                         char *actual, size_t actual_size)
{
    void *s = zmq_socket(ctx, type);
    if (!s) {
        ipc__fail(IPC_ESYS, "zmq_socket");
        return NULL;
    }
    int hwm_opt = type == ZMQ_PUSH || type == ZMQ_PUB ? ZMQ_SNDHWM : ZMQ_RCVHWM;
    int rc = set_int(s, hwm_opt, hwm, "HWM");
    if (rc == IPC_OK) rc = set_int(s, ZMQ_LINGER, linger, "ZMQ_LINGER");
    if (rc == IPC_OK && (bind ? zmq_bind(s, ep) : zmq_connect(s, ep)) < 0)
        rc = ipc__fail(IPC_ESYS, "zmq_%s(%s)", bind ? "bind" : "connect", ep);
    if (rc == IPC_OK && actual) {
        size_t n = actual_size;
        if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, actual, &n) < 0)
            rc = ipc__fail(IPC_ESYS, "zmq_getsockopt(ZMQ_LAST_ENDPOINT)");
    }
    if (rc != IPC_OK) {
        int saved = errno;
        zmq_close(s);
        errno = saved;
        return NULL;
    }
    return s;
}

/* Sleep until sock is ready for `events`, wake_fd (may be -1) is readable,
 * or the deadline.  RETURNS 0 (look again: ready, timed out or
 * interrupted — the caller checks the deadline), IPC_ECLOSED, IPC_ESYS. */
static int wait_socket(void *sock, short events, int wake_fd, const ipc_deadline *d)
{
    zmq_pollitem_t it[2] = {
        { .socket = sock, .events = events },
        { .fd = wake_fd, .events = ZMQ_POLLIN },
    };
    int n = zmq_poll(it, wake_fd >= 0 ? 2 : 1, ipc__deadline_poll_ms(d));
    if (n < 0 && errno != EINTR) return ipc__fail(IPC_ESYS, "zmq_poll");
    if (n > 0 && wake_fd >= 0 && it[1].revents) return ipc__fail(IPC_ECLOSED, "zmq: channel closed");
    return IPC_OK;
}

/* A private directory for ipc:// files, and their removal. */
static int private_endpoint(char *dir, size_t dir_size, const char *leaf, char *ep, size_t ep_size)
{
    int rc = ipc__named_tempdir(dir, dir_size, "zmq");
    if (rc != IPC_OK) return rc;
    if (snprintf(ep, ep_size, "ipc://%s/%s", dir, leaf) >= (int)ep_size) {
        rmdir(dir);
        return ipc__fail(IPC_EINVAL, "zmq: endpoint in %s too long", dir);
    }
    return IPC_OK;
}

static void remove_ipc_file(const char *ep)
{
    if (strncmp(ep, "ipc://", 6) == 0) unlink(ep + 6);
}

/* The receivers' address from the senders': ipc://P -> ipc://P.out,
 * tcp://H:N -> tcp://H:N+1. */
static int receivers_endpoint(const char *in, char *out, size_t size)
{
    int n = -1;
    if (strncmp(in, "ipc://", 6) == 0 && in[6]) {
        n = snprintf(out, size, "%s.out", in);
    } else if (strncmp(in, "tcp://", 6) == 0) {
        const char *colon = strrchr(in + 6, ':');
        char *end;
        long port = colon ? strtol(colon + 1, &end, 10) : 0;
        if (colon && colon[1] && !*end && port > 0 && port < 65535)
            n = snprintf(out, size, "%.*s:%ld", (int)(colon - in), in, port + 1);
    }
    if (n < 0 || (size_t)n >= size)
        return ipc__fail(IPC_EINVAL, "zmq: endpoint '%s' is not ipc://path or tcp://host:port", in);
    return IPC_OK;
}

/* ---- the channel ------------------------------------------------------- */

/* What a receiver and the device say to each other: the first frame is one
 * byte.  The device sends a message to a receiver only in answer to a
 * request, so no receiver ever holds more than the one message it asked for
 * (no prefetch: see the top). */
enum {
    REQ_WAIT   = 'R', /* receiver: the next message, whenever there is one     */
    REQ_NOWAIT = 'N', /* receiver: the next message if there is one right now  */
    REQ_CANCEL = 'C', /* receiver: forget my request (always answered by ACK)  */
    REP_DATA   = 'D', /* device: the message follows as the second frame       */
    REP_EMPTY  = 'E', /* device: nothing now (the answer to REQ_NOWAIT)        */
    REP_CLOSED = 'X', /* device: closed and drained                            */
    REP_ACK    = 'K', /* device: your request is gone                          */
};

/* A receiver's request, as the handle sees it. */
enum { RQ_NONE, RQ_WAITING, RQ_NOWAIT, RQ_CANCELLING };

#define REPLY_MS   2000 /* how long a receiver waits for the device's answer to N or C */
#define DRAIN_MS   5000 /* a nowait receive on a handle that closed: waits this long for the close */
#define FD_LAZY_OWNER  4 /* descriptors a handle's connections take after open (see zq_open) */
#define FD_LAZY_ATTACH 2
#define FD_RESERVE     8 /* kept free for the context's own threads and the caller */

typedef struct waiter {
    unsigned char id[256]; /* the ROUTER's identity frame of the receiver */
    size_t        len;
} waiter;

typedef struct device {
    void      *front, *back; /* PULL bound at in_ep, ROUTER bound at out_ep  */
    ipc_helper thread;       /* its stop_fd ends the loop                    */
} device;

typedef struct zmq_channel {
    ipc_channel     base;
    char            in_ep[EP_MAX], out_ep[EP_MAX];
    char            local_in[64], local_out[64]; /* the device's inproc:// pair, or "" */
    char            dir[PATH_MAX];  /* our private temp dir, or ""              */
    pid_t           owner;          /* the process running the device, or 0    */
    device          dev;
    atomic_uint     gen;            /* fork generation of ctx/push/pull below  */
    void           *ctx;            /* NULL in a forked child until first use  */
    void           *push, *pull;    /* PUSH to in_ep, DEALER to out_ep         */
    pthread_mutex_t send_lock, recv_lock; /* a ZeroMQ socket is single-threaded */
    atomic_bool     shut;           /* ipc_close on this handle (set under send_lock) */
    ipc_helper      closer;         /* queues a close frame that found the pipe full */
    bool            frame_out;      /* the close frame is queued or handed to closer (send_lock) */
    zmq_msg_t       held;           /* the holdback (recv_lock)                */
    bool            has_held;
    int             rq;             /* RQ_*: our request to the device (recv_lock) */
    atomic_bool     saw_close;      /* the device said closed and drained      */
    int             wake_fd;        /* eventfd: ipc_close wakes blocked senders */
    int             fd_lazy;        /* FD_LAZY_* counted in g_fd_lazy (g_lock)  */
    struct zmq_channel *next_owned; /* g_owned (g_lock)                        */
} zmq_channel;

/* The channels whose device runs in this process: their socket files and
 * temp dir are ours to remove, also when the program exits without
 * ipc_free (a SIGKILL still leaves them behind). */
static zmq_channel *g_owned;
/* Descriptors the open handles of this process will still take (g_lock). */
static int g_fd_lazy;

static void remove_files(const zmq_channel *z)
{
    remove_ipc_file(z->in_ep);
    remove_ipc_file(z->out_ep);
    if (z->dir[0]) rmdir(z->dir);
}

static void remove_owned_at_exit(void)
{
    pthread_mutex_lock(&g_lock);
    for (zmq_channel *z = g_owned; z; z = z->next_owned)
        if (z->owner == getpid()) remove_files(z);
    pthread_mutex_unlock(&g_lock);
}

/* List (mine) or unlist a channel whose device runs here.  IPC_OK, or the
 * error of registering the exit handler (core/process.h's table; outside
 * g_lock: fork() takes the table's lock, then fork_prepare takes g_lock). */
static int own(zmq_channel *z, bool mine)
{
    if (mine) {
        int rc = ipc__atexit(remove_owned_at_exit);
        if (rc != IPC_OK) return rc;
    }
    pthread_mutex_lock(&g_lock);
    zmq_channel **p = &g_owned;
    while (*p && *p != z) p = &(*p)->next_owned;
    if (mine && !*p) {
        z->next_owned = g_owned;
        g_owned = z;
    } else if (!mine && *p) {
        *p = z->next_owned;
    }
    pthread_mutex_unlock(&g_lock);
    return IPC_OK;
}

/* The two-part close frame. */
static int send_close_frame(void *sock, int flags)
{
    if (zmq_send(sock, "", 0, flags | ZMQ_SNDMORE) < 0) return -1;
    return zmq_send(sock, "close", 5, flags); /* ZeroMQ takes all parts or none */
}

/* Consume the rest of a multi-part message. */
static void skip_parts(void *sock, zmq_msg_t *m)
{
    while (zmq_msg_more(m) && zmq_msg_recv(m, sock, ZMQ_DONTWAIT) >= 0) {}
}

/* ---- the device -----------------------------------------------------------
 * Requests from the backend queue up in `w`; a message is read from the
 * frontend only when a request waits for it (so the frontend's HWM pushes
 * back on senders) and goes to the oldest request.  ZMQ_ROUTER_MANDATORY
 * makes a send to a receiver that has gone fail instead of dropping the
 * message: it stays in hand for the next request. */
typedef struct dev_state {
    device   *dv;
    zmq_msg_t m;          /* a data message read from the frontend        */
    bool      holding;    /* m holds one                                  */
    bool      closed;     /* a close frame came through                   */
    int64_t   grace_end;  /* until then, late messages are still awaited  */
    waiter   *w;          /* pending REQ_WAIT requests, oldest first      */
    size_t    nw, capw;
} dev_state;

/* Take one data message from the frontend if there is one (close frames are
 * consumed on the way).  true: s->m holds one. */
static bool dev_pull(dev_state *s)
{
    while (!s->holding) {
        if (zmq_msg_recv(&s->m, s->dv->front, ZMQ_DONTWAIT) < 0) return false;
        if (!zmq_msg_more(&s->m)) {
            s->holding = true;
        } else {
            skip_parts(s->dv->front, &s->m);
            if (!s->closed) {
                s->closed = true;
                s->grace_end = ipc_now_ns() + CLOSE_GRACE_MS * 1000000LL;
            }
        }
    }
    return true;
}

static bool dev_drained(const dev_state *s)
{
    return s->closed && !s->holding && ipc_now_ns() >= s->grace_end;
}

/* [identity][type] or [identity][D][message].  0 sent; -1 not (the
 * receiver is gone, or its pipe is full): the message stays in s->m. */
static int dev_reply(dev_state *s, const waiter *to, char type)
{
    void *b = s->dv->back;
    if (zmq_send(b, to->id, to->len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) return -1;
    if (type != REP_DATA) return zmq_send(b, &type, 1, ZMQ_DONTWAIT) < 0 ? -1 : 0;
    if (zmq_send(b, &type, 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) return -1;
    if (zmq_msg_send(&s->m, b, ZMQ_DONTWAIT) < 0) return -1;
    s->holding = false;
    return 0;
}

static void dev_pop(dev_state *s)
{
    memmove(s->w, s->w + 1, (s->nw - 1) * sizeof *s->w);
    s->nw--;
}

/* Answer the waiting requests with what there is. */
static void dev_serve(dev_state *s)
{
    while (s->nw > 0) {
        if (dev_pull(s)) {
            (void)dev_reply(s, &s->w[0], REP_DATA); /* a gone receiver: next one */
            dev_pop(s);
        } else if (dev_drained(s)) {
            (void)dev_reply(s, &s->w[0], REP_CLOSED);
            dev_pop(s);
        } else {
            break;
        }
    }
}

/* One request from the backend. */
static void dev_request(dev_state *s)
{
    waiter from;
    int n = zmq_recv(s->dv->back, from.id, sizeof from.id, ZMQ_DONTWAIT);
    if (n < 0) return;
    from.len = (size_t)n > sizeof from.id ? sizeof from.id : (size_t)n;
    char type = 0;
    zmq_msg_t t;
    zmq_msg_init(&t);
    if (zmq_msg_recv(&t, s->dv->back, ZMQ_DONTWAIT) >= 0 && zmq_msg_size(&t) == 1)
        type = *(const char *)zmq_msg_data(&t);
    skip_parts(s->dv->back, &t);
    zmq_msg_close(&t);
    if (type == REQ_WAIT) {
        if (s->nw == s->capw) {
            size_t cap = s->capw ? s->capw * 2 : 16;
            waiter *w = realloc(s->w, cap * sizeof *w);
            if (!w) return; /* the receiver's deadline (or its next request) covers it */
            s->w = w;
            s->capw = cap;
        }
        s->w[s->nw++] = from;
        /* Serve it now, before the next request is read: a receiver whose
         * deadline passed while this thread was not scheduled sends a cancel
         * right behind its request, and read in the same batch the pair would
         * cancel out, answering "nothing" with messages queued.  Served first,
         * the message crosses the cancel and the receiver returns it. */
        dev_serve(s);
    } else if (type == REQ_NOWAIT) {
        if (s->nw == 0 && dev_pull(s)) (void)dev_reply(s, &from, REP_DATA);
        else (void)dev_reply(s, &from, dev_drained(s) ? REP_CLOSED : REP_EMPTY);
    } else if (type == REQ_CANCEL) {
        for (size_t i = 0; i < s->nw; i++)
            if (s->w[i].len == from.len && memcmp(s->w[i].id, from.id, from.len) == 0) {
                memmove(s->w + i, s->w + i + 1, (s->nw - i - 1) * sizeof *s->w);
                s->nw--;
                break;
            }
        (void)dev_reply(s, &from, REP_ACK);
    }
}

static void *device_main(void *arg)
{
    zmq_channel *z = arg;
    dev_state s = { .dv = &z->dev };
    zmq_msg_init(&s.m);
    for (;;) {
        dev_serve(&s);
        zmq_pollitem_t it[3] = {
            { .fd = s.dv->thread.stop_fd, .events = ZMQ_POLLIN },
            { .socket = s.dv->back, .events = ZMQ_POLLIN },
            { .socket = s.dv->front, .events = s.nw > 0 && !s.holding ? ZMQ_POLLIN : 0 },
        };
        long timeout = -1;
        if (s.closed && s.nw > 0) { /* wake at the end of the grace period */
            int64_t left = (s.grace_end - ipc_now_ns()) / 1000000;
            timeout = left > 0 ? (long)left + 1 : 0;
        }
        if (zmq_poll(it, 3, timeout) < 0) {
            if (errno == EINTR) continue;
            break; /* ETERM: the context is going away */
        }
        if (it[0].revents) break;
        if (it[1].revents & ZMQ_POLLIN)
            for (int i = 0; i < 64; i++) {
                int ev = 0;
                size_t sz = sizeof ev;
                if (zmq_getsockopt(s.dv->back, ZMQ_EVENTS, &ev, &sz) < 0 || !(ev & ZMQ_POLLIN)) break;
                dev_request(&s);
            }
    }
    zmq_msg_close(&s.m);
    free(s.w);
    return NULL;
}

static int start_device(zmq_channel *z, const char *want)
{
    device *dv = &z->dev;
    bool wildcard = strncmp(want, "tcp://", 6) == 0 && strcmp(want + strlen(want) - 2, ":*") == 0;
    int hwm = (int)(z->base.capacity > INT_MAX ? INT_MAX : z->base.capacity);
    /* With tcp://host:* the receivers' port is the senders' + 1: if that one
     * is taken, try another pair. */
    for (int attempt = 0; attempt < 20; attempt++) {
        dv->front = open_socket(z->ctx, ZMQ_PULL, hwm, 0, want, true, z->in_ep, sizeof z->in_ep);
        if (!dv->front) return IPC_ESYS;
        int rc = receivers_endpoint(z->in_ep, z->out_ep, sizeof z->out_ep);
        if (rc == IPC_OK) {
            dv->back = zmq_socket(z->ctx, ZMQ_ROUTER);
            if (!dv->back) {
                rc = ipc__fail(IPC_ESYS, "zmq_socket(ROUTER)");
            } else {
                rc = set_int(dv->back, ZMQ_ROUTER_MANDATORY, 1, "ZMQ_ROUTER_MANDATORY");
                if (rc == IPC_OK) rc = set_int(dv->back, ZMQ_LINGER, 0, "ZMQ_LINGER");
                if (rc == IPC_OK && zmq_bind(dv->back, z->out_ep) < 0)
                    rc = ipc__fail(IPC_ESYS, "zmq_bind(%s)", z->out_ep);
                if (rc == IPC_OK) break;
                int saved = errno;
                zmq_close(dv->back);
                dv->back = NULL;
                errno = saved;
            }
        }
        int saved = errno;
        zmq_close(dv->front);
        dv->front = NULL;
        if (!(wildcard && saved == EADDRINUSE)) return rc;
    }
    if (!dv->back) return ipc__fail(IPC_ESYS, "zmq: no free pair of ports for %s", want);
    /* The same two sockets also at an inproc:// pair, for this process's
     * own handles (see local_endpoint). */
    snprintf(z->local_in, sizeof z->local_in, "inproc://ipcplay-zmq-%p-in", (void *)z);
    snprintf(z->local_out, sizeof z->local_out, "inproc://ipcplay-zmq-%p-out", (void *)z);
    int rc = IPC_OK;
    if (zmq_bind(dv->front, z->local_in) < 0 || zmq_bind(dv->back, z->local_out) < 0)
        rc = ipc__fail(IPC_ESYS, "zmq_bind(%s)", z->local_in);
    if (rc == IPC_OK) rc = ipc__helper_init(&dv->thread);
    if (rc == IPC_OK) rc = ipc__helper_start(&dv->thread, device_main, z);
    if (rc != IPC_OK) {
        ipc__helper_stop(&dv->thread, 0, NULL, NULL);
        zmq_close(dv->back);
        zmq_close(dv->front);
        dv->front = dv->back = NULL;
    }
    return rc;
}

static void stop_device(zmq_channel *z)
{
    device *dv = &z->dev;
    if (!dv->front) return;
    ipc__helper_stop(&dv->thread, 5000, NULL, NULL);
    zmq_close(dv->back); /* linger 0: whatever is still queued dies with the channel */
    zmq_close(dv->front);
    dv->front = dv->back = NULL;
}

/* Bring a handle into this process's fork generation (see the top). */
static zmq_channel *adopt(ipc_channel *ch)
{
    zmq_channel *z = (zmq_channel *)ch;
    unsigned gen = atomic_load_explicit(&g_gen, memory_order_relaxed);
    if (__builtin_expect(atomic_load_explicit(&z->gen, memory_order_relaxed) == gen, 1)) return z;
    pthread_mutex_lock(&g_lock);
    if (atomic_load(&z->gen) != gen) {
        z->ctx = z->push = z->pull = NULL; /* the parent's: forget, never close */
        zmq_msg_init(&z->held);            /* a copy of the parent's holdback: not ours */
        z->has_held = false;
        z->rq = RQ_NONE;                   /* the parent's request, answered to it */
        z->fd_lazy = 0;
        pthread_mutex_init(&z->send_lock, NULL); /* maybe held by a parent thread */
        pthread_mutex_init(&z->recv_lock, NULL);
        atomic_store(&z->gen, gen);
    }
    pthread_mutex_unlock(&g_lock);
    return z;
}

/* Create this handle's PUSH or DEALER (at open; in a forked child on first
 * use). */
static int ensure_socket(zmq_channel *z, void **sock, int type)
{
    if (*sock) return IPC_OK;
    if (!z->ctx) {
        int rc = ctx_acquire(&z->ctx);
        if (rc != IPC_OK) return rc;
    }
    int hwm = type == ZMQ_DEALER ? 4 : (int)(z->base.capacity > INT_MAX ? INT_MAX : z->base.capacity);
    /* In the device's own process and context, inproc:// (no I/O thread,
     * no kernel socket on the way); elsewhere the channel's address. */
    bool local = z->owner == getpid() && z->local_in[0];
    const char *ep = type == ZMQ_PUSH ? (local ? z->local_in : z->in_ep) : (local ? z->local_out : z->out_ep);
    *sock = open_socket(z->ctx, type, hwm, type == ZMQ_PUSH ? LINGER_MS : 0, ep, false, NULL, 0);
    return *sock ? IPC_OK : IPC_ESYS;
}

static int zq_send(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    (void)prio; /* one order: per-connection FIFO */
    zmq_channel *z = adopt(ch);
    /* relaxed: a hint only (a send that sees the close is refused; the
     * closer helper may hold send_lock for long); the check that orders a
     * send against the close frame is the one under send_lock below. */
    if (atomic_load_explicit(&z->shut, memory_order_relaxed)) return ipc__fail(IPC_ECLOSED, "zmq: channel closed");
    int r = ipc__lock(&z->send_lock, d, NULL);
    if (r == 1) return ipc__fail(IPC_EFULL, "zmq: another thread was sending until the deadline");
    if (r < 0) return r;
    /* Checked under send_lock, which zq_close holds while it sets shut and
     * queues (or hands over) the close frame: a send is either ahead of it
     * in the pipe or refused. */
    int rc = atomic_load(&z->shut) || atomic_load(&z->saw_close) ? ipc__fail(IPC_ECLOSED, "zmq: channel closed")
                                                                 : ensure_socket(z, &z->push, ZMQ_PUSH);
    while (rc == IPC_OK) {
        if (zmq_send(z->push, len ? msg : "", len, ZMQ_DONTWAIT) >= 0) break;
        if (errno == EINTR) continue;
        if (errno != EAGAIN) {
            rc = ipc__fail(IPC_ESYS, "zmq_send");
            break;
        }
        if (ipc__deadline_passed(d)) {
            rc = ipc__fail(IPC_EFULL, "zmq: the sender's pipe is at its high-water mark (%zu)", z->base.capacity);
            break;
        }
        ipc__blocked(ch, IPC_EV_SEND_BLOCKED);
        rc = wait_socket(z->push, ZMQ_POLLOUT, z->wake_fd, d);
    }
    pthread_mutex_unlock(&z->send_lock);
    return rc;
}

/* Send a one-byte request to the device. */
static int request(zmq_channel *z, char type)
{
    while (zmq_send(z->pull, &type, 1, 0) < 0)
        if (errno != EINTR) return ipc__fail(IPC_ESYS, "zmq_send(request %c)", type);
    return IPC_OK;
}

/* Read one answer if one is there: 1 (type in *type; a message lands in the
 * holdback), 0 none yet, or IPC_ESYS. */
static int read_answer(zmq_channel *z, char *type)
{
    zmq_msg_t t;
    zmq_msg_init(&t);
    if (zmq_msg_recv(&t, z->pull, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&t);
        return errno == EAGAIN || errno == EINTR ? 0 : ipc__fail(IPC_ESYS, "zmq_msg_recv");
    }
    *type = zmq_msg_size(&t) == 1 ? *(const char *)zmq_msg_data(&t) : '?';
    bool more = zmq_msg_more(&t);
    zmq_msg_close(&t);
    if (*type == REP_DATA && more) {
        /* the parts of one message arrive together: this cannot wait */
        if (zmq_msg_recv(&z->held, z->pull, ZMQ_DONTWAIT) < 0) return ipc__fail(IPC_ESYS, "zmq_msg_recv(data)");
        z->has_held = true;
        if (zmq_msg_more(&z->held)) skip_parts(z->pull, &z->held);
    } else if (more) {
        zmq_msg_t rest;
        zmq_msg_init(&rest);
        while (zmq_msg_recv(&rest, z->pull, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&rest)) {}
        zmq_msg_close(&rest);
    }
    return 1;
}

/* Get the next message into the holdback: ask the device, wait for its
 * answer until the deadline, cancel the request if it passes. */
static int fetch(ipc_channel *ch, zmq_channel *z, const ipc_deadline *d)
{
    ipc_deadline reply; /* for the device's answer to N and C */
    ipc__deadline_start(&reply, REPLY_MS);
    bool giving_up = false;
    for (;;) {
        if (z->has_held) return IPC_OK;
        if (atomic_load(&z->saw_close)) return ipc__fail(IPC_ECLOSED, "zmq: channel closed and drained");
        if (z->rq == RQ_NONE) {
            if (giving_up) return ipc__fail(IPC_EEMPTY, "zmq: nothing received");
            bool nowait = ipc__deadline_is_nowait(d);
            int rc = request(z, nowait ? REQ_NOWAIT : REQ_WAIT);
            if (rc != IPC_OK) return rc;
            z->rq = nowait ? RQ_NOWAIT : RQ_WAITING;
            ipc__deadline_start(&reply, REPLY_MS);
        }
        char type;
        int got = read_answer(z, &type);
        if (got < 0) return got;
        if (got == 1) {
            if (type == REP_ACK) z->rq = RQ_NONE;
            else if (z->rq != RQ_CANCELLING) z->rq = RQ_NONE; /* a C still owes its ACK */
            if (type == REP_CLOSED) atomic_store(&z->saw_close, true);
            if (type == REP_EMPTY) giving_up = true;
            continue;
        }
        if (z->rq == RQ_WAITING && ipc__deadline_passed(d)) {
            int rc = request(z, REQ_CANCEL);
            if (rc != IPC_OK) return rc;
            z->rq = RQ_CANCELLING;
            giving_up = true;
            ipc__deadline_start(&reply, REPLY_MS);
            continue;
        }
        const ipc_deadline *until = z->rq == RQ_WAITING ? d : &reply;
        if (z->rq != RQ_WAITING && ipc__deadline_passed(&reply))
            /* the device has not answered: ask again next time (a late
             * answer is read then) */
            return ipc__fail(IPC_EEMPTY, "zmq: the channel's device did not answer within %d ms", REPLY_MS);
        if (z->rq == RQ_WAITING) ipc__blocked(ch, IPC_EV_RECV_BLOCKED);
        int rc = wait_socket(z->pull, ZMQ_POLLIN, -1, until);
        if (rc != IPC_OK) return rc;
    }
}

static int zq_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    zmq_channel *z = adopt(ch);
    *prio = 0;
    int r = ipc__lock(&z->recv_lock, d, NULL);
    if (r == 1) return ipc__fail(IPC_EEMPTY, "zmq: another thread was receiving until the deadline");
    if (r < 0) return r;
    /* A get_nowait drain after this handle's own close: wait (bounded) for
     * the close to come back through the device, so that what was sent
     * before it is returned first. */
    ipc_deadline drain;
    if (ipc__deadline_is_nowait(d) && atomic_load(&z->base.closed)) {
        ipc__deadline_start(&drain, DRAIN_MS);
        d = &drain;
    }
    int rc = ensure_socket(z, &z->pull, ZMQ_DEALER);
    if (rc == IPC_OK) rc = fetch(ch, z, d);
    if (rc == IPC_OK) {
        *len = zmq_msg_size(&z->held);
        if (*len > cap) {
            rc = ipc__fail(IPC_EMSGSIZE, "zmq: message of %zu bytes does not fit a %zu-byte buffer"
                                         " (kept for this handle's next receive)", *len, cap);
        } else {
            if (*len) memcpy(buf, zmq_msg_data(&z->held), *len);
            zmq_msg_close(&z->held);
            zmq_msg_init(&z->held);
            z->has_held = false;
        }
    }
    pthread_mutex_unlock(&z->recv_lock);
    return rc;
}

/* The closer helper: the close frame found this handle's pipe at its
 * high-water mark (no receiver is taking messages).  It holds send_lock (no
 * data send follows a close: senders see `shut` first) and queues the frame
 * as soon as there is room, or stops at ipc_free.  Until then receivers
 * drain what is queued, and block: the close is not theirs to see yet. */
static void *closer_main(void *arg)
{
    zmq_channel *z = arg;
    pthread_mutex_lock(&z->send_lock);
    for (;;) {
        if (send_close_frame(z->push, ZMQ_DONTWAIT) == 0) break;
        if (errno != EAGAIN && errno != EINTR) break; /* ETERM: the context is going away */
        if (wait_socket(z->push, ZMQ_POLLOUT, z->closer.stop_fd, &ipc__forever) != IPC_OK) break;
    }
    pthread_mutex_unlock(&z->send_lock);
    return NULL;
}

static int zq_close(ipc_channel *ch)
{
    zmq_channel *z = adopt(ch);
    uint64_t one = 1;
    if (write(z->wake_fd, &one, sizeof one) < 0) return ipc__fail(IPC_ESYS, "write(eventfd)");
    int rc = ipc__lock(&z->send_lock, &ipc__forever, NULL); /* a blocked sender has just been woken */
    if (rc < 0) return rc;
    if (z->frame_out) { /* closed before: the frame is on its way */
        pthread_mutex_unlock(&z->send_lock);
        return IPC_OK;
    }
    /* seq_cst: published under send_lock; see zq_send for the lock-free read. */
    atomic_store(&z->shut, true);
    rc = ensure_socket(z, &z->push, ZMQ_PUSH);
    while (rc == IPC_OK && send_close_frame(z->push, ZMQ_DONTWAIT) < 0) {
        /* (all or nothing: ZeroMQ queues both parts or neither) */
        if (errno == EINTR) continue;
        if (errno != EAGAIN) {
            rc = ipc__fail(IPC_ESYS, "zmq_send(close frame)");
            break;
        }
        /* The pipe is full and only a receiver makes room, maybe long from
         * now: a helper queues the frame then, and the close is done here. */
        rc = ipc__helper_init(&z->closer);
        if (rc == IPC_OK) rc = ipc__helper_start(&z->closer, closer_main, z); /* it waits for send_lock */
        if (rc != IPC_OK) ipc__helper_stop(&z->closer, 0, NULL, NULL);
        break;
    }
    if (rc == IPC_OK) z->frame_out = true;
    pthread_mutex_unlock(&z->send_lock);
    return rc;
}

/* A handle going away with a request out or a message in its holdback
 * (IPC_EMSGSIZE): take the answer, and hand a message back to the channel
 * (at its tail) instead of dropping it.  Not for the owner: its device, and
 * the channel, end with it. */
static void give_back(zmq_channel *z)
{
    if (z->rq == RQ_WAITING || z->rq == RQ_NOWAIT) {
        if (request(z, REQ_CANCEL) != IPC_OK) return;
        z->rq = RQ_CANCELLING;
    }
    ipc_deadline d;
    ipc__deadline_start(&d, REPLY_MS);
    while (z->rq != RQ_NONE && !ipc__deadline_passed(&d)) {
        char type;
        int got = read_answer(z, &type);
        if (got < 0) break;
        if (got == 1 && type == REP_ACK) z->rq = RQ_NONE;
        if (got == 0 && wait_socket(z->pull, ZMQ_POLLIN, -1, &d) != IPC_OK) break;
    }
    if (z->has_held && ensure_socket(z, &z->push, ZMQ_PUSH) == IPC_OK) {
        zmq_msg_t copy;
        zmq_msg_init(&copy);
        zmq_msg_copy(&copy, &z->held);
        if (zmq_msg_send(&copy, z->push, 0) < 0) zmq_msg_close(&copy);
    }
}

static void fd_account(zmq_channel *z, int lazy)
{
    pthread_mutex_lock(&g_lock);
    g_fd_lazy += lazy - z->fd_lazy;
    z->fd_lazy = lazy;
    pthread_mutex_unlock(&g_lock);
}

static void zq_free(ipc_channel *ch)
{
    zmq_channel *z = adopt(ch);
    bool owner = z->owner == getpid();
    ipc__helper_stop(&z->closer, 0, NULL, NULL); /* its frame, if still waiting for room, is dropped */
    if (!owner && z->pull) give_back(z);
    if (owner) stop_device(z);
    else ipc__helper_stop(&z->dev.thread, 0, NULL, NULL); /* a child: only its copy of stop_fd */
    if (z->push) {
        if (owner) set_int(z->push, ZMQ_LINGER, 0, "ZMQ_LINGER"); /* the device is gone */
        zmq_close(z->push);
    }
    if (z->pull) zmq_close(z->pull);
    zmq_msg_close(&z->held);
    close(z->wake_fd);
    if (owner) {
        own(z, false);
        remove_files(z);
    }
    fd_account(z, 0);
    pthread_mutex_destroy(&z->send_lock);
    pthread_mutex_destroy(&z->recv_lock);
    if (z->ctx) ctx_release();
    free(z);
}

/* IPC_ATTACH: is anyone serving ep?  A channel whose owner is gone answers
 * IPC_ECLOSED here, at open, instead of accepting sends nobody will ever
 * receive (ZeroMQ's connect succeeds with nobody at the other end). */
static int probe_endpoint(const char *ep)
{
    if (strncmp(ep, "ipc://", 6) == 0) {
        const char *path = ep + 6;
        struct stat st;
        if (stat(path, &st) < 0) {
            if (errno == ENOENT) return ipc__fail(IPC_ECLOSED, "zmq: nobody serves %s (no such socket)", ep);
            return ipc__fail(IPC_ESYS, "zmq: stat(%s)", path);
        }
        if (!S_ISSOCK(st.st_mode)) return ipc__fail(IPC_EINVAL, "zmq: %s is not a socket", path);
        if (st.st_uid != geteuid())
            return ipc__fail(IPC_EINVAL, "zmq: %s belongs to uid %u, not to this user (uid %u)", path,
                             (unsigned)st.st_uid, (unsigned)geteuid());
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof sa.sun_path) return ipc__fail(IPC_EINVAL, "zmq: path %s too long", path);
        strcpy(sa.sun_path, path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return ipc__fail(IPC_ESYS, "socket(AF_UNIX)");
        int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
        int err = errno;
        close(fd);
        if (r < 0 && (err == ECONNREFUSED || err == ENOENT))
            return errno = err, ipc__fail(IPC_ECLOSED, "zmq: nobody serves %s", ep);
        if (r < 0) return errno = err, ipc__fail(IPC_ESYS, "zmq: connect(%s)", path);
        return IPC_OK;
    }
    /* tcp://host:port */
    const char *hp = ep + 6, *colon = strrchr(hp, ':');
    char host[256];
    if (!colon || (size_t)(colon - hp) >= sizeof host) return ipc__fail(IPC_EINVAL, "zmq: bad endpoint '%s'", ep);
    snprintf(host, sizeof host, "%.*s", (int)(colon - hp), hp);
    if (host[0] == '[') { /* [::1] */
        memmove(host, host + 1, strlen(host));
        char *end = strchr(host, ']');
        if (end) *end = '\0';
    }
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *ai = NULL;
    int g = getaddrinfo(host, colon + 1, &hints, &ai);
    if (g != 0) return ipc__fail(IPC_EINVAL, "zmq: %s: %s", ep, gai_strerror(g));
    int rc = IPC_ECLOSED;
    for (struct addrinfo *a = ai; a && rc != IPC_OK; a = a->ai_next) {
        int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            rc = IPC_OK;
        } else if (errno == EINPROGRESS) {
            struct pollfd p = { .fd = fd, .events = POLLOUT };
            int err = 0;
            socklen_t el = sizeof err;
            if (poll(&p, 1, REPLY_MS) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0)
                rc = IPC_OK;
        }
        close(fd);
    }
    freeaddrinfo(ai);
    if (rc != IPC_OK) return ipc__fail(IPC_ECLOSED, "zmq: nobody serves %s", ep);
    return IPC_OK;
}

/* Descriptors: ZeroMQ opens a connection's socket later, in its I/O thread,
 * and a failure there (EMFILE) is retried silently while sends pile up.  So
 * open counts what this process has open now, plus what its open handles
 * will still open (their connections), and refuses (IPC_ESYS, EMFILE) when
 * that would leave fewer than FD_RESERVE descriptors under RLIMIT_NOFILE.
 * Conservative: a connection already made is counted twice. */
static int check_fd_room(zmq_channel *z, int lazy)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return ipc__fail(IPC_ESYS, "getrlimit(RLIMIT_NOFILE)");
    DIR *dir = opendir("/proc/self/fd");
    if (!dir) return ipc__fail(IPC_ESYS, "opendir(/proc/self/fd)");
    long open_now = -1; /* the directory's own descriptor */
    for (struct dirent *e; (e = readdir(dir));)
        if (e->d_name[0] != '.') open_now++;
    closedir(dir);
    pthread_mutex_lock(&g_lock);
    long need = open_now + g_fd_lazy + lazy + FD_RESERVE;
    pthread_mutex_unlock(&g_lock);
    if (rl.rlim_cur != RLIM_INFINITY && need > (long)rl.rlim_cur) {
        errno = EMFILE;
        return ipc__fail(IPC_ESYS, "zmq: %ld descriptors open or promised to open channels, %d more for this one"
                                   " and %d spare exceed RLIMIT_NOFILE %ld", open_now + g_fd_lazy, lazy,
                                   FD_RESERVE, (long)rl.rlim_cur);
    }
    fd_account(z, lazy);
    return IPC_OK;
}

static int zq_open(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out)
{
    int rc = ipc__atfork(fork_prepare, fork_parent, fork_child); /* once: core/process.h */
    if (rc != IPC_OK) return rc;
    if (cfg->name && cfg->endpoint) return ipc__fail(IPC_EINVAL, "zmq: give a name (an ipc path) or an endpoint, not both");
    bool attach = cfg->flags & IPC_ATTACH;

    zmq_channel *z = ipc__channel_alloc(sizeof *z, m, cfg);
    if (!z) return IPC_ESYS;
    atomic_store(&z->gen, atomic_load(&g_gen));
    zmq_msg_init(&z->held);
    pthread_mutex_init(&z->send_lock, NULL);
    pthread_mutex_init(&z->recv_lock, NULL);
    z->dev.thread.stop_fd = -1;
    z->closer.stop_fd = -1;
    if ((z->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) rc = ipc__fail(IPC_ESYS, "eventfd");

    char want[EP_MAX] = "";
    if (rc != IPC_OK) {
        /* reported above */
    } else if (cfg->endpoint) {
        if (snprintf(want, sizeof want, "%s", cfg->endpoint) >= (int)sizeof want)
            rc = ipc__fail(IPC_EINVAL, "zmq: endpoint too long");
    } else if (cfg->name) {
        if (snprintf(want, sizeof want, "ipc://%s", cfg->name) >= (int)sizeof want)
            rc = ipc__fail(IPC_EINVAL, "zmq: name too long");
        else if (!attach && access(cfg->name, F_OK) == 0)
            rc = ipc__fail(IPC_EINVAL, "zmq: '%s' exists (attach with IPC_ATTACH)", cfg->name);
    } else {
        rc = private_endpoint(z->dir, sizeof z->dir, "chan", want, sizeof want);
    }

    if (rc == IPC_OK && attach) {
        if (snprintf(z->in_ep, sizeof z->in_ep, "%s", want) >= (int)sizeof z->in_ep)
            rc = ipc__fail(IPC_EINVAL, "zmq: endpoint too long");
        else
            rc = receivers_endpoint(z->in_ep, z->out_ep, sizeof z->out_ep);
        if (rc == IPC_OK) rc = probe_endpoint(z->in_ep);
        if (rc == IPC_OK) rc = ctx_acquire(&z->ctx);
    } else if (rc == IPC_OK) {
        rc = ctx_acquire(&z->ctx);
        if (rc == IPC_OK) rc = start_device(z, want);
        if (rc == IPC_OK) {
            z->owner = getpid();
            rc = own(z, true);
        }
    }
    /* Both sockets now, so that running out of descriptors shows here. */
    if (rc == IPC_OK) rc = ensure_socket(z, &z->push, ZMQ_PUSH);
    if (rc == IPC_OK) rc = ensure_socket(z, &z->pull, ZMQ_DEALER);
    if (rc == IPC_OK) rc = check_fd_room(z, attach ? FD_LAZY_ATTACH : FD_LAZY_OWNER);
    if (rc != IPC_OK) {
        int saved = errno;
        if (z->push) zmq_close(z->push);
        if (z->pull) zmq_close(z->pull);
        if (z->owner) {
            stop_device(z);
            own(z, false);
        }
        if (z->ctx) ctx_release();
        if (attach) z->in_ep[0] = z->out_ep[0] = '\0'; /* someone else's files */
        remove_files(z); /* what we bound before failing, and our temp dir */
        if (z->wake_fd >= 0) close(z->wake_fd);
        pthread_mutex_destroy(&z->send_lock);
        pthread_mutex_destroy(&z->recv_lock);
        free(z);
        errno = saved;
        return rc;
    }
    *out = &z->base;
    return IPC_OK;
}

const char *ipc_zmq_endpoint(const ipc_channel *ch)
{
    if (ipc_channel_mechanism(ch) != &ipc_mech_zmq)
        return ipc__fail(IPC_EINVAL, "ipc_zmq_endpoint: not a zmq channel"), NULL;
    return ((const zmq_channel *)ch)->in_ep;
}

/* ---- publish/subscribe ------------------------------------------------- */

struct ipc_zmq_pub {
    void *ctx, *sock;
    char  endpoint[EP_MAX];
    char  dir[PATH_MAX]; /* private temp dir, or "" */
};

int ipc_zmq_pub_open(const char *endpoint, ipc_zmq_pub **out)
{
    if (!out) return ipc__fail(IPC_EINVAL, "ipc_zmq_pub_open: out is NULL");
    *out = NULL;
    ipc_zmq_pub *p = calloc(1, sizeof *p);
    if (!p) return ipc__fail(IPC_ESYS, "calloc");
    char want[EP_MAX];
    int rc = IPC_OK;
    if (!endpoint) rc = private_endpoint(p->dir, sizeof p->dir, "pub", want, sizeof want);
    else if (snprintf(want, sizeof want, "%s", endpoint) >= (int)sizeof want)
        rc = ipc__fail(IPC_EINVAL, "zmq: endpoint too long");
    if (rc == IPC_OK) rc = ctx_acquire(&p->ctx);
    if (rc == IPC_OK) {
        p->sock = open_socket(p->ctx, ZMQ_PUB, 1000, 0, want, true, p->endpoint, sizeof p->endpoint);
        if (!p->sock) rc = IPC_ESYS;
    }
    if (rc != IPC_OK) {
        ipc_zmq_pub_free(p);
        return rc;
    }
    *out = p;
    return IPC_OK;
}

const char *ipc_zmq_pub_endpoint(const ipc_zmq_pub *p)
{
    if (!p) return ipc__fail(IPC_EINVAL, "ipc_zmq_pub_endpoint: publisher is NULL"), NULL;
    return p->endpoint;
}

int ipc_zmq_publish(ipc_zmq_pub *p, const char *topic, const void *msg, size_t len)
{
    if (!p || !topic || (!msg && len)) return ipc__fail(IPC_EINVAL, "ipc_zmq_publish: NULL argument");
    /* Two parts: the topic (what SUB sockets filter on), then the payload.
     * PUB never blocks: at a subscriber's HWM its copy is dropped. */
    if (zmq_send(p->sock, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
        || zmq_send(p->sock, len ? msg : "", len, ZMQ_DONTWAIT) < 0)
        return ipc__fail(IPC_ESYS, "zmq_send(PUB)");
    return IPC_OK;
}

void ipc_zmq_pub_free(ipc_zmq_pub *p)
{
    if (!p) return;
    if (p->sock) zmq_close(p->sock);
    if (p->dir[0]) {
        remove_ipc_file(p->endpoint);
        rmdir(p->dir);
    }
    if (p->ctx) ctx_release();
    free(p);
}

struct ipc_zmq_sub {
    void     *ctx, *sock;
    zmq_msg_t held; /* the next payload, when it did not fit */
    bool      has_held;
};

int ipc_zmq_sub_open(const char *endpoint, const char *topic, ipc_zmq_sub **out)
{
    if (!out) return ipc__fail(IPC_EINVAL, "ipc_zmq_sub_open: out is NULL");
    *out = NULL;
    if (!endpoint || !topic) return ipc__fail(IPC_EINVAL, "ipc_zmq_sub_open: NULL endpoint or topic");
    ipc_zmq_sub *s = calloc(1, sizeof *s);
    if (!s) return ipc__fail(IPC_ESYS, "calloc");
    zmq_msg_init(&s->held);
    int rc = ctx_acquire(&s->ctx);
    if (rc == IPC_OK) {
        s->sock = open_socket(s->ctx, ZMQ_SUB, 1000, 0, endpoint, false, NULL, 0);
        if (!s->sock) rc = IPC_ESYS;
    }
    if (rc == IPC_OK && zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, topic, strlen(topic)) < 0)
        rc = ipc__fail(IPC_ESYS, "zmq_setsockopt(ZMQ_SUBSCRIBE)");
    if (rc != IPC_OK) {
        ipc_zmq_sub_free(s);
        return rc;
    }
    *out = s;
    return IPC_OK;
}

int ipc_zmq_sub_recv(ipc_zmq_sub *s, void *buf, size_t cap, size_t *len, int timeout_ms)
{
    if (!s || !len || (!buf && cap)) return ipc__fail(IPC_EINVAL, "ipc_zmq_sub_recv: NULL argument");
    ipc_deadline d;
    int bad = ipc__deadline_begin(&d, timeout_ms, "ipc_zmq_sub_recv");
    if (bad != IPC_OK) return bad;
    while (!s->has_held) {
        if (zmq_msg_recv(&s->held, s->sock, ZMQ_DONTWAIT) >= 0) {
            /* [topic][payload]: keep the last part (the payload) */
            while (zmq_msg_more(&s->held))
                if (zmq_msg_recv(&s->held, s->sock, ZMQ_DONTWAIT) < 0) return ipc__fail(IPC_ESYS, "zmq_msg_recv");
            s->has_held = true;
            break;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN) return ipc__fail(IPC_ESYS, "zmq_msg_recv(SUB)");
        if (ipc__deadline_passed(&d)) return ipc__fail(IPC_EEMPTY, "zmq: nothing published before the deadline");
        int rc = wait_socket(s->sock, ZMQ_POLLIN, -1, &d);
        if (rc != IPC_OK) return rc;
    }
    *len = zmq_msg_size(&s->held);
    if (*len > cap) return ipc__fail(IPC_EMSGSIZE, "zmq: message of %zu bytes does not fit a %zu-byte buffer", *len, cap);
    if (*len) memcpy(buf, zmq_msg_data(&s->held), *len);
    zmq_msg_close(&s->held);
    zmq_msg_init(&s->held);
    s->has_held = false;
    return IPC_OK;
}

void ipc_zmq_sub_free(ipc_zmq_sub *s)
{
    if (!s) return;
    zmq_msg_close(&s->held);
    if (s->sock) zmq_close(s->sock);
    if (s->ctx) ctx_release();
    free(s);
}

/* ThreadSanitizer's suppressions for libzmq live in tests/tsan_suppressions.c,
 * linked into the programs of a SANITIZE=thread build, not into the library. */

/* ---- the mechanism ----------------------------------------------------- */

/* The senders' address (the receivers' one follows from it). */
static int zq_attach_config(const ipc_channel *ch, ipc_config *cfg)
{
    cfg->endpoint = ((const zmq_channel *)ch)->in_ep;
    return IPC_OK;
}

static const struct ipc_ops zmq_ops = {
    .open = zq_open, .send = zq_send, .recv = zq_recv, .close = zq_close,
    .free = zq_free, .pollfd = NULL, /* ZMQ_FD is edge-triggered: see the top */
    .depth = NULL,                   /* messages hide in pipes and kernel buffers */
    .attach_config = zq_attach_config,
};

const ipc_mechanism ipc_mech_zmq = {
    .name = "zmq", .family = "brokers",
    .family_id = IPC_FAMILY_BROKERS, .carrier = IPC_CARRIER_BROKER,
    .summary = "ZeroMQ PUSH/PULL through a streamer device; ipc:// by default, tcp:// across hosts",
    .caps = IPC_CAP_THREADS | IPC_CAP_UNRELATED | IPC_CAP_HOSTS | IPC_CAP_MPMC | IPC_CAP_FIFO
          | IPC_CAP_BROADCAST | IPC_CAP_CLOSE_WAKES,
    .max_msg_limit = 64u << 20, .default_max_msg = 1u << 20, .default_capacity = DEFAULT_HWM,
    .wait_strategy = "zmq_poll (I/O thread + device thread)", .ops = &zmq_ops,
};
