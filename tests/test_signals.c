/*
 * test_signals.c — the "signal" mechanism beyond the conformance suite:
 * payloads of 0..8 bytes, FIFO across lengths, standard signals coalescing
 * while RT signals queue, the SIGUSR1 helper, a full pending queue as
 * IPC_EFULL, who a send goes to across fork, foreign signals ignored, and
 * many threads of one process on one channel.
 */
#define _GNU_SOURCE
#include "testlib.h"

#include "signals/signals.h"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static ipc_channel *open_signal(void)
{
    ipc_channel *ch = NULL;
    int rc = ipc_open("signal", NULL, &ch);
    if (rc != IPC_OK) fail_msg("ipc_open(signal) = %s: %s", ipc_strerror(rc), ipc_last_error());
    return ch;
}


/* Every length 0..8 comes back with its bytes: the length rides in si_code,
 * the bytes in the sigval. */
static void test_payload_lengths_round_trip(void **state)
{
    (void)state;
    ipc_channel *ch = open_signal();
    assert_int_equal(ipc_max_msg(ch), 8);
    for (uint32_t len = 0; len <= 8; len++) {
        unsigned char msg[8], buf[8];
        tl_fill(msg, len, 100 + len);
        assert_ipc(ipc_send(ch, msg, len, 0, 0), IPC_OK);
        size_t got = 99;
        int prio = -1;
        assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, &prio, 5000), IPC_OK);
        assert_int_equal(got, len);
        assert_int_equal(prio, 0);
        assert_true(tl_check(buf, got, 100 + len));
    }
    unsigned char nine[9] = { 0 };
    assert_ipc(ipc_send(ch, nine, 9, 0, 0), IPC_EMSGSIZE);
    ipc_free(ch);
}

/* One signal number per channel: send order is kept whatever the lengths
 * (were the length in the signal number, shorter messages would overtake). */
static void test_fifo_across_lengths(void **state)
{
    (void)state;
    enum { N = 300 };
    ipc_channel *ch = open_signal();
    for (uint32_t i = 0; i < N; i++) {
        unsigned char msg[8];
        tl_fill(msg, (8 - i % 9) % 9, i);
        assert_ipc(ipc_send(ch, msg, (8 - i % 9) % 9, 0, 0), IPC_OK);
    }
    for (uint32_t i = 0; i < N; i++) {
        unsigned char buf[8];
        size_t got;
        assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 5000), IPC_OK);
        if (got != (8 - i % 9) % 9 || !tl_check(buf, got, i)) fail_msg("message %u out of order or damaged", i);
    }
    ipc_free(ch);
}

/* The lesson of the chapter: a standard signal is a pending BIT, a real-time
 * signal a pending QUEUE. */
static void test_standard_signals_coalesce_rt_signals_queue(void **state)
{
    (void)state;
    assert_int_equal(ipc_signal_count_deliveries(SIGUSR1, 5), 1);
    assert_int_equal(ipc_signal_count_deliveries(SIGUSR2, 3), 1);
    assert_int_equal(ipc_signal_count_deliveries(SIGRTMAX, 5), 5);
    assert_int_equal(ipc_signal_count_deliveries(SIGRTMAX - 1, 50), 50);
    assert_int_equal(ipc_signal_count_deliveries(SIGUSR1, 0), 0);
    assert_ipc((int)ipc_signal_count_deliveries(SIGKILL, 1), IPC_EINVAL);
    assert_ipc((int)ipc_signal_count_deliveries(0, 1), IPC_EINVAL);
}

/* The classic handler: a child sends SIGUSR1 three times, spaced so none
 * merge; the race-free wait sees each one. */
static void test_usr1_handler_helper(void **state)
{
    (void)state;
    assert_ipc(ipc_signal_usr1_install(), IPC_OK);
    long before = ipc_signal_usr1_count();
    assert_ipc(ipc_signal_usr1_wait(before, 50), IPC_ETIMEDOUT); /* nothing sent yet */
    pid_t parent = getpid();
    pid_t pid = tl_fork(20);
    if (pid == 0) {
        for (int i = 0; i < 3; i++) {
            tl_sleep_ms(100);
            if (kill(parent, SIGUSR1) < 0) _exit(1);
        }
        _exit(0);
    }
    for (long i = 1; i <= 3; i++) assert_ipc(ipc_signal_usr1_wait(before + i - 1, 5000), IPC_OK);
    assert_int_equal(tl_wait(pid, 10), 0);
    assert_true(ipc_signal_usr1_count() >= before + 3);
}

/* RLIMIT_SIGPENDING full -> IPC_EFULL, nothing lost.  In a child, so the
 * lowered limit does not outlive the test.  The count is per user — every
 * process of root on this machine — so the child first moves into a user
 * namespace of its own, where it counts only its own signals; if it cannot,
 * other processes may fill the count sooner or free room during the wait. */
static void test_full_pending_queue_is_efull(void **state)
{
    (void)state;
    pid_t pid = tl_fork(20);
    if (pid == 0) {
        bool alone = unshare(CLONE_NEWUSER) == 0;
        struct rlimit lim = { 32, 32 };
        if (setrlimit(RLIMIT_SIGPENDING, &lim) < 0) _exit(1);
        ipc_channel *ch = NULL;
        if (ipc_open("signal", NULL, &ch) != IPC_OK) _exit(2);
        int rc = IPC_OK, sent = 0;
        unsigned char msg[8];
        while (sent < 1000) {
            tl_fill(msg, 8, (uint32_t)sent);
            if ((rc = ipc_send(ch, msg, 8, 0, 0)) != IPC_OK) break;
            sent++;
        }
        if (rc != IPC_EFULL || sent > 32) _exit(3);
        int64_t t0 = ipc_now_ns();
        rc = ipc_send(ch, msg, 8, 0, 100); /* a timed send times out */
        if (rc == IPC_OK && !alone) sent++; /* someone else's signals were taken meanwhile */
        else if (rc != IPC_EFULL || tl_ms_since(t0) < 99) _exit(4);
        for (int i = 0; i < sent; i++) {
            size_t got;
            if (ipc_recv(ch, msg, sizeof msg, &got, NULL, 0) != IPC_OK) _exit(6);
            if (got != 8 || !tl_check(msg, 8, (uint32_t)i)) _exit(7);
        }
        ipc_free(ch);
        _exit(0);
    }
    assert_int_equal(tl_wait(pid, 20), 0);
}

/* The peer rule: before fork the opener talks to itself; after it, to its
 * newest child, and the child to its parent.  set_target overrides. */
static void test_peer_rules_across_fork(void **state)
{
    (void)state;
    ipc_channel *ch = open_signal();
    assert_int_equal(ipc_signal_target(ch), getpid());
    pid_t parent = getpid();
    pid_t pid = tl_fork(20);
    if (pid == 0) {
        if (ipc_signal_target(ch) != parent) _exit(1);
        char buf[8];
        size_t got;
        if (ipc_recv(ch, buf, sizeof buf, &got, NULL, 5000) != IPC_OK || got != 4 || memcmp(buf, "ping", 4)) _exit(2);
        if (ipc_send(ch, "pong", 4, 0, 5000) != IPC_OK) _exit(3);
        /* retarget this process to itself: a loopback in the child */
        if (ipc_signal_set_target(ch, getpid()) != IPC_OK || ipc_signal_target(ch) != getpid()) _exit(4);
        if (ipc_send(ch, "self", 4, 0, 0) != IPC_OK) _exit(5);
        if (ipc_recv(ch, buf, sizeof buf, &got, NULL, 0) != IPC_OK || memcmp(buf, "self", 4)) _exit(6);
        if (ipc_signal_set_target(ch, 0) != IPC_OK || ipc_signal_target(ch) != parent) _exit(7);
        _exit(0);
    }
    assert_int_equal(ipc_signal_target(ch), pid);
    assert_ipc(ipc_send(ch, "ping", 4, 0, 5000), IPC_OK);
    char buf[8];
    size_t got;
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 5000), IPC_OK);
    assert_memory_equal(buf, "pong", 4);
    assert_int_equal(tl_wait(pid, 10), 0);
    /* the child is gone (and reaped): a send says so instead of guessing */
    assert_ipc(ipc_send(ch, "x", 1, 0, 0), IPC_ECLOSED);
    assert_ipc(ipc_signal_set_target(ch, getpid()), IPC_OK);
    assert_ipc(ipc_send(ch, "x", 1, 0, 0), IPC_OK);
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 0), IPC_OK);
    assert_ipc(ipc_signal_set_target(ch, 999999999), IPC_ECLOSED); /* no such process */
    ipc_free(ch);
}

/* The peer rule works for a pool: the opener's sends go to its newest child
 * that is still alive.  A newer child that has exited — a zombie not yet
 * reaped, then reaped — must not swallow messages or end the channel while
 * an older worker lives. */
static void test_pool_sends_reach_a_live_child(void **state)
{
    (void)state;
    ipc_channel *ch = open_signal();
    pid_t worker = tl_fork(20);
    if (worker == 0) {
        char buf[8];
        size_t got;
        if (ipc_recv(ch, buf, sizeof buf, &got, NULL, 8000) != IPC_OK || got != 2 || memcmp(buf, "m1", 2)) _exit(1);
        if (ipc_recv(ch, buf, sizeof buf, &got, NULL, 8000) != IPC_OK || got != 2 || memcmp(buf, "m2", 2)) _exit(2);
        _exit(0);
    }
    pid_t quitter = tl_fork(20);
    if (quitter == 0) _exit(0);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    assert_int_equal(waitid(P_PID, (id_t)quitter, &si, WEXITED | WNOWAIT), 0); /* a zombie now */
    assert_int_equal(ipc_signal_target(ch), worker);
    assert_ipc(ipc_send(ch, "m1", 2, 0, 2000), IPC_OK);   /* to the worker, not the zombie */
    assert_int_equal(tl_wait(quitter, 10), 0);              /* reaped */
    assert_ipc(ipc_send(ch, "m2", 2, 0, 2000), IPC_OK);   /* still the worker, not IPC_ECLOSED */
    int status = tl_wait(worker, 15);
    if (status) fail_msg("the live worker did not get both messages (exit %d)", status);
    /* every child gone: now a send says so */
    assert_ipc(ipc_send(ch, "x", 1, 0, 0), IPC_ECLOSED);
    ipc_free(ch);
}

/* A close in the child wakes the parent blocked in recv (the child's peer). */
static void test_close_in_child_wakes_parent(void **state)
{
    (void)state;
    ipc_channel *ch = open_signal();
    pid_t pid = tl_fork(20);
    if (pid == 0) {
        tl_sleep_ms(200);
        _exit(ipc_close(ch) == IPC_OK ? 0 : 1);
    }
    char buf[8];
    size_t got;
    int64_t t0 = ipc_now_ns();
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, -1), IPC_ECLOSED);
    assert_true(tl_ms_since(t0) < 5000);
    assert_ipc(ipc_send(ch, "x", 1, 0, 0), IPC_ECLOSED); /* the flag is shared */
    assert_int_equal(tl_wait(pid, 10), 0);
    ipc_free(ch);
}

/* Someone else's sigqueue on our signal number (si_code SI_QUEUE, not our
 * tag) is dropped, not mistaken for a message. */
static void test_foreign_signal_is_ignored(void **state)
{
    (void)state;
    ipc_channel *ch = open_signal();
    int sig = ipc_signal_number(ch);
    assert_true(sig >= SIGRTMIN && sig <= SIGRTMAX);
    assert_int_equal(sigqueue(getpid(), sig, (union sigval){ .sival_int = 42 }), 0);
    char buf[8];
    size_t got;
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 0), IPC_EEMPTY);
    assert_ipc(ipc_send(ch, "ok", 2, 0, 0), IPC_OK);
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 0), IPC_OK);
    assert_int_equal(got, 2);
    ipc_free(ch);
}

/* Two channels, two signal numbers, no crosstalk; the opening thread blocks
 * them; a too-small buffer keeps the message in the handle. */
static void test_channels_are_separate(void **state)
{
    (void)state;
    ipc_channel *a = open_signal(), *b = open_signal();
    assert_int_not_equal(ipc_signal_number(a), ipc_signal_number(b));
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    assert_true(sigismember(&mask, ipc_signal_number(a)));
    assert_true(sigismember(&mask, ipc_signal_number(b)));
    assert_ipc(ipc_send(a, "aaaaaaaa", 8, 0, 0), IPC_OK);
    assert_ipc(ipc_send(b, "b", 1, 0, 0), IPC_OK);
    char buf[8];
    size_t got;
    assert_ipc(ipc_recv(b, buf, sizeof buf, &got, NULL, 0), IPC_OK);
    assert_true(got == 1 && buf[0] == 'b');
    assert_ipc(ipc_recv(b, buf, sizeof buf, &got, NULL, 0), IPC_EEMPTY);
    assert_ipc(ipc_recv(a, buf, 4, &got, NULL, 0), IPC_EMSGSIZE);
    assert_int_equal(got, 8);
    struct pollfd p = { .fd = ipc_pollfd(a), .events = POLLIN };
    assert_int_equal(poll(&p, 1, 0), 0); /* taken from the kernel, held in the handle */
    assert_ipc(ipc_recv(a, buf, sizeof buf, &got, NULL, 0), IPC_OK);
    assert_memory_equal(buf, "aaaaaaaa", 8);
    assert_ipc(ipc_signal_number(NULL), IPC_EINVAL);
    ipc_channel *q = NULL;
    assert_ipc(ipc_open("queue", NULL, &q), IPC_OK);
    assert_ipc(ipc_signal_number(q), IPC_EINVAL); /* not a signal channel */
    ipc_channel *named = NULL;
    assert_ipc(ipc_open("signal", &(ipc_config){ .name = "x" }, &named), IPC_EINVAL); /* signals have no names */
    assert_null(named);
    ipc_free(q);
    ipc_free(a);
    ipc_free(b);
}

/* ---- many threads of one process ----------------------------------------- */

enum { SENDERS = 2, RECEIVERS = 2, PER_SENDER = 300 };

struct crowd {
    ipc_channel *ch;
    atomic_int   seen[SENDERS][PER_SENDER];
    atomic_int   received, bad;
};

struct member { struct crowd *c; int id; int rc; };

static void *crowd_sender(void *arg)
{
    struct member *m = arg;
    for (int s = 0; s < PER_SENDER && !m->rc; s++) {
        uint16_t msg[2] = { (uint16_t)m->id, (uint16_t)s };
        m->rc = ipc_send(m->c->ch, msg, sizeof msg, 0, 10000);
    }
    return NULL;
}

static void *crowd_receiver(void *arg)
{
    struct member *m = arg;
    int last[SENDERS] = { -1, -1 };
    while (atomic_load(&m->c->received) < SENDERS * PER_SENDER) {
        uint16_t msg[4];
        size_t got;
        int rc = ipc_recv(m->c->ch, msg, sizeof msg, &got, NULL, 100);
        if (rc == IPC_EEMPTY) continue;
        if (rc != IPC_OK) { m->rc = rc; break; }
        if (got != 4 || msg[0] >= SENDERS || msg[1] >= PER_SENDER || msg[1] <= last[msg[0]]) {
            atomic_fetch_add(&m->c->bad, 1);
            continue;
        }
        last[msg[0]] = msg[1];
        atomic_fetch_add(&m->c->seen[msg[0]][msg[1]], 1);
        atomic_fetch_add(&m->c->received, 1);
    }
    return NULL;
}

/* Threads of the opening process all send to it and all read its signalfd:
 * every message once, each sender's in order. */
static void test_threads_of_one_process(void **state)
{
    (void)state;
    struct crowd *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->ch = open_signal(); /* before the threads: they inherit the blocked signal */
    struct member m[SENDERS + RECEIVERS];
    pthread_t t[SENDERS + RECEIVERS];
    for (int i = 0; i < SENDERS + RECEIVERS; i++) {
        m[i] = (struct member){ .c = c, .id = i < SENDERS ? i : i - SENDERS };
        t[i] = tl_thread(i < SENDERS ? crowd_sender : crowd_receiver, &m[i]);
    }
    for (int i = 0; i < SENDERS + RECEIVERS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < SENDERS + RECEIVERS; i++)
        if (m[i].rc) fail_msg("thread %d: %s (%s)", i, ipc_strerror(m[i].rc), ipc_last_error());
    assert_int_equal(atomic_load(&c->bad), 0);
    for (int s = 0; s < SENDERS; s++)
        for (int k = 0; k < PER_SENDER; k++) assert_int_equal(atomic_load(&c->seen[s][k]), 1);
    ipc_free(c->ch);
    free(c);
}

/* A thread that existed before the channel must block its signal itself. */
static void *block_then_report(void *arg)
{
    /* start like a thread that never blocked any RT signal (this one may
     * have inherited blocked ones from channels of earlier tests) */
    sigset_t rt;
    sigemptyset(&rt);
    for (int s = SIGRTMIN; s <= SIGRTMAX; s++) sigaddset(&rt, s);
    pthread_sigmask(SIG_UNBLOCK, &rt, NULL);
    _Atomic(ipc_channel *) *slot = arg;
    ipc_channel *ch;
    while (!(ch = atomic_load(slot))) tl_sleep_ms(1);
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    bool before = sigismember(&mask, ipc_signal_number(ch));
    if (ipc_signal_block(ch) != IPC_OK) return (void *)1;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    return (void *)(intptr_t)(!before && sigismember(&mask, ipc_signal_number(ch)) ? 0 : 2);
}

static void test_block_in_an_older_thread(void **state)
{
    (void)state;
    _Atomic(ipc_channel *) shared = NULL;
    pthread_t t = tl_thread(block_then_report, &shared);
    ipc_channel *ch = open_signal();
    atomic_store(&shared, ch);
    void *verdict;
    pthread_join(t, &verdict);
    assert_int_equal((intptr_t)verdict, 0);
    ipc_free(ch);
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        TL_CASE(test_payload_lengths_round_trip),
        TL_CASE(test_fifo_across_lengths),
        TL_CASE(test_standard_signals_coalesce_rt_signals_queue),
        TL_CASE(test_usr1_handler_helper),
        TL_CASE(test_full_pending_queue_is_efull),
        TL_CASE(test_peer_rules_across_fork),
        TL_CASE(test_pool_sends_reach_a_live_child),
        TL_CASE(test_close_in_child_wakes_parent),
        TL_CASE(test_foreign_signal_is_ignored),
        TL_CASE(test_channels_are_separate),
        TL_CASE(test_threads_of_one_process),
        TL_CASE(test_block_in_an_older_thread),
    };
    return cmocka_run_group_tests_name("signals", tests, NULL, NULL);
}
