/*
 * test_websocket.c — what the "websocket" mechanism promises beyond the
 * conformance suite (which runs on it like on every mechanism): its
 * publish/subscribe, its page, a real browser at the other end, liveness
 * (a close frame, a silent peer), nothing acknowledged lost when a receiver
 * dies with a message on the wire, and bad clients that must not hurt the
 * good ones: oversize frames, plain HTTP, garbage bytes, a client that never
 * reads.
 *
 * The bad clients are written by hand here (a raw TCP socket speaking as
 * little RFC 6455 as each case needs), so they can misbehave on purpose.
 *
 * The browser case starts Debian's chromium headless (as root it needs
 * --no-sandbox; the --disable-* flags keep it from reaching for the closed
 * network), in its own process group and a fresh --user-data-dir, opens the
 * channel's page with ?echo=1, and checks from C that the page announced
 * itself (its user agent) and echoed what was published.  The whole group is
 * killed by id at the end.  If /usr/bin/chromium ($IPCPLAY_CHROMIUM) is
 * missing, the case is skipped and says why.
 *
 *   build/tests/test_websocket            every case
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "brokers/ipc_websocket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

/* host, port and path of ws://host:port/path */
static void split(const char *ep, char *host, int *port, char *path)
{
    assert_true(sscanf(ep, "%*[a-z]://%63[^:]:%d%255[^?]", host, port, path) == 3);
}

static int tcp_connect(const char *ep)
{
    char host[64], path[256];
    int port;
    split(ep, host, &port, path);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) fail_msg("connect %s: %s", ep, strerror(errno));
    return fd;
}

static void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return; /* the server may have dropped us: the caller checks that */
        p += n;
        len -= (size_t)n;
    }
}

/* Read until the peer closes, `want` appears, or ms pass; returns bytes. */
static size_t read_some(int fd, char *buf, size_t cap, const char *want, int ms)
{
    size_t got = 0;
    int64_t t0 = ipc_now_ns();
    while (got + 1 < cap && tl_ms_since(t0) < ms) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 50) <= 0) continue;
        ssize_t n = recv(fd, buf + got, cap - 1 - got, 0);
        if (n <= 0) break;
        got += (size_t)n;
        buf[got] = 0;
        if (want && memmem(buf, got, want, strlen(want))) break;
    }
    buf[got] = 0;
    return got;
}

/* True when the server closed fd (EOF or reset) within ms. */
static bool closed_by_peer(int fd, int ms)
{
    char buf[4096];
    int64_t t0 = ipc_now_ns();
    while (tl_ms_since(t0) < ms) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 50) <= 0) continue;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return true;
    }
    return false;
}

/* A raw WebSocket client: handshake on the channel's path. */
static int raw_read_frame(int fd, unsigned char *buf, size_t cap, size_t *len);
static int raw_ws(const char *ep)
{
    char host[64], path[256], req[600], resp[2048];
    int port;
    split(ep, host, &port, path);
    int fd = tcp_connect(ep);
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Protocol: ipcplay\r\n\r\n", path, host, port);
    write_all(fd, req, strlen(req));
    read_some(fd, resp, sizeof resp, "\r\n\r\n", 5000);
    if (!strstr(resp, " 101 ")) fail_msg("no upgrade: %s", resp);
    return fd;
}

/* One masked client frame (opcode 1 text, 2 binary) of len bytes. */
static void raw_frame(int fd, int opcode, const void *data, size_t len)
{
    unsigned char h[14];
    size_t n = 0;
    h[n++] = (unsigned char)(0x80 | opcode);
    if (len < 126) h[n++] = (unsigned char)(0x80 | len);
    else if (len < 65536) {
        h[n++] = 0x80 | 126;
        h[n++] = (unsigned char)(len >> 8);
        h[n++] = (unsigned char)len;
    } else {
        h[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) h[n++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    memset(h + n, 0, 4); /* mask 0: the payload goes as is */
    n += 4;
    write_all(fd, h, n);
    if (len) write_all(fd, data, len);
}

static void raw_text(int fd, const char *t) { raw_frame(fd, 1, t, strlen(t)); }

/* Read one server frame (unmasked, FIN, short) into buf; returns its opcode
 * and length, or -1. */
static int raw_read_frame(int fd, unsigned char *buf, size_t cap, size_t *len)
{
    unsigned char h[10];
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, 5000) != 1 || recv(fd, h, 2, MSG_WAITALL) != 2) return -1;
    uint64_t n = h[1] & 0x7f;
    if (n == 126) {
        if (recv(fd, h + 2, 2, MSG_WAITALL) != 2) return -1;
        n = (uint64_t)h[2] << 8 | h[3];
    } else if (n == 127) {
        if (recv(fd, h + 2, 8, MSG_WAITALL) != 8) return -1;
        n = 0;
        for (int i = 0; i < 8; i++) n = n << 8 | h[2 + i];
    }
    if (n > cap || (n && recv(fd, buf, n, MSG_WAITALL) != (ssize_t)n)) return -1;
    *len = n;
    return h[0] & 0x0f;
}

/* The server ends a WebSocket: a close frame (it then waits a moment for
 * ours) or the connection itself, within ms. */
static bool ws_closed_by_peer(int fd, int ms)
{
    static unsigned char buf[1 << 21];
    int64_t t0 = ipc_now_ns();
    while (tl_ms_since(t0) < ms) {
        size_t len;
        int op = raw_read_frame(fd, buf, sizeof buf, &len);
        if (op < 0 || op == 8) return true;
    }
    return false;
}

/* Skip frames until a binary one (the reply to a pull); returns its length. */
static long raw_read_binary(int fd, unsigned char *buf, size_t cap)
{
    for (int i = 0; i < 16; i++) {
        size_t len;
        int op = raw_read_frame(fd, buf, cap, &len);
        if (op < 0 || op == 8) return -1;
        if (op == 2) return (long)len;
    }
    return -1;
}

static ipc_websocket_stats stats(ipc_channel *ch)
{
    ipc_websocket_stats st;
    assert_ipc(ipc_websocket_stats_get(ch, &st), IPC_OK);
    return st;
}

/* Wait up to ms for the server's counter to reach at least want. */
static bool stat_reaches(ipc_channel *ch, size_t offset, long want, int ms)
{
    int64_t t0 = ipc_now_ns();
    do {
        ipc_websocket_stats st = stats(ch);
        if (*(long *)((char *)&st + offset) >= want) return true;
        tl_sleep_ms(20);
    } while (tl_ms_since(t0) < ms);
    return false;
}
#define STAT_REACHES(ch, field, want, ms) stat_reaches(ch, offsetof(ipc_websocket_stats, field), want, ms)

static ipc_channel *attach(const ipc_channel *owner)
{
    ipc_config cfg;
    assert_ipc(ipc_attach_config(owner, &cfg), IPC_OK);
    return tl_open("websocket", &cfg);
}

/* A good client still works both ways. */
static void good_client_works(ipc_channel *owner, uint32_t id)
{
    ipc_channel *a = attach(owner);
    unsigned char msg[300], buf[300];
    size_t got;
    tl_fill(msg, sizeof msg, id);
    assert_ipc(ipc_send(a, msg, sizeof msg, 0, 5000), IPC_OK);
    assert_ipc(ipc_recv(owner, buf, sizeof buf, &got, NULL, 5000), IPC_OK);
    assert_true(got == sizeof msg && tl_check(buf, got, id));
    tl_fill(msg, sizeof msg, id + 1);
    assert_ipc(ipc_send(owner, msg, sizeof msg, 0, 5000), IPC_OK);
    assert_ipc(ipc_recv(a, buf, sizeof buf, &got, NULL, 5000), IPC_OK);
    assert_true(got == sizeof msg && tl_check(buf, got, id + 1));
    ipc_free(a);
}

/* ---- publish/subscribe ---------------------------------------------------- */

static void test_pubsub_prefix_topics_and_counts(void **state)
{
    (void)state;
    ipc_channel *ch = tl_open("websocket", NULL);
    ipc_channel *att = attach(ch);
    ipc_websocket_sub *all, *news, *sport;
    assert_ipc(ipc_websocket_subscribe(ch, "", &all), IPC_OK);
    assert_ipc(ipc_websocket_subscribe(att, "news", &news), IPC_OK);
    assert_ipc(ipc_websocket_subscribe(ch, "sport", &sport), IPC_OK);
    /* confirmed on return: no slow joiner */
    assert_int_equal(ipc_websocket_publish(ch, "news/local", "rain", 4), 2);
    assert_int_equal(ipc_websocket_publish(att, "sport", "goal!", 5), 2); /* from an attacher */
    assert_int_equal(ipc_websocket_publish(ch, "weather", "", 0), 1);
    char buf[16];
    size_t len;
    assert_ipc(ipc_websocket_sub_recv(news, buf, sizeof buf, &len, 5000), IPC_OK);
    assert_true(len == 4 && !memcmp(buf, "rain", 4));
    assert_ipc(ipc_websocket_sub_recv(news, buf, sizeof buf, &len, 100), IPC_EEMPTY);
    assert_ipc(ipc_websocket_sub_recv(news, buf, sizeof buf, &len, -2), IPC_EINVAL); /* a mistake, not "forever" */
    assert_ipc(ipc_websocket_sub_recv(sport, buf, 2, &len, 5000), IPC_EMSGSIZE); /* kept */
    assert_int_equal(len, 5);
    assert_ipc(ipc_websocket_sub_recv(sport, buf, sizeof buf, &len, 5000), IPC_OK);
    assert_true(len == 5 && !memcmp(buf, "goal!", 5));
    const char *want[] = { "rain", "goal!", "" };
    for (int i = 0; i < 3; i++) {
        assert_ipc(ipc_websocket_sub_recv(all, buf, sizeof buf, &len, 5000), IPC_OK);
        assert_true(len == strlen(want[i]) && !memcmp(buf, want[i], len));
    }
    /* broadcast does not touch the queue */
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &len, NULL, 0), IPC_EEMPTY);
    ipc_websocket_sub_free(all);
    ipc_websocket_sub_free(news);
    ipc_websocket_sub_free(sport);
    ipc_free(att);
    ipc_free(ch);
}

/* Every public call of ipc_websocket.h answers an error on bad input. */
static void test_extras_refuse_bad_input(void **state)
{
    (void)state;
    ipc_channel *pipe = tl_open("pipe", NULL);
    ipc_websocket_stats st;
    ipc_websocket_sub *sub = (ipc_websocket_sub *)0x1;
    char buf[4];
    size_t len;
    assert_null(ipc_websocket_endpoint(NULL));
    assert_null(ipc_websocket_endpoint(pipe));
    assert_null(ipc_websocket_page_url(pipe));
    assert_ipc(ipc_websocket_stats_get(pipe, &st), IPC_EINVAL);
    assert_ipc(ipc_websocket_publish(pipe, "t", "x", 1), IPC_EINVAL);
    assert_ipc(ipc_websocket_publish(NULL, "t", "x", 1), IPC_EINVAL);
    assert_ipc(ipc_websocket_subscribe(pipe, "t", &sub), IPC_EINVAL);
    assert_null(sub);
    assert_ipc(ipc_websocket_subscribe(NULL, "t", NULL), IPC_EINVAL);
    assert_ipc(ipc_websocket_sub_recv(NULL, buf, sizeof buf, &len, 0), IPC_EINVAL);
    ipc_websocket_sub_free(NULL);
    ipc_free(pipe);

    ipc_channel *ch = tl_open("websocket", &(ipc_config){ .max_msg = 64 });
    char topic[200];
    memset(topic, 't', sizeof topic - 1);
    topic[sizeof topic - 1] = 0;
    assert_ipc(ipc_websocket_publish(ch, topic, "x", 1), IPC_EINVAL);
    assert_ipc(ipc_websocket_publish(ch, "t", NULL, 1), IPC_EINVAL);
    char big[65] = { 0 };
    assert_ipc(ipc_websocket_publish(ch, "t", big, sizeof big), IPC_EMSGSIZE);
    assert_ipc(ipc_websocket_stats_get(ch, NULL), IPC_EINVAL);
    ipc_channel *att = attach(ch);
    assert_ipc(ipc_websocket_stats_get(att, &st), IPC_ENOTSUP);
    assert_int_equal(ipc_max_msg(att), 64); /* the channel's limit, told by the server */
    ipc_free(att);
    ipc_free(ch);

    /* endpoints */
    ipc_channel *x = NULL;
    assert_ipc(ipc_open("websocket", &(ipc_config){ .endpoint = "http://127.0.0.1:1/x" }, &x), IPC_EINVAL);
    assert_ipc(ipc_open("websocket", &(ipc_config){ .endpoint = "ws://127.0.0.1/x" }, &x), IPC_EINVAL);
    assert_ipc(ipc_open("websocket", &(ipc_config){ .endpoint = "ws://127.0.0.1:0/x?bogus=1" }, &x), IPC_EINVAL);
    assert_ipc(ipc_open("websocket", &(ipc_config){ .name = "x" }, &x), IPC_EINVAL);
    assert_ipc(ipc_open("websocket", &(ipc_config){ .endpoint = "ws://127.0.0.1:0/x", .flags = IPC_ATTACH }, &x), IPC_EINVAL);
    /* nobody listens on port 1: attaching says the channel is not there */
    assert_ipc(ipc_open("websocket", &(ipc_config){ .endpoint = "ws://127.0.0.1:1/x", .flags = IPC_ATTACH }, &x), IPC_ECLOSED);
    assert_null(x);
}

/* A client's observer hears BLOCKED exactly when the server parked its
 * request (the server says "s wait" / "r wait"), never on a nowait call. */
struct blocked_count { int send, recv; };

static void count_blocked(void *arg, const ipc_channel *ch, const ipc_event *ev)
{
    (void)ch;
    struct blocked_count *b = arg;
    if (ev->kind == IPC_EV_SEND_BLOCKED) b->send++;
    if (ev->kind == IPC_EV_RECV_BLOCKED) b->recv++;
}

static void test_client_observer_hears_parked_requests(void **state)
{
    (void)state;
    ipc_channel *ch = tl_open("websocket", &(ipc_config){ .capacity = 1 });
    ipc_channel *a = attach(ch);
    struct blocked_count b = { 0 };
    if (ipc_observe(a, count_blocked, &b) == IPC_ENOTSUP) { ipc_free(a); ipc_free(ch); skip(); return; }
    char buf[8];
    size_t got;
    assert_ipc(ipc_recv(a, buf, sizeof buf, &got, NULL, 0), IPC_EEMPTY);
    assert_int_equal(b.recv, 0);
    assert_ipc(ipc_recv(a, buf, sizeof buf, &got, NULL, 200), IPC_EEMPTY);
    assert_int_equal(b.recv, 1);
    assert_ipc(ipc_send(a, "1", 1, 0, 1000), IPC_OK); /* room: not parked */
    assert_int_equal(b.send, 0);
    assert_ipc(ipc_send(a, "2", 1, 0, 0), IPC_EFULL);
    assert_int_equal(b.send, 0);
    assert_ipc(ipc_send(a, "2", 1, 0, 200), IPC_EFULL);
    assert_int_equal(b.send, 1);
    assert_ipc(ipc_recv(a, buf, sizeof buf, &got, NULL, 1000), IPC_OK); /* a message waits: not parked */
    assert_int_equal(b.recv, 1);
    ipc_free(a);
    ipc_free(ch);
}

/* ---- the page ------------------------------------------------------------- */

static void test_page_served_and_other_paths_refused(void **state)
{
    (void)state;
    ipc_channel *ch = tl_open("websocket", NULL);
    const char *url = ipc_websocket_page_url(ch), *ep = ipc_websocket_endpoint(ch);
    assert_true(strncmp(url, "http://127.0.0.1:", 17) == 0);
    char host[64], path[256], req[512], resp[16384];
    int port;
    split(url, host, &port, path);
    int fd = tcp_connect(url);
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n", path, host, port);
    write_all(fd, req, strlen(req));
    read_some(fd, resp, sizeof resp, "</html>", 5000);
    close(fd);
    if (!strstr(resp, "200 OK") || !strstr(resp, "<title>ipcplay websocket</title>") || !strstr(resp, "new WebSocket("))
        fail_msg("the page was not served: %.300s", resp);

    fd = tcp_connect(url); /* another path: 404, nothing else */
    snprintf(req, sizeof req, "GET /etc/passwd HTTP/1.1\r\nHost: %s:%d\r\n\r\n", host, port);
    write_all(fd, req, strlen(req));
    read_some(fd, resp, sizeof resp, "\r\n\r\n", 5000);
    close(fd);
    if (!strstr(resp, "404")) fail_msg("another path: %.200s", resp);

    /* a WebSocket upgrade on another path is refused */
    char other[300];
    snprintf(other, sizeof other, "ws://%s:%d/not-the-channel", host, port);
    ipc_channel *x = NULL;
    assert_ipc(ipc_open("websocket", &(ipc_config){ .endpoint = other, .flags = IPC_ATTACH }, &x), IPC_ECLOSED);
    assert_true(STAT_REACHES(ch, rejected, 1, 3000));
    (void)ep;
    good_client_works(ch, 10);
    ipc_free(ch);
}

/* ---- bad clients ------------------------------------------------------------ */

static void test_garbage_and_plain_http_are_dropped(void **state)
{
    (void)state;
    ipc_channel *ch = tl_open("websocket", NULL);
    const char *ep = ipc_websocket_endpoint(ch);
    int g = tcp_connect(ep);
    unsigned char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(i * 7 + 3);
    write_all(g, junk, sizeof junk);
    int h = tcp_connect(ep);
    const char *bad = "POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\nxxxx";
    write_all(h, bad, strlen(bad));
    int idle = tcp_connect(ep); /* connects and says nothing */
    good_client_works(ch, 20); /* none of them is in its way */
    assert_true(closed_by_peer(g, 5000));
    close(g);
    close(h);
    close(idle);
    good_client_works(ch, 30);
    ipc_free(ch);
}

static void test_oversize_frame_drops_only_that_client(void **state)
{
    (void)state;
    ipc_channel *ch = tl_open("websocket", &(ipc_config){ .max_msg = 1024 });
    const char *ep = ipc_websocket_endpoint(ch);
    int fd = raw_ws(ep);
    unsigned char big[4096] = { 0 };
    raw_frame(fd, 2, big, sizeof big); /* a binary message above max_msg */
    assert_true(ws_closed_by_peer(fd, 5000));
    close(fd);
    assert_true(STAT_REACHES(ch, oversize, 1, 3000));
    /* a text frame above the control limit, and an unknown command */
    fd = raw_ws(ep);
    memset(big, 'a', sizeof big);
    raw_frame(fd, 1, big, 1000);
    assert_true(ws_closed_by_peer(fd, 5000));
    close(fd);
    fd = raw_ws(ep);
    raw_text(fd, "rm -rf /");
    assert_true(ws_closed_by_peer(fd, 5000));
    close(fd);
    assert_true(STAT_REACHES(ch, protocol_errors, 1, 3000));
    /* nothing reached the queue, and a good client is served */
    char buf[8];
    size_t got;
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 0), IPC_EEMPTY);
    good_client_works(ch, 40);
    ipc_free(ch);
}

struct reader { ipc_websocket_sub *sub; int want, bad; atomic_int got; /* seq_cst: main paces on it while read_all counts */ };

static void *read_all(void *arg)
{
    struct reader *r = arg;
    unsigned char buf[2048];
    size_t len;
    while (atomic_load(&r->got) < r->want) {
        int rc = ipc_websocket_sub_recv(r->sub, buf, sizeof buf, &len, 10000);
        if (rc != IPC_OK) break;
        if (len != sizeof buf || !tl_check(buf, len, (uint32_t)atomic_load(&r->got))) r->bad++;
        atomic_fetch_add(&r->got, 1);
    }
    return NULL;
}

/* A subscriber that never reads is disconnected once its backlog is full;
 * the publisher never blocks and a subscriber that reads gets everything. */
static void test_client_that_never_reads_is_dropped(void **state)
{
    (void)state;
    enum { N = 5000 }; /* 10 MB: more than the kernel buffers (tcp_wmem max 4 MB) hold */
    ipc_channel *ch = tl_open("websocket", NULL);
    int slow = raw_ws(ipc_websocket_endpoint(ch));
    int rcvbuf = 4096;
    setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    raw_text(slow, "sub ");
    /* a puller that never reads its message either */
    int puller = raw_ws(ipc_websocket_endpoint(ch));
    raw_text(puller, "pull 4096");
    assert_true(STAT_REACHES(ch, clients, 2, 3000));
    tl_sleep_ms(100); /* the slow one's "sub" has been handled */

    ipc_websocket_sub *good;
    assert_ipc(ipc_websocket_subscribe(ch, "", &good), IPC_OK);
    struct reader r = { .sub = good, .want = N };
    pthread_t t = tl_thread(read_all, &r);
    unsigned char msg[2048];
    int64_t t0 = ipc_now_ns();
    for (int i = 0; i < N; i++) {
        tl_fill(msg, sizeof msg, (uint32_t)i);
        int n = ipc_websocket_publish(ch, "x", msg, sizeof msg);
        if (n < 0) fail_msg("publish %d: %s", i, ipc_last_error());
        while (i - atomic_load(&r.got) > 200 && tl_ms_since(t0) < 20000) tl_sleep_ms(1); /* pace to the good reader */
    }
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&r.got), N);
    assert_int_equal(r.bad, 0);
    assert_true(STAT_REACHES(ch, dropped_slow, 1, 5000));
    /* the server let go of it: only the puller and the good subscriber remain */
    int64_t t1 = ipc_now_ns();
    while (stats(ch).clients > 2 && tl_ms_since(t1) < 5000) tl_sleep_ms(20);
    assert_int_equal(stats(ch).clients, 2);
    close(slow);
    /* the puller's one message: sent it, never confirmed; closing it puts
     * the message back, and the queue serves it to a good receiver */
    unsigned char m[64], buf[64];
    size_t got;
    tl_fill(m, sizeof m, 77);
    assert_ipc(ipc_send(ch, m, sizeof m, 0, 5000), IPC_OK);
    assert_true(STAT_REACHES(ch, delivered, 1, 3000));
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 0), IPC_EEMPTY); /* it is on the puller's wire */
    assert_int_equal(ipc_depth(ch), 1);                                   /* and still counted */
    close(puller);
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 5000), IPC_OK);
    assert_true(got == sizeof m && tl_check(buf, got, 77));
    assert_true(stats(ch).requeued == 1);
    ipc_websocket_sub_free(good);
    ipc_free(ch);
}

/* A receiver that read the message off the wire but died before "got":
 * the message is not lost, it goes back to the head of the queue. */
static void test_message_on_dead_receivers_wire_is_requeued(void **state)
{
    (void)state;
    ipc_channel *ch = tl_open("websocket", &(ipc_config){ .capacity = 2 });
    unsigned char m[100], buf[100];
    size_t got;
    for (uint32_t i = 0; i < 2; i++) {
        tl_fill(m, sizeof m, i);
        assert_ipc(ipc_send(ch, m, sizeof m, 0, 0), IPC_OK);
    }
    int fd = raw_ws(ipc_websocket_endpoint(ch));
    raw_text(fd, "pull 100");
    long n = raw_read_binary(fd, buf, sizeof buf);
    assert_int_equal(n, 100);
    assert_true(tl_check(buf, 100, 0));
    assert_ipc(ipc_send(ch, m, sizeof m, 0, 0), IPC_EFULL); /* in flight still counts */
    close(fd); /* dies without "got" */
    assert_true(STAT_REACHES(ch, requeued, 1, 5000));
    for (uint32_t i = 0; i < 2; i++) {
        assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 5000), IPC_OK);
        assert_true(got == 100 && tl_check(buf, got, i)); /* message 0 first again: FIFO kept */
    }
    ipc_free(ch);
}

/* ---- liveness ------------------------------------------------------------ */

struct blocked { ipc_channel *a; int rc; };

static void *recv_blocked(void *arg)
{
    struct blocked *b = arg;
    char buf[8];
    size_t got;
    b->rc = ipc_recv(b->a, buf, sizeof buf, &got, NULL, 20000);
    return NULL;
}

/* The owner ends (close frames on every connection): an attacher's blocked
 * receive and its later calls answer IPC_ECLOSED at once. */
static void test_owner_gone_means_closed(void **state)
{
    (void)state;
    ipc_channel *ch = tl_open("websocket", NULL);
    struct blocked b = { .a = attach(ch) };
    pthread_t t = tl_thread(recv_blocked, &b);
    tl_sleep_ms(200);
    int64_t t0 = ipc_now_ns();
    ipc_free(ch);
    pthread_join(t, NULL);
    assert_ipc(b.rc, IPC_ECLOSED);
    assert_true(tl_ms_since(t0) < 5000);
    assert_ipc(ipc_send(b.a, "x", 1, 0, 1000), IPC_ECLOSED);
    ipc_free(b.a);
}

/* A peer that stops answering (SIGSTOP: its socket stays open, it just
 * never replies to PING) is detected by the idle policy on both sides. */
static void test_silent_peer_detected_by_ping(void **state)
{
    (void)state;
    /* the server notices a stopped client */
    ipc_channel *ch = tl_open("websocket", &(ipc_config){ .endpoint = "ws://127.0.0.1:0/live?ping=1&hangup=2" });
    assert_non_null(strstr(ipc_websocket_endpoint(ch), "?ping=1&hangup=2"));
    ipc_config cfg;
    assert_ipc(ipc_attach_config(ch, &cfg), IPC_OK);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = tl_fork(30);
    if (pid == 0) {
        ipc_channel *a = NULL;
        if (ipc_open("websocket", &cfg, &a) != IPC_OK) _exit(1);
        if (write(ready[1], "r", 1) != 1) _exit(2);
        pause();
        _exit(0);
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_true(STAT_REACHES(ch, clients, 1, 3000));
    kill(pid, SIGSTOP);
    int64_t t0 = ipc_now_ns();
    int64_t ms = -1;
    while (tl_ms_since(t0) < 8000) {
        if (stats(ch).clients == 0) { ms = tl_ms_since(t0); break; }
        tl_sleep_ms(50);
    }
    kill(pid, SIGKILL);
    tl_wait(pid, 10);
    if (ms < 0) fail_msg("the server still holds the stopped client after 8 s");

    /* a client notices a stopped server (the owner is the stopped one) */
    pid = tl_fork(30);
    if (pid == 0) {
        ipc_channel *o = NULL;
        if (ipc_open("websocket", &(ipc_config){ .endpoint = "ws://127.0.0.1:0/live2?ping=1&hangup=2" }, &o) != IPC_OK) _exit(1);
        const char *e = ipc_websocket_endpoint(o);
        if (write(ready[1], e, strlen(e) + 1) != (ssize_t)strlen(e) + 1) _exit(2);
        pause();
        _exit(0);
    }
    char ep[512] = "";
    ssize_t n = read(ready[0], ep, sizeof ep);
    assert_true(n > 0);
    ipc_channel *a = tl_open("websocket", &(ipc_config){ .endpoint = ep, .flags = IPC_ATTACH });
    kill(pid, SIGSTOP);
    char buf[8];
    size_t got;
    t0 = ipc_now_ns();
    int rc = ipc_recv(a, buf, sizeof buf, &got, NULL, 10000);
    ms = tl_ms_since(t0);
    kill(pid, SIGKILL);
    tl_wait(pid, 10);
    ipc_free(a);
    close(ready[0]);
    close(ready[1]);
    ipc_free(ch);
    assert_ipc(rc, IPC_ECLOSED);
    if (ms > 6000) fail_msg("the silent server was noticed only after %lld ms", (long long)ms);
}

/* ---- a real browser ------------------------------------------------------- */

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(p);
    return 0;
}

/* Receive one message from ch within ms into buf (NUL-terminated). */
static int recv_text(ipc_channel *ch, char *buf, size_t cap, int ms)
{
    size_t got;
    int rc = ipc_recv(ch, buf, cap - 1, &got, NULL, ms);
    buf[rc == IPC_OK ? got : 0] = 0;
    return rc;
}

/* Chromium's singleton socket dirs in $TMPDIR (or /tmp). */
static size_t chromium_tmp_entries(void)
{
    const char *tmp = getenv("TMPDIR");
    char pattern[600];
    snprintf(pattern, sizeof pattern, "%s/org.chromium.Chromium.*", tmp && *tmp ? tmp : "/tmp");
    glob_t g = { 0 };
    size_t n = glob(pattern, 0, NULL, &g) == 0 ? g.gl_pathc : 0;
    globfree(&g);
    return n;
}

static void test_real_browser_both_ways(void **state)
{
    (void)state;
    const char *chromium = getenv("IPCPLAY_CHROMIUM") ? getenv("IPCPLAY_CHROMIUM") : "/usr/bin/chromium";
    if (access(chromium, X_OK) != 0) {
        printf("  [browser] skipped: %s is not there (apt-get install chromium; scripts/install-deps does)\n", chromium);
        skip();
        return;
    }
    ipc_channel *ch = tl_open("websocket", NULL);
    char dir[512], profile[600], url[700], log[600];
    tl_tempdir(dir, sizeof dir, "chromium");
    snprintf(profile, sizeof profile, "--user-data-dir=%s/profile", dir);
    snprintf(url, sizeof url, "%s?echo=1&topic=news", ipc_websocket_page_url(ch));
    snprintf(log, sizeof log, "%s/chromium.log", dir);
    char *argv[] = { (char *)chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--disable-dev-shm-usage", "--no-default-browser-check",
                     profile, url, NULL };
    /* TMPDIR in our dir: chromium makes its singleton socket dir
     * (org.chromium.Chromium.XXXXXX) there, and SIGKILL leaves it behind */
    size_t strays_before = chromium_tmp_entries();
    extern char **environ;
    size_t n_env = 0;
    while (environ[n_env]) n_env++;
    char tmpdir[600], **env = calloc(n_env + 2, sizeof *env);
    assert_non_null(env);
    snprintf(tmpdir, sizeof tmpdir, "TMPDIR=%s", dir);
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++)
        if (strncmp(environ[i], "TMPDIR=", 7) != 0) env[k++] = environ[i];
    env[k++] = tmpdir;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0); /* its own group: the zygote and renderers go with it */
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execve(chromium, argv, env);
        _exit(127);
    }
    setpgid(pid, pid);
    free(env);

    char buf[600];
    int rc = recv_text(ch, buf, sizeof buf, 60000); /* its first message: "browser-ready <user agent>" */
    bool ready = rc == IPC_OK && strncmp(buf, "browser-ready ", 14) == 0;
    bool chrome = ready && strstr(buf, "Chrome/");
    char first[600];
    snprintf(first, sizeof first, "%s", buf);
    int echoed = 0;
    if (ready) {
        for (int i = 0; i < 3; i++) {
            char m[32], want[40];
            snprintf(m, sizeof m, "hello-%d", i);
            snprintf(want, sizeof want, "echo:%s", m);
            int n = ipc_websocket_publish(ch, "news", m, strlen(m));
            if (n != 1) break;
            if (recv_text(ch, buf, sizeof buf, 15000) != IPC_OK || strcmp(buf, want) != 0) break;
            echoed++;
        }
    }
    /* end the browser: the whole group, by its id */
    kill(-pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    int64_t t0 = ipc_now_ns();
    while (kill(-pid, 0) == 0 && tl_ms_since(t0) < 5000) tl_sleep_ms(20);
    bool group_gone = kill(-pid, 0) != 0;
    char tail[400] = "";
    FILE *f = fopen(log, "r");
    if (f) {
        size_t n = fread(tail, 1, sizeof tail - 1, f);
        tail[n] = 0;
        fclose(f);
    }
    size_t strays = chromium_tmp_entries(); /* what it left in its TMPDIR goes with our dir */
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    ipc_free(ch);
    if (!ready) fail_msg("the browser never said it was ready (%s: %s); its log: %s", ipc_strerror(rc), first, tail);
    if (!chrome) fail_msg("not a Chrome user agent: %s", first);
    printf("  [browser] %.120s\n", first);
    assert_int_equal(echoed, 3);
    assert_true(group_gone);
    assert_int_equal(strays, strays_before); /* none new in the real TMPDIR */
}

/* With only a few descriptors left, a failed open says so, whichever of its
 * descriptors it could not get: the listening socket's failure used to read
 * "no listening port: Bad file descriptor" (testlib.h). */
static void test_out_of_descriptors_is_named(void **state)
{
    (void)state;
    tl_out_of_descriptors_is_named("websocket", 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TL_CASE(test_pubsub_prefix_topics_and_counts),
        TL_CASE(test_extras_refuse_bad_input),
        TL_CASE(test_client_observer_hears_parked_requests),
        TL_CASE(test_page_served_and_other_paths_refused),
        TL_CASE(test_garbage_and_plain_http_are_dropped),
        TL_CASE(test_oversize_frame_drops_only_that_client),
        TL_CASE(test_client_that_never_reads_is_dropped),
        TL_CASE(test_message_on_dead_receivers_wire_is_requeued),
        TL_CASE(test_owner_gone_means_closed),
        TL_CASE(test_silent_peer_detected_by_ping),
        TL_CASE(test_out_of_descriptors_is_named),
        TL_CASE(test_real_browser_both_ways),
    };
    return cmocka_run_group_tests_name("websocket", tests, NULL, NULL);
}
