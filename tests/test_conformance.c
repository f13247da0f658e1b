/*
 * test_conformance.c — the specification of a channel, run on every
 * mechanism in the registry.
 *
 * Each mechanism, under each wait strategy it supports (ipc_mechanism.waits:
 * block, spin, adaptive), becomes one cmocka group named
 * "conformance/<mechanism>/<strategy>", and every case in it opens its
 * channels with that strategy (case names read "pipe/adaptive/close_wakes...").
 * A case that needs something the mechanism cannot do (its caps say so) is
 * skipped, never bent: adding a mechanism or a strategy to the registry adds
 * it to every case below without a single new line here.
 *
 *   build/tests/test_conformance                  every mechanism, every strategy
 *   build/tests/test_conformance pipe shm         only those (every strategy)
 *   build/tests/test_conformance pipe/spin queue  pipe under spin only, and queue
 *   TL_FILTER='*close_loses*' build/tests/test_conformance   matching cases only
 *   build/tests/test_conformance --attach-child ...   (what one case execs)
 */
#define _GNU_SOURCE
#include "testlib.h"

#include <limits.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

/* The mechanism the running group tests, and the wait strategy it runs under. */
static const ipc_mechanism *M;
static int W;

static bool has(unsigned cap) { return (M->caps & cap) == cap; }

#define REQUIRE(cap) do { if (!has(cap)) { skip(); return; } } while (0)

/* Every channel a case opens waits the group's way. */
static ipc_channel *open_with(const ipc_config *cfg)
{
    ipc_config c = cfg ? *cfg : (ipc_config){ 0 };
    c.wait = W;
    return tl_open(M->name, &c);
}

static ipc_channel *open_default(void) { return open_with(NULL); }

/* How many messages we may queue without a receiver: the capacity if the
 * mechanism has one, else `want`. */
static size_t room(const ipc_channel *ch, size_t want)
{
    size_t cap = ipc_capacity(ch);
    return cap && cap < want ? cap : want;
}

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

static void send_ok(ipc_channel *ch, const void *msg, size_t len)
{
    assert_ipc(ipc_send(ch, msg, len, 0, 5000), IPC_OK);
}

/* Receive one message and check it is message `id` of `len` bytes. */
static void recv_expect(ipc_channel *ch, size_t len, uint32_t id)
{
    size_t cap = len ? len : 1;
    unsigned char *buf = malloc(cap);
    assert_non_null(buf);
    size_t got = (size_t)-1;
    int rc = ipc_recv(ch, buf, cap, &got, NULL, 5000);
    if (rc != IPC_OK) {
        free(buf);
        fail_msg("recv of message %u: %s (%s)", id, ipc_strerror(rc), ipc_last_error());
    }
    bool ok = got == len && tl_check(buf, got, id);
    free(buf);
    if (!ok) fail_msg("message %u: got %zu bytes (want %zu) or wrong content", id, got, len);
}

/* ---- basics ------------------------------------------------------------ */

static void test_open_describes_itself(void **state)
{
    (void)state;
    ipc_channel *ch = open_default();
    assert_ptr_equal(ipc_channel_mechanism(ch), M);
    assert_true(ipc_max_msg(ch) > 0);
    assert_true(ipc_max_msg(ch) <= M->max_msg_limit);
    assert_non_null(M->family);
    assert_non_null(M->summary);
    assert_non_null(M->wait_strategy);
    assert_int_equal(ipc_wait_strategy(ch), W);
    unsigned waits = M->waits ? M->waits : IPC_WAIT_BIT(IPC_WAIT_BLOCK);
    int dflt = M->wait_default ? M->wait_default : IPC_WAIT_BLOCK;
    assert_true(waits & IPC_WAIT_BIT(dflt)); /* the default is one it supports */
    ipc_channel *d = tl_open(M->name, NULL);
    assert_int_equal(ipc_wait_strategy(d), dflt);
    ipc_free(d);
    if (has(IPC_CAP_POLL)) assert_true(ipc_pollfd(ch) >= 0);
    else assert_int_equal(ipc_pollfd(ch), -1);
    ipc_free(ch);
}

/* Messages of many sizes keep their boundaries and their bytes, in the order
 * the mechanism promises; twice, so ring indices wrap and buffers are reused. */
static void test_order_and_boundaries(void **state)
{
    (void)state;
    static const size_t sizes[] = { 1, 3, 8, 100, 1000, 4000, 5000, 2 };
    enum { N = sizeof sizes / sizeof sizes[0] };
    ipc_channel *ch = open_default();
    size_t max = ipc_max_msg(ch), batch = room(ch, N);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < batch; i++) {
            unsigned char buf[5000];
            size_t len = min_sz(sizes[i], max);
            tl_fill(buf, len, (uint32_t)(round * 100 + i));
            send_ok(ch, buf, len);
        }
        bool seen[N] = { false };
        for (size_t k = 0; k < batch; k++) {
            unsigned char buf[5000];
            size_t got = 0;
            assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 5000), IPC_OK);
            size_t i = has(IPC_CAP_LIFO) ? batch - 1 - k : k;
            if (!has(IPC_CAP_FIFO) && !has(IPC_CAP_LIFO)) { /* no order promised: find it */
                for (i = 0; i < batch; i++)
                    if (!seen[i] && got == min_sz(sizes[i], max) && tl_check(buf, got, (uint32_t)(round * 100 + i)))
                        break;
                assert_true(i < batch);
            }
            assert_false(seen[i]);
            seen[i] = true;
            assert_int_equal(got, min_sz(sizes[i], max));
            assert_true(tl_check(buf, got, (uint32_t)(round * 100 + i)));
        }
    }
    ipc_free(ch);
}

static void test_zero_length_message(void **state)
{
    (void)state;
    ipc_channel *ch = open_default();
    char buf[16];
    size_t got = 99;
    assert_ipc(ipc_send(ch, NULL, 0, 0, 5000), IPC_OK);
    assert_ipc(ipc_send(ch, "x", 0, 0, 5000), IPC_OK);
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 5000), IPC_OK);
    assert_int_equal(got, 0);
    got = 99;
    assert_ipc(ipc_recv(ch, NULL, 0, &got, NULL, 5000), IPC_OK); /* no buffer needed for 0 bytes */
    assert_int_equal(got, 0);
    ipc_free(ch);
}

struct big_recv { ipc_channel *ch; size_t len; int rc; size_t got; bool content_ok; };

static void *receive_big(void *arg)
{
    struct big_recv *b = arg;
    unsigned char *buf = malloc(b->len);
    if (!buf) { b->rc = IPC_ESYS; return NULL; }
    b->rc = ipc_recv(b->ch, buf, b->len, &b->got, NULL, 20000);
    b->content_ok = b->rc == IPC_OK && b->got == b->len && tl_check(buf, b->got, 77);
    free(buf);
    return NULL;
}

/* A message of exactly max_msg bytes goes through whole (a receiver runs at
 * the same time, since the largest message may not fit a kernel buffer). */
static void test_max_size_message(void **state)
{
    (void)state;
    REQUIRE(IPC_CAP_THREADS);
    ipc_channel *ch = open_default();
    struct big_recv b = { .ch = ch, .len = ipc_max_msg(ch) };
    unsigned char *msg = malloc(b.len);
    assert_non_null(msg);
    tl_fill(msg, b.len, 77);
    pthread_t t = tl_thread(receive_big, &b);
    int rc = ipc_send(ch, msg, b.len, 0, 20000);
    pthread_join(t, NULL);
    free(msg);
    assert_ipc(rc, IPC_OK);
    assert_ipc(b.rc, IPC_OK);
    assert_int_equal(b.got, b.len);
    assert_true(b.content_ok);
    ipc_free(ch);
}

static void test_oversize_send_is_refused(void **state)
{
    (void)state;
    ipc_channel *ch = open_default();
    size_t max = ipc_max_msg(ch);
    unsigned char *msg = calloc(1, max + 1);
    assert_non_null(msg);
    assert_ipc(ipc_send(ch, msg, max + 1, 0, 0), IPC_EMSGSIZE);
    free(msg);
    unsigned char small[8];
    size_t len = min_sz(sizeof small, max);
    tl_fill(small, len, 5);
    send_ok(ch, small, len); /* still usable */
    recv_expect(ch, len, 5);
    ipc_free(ch);
}

/* Too small a buffer: IPC_EMSGSIZE, *len says the size, and the message
 * stays queued, ahead of the next one. */
static void test_small_buffer_keeps_message(void **state)
{
    (void)state;
    ipc_channel *ch = open_default();
    size_t len = min_sz(100, ipc_max_msg(ch));
    if (len < 2) { ipc_free(ch); skip(); return; }
    /* message 1 (len bytes) must be the next one out: for LIFO, send it last */
    unsigned char msg[100];
    bool second = room(ch, 2) >= 2;
    for (int k = 0; k < 2; k++) {
        bool big_now = has(IPC_CAP_LIFO) ? k == 1 : k == 0;
        if (!big_now && !second) continue;
        tl_fill(msg, big_now ? len : len - 1, big_now ? 1 : 2);
        send_ok(ch, msg, big_now ? len : len - 1);
    }
    unsigned char buf[100];
    size_t got = 0;
    assert_ipc(ipc_recv(ch, buf, len - 1, &got, NULL, 5000), IPC_EMSGSIZE);
    assert_int_equal(got, len);
    if (has(IPC_CAP_FIFO)) {
        recv_expect(ch, len, 1);
        if (second) recv_expect(ch, len - 1, 2);
    } else { /* LIFO or unordered: both must still be there, intact */
        size_t n = second ? 2 : 1;
        bool one = false, two = false;
        for (size_t i = 0; i < n; i++) {
            assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 5000), IPC_OK);
            if (got == len && tl_check(buf, got, 1)) one = true;
            else if (got == len - 1 && tl_check(buf, got, 2)) two = true;
        }
        assert_true(one);
        assert_true(two == second);
    }
    ipc_free(ch);
}

/* ---- timeouts ---------------------------------------------------------- */

static void test_nowait_on_empty(void **state)
{
    (void)state;
    ipc_channel *ch = open_default();
    char buf[8];
    size_t got;
    int64_t t0 = ipc_now_ns();
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 0), IPC_EEMPTY);
    assert_true(tl_ms_since(t0) < 1000);
    ipc_free(ch);
}

static void test_timeout_on_empty(void **state)
{
    (void)state;
    ipc_channel *ch = open_default();
    char buf[8];
    size_t got;
    int64_t t0 = ipc_now_ns();
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 150), IPC_EEMPTY);
    int64_t ms = tl_ms_since(t0);
    if (ms < 149 || ms > 3000) fail_msg("150 ms receive timeout took %lld ms", (long long)ms);
    ipc_free(ch);
}

static void on_usr1(int sig) { (void)sig; }

struct storm { pthread_t target; atomic_bool stop; };

static void *signal_storm(void *arg)
{
    struct storm *s = arg;
    while (!atomic_load(&s->stop)) {
        pthread_kill(s->target, SIGUSR1);
        tl_sleep_ms(5);
    }
    return NULL;
}

/* A wait interrupted every 5 ms by a signal handler (installed without
 * SA_RESTART, so every system call sees EINTR) still ends at its deadline:
 * EINTR neither restarts the clock nor ends the wait early.  Receive on an
 * empty channel; for a bounded one, send to a full one too. */
static void test_timeout_survives_signal_storm(void **state)
{
    (void)state;
    REQUIRE(IPC_CAP_THREADS);
    struct sigaction sa = { .sa_handler = on_usr1 }, old;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old);
    bool bounded = has(IPC_CAP_BOUNDED);
    ipc_channel *ch = open_with(bounded ? &(ipc_config){ .capacity = 1 } : NULL);
    struct storm st = { .target = pthread_self() };
    pthread_t t = tl_thread(signal_storm, &st);
    char buf[8] = "f";
    size_t got, len = min_sz(1, ipc_max_msg(ch));
    int64_t t0 = ipc_now_ns();
    int rc = ipc_recv(ch, buf, sizeof buf, &got, NULL, 300);
    int64_t recv_ms = tl_ms_since(t0), send_ms = 300;
    int rc2 = IPC_EFULL, fill = bounded ? ipc_send(ch, buf, len, 0, 0) : IPC_OK;
    if (bounded && fill == IPC_OK) {
        t0 = ipc_now_ns();
        rc2 = ipc_send(ch, buf, len, 0, 300);
        send_ms = tl_ms_since(t0);
    }
    atomic_store(&st.stop, true);
    pthread_join(t, NULL);
    sigaction(SIGUSR1, &old, NULL);
    ipc_free(ch);
    assert_ipc(rc, IPC_EEMPTY);
    assert_ipc(fill, IPC_OK);
    assert_ipc(rc2, IPC_EFULL);
    if (recv_ms < 299 || recv_ms > 3000) fail_msg("300 ms receive under a signal storm took %lld ms", (long long)recv_ms);
    if (send_ms < 299 || send_ms > 3000) fail_msg("300 ms send under a signal storm took %lld ms", (long long)send_ms);
}

/* A bounded channel holds exactly `capacity` messages; then put_nowait and a
 * timed put fail with IPC_EFULL, and one receive makes room again. */
static void test_bounded_full(void **state)
{
    (void)state;
    REQUIRE(IPC_CAP_BOUNDED);
    ipc_channel *ch = open_with(&(ipc_config){ .capacity = 4 });
    assert_int_equal(ipc_capacity(ch), 4);
    char msg[8] = "full";
    size_t len = min_sz(sizeof msg, ipc_max_msg(ch));
    for (int i = 0; i < 4; i++) assert_ipc(ipc_send(ch, msg, len, 0, 0), IPC_OK);
    if (ipc_depth(ch) >= 0) assert_int_equal(ipc_depth(ch), 4);
    assert_ipc(ipc_send(ch, msg, len, 0, 0), IPC_EFULL);
    int64_t t0 = ipc_now_ns();
    assert_ipc(ipc_send(ch, msg, len, 0, 150), IPC_EFULL);
    int64_t ms = tl_ms_since(t0);
    if (ms < 149 || ms > 3000) fail_msg("150 ms send timeout took %lld ms", (long long)ms);
    char buf[8];
    size_t got;
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 0), IPC_OK);
    assert_ipc(ipc_send(ch, msg, len, 0, 0), IPC_OK);
    ipc_free(ch);
}

/* Unbounded in messages but not in bytes (kernel buffers): keep sending
 * without waiting until IPC_EFULL; a timed send then times out.  A mechanism
 * that never fills within the budget is skipped. */
static void test_fills_until_full(void **state)
{
    (void)state;
    if (has(IPC_CAP_BOUNDED)) { skip(); return; }
    ipc_channel *ch = open_default();
    size_t len = min_sz(1024, ipc_max_msg(ch));
    unsigned char msg[1024] = { 0 };
    int rc = IPC_OK;
    int64_t t0 = ipc_now_ns();
    long sent = 0;
    while (sent < 20000 && tl_ms_since(t0) < 2000 && (rc = ipc_send(ch, msg, len, 0, 0)) == IPC_OK) sent++;
    if (rc != IPC_EFULL) {
        assert_ipc(rc, IPC_OK);
        ipc_free(ch);
        skip(); /* never filled: unbounded for our purposes */
        return;
    }
    assert_true(sent > 0);
    t0 = ipc_now_ns();
    assert_ipc(ipc_send(ch, msg, len, 0, 150), IPC_EFULL);
    int64_t ms = tl_ms_since(t0);
    if (ms < 149 || ms > 3000) fail_msg("150 ms send timeout took %lld ms", (long long)ms);
    /* A bigger message (past PIPE_BUF) into the full channel must not hang
     * in the middle of itself: it goes in whole or answers IPC_EFULL. */
    size_t big_len = min_sz(32 * 1024, ipc_max_msg(ch));
    unsigned char *big = malloc(big_len);
    assert_non_null(big);
    tl_fill(big, big_len, 31337);
    t0 = ipc_now_ns();
    rc = ipc_send(ch, big, big_len, 0, 0);
    ms = tl_ms_since(t0);
    if (rc != IPC_OK && rc != IPC_EFULL) fail_msg("big nowait send: %s", ipc_strerror(rc));
    if (ms > 2000) fail_msg("a nowait send of %zu bytes took %lld ms", big_len, (long long)ms);
    /* everything that was accepted is still there, whole */
    unsigned char buf[1024];
    size_t got;
    for (long i = 0; i < sent; i++) {
        rc = ipc_recv(ch, buf, sizeof buf, &got, NULL, 2000);
        if (rc != IPC_OK || got != len) fail_msg("message %ld of %ld: %s", i, sent, ipc_strerror(rc));
    }
    if (ms <= 2000 && ipc_recv(ch, big, big_len, &got, NULL, 0) == IPC_OK)
        assert_true(got == big_len && tl_check(big, got, 31337));
    free(big);
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 0), IPC_EEMPTY);
    ipc_free(ch);
}

/* ---- close ------------------------------------------------------------- */

static void test_close_then_drain(void **state)
{
    (void)state;
    ipc_channel *ch = open_default();
    size_t len = min_sz(8, ipc_max_msg(ch));
    unsigned char msg[8];
    size_t n = room(ch, 2);
    for (size_t i = 0; i < n; i++) {
        tl_fill(msg, len, (uint32_t)i);
        send_ok(ch, msg, len);
    }
    assert_ipc(ipc_close(ch), IPC_OK);
    assert_ipc(ipc_close(ch), IPC_OK); /* idempotent */
    assert_ipc(ipc_send(ch, msg, len, 0, 0), IPC_ECLOSED);
    for (size_t i = 0; i < n; i++) {
        unsigned char buf[8];
        size_t got;
        assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 2000), IPC_OK);
        assert_int_equal(got, len);
    }
    unsigned char buf[8];
    size_t got;
    int64_t t0 = ipc_now_ns();
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 3000), IPC_ECLOSED);
    assert_true(tl_ms_since(t0) < 2500); /* at once, not after the timeout */
    ipc_free(ch);
}

/* ipc_depth counts messages, and only messages: not the internal markers a
 * mechanism uses to signal shutdown.  1 queued -> 1, still 1 after close,
 * 0 once drained (and after the IPC_ECLOSED that follows). */
static void test_depth_counts_messages_only(void **state)
{
    (void)state;
    ipc_channel *ch = open_default();
    if (ipc_depth(ch) < 0) { ipc_free(ch); skip(); return; } /* cannot tell */
    char msg[1] = { 'x' }, buf[8];
    size_t got;
    send_ok(ch, msg, min_sz(sizeof msg, ipc_max_msg(ch)));
    long before = ipc_depth(ch);
    assert_ipc(ipc_close(ch), IPC_OK);
    long closed = ipc_depth(ch);
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 2000), IPC_OK);
    long drained = ipc_depth(ch);
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 2000), IPC_ECLOSED);
    long after = ipc_depth(ch);
    ipc_free(ch);
    if (before != 1 || closed != 1 || drained != 0 || after != 0)
        fail_msg("ipc_depth: %ld with one message queued, %ld after close, %ld drained, %ld after IPC_ECLOSED "
                 "(want 1, 1, 0, 0)", before, closed, drained, after);
}

struct blocked_call { ipc_channel *ch; bool send; int rc; int64_t ms; };

static void *blocked_call(void *arg)
{
    struct blocked_call *b = arg;
    char buf[8] = "x";
    size_t got;
    int64_t t0 = ipc_now_ns();
    b->rc = b->send ? ipc_send(b->ch, buf, min_sz(sizeof buf, ipc_max_msg(b->ch)), 0, 8000)
                    : ipc_recv(b->ch, buf, sizeof buf, &got, NULL, 8000);
    b->ms = tl_ms_since(t0);
    return NULL;
}

static void close_wakes(ipc_channel *ch, bool send)
{
    struct blocked_call b = { .ch = ch, .send = send };
    pthread_t t = tl_thread(blocked_call, &b);
    tl_sleep_ms(150);
    assert_ipc(ipc_close(ch), IPC_OK);
    pthread_join(t, NULL);
    assert_ipc(b.rc, IPC_ECLOSED);
    if (b.ms > 6000) fail_msg("blocked %s woke %lld ms after close", send ? "send" : "recv", (long long)b.ms);
}

static void test_close_wakes_blocked_receiver(void **state)
{
    (void)state;
    REQUIRE(IPC_CAP_CLOSE_WAKES | IPC_CAP_THREADS);
    ipc_channel *ch = open_default();
    close_wakes(ch, false);
    ipc_free(ch);
}

static void test_close_wakes_blocked_sender(void **state)
{
    (void)state;
    REQUIRE(IPC_CAP_CLOSE_WAKES | IPC_CAP_THREADS | IPC_CAP_BOUNDED);
    ipc_channel *ch = open_with(&(ipc_config){ .capacity = 1 });
    char msg[8] = "x";
    assert_ipc(ipc_send(ch, msg, min_sz(sizeof msg, ipc_max_msg(ch)), 0, 0), IPC_OK);
    close_wakes(ch, true);
    ipc_free(ch);
}

/* Shutdown reaches a receiver blocked in another process. */
static void test_close_wakes_receiver_in_other_process(void **state)
{
    (void)state;
    REQUIRE(IPC_CAP_CLOSE_WAKES | IPC_CAP_FORK);
    ipc_channel *ch = open_default();
    pid_t pid = tl_fork(30);
    if (pid == 0) {
        char buf[8];
        size_t got;
        int64_t t0 = ipc_now_ns();
        int rc = ipc_recv(ch, buf, sizeof buf, &got, NULL, -1); /* forever: only close can end it */
        _exit(rc == IPC_ECLOSED && tl_ms_since(t0) < 8000 ? 0 : rc == IPC_ECLOSED ? 2 : 1);
    }
    tl_sleep_ms(200);
    assert_ipc(ipc_close(ch), IPC_OK);
    int status = tl_wait(pid, 30);
    ipc_free(ch);
    if (status == 2) fail_msg("the other process woke only after 8 s");
    if (status) fail_msg("the other process's receive did not answer IPC_ECLOSED (status %d)", status);
}

/* ---- a deadline is a deadline, for every message size -------------------
 *
 * Fill the channel with nowait sends of one size until it answers
 * IPC_EFULL, then try one send with a 200 ms timeout: each must return by
 * its deadline (a frame that only partly fits a kernel buffer must not be
 * started and then waited out), and afterwards every acknowledged message
 * must come out whole and in order (no torn frame).  Sizes around the
 * kernel's unit sizes: PIPE_BUF (4096), a pipe's page slots, a Unix
 * socket's 32 KiB skbs.  The sender runs in a thread watched by a timed
 * join, so a hang is a failure, not a stuck suite. */
struct fill_run {
    ipc_channel *ch;
    size_t       len;
    int          sent;         /* acknowledged sends */
    int64_t      worst_nowait_ms, timed_ms;
    int          timed_rc, bad_rc;
};

enum { FILL_MAX_SENDS = 64 };

static void *fill_sender(void *arg)
{
    struct fill_run *f = arg;
    unsigned char *msg = malloc(f->len);
    if (!msg) { f->bad_rc = IPC_ESYS; return NULL; }
    f->timed_rc = 1;
    for (int i = 0; i < FILL_MAX_SENDS; i++) {
        tl_fill(msg, f->len, (uint32_t)i);
        int64_t t0 = ipc_now_ns();
        int rc = ipc_send(f->ch, msg, f->len, 0, 0);
        int64_t ms = tl_ms_since(t0);
        if (ms > f->worst_nowait_ms) f->worst_nowait_ms = ms;
        if (rc == IPC_EFULL) {
            tl_fill(msg, f->len, (uint32_t)i);
            t0 = ipc_now_ns();
            f->timed_rc = ipc_send(f->ch, msg, f->len, 0, 200);
            f->timed_ms = tl_ms_since(t0);
            if (f->timed_rc == IPC_OK) f->sent++;
            break;
        }
        if (rc != IPC_OK) { f->bad_rc = rc; break; }
        f->sent++;
    }
    free(msg);
    return NULL;
}

static void test_deadline_holds_for_every_size(void **state)
{
    (void)state;
    REQUIRE(IPC_CAP_THREADS);
    static const size_t sizes[] = { 4092, 4093, 4100, 4500, 4911, 6000, 8200, 12300,
                                    33000, 37000, 40000, 60000 };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        ipc_channel *ch = open_default();
        if (sizes[k] > ipc_max_msg(ch)) { ipc_free(ch); continue; }
        struct fill_run f = { .ch = ch, .len = sizes[k] };
        pthread_t t = tl_thread(fill_sender, &f);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 10;
        bool hung = pthread_timedjoin_np(t, NULL, &until) != 0;
        /* Drain (this also unsticks a sender hung on a half-written frame). */
        unsigned char *buf = malloc(sizes[k]);
        assert_non_null(buf);
        int got_ok = 0, bad = 0;
        for (;;) {
            size_t got;
            int rc = ipc_recv(ch, buf, sizes[k], &got, NULL, hung ? 500 : 100);
            if (rc != IPC_OK) break;
            uint32_t id = has(IPC_CAP_LIFO) ? (uint32_t)(f.sent - 1 - got_ok) : (uint32_t)got_ok;
            if (got != sizes[k] || !tl_check(buf, got, id)) bad++;
            got_ok++;
        }
        free(buf);
        if (hung) pthread_join(t, NULL);
        ipc_free(ch);
        if (hung) fail_msg("%zu-byte messages: a send with timeout 0 or 200 ms was still blocked after 10 s",
                           sizes[k]);
        if (f.bad_rc) fail_msg("%zu-byte messages: send %d failed with %s", sizes[k], f.sent, ipc_strerror(f.bad_rc));
        if (f.worst_nowait_ms > 1000)
            fail_msg("%zu-byte messages: a send with timeout 0 took %lld ms", sizes[k], (long long)f.worst_nowait_ms);
        if (f.timed_rc != 1 && f.timed_ms > 1500)
            fail_msg("%zu-byte messages: a send with timeout 200 took %lld ms", sizes[k], (long long)f.timed_ms);
        if (bad || got_ok != f.sent)
            fail_msg("%zu-byte messages: %d acknowledged, %d received, %d torn or out of order",
                     sizes[k], f.sent, got_ok, bad);
    }
}

/* ---- close is linearizable against sends ---------------------------------
 *
 * ipc.h: "sends fail with IPC_ECLOSED at once, receives return what is still
 * queued and then IPC_ECLOSED".  So a send that returned IPC_OK happened
 * before the close, and some receiver gets it before the receivers are told
 * IPC_ECLOSED.  Producers stream numbered messages, the channel is closed
 * mid-stream, consumers receive until IPC_ECLOSED: every acknowledged
 * message must have been received exactly once, and nothing unacknowledged.
 * The race is narrow (a few instructions between a send's "shut?" check and
 * its publish), so it runs many short rounds.  MPMC mechanisms run N x N,
 * the others 1 x 1; producers are threads, then (with IPC_CAP_FORK)
 * processes. */
enum { LIN_MAX_PRODUCERS = 4, LIN_PER_PRODUCER = 1 << 15 };

struct lin_round {               /* MAP_SHARED: producers may be processes */
    ipc_channel *ch;
    atomic_int   acked[LIN_MAX_PRODUCERS];   /* seqs 0..acked-1 returned IPC_OK */
    atomic_uchar seen[LIN_MAX_PRODUCERS][LIN_PER_PRODUCER];
    atomic_int   received, corrupt, consumers_closed, consumer_errors, last_error;
    atomic_bool  stop;           /* the closer has closed */
};

static int lin_produce(struct lin_round *x, int p)
{
    unsigned char msg[8];
    for (uint32_t seq = 0; seq < LIN_PER_PRODUCER; seq++) {
        msg[0] = (unsigned char)p;
        memcpy(msg + 1, &seq, sizeof seq);
        msg[5] = msg[6] = msg[7] = (unsigned char)(p ^ seq ^ 0x5a);
        int rc;
        do rc = ipc_send(x->ch, msg, sizeof msg, 0, 50); while (rc == IPC_EFULL && !atomic_load(&x->stop));
        if (rc == IPC_EFULL) rc = ipc_send(x->ch, msg, sizeof msg, 0, 3000); /* closed: must say so */
        if (rc == IPC_ECLOSED) return 0;
        if (rc != IPC_OK) return 1;
        atomic_store(&x->acked[p], (int)seq + 1);
    }
    return 0;
}

static void *lin_consumer(void *arg)
{
    struct lin_round *x = arg;
    int64_t t0 = ipc_now_ns();
    for (;;) {
        unsigned char msg[8];
        size_t got;
        int rc = ipc_recv(x->ch, msg, sizeof msg, &got, NULL, 200);
        if (rc == IPC_ECLOSED) break;
        if (rc == IPC_EEMPTY && tl_ms_since(t0) < 20000) continue;
        if (rc != IPC_OK) {
            atomic_store(&x->last_error, rc);
            atomic_fetch_add(&x->consumer_errors, 1);
            break;
        }
        uint32_t seq;
        memcpy(&seq, msg + 1, sizeof seq);
        if (got != sizeof msg || msg[0] >= LIN_MAX_PRODUCERS || seq >= LIN_PER_PRODUCER
            || msg[7] != (unsigned char)(msg[0] ^ seq ^ 0x5a)) {
            atomic_fetch_add(&x->corrupt, 1);
            continue;
        }
        atomic_fetch_add(&x->seen[msg[0]][seq], 1);
        atomic_fetch_add(&x->received, 1);
    }
    atomic_fetch_add(&x->consumers_closed, 1);
    return NULL;
}

struct lin_producer { struct lin_round *x; int p, rc; };
static void *lin_producer_thread(void *arg)
{
    struct lin_producer *w = arg;
    w->rc = lin_produce(w->x, w->p);
    return NULL;
}

/* One round: returns how many acknowledged messages were lost (or fails). */
static int lin_round(bool processes, int producers, int consumers, int close_after)
{
    struct lin_round *x = mmap(NULL, sizeof *x, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(x != MAP_FAILED);
    ipc_config cfg = { .capacity = M->default_capacity && M->default_capacity < 16 ? M->default_capacity : 16, .max_msg = 8 };
    x->ch = open_with(has(IPC_CAP_BOUNDED) ? &cfg : &(ipc_config){ .max_msg = 8 });
    pthread_t ct[LIN_MAX_PRODUCERS], pt[LIN_MAX_PRODUCERS];
    struct lin_producer w[LIN_MAX_PRODUCERS];
    pid_t pid[LIN_MAX_PRODUCERS];
    for (int p = 0; p < producers; p++) {
        w[p] = (struct lin_producer){ .x = x, .p = p };
        if (processes) {
            pid[p] = tl_fork(30);
            if (pid[p] == 0) _exit(lin_produce(x, p));
        } else {
            pt[p] = tl_thread(lin_producer_thread, &w[p]);
        }
    }
    for (int c = 0; c < consumers; c++) ct[c] = tl_thread(lin_consumer, x);
    int64_t t0 = ipc_now_ns();
    while (atomic_load(&x->received) < close_after && tl_ms_since(t0) < 5000) sched_yield();
    assert_ipc(ipc_close(x->ch), IPC_OK);
    atomic_store(&x->stop, true);
    int failed = 0;
    for (int p = 0; p < producers; p++) {
        if (processes) failed |= tl_wait(pid[p], 30);
        else { pthread_join(pt[p], NULL); failed |= w[p].rc; }
    }
    for (int c = 0; c < consumers; c++) pthread_join(ct[c], NULL);
    int lost = 0, extra = 0;
    for (int p = 0; p < producers; p++) {
        int acked = atomic_load(&x->acked[p]);
        for (int s = 0; s < LIN_PER_PRODUCER; s++) {
            int n = atomic_load(&x->seen[p][s]);
            if (s < acked && n == 0) lost++;
            if (n > 1 || (s >= acked && n)) extra++;
        }
    }
    int corrupt = atomic_load(&x->corrupt), errors = atomic_load(&x->consumer_errors);
    int last_error = atomic_load(&x->last_error);
    ipc_free(x->ch);
    munmap(x, sizeof *x);
    if (failed) fail_msg("a producer failed (a send answered neither IPC_OK, IPC_EFULL nor IPC_ECLOSED)");
    if (errors) fail_msg("%d consumer(s) got an error other than IPC_ECLOSED (or no IPC_ECLOSED within 20 s): "
                         "last %d (%s)", errors, last_error, ipc_strerror(last_error));
    if (corrupt || extra) fail_msg("%d corrupt, %d duplicated or unacknowledged messages delivered", corrupt, extra);
    return lost;
}

static void close_linearizable(bool processes)
{
    bool mpmc = has(IPC_CAP_MPMC);
    int n = mpmc ? LIN_MAX_PRODUCERS : 1, rounds = 0, bad_rounds = 0, lost = 0;
    int64_t t0 = ipc_now_ns();
    /* At least 8 rounds; more while under 1.2 s (the window is a few instructions wide). */
    for (; rounds < 60 && (rounds < 8 || tl_ms_since(t0) < 1200); rounds++) {
        int l = lin_round(processes, processes && mpmc ? 2 : n, processes && mpmc ? 2 : n, 20 + rounds * 37 % 400);
        lost += l;
        bad_rounds += l > 0;
    }
    if (lost) fail_msg("%d acknowledged message(s) never received after close, in %d of %d rounds",
                       lost, bad_rounds, rounds);
}

static void test_close_loses_no_acknowledged_message(void **state)
{
    (void)state;
    REQUIRE(IPC_CAP_THREADS);
    if (M->max_msg_limit < 8) { skip(); return; }
    close_linearizable(false);
}

static void test_close_loses_nothing_across_processes(void **state)
{
    (void)state;
    REQUIRE(IPC_CAP_THREADS | IPC_CAP_FORK);
    if (M->max_msg_limit < 8) { skip(); return; }
    close_linearizable(true);
}

/* ---- priority ---------------------------------------------------------- */

static void test_priority_order(void **state)
{
    (void)state;
    REQUIRE(IPC_CAP_PRIORITY);
    ipc_channel *ch = open_default();
    static const int prios[] = { 1, 5, 3, 5, 0 };
    static const int order[] = { 1, 3, 2, 0, 4 }; /* indices by prio, FIFO among equal */
    size_t n = room(ch, 5), len = min_sz(4, ipc_max_msg(ch));
    for (size_t i = 0; i < n; i++) {
        unsigned char msg[4];
        tl_fill(msg, len, (uint32_t)i);
        assert_ipc(ipc_send(ch, msg, len, prios[i], 5000), IPC_OK);
    }
    for (size_t k = 0, seen = 0; k < 5 && seen < n; k++) {
        size_t i = (size_t)order[k];
        if (i >= n) continue;
        unsigned char buf[4];
        size_t got;
        int prio = -1;
        assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, &prio, 5000), IPC_OK);
        assert_int_equal(prio, prios[i]);
        assert_true(tl_check(buf, got, (uint32_t)i));
        seen++;
    }
    ipc_free(ch);
}

/* ---- poll -------------------------------------------------------------- */

static void test_pollfd_readable_when_ready(void **state)
{
    (void)state;
    REQUIRE(IPC_CAP_POLL);
    ipc_channel *ch = open_default();
    struct pollfd p = { .fd = ipc_pollfd(ch), .events = POLLIN };
    assert_true(p.fd >= 0);
    assert_int_equal(poll(&p, 1, 0), 0);
    char msg[4] = "abc";
    send_ok(ch, msg, min_sz(sizeof msg, ipc_max_msg(ch)));
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_true(p.revents & POLLIN);
    char buf[4];
    size_t got;
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 0), IPC_OK);
    ipc_free(ch);
}

/* After a shutdown a receive answers at once (IPC_ECLOSED), so a poller
 * waiting on the channel must wake too. */
static void test_pollfd_wakes_on_close(void **state)
{
    (void)state;
    REQUIRE(IPC_CAP_POLL | IPC_CAP_CLOSE_WAKES);
    ipc_channel *ch = open_default();
    struct pollfd p = { .fd = ipc_pollfd(ch), .events = POLLIN };
    assert_int_equal(poll(&p, 1, 0), 0);
    assert_ipc(ipc_close(ch), IPC_OK);
    assert_int_equal(poll(&p, 1, 3000), 1);
    char buf[8];
    size_t got;
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 0), IPC_ECLOSED);
    ipc_free(ch);
}

/* ---- wait strategies ----------------------------------------------------- */

static long voluntary_switches(void)
{
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_THREAD, &ru), 0);
    return ru.ru_nvcsw;
}

/* The strategy decides how a caller waits, and only that: a timed receive on
 * an empty channel times out the same way under each, but SPIN never goes to
 * sleep in the kernel (no voluntary context switch while it waits) and BLOCK
 * and ADAPTIVE (whose budget is far below 30 ms) do. */
static void test_wait_strategy_is_honoured(void **state)
{
    (void)state;
    ipc_channel *ch = open_default();
    char buf[8];
    size_t got;
    int64_t t0 = ipc_now_ns();
    long before = voluntary_switches();
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 30), IPC_EEMPTY);
    long slept = voluntary_switches() - before;
    int64_t ms = tl_ms_since(t0);
    ipc_free(ch);
    assert_true(ms >= 30);
    if (W == IPC_WAIT_SPIN && slept != 0) fail_msg("SPIN slept %ld times in a 30 ms wait", slept);
    if (W != IPC_WAIT_SPIN && slept == 0) fail_msg("%s never slept in a 30 ms wait", ipc_wait_name(W));
}

/* ---- observer ---------------------------------------------------------- */

struct trace { int n; ipc_event ev[16]; };

static void record(void *arg, const ipc_channel *ch, const ipc_event *ev)
{
    (void)ch;
    struct trace *t = arg;
    if (t->n < 16) t->ev[t->n++] = *ev;
}

static void test_observer_sees_every_step(void **state)
{
    (void)state;
    ipc_channel *ch = open_default();
    struct trace t = { 0 };
    if (ipc_observe(ch, record, &t) == IPC_ENOTSUP) { ipc_free(ch); skip(); return; } /* -DIPC_NO_OBSERVER */
    assert_ipc(ipc_observe(ch, record, &t), IPC_OK);
    char msg[4] = "obs", buf[4];
    size_t len = min_sz(sizeof msg, ipc_max_msg(ch)), got;
    send_ok(ch, msg, len);
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 5000), IPC_OK);
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 100), IPC_EEMPTY);
    /* Without the BLOCKED events the calls read: send, receive, receive.  A
     * BLOCKED event may only stand inside a call of its own direction (an
     * asynchronous mechanism such as zmq may wait in the first receive while
     * the message is in flight), and the receive on the empty channel must
     * report that it slept. */
    static const enum ipc_event_kind calls[] = {
        IPC_EV_SEND_BEGIN, IPC_EV_SEND_DONE, IPC_EV_RECV_BEGIN, IPC_EV_RECV_DONE,
        IPC_EV_RECV_BEGIN, IPC_EV_RECV_DONE,
    };
    int k = 0, done_at[6] = { 0 }, blocked_in_last = 0;
    enum ipc_event_kind open_call = IPC_EV_CLOSE; /* none */
    for (int i = 0; i < t.n; i++) {
        if (i > 0) assert_true(t.ev[i].t_ns >= t.ev[i - 1].t_ns);
        enum ipc_event_kind kind = t.ev[i].kind;
        if (kind == IPC_EV_SEND_BLOCKED || kind == IPC_EV_RECV_BLOCKED) {
            bool inside = kind == IPC_EV_SEND_BLOCKED ? open_call == IPC_EV_SEND_BEGIN : open_call == IPC_EV_RECV_BEGIN;
            if (!inside) fail_msg("event %d: a BLOCKED event outside a call of its direction", i);
            if (k == 5) blocked_in_last++;
            continue;
        }
        if (k >= 6 || kind != calls[k]) fail_msg("event %d is kind %d, expected kind %d", i, kind, k < 6 ? (int)calls[k] : -1);
        open_call = (kind == IPC_EV_SEND_BEGIN || kind == IPC_EV_RECV_BEGIN) ? kind : IPC_EV_CLOSE;
        done_at[k++] = i;
    }
    assert_int_equal(k, 6);
    assert_true(blocked_in_last > 0);
    assert_int_equal(t.ev[done_at[1]].result, IPC_OK);
    assert_int_equal(t.ev[done_at[1]].len, len);
    assert_int_equal(t.ev[done_at[3]].len, len);
    assert_int_equal(t.ev[done_at[5]].result, IPC_EEMPTY);
    assert_ipc(ipc_observe(ch, NULL, NULL), IPC_OK);
    int before = t.n;
    send_ok(ch, msg, len);
    assert_int_equal(t.n, before);
    ipc_free(ch);
}

/* ---- fork -------------------------------------------------------------- */

enum { FORK_MSGS = 20 };

/* The child's side of a fork test; its exit code is the verdict. */
static int child_transfer(ipc_channel *ch, bool sending)
{
    size_t max = ipc_max_msg(ch);
    unsigned char buf[3000];
    for (uint32_t i = 0; i < FORK_MSGS; i++) {
        size_t len = min_sz(1 + i * 97 % sizeof buf, max);
        if (sending) {
            tl_fill(buf, len, i);
            if (ipc_send(ch, buf, len, 0, 10000) != IPC_OK) return 10;
        } else {
            size_t got;
            if (ipc_recv(ch, buf, sizeof buf, &got, NULL, 10000) != IPC_OK) return 11;
            if (got != len || !tl_check(buf, got, i)) return 12;
        }
    }
    return 0;
}

static void fork_transfer(bool parent_sends)
{
    ipc_channel *ch = open_default();
    pid_t pid = tl_fork(30);
    if (pid == 0) _exit(child_transfer(ch, !parent_sends));
    int rc = child_transfer(ch, parent_sends);
    int status = tl_wait(pid, 30);
    ipc_free(ch);
    if (rc) fail_msg("parent side failed with %d: %s", rc, ipc_last_error());
    if (status) fail_msg("child side failed with status %d", status);
}

static void test_fork_parent_to_child(void **state)
{
    (void)state;
    REQUIRE(IPC_CAP_FORK);
    fork_transfer(true);
}

static void test_fork_child_to_parent(void **state)
{
    (void)state;
    REQUIRE(IPC_CAP_FORK);
    fork_transfer(false);
}

/* ---- an unrelated process ---------------------------------------------- */

/* The attacher is this very binary, exec'd again: main() hands
 *   --attach-child ROLE MECH NAME ENDPOINT MAX_MSG CAPACITY REPORT_FD WAIT
 * to attach_child() before cmocka starts, so the child shares nothing with
 * the owner but what ipc_attach_config() wrote down and the environment
 * ($IPCPLAY_NAME_PREFIX).  NAME and ENDPOINT are "" when absent.
 *   ROLE send: attach, send FORK_MSGS messages, free;
 *   ROLE recv: attach, say on REPORT_FD whether this handle may receive
 *              ('R'; 'S' for a send-only handle, e.g. a tcp attacher), then
 *              receive FORK_MSGS messages, free.
 * The exit code is the verdict (child_transfer's codes, 20 for attach). */
static int attach_child(int argc, char **argv)
{
    if (argc != 10) return 99;
    const char *role = argv[2], *mech = argv[3];
    ipc_config cfg = {
        .name = argv[4][0] ? argv[4] : NULL, .endpoint = argv[5][0] ? argv[5] : NULL,
        .max_msg = strtoull(argv[6], NULL, 10), .capacity = strtoull(argv[7], NULL, 10),
        .flags = IPC_ATTACH, .wait = ipc_wait_parse(argv[9]),
    };
    ipc_channel *ch = NULL;
    if (ipc_open(mech, &cfg, &ch) != IPC_OK) {
        fprintf(stderr, "attach child (%s %s): %s\n", role, mech, ipc_last_error());
        return 20;
    }
    int rc = 0;
    if (strcmp(role, "send") == 0) {
        rc = child_transfer(ch, true);
    } else {
        char b[1], verdict;
        size_t got;
        int probe = ipc_recv(ch, b, sizeof b, &got, NULL, 0); /* nothing is sent before the verdict */
        verdict = probe == IPC_EEMPTY ? 'R' : probe == IPC_ENOTSUP ? 'S' : '?';
        if (write(atoi(argv[8]), &verdict, 1) != 1 || verdict == '?') rc = 21;
        else if (verdict == 'R') rc = child_transfer(ch, false);
    }
    if (rc) fprintf(stderr, "attach child (%s %s): step %d: %s\n", role, mech, rc, ipc_last_error());
    ipc_free(ch);
    return rc;
}

/* fork + exec an attacher (argv is built first: after fork() in a process
 * with threads only async-signal-safe calls are allowed). */
static pid_t spawn_attacher(const char *role, const ipc_config *cfg, int report_fd)
{
    char max_msg[24], capacity[24], fd[16];
    snprintf(max_msg, sizeof max_msg, "%zu", cfg->max_msg);
    snprintf(capacity, sizeof capacity, "%zu", cfg->capacity);
    snprintf(fd, sizeof fd, "%d", report_fd);
    char *argv[] = { "test_conformance", "--attach-child", (char *)role, (char *)M->name,
                     (char *)(cfg->name ? cfg->name : ""), (char *)(cfg->endpoint ? cfg->endpoint : ""),
                     max_msg, capacity, fd, (char *)ipc_wait_name(W), NULL };
    pid_t pid = tl_fork(30);
    if (pid == 0) {
        if (report_fd >= 0) fcntl(report_fd, F_SETFD, 0); /* let it survive the exec */
        execv("/proc/self/exe", argv);
        _exit(98);
    }
    return pid;
}

/* A process that inherited nothing attaches with what ipc_attach_config
 * says, and messages go both ways intact and in order.  Owner -> attacher
 * first: while the owner has never received, the attacher is the only
 * receiver (a broker deals each message to one of the receivers connected
 * to it, and prefetches for them). */
static void test_unrelated_process_attaches(void **state)
{
    (void)state;
    REQUIRE(IPC_CAP_UNRELATED);
    ipc_channel *ch = open_with(&(ipc_config){ .flags = IPC_ATTACHABLE });
    ipc_config acfg;
    int rc = ipc_attach_config(ch, &acfg);
    bool described = rc == IPC_OK && acfg.flags == IPC_ATTACH && (acfg.name || acfg.endpoint)
                  && acfg.max_msg == ipc_max_msg(ch) && acfg.capacity == ipc_capacity(ch);
    if (!described) {
        ipc_free(ch); /* named: it must not outlive the test */
        fail_msg("ipc_attach_config = %s (%s): flags %u, name %s, endpoint %s, max_msg %zu",
                 ipc_strerror(rc), ipc_last_error(), acfg.flags, acfg.name ? acfg.name : "NULL",
                 acfg.endpoint ? acfg.endpoint : "NULL", acfg.max_msg);
    }

    int report[2];
    assert_int_equal(pipe2(report, O_CLOEXEC), 0);
    pid_t pid = spawn_attacher("recv", &acfg, report[1]);
    close(report[1]);
    struct pollfd p = { .fd = report[0], .events = POLLIN };
    char verdict = 0; /* stays 0 if the child dies first (end of file) */
    if (poll(&p, 1, 20000) != 1 || read(report[0], &verdict, 1) != 1) verdict = 0;
    close(report[0]);
    int to_attacher = verdict == 'R' ? child_transfer(ch, true) : 0;
    int recv_status = tl_wait(pid, 25);

    int from_attacher = -1, send_status = -1;
    if (verdict && !to_attacher && !recv_status) {
        pid = spawn_attacher("send", &acfg, -1);
        from_attacher = child_transfer(ch, false);
        send_status = tl_wait(pid, 25);
    }
    ipc_free(ch);
    if (!verdict) fail_msg("the receiving attacher never said whether it may receive (status %d)", recv_status);
    if (to_attacher) fail_msg("owner -> attacher: the owner's side failed with %d", to_attacher);
    if (recv_status) fail_msg("owner -> attacher: the attacher exited with %d", recv_status);
    if (from_attacher) fail_msg("attacher -> owner: the owner's side failed with %d", from_attacher);
    if (send_status) fail_msg("attacher -> owner: the attacher exited with %d", send_status);
}

/* ---- many producers, many consumers ------------------------------------ */

/* Each message: producer, sequence, a checksum of both and of the payload. */
enum { PRODUCERS = 3, CONSUMERS = 2, PER_PRODUCER = 400 };

struct stamp { uint16_t producer, seq; uint32_t sum; };

static uint32_t stamp_sum(const struct stamp *s, const unsigned char *extra, size_t n)
{
    uint32_t h = 2166136261u ^ s->producer ^ (uint32_t)s->seq << 16;
    for (size_t i = 0; i < n; i++) h = (h ^ extra[i]) * 16777619u;
    return h;
}

/* Shared by the threads, or by processes through a MAP_SHARED mapping. */
struct stress {
    ipc_channel *ch;
    atomic_int   seen[PRODUCERS][PER_PRODUCER];
    atomic_int   received;
    atomic_int   corrupt, out_of_order;
    int          id; /* per-thread copy */
};

static int produce(ipc_channel *ch, int p)
{
    size_t max = ipc_max_msg(ch);
    unsigned char buf[sizeof(struct stamp) + 64];
    for (int s = 0; s < PER_PRODUCER; s++) {
        struct stamp st = { .producer = (uint16_t)p, .seq = (uint16_t)s };
        size_t extra = max > sizeof st ? min_sz((size_t)(s * 7 % 64), max - sizeof st) : 0;
        for (size_t i = 0; i < extra; i++) buf[sizeof st + i] = (unsigned char)(p * 31 + s + i);
        st.sum = stamp_sum(&st, buf + sizeof st, extra);
        memcpy(buf, &st, sizeof st);
        if (ipc_send(ch, buf, sizeof st + extra, 0, 20000) != IPC_OK) return 1;
    }
    return 0;
}

static int consume(struct stress *x)
{
    int last[PRODUCERS];
    for (int p = 0; p < PRODUCERS; p++) last[p] = -1;
    int64_t t0 = ipc_now_ns();
    while (atomic_load(&x->received) < PRODUCERS * PER_PRODUCER) {
        if (tl_ms_since(t0) > 25000) return 2;
        unsigned char buf[sizeof(struct stamp) + 64];
        size_t got;
        int rc = ipc_recv(x->ch, buf, sizeof buf, &got, NULL, 100);
        if (rc == IPC_EEMPTY) continue;
        if (rc != IPC_OK) return 3;
        struct stamp st;
        if (got < sizeof st) { atomic_fetch_add(&x->corrupt, 1); continue; }
        memcpy(&st, buf, sizeof st);
        if (st.producer >= PRODUCERS || st.seq >= PER_PRODUCER
            || stamp_sum(&st, buf + sizeof st, got - sizeof st) != st.sum) {
            atomic_fetch_add(&x->corrupt, 1);
            continue;
        }
        if (st.seq <= last[st.producer]) atomic_fetch_add(&x->out_of_order, 1);
        last[st.producer] = st.seq;
        atomic_fetch_add(&x->seen[st.producer][st.seq], 1);
        atomic_fetch_add(&x->received, 1);
    }
    return 0;
}

static void check_stress(struct stress *x)
{
    assert_int_equal(atomic_load(&x->corrupt), 0);
    for (int p = 0; p < PRODUCERS; p++)
        for (int s = 0; s < PER_PRODUCER; s++)
            if (atomic_load(&x->seen[p][s]) != 1)
                fail_msg("message (%d,%d) arrived %d times", p, s, atomic_load(&x->seen[p][s]));
    /* Per-producer order, as seen by each consumer, where FIFO is promised. */
    if (has(IPC_CAP_FIFO)) assert_int_equal(atomic_load(&x->out_of_order), 0);
}

struct worker { struct stress *x; int id; int rc; };

static void *producer_thread(void *arg) { struct worker *w = arg; w->rc = produce(w->x->ch, w->id); return NULL; }
static void *consumer_thread(void *arg) { struct worker *w = arg; w->rc = consume(w->x); return NULL; }

static void test_mpmc_threads(void **state)
{
    (void)state;
    REQUIRE(IPC_CAP_MPMC | IPC_CAP_THREADS);
    struct stress *x = calloc(1, sizeof *x);
    assert_non_null(x);
    x->ch = open_default();
    if (ipc_max_msg(x->ch) < sizeof(struct stamp)) { ipc_free(x->ch); free(x); skip(); return; }
    struct worker w[PRODUCERS + CONSUMERS];
    pthread_t t[PRODUCERS + CONSUMERS];
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
        w[i] = (struct worker){ .x = x, .id = i < PRODUCERS ? i : i - PRODUCERS };
        t[i] = tl_thread(i < PRODUCERS ? producer_thread : consumer_thread, &w[i]);
    }
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
        if (w[i].rc) fail_msg("%s %d failed with %d: %s", i < PRODUCERS ? "producer" : "consumer",
                              w[i].id, w[i].rc, ipc_last_error());
    check_stress(x);
    ipc_free(x->ch);
    free(x);
}

static void test_mpmc_processes(void **state)
{
    (void)state;
    REQUIRE(IPC_CAP_MPMC | IPC_CAP_FORK);
    struct stress *x = mmap(NULL, sizeof *x, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(x != MAP_FAILED);
    x->ch = open_default();
    if (ipc_max_msg(x->ch) < sizeof(struct stamp)) { ipc_free(x->ch); munmap(x, sizeof *x); skip(); return; }
    pid_t pid[PRODUCERS + CONSUMERS];
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
        pid[i] = tl_fork(40);
        if (pid[i] == 0) _exit(i < PRODUCERS ? produce(x->ch, i) : consume(x));
    }
    int status[PRODUCERS + CONSUMERS];
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++) status[i] = tl_wait(pid[i], 40);
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
        if (status[i]) fail_msg("%s process %d exited with %d", i < PRODUCERS ? "producer" : "consumer", i, status[i]);
    check_stress(x);
    ipc_free(x->ch);
    munmap(x, sizeof *x);
}

/* ---- a peer killed with SIGKILL ---------------------------------------- */

/* A receiver is killed while blocked in recv (maybe holding a lock): the
 * survivor can still send and receive. */
static void test_killed_receiver_leaves_channel_usable(void **state)
{
    (void)state;
    REQUIRE(IPC_CAP_FORK);
    ipc_channel *ch = open_default();
    pid_t pid = tl_fork(30);
    if (pid == 0) {
        char buf[64];
        size_t got;
        ipc_recv(ch, buf, sizeof buf, &got, NULL, -1);
        _exit(1); /* it should never get a message: nobody sends before the kill */
    }
    tl_sleep_ms(200);
    kill(pid, SIGKILL);
    assert_int_equal(tl_wait(pid, 10), 128 + SIGKILL);
    unsigned char msg[8];
    size_t len = min_sz(sizeof msg, ipc_max_msg(ch));
    tl_fill(msg, len, 9);
    int rc = ipc_send(ch, msg, len, 0, 3000);
    if (rc == IPC_ECLOSED) { ipc_free(ch); return; } /* an honest answer too */
    assert_ipc(rc, IPC_OK);
    unsigned char buf[8];
    size_t got;
    rc = ipc_recv(ch, buf, sizeof buf, &got, NULL, 3000);
    if (rc != IPC_ECLOSED) {
        assert_ipc(rc, IPC_OK);
        assert_int_equal(got, len);
        assert_true(tl_check(buf, got, 9));
    }
    ipc_free(ch);
}

/* A sender is killed while blocked on a full channel: what was accepted is
 * intact, the survivor never hangs, and the channel works afterwards. */
static void test_killed_sender_leaves_channel_usable(void **state)
{
    (void)state;
    REQUIRE(IPC_CAP_FORK);
    ipc_channel *ch = open_with(has(IPC_CAP_BOUNDED) ? &(ipc_config){ .capacity = 2 } : NULL);
    size_t len = min_sz(512, ipc_max_msg(ch));
    unsigned char msg[512];
    long filled = 0;
    int rc;
    int64_t t0 = ipc_now_ns();
    do {
        tl_fill(msg, len, (uint32_t)filled);
        rc = ipc_send(ch, msg, len, 0, 0);
    } while (rc == IPC_OK && ++filled < 20000 && tl_ms_since(t0) < 2000);
    if (rc != IPC_EFULL) { ipc_free(ch); skip(); return; } /* cannot block a sender */
    pid_t pid = tl_fork(30);
    if (pid == 0) {
        tl_fill(msg, len, 999999);
        ipc_send(ch, msg, len, 0, -1);
        _exit(0);
    }
    tl_sleep_ms(200);
    kill(pid, SIGKILL);
    tl_wait(pid, 10);
    unsigned char buf[512];
    size_t got;
    for (long i = 0; i < filled; i++) {
        rc = ipc_recv(ch, buf, sizeof buf, &got, NULL, 3000);
        if (rc == IPC_ECLOSED) { ipc_free(ch); return; }
        if (rc != IPC_OK) fail_msg("message %ld of %ld: %s (%s)", i, filled, ipc_strerror(rc), ipc_last_error());
        if (got != len) fail_msg("message %ld has %zu bytes, want %zu", i, got, len);
        bool mine = tl_check(buf, got, (uint32_t)i) || tl_check(buf, got, 999999);
        if (!mine && has(IPC_CAP_FIFO)) fail_msg("message %ld is corrupt", i);
    }
    rc = ipc_recv(ch, buf, sizeof buf, &got, NULL, 300); /* the killed sender's, or nothing */
    if (rc == IPC_OK) assert_true(got == len && tl_check(buf, got, 999999));
    else if (rc != IPC_ECLOSED) assert_ipc(rc, IPC_EEMPTY);
    if (rc != IPC_ECLOSED) {
        tl_fill(msg, len, 4242);
        assert_ipc(ipc_send(ch, msg, len, 0, 3000), IPC_OK);
        assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 3000), IPC_OK);
        assert_true(got == len && tl_check(buf, got, 4242));
    }
    ipc_free(ch);
}

/* The survivor is blocked with a timeout while its only peer is killed: it
 * returns (timeout or IPC_ECLOSED), it does not hang. */
static void test_survivor_of_killed_peer_returns(void **state)
{
    (void)state;
    REQUIRE(IPC_CAP_FORK);
    ipc_channel *ch = open_default();
    pid_t peer = tl_fork(30);
    if (peer == 0) { pause(); _exit(0); }
    pid_t survivor = tl_fork(30);
    if (survivor == 0) {
        char buf[8];
        size_t got;
        int rc = ipc_recv(ch, buf, sizeof buf, &got, NULL, 1500);
        _exit(rc == IPC_EEMPTY || rc == IPC_ECLOSED ? 0 : 1);
    }
    tl_sleep_ms(100);
    kill(peer, SIGKILL);
    tl_wait(peer, 10);
    assert_int_equal(tl_wait(survivor, 15), 0);
    ipc_free(ch);
}

/* Waiters killed in their sleep, then traffic with new waiters on both
 * sides, several rounds.  A process-shared condvar keeps a dead waiter
 * registered in its group; the group switch after it then waits for that
 * waiter forever (issue 12, defect 2: the consumer hung in
 * pthread_cond_broadcast holding the queue's mutex).  Every survivor runs in
 * a child with a deadline: a hang is a failure, not a stuck run. */
enum { KW_ROUNDS = 3 };

static void kw_fill(ipc_channel *ch, size_t len, long *filled, uint32_t base)
{
    unsigned char msg[64];
    int rc;
    do {
        tl_fill(msg, len, base + (uint32_t)*filled);
        rc = ipc_send(ch, msg, len, 0, 0);
    } while (rc == IPC_OK && ++*filled < 64);
}

static void test_killed_waiters_do_not_stall_survivors(void **state)
{
    (void)state;
    REQUIRE(IPC_CAP_FORK | IPC_CAP_BOUNDED);
    ipc_channel *ch = open_with(&(ipc_config){ .capacity = 2 });
    size_t len = min_sz(16, ipc_max_msg(ch));
    for (int round = 0; round < KW_ROUNDS; round++) {
        /* 1. a receiver asleep on the empty channel, killed there */
        pid_t dead = tl_fork(30);
        if (dead == 0) {
            char buf[64];
            size_t got;
            ipc_recv(ch, buf, sizeof buf, &got, NULL, -1);
            _exit(1);
        }
        tl_sleep_ms(100);
        kill(dead, SIGKILL);
        assert_int_equal(tl_wait(dead, 10), 128 + SIGKILL);
        /* 2. fill it; a sender asleep on the full channel, killed there */
        long filled = 0;
        kw_fill(ch, len, &filled, 1000u * (uint32_t)round);
        dead = tl_fork(30);
        if (dead == 0) {
            unsigned char msg[64];
            tl_fill(msg, len, 999999);
            ipc_send(ch, msg, len, 0, -1);
            _exit(1);
        }
        tl_sleep_ms(100);
        kill(dead, SIGKILL);
        assert_int_equal(tl_wait(dead, 10), 128 + SIGKILL);
        /* 3. a live sender that must wait for room, and a consumer that makes
         *    it: both children, both with deadlines. */
        pid_t sender = tl_fork(30);
        if (sender == 0) {
            unsigned char msg[64];
            for (uint32_t i = 0; i < 4; i++) {
                tl_fill(msg, len, 5000 + i);
                if (ipc_send(ch, msg, len, 0, 4000) != IPC_OK) _exit(2);
            }
            _exit(0);
        }
        tl_sleep_ms(100);
        pid_t consumer = tl_fork(30);
        if (consumer == 0) {
            unsigned char buf[64];
            size_t got;
            long want = filled + 4, seen = 0;
            while (seen < want) {
                int rc = ipc_recv(ch, buf, sizeof buf, &got, NULL, 4000);
                if (rc != IPC_OK) _exit(3);
                seen++;
            }
            _exit(0);
        }
        int s = tl_wait(sender, 12), c = tl_wait(consumer, 12);
        if (s != 0 || c != 0)
            fail_msg("round %d: sender exited %d, consumer %d (137 = killed after hanging)", round, s, c);
        /* 4. a live receiver waiting on the empty channel, woken by a send */
        pid_t waiter = tl_fork(30);
        if (waiter == 0) {
            unsigned char buf[64];
            size_t got;
            _exit(ipc_recv(ch, buf, sizeof buf, &got, NULL, 4000) == IPC_OK && tl_check(buf, got, 7777) ? 0 : 4);
        }
        tl_sleep_ms(100);
        unsigned char msg[64];
        tl_fill(msg, len, 7777);
        pid_t poster = tl_fork(30);
        if (poster == 0) _exit(ipc_send(ch, msg, len, 0, 4000) == IPC_OK ? 0 : 5);
        int w = tl_wait(waiter, 12), p = tl_wait(poster, 12);
        if (w != 0 || p != 0)
            fail_msg("round %d: waiting receiver exited %d, sender %d (137 = killed after hanging)", round, w, p);
    }
    ipc_free(ch);
}

/* ---- bad input --------------------------------------------------------- */

static void test_bad_arguments_answer_errors(void **state)
{
    (void)state;
    ipc_channel *ch = NULL;
    if (M->max_msg_limit < (size_t)-1)
        assert_ipc(ipc_open(M->name, &(ipc_config){ .max_msg = M->max_msg_limit + 1 }, &ch), IPC_EINVAL);
    assert_null(ch);
    assert_ipc(ipc_open(M->name, &(ipc_config){ .capacity = (size_t)-1 }, &ch), IPC_EINVAL);
    assert_ipc(ipc_open(M->name, &(ipc_config){ .order = 42 }, &ch), IPC_EINVAL);
    assert_ipc(ipc_open(M->name, NULL, NULL), IPC_EINVAL);
    if (!has(IPC_CAP_UNRELATED)) {
        assert_ipc(ipc_open(M->name, &(ipc_config){ .name = "x", .flags = IPC_ATTACH }, &ch), IPC_ENOTSUP);
        assert_ipc(ipc_open(M->name, &(ipc_config){ .flags = IPC_ATTACHABLE }, &ch), IPC_ENOTSUP);
        /* issue 12.5: no name or endpoint to open by, one answer everywhere */
        assert_ipc(ipc_open(M->name, &(ipc_config){ .name = "x" }, &ch), IPC_EINVAL);
        assert_ipc(ipc_open(M->name, &(ipc_config){ .endpoint = "x" }, &ch), IPC_EINVAL);
    }
    /* wait strategies: out of the enum, a negative or absurd spin budget, one it cannot do */
    assert_ipc(ipc_open(M->name, &(ipc_config){ .wait = 42 }, &ch), IPC_EINVAL);
    assert_ipc(ipc_open(M->name, &(ipc_config){ .wait = W, .spin_ns = -1 }, &ch), IPC_EINVAL);
    assert_ipc(ipc_open(M->name, &(ipc_config){ .wait = W, .spin_ns = 2000000000L }, &ch), IPC_EINVAL);
    unsigned waits = M->waits ? M->waits : IPC_WAIT_BIT(IPC_WAIT_BLOCK);
    for (int w = IPC_WAIT_BLOCK; w <= IPC_WAIT_ADAPTIVE; w++)
        if (!(waits & IPC_WAIT_BIT(w))) assert_ipc(ipc_open(M->name, &(ipc_config){ .wait = w }, &ch), IPC_ENOTSUP);
    /* issue 12.5: the config is checked against the caps, in one place */
    assert_ipc(ipc_open(M->name, &(ipc_config){ .flags = 1u << 7 }, &ch), IPC_EINVAL);
    if (!has(IPC_CAP_LIFO)) assert_ipc(ipc_open(M->name, &(ipc_config){ .order = IPC_LIFO }, &ch), IPC_EINVAL);
    if (!has(IPC_CAP_PRIORITY))
        assert_ipc(ipc_open(M->name, &(ipc_config){ .order = IPC_PRIORITY }, &ch), IPC_EINVAL);
    assert_null(ch);

    ch = open_default();
    char buf[8];
    size_t got;
    assert_ipc(ipc_send(ch, NULL, 5, 0, 0), IPC_EINVAL);
    assert_ipc(ipc_recv(ch, buf, sizeof buf, NULL, NULL, 0), IPC_EINVAL);
    assert_ipc(ipc_recv(ch, NULL, 5, &got, NULL, 0), IPC_EINVAL);
    /* issue 12.4: only -1 means forever; other negatives are mistakes */
    static const int bad_timeouts[] = { -2, -100, INT_MIN };
    for (size_t i = 0; i < sizeof bad_timeouts / sizeof bad_timeouts[0]; i++) {
        assert_ipc(ipc_send(ch, "x", 1, 0, bad_timeouts[i]), IPC_EINVAL);
        assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, bad_timeouts[i]), IPC_EINVAL);
    }
    ipc_config acfg;
    assert_ipc(ipc_attach_config(ch, NULL), IPC_EINVAL);
    int rc = ipc_attach_config(ch, &acfg);
    if (!has(IPC_CAP_UNRELATED)) assert_ipc(rc, IPC_ENOTSUP);
    else if (rc != IPC_EINVAL) { /* a private channel may have no name at all */
        assert_ipc(rc, IPC_OK);
        assert_true(acfg.name || acfg.endpoint);
    }
    assert_ipc(ipc_close(ch), IPC_OK);
    assert_ipc(ipc_send(ch, "x", 1, 0, 0), IPC_ECLOSED);
    ipc_free(ch);
}

/* Not per mechanism: the dispatch layer's own answers. */
static void test_dispatch_bad_input(void **state)
{
    (void)state;
    ipc_channel *ch = (ipc_channel *)0x1;
    assert_ipc(ipc_open(NULL, NULL, &ch), IPC_EINVAL);
    assert_null(ch);
    assert_ipc(ipc_open("no-such-mechanism", NULL, &ch), IPC_ENOMECH);
    assert_non_null(strstr(ipc_last_error(), "no-such-mechanism"));
    size_t count;
    const ipc_mechanism *const *all = ipc_mechanisms(&count);
    assert_true(count >= 6);
    for (size_t i = 0; i < count; i++) { /* the message lists every known one */
        assert_non_null(strstr(ipc_last_error(), all[i]->name));
        assert_ptr_equal(ipc_find(all[i]->name), all[i]);
        for (size_t j = 0; j < i; j++) assert_string_not_equal(all[i]->name, all[j]->name);
    }
    assert_null(ipc_find(NULL));
    assert_null(ipc_find(""));
    char buf[4];
    size_t got;
    assert_ipc(ipc_send(NULL, "x", 1, 0, 0), IPC_EINVAL);
    assert_ipc(ipc_recv(NULL, buf, sizeof buf, &got, NULL, 0), IPC_EINVAL);
    assert_ipc(ipc_close(NULL), IPC_EINVAL);
    assert_int_equal(ipc_pollfd(NULL), -1);
    assert_int_equal(ipc_depth(NULL), -1);
    assert_int_equal(ipc_max_msg(NULL), 0);
    assert_null(ipc_channel_mechanism(NULL));
    assert_ipc(ipc_observe(NULL, NULL, NULL), IPC_EINVAL);
    assert_ipc(ipc_attach_config(NULL, &(ipc_config){ 0 }), IPC_EINVAL);
    ipc_free(NULL);
    static const int codes[] = { IPC_OK, IPC_EFULL, IPC_EEMPTY, IPC_ECLOSED, IPC_EMSGSIZE,
                                 IPC_EINVAL, IPC_ENOMECH, IPC_ESYS, IPC_ENOTSUP };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(ipc_strerror(codes[i]), ipc_strerror(codes[j]));
    assert_non_null(ipc_strerror(12345));
}

/* ---- the runner -------------------------------------------------------- */


static const struct CMUnitTest per_mechanism[] = {
    TL_CASE(test_open_describes_itself),
    TL_CASE(test_order_and_boundaries),
    TL_CASE(test_zero_length_message),
    TL_CASE(test_max_size_message),
    TL_CASE(test_oversize_send_is_refused),
    TL_CASE(test_small_buffer_keeps_message),
    TL_CASE(test_nowait_on_empty),
    TL_CASE(test_timeout_on_empty),
    TL_CASE(test_timeout_survives_signal_storm),
    TL_CASE(test_bounded_full),
    TL_CASE(test_fills_until_full),
    TL_CASE(test_close_then_drain),
    TL_CASE(test_depth_counts_messages_only),
    TL_CASE(test_close_wakes_blocked_receiver),
    TL_CASE(test_close_wakes_blocked_sender),
    TL_CASE(test_close_wakes_receiver_in_other_process),
    TL_CASE(test_deadline_holds_for_every_size),
    TL_CASE(test_close_loses_no_acknowledged_message),
    TL_CASE(test_close_loses_nothing_across_processes),
    TL_CASE(test_priority_order),
    TL_CASE(test_pollfd_readable_when_ready),
    TL_CASE(test_pollfd_wakes_on_close),
    TL_CASE(test_wait_strategy_is_honoured),
    TL_CASE(test_observer_sees_every_step),
    TL_CASE(test_fork_parent_to_child),
    TL_CASE(test_fork_child_to_parent),
    TL_CASE(test_unrelated_process_attaches),
    TL_CASE(test_mpmc_threads),
    TL_CASE(test_mpmc_processes),
    TL_CASE(test_killed_receiver_leaves_channel_usable),
    TL_CASE(test_killed_sender_leaves_channel_usable),
    TL_CASE(test_survivor_of_killed_peer_returns),
    TL_CASE(test_killed_waiters_do_not_stall_survivors),
    TL_CASE(test_bad_arguments_answer_errors),
};

static const struct CMUnitTest dispatch[] = {
    TL_CASE(test_dispatch_bad_input),
};

/* Is mechanism m under strategy w named on the command line ("pipe" names
 * every strategy of pipe, "pipe/spin" only that one)?  No argument: all. */
static bool wanted(int argc, char **argv, const ipc_mechanism *m, int w)
{
    if (argc == 1) return true;
    char both[96];
    snprintf(both, sizeof both, "%s/%s", m->name, ipc_wait_name(w));
    for (int a = 1; a < argc; a++)
        if (strcmp(argv[a], m->name) == 0 || strcmp(argv[a], both) == 0) return true;
    return false;
}

/* Is every argument a mechanism, or a mechanism/strategy it supports? */
static bool known_argument(const char *arg)
{
    char mech[64];
    const char *slash = strchr(arg, '/');
    snprintf(mech, sizeof mech, "%.*s", slash ? (int)(slash - arg) : (int)strlen(arg), arg);
    const ipc_mechanism *m = ipc_find(mech);
    if (!m) return false;
    if (!slash) return true;
    int w = ipc_wait_parse(slash + 1);
    unsigned waits = m->waits ? m->waits : IPC_WAIT_BIT(IPC_WAIT_BLOCK);
    return w > 0 && (waits & IPC_WAIT_BIT(w));
}

/* "--shard K/N": run only every N-th group (mechanism x strategy), starting at the K-th
 * (1-based), so scripts/run-tests can run N copies side by side; shard 1 also runs the
 * dispatch group.  Anything else after it is a mechanism or mechanism/strategy. */
static bool parse_shard(const char *arg, unsigned *k, unsigned *n)
{
    char extra;
    return sscanf(arg, "%u/%u%c", k, n, &extra) == 2 && *n >= 1 && *k >= 1 && *k <= *n;
}

static int usage(FILE *to, int rc)
{
    fprintf(to, "usage: test_conformance [--shard K/N] [MECH | MECH/STRATEGY]...\n"
                "  runs every conformance case on every mechanism and wait strategy it supports;\n"
                "  MECH or MECH/STRATEGY (e.g. pipe, pipe/adaptive) keeps only those;\n"
                "  --shard K/N runs only groups K, K+N, K+2N, ... (1-based; shard 1 adds dispatch);\n"
                "  TL_FILTER='*close_loses*' keeps only the matching cases (cmocka wildcards).\n");
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--attach-child") == 0) return attach_child(argc, argv);
    unsigned shard = 1, shards = 1;
    int kept = 1;                       /* argv without the options: mechanisms only */
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) return usage(stdout, 0);
        if (strcmp(argv[a], "--shard") == 0) {
            if (a + 1 >= argc || !parse_shard(argv[a + 1], &shard, &shards)) {
                fprintf(stderr, "test_conformance: --shard wants K/N with 1 <= K <= N\n");
                return usage(stderr, 2);
            }
            a++;
            continue;
        }
        argv[kept++] = argv[a];
    }
    argc = kept;
    size_t count;
    const ipc_mechanism *const *all = ipc_mechanisms(&count);
    int failures = 0;
    if (argc == 1 && shard == 1)
        failures += cmocka_run_group_tests_name("conformance/dispatch", dispatch, NULL, NULL);
    for (int a = 1; a < argc; a++) /* name an unknown one: say so, do not pass silently */
        if (!known_argument(argv[a])) {
            fprintf(stderr, "test_conformance: unknown mechanism or strategy '%s'\n", argv[a]);
            return 1;
        }
    /* TL_FILTER="*close_loses*" runs only the matching cases (cmocka wildcards). */
    if (getenv("TL_FILTER")) cmocka_set_test_filter(getenv("TL_FILTER"));
    enum { CASES = sizeof per_mechanism / sizeof per_mechanism[0] };
    unsigned group_index = 0;           /* counts the groups this run would run unsharded */
    for (size_t i = 0; i < count; i++) {
        unsigned waits = all[i]->waits ? all[i]->waits : IPC_WAIT_BIT(IPC_WAIT_BLOCK);
        for (int w = IPC_WAIT_BLOCK; w <= IPC_WAIT_ADAPTIVE; w++) {
            if (!(waits & IPC_WAIT_BIT(w)) || !wanted(argc, argv, all[i], w)) continue;
            if (group_index++ % shards != shard - 1) continue;
            M = all[i];
            W = w;
            /* cmocka prints test names, not group names: put mechanism and strategy in each */
            struct CMUnitTest named[CASES];
            static char names[CASES][112];
            for (size_t c = 0; c < CASES; c++) {
                named[c] = per_mechanism[c];
                snprintf(names[c], sizeof names[c], "%s/%s/%s", M->name, ipc_wait_name(W),
                         per_mechanism[c].name + 5);
                named[c].name = names[c];
            }
            printf("=== conformance/%s/%s (%s family; blocks in: %s)\n", M->name, ipc_wait_name(W),
                   M->family, M->wait_strategy);
            fflush(stdout);
            char group[112];
            snprintf(group, sizeof group, "conformance/%s/%s", M->name, ipc_wait_name(W));
            failures += _cmocka_run_group_tests(group, named, CASES, NULL, NULL);
        }
    }
    return failures;
}
