/*
 * websocket.c — "websocket": a channel served by a WebSocket server
 * (libwebsockets), reachable from other processes, other hosts and a browser.
 *
 * Topology.  The process that opens the channel (the owner) runs a small
 * server in a helper thread: it holds the queue, bounded at `capacity`
 * messages, and listens at the endpoint (ws://127.0.0.1:0/<generated path>
 * by default: loopback, the kernel picks the port, and ipc_attach_config
 * reports the real one).  The owner's own handles reach the queue directly,
 * under a mutex, like a thread queue: no socket between threads of one
 * process.  Every other holder — a fork()ed child (its inherited handle
 * connects on first use), an unrelated process or another host (IPC_ATTACH
 * with the endpoint), a browser — is a WebSocket client of that server.  The
 * same server answers a plain HTTP GET of the channel's path with a small
 * page (websocket_page.html, built into the library) that connects back,
 * shows what is published and sends what the user types.
 *
 * Wire protocol (subprotocol "ipcplay").  One ipcplay message is one binary
 * WebSocket message, in both directions; everything else is a short text
 * message.  A client has at most one send and one receive outstanding:
 *
 *   client -> server                      server -> client (exactly one reply)
 *   <binary>           send it            "s ok" | "s closed"   (parked while full,
 *                                          saying "s wait" first)
 *   "cancel-send"      give up waiting    "s cancelled" (after the send's reply,
 *                                          if the send was already answered)
 *   "pull <cap>"       receive one        <binary> | "r toobig <n>" | "r closed"
 *                                          ("r wait" first when it is parked)
 *   "cancel-pull"      give up waiting    "r cancelled" (likewise)
 *   "got"              the last <binary> arrived: the server may forget it
 *   "close"            ipc_close          "c ok"
 *   "sub <topic>"      subscribe          "sub ok"; then every published message
 *                                          whose topic starts with <topic>
 *   "pub <topic>"+<binary>  publish       "p <n>" (subscribers reached)
 *   on connect the server says "hello <max_msg> <capacity> <closed>".
 *
 * Invariants (all under srv->lock):
 *   - count + inflight <= capacity: a message handed to a client stays
 *     counted until the client says "got"; if its connection dies first, the
 *     message goes back to the head of the queue.  So capacity is exact
 *     (IPC_CAP_BOUNDED) and nothing a send acknowledged is lost when a
 *     receiver dies with a message on the wire.  (A receiver killed after
 *     "got" and before its ipc_recv returned loses that one message, like any
 *     receiver killed right after a receive.)
 *   - A send is acknowledged ("s ok") only once the message is in the queue;
 *     a parked send that is cancelled is dropped by the server before it
 *     answers "s cancelled", so IPC_EFULL really means "not sent".  A client
 *     whose connection dies while a send is on the wire answers IPC_ECLOSED
 *     and cannot know whether the server took it (the one exception to
 *     "failure = nothing sent", as for any network queue).
 *   - The EMSGSIZE rule is checked by the server before it dequeues: a
 *     message larger than the receiver's buffer stays at the head.
 *
 * Threads.  libwebsockets is single-threaded per context: only the helper
 * thread calls into lws, except lws_cancel_service(), which other threads
 * use to make it look at the queue again (LWS_CALLBACK_EVENT_WAIT_CANCELLED).
 * A client handle has its own client context and service thread; the
 * caller's thread queues a frame, kicks the service thread, and sleeps on a
 * condition variable until the reply or its deadline.
 *
 * Liveness.  Both sides send a WebSocket PING after `ping` idle seconds and
 * hang up if nothing valid arrived within `hangup` seconds (lws's idle
 * policy; defaults 5 and 15, or ?ping=N&hangup=M on the endpoint).  A close
 * frame, a dead TCP connection or a silent peer ends the connection: the
 * client's blocked and later calls answer IPC_ECLOSED; the server requeues
 * what the dead client had in flight and drops its parked send.
 *
 * Bad peers.  The server never blocks on a client: it only writes when lws
 * says the socket is writable, one frame fragment at a time.  A binary
 * message above max_msg, a text frame above CTRL_MAX, an unknown command, a
 * second outstanding send or pull, or more than OUT_MAX frames waiting for a
 * client that does not read (a slow subscriber) closes that connection
 * (counted in ipc_websocket_stats); plain HTTP gets the page or 404, garbage
 * gets lws's error and a closed socket.  Other clients are not affected.
 *
 * Close.  ipc_close (from any handle, in any process) marks the queue
 * closed: parked sends answer closed, parked pulls answer closed once the
 * queue is drained, the owner's blocked threads wake, the pollfd fires.
 * The server lives in the owner: when the owner frees its handle, the
 * channel ends and every client's calls answer IPC_ECLOSED.
 *
 * fork().  A child's inherited handle is not the owner (pid differs): on
 * first use it opens its own client connection, and never touches the
 * parent's server, lws contexts or locks (their threads did not come along);
 * g_adopt serialises that first use.  The child does inherit the server's
 * sockets, so after the owner frees the channel a listening socket stays
 * open until those children exit: a new attacher then gets no answer and
 * gives up after CONNECT_MS (IPC_ECLOSED) instead of being refused at once.
 *
 * Cost.  A client's send is a request and a reply, a receive a pull, the
 * message and "got", each through the service threads of both ends: about
 * ten thread hand-offs per round trip where a TCP stream needs two.  That
 * buys exact capacity and honest failures across processes and hosts;
 * threads of the owner pay none of it.
 *
 * pollfd.  The owner's handles: an eventfd that is readable exactly while
 * a message is queued or the channel is closed.  A client handle has no
 * local queue to watch and answers -1 (IPC_CAP_POLL describes the owner).
 *
 * Security.  Anyone who can reach the port and knows the path may use the
 * channel; the default path has 64 random bits in it and the default address
 * is loopback.  No TLS.
 */
#define _GNU_SOURCE
#include "brokers/ipc_websocket.h"
#include "brokers/websocket_proto.h"
#include "../ipc_internal.h"

#include <libwebsockets.h>

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define EP_MAX         512
#define HOST_MAX       256
#define PATH_MAX_WS    256
#define TOPIC_MAX      IPC_WS_TOPIC_MAX
#define CTRL_MAX       (TOPIC_MAX + 32) /* longest text frame accepted            */
#define CHUNK          (64 * 1024)      /* bytes written per writable callback     */
#define OUT_MAX        1024             /* frames queued for one client: then drop */
#define OUT_BYTES_MAX  (8u << 20)       /* ... or bytes (beyond one message)       */
#define LWS_FDS        8                /* descriptors a server needs, with margin: fewer left
                                        * and a failed start is blamed on ulimit -n */
#define SUBQ_MAX       256              /* published messages a subscriber buffers */
#define CONNECT_MS     5000

extern const ipc_mechanism ipc_mech_websocket;

/* The page, built in from websocket_page.html (see the Makefile rule). */
__asm__(".section .rodata\n"
        "ws_page_start:\n"
        ".incbin \"mechanisms/brokers/websocket_page.html\"\n"
        "ws_page_end:\n"
        ".byte 0\n"
        ".previous\n");
extern const char ws_page_start[], ws_page_end[];

/* ---- messages and outgoing frames -------------------------------------- */

/* A message with LWS_PRE bytes of headroom; shared (refs) by the
 * subscribers it is published to.  refs is changed under the owning lock. */
typedef struct ws_msg {
    int           refs;
    size_t        len;
    unsigned char data[];
} ws_msg;

static ws_msg *msg_new(const void *data, size_t len)
{
    ws_msg *m = malloc(sizeof *m + len + 1);
    if (!m) return NULL;
    m->refs = 1;
    m->len = len;
    if (len) memcpy(m->data, data, len);
    m->data[len] = 0; /* text frames are parsed as strings */
    return m;
}

static void msg_put(ws_msg *m)
{
    if (m && --m->refs == 0) free(m);
}

typedef struct ws_frame {
    struct ws_frame *next;
    ws_msg          *m;
    bool             binary;
} ws_frame;

typedef struct ws_outbox {
    ws_frame *head, *tail;
    size_t    n, off; /* frames queued; bytes of head already written */
    size_t    bytes;  /* payload bytes queued                         */
} ws_outbox;

static bool out_push(ws_outbox *o, ws_msg *m, bool binary)
{
    ws_frame *f = malloc(sizeof *f);
    if (!f) return false;
    m->refs++;
    *f = (ws_frame){ .m = m, .binary = binary };
    if (o->tail) o->tail->next = f;
    else o->head = f;
    o->tail = f;
    o->n++;
    o->bytes += m->len;
    return true;
}

static bool out_text(ws_outbox *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool out_text(ws_outbox *o, const char *fmt, ...)
{
    char line[CTRL_MAX + 32];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line) return false;
    ws_msg *m = msg_new(line, (size_t)n);
    if (!m) return false;
    bool ok = out_push(o, m, false);
    msg_put(m);
    return ok;
}

static void out_clear(ws_outbox *o)
{
    while (o->head) {
        ws_frame *f = o->head;
        o->head = f->next;
        msg_put(f->m);
        free(f);
    }
    *o = (ws_outbox){ 0 };
}

/* Write (a fragment of) the head frame.  Called only from the service
 * thread's writable callback, with the owning lock held; scratch has
 * LWS_PRE + CHUNK bytes (lws writes the header in front of the payload and
 * a client masks it in place, so the payload is copied there first).
 * RETURNS 0, or -1 (the connection is broken: close it). */
static int out_write(struct lws *wsi, ws_outbox *o, unsigned char *scratch)
{
    ws_frame *f = o->head;
    if (!f) return 0;
    size_t left = f->m->len - o->off, n = left < CHUNK ? left : CHUNK;
    bool first = o->off == 0, last = n == left;
    if (n) memcpy(scratch + LWS_PRE, f->m->data + o->off, n);
    int flags = lws_write_ws_flags(f->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT, first, last);
    if (lws_write(wsi, scratch + LWS_PRE, n, (enum lws_write_protocol)flags) < (int)n) return -1;
    o->off += n;
    if (last) {
        o->head = f->next;
        if (!o->head) o->tail = NULL;
        o->n--;
        o->bytes -= f->m->len;
        o->off = 0;
        msg_put(f->m);
        free(f);
    }
    if (o->head) lws_callback_on_writable(wsi);
    return 0;
}

/* ---- incoming messages: fragments assembled up to a limit --------------- */

typedef struct ws_rx {
    unsigned char *buf;
    size_t         len, cap;
    bool           binary;
} ws_rx;

/* RETURNS 1 when a whole message is in rx, 0 when more is to come, -1 when
 * it exceeds the limit (binary: max_msg, text: CTRL_MAX) or memory ran out. */
static int rx_add(struct lws *wsi, ws_rx *rx, const void *in, size_t len, size_t max_msg)
{
    if (lws_is_first_fragment(wsi) && rx->len == 0) rx->binary = lws_frame_is_binary(wsi);
    size_t limit = rx->binary ? max_msg : CTRL_MAX;
    if (len > limit - rx->len) return -1;
    if (rx->len + len + 1 > rx->cap) {
        size_t cap = rx->cap ? rx->cap : 256;
        while (cap < rx->len + len + 1) cap *= 2;
        unsigned char *b = realloc(rx->buf, cap);
        if (!b) return -1;
        rx->buf = b;
        rx->cap = cap;
    }
    if (len) memcpy(rx->buf + rx->len, in, len);
    rx->len += len;
    rx->buf[rx->len] = 0;
    return lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0 ? 1 : 0;
}

static void rx_free(ws_rx *rx)
{
    free(rx->buf);
    *rx = (ws_rx){ 0 };
}

/* ---- the text lines (websocket_proto.h) ---------------------------------- */

/* "<word>" exactly, or "<word> <arg>" with *arg the rest (word given with its space). */
static bool is_word(const char *t, const char *word) { return strcmp(t, word) == 0; }
static bool has_arg(const char *t, const char *word, const char **arg)
{
    size_t n = strlen(word);
    if (strncmp(t, word, n) != 0) return false;
    *arg = t + n;
    return true;
}

/* Decimal digits only, up to the end or a space (*next after it). */
static bool number(const char *s, unsigned long long *v, const char **next)
{
    unsigned long long x = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (x > (ULLONG_MAX - d) / 10) return false;
        x = x * 10 + d;
    }
    if (p == s || (*p && *p != ' ')) return false;
    *v = x;
    if (next) *next = *p ? p + 1 : p;
    else if (*p) return false;
    return true;
}

static bool topic(const char *s, ipc_ws_parsed *out)
{
    if (strlen(s) >= IPC_WS_TOPIC_MAX) return false;
    out->topic = s;
    return true;
}

int ipc__ws_request_line(const char *t, ipc_ws_parsed *out)
{
    const char *arg;
    *out = (ipc_ws_parsed){ 0 };
    if (has_arg(t, "pull ", &arg)) return number(arg, &out->a, NULL) ? IPC_WS_PULL : IPC_WS_BAD;
    if (is_word(t, "cancel-pull")) return IPC_WS_CANCEL_PULL;
    if (is_word(t, "got")) return IPC_WS_GOT;
    if (is_word(t, "cancel-send")) return IPC_WS_CANCEL_SEND;
    if (is_word(t, "close")) return IPC_WS_CLOSE;
    if (has_arg(t, "sub ", &arg)) return topic(arg, out) ? IPC_WS_SUB : IPC_WS_BAD;
    if (has_arg(t, "pub ", &arg)) return topic(arg, out) ? IPC_WS_PUB : IPC_WS_BAD;
    return IPC_WS_BAD;
}

int ipc__ws_reply_line(const char *t, ipc_ws_parsed *out)
{
    const char *arg;
    *out = (ipc_ws_parsed){ 0 };
    if (has_arg(t, "hello ", &arg)) {
        unsigned long long closed;
        if (!number(arg, &out->a, &arg) || !*arg || !number(arg, &out->b, &arg) || !*arg
            || !number(arg, &closed, NULL) || closed > 1 || out->a == 0 || out->a > SIZE_MAX || out->b > SIZE_MAX)
            return IPC_WS_BAD;
        out->closed = closed == 1;
        return IPC_WS_HELLO;
    }
    if (is_word(t, "s ok")) return IPC_WS_S_OK;
    if (is_word(t, "s closed")) return IPC_WS_S_CLOSED;
    if (is_word(t, "s cancelled")) return IPC_WS_S_CANCELLED;
    if (is_word(t, "s wait")) return IPC_WS_S_WAIT;
    if (is_word(t, "r wait")) return IPC_WS_R_WAIT;
    if (has_arg(t, "r toobig ", &arg)) return number(arg, &out->a, NULL) && out->a <= SIZE_MAX ? IPC_WS_R_TOOBIG : IPC_WS_BAD;
    if (is_word(t, "r closed")) return IPC_WS_R_CLOSED;
    if (is_word(t, "r cancelled")) return IPC_WS_R_CANCELLED;
    if (is_word(t, "c ok")) return IPC_WS_C_OK;
    if (is_word(t, "sub ok")) return IPC_WS_SUB_OK;
    if (has_arg(t, "p ", &arg)) return number(arg, &out->a, NULL) && out->a <= LONG_MAX ? IPC_WS_P : IPC_WS_BAD;
    return IPC_WS_BAD;
}

/* ---- endpoints: ws://host:port/path[?ping=N&hangup=M] -------------------- */

typedef struct ws_endpoint {
    char host[HOST_MAX];
    int  port;
    char path[PATH_MAX_WS];
    int  ping, hangup; /* seconds */
} ws_endpoint;

static int parse_endpoint(const char *s, ws_endpoint *ep)
{
    *ep = (ws_endpoint){ .ping = 5, .hangup = 15 };
    if (strncmp(s, "ws://", 5) != 0) goto bad;
    const char *h = s + 5, *colon = strchr(h, ':'), *slash = strchr(h, '/');
    if (!colon || (slash && slash < colon) || colon == h || (size_t)(colon - h) >= HOST_MAX) goto bad;
    memcpy(ep->host, h, (size_t)(colon - h));
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || port < 0 || port > 65535 || (*end && *end != '/')) goto bad;
    ep->port = (int)port;
    const char *q = *end ? strchr(end, '?') : NULL;
    size_t plen = *end ? (q ? (size_t)(q - end) : strlen(end)) : 1;
    if (plen >= PATH_MAX_WS) goto bad;
    if (*end) memcpy(ep->path, end, plen);
    else strcpy(ep->path, "/");
    for (const char *o = q ? q + 1 : NULL; o && *o;) {
        int v = 0, used = 0;
        if (sscanf(o, "ping=%d%n", &v, &used) == 1 && v > 0 && v < 3600) ep->ping = v;
        else if (sscanf(o, "hangup=%d%n", &v, &used) == 1 && v > 0 && v < 3600) ep->hangup = v;
        else goto bad;
        o += used;
        if (*o == '&') o++;
        else if (*o) goto bad;
    }
    if (ep->hangup <= ep->ping) ep->hangup = ep->ping + 1;
    return IPC_OK;
bad:
    return ipc__fail(IPC_EINVAL, "websocket: endpoint '%s' is not ws://host:port[/path][?ping=N&hangup=M]", s);
}

static int format_endpoint(char *out, size_t size, const char *scheme, const ws_endpoint *ep, bool keepalive)
{
    int n = keepalive && (ep->ping != 5 || ep->hangup != 15)
          ? snprintf(out, size, "%s://%s:%d%s?ping=%d&hangup=%d", scheme, ep->host, ep->port, ep->path, ep->ping, ep->hangup)
          : snprintf(out, size, "%s://%s:%d%s", scheme, ep->host, ep->port, ep->path);
    if (n < 0 || (size_t)n >= size) return ipc__fail(IPC_EINVAL, "websocket: endpoint too long");
    return IPC_OK;
}

static void quiet_lws(void)
{
    /* lws logs to stderr by default; IPCPLAY_LWS_LOG=<mask> turns it on. */
    const char *v = getenv("IPCPLAY_LWS_LOG");
    lws_set_log_level(v ? atoi(v) : 0, NULL);
}

/* ---- fork(): the service threads stand still ----------------------------
 * A fork() while a service thread is inside malloc (accepting a client,
 * queueing a frame) copies the allocator's lock held into the child, where
 * nobody releases it — glibc's malloc protects itself with fork handlers,
 * but GCC 12's AddressSanitizer allocator does not, and forked children then
 * hang at their first malloc (seen in mpmc_processes under SANITIZE=address).
 * So a fork handler parks every service thread of this process outside lws
 * and outside malloc first: prepare raises g_parking, wakes each thread
 * (lws_cancel_service) and waits (at most PARK_MS) until each says parked;
 * parent and child lower it.  The child starts with no service threads. */
#define PARK_MS 1000

typedef struct ws_svc {
    struct ws_svc      *next;
    struct lws_context *ctx;
    bool                parked;  /* g_park_lock */
} ws_svc;

static pthread_mutex_t g_park_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  g_park_cond = PTHREAD_COND_INITIALIZER; /* CLOCK_REALTIME */
static bool            g_parking;
static ws_svc         *g_svcs;    /* this process's running service threads */

static void park_prepare(void)
{
    pthread_mutex_lock(&g_park_lock);
    g_parking = true;
    for (ws_svc *v = g_svcs; v; v = v->next) lws_cancel_service(v->ctx);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += PARK_MS / 1000;
    for (;;) {
        bool all = true;
        for (ws_svc *v = g_svcs; v; v = v->next) all &= v->parked;
        if (all || pthread_cond_timedwait(&g_park_cond, &g_park_lock, &until) == ETIMEDOUT) break;
    }
    /* g_park_lock stays held across fork(): the list cannot change */
}

static void park_parent(void)
{
    g_parking = false;
    pthread_cond_broadcast(&g_park_cond);
    pthread_mutex_unlock(&g_park_lock);
}

static void park_child(void)
{
    g_parking = false;
    g_svcs = NULL; /* the parent's threads did not come along */
    pthread_cond_init(&g_park_cond, NULL);
    pthread_mutex_unlock(&g_park_lock);
}

/* One service thread's loop: lws_service until stop, standing still while a
 * fork() is in progress. */
static void service_loop(ws_svc *v, atomic_bool *stop)
{
    while (!atomic_load_explicit(stop, memory_order_relaxed)) {
        pthread_mutex_lock(&g_park_lock);
        if (g_parking) {
            v->parked = true;
            pthread_cond_broadcast(&g_park_cond);
            while (g_parking) pthread_cond_wait(&g_park_cond, &g_park_lock);
            v->parked = false;
        }
        pthread_mutex_unlock(&g_park_lock);
        if (lws_service(v->ctx, 0) < 0) break;
    }
}

static void svc_register(ws_svc *v, struct lws_context *ctx)
{
    ipc__atfork(park_prepare, park_parent, park_child); /* a no-op after the first */
    pthread_mutex_lock(&g_park_lock);
    *v = (ws_svc){ .ctx = ctx, .next = g_svcs };
    g_svcs = v;
    pthread_mutex_unlock(&g_park_lock);
}

static void svc_unregister(ws_svc *v)
{
    pthread_mutex_lock(&g_park_lock);
    for (ws_svc **p = &g_svcs; *p; p = &(*p)->next)
        if (*p == v) {
            *p = v->next;
            break;
        }
    pthread_mutex_unlock(&g_park_lock);
}

/* ---- the server (in the owner) ----------------------------------------- */

typedef struct ws_conn ws_conn;

typedef struct ws_server {
    struct lws_context *ctx;
    ipc_helper          thread;
    ws_svc              svc;         /* in g_svcs while the thread runs */
    atomic_bool         stop;        /* relaxed is enough: lws_cancel_service
                                        (a write to a pipe) orders it */
    pthread_mutex_t     lock;
    pthread_cond_t      changed;     /* the owner's threads: room, data, close */
    ws_msg            **ring;
    size_t              capacity, head, count, inflight, max_msg;
    bool                closed, ready;
    int                 ready_fd;    /* eventfd: readable while count > 0 or closed */
    ws_conn            *conns;
    size_t              parked_pulls, parked_sends;
    bool                kills_pending;
    ipc_websocket_stats stats;
    lws_retry_bo_t      retry;
    ws_endpoint         ep;
    unsigned char      *scratch;
} ws_server;

struct ws_conn {
    ws_conn    *next;
    struct lws *wsi;
    bool        ws;            /* a WebSocket (not an HTTP request)     */
    ws_rx       rx;
    ws_outbox   out;
    bool        pull_parked;
    size_t      pull_cap;
    ws_msg     *inflight;      /* sent, not yet "got"                   */
    ws_msg     *send_parked;
    bool        pub_next;      /* the next binary message is a publish  */
    char        pub_topic[TOPIC_MAX];
    bool        sub;
    char        topic[TOPIC_MAX];
    bool        kill;
    size_t      http_off;
};

static bool room(const ws_server *s) { return s->count + s->inflight < s->capacity; }

static void q_push_tail(ws_server *s, ws_msg *m) { s->ring[(s->head + s->count++) % s->capacity] = m; }

static void q_push_head(ws_server *s, ws_msg *m)
{
    s->head = (s->head + s->capacity - 1) % s->capacity;
    s->ring[s->head] = m;
    s->count++;
}

static ws_msg *q_pop(ws_server *s)
{
    ws_msg *m = s->ring[s->head];
    s->head = (s->head + 1) % s->capacity;
    s->count--;
    return m;
}

/* Keep ready_fd readable exactly while a receive would not wait. */
static void update_ready(ws_server *s)
{
    bool want = s->count > 0 || s->closed;
    if (want == s->ready) return;
    uint64_t v = 1;
    if (want) {
        if (write(s->ready_fd, &v, sizeof v) < 0) { /* cannot fail: counter is 0 or 1 */ }
    } else if (read(s->ready_fd, &v, sizeof v) < 0) { /* EAGAIN: already 0 */ }
    s->ready = want;
}

/* Mark c to be dropped (any thread, lock held); the service thread closes
 * it in apply_kills, since only it may call into lws. */
static void conn_kill(ws_server *s, ws_conn *c, const char *why, long *counter)
{
    (void)why;
    if (c->kill) return;
    c->kill = true;
    if (counter) (*counter)++;
    s->kills_pending = true;
}

static void apply_kills(ws_server *s)
{
    if (!s->kills_pending) return;
    s->kills_pending = false;
    for (ws_conn *c = s->conns; c; c = c->next) {
        if (!c->kill) continue;
        /* A close frame cannot pass a socket the peer does not read, and
         * lws would keep it open trying: end the TCP connection itself. */
        int fd = lws_get_socket_fd(c->wsi);
        if (fd >= 0) shutdown(fd, SHUT_RDWR);
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
    }
}

/* A control reply; a client that lets them pile up is dropped. */
static void reply(ws_server *s, ws_conn *c, const char *text)
{
    if (c->kill) return;
    if (c->out.n >= OUT_MAX || !out_text(&c->out, "%s", text)) {
        conn_kill(s, c, "reply queue", &s->stats.dropped_slow);
        return;
    }
    lws_callback_on_writable(c->wsi);
}

/* Serve c's parked pull if the queue allows. */
static void try_pull(ws_server *s, ws_conn *c)
{
    if (!c->pull_parked || c->kill) return;
    if (s->count > 0) {
        ws_msg *m = s->ring[s->head];
        c->pull_parked = false;
        s->parked_pulls--;
        if (m->len > c->pull_cap) {
            char line[64];
            snprintf(line, sizeof line, "r toobig %zu", m->len);
            reply(s, c, line);
            return;
        }
        if (!out_push(&c->out, m, true)) {
            conn_kill(s, c, "out of memory", NULL);
            return;
        }
        q_pop(s);
        c->inflight = m; /* the queue's reference; the outbox took its own */
        s->inflight++;
        s->stats.delivered++;
        update_ready(s);
        lws_callback_on_writable(c->wsi);
    } else if (s->closed) {
        c->pull_parked = false;
        s->parked_pulls--;
        reply(s, c, "r closed");
    }
}

static void try_send(ws_server *s, ws_conn *c)
{
    if (!c->send_parked) return;
    if (s->closed) {
        msg_put(c->send_parked);
        reply(s, c, "s closed");
    } else if (room(s)) {
        q_push_tail(s, c->send_parked);
        update_ready(s);
        pthread_cond_broadcast(&s->changed);
        reply(s, c, "s ok");
    } else {
        return;
    }
    c->send_parked = NULL;
    s->parked_sends--;
}

/* Match parked requests with the queue (service thread, lock held). */
static void dispatch(ws_server *s)
{
    for (ws_conn *c = s->conns; c; c = c->next) try_send(s, c);
    for (ws_conn *c = s->conns; c; c = c->next) try_pull(s, c);
}

/* Publish to every subscriber whose topic is a prefix of `topic` (lock
 * held).  RETURNS how many got it. */
static int publish_locked(ws_server *s, const char *topic, ws_msg *m)
{
    int n = 0;
    for (ws_conn *c = s->conns; c; c = c->next) {
        if (!c->sub || c->kill || strncmp(topic, c->topic, strlen(c->topic)) != 0) continue;
        if (c->out.n >= OUT_MAX || (c->out.n && c->out.bytes + m->len > OUT_BYTES_MAX)) {
            /* it does not read: drop it, never block or grow */
            conn_kill(s, c, "slow subscriber", &s->stats.dropped_slow);
            continue;
        }
        if (!out_push(&c->out, m, true)) continue;
        n++;
    }
    s->stats.published++;
    return n;
}

static void server_close_locked(ws_server *s)
{
    s->closed = true;
    update_ready(s);
    pthread_cond_broadcast(&s->changed);
}

static int handle_binary(ws_server *s, ws_conn *c)
{
    ws_msg *m = msg_new(c->rx.buf, c->rx.len);
    if (!m) return -1;
    if (c->pub_next) {
        c->pub_next = false;
        int n = publish_locked(s, c->pub_topic, m);
        msg_put(m);
        char line[32];
        snprintf(line, sizeof line, "p %d", n);
        reply(s, c, line);
        for (ws_conn *x = s->conns; x; x = x->next)
            if (x->out.n) lws_callback_on_writable(x->wsi);
        return 0;
    }
    if (c->send_parked) { /* a second send before the first was answered */
        msg_put(m);
        s->stats.protocol_errors++;
        return -1;
    }
    c->send_parked = m;
    s->parked_sends++;
    s->stats.received++;
    try_send(s, c);
    if (c->send_parked) reply(s, c, "s wait"); /* the client's observer hears BLOCKED */
    else dispatch(s);                          /* a parked pull may take it */
    return 0;
}

static int handle_text(ws_server *s, ws_conn *c)
{
    ipc_ws_parsed p;
    switch (ipc__ws_request_line((const char *)c->rx.buf, &p)) {
    case IPC_WS_PULL:
        if (c->pull_parked || c->inflight || c->sub) goto bad;
        c->pull_cap = p.a;
        c->pull_parked = true;
        s->parked_pulls++;
        try_pull(s, c);
        if (c->pull_parked) reply(s, c, "r wait");
        break;
    case IPC_WS_CANCEL_PULL:
        if (c->pull_parked) {
            c->pull_parked = false;
            s->parked_pulls--;
        }
        reply(s, c, "r cancelled");
        break;
    case IPC_WS_GOT:
        if (!c->inflight) goto bad;
        msg_put(c->inflight);
        c->inflight = NULL;
        s->inflight--;
        pthread_cond_broadcast(&s->changed);
        dispatch(s); /* room for a parked send */
        break;
    case IPC_WS_CANCEL_SEND:
        if (c->send_parked) {
            msg_put(c->send_parked);
            c->send_parked = NULL;
            s->parked_sends--;
        }
        reply(s, c, "s cancelled");
        break;
    case IPC_WS_CLOSE:
        server_close_locked(s);
        dispatch(s);
        reply(s, c, "c ok");
        break;
    case IPC_WS_SUB:
        if (c->pull_parked || c->inflight) goto bad;
        strcpy(c->topic, p.topic);
        c->sub = true;
        reply(s, c, "sub ok");
        break;
    case IPC_WS_PUB:
        if (c->pub_next) goto bad;
        strcpy(c->pub_topic, p.topic);
        c->pub_next = true;
        break;
    default:
        goto bad;
    }
    return 0;
bad:
    s->stats.protocol_errors++;
    lws_close_reason(c->wsi, LWS_CLOSE_STATUS_PROTOCOL_ERR, (unsigned char *)"protocol error", 14);
    return -1;
}

/* The request's path is ours (the channel's path, or it + "/"). */
static bool our_path(const ws_server *s, const char *uri)
{
    size_t n = strlen(s->ep.path);
    if (strncmp(uri, s->ep.path, n) != 0) return false;
    return uri[n] == 0 || (uri[n] == '/' && uri[n + 1] == 0) || strcmp(uri + n, "/index.html") == 0;
}

static int server_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    ws_server *s = ctx ? lws_context_user(ctx) : NULL;
    ws_conn *c = user;
    int rc = 0;
    if (!s) return 0;
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
        if (!our_path(s, (const char *)in)) {
            lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
            return -1;
        }
        c->http_off = 0;
        if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "text/html; charset=utf-8",
                                        (lws_filepos_t)(ws_page_end - ws_page_start), &p, end)
            || lws_finalize_write_http_header(wsi, start, &p, end))
            return 1;
        lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_HTTP_WRITEABLE: {
        size_t total = (size_t)(ws_page_end - ws_page_start), left = total - c->http_off;
        size_t n = left < CHUNK ? left : CHUNK;
        pthread_mutex_lock(&s->lock); /* scratch */
        memcpy(s->scratch + LWS_PRE, ws_page_start + c->http_off, n);
        int w = lws_write(wsi, s->scratch + LWS_PRE, n, n == left ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
        pthread_mutex_unlock(&s->lock);
        if (w < (int)n) return -1;
        c->http_off += n;
        if (n == left) return lws_http_transaction_completed(wsi) ? -1 : 0;
        lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char uri[PATH_MAX_WS + 16];
        if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) < 0 || !our_path(s, uri)) {
            pthread_mutex_lock(&s->lock);
            s->stats.rejected++;
            pthread_mutex_unlock(&s->lock);
            return -1;
        }
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
        pthread_mutex_lock(&s->lock);
        *c = (ws_conn){ .wsi = wsi, .ws = true, .next = s->conns };
        s->conns = c;
        s->stats.connections++;
        {
            char line[96];
            snprintf(line, sizeof line, "hello %zu %zu %d", s->max_msg, s->capacity, s->closed ? 1 : 0);
            reply(s, c, line);
        }
        pthread_mutex_unlock(&s->lock);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        pthread_mutex_lock(&s->lock);
        rc = c->kill ? -1 : rx_add(wsi, &c->rx, in, len, s->max_msg);
        if (rc < 0) {
            s->stats.oversize++;
            lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)"message too large", 17);
        } else if (rc == 1) {
            rc = c->rx.binary ? handle_binary(s, c) : handle_text(s, c);
            c->rx.len = 0;
        }
        apply_kills(s);
        pthread_mutex_unlock(&s->lock);
        return rc < 0 ? -1 : 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        pthread_mutex_lock(&s->lock);
        rc = c->kill ? -1 : out_write(wsi, &c->out, s->scratch);
        pthread_mutex_unlock(&s->lock);
        return rc;
    case LWS_CALLBACK_CLOSED:
        pthread_mutex_lock(&s->lock);
        if (c->ws) {
            for (ws_conn **p = &s->conns; *p; p = &(*p)->next)
                if (*p == c) {
                    *p = c->next;
                    break;
                }
            if (c->inflight) { /* never confirmed: back to the head, nothing lost */
                q_push_head(s, c->inflight);
                s->inflight--;
                s->stats.requeued++;
                c->inflight = NULL;
                update_ready(s);
            }
            if (c->send_parked) {
                msg_put(c->send_parked);
                s->parked_sends--;
            }
            if (c->pull_parked) s->parked_pulls--;
            out_clear(&c->out);
            rx_free(&c->rx);
            c->ws = false;
            pthread_cond_broadcast(&s->changed);
            if (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
                dispatch(s); /* the requeued message may serve a parked pull */
                apply_kills(s);
            }
        }
        pthread_mutex_unlock(&s->lock);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        pthread_mutex_lock(&s->lock);
        dispatch(s);
        for (ws_conn *x = s->conns; x; x = x->next)
            if (x->out.n && !x->kill) lws_callback_on_writable(x->wsi);
        apply_kills(s);
        pthread_mutex_unlock(&s->lock);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols server_protocols[] = {
    { .name = "ipcplay", .callback = server_cb, .per_session_data_size = sizeof(ws_conn), .rx_buffer_size = CHUNK },
    { 0 },
};

static void *server_main(void *arg)
{
    ws_server *s = arg;
    service_loop(&s->svc, &s->stop);
    return NULL;
}

static void server_kick(ws_server *s) { lws_cancel_service(s->ctx); }

static void server_unstick(void *arg) { server_kick(arg); }

static void server_free(ws_server *s)
{
    if (!s) return;
    if (s->thread.pid) {
        atomic_store_explicit(&s->stop, true, memory_order_relaxed);
        server_kick(s);
    }
    bool ran = s->thread.pid == getpid();
    ipc__helper_stop(&s->thread, 2000, server_unstick, s);
    if (ran) svc_unregister(&s->svc);
    if (s->ctx) lws_context_destroy(s->ctx); /* closes every connection (CLOSED requeues) */
    while (s->count) msg_put(q_pop(s));
    free(s->ring);
    free(s->scratch);
    if (s->ready_fd >= 0) close(s->ready_fd);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->changed);
    free(s);
}

static int server_start(const ws_endpoint *want, size_t capacity, size_t max_msg, ws_server **out)
{
    ws_server *s = calloc(1, sizeof *s);
    if (!s) return ipc__fail(IPC_ESYS, "calloc");
    s->ready_fd = -1;
    s->thread.stop_fd = -1;
    s->ep = *want;
    s->capacity = capacity;
    s->max_msg = max_msg;
    int rc = ipc__mutex_init(&s->lock, false);
    if (rc == IPC_OK) rc = ipc__cond_init(&s->changed, false);
    s->ring = calloc(capacity, sizeof *s->ring);
    s->scratch = malloc(LWS_PRE + CHUNK);
    if (rc == IPC_OK && (!s->ring || !s->scratch)) rc = ipc__fail(IPC_ESYS, "malloc");
    if (rc == IPC_OK && (s->ready_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) rc = ipc__fail(IPC_ESYS, "eventfd");
    if (rc == IPC_OK) rc = ipc__helper_init(&s->thread);
    if (rc == IPC_OK) {
        s->retry = (lws_retry_bo_t){ .secs_since_valid_ping = (uint16_t)want->ping,
                                     .secs_since_valid_hangup = (uint16_t)want->hangup };
        struct lws_context_creation_info info = { 0 };
        info.port = want->port;
        info.iface = want->host;
        info.protocols = server_protocols;
        info.gid = -1;
        info.uid = -1;
        info.user = s;
        info.retry_and_idle_policy = &s->retry;
        info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND | LWS_SERVER_OPTION_DISABLE_IPV6;
        info.vhost_name = "ipcplay";
        info.server_string = "ipcplay";
        errno = 0;
        s->ctx = lws_create_context(&info);
        struct lws_vhost *vh = s->ctx ? lws_get_vhost_by_name(s->ctx, "ipcplay") : NULL;
        int port = vh ? lws_get_vhost_listen_port(vh) : -1;
        if (port > 0) {
            s->ep.port = port;
        } else if (ipc__fds_left(LWS_FDS) < LWS_FDS) {
            /* libwebsockets reports a failure in its log, not in errno, and
             * closes what it got: out of descriptors is the one cause we
             * can name afterwards, by the handful a server needs */
            errno = EMFILE;
            rc = ipc__fail(IPC_ESYS, "websocket: too few descriptors left to listen on %s:%d (RLIMIT_NOFILE, ulimit -n)",
                           want->host, want->port);
        } else {
            rc = s->ctx ? ipc__fail(IPC_ESYS, "websocket: no listening port on %s:%d", want->host, want->port)
                        : ipc__fail(IPC_ESYS, "websocket: cannot listen on %s:%d", want->host, want->port);
        }
    }
    if (rc == IPC_OK) {
        svc_register(&s->svc, s->ctx);
        rc = ipc__helper_start(&s->thread, server_main, s);
        if (rc != IPC_OK) svc_unregister(&s->svc);
    }
    if (rc != IPC_OK) {
        server_free(s);
        return rc;
    }
    *out = s;
    return IPC_OK;
}

/* ---- a client connection (attachers, fork()ed children, subscribers) ---- */

typedef struct ws_client {
    struct lws_context *ctx;
    struct lws         *wsi;
    ipc_helper          thread;
    ws_svc              svc;      /* in g_svcs while the thread runs       */
    atomic_bool         stop;     /* relaxed: lws_cancel_service orders it */
    pid_t               pid;      /* the process whose threads these are   */
    pthread_mutex_t     lock;     /* everything below                     */
    pthread_cond_t      changed;
    pthread_mutex_t     send_lock, recv_lock; /* one request of each kind  */
    int                 state;    /* 0 connecting, 1 open, 2 gone          */
    char                why[128];
    bool                hello;
    size_t              max_msg, capacity;
    bool                closed_at_hello;
    ws_outbox           out;
    ws_rx               rx;
    int                 s_reply;  /* 0 none yet, else IPC_OK/IPC_ECLOSED   */
    bool                s_cancelled, s_parked;
    int                 r_reply;  /* 0 none, 1 data, IPC_EMSGSIZE, IPC_ECLOSED */
    size_t              got_unsent; /* frames to write until "got" is out  */
    ws_msg             *r_data;
    size_t              r_size;
    bool                r_cancelled, r_parked;
    bool                c_ok, sub_ok;
    long                p_reply;  /* -1 none */
    bool                is_sub, paused;
    ws_msg             *subq[SUBQ_MAX];
    size_t              subq_head, subq_n;
    lws_retry_bo_t      retry;
    ws_endpoint         ep;
    unsigned char      *scratch;
} ws_client;

static void client_gone(ws_client *c, const char *why)
{
    if (c->state != 2 && why) snprintf(c->why, sizeof c->why, "%s", why);
    c->state = 2;
    pthread_cond_broadcast(&c->changed);
}

static void client_text(ws_client *c, const char *t)
{
    ipc_ws_parsed p;
    switch (ipc__ws_reply_line(t, &p)) {
    case IPC_WS_HELLO:
        c->max_msg = (size_t)p.a;
        c->capacity = (size_t)p.b;
        c->closed_at_hello = p.closed;
        c->hello = true;
        break;
    case IPC_WS_S_OK: c->s_reply = IPC_OK + 1; break;
    case IPC_WS_S_CLOSED: c->s_reply = IPC_ECLOSED; break;
    case IPC_WS_S_CANCELLED: c->s_cancelled = true; break;
    case IPC_WS_S_WAIT: c->s_parked = true; break;
    case IPC_WS_R_WAIT: c->r_parked = true; break;
    case IPC_WS_R_TOOBIG:
        c->r_size = (size_t)p.a;
        c->r_reply = IPC_EMSGSIZE;
        break;
    case IPC_WS_R_CLOSED: c->r_reply = IPC_ECLOSED; break;
    case IPC_WS_R_CANCELLED: c->r_cancelled = true; break;
    case IPC_WS_C_OK: c->c_ok = true; break;
    case IPC_WS_SUB_OK: c->sub_ok = true; break;
    case IPC_WS_P: c->p_reply = (long)p.a; break;
    default: break; /* not ours: ignored */
    }
    pthread_cond_broadcast(&c->changed);
}

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    (void)user;
    struct lws_context *ctx = lws_get_context(wsi);
    ws_client *c = ctx ? lws_context_user(ctx) : NULL;
    int rc = 0;
    if (!c) return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        pthread_mutex_lock(&c->lock);
        c->state = 1;
        pthread_cond_broadcast(&c->changed);
        pthread_mutex_unlock(&c->lock);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        pthread_mutex_lock(&c->lock);
        c->wsi = NULL;
        client_gone(c, in ? (const char *)in : "connection failed");
        pthread_mutex_unlock(&c->lock);
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        pthread_mutex_lock(&c->lock);
        c->wsi = NULL;
        client_gone(c, "the server closed the connection");
        pthread_mutex_unlock(&c->lock);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        pthread_mutex_lock(&c->lock);
        rc = rx_add(wsi, &c->rx, in, len, c->max_msg ? c->max_msg : (64u << 20));
        if (rc == 1) {
            if (!c->rx.binary) {
                client_text(c, (const char *)c->rx.buf);
            } else if (c->is_sub) {
                ws_msg *m = msg_new(c->rx.buf, c->rx.len);
                if (!m) rc = -1;
                else {
                    c->subq[(c->subq_head + c->subq_n++) % SUBQ_MAX] = m;
                    if (c->subq_n == SUBQ_MAX) { /* stop reading: the server drops us if it must */
                        lws_rx_flow_control(wsi, 0);
                        c->paused = true;
                    }
                }
            } else if (c->r_data) {
                rc = -1; /* a message nobody pulled: not an ipcplay server */
            } else {
                c->r_data = msg_new(c->rx.buf, c->rx.len);
                if (!c->r_data || !out_text(&c->out, "got")) rc = -1;
                else {
                    c->r_reply = 1;
                    c->got_unsent = c->out.n; /* "got" is the last frame queued */
                    lws_callback_on_writable(wsi);
                }
            }
            c->rx.len = 0;
            pthread_cond_broadcast(&c->changed);
        }
        pthread_mutex_unlock(&c->lock);
        return rc < 0 ? -1 : 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        pthread_mutex_lock(&c->lock);
        size_t before = c->out.n;
        rc = out_write(wsi, &c->out, c->scratch);
        if (c->got_unsent && c->out.n < before && --c->got_unsent == 0) pthread_cond_broadcast(&c->changed);
        pthread_mutex_unlock(&c->lock);
        return rc;
    }
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        pthread_mutex_lock(&c->lock);
        if (c->wsi && c->state == 1) {
            if (c->out.n) lws_callback_on_writable(c->wsi);
            if (c->paused && c->subq_n < SUBQ_MAX / 2) {
                lws_rx_flow_control(c->wsi, 1);
                c->paused = false;
            }
        }
        pthread_mutex_unlock(&c->lock);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols client_protocols[] = {
    { .name = "ipcplay", .callback = client_cb, .rx_buffer_size = CHUNK },
    { 0 },
};

static void *client_main(void *arg)
{
    ws_client *c = arg;
    service_loop(&c->svc, &c->stop);
    return NULL;
}

static void client_unstick(void *arg) { lws_cancel_service(((ws_client *)arg)->ctx); }

static void client_free(ws_client *c)
{
    if (!c) return;
    if (c->pid != getpid()) return; /* a fork()ed copy: the threads and sockets are the parent's */
    if (c->thread.pid) {
        atomic_store_explicit(&c->stop, true, memory_order_relaxed);
        lws_cancel_service(c->ctx);
    }
    bool ran = c->thread.pid == getpid();
    ipc__helper_stop(&c->thread, 2000, client_unstick, c);
    if (ran) svc_unregister(&c->svc);
    if (c->ctx) lws_context_destroy(c->ctx);
    out_clear(&c->out);
    rx_free(&c->rx);
    msg_put(c->r_data);
    while (c->subq_n) {
        msg_put(c->subq[c->subq_head]);
        c->subq_head = (c->subq_head + 1) % SUBQ_MAX;
        c->subq_n--;
    }
    free(c->scratch);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->send_lock);
    pthread_mutex_destroy(&c->recv_lock);
    pthread_cond_destroy(&c->changed);
    free(c);
}

/* Wait on c->changed (c->lock held) until the deadline.  RETURNS 0 (woken:
 * look again) or 1 (deadline passed). */
static int client_wait(ws_client *c, const ipc_deadline *d)
{
    return ipc__cond_wait(&c->changed, &c->lock, d, NULL) == 1 ? 1 : 0; /* a private mutex: never < 0 */
}

/* Queue a frame for the service thread (c->lock held). */
static bool client_queue(ws_client *c, const void *data, size_t len, bool binary)
{
    ws_msg *m = msg_new(data, len);
    if (!m) return false;
    bool ok = out_push(&c->out, m, binary);
    msg_put(m);
    if (ok) lws_cancel_service(c->ctx);
    return ok;
}

static int client_gone_error(ws_client *c)
{
    return ipc__fail(IPC_ECLOSED, "websocket: %s", c->why[0] ? c->why : "connection lost");
}

/* Connect to ep and wait for the server's hello.  RETURNS 0, IPC_ECLOSED
 * (nobody answers there, or the channel is closed and attach says so),
 * IPC_ESYS. */
static int client_open(const ws_endpoint *ep, bool sub, ws_client **out)
{
    ws_client *c = calloc(1, sizeof *c);
    if (!c) return ipc__fail(IPC_ESYS, "calloc");
    c->pid = getpid();
    c->ep = *ep;
    c->thread.stop_fd = -1;
    c->p_reply = -1;
    c->is_sub = sub;
    int rc = ipc__mutex_init(&c->lock, false);
    if (rc == IPC_OK) rc = ipc__mutex_init(&c->send_lock, false);
    if (rc == IPC_OK) rc = ipc__mutex_init(&c->recv_lock, false);
    if (rc == IPC_OK) rc = ipc__cond_init(&c->changed, false);
    if (rc == IPC_OK && !(c->scratch = malloc(LWS_PRE + CHUNK))) rc = ipc__fail(IPC_ESYS, "malloc");
    if (rc == IPC_OK) rc = ipc__helper_init(&c->thread);
    if (rc == IPC_OK) {
        c->retry = (lws_retry_bo_t){ .secs_since_valid_ping = (uint16_t)ep->ping,
                                     .secs_since_valid_hangup = (uint16_t)ep->hangup };
        struct lws_context_creation_info info = { 0 };
        info.port = CONTEXT_PORT_NO_LISTEN;
        info.protocols = client_protocols;
        info.gid = -1;
        info.uid = -1;
        info.user = c;
        info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
        if (!(c->ctx = lws_create_context(&info))) rc = ipc__fail(IPC_ESYS, "websocket: lws_create_context (client)");
    }
    if (rc == IPC_OK) {
        char host[HOST_MAX + 8];
        snprintf(host, sizeof host, "%s:%d", ep->host, ep->port);
        struct lws_client_connect_info ci = { 0 };
        ci.context = c->ctx;
        ci.address = ep->host;
        ci.port = ep->port;
        ci.path = ep->path;
        ci.host = host;
        ci.origin = host;
        ci.protocol = "ipcplay";
        ci.retry_and_idle_policy = &c->retry;
        ci.pwsi = &c->wsi;
        if (!lws_client_connect_via_info(&ci) && !c->wsi) c->state = 2;
        svc_register(&c->svc, c->ctx);
        rc = ipc__helper_start(&c->thread, client_main, c);
        if (rc != IPC_OK) svc_unregister(&c->svc);
    }
    if (rc == IPC_OK) {
        ipc_deadline d;
        ipc__deadline_start(&d, CONNECT_MS);
        pthread_mutex_lock(&c->lock);
        while (c->state != 2 && !c->hello && client_wait(c, &d) == 0) {}
        if (!c->hello)
            rc = ipc__fail(IPC_ECLOSED, "websocket: no ipcplay server at ws://%s:%d%s (%s)", ep->host, ep->port,
                           ep->path, c->state == 2 ? (c->why[0] ? c->why : "refused") : "no answer");
        pthread_mutex_unlock(&c->lock);
    }
    if (rc != IPC_OK) {
        client_free(c);
        return rc;
    }
    *out = c;
    return IPC_OK;
}

/* Wait (c->lock held) for the reply to the request just queued: *reply set,
 * the connection gone, or — after the deadline, once cancel_cmd went out
 * (at once if `cancel`) — the server's "cancelled".  The cancel's answer is
 * always awaited, so no reply is left over for the next request.  The
 * observer hears BLOCKED once the server says it parked the request. */
static void client_await(ws_client *c, ipc_channel *ch, enum ipc_event_kind kind, const ipc_deadline *d,
                         const int *reply, const bool *cancelled, const bool *parked, const char *cancel_cmd,
                         bool cancel)
{
    bool told = false;
    while (*reply == 0 && c->state != 2 && !*cancelled) {
        if (*parked && !told && ch && !ipc__deadline_is_nowait(d)) { /* a client's ipc_depth takes no lock */
            ipc__blocked(ch, kind);
            told = true;
        }
        if (cancel) {
            client_wait(c, &ipc__forever);
        } else if (client_wait(c, d) == 1 && *reply == 0) {
            cancel = true;
            if (!client_queue(c, cancel_cmd, strlen(cancel_cmd), false)) client_gone(c, "out of memory");
        }
    }
    while (cancel && !*cancelled && c->state != 2) client_wait(c, &ipc__forever);
}

static int client_send(ws_client *c, ipc_channel *ch, const void *msg, size_t len, const ipc_deadline *d)
{
    int r = ipc__lock(&c->send_lock, d, NULL);
    if (r == 1) return ipc__fail(IPC_EFULL, "websocket: another thread was sending until the deadline");
    if (r < 0) return r;
    pthread_mutex_lock(&c->lock);
    int rc;
    c->s_reply = 0;
    c->s_cancelled = c->s_parked = false;
    bool cancel = ipc__deadline_is_nowait(d);
    if (c->state == 2) rc = client_gone_error(c);
    else if (!client_queue(c, msg, len, true) || (cancel && !client_queue(c, "cancel-send", 11, false)))
        rc = ipc__fail(IPC_ESYS, "malloc");
    else {
        client_await(c, ch, IPC_EV_SEND_BLOCKED, d, &c->s_reply, &c->s_cancelled, &c->s_parked, "cancel-send", cancel);
        if (c->s_reply == IPC_OK + 1) rc = IPC_OK;
        else if (c->s_reply == IPC_ECLOSED) rc = ipc__fail(IPC_ECLOSED, "websocket: channel closed");
        else if (c->state == 2) rc = client_gone_error(c);
        else rc = ipc__fail(IPC_EFULL, "websocket: the channel stayed full (capacity %zu)", c->capacity);
    }
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&c->send_lock);
    return rc;
}

static int client_recv(ws_client *c, ipc_channel *ch, void *buf, size_t cap, size_t *len, const ipc_deadline *d)
{
    int r = ipc__lock(&c->recv_lock, d, NULL);
    if (r == 1) return ipc__fail(IPC_EEMPTY, "websocket: another thread was receiving until the deadline");
    if (r < 0) return r;
    pthread_mutex_lock(&c->lock);
    int rc;
    char line[48];
    snprintf(line, sizeof line, "pull %zu", cap);
    c->r_reply = 0;
    c->r_cancelled = c->r_parked = false;
    bool cancel = ipc__deadline_is_nowait(d);
    if (c->state == 2) rc = client_gone_error(c);
    else if (!client_queue(c, line, strlen(line), false) || (cancel && !client_queue(c, "cancel-pull", 11, false)))
        rc = ipc__fail(IPC_ESYS, "malloc");
    else {
        client_await(c, ch, IPC_EV_RECV_BLOCKED, d, &c->r_reply, &c->r_cancelled, &c->r_parked, "cancel-pull", cancel);
        /* Return only once "got" is in the kernel: a receiver that exits
         * right after this call must not make the server requeue (and so
         * duplicate) the message it has just delivered. */
        while (c->r_reply == 1 && c->got_unsent && c->state != 2) client_wait(c, &ipc__forever);
        if (c->r_reply == 1 && c->r_data->len > cap) {
            /* the server must answer "r toobig" instead: never trust it */
            errno = EPROTO;
            rc = ipc__fail(IPC_ESYS, "websocket: the server sent %zu bytes for a %zu-byte pull", c->r_data->len, cap);
            msg_put(c->r_data);
            c->r_data = NULL;
        } else if (c->r_reply == 1) {
            *len = c->r_data->len;
            if (*len) memcpy(buf, c->r_data->data, *len);
            msg_put(c->r_data);
            c->r_data = NULL;
            rc = IPC_OK;
        } else if (c->r_reply == IPC_EMSGSIZE) {
            *len = c->r_size;
            rc = ipc__fail(IPC_EMSGSIZE, "websocket: message of %zu bytes does not fit a %zu-byte buffer", c->r_size, cap);
        } else if (c->r_reply == IPC_ECLOSED) {
            rc = ipc__fail(IPC_ECLOSED, "websocket: channel closed and drained");
        } else if (c->state == 2) {
            rc = client_gone_error(c);
        } else {
            rc = ipc__fail(IPC_EEMPTY, "websocket: nothing received");
        }
    }
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&c->recv_lock);
    return rc;
}

/* A text request with a reply flag (close, sub): wait for it or the end. */
static int client_request(ws_client *c, const char *text, bool *flag, int timeout_ms)
{
    ipc_deadline d;
    ipc__deadline_start(&d, timeout_ms);
    pthread_mutex_lock(&c->send_lock);
    pthread_mutex_lock(&c->lock);
    int rc = IPC_OK;
    *flag = false;
    if (c->state == 2) rc = client_gone_error(c);
    else if (!client_queue(c, text, strlen(text), false)) rc = ipc__fail(IPC_ESYS, "malloc");
    else {
        while (!*flag && c->state != 2 && client_wait(c, &d) == 0) {}
        if (!*flag) rc = c->state == 2 ? client_gone_error(c) : ipc__fail(IPC_ESYS, "websocket: no answer to '%s'", text);
    }
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&c->send_lock);
    return rc;
}

/* ---- the channel ------------------------------------------------------- */

typedef struct ws_channel {
    ipc_channel     base;
    ws_endpoint     ep;             /* the real one (port filled in)          */
    char            endpoint[EP_MAX], page_url[EP_MAX];
    pid_t           owner;          /* the process running srv, or 0          */
    ws_server      *srv;
    ws_client      *cli;            /* this process's connection, if it needs one */
} ws_channel;

/* Serialises making a handle's client connection (the first use by an
 * attacher's threads, or of a handle inherited by a fork()ed child). */
static pthread_mutex_t g_adopt = PTHREAD_MUTEX_INITIALIZER;

static bool is_owner(const ws_channel *w) { return w->owner == getpid(); }

/* This process's client connection, made on first use (attachers, and
 * handles inherited across fork()). */
static int client_of(ws_channel *w, ws_client **out)
{
    ws_client *c = __atomic_load_n(&w->cli, __ATOMIC_ACQUIRE); /* acquire: pairs with the release below */
    if (c && c->pid == getpid()) {
        *out = c;
        return IPC_OK;
    }
    int rc = IPC_OK;
    pthread_mutex_lock(&g_adopt);
    c = w->cli;
    if (!c || c->pid != getpid()) {
        /* a parent's connection (inherited across fork()): abandon it */
        rc = client_open(&w->ep, false, &c);
        if (rc == IPC_OK) __atomic_store_n(&w->cli, c, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&g_adopt);
    if (rc == IPC_OK) *out = c;
    return rc;
}

/* One round of an owner's wait (s->lock held): tell the observer once that
 * the call blocks (without the lock: the observer may call ipc_depth), else
 * sleep until a change or the deadline.  RETURNS 0 (look again), IPC_ESYS. */
static int owner_wait(ws_server *s, ipc_channel *ch, enum ipc_event_kind kind, bool *told, const ipc_deadline *d)
{
    if (!*told) {
        pthread_mutex_unlock(&s->lock);
        ipc__blocked(ch, kind);
        pthread_mutex_lock(&s->lock);
        *told = true;
        return IPC_OK;
    }
    return ipc__cond_wait(&s->changed, &s->lock, d, NULL) < 0 ? IPC_ESYS : IPC_OK;
}

static int wsc_send(ipc_channel *ch, const void *msg, size_t len, int prio, const ipc_deadline *d)
{
    (void)prio;
    ws_channel *w = (ws_channel *)ch;
    if (!is_owner(w)) {
        ws_client *c;
        int rc = client_of(w, &c);
        return rc == IPC_OK ? client_send(c, ch, msg, len, d) : rc;
    }
    ws_server *s = w->srv;
    ws_msg *m = msg_new(msg, len);
    if (!m) return ipc__fail(IPC_ESYS, "malloc(%zu)", len);
    pthread_mutex_lock(&s->lock);
    int rc = IPC_OK;
    bool told = false;
    for (;;) {
        if (s->closed) {
            rc = ipc__fail(IPC_ECLOSED, "websocket: channel closed");
            break;
        }
        if (room(s)) {
            q_push_tail(s, m);
            m = NULL;
            update_ready(s);
            pthread_cond_broadcast(&s->changed);
            if (s->parked_pulls) server_kick(s);
            break;
        }
        if (ipc__deadline_passed(d) || ipc__deadline_is_nowait(d)) {
            rc = ipc__fail(IPC_EFULL, "websocket: channel full (capacity %zu)", s->capacity);
            break;
        }
        if ((rc = owner_wait(s, ch, IPC_EV_SEND_BLOCKED, &told, d)) != IPC_OK) break;
    }
    pthread_mutex_unlock(&s->lock);
    msg_put(m);
    return rc;
}

static int wsc_recv(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d)
{
    ws_channel *w = (ws_channel *)ch;
    *prio = 0;
    if (!is_owner(w)) {
        ws_client *c;
        int rc = client_of(w, &c);
        return rc == IPC_OK ? client_recv(c, ch, buf, cap, len, d) : rc;
    }
    ws_server *s = w->srv;
    pthread_mutex_lock(&s->lock);
    int rc = IPC_OK;
    bool told = false;
    for (;;) {
        if (s->count > 0) {
            ws_msg *m = s->ring[s->head];
            *len = m->len;
            if (m->len > cap) {
                rc = ipc__fail(IPC_EMSGSIZE, "websocket: message of %zu bytes does not fit a %zu-byte buffer", m->len, cap);
                break;
            }
            q_pop(s);
            if (m->len) memcpy(buf, m->data, m->len);
            msg_put(m);
            update_ready(s);
            pthread_cond_broadcast(&s->changed);
            if (s->parked_sends) server_kick(s);
            break;
        }
        if (s->closed) {
            rc = ipc__fail(IPC_ECLOSED, "websocket: channel closed and drained");
            break;
        }
        if (ipc__deadline_passed(d) || ipc__deadline_is_nowait(d)) {
            rc = ipc__fail(IPC_EEMPTY, "websocket: nothing received");
            break;
        }
        if ((rc = owner_wait(s, ch, IPC_EV_RECV_BLOCKED, &told, d)) != IPC_OK) break;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int wsc_close(ipc_channel *ch)
{
    ws_channel *w = (ws_channel *)ch;
    if (!is_owner(w)) {
        ws_client *c;
        int rc = client_of(w, &c);
        if (rc == IPC_OK) rc = client_request(c, "close", &c->c_ok, CONNECT_MS);
        return rc == IPC_ECLOSED ? IPC_OK : rc; /* a server that is gone is closed */
    }
    pthread_mutex_lock(&w->srv->lock);
    server_close_locked(w->srv);
    pthread_mutex_unlock(&w->srv->lock);
    server_kick(w->srv); /* parked requests of clients answer "closed" */
    return IPC_OK;
}

static void wsc_free(ipc_channel *ch)
{
    ws_channel *w = (ws_channel *)ch;
    if (w->cli) client_free(w->cli); /* a no-op for a copy inherited across fork() */
    if (is_owner(w)) server_free(w->srv);
    free(w);
}

static int wsc_pollfd(ipc_channel *ch)
{
    ws_channel *w = (ws_channel *)ch;
    return is_owner(w) ? w->srv->ready_fd : -1;
}

static long wsc_depth(const ipc_channel *ch)
{
    const ws_channel *w = (const ws_channel *)ch;
    if (!is_owner(w)) return -1;
    pthread_mutex_lock(&w->srv->lock);
    long n = (long)(w->srv->count + w->srv->inflight);
    pthread_mutex_unlock(&w->srv->lock);
    return n;
}

static int wsc_attach_config(const ipc_channel *ch, ipc_config *cfg)
{
    cfg->endpoint = ((const ws_channel *)ch)->endpoint;
    return IPC_OK;
}

/* "/ipcplay.<pid>.<n>.<16 hex>": unique, and not guessable by another user. */
static int default_path(char *path, size_t size)
{
    char name[96];
    int rc = ipc__unique_name(name, sizeof name, "/", NULL);
    if (rc != IPC_OK) return rc;
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) r = (uint64_t)ipc_now_ns() * 0x9E3779B97F4A7C15ull;
    if (snprintf(path, size, "%s.%016llx", name, (unsigned long long)r) >= (int)size)
        return ipc__fail(IPC_EINVAL, "websocket: path too long");
    return IPC_OK;
}

static int wsc_open(const ipc_mechanism *m, const ipc_config *cfg, ipc_channel **out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, quiet_lws);
    if (cfg->name) return ipc__fail(IPC_EINVAL, "websocket: a channel is addressed by its endpoint (ws://host:port/path), not a name");
    if (cfg->order != IPC_FIFO) return ipc__fail(IPC_EINVAL, "websocket: only FIFO order");
    bool attach = cfg->flags & IPC_ATTACH;
    if (attach && !cfg->endpoint) return ipc__fail(IPC_EINVAL, "websocket: IPC_ATTACH needs the endpoint");
    /* No SIGPIPE handling needed: libwebsockets sends with MSG_NOSIGNAL. */
    ws_channel *w = ipc__channel_alloc(sizeof *w, m, cfg);
    if (!w) return IPC_ESYS;
    int rc = parse_endpoint(cfg->endpoint ? cfg->endpoint : "ws://127.0.0.1:0", &w->ep);
    if (rc == IPC_OK && !cfg->endpoint) rc = default_path(w->ep.path, sizeof w->ep.path);
    if (rc == IPC_OK && attach) {
        if (w->ep.port == 0) rc = ipc__fail(IPC_EINVAL, "websocket: attach needs the real port, not 0");
        if (rc == IPC_OK) rc = client_open(&w->ep, false, &w->cli);
        if (rc == IPC_OK && w->cli->closed_at_hello) rc = ipc__fail(IPC_ECLOSED, "websocket: the channel is closed");
        if (rc == IPC_OK && cfg->max_msg > w->cli->max_msg)
            rc = ipc__fail(IPC_EINVAL, "websocket: max_msg %zu is above the channel's %zu", cfg->max_msg, w->cli->max_msg);
        if (rc == IPC_OK) {
            w->base.max_msg = w->cli->max_msg; /* the channel's, not our default */
            w->base.capacity = w->cli->capacity;
        }
    } else if (rc == IPC_OK) {
        rc = server_start(&w->ep, cfg->capacity, cfg->max_msg, &w->srv);
        if (rc == IPC_OK) {
            w->ep.port = w->srv->ep.port;
            w->owner = getpid();
        }
    }
    if (rc == IPC_OK) rc = format_endpoint(w->endpoint, sizeof w->endpoint, "ws", &w->ep, true);
    if (rc == IPC_OK) rc = format_endpoint(w->page_url, sizeof w->page_url, "http", &w->ep, false);
    if (rc != IPC_OK) {
        if (w->cli) client_free(w->cli);
        if (w->srv) server_free(w->srv);
        free(w);
        return rc;
    }
    *out = &w->base;
    return IPC_OK;
}

/* ---- the module's extras (ipc_websocket.h) ------------------------------ */

static ws_channel *as_ws(const ipc_channel *ch)
{
    return ipc_channel_mechanism(ch) == &ipc_mech_websocket ? (ws_channel *)ch : NULL;
}

const char *ipc_websocket_endpoint(const ipc_channel *ch)
{
    ws_channel *w = as_ws(ch);
    if (!w) return ipc__fail(IPC_EINVAL, "ipc_websocket_endpoint: not a websocket channel"), NULL;
    return w->endpoint;
}

const char *ipc_websocket_page_url(const ipc_channel *ch)
{
    ws_channel *w = as_ws(ch);
    if (!w) return ipc__fail(IPC_EINVAL, "ipc_websocket_page_url: not a websocket channel"), NULL;
    return w->page_url;
}

int ipc_websocket_stats_get(const ipc_channel *ch, ipc_websocket_stats *st)
{
    ws_channel *w = as_ws(ch);
    if (!w || !st) return ipc__fail(IPC_EINVAL, "ipc_websocket_stats_get: not a websocket channel, or st NULL");
    if (!is_owner(w)) return ipc__fail(IPC_ENOTSUP, "ipc_websocket_stats_get: only the owner's handle sees the server");
    pthread_mutex_lock(&w->srv->lock);
    *st = w->srv->stats;
    st->clients = 0;
    for (ws_conn *c = w->srv->conns; c; c = c->next) st->clients++;
    pthread_mutex_unlock(&w->srv->lock);
    return IPC_OK;
}

int ipc_websocket_publish(ipc_channel *ch, const char *topic, const void *msg, size_t len)
{
    ws_channel *w = as_ws(ch);
    if (!w || !topic || (!msg && len)) return ipc__fail(IPC_EINVAL, "ipc_websocket_publish: not a websocket channel, or NULL argument");
    if (strlen(topic) >= TOPIC_MAX) return ipc__fail(IPC_EINVAL, "ipc_websocket_publish: topic longer than %d bytes", TOPIC_MAX - 1);
    if (len > w->base.max_msg) return ipc__fail(IPC_EMSGSIZE, "ipc_websocket_publish: %zu bytes > max_msg %zu", len, w->base.max_msg);
    if (is_owner(w)) {
        ws_msg *m = msg_new(msg, len);
        if (!m) return ipc__fail(IPC_ESYS, "malloc(%zu)", len);
        pthread_mutex_lock(&w->srv->lock);
        int n = publish_locked(w->srv, topic, m);
        msg_put(m);
        pthread_mutex_unlock(&w->srv->lock);
        server_kick(w->srv);
        return n;
    }
    ws_client *c;
    int rc = client_of(w, &c);
    if (rc != IPC_OK) return rc;
    char line[TOPIC_MAX + 8];
    snprintf(line, sizeof line, "pub %s", topic);
    pthread_mutex_lock(&c->send_lock);
    pthread_mutex_lock(&c->lock);
    c->p_reply = -1;
    if (c->state == 2) rc = client_gone_error(c);
    else if (!client_queue(c, line, strlen(line), false) || !client_queue(c, msg, len, true)) rc = ipc__fail(IPC_ESYS, "malloc");
    else {
        while (c->p_reply < 0 && c->state != 2) client_wait(c, &ipc__forever);
        rc = c->p_reply >= 0 ? (int)c->p_reply : client_gone_error(c);
    }
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&c->send_lock);
    return rc;
}

struct ipc_websocket_sub {
    ws_client *c;
};

int ipc_websocket_subscribe(ipc_channel *ch, const char *topic, ipc_websocket_sub **out)
{
    if (!out) return ipc__fail(IPC_EINVAL, "ipc_websocket_subscribe: out is NULL");
    *out = NULL;
    ws_channel *w = as_ws(ch);
    if (!w || !topic) return ipc__fail(IPC_EINVAL, "ipc_websocket_subscribe: not a websocket channel, or topic NULL");
    if (strlen(topic) >= TOPIC_MAX) return ipc__fail(IPC_EINVAL, "ipc_websocket_subscribe: topic longer than %d bytes", TOPIC_MAX - 1);
    ipc_websocket_sub *s = calloc(1, sizeof *s);
    if (!s) return ipc__fail(IPC_ESYS, "calloc");
    int rc = client_open(&w->ep, true, &s->c);
    if (rc == IPC_OK) {
        char line[TOPIC_MAX + 8];
        snprintf(line, sizeof line, "sub %s", topic);
        rc = client_request(s->c, line, &s->c->sub_ok, CONNECT_MS);
    }
    if (rc != IPC_OK) {
        ipc_websocket_sub_free(s);
        return rc;
    }
    *out = s;
    return IPC_OK;
}

int ipc_websocket_sub_recv(ipc_websocket_sub *s, void *buf, size_t cap, size_t *len, int timeout_ms)
{
    if (!s || !len || (!buf && cap)) return ipc__fail(IPC_EINVAL, "ipc_websocket_sub_recv: NULL argument");
    ws_client *c = s->c;
    ipc_deadline d;
    int bad = ipc__deadline_begin(&d, timeout_ms, "ipc_websocket_sub_recv");
    if (bad != IPC_OK) return bad;
    pthread_mutex_lock(&c->lock);
    int rc = IPC_OK;
    while (c->subq_n == 0) {
        if (c->state == 2) {
            rc = client_gone_error(c);
            break;
        }
        if (client_wait(c, &d) == 1 && c->subq_n == 0) {
            rc = ipc__fail(IPC_EEMPTY, "websocket: nothing published before the deadline");
            break;
        }
    }
    if (rc == IPC_OK) {
        ws_msg *m = c->subq[c->subq_head];
        *len = m->len;
        if (m->len > cap) {
            rc = ipc__fail(IPC_EMSGSIZE, "websocket: message of %zu bytes does not fit a %zu-byte buffer", m->len, cap);
        } else {
            if (m->len) memcpy(buf, m->data, m->len);
            msg_put(m);
            c->subq_head = (c->subq_head + 1) % SUBQ_MAX;
            c->subq_n--;
            if (c->paused) lws_cancel_service(c->ctx);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void ipc_websocket_sub_free(ipc_websocket_sub *s)
{
    if (!s) return;
    client_free(s->c);
    free(s);
}

/* ---- the mechanism ----------------------------------------------------- */

static const struct ipc_ops websocket_ops = {
    .open = wsc_open, .send = wsc_send, .recv = wsc_recv, .close = wsc_close,
    .free = wsc_free, .pollfd = wsc_pollfd, .depth = wsc_depth,
    .attach_config = wsc_attach_config,
};

const ipc_mechanism ipc_mech_websocket = {
    .name = "websocket", .family = "brokers",
    .family_id = IPC_FAMILY_BROKERS, .carrier = IPC_CARRIER_BROKER,
    .summary = "a WebSocket server (libwebsockets) in the owner; other processes, hosts and browsers are clients",
    .caps = IPC_CAP_THREADS | IPC_CAP_FORK | IPC_CAP_UNRELATED | IPC_CAP_HOSTS | IPC_CAP_MPMC
          | IPC_CAP_BOUNDED | IPC_CAP_BROADCAST | IPC_CAP_POLL | IPC_CAP_FIFO | IPC_CAP_CLOSE_WAKES,
    .max_msg_limit = 16u << 20, .default_max_msg = 1u << 20, .default_capacity = 256,
    .wait_strategy = "condvar (owner) / lws service thread + condvar (clients)", .ops = &websocket_ops,
};
