/*
 * tcp.c — TCP, on the loopback device by default or between hosts.
 *
 * The owner listens on cfg->endpoint ("host:port"; default "127.0.0.1:0",
 * port 0 letting the kernel pick a free one: see ipc_tcp_port) and then
 * connects to itself once.  The connecting socket is the handle's send
 * side, the accepted one its receive side, and stream.c frames messages on
 * it exactly as on a pipe — only the bytes take the whole TCP/IP path
 * through the loopback device.  So a handle works alone, across threads and
 * across fork().  TCP_NODELAY is set: each frame leaves at once, instead of
 * Nagle's algorithm holding a small frame back until the previous one is
 * acknowledged (the classic 40 ms stall of request/response over TCP).
 *
 * Attachers are senders.  Any process, on this host or another, may open
 * the channel with IPC_ATTACH and cfg->endpoint "host:port".  A TCP
 * connection cannot be handed to another process the way a Unix socket
 * passes file descriptors, so the owner runs a relay thread: it accepts
 * attachers (answering each with a hello that carries max_msg), reads their
 * frames with stream.c's parser, one per connection, and forwards each
 * whole message into the channel, where any receiver — the owner or its
 * fork()ed children — takes it.  An attacher's ipc_recv answers IPC_ENOTSUP.
 *
 *   Backpressure: when the channel is full the relay waits and stops
 *   reading; the attacher's socket buffers fill and its sends block or time
 *   out, like any sender's.
 *   Shutdown: the relay watches the channel's shut-down eventfd and then
 *   hangs up on every attacher (and on any that still connects); an
 *   attacher notices at its next send, which fails with IPC_ECLOSED.
 *   Messages still in flight from an attacher at that moment are dropped,
 *   as puts after a shutdown are.  An attacher's own ipc_close only ends
 *   its connection: a remote process cannot shut the owner's channel down.
 *   Peer death: an attacher that dies mid-message is dropped with its half
 *   message; the channel itself never sees a partial frame.
 *   Limits: a fork()ed child holds copies of the attachers' connections
 *   (fds) until it exits or execs, so a hang-up reaches them only then.
 *   The owner's ipc_free: the relay stops (its queued attachers' messages
 *   are dropped, as at shutdown), and the channel stays whole for the
 *   holders the owner fork()ed.  If the relay is in the middle of writing
 *   a message into a full channel, it cannot stop without tearing that
 *   frame for everyone: ipc_free then returns after ~1.25 s and leaves the
 *   relay thread running on its own; it finishes the frame (and forwards
 *   what else fits) as receivers make room, then ends and releases the
 *   handle.  If the owner's process exits before that, the holders'
 *   receives say IPC_ECLOSED "stream broken" (write_lock's owner died
 *   mid-frame) — the one case in which the owner takes the channel along.
 *
 * Frames carry their length in host byte order (stream.h): hosts of
 * different endianness cannot share a channel.
 */
#define _GNU_SOURCE
#include "pipes/tcp.h"
#include "named.h"

#include <arpa/inet.h>
#include <linux/sock_diag.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TCP_HELLO_KIND 0x544350u /* "TCP" */
#define TCP_DEFAULT_ENDPOINT "127.0.0.1:0"

typedef struct tcp_conn { ipc_stream s; } tcp_conn; /* one attacher, as the relay sees it */

/* Room known to be left in the sending socket (see "send" below); shared by
 * every holder of the socket, so it lives in a fork()-shared mapping. */
typedef struct tcp_room { atomic_long budget; } tcp_room;

typedef struct tcp_chan {
    ipc_stream  s;         /* owner: rfd accepted, wfd connecting; attacher: its connection */
    tcp_room   *room;
    bool        attached;
    int         listen_fd; /* owner: -1 in an attacher                                     */
    int         port;
    char        endpoint[INET6_ADDRSTRLEN + 16]; /* "host:port" an attacher connects to     */
    /* the relay (owner only) */
    ipc_helper  relay;
    ipc_stream *out;       /* the relay's send handle into s (shares s.shared, its write lock) */
    pthread_mutex_t busy_lock;
    int         busy_fd;   /* the attacher being read now, for unstick_reading (-1: none) */
    atomic_int  relay_state; /* RELAY_RUNNING, RELAY_DONE (it returned) or RELAY_ORPHANED
                                (the owner's free left the rest of the release to it) */
} tcp_chan;

enum { RELAY_RUNNING = 0, RELAY_DONE, RELAY_ORPHANED };

extern const ipc_mechanism ipc_mech_tcp;


/* ---- addresses --------------------------------------------------------- */

/* "host:port", "[v6addr]:port", optionally after "tcp://". */
static int resolve(const char *endpoint, struct sockaddr_storage *ss, socklen_t *len)
{
    const char *e = strncmp(endpoint, "tcp://", 6) == 0 ? endpoint + 6 : endpoint;
    const char *host = e, *colon;
    size_t hlen;
    if (*e == '[') {
        const char *close = strchr(e, ']');
        colon = close && close[1] == ':' ? close + 1 : NULL;
        host = e + 1;
        hlen = close ? (size_t)(close - host) : 0;
    } else {
        colon = strrchr(e, ':');
        hlen = colon ? (size_t)(colon - e) : 0;
    }
    char h[256];
    const char *port = colon ? colon + 1 : "";
    size_t plen = strlen(port);
    if (!colon || hlen == 0 || hlen >= sizeof h || plen == 0 || plen > 5
        || strspn(port, "0123456789") != plen || atol(port) > 65535)
        return ipc__fail(IPC_EINVAL, "tcp: endpoint '%s' is not \"host:port\" (port 0..65535)", endpoint);
    memcpy(h, host, hlen);
    h[hlen] = '\0';
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
    struct addrinfo *ai = NULL;
    int gerr = getaddrinfo(h, port, &hints, &ai);
    if (gerr) return ipc__fail(IPC_EINVAL, "tcp: endpoint '%s': %s", endpoint, gai_strerror(gerr));
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return IPC_OK;
}

static int port_of(const struct sockaddr_storage *ss)
{
    return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
                                           : ((const struct sockaddr_in *)ss)->sin_port);
}

/* Remember the address attachers connect to, as resolve() reads it back:
 * "127.0.0.1:40123", "[::1]:40123" (ipc_attach_config hands it out). */
static int set_endpoint(tcp_chan *t, const struct sockaddr_storage *ss)
{
    bool v6 = ss->ss_family == AF_INET6;
    char host[INET6_ADDRSTRLEN];
    if (!inet_ntop(ss->ss_family, v6 ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
                                     : (const void *)&((const struct sockaddr_in *)ss)->sin_addr,
                   host, sizeof host))
        return ipc__fail(IPC_ESYS, "tcp: inet_ntop");
    snprintf(t->endpoint, sizeof t->endpoint, v6 ? "[%s]:%d" : "%s:%d", host, port_of(ss));
    return IPC_OK;
}

static int set_nodelay(int fd)
{
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        return ipc__fail(IPC_ESYS, "setsockopt(TCP_NODELAY)");
    return IPC_OK;
}

/* ---- send: whole frames or nothing ----------------------------------------
 *
 * stream.c lets a frame's first byte go only when it can finish the frame:
 * after that it must complete it whatever the deadline (a half frame would
 * corrupt the stream).  A pipe takes a small write whole or not at all, and
 * so does a Unix stream socket.  TCP does not: it appends to its last
 * segment and refuses a new one once the queued memory (sk_wmem_queued)
 * reaches SO_SNDBUF, so a non-blocking send into a nearly full socket can
 * take 440 bytes of a 1028-byte frame.  With no receiver running, the
 * sender would then wait for room forever: a put_nowait that hangs.
 *
 * So before a frame starts, look at the socket's memory (SO_MEMINFO): if the
 * frame and some bookkeeping do not fit under SO_SNDBUF, wait for POLLOUT
 * like a full channel, under the caller's deadline.  TCP reports POLLOUT
 * when a third of the buffer is free, so for frames up to a quarter of the
 * buffer POLLOUT means "fits" and the wait cannot spin.  Bigger frames get
 * no promise (after a wait for POLLOUT they are simply started); concurrent
 * senders may also race between the look and the write lock.  Both fall
 * back to stream.c's rule: the frame is finished as receivers make room.
 *
 * Asking the kernel on every send cost a third of the small-message
 * throughput, so the answer is kept as a budget: the room the last look
 * found, from which every frame then pays a generous estimate of what it
 * costs the socket.  Only when the budget is spent is the kernel asked
 * again.  Acknowledged data only ever gives room back, so the budget errs
 * on the safe side. */
static long frame_cost(size_t total) { return (long)(total + total / 16 + 256); }

static void charge(tcp_room *r, size_t total)
{
    atomic_fetch_sub_explicit(&r->budget, frame_cost(total), memory_order_relaxed);
}

static bool frame_fits(tcp_chan *t, size_t total)
{
    long cost = frame_cost(total);
    if (atomic_fetch_sub_explicit(&t->room->budget, cost, memory_order_relaxed) >= cost) return true;
    uint32_t mi[SK_MEMINFO_VARS];
    socklen_t ml = sizeof mi;
    if (getsockopt(t->s.wfd, SOL_SOCKET, SO_MEMINFO, mi, &ml) < 0) return true; /* cannot tell: try */
    size_t sndbuf = mi[SK_MEMINFO_SNDBUF], queued = mi[SK_MEMINFO_WMEM_QUEUED];
    size_t need = total + total / 8 + 4096; /* payload, segment headers, slack */
    if (need > sndbuf / 4) return true;       /* no promise possible (see above) */
    if (queued + need > sndbuf) return false; /* budget stays spent: look again next time */
    atomic_store_explicit(&t->room->budget, (long)(sndbuf - queued - need), memory_order_relaxed);
    return true;
}

/* A batch (stream.c's ipc__stream_send_batch, write_lock held): how many
 * bytes of `want` may start in one sendmsg with every frame going in whole.
 * The same rule as one frame, for the whole write (TCP packs a write's
 * bytes into segments regardless of where frames end): paid from the
 * budget when it holds enough, else from one look at the socket, which
 * refills the budget.  *room 0: the next frame goes through tcp_send,
 * which waits for room under the deadline. */
static int tcp_batch_room(ipc_stream *s, size_t want, size_t *room)
{
    tcp_chan *t = (tcp_chan *)s; /* set only on tcp_chan handles (tcp_open) */
    if (t->attached) { /* as tcp_send: a hung-up owner is told now */
        char byte;
        ssize_t n = recv(t->s.rfd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return ipc__fail(IPC_ECLOSED, "tcp: the owner hung up (channel shut down, or owner gone)");
    }
    long cost = frame_cost(want);
    *room = want;
    if (atomic_fetch_sub_explicit(&t->room->budget, cost, memory_order_relaxed) >= cost) return IPC_OK;
    *room = 0;
    uint32_t mi[SK_MEMINFO_VARS];
    socklen_t ml = sizeof mi;
    if (getsockopt(t->s.wfd, SOL_SOCKET, SO_MEMINFO, mi, &ml) < 0) return IPC_OK; /* cannot tell: one by one */
    size_t sndbuf = mi[SK_MEMINFO_SNDBUF], queued = mi[SK_MEMINFO_WMEM_QUEUED];
    if (queued + 4096 >= sndbuf) return IPC_OK; /* budget stays spent: look again next time */
    size_t left = sndbuf - queued - 4096, need = want + want / 8; /* payload, segment headers */
    *room = need <= left ? want : left / 9 * 8;
    /* RELAXED: a hint shared by senders, as in frame_fits */
    atomic_store_explicit(&t->room->budget, need <= left ? (long)(left - need) : 0, memory_order_relaxed);
    return IPC_OK;
}

/* ---- the relay: attachers' messages into the channel ------------------- */

static void release_rest(tcp_chan *t);

typedef struct relay {
    tcp_chan      *t;
    tcp_conn     **conns;
    size_t         n, allocated;
    unsigned char *buf;   /* one message, max_msg bytes (made for the first attacher) */
    bool           shut;  /* the channel was shut down: take no one in */
} relay;

static void set_busy(tcp_chan *t, int fd)
{
    pthread_mutex_lock(&t->busy_lock);
    t->busy_fd = fd;
    pthread_mutex_unlock(&t->busy_lock);
}

static void drop(tcp_conn *c)
{
    pthread_mutex_unlock(&c->s.shared->write_lock);
    ipc__stream_destroy(&c->s); /* closes the socket: the attacher sees the hang-up */
    free(c);
}

static bool grow_conns(relay *r)
{
    if (r->n < r->allocated) return true;
    size_t more = r->allocated ? 2 * r->allocated : 8;
    tcp_conn **c = realloc(r->conns, more * sizeof *c);
    if (!c) return false;
    r->conns = c;
    r->allocated = more;
    return true;
}

static void admit(relay *r)
{
    tcp_chan *t = r->t;
    const ipc_hello hello = { .magic = IPC_HELLO_MAGIC, .kind = TCP_HELLO_KIND, .max_msg = t->s.base.max_msg };
    for (;;) {
        int fd = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            /* Out of fds or memory: the caller stays queued and the listening
             * socket stays readable; pause instead of spinning on it. */
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                struct pollfd p = { .fd = t->relay.stop_fd, .events = POLLIN };
                poll(&p, 1, 50);
            }
            return; /* EAGAIN: nobody else is waiting */
        }
        /* After a shutdown, or when we cannot serve it: hang up at once
         * (its ipc_open then fails with IPC_ECLOSED). */
        tcp_conn *c = NULL;
        if (r->shut || !grow_conns(r) || set_nodelay(fd) != IPC_OK
            || ipc__hello_send(fd, &hello, NULL, 0) != IPC_OK
            || !(c = ipc__channel_alloc(sizeof *c, &ipc_mech_tcp, &(ipc_config){ .max_msg = t->s.base.max_msg }))
            || ipc__stream_init(&c->s, fd, fd, true, NULL) != IPC_OK) {
            close(fd);
            free(c);
            continue;
        }
        /* The relay holds the connection's write lock for as long as it
         * serves it.  stream.c judges a sender that stalls mid-frame by that
         * lock (free = the sender died); this sender lives in another
         * process, and its death shows as end-of-file instead. */
        ipc__lock(&c->s.shared->write_lock, &ipc__forever, NULL);
        r->conns[r->n++] = c;
    }
}

/* Move every whole message the attacher has sent into the channel.
 * Returns false when its connection is over (or unusable). */
static bool forward(relay *r, tcp_conn *c)
{
    tcp_chan *t = r->t;
    if (!r->buf && !(r->buf = malloc(t->s.base.max_msg ? t->s.base.max_msg : 1))) return false;
    bool alive = true;
    set_busy(t, c->s.rfd);
    for (;;) {
        size_t len;
        int prio;
        int rc = ipc__stream_recv(&c->s.base, r->buf, t->s.base.max_msg, &len, &prio, &ipc__nowait);
        if (rc == IPC_EEMPTY) break;
        /* End-of-file, a broken frame, or one above max_msg (a peer that
         * ignored the hello): this attacher is done. */
        if (rc != IPC_OK) { alive = false; break; }
        /* Waits while the channel is full (backpressure); gives up on
         * shutdown or when the relay is told to stop. */
        charge(t->room, IPC_STREAM_HEADER + len); /* the local senders' budget is ours too */
        if (ipc__stream_send(&t->out->base, r->buf, len, 0, &ipc__forever) != IPC_OK) { alive = false; break; }
    }
    set_busy(t, -1);
    return alive;
}

static void *relay_main(void *arg)
{
    relay r = { .t = arg };
    tcp_chan *t = r.t;
    struct pollfd *p = NULL;
    for (size_t slots = 0;;) {
        if (slots < 3 + r.n) {
            slots = 3 + r.allocated;
            struct pollfd *np = realloc(p, slots * sizeof *p);
            if (!np) break;
            p = np;
        }
        p[0] = (struct pollfd){ .fd = t->relay.stop_fd, .events = POLLIN };
        p[1] = (struct pollfd){ .fd = t->listen_fd, .events = POLLIN };
        p[2] = (struct pollfd){ .fd = r.shut ? -1 : t->s.shut_fd, .events = POLLIN };
        for (size_t i = 0; i < r.n; i++) p[3 + i] = (struct pollfd){ .fd = r.conns[i]->s.rfd, .events = POLLIN };
        if (poll(p, 3 + r.n, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p[0].revents) break; /* ipc_free */
        if (p[2].revents) r.shut = true;
        size_t kept = 0;
        for (size_t i = 0; i < r.n; i++) {
            tcp_conn *c = r.conns[i];
            if (!r.shut && (!p[3 + i].revents || forward(&r, c))) r.conns[kept++] = c;
            else drop(c);
        }
        r.n = kept;
        if (p[1].revents) admit(&r);
    }
    for (size_t i = 0; i < r.n; i++) drop(r.conns[i]);
    free(r.conns);
    free(r.buf);
    free(p);
    /* SEQ_CST: pairs with the owner's exchange in stop_relay — exactly one
     * of the two sees the other's value and releases the handle. */
    if (atomic_exchange(&t->relay_state, RELAY_DONE) == RELAY_ORPHANED) release_rest(t);
    return NULL;
}

/* ipc_free waited a second and the relay is still busy: it is in the middle
 * of a message, either reading one from a stalled attacher or writing one
 * into a full channel that nobody drains.  End-of-file on the attacher's
 * side ends the first (the attacher's connection is the relay's alone). */
static void unstick_reading(tcp_chan *t)
{
    pthread_mutex_lock(&t->busy_lock);
    if (t->busy_fd >= 0) shutdown(t->busy_fd, SHUT_RD);
    pthread_mutex_unlock(&t->busy_lock);
}

/* Stop the relay (ipc_free of the owner, in the process that runs it).
 * true: it ended, release everything.  false: it is writing a frame into a
 * full channel and cannot stop without tearing that frame for every holder
 * (issue 12 defect 9: this used to shut the shared socket's send side,
 * which cut the fork()ed holders' sends and left them a torn frame).  It is
 * detached instead: it finishes the frame as receivers make room, stops,
 * and releases the handle itself (release_rest).  If the process exits
 * first, the holders find write_lock's owner dead mid-frame: "stream
 * broken", never a silent cut. */
static bool stop_relay(tcp_chan *t)
{
    uint64_t one = 1;
    if (write(t->relay.stop_fd, &one, sizeof one) < 0) { /* cannot fail: counter far from max */ }
    for (int round = 0; round < 2; round++) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until); /* pthread_timedjoin_np takes CLOCK_REALTIME */
        ipc__timespec_add_ns(&until, (round == 0 ? 1000 : 250) * 1000000LL); /* then a reader's EOF is quick */
        if (pthread_timedjoin_np(t->relay.thread, NULL, &until) == 0) return true;
        if (round == 0) unstick_reading(t);
    }
    /* Read before the exchange: once it says ORPHANED the relay may end
     * and free t at any moment (TSan saw stop_relay read t->relay.thread
     * after release_rest had freed it). */
    pthread_t relay = t->relay.thread;
    /* SEQ_CST: pairs with the relay's exchange at its end */
    if (atomic_exchange(&t->relay_state, RELAY_ORPHANED) == RELAY_DONE) {
        pthread_join(relay, NULL); /* it just returned */
        return true;
    }
    pthread_detach(relay); /* t may be gone already: only the id is used */
    return false;
}

static int start_relay(tcp_chan *t)
{
    int err = pthread_mutex_init(&t->busy_lock, NULL);
    if (err) {
        errno = err;
        return ipc__fail(IPC_ESYS, "pthread_mutex_init");
    }
    t->busy_fd = -1;
    int rc = ipc__helper_init(&t->relay);
    if (rc != IPC_OK) return rc;
    /* The relay sends through its own handle on the channel's socket and
     * shared state, whose "shut down" fd is the relay's stop fd: a relay
     * waiting for room in a full channel wakes when ipc_free stops it. */
    t->out = ipc__channel_alloc(sizeof *t->out, &ipc_mech_tcp, &(ipc_config){ .max_msg = t->s.base.max_msg });
    if (!t->out) return IPC_ESYS;
    t->out->rfd = t->out->wfd = t->out->shut_fd = -1;
    int fd = fcntl(t->s.wfd, F_DUPFD_CLOEXEC, 0);
    int stop = fcntl(t->relay.stop_fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0 || stop < 0) {
        rc = ipc__fail(IPC_ESYS, "fcntl(F_DUPFD_CLOEXEC)");
        if (fd >= 0) close(fd);
        if (stop >= 0) close(stop);
        return rc;
    }
    rc = ipc__stream_init(t->out, fd, fd, true, t->s.shared); /* on failure fd is still in out */
    ipc__named_adopt_shut_fd(t->out, stop);
    return rc == IPC_OK ? ipc__helper_start(&t->relay, relay_main, t) : rc;
}

/* ---- open -------------------------------------------------------------- */

/* Connect to our own listening socket and accept that connection. */
static int loopback(tcp_chan *t)
{
    struct sockaddr_storage a;
    socklen_t alen = sizeof a;
    if (getsockname(t->listen_fd, (struct sockaddr *)&a, &alen) < 0) return ipc__fail(IPC_ESYS, "getsockname");
    t->port = port_of(&a);
    /* Listening on every address: talk to ourselves over loopback. */
    if (a.ss_family == AF_INET && ((struct sockaddr_in *)&a)->sin_addr.s_addr == htonl(INADDR_ANY))
        ((struct sockaddr_in *)&a)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (a.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&a)->sin6_addr))
        ((struct sockaddr_in6 *)&a)->sin6_addr = in6addr_loopback;
    int rc = set_endpoint(t, &a);
    if (rc != IPC_OK) return rc;
    t->s.wfd = socket(a.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (t->s.wfd < 0) return ipc__fail(IPC_ESYS, "socket");
    ipc_deadline d;
    ipc__deadline_start(&d, IPC_ATTACH_TIMEOUT_MS);
    rc = ipc__named_connect(t->s.wfd, (struct sockaddr *)&a, alen, &d);
    if (rc != IPC_OK) return rc;
    struct sockaddr_storage mine, peer;
    socklen_t ml = sizeof mine;
    if (getsockname(t->s.wfd, (struct sockaddr *)&mine, &ml) < 0) return ipc__fail(IPC_ESYS, "getsockname");
    for (;;) { /* with a fixed port, an early attacher may be queued first: refuse it */
        int w = ipc__wait_fd(t->listen_fd, POLLIN, -1, &d);
        if (w == 0) {
            errno = ETIMEDOUT;
            return ipc__fail(IPC_ESYS, "tcp: accepting our own connection");
        }
        if (w < 0) return w;
        socklen_t pl = sizeof peer;
        int fd = accept4(t->listen_fd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) continue;
            return ipc__fail(IPC_ESYS, "accept");
        }
        if (pl == ml && memcmp(&peer, &mine, ml) == 0) {
            t->s.rfd = fd;
            return IPC_OK;
        }
        close(fd);
    }
}

static int owner_open(tcp_chan *t, const ipc_config *cfg)
{
    const char *endpoint = cfg->endpoint ? cfg->endpoint : TCP_DEFAULT_ENDPOINT;
    struct sockaddr_storage a;
    socklen_t alen;
    int rc = resolve(endpoint, &a, &alen);
    if (rc != IPC_OK) return rc;
    t->listen_fd = socket(a.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (t->listen_fd < 0) return ipc__fail(IPC_ESYS, "socket");
    int one = 1; /* a fixed port can be reused at once after the last owner */
    if (setsockopt(t->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        return ipc__fail(IPC_ESYS, "setsockopt(SO_REUSEADDR)");
    if (bind(t->listen_fd, (struct sockaddr *)&a, alen) < 0) return ipc__fail(IPC_ESYS, "tcp: bind('%s')", endpoint);
    if (listen(t->listen_fd, 64) < 0) return ipc__fail(IPC_ESYS, "listen");
    if ((rc = loopback(t)) != IPC_OK) return rc;
    if ((rc = set_nodelay(t->s.wfd)) != IPC_OK || (rc = set_nodelay(t->s.rfd)) != IPC_OK) return rc;
    if ((rc = ipc__stream_init(&t->s, t->s.rfd, t->s.wfd, true, NULL)) != IPC_OK) return rc;
    if (!(t->room = ipc__shared_alloc(sizeof *t->room))) return IPC_ESYS; /* budget 0: look first */
    return start_relay(t);
}

static int attacher_open(tcp_chan *t, const ipc_config *cfg)
{
    if (!cfg->endpoint) return ipc__fail(IPC_EINVAL, "tcp: IPC_ATTACH needs cfg->endpoint \"host:port\"");
    struct sockaddr_storage a;
    socklen_t alen;
    int rc = resolve(cfg->endpoint, &a, &alen);
    if (rc == IPC_OK) rc = set_endpoint(t, &a);
    if (rc != IPC_OK) return rc;
    t->port = port_of(&a);
    t->attached = true;
    t->s.rfd = t->s.wfd = socket(a.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (t->s.wfd < 0) return ipc__fail(IPC_ESYS, "socket");
    ipc_deadline d;
    ipc__deadline_start(&d, IPC_ATTACH_TIMEOUT_MS);
    ipc_hello h;
    rc = ipc__named_connect(t->s.wfd, (struct sockaddr *)&a, alen, &d);
    if (rc == IPC_ESYS) ipc__fail(IPC_ESYS, "tcp: connect('%s')", cfg->endpoint);
    if (rc == IPC_OK) rc = ipc__hello_recv(t->s.wfd, &h, NULL, 0, &d);
    if (rc == IPC_OK) rc = ipc__hello_check(&h, TCP_HELLO_KIND, ipc_mech_tcp.max_msg_limit, "tcp");
    if (rc == IPC_OK) rc = set_nodelay(t->s.wfd);
    if (rc == IPC_OK) rc = ipc__stream_init(&t->s, t->s.wfd, t->s.wfd, true, NULL);
    if (rc == IPC_OK && !(t->room = ipc__shared_alloc(sizeof *t->room))) rc = IPC_ESYS;
    if (rc == IPC_OK) t->s.base.max_msg = (size_t)h.max_msg; /* the channel's limit is the owner's */
    return rc;
}

/* Everything this handle holds but the relay thread, which has ended (or
 * never ran here).  Called by tcp_release, or by an orphaned relay. */
static void release_rest(tcp_chan *t)
{
    int saved = errno;
    if (t->relay.stop_fd >= 0) close(t->relay.stop_fd);
    t->relay.stop_fd = -1;
    if (t->relay.pid == getpid()) pthread_mutex_destroy(&t->busy_lock);
    t->relay.pid = 0;
    if (t->out) {
        t->out->shared = NULL; /* it is s's */
        ipc__stream_destroy(t->out);
        free(t->out);
    }
    if (t->listen_fd >= 0) close(t->listen_fd);
    ipc__shared_free(t->room, sizeof *t->room);
    ipc__stream_destroy(&t->s);
    free(t);
    errno = saved;
}

/* Everything this handle holds (errno kept, as after a failed open). */
static void tcp_release(tcp_chan *t)
{
    /* the relay runs in the process that started it, not in fork()ed copies */
    if (!t->attached && t->relay.stop_fd >= 0 && t->relay.pid == getpid() && !stop_relay(t))
        return; /* the orphaned relay releases the rest when its frame is done */
    release_rest(t);
}

static void tcp_free(ipc_channel *ch) { tcp_release((tcp_chan *)ch); }

static int tcp_open(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out)
{
    if (cfg->name) return ipc__fail(IPC_EINVAL, "tcp: takes cfg->endpoint \"host:port\", not a name");
    tcp_chan *t = ipc__channel_alloc(sizeof *t, m, cfg);
    if (!t) return IPC_ESYS;
    t->s.rfd = t->s.wfd = t->s.shut_fd = t->listen_fd = t->relay.stop_fd = -1;
    int rc = (cfg->flags & IPC_ATTACH) ? attacher_open(t, cfg) : owner_open(t, cfg);
    if (rc != IPC_OK) {
        tcp_release(t);
        return rc;
    }
    t->s.batch_room = tcp_batch_room;
    *out = &t->s.base;
    return IPC_OK;
}

/* ---- ops that differ for an attacher ------------------------------------ */

static int tcp_send(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    tcp_chan *t = (tcp_chan *)ch;
    if (!frame_fits(t, IPC_STREAM_HEADER + len)) {
        if (atomic_load(&t->s.shared->shut)) return ipc__fail(IPC_ECLOSED, "channel is shut down");
        ipc__blocked(ch, IPC_EV_SEND_BLOCKED);
        int w = ipc__wait_fd(t->s.wfd, POLLOUT, t->s.shut_fd, d);
        if (w == 0) return ipc__fail(IPC_EFULL, "channel is full");
        if (w == IPC_ECLOSED) return ipc__fail(IPC_ECLOSED, "channel is shut down");
        if (w < 0) return w;
    }
    if (t->attached) {
        /* The relay never writes after its hello, so anything readable is
         * its hang-up (shutdown, or the owner is gone): say so now, rather
         * than on the send after next, when TCP would report the reset. */
        char byte;
        ssize_t n = recv(t->s.rfd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return ipc__fail(IPC_ECLOSED, "tcp: the owner hung up (channel shut down, or owner gone)");
    }
    return ipc__stream_send(ch, msg, len, prio, d);
}

static int tcp_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    if (((tcp_chan *)ch)->attached)
        return ipc__fail(IPC_ENOTSUP, "tcp: an attached handle only sends; the owner's side receives");
    return ipc__stream_recv(ch, buf, cap, len, prio, d);
}

static int tcp_close(ipc_channel *ch)
{
    tcp_chan *t = (tcp_chan *)ch;
    int rc = ipc__stream_close(ch);
    /* An attacher ends its connection: the relay forwards what was sent
     * before, then sees end-of-file. */
    if (t->attached && shutdown(t->s.wfd, SHUT_WR) < 0 && errno != ENOTCONN && rc == IPC_OK)
        rc = ipc__fail(IPC_ESYS, "shutdown(SHUT_WR)");
    return rc;
}

static int tcp_pollfd(ipc_channel *ch)
{
    return ((tcp_chan *)ch)->attached ? -1 : ipc__stream_pollfd(ch);
}

int ipc_tcp_port(const ipc_channel *ch)
{
    if (ipc_channel_mechanism(ch) != &ipc_mech_tcp)
        return ipc__fail(IPC_EINVAL, "ipc_tcp_port: not a tcp channel");
    return ((const tcp_chan *)ch)->port;
}

/* Owner and attachers alike: the host:port that reaches the relay. */
static int tcp_attach_config(const ipc_channel *ch, ipc_config *cfg)
{
    cfg->endpoint = ((const tcp_chan *)ch)->endpoint;
    return IPC_OK;
}

static const struct ipc_ops tcp_ops = {
    .open = tcp_open, .send = tcp_send, .recv = tcp_recv, .close = tcp_close,
    .free = tcp_free, .pollfd = tcp_pollfd, .depth = NULL, .attach_config = tcp_attach_config,
};

const ipc_mechanism ipc_mech_tcp = {
    .name = "tcp", .family = "pipes",
    .family_id = IPC_FAMILY_PIPES, .carrier = IPC_CARRIER_TCP,
    .summary = "TCP over loopback (TCP_NODELAY), length-prefixed frames; attachers send by host:port",
    .caps = IPC_CAP_THREADS | IPC_CAP_FORK | IPC_CAP_UNRELATED | IPC_CAP_HOSTS | IPC_CAP_MPMC
          | IPC_CAP_FIFO | IPC_CAP_POLL | IPC_CAP_CLOSE_WAKES,
    .max_msg_limit = IPC_STREAM_MAX_MSG, .default_max_msg = 1 << 20, .default_capacity = 0,
    .wait_strategy = "kernel block (poll)", .ops = &tcp_ops,
    .waits = IPC_WAITS_ALL, .wait_default = IPC_WAIT_BLOCK,
};
