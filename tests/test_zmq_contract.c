/*
 * test_zmq_contract.c — issue 12, defect 6: the "zmq" mechanism held to
 * ipc.h, as a program written against the header alone would hold it.
 *
 *   (a) streaming, then ipc_close: every receiver returns (none stays in
 *       recv(-1)) and every message acknowledged to a sender is received;
 *   (b) send 3, close, then a get_nowait drain (recv timeout 0) gets all 3
 *       before IPC_ECLOSED;
 *   (c) a receiver killed between receives takes nothing with it (no
 *       prefetch), and one freed after IPC_EMSGSIZE hands the message back;
 *   (d) IPC_ATTACH to an endpoint nobody serves fails at open;
 *   (e) with a small descriptor limit, opens fail (IPC_ESYS, EMFILE) before
 *       any opened channel's send or receive does;
 *   (f) ipc_close of a channel at its high-water mark, with no receiver,
 *       returns at once, and a receiver that comes later gets every
 *       acknowledged message and then IPC_ECLOSED (the close frame must not
 *       wait for room a receiver would make);
 *   (g) a receive whose deadline passes while the device is held up (its
 *       process not scheduled) still returns a message that was queued: the
 *       device reads the request and the cancel that followed it together,
 *       and must serve the request first.
 */
#define _GNU_SOURCE
#include "testlib.h"

#include "brokers/ipc_zmq.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ---- (a) close while streaming ----------------------------------------- */

enum { PRODUCERS = 2, CONSUMERS = 2 };

struct stream {
    ipc_channel *ch;
    atomic_long  acked, received;
    atomic_int   done_consumers;
};

static void *produce(void *arg)
{
    struct stream *s = arg;
    unsigned char msg[32];
    for (uint32_t i = 0;; i++) {
        tl_fill(msg, sizeof msg, i);
        int rc = ipc_send(s->ch, msg, sizeof msg, 0, -1);
        if (rc != IPC_OK) break;
        atomic_fetch_add(&s->acked, 1);
        if (i % 4 == 0) tl_sleep_ms(1); /* a paced stream: a backlog that drains in seconds */
    }
    return NULL;
}

static void *consume(void *arg)
{
    struct stream *s = arg;
    unsigned char buf[64];
    size_t got;
    while (ipc_recv(s->ch, buf, sizeof buf, &got, NULL, -1) == IPC_OK) atomic_fetch_add(&s->received, 1);
    atomic_fetch_add(&s->done_consumers, 1);
    return NULL;
}

static void test_zmq_close_while_streaming_loses_nothing(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        struct stream s = { .ch = tl_open("zmq", NULL) };
        pthread_t p[PRODUCERS], c[CONSUMERS];
        for (int i = 0; i < CONSUMERS; i++) c[i] = tl_thread(consume, &s);
        for (int i = 0; i < PRODUCERS; i++) p[i] = tl_thread(produce, &s);
        tl_sleep_ms(300);
        assert_ipc(ipc_close(s.ch), IPC_OK);
        for (int i = 0; i < PRODUCERS; i++) pthread_join(p[i], NULL);
        int64_t t0 = ipc_now_ns();
        while (atomic_load(&s.done_consumers) < CONSUMERS && tl_ms_since(t0) < 20000) tl_sleep_ms(10);
        if (atomic_load(&s.done_consumers) < CONSUMERS)
            fail_msg("round %d: %d of %d receivers still in recv(-1) 20 s after ipc_close"
                     " (%ld of %ld acknowledged messages received)", round,
                     CONSUMERS - atomic_load(&s.done_consumers), CONSUMERS,
                     atomic_load(&s.received), atomic_load(&s.acked));
        for (int i = 0; i < CONSUMERS; i++) pthread_join(c[i], NULL);
        long acked = atomic_load(&s.acked), received = atomic_load(&s.received);
        ipc_free(s.ch);
        if (acked != received)
            fail_msg("round %d: %ld messages acknowledged to senders, %ld received", round, acked, received);
    }
}

/* ---- (b) a get_nowait drain after close -------------------------------- */

static void test_zmq_nowait_drain_after_close(void **state)
{
    (void)state;
    ipc_channel *ch = tl_open("zmq", NULL);
    unsigned char msg[16], buf[16];
    for (uint32_t i = 0; i < 3; i++) {
        tl_fill(msg, sizeof msg, i);
        assert_ipc(ipc_send(ch, msg, sizeof msg, 0, 1000), IPC_OK);
    }
    assert_ipc(ipc_close(ch), IPC_OK);
    size_t got;
    for (uint32_t i = 0; i < 3; i++) {
        assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 0), IPC_OK);
        assert_true(got == sizeof msg && tl_check(buf, got, i));
    }
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 0), IPC_ECLOSED);
    ipc_free(ch);
}

/* ---- (c) what a receiver that goes away takes with it ------------------ */

/* Fork an attacher that learns the endpoint through a pipe (an unrelated
 * process would read it from a config file).  Forked before the channel
 * exists: a child must not inherit ZeroMQ's threads (ThreadSanitizer also
 * refuses a child that starts threads after a multi-threaded fork). */
static pid_t fork_attacher(int *to_child, int (*body)(ipc_channel *))
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = tl_fork(30);
    if (pid == 0) {
        close(p[1]);
        char ep[512];
        ssize_t n = read(p[0], ep, sizeof ep - 1);
        if (n <= 0) _exit(19);
        ep[n] = '\0';
        ipc_channel *c = NULL;
        if (ipc_open("zmq", &(ipc_config){ .endpoint = ep, .flags = IPC_ATTACH }, &c) != IPC_OK) _exit(20);
        _exit(body(c));
    }
    close(p[0]);
    *to_child = p[1];
    return pid;
}

static void tell(int fd, const char *ep)
{
    assert_int_equal(write(fd, ep, strlen(ep)), (ssize_t)strlen(ep));
    close(fd);
}

static int receive_once_then_sleep(ipc_channel *c)
{
    unsigned char buf[16];
    size_t got;
    if (ipc_recv(c, buf, sizeof buf, &got, NULL, 10000) != IPC_OK || !tl_check(buf, got, 0)) return 21;
    for (;;) pause(); /* killed here, between receives */
}

static int too_small_then_free(ipc_channel *c)
{
    unsigned char buf[1];
    size_t got;
    if (ipc_recv(c, buf, sizeof buf, &got, NULL, 10000) != IPC_EMSGSIZE || got != 16) return 22;
    ipc_free(c); /* the message it could not take goes back to the channel */
    return 0;
}

/* A receiver that has received once, then is killed between receives, took
 * nothing with it: a PULL socket used to prefetch its round-robin share of
 * every later message.  A receiver freed after IPC_EMSGSIZE hands the
 * message back instead of dropping it. */
static void test_zmq_receiver_gone_keeps_the_rest(void **state)
{
    (void)state;
    int to_sleeper, to_freer;
    pid_t pid = fork_attacher(&to_sleeper, receive_once_then_sleep);
    pid_t freer = fork_attacher(&to_freer, too_small_then_free);
    ipc_channel *ch = tl_open("zmq", &(ipc_config){ .endpoint = "tcp://127.0.0.1:*" });
    const char *ep = ipc_zmq_endpoint(ch);
    unsigned char msg[16], buf[16];
    size_t got;
    tl_fill(msg, sizeof msg, 0);
    assert_ipc(ipc_send(ch, msg, sizeof msg, 0, 1000), IPC_OK);
    tell(to_sleeper, ep);
    tl_sleep_ms(500);
    for (uint32_t i = 1; i <= 20; i++) {
        tl_fill(msg, sizeof msg, i);
        assert_ipc(ipc_send(ch, msg, sizeof msg, 0, 1000), IPC_OK);
    }
    tl_sleep_ms(300);
    kill(pid, SIGKILL);
    assert_int_equal(tl_wait(pid, 10), 128 + SIGKILL);
    for (uint32_t i = 1; i <= 20; i++) {
        int rc = ipc_recv(ch, buf, sizeof buf, &got, NULL, 3000);
        if (rc != IPC_OK) {
            kill(freer, SIGKILL);
            tl_wait(freer, 10);
            ipc_free(ch);
            fail_msg("message %u of 20 lost with the killed receiver: %s", i, ipc_strerror(rc));
        }
        assert_true(tl_check(buf, got, i));
    }
    tl_fill(msg, sizeof msg, 77);
    assert_ipc(ipc_send(ch, msg, sizeof msg, 0, 1000), IPC_OK);
    tell(to_freer, ep);
    assert_int_equal(tl_wait(freer, 20), 0);
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 3000), IPC_OK);
    assert_true(got == sizeof msg && tl_check(buf, got, 77));
    ipc_free(ch);
}

/* ---- (d) attaching to nobody ------------------------------------------- */

static void test_zmq_attach_to_nobody_fails_at_open(void **state)
{
    (void)state;
    ipc_channel *ch = NULL;
    int rc = ipc_open("zmq", &(ipc_config){ .endpoint = "tcp://127.0.0.1:1", .flags = IPC_ATTACH }, &ch);
    assert_null(ch);
    if (rc != IPC_ECLOSED) fail_msg("attach to tcp://127.0.0.1:1 answered %d (%s)", rc, ipc_last_error());
    rc = ipc_open("zmq", &(ipc_config){ .name = "/etc/passwd", .flags = IPC_ATTACH }, &ch);
    assert_null(ch);
    if (rc != IPC_EINVAL) fail_msg("attach to /etc/passwd answered %d (%s)", rc, ipc_last_error());
    rc = ipc_open("zmq", &(ipc_config){ .name = "/tmp/ipcplay-no-such-zmq-socket", .flags = IPC_ATTACH }, &ch);
    assert_null(ch);
    if (rc != IPC_ECLOSED) fail_msg("attach to a missing path answered %d (%s)", rc, ipc_last_error());
    /* a channel that existed and was freed: its owner is gone */
    ipc_channel *owner = tl_open("zmq", &(ipc_config){ .endpoint = "tcp://127.0.0.1:*" });
    char ep[256];
    snprintf(ep, sizeof ep, "%s", ipc_zmq_endpoint(owner));
    ipc_free(owner);
    rc = ipc_open("zmq", &(ipc_config){ .endpoint = ep, .flags = IPC_ATTACH }, &ch);
    assert_null(ch);
    if (rc != IPC_ECLOSED) fail_msg("attach to a freed channel answered %d (%s)", rc, ipc_last_error());
}

/* ---- (e) descriptors run out at open, not later ------------------------ */

static int fd_child(void)
{
    struct rlimit rl = { 160, 160 };
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) return 10;
    enum { MAX = 400 };
    static ipc_channel *ch[MAX];
    int n = 0, rc = IPC_OK;
    for (; n < MAX; n++) {
        rc = ipc_open("zmq", NULL, &ch[n]);
        if (rc != IPC_OK) break;
    }
    if (n == MAX) { fprintf(stderr, "all %d opens succeeded under 160 fds\n", MAX); return 11; }
    if (rc != IPC_ESYS || errno != EMFILE) {
        fprintf(stderr, "open %d: %d (%s), want IPC_ESYS/EMFILE\n", n, rc, ipc_last_error());
        return 12;
    }
    if (n < 2) { fprintf(stderr, "only %d channels opened\n", n); return 13; }
    for (int i = 0; i < n; i++) {
        unsigned char msg[8], buf[8];
        size_t got;
        tl_fill(msg, sizeof msg, (uint32_t)i);
        if ((rc = ipc_send(ch[i], msg, sizeof msg, 0, 3000)) != IPC_OK
            || (rc = ipc_recv(ch[i], buf, sizeof buf, &got, NULL, 5000)) != IPC_OK || !tl_check(buf, got, (uint32_t)i)) {
            fprintf(stderr, "channel %d of %d opened, then: %d (%s)\n", i, n, rc, ipc_last_error());
            return 14;
        }
    }
    for (int i = 0; i < n; i++) ipc_free(ch[i]);
    return 0;
}

static void test_zmq_descriptor_limit_fails_at_open(void **state)
{
    (void)state;
    pid_t pid = tl_fork(60);
    if (pid == 0) _exit(fd_child());
    int status = tl_wait(pid, 60);
    if (status) fail_msg("child exited %d (see its message above)", status);
}

/* ---- (f) close at the high-water mark ----------------------------------- */

static void test_zmq_close_at_hwm_without_receiver(void **state)
{
    (void)state;
    ipc_channel *ch = tl_open("zmq", &(ipc_config){ .capacity = 4, .max_msg = 64 });
    unsigned char msg[64];
    uint32_t sent = 0;
    int rc;
    while (sent < 100000 && (rc = ipc_send(ch, msg, (tl_fill(msg, sizeof msg, sent), sizeof msg), 0, 50)) == IPC_OK)
        sent++;
    assert_ipc(rc, IPC_EFULL);
    int64_t t0 = ipc_now_ns();
    rc = ipc_close(ch);
    int64_t close_ms = tl_ms_since(t0);
    if (rc != IPC_OK)
        fail_msg("ipc_close at the high-water mark: %s after %lld ms (%s)", ipc_strerror(rc),
                 (long long)close_ms, ipc_last_error());
    assert_ipc(ipc_send(ch, msg, sizeof msg, 0, 0), IPC_ECLOSED);
    size_t got;
    for (uint32_t i = 0; i < sent; i++) tl_recv_id(ch, i, sizeof msg, 5000);
    assert_ipc(ipc_recv(ch, msg, sizeof msg, &got, NULL, 5000), IPC_ECLOSED);
    ipc_free(ch);
}

/* ---- (g) the device answers late ---------------------------------------- */

static void *cont_later(void *arg)
{
    tl_sleep_ms(500);
    kill(*(pid_t *)arg, SIGCONT);
    return NULL;
}

static void test_zmq_late_device_still_returns_queued_message(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t owner = tl_fork(60); /* before this process has a ZeroMQ context */
    if (owner == 0) {
        close(p[0]);
        ipc_channel *c = NULL;
        unsigned char msg[16];
        tl_fill(msg, sizeof msg, 5);
        if (ipc_open("zmq", NULL, &c) != IPC_OK) _exit(30);
        if (ipc_send(c, msg, sizeof msg, 0, 1000) != IPC_OK) _exit(31);
        const char *ep = ipc_zmq_endpoint(c);
        if (write(p[1], ep, strlen(ep)) != (ssize_t)strlen(ep)) _exit(32);
        close(p[1]);
        for (;;) pause();
    }
    close(p[1]);
    char ep[512];
    ssize_t n = read(p[0], ep, sizeof ep - 1);
    close(p[0]);
    assert_true(n > 0);
    ep[n] = '\0';
    ipc_channel *ch = tl_open("zmq", &(ipc_config){ .endpoint = ep, .flags = IPC_ATTACH });
    tl_sleep_ms(200); /* its connections are up */
    kill(owner, SIGSTOP); /* the device, and its I/O thread, are not scheduled */
    pthread_t t = tl_thread(cont_later, &owner);
    unsigned char buf[16];
    size_t got = 0;
    int rc = ipc_recv(ch, buf, sizeof buf, &got, NULL, 100);
    pthread_join(t, NULL);
    ipc_free(ch);
    kill(owner, SIGKILL);
    tl_wait(owner, 10);
    if (rc != IPC_OK)
        fail_msg("one message queued, the device held up 500 ms: recv(100 ms) answered %s (%s)",
                 ipc_strerror(rc), ipc_last_error());
    assert_true(got == sizeof buf && tl_check(buf, got, 5));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TL_CASE(test_zmq_close_while_streaming_loses_nothing),
        TL_CASE(test_zmq_nowait_drain_after_close),
        TL_CASE(test_zmq_receiver_gone_keeps_the_rest),
        TL_CASE(test_zmq_attach_to_nobody_fails_at_open),
        TL_CASE(test_zmq_descriptor_limit_fails_at_open),
        TL_CASE(test_zmq_close_at_hwm_without_receiver),
        TL_CASE(test_zmq_late_device_still_returns_queued_message),
    };
    return cmocka_run_group_tests_name("zmq_contract", tests, NULL, NULL);
}
