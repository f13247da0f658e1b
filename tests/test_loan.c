/*
 * test_loan.c — the zero-copy loans of shm/loan.h on "spsc" and "shm_spsc":
 * reserve → write in place → commit, peek → read in place → release.
 *
 *   round trip        loans both ways, and mixed with ipc_send/ipc_recv (a
 *                     loan's message is an ordinary message); prio carried;
 *                     the observer hears a commit as a send, a release as a
 *                     receive;
 *   wrap-around       a 4-slot ring goes round many times under loans, with
 *                     the ring full (reserve answers IPC_EFULL) and empty
 *                     (peek answers IPC_EEMPTY) on the way;
 *   misuse            commit/abort without reserve, a second commit, release
 *                     without peek, a double release, a second reserve or peek
 *                     while one is out, ipc_send/ipc_recv while a loan holds
 *                     their side, oversize, NULLs, bad timeouts, the wrong
 *                     mechanism (IPC_ENOTSUP);
 *   close             a reservation out when the channel is closed cannot be
 *                     sent (IPC_ECLOSED, the loan ends); a peeked message
 *                     stays readable after close and is released; a waiting
 *                     peek is woken by close; deadlines;
 *   processes         shm_spsc between a parent and a forked child, both
 *                     using loans, every byte checked;
 *   stress            two threads, loans on both sides, varying sizes, under
 *                     every wait strategy (run under ASan and TSan too).
 *
 *   build/tests/test_loan
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "shm/loan.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static const char *const ring_mechs[] = { "spsc", "shm_spsc" };
#define NMECHS (sizeof ring_mechs / sizeof ring_mechs[0])

/* Reserve, fill with message `id` of len bytes, commit with prio. */
static void loan_send(ipc_channel *ch, uint32_t id, size_t len, int prio)
{
    ipc_loan l = { 0 };
    assert_ipc(ipc_loan_reserve(ch, len, &l, 5000), IPC_OK);
    assert_non_null(l.data);
    assert_int_equal(l.len, len);
    tl_fill(l.data, len, id);
    assert_ipc(ipc_loan_commit(ch, &l, len, prio), IPC_OK);
    assert_null(l.data); /* the loan has ended */
}

/* Peek, check it is message `id` of len bytes with prio, release. */
static void loan_recv(ipc_channel *ch, uint32_t id, size_t len, int prio)
{
    ipc_loan l = { 0 };
    assert_ipc(ipc_loan_peek(ch, &l, 5000), IPC_OK);
    assert_int_equal(l.len, len);
    assert_int_equal(l.prio, prio);
    assert_true(tl_check(l.data, l.len, id));
    assert_ipc(ipc_loan_release(ch, &l), IPC_OK);
    assert_null(l.data);
}

/* ---- round trip ------------------------------------------------------------ */

static void test_round_trip(void **state)
{
    (void)state;
    for (size_t m = 0; m < NMECHS; m++) {
        ipc_channel *ch = tl_open(ring_mechs[m], &(ipc_config){ .capacity = 8, .max_msg = 256 });
        loan_send(ch, 1, 100, 7);
        loan_recv(ch, 1, 100, 7);
        /* A loan's message is an ordinary one, both ways. */
        loan_send(ch, 2, 256, 3);
        assert_int_equal(tl_recv_id(ch, 2, 256, 1000), 3);
        tl_send_id(ch, 3, 17, 5);
        loan_recv(ch, 3, 17, 5);
        /* An empty message, and a commit shorter than the reservation. */
        loan_send(ch, 4, 0, 0);
        loan_recv(ch, 4, 0, 0);
        ipc_loan l = { 0 };
        assert_ipc(ipc_loan_reserve(ch, 200, &l, 0), IPC_OK);
        tl_fill(l.data, 10, 5);
        assert_ipc(ipc_loan_commit(ch, &l, 10, 1), IPC_OK);
        loan_recv(ch, 5, 10, 1);
        /* Abort: nothing was sent, and the next send takes the slot. */
        assert_ipc(ipc_loan_reserve(ch, 50, &l, 0), IPC_OK);
        memset(l.data, 0xee, 50);
        assert_ipc(ipc_loan_abort(ch, &l), IPC_OK);
        assert_null(l.data);
        assert_int_equal(ipc_depth(ch), 0);
        tl_send_id(ch, 6, 50, 0);
        loan_recv(ch, 6, 50, 0);
        ipc_free(ch);
    }
}

/* The observer hears a commit as a send and a release as a receive. */
typedef struct seen { int kinds[IPC_EV_CLOSE + 1]; size_t last_len; bool msg_ok; } seen;

static void count_event(void *arg, const ipc_channel *ch, const ipc_event *ev)
{
    (void)ch;
    seen *s = arg;
    s->kinds[ev->kind]++;
    if (ev->kind == IPC_EV_SEND_DONE || ev->kind == IPC_EV_RECV_DONE) s->last_len = ev->len;
    if (ev->kind == IPC_EV_RECV_DONE) s->msg_ok = ev->msg && tl_check(ev->msg, ev->len, 9);
}

static void test_observer_hears_loans(void **state)
{
    (void)state;
    for (size_t m = 0; m < NMECHS; m++) {
        ipc_channel *ch = tl_open(ring_mechs[m], &(ipc_config){ .capacity = 4, .max_msg = 64 });
        seen s = { 0 };
        assert_ipc(ipc_observe(ch, count_event, &s), IPC_OK);
        loan_send(ch, 9, 33, 0);
        assert_int_equal(s.kinds[IPC_EV_SEND_BEGIN], 1);
        assert_int_equal(s.kinds[IPC_EV_SEND_DONE], 1);
        assert_int_equal(s.last_len, 33);
        loan_recv(ch, 9, 33, 0);
        assert_int_equal(s.kinds[IPC_EV_RECV_BEGIN], 1);
        assert_int_equal(s.kinds[IPC_EV_RECV_DONE], 1);
        assert_true(s.msg_ok);
        ipc_free(ch);
    }
}

/* ---- wrap-around ----------------------------------------------------------- */

static void test_wrap_around(void **state)
{
    (void)state;
    enum { CAP = 4, ROUNDS = 40 };
    for (size_t m = 0; m < NMECHS; m++) {
        ipc_channel *ch = tl_open(ring_mechs[m], &(ipc_config){ .capacity = CAP, .max_msg = 128 });
        uint32_t sent = 0, got = 0;
        for (int round = 0; round < ROUNDS; round++) {
            int burst = 1 + round % CAP; /* 1..CAP messages, then drain them */
            for (int i = 0; i < burst; i++, sent++) loan_send(ch, sent, 1 + sent % 128, (int)sent % 5);
            if (burst == CAP) { /* full: no room to lend */
                ipc_loan l = { 0 };
                assert_ipc(ipc_loan_reserve(ch, 1, &l, 0), IPC_EFULL);
                assert_null(l.data);
                assert_ipc(ipc_loan_reserve(ch, 1, &l, 20), IPC_EFULL);
            }
            for (int i = 0; i < burst; i++, got++) loan_recv(ch, got, 1 + got % 128, (int)got % 5);
            ipc_loan l = { 0 };
            assert_ipc(ipc_loan_peek(ch, &l, 0), IPC_EEMPTY);
            assert_null(l.data);
        }
        assert_true(sent > 10 * CAP); /* the positions went round the ring many times */
        ipc_free(ch);
    }
}

/* ---- misuse --------------------------------------------------------------------- */

static void test_commit_without_reserve(void **state)
{
    (void)state;
    for (size_t m = 0; m < NMECHS; m++) {
        ipc_channel *ch = tl_open(ring_mechs[m], &(ipc_config){ .capacity = 4, .max_msg = 64 });
        ipc_loan l = { 0 }, l2 = { 0 };
        assert_ipc(ipc_loan_commit(ch, &l, 0, 0), IPC_EINVAL);
        assert_ipc(ipc_loan_abort(ch, &l), IPC_EINVAL);
        assert_int_equal(ipc_depth(ch), 0);

        /* A second commit of the same loan. */
        assert_ipc(ipc_loan_reserve(ch, 8, &l, 0), IPC_OK);
        tl_fill(l.data, 8, 1);
        ipc_loan copy = l;
        assert_ipc(ipc_loan_commit(ch, &l, 8, 0), IPC_OK);
        assert_ipc(ipc_loan_commit(ch, &l, 8, 0), IPC_EINVAL);
        assert_ipc(ipc_loan_commit(ch, &copy, 8, 0), IPC_EINVAL); /* a stale copy of it */
        assert_int_equal(ipc_depth(ch), 1);

        /* While a reservation is out: no second one, no ipc_send; the
         * ipc_loan itself is left alone. */
        assert_ipc(ipc_loan_reserve(ch, 8, &l, 0), IPC_OK);
        void *data = l.data;
        assert_ipc(ipc_loan_reserve(ch, 8, &l2, 0), IPC_EINVAL);
        assert_ipc(ipc_loan_reserve(ch, 8, &l, 0), IPC_EINVAL);
        assert_ptr_equal(l.data, data);
        assert_ipc(ipc_send(ch, "x", 1, 0, 0), IPC_EINVAL);
        /* Oversize: more than reserved keeps the loan out; more than max_msg. */
        assert_ipc(ipc_loan_commit(ch, &l, 9, 0), IPC_EMSGSIZE);
        assert_ptr_equal(l.data, data);
        tl_fill(l.data, 8, 2);
        assert_ipc(ipc_loan_commit(ch, &l, 8, 0), IPC_OK);
        assert_ipc(ipc_loan_reserve(ch, 65, &l, 0), IPC_EMSGSIZE);
        assert_null(l.data);
        assert_ipc(ipc_send(ch, "x", 1, 0, 0), IPC_OK); /* the send side is free again */

        /* Bad arguments. */
        assert_ipc(ipc_loan_reserve(NULL, 8, &l, 0), IPC_EINVAL);
        assert_ipc(ipc_loan_reserve(ch, 8, NULL, 0), IPC_EINVAL);
        assert_ipc(ipc_loan_reserve(ch, 8, &l, -2), IPC_EINVAL);
        assert_ipc(ipc_loan_peek(ch, &l, -5), IPC_EINVAL);
        assert_ipc(ipc_loan_peek(NULL, &l, 0), IPC_EINVAL);
        assert_ipc(ipc_loan_commit(ch, NULL, 0, 0), IPC_EINVAL);
        assert_ipc(ipc_loan_release(ch, NULL), IPC_EINVAL);
        assert_ipc(ipc_loan_abort(NULL, &l), IPC_EINVAL);

        /* A loan is tied to its handle. */
        ipc_channel *other = tl_open(ring_mechs[m], &(ipc_config){ .capacity = 4, .max_msg = 64 });
        assert_ipc(ipc_loan_reserve(ch, 8, &l, 0), IPC_OK);
        assert_ipc(ipc_loan_commit(other, &l, 8, 0), IPC_EINVAL);
        assert_ipc(ipc_loan_abort(ch, &l), IPC_OK);
        ipc_free(other);

        tl_recv_id(ch, 1, 8, 0);
        tl_recv_id(ch, 2, 8, 0);
        ipc_free(ch);
    }
}

static void test_double_release(void **state)
{
    (void)state;
    for (size_t m = 0; m < NMECHS; m++) {
        ipc_channel *ch = tl_open(ring_mechs[m], &(ipc_config){ .capacity = 4, .max_msg = 64 });
        ipc_loan l = { 0 }, l2 = { 0 };
        assert_ipc(ipc_loan_release(ch, &l), IPC_EINVAL); /* never peeked */
        tl_send_id(ch, 1, 20, 0);
        tl_send_id(ch, 2, 20, 0);
        assert_ipc(ipc_loan_peek(ch, &l, 0), IPC_OK);
        ipc_loan copy = l;
        /* While a peek is out: no second one, no ipc_recv. */
        assert_ipc(ipc_loan_peek(ch, &l2, 0), IPC_EINVAL);
        char buf[64];
        size_t len = 0;
        assert_ipc(ipc_recv(ch, buf, sizeof buf, &len, NULL, 0), IPC_EINVAL);
        assert_ipc(ipc_loan_release(ch, &l), IPC_OK);
        assert_ipc(ipc_loan_release(ch, &l), IPC_EINVAL);
        assert_ipc(ipc_loan_release(ch, &copy), IPC_EINVAL); /* a stale copy of it */
        /* Released once: message 2 is next, and it is still there. */
        assert_int_equal(ipc_depth(ch), 1);
        tl_recv_id(ch, 2, 20, 0);
        ipc_free(ch);
    }
}

static void test_wrong_mechanism(void **state)
{
    (void)state;
    static const char *const others[] = { "shm", "pipe", "queue" };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        ipc_channel *ch = tl_open(others[i], &(ipc_config){ .capacity = 4, .max_msg = 64 });
        ipc_loan l = { 0 };
        assert_ipc(ipc_loan_reserve(ch, 8, &l, 0), IPC_ENOTSUP);
        assert_null(l.data);
        assert_ipc(ipc_loan_peek(ch, &l, 0), IPC_ENOTSUP);
        assert_ipc(ipc_loan_commit(ch, &l, 0, 0), IPC_ENOTSUP);
        assert_ipc(ipc_loan_release(ch, &l), IPC_ENOTSUP);
        assert_ipc(ipc_loan_abort(ch, &l), IPC_ENOTSUP);
        assert_non_null(strstr(ipc_last_error(), others[i]));
        ipc_free(ch);
    }
}

/* ---- close and deadlines ---------------------------------------------------- */

static void *close_later(void *arg)
{
    tl_sleep_ms(50);
    assert_ipc(ipc_close(arg), IPC_OK);
    return NULL;
}

static void test_close_while_loan_out(void **state)
{
    (void)state;
    for (size_t m = 0; m < NMECHS; m++) {
        const char *mech = ring_mechs[m];
        /* A reservation out when the channel closes is not sent. */
        ipc_channel *ch = tl_open(mech, &(ipc_config){ .capacity = 4, .max_msg = 64 });
        tl_send_id(ch, 1, 10, 0);
        ipc_loan out = { 0 }, in = { 0 };
        assert_ipc(ipc_loan_reserve(ch, 10, &out, 0), IPC_OK);
        tl_fill(out.data, 10, 2);
        assert_ipc(ipc_loan_peek(ch, &in, 0), IPC_OK); /* message 1, peeked */
        assert_ipc(ipc_close(ch), IPC_OK);
        assert_ipc(ipc_loan_commit(ch, &out, 10, 0), IPC_ECLOSED);
        assert_null(out.data); /* ended: nothing was sent */
        assert_ipc(ipc_loan_reserve(ch, 10, &out, 0), IPC_ECLOSED);
        /* The peeked message is still readable after the close, and released. */
        assert_true(tl_check(in.data, in.len, 1));
        assert_ipc(ipc_loan_release(ch, &in), IPC_OK);
        assert_ipc(ipc_loan_peek(ch, &in, 0), IPC_ECLOSED); /* drained: message 2 never went */
        assert_ipc(ipc_loan_peek(ch, &in, -1), IPC_ECLOSED);
        ipc_free(ch);

        /* A reservation out while ANOTHER handle closes the channel (an
         * attached one: shm_spsc). */
        if (strcmp(mech, "shm_spsc") == 0) {
            ch = tl_open(mech, &(ipc_config){ .capacity = 4, .max_msg = 64, .flags = IPC_ATTACHABLE });
            ipc_config a;
            assert_ipc(ipc_attach_config(ch, &a), IPC_OK);
            ipc_channel *closer = tl_open(mech, &a);
            assert_ipc(ipc_loan_reserve(ch, 10, &out, 0), IPC_OK);
            assert_ipc(ipc_close(closer), IPC_OK);
            assert_ipc(ipc_loan_commit(ch, &out, 10, 0), IPC_ECLOSED);
            assert_null(out.data);
            assert_int_equal(ipc_depth(ch), 0);
            ipc_free(closer);
            ipc_free(ch);
        }

        /* A peek waiting on an empty ring is woken by close; deadlines. */
        ch = tl_open(mech, &(ipc_config){ .capacity = 2, .max_msg = 64 });
        int64_t t0 = ipc_now_ns();
        assert_ipc(ipc_loan_peek(ch, &in, 60), IPC_EEMPTY);
        assert_true(tl_ms_since(t0) >= 59);
        tl_send_id(ch, 1, 8, 0);
        tl_send_id(ch, 2, 8, 0);
        t0 = ipc_now_ns();
        assert_ipc(ipc_loan_reserve(ch, 8, &out, 60), IPC_EFULL);
        assert_true(tl_ms_since(t0) >= 59);
        tl_recv_id(ch, 1, 8, 0);
        tl_recv_id(ch, 2, 8, 0);
        pthread_t t = tl_thread(close_later, ch);
        t0 = ipc_now_ns();
        assert_ipc(ipc_loan_peek(ch, &in, 10000), IPC_ECLOSED);
        assert_true(tl_ms_since(t0) < 5000);
        pthread_join(t, NULL);
        ipc_free(ch);
    }
}

/* ---- processes ---------------------------------------------------------------- */

enum { PROC_MSGS = 20000 };

static size_t proc_len(uint32_t i) { return 1 + (i * 2654435761u) % 4096; }

static void test_cross_process_shm_spsc(void **state)
{
    (void)state;
    ipc_channel *ch = tl_open("shm_spsc", &(ipc_config){ .capacity = 16, .max_msg = 4096 });
    pid_t pid = tl_fork(60);
    if (pid == 0) { /* the child receives with loans and checks every byte */
        for (uint32_t i = 0; i < PROC_MSGS; i++) {
            ipc_loan l = { 0 };
            if (ipc_loan_peek(ch, &l, 20000) != IPC_OK) _exit(10);
            if (l.len != proc_len(i) || l.prio != (int)(i % 7) || !tl_check(l.data, l.len, i)) _exit(11);
            if (ipc_loan_release(ch, &l) != IPC_OK) _exit(12);
        }
        ipc_loan l = { 0 };
        _exit(ipc_loan_peek(ch, &l, 20000) == IPC_ECLOSED ? 0 : 13);
    }
    for (uint32_t i = 0; i < PROC_MSGS; i++) loan_send(ch, i, proc_len(i), (int)(i % 7));
    assert_ipc(ipc_close(ch), IPC_OK);
    assert_int_equal(tl_wait(pid, 60), 0);
    ipc_free(ch);
}

/* ---- stress ------------------------------------------------------------------------ */

typedef struct stress {
    ipc_channel *ch;
    long         total;
    atomic_long  bad; /* first wrong message + 1, or -1: the producer failed */
} stress;

static size_t stress_len(long i) { return (size_t)(i * 7919) % 300; }

static void *stress_consumer(void *arg)
{
    stress *s = arg;
    for (long i = 0; i < s->total; i++) {
        ipc_loan l = { 0 };
        int rc = ipc_loan_peek(s->ch, &l, -1);
        if (rc != IPC_OK || l.len != stress_len(i) || !tl_check(l.data, l.len, (uint32_t)i)
            || ipc_loan_release(s->ch, &l) != IPC_OK) {
            fprintf(stderr, "message %ld: rc %d, %zu bytes: %s\n", i, rc, l.len, ipc_last_error());
            atomic_store(&s->bad, i + 1);
            break;
        }
    }
    return NULL;
}

static void test_threaded_stress(void **state)
{
    (void)state;
    long total = TL_SANITIZED ? 30000 : 200000;
    for (int w = IPC_WAIT_BLOCK; w <= IPC_WAIT_ADAPTIVE; w++) {
        for (size_t m = 0; m < NMECHS; m++) {
            ipc_channel *ch = tl_open(ring_mechs[m], &(ipc_config){ .capacity = 8, .max_msg = 300, .wait = w });
            stress s = { .ch = ch, .total = total };
            atomic_init(&s.bad, 0);
            pthread_t t = tl_thread(stress_consumer, &s);
            for (long i = 0; i < total && !atomic_load(&s.bad); i++) {
                ipc_loan l = { 0 };
                size_t len = stress_len(i);
                if (ipc_loan_reserve(ch, len, &l, 10000) != IPC_OK) {
                    atomic_store(&s.bad, -1);
                    break;
                }
                tl_fill(l.data, len, (uint32_t)i);
                assert_ipc(ipc_loan_commit(ch, &l, len, 0), IPC_OK);
            }
            pthread_join(t, NULL);
            printf("  %s/%s: %ld messages through loans on both sides\n", ring_mechs[m], ipc_wait_name(w), total);
            long bad = atomic_load(&s.bad);
            if (bad) fail_msg("%s/%s: message %ld lost or wrong (%s)", ring_mechs[m], ipc_wait_name(w),
                              bad - 1, ipc_last_error());
            ipc_free(ch);
        }
    }
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        TL_CASE(test_round_trip),
        TL_CASE(test_observer_hears_loans),
        TL_CASE(test_wrap_around),
        TL_CASE(test_commit_without_reserve),
        TL_CASE(test_double_release),
        TL_CASE(test_wrong_mechanism),
        TL_CASE(test_close_while_loan_out),
        TL_CASE(test_cross_process_shm_spsc),
        TL_CASE(test_threaded_stress),
    };
    return cmocka_run_group_tests_name("loan", tests, NULL, NULL);
}
