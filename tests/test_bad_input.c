/*
 * test_bad_input.c — every public call of every module's own header, given
 * NULL or a channel of the wrong mechanism, answers an error: a negative
 * IPC_E* code, NULL, 0 or false — never a crash.  Release calls (the *_free
 * calls, ipc_redis_server_stop) take NULL as a no-op, like free().  The
 * seven ipc.h calls are covered for every mechanism by the conformance suite.
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "ipc_internal.h" /* ipc__mechanism_check */

#ifdef IPC_WITH_AMQP
#include "brokers/ipc_amqp.h"
#endif
#ifdef IPC_WITH_REDIS
#include "brokers/ipc_redis.h"
#endif
#ifdef IPC_WITH_ZMQ
#include "brokers/ipc_zmq.h"
#endif
#include "events/event.h"
#include "events/eventfd.h"
#include "events/poll.h"
#include "events/semaphore.h"
#include "pipes/fifo.h"
#include "pipes/socketpair.h"
#include "pipes/stream_info.h"
#include "pipes/tcp.h"
#include "pipes/unix.h"
#include "queues/thread_queue.h"
#include "shm/shared_value.h"
#include "shm/shm.h"
#include "signals/signals.h"

#include <signal.h>

#define assert_error(call) do { \
        long rc_ = (long)(call); \
        if (rc_ >= 0) fail_msg("%s = %ld, want a negative IPC_E* code", #call, rc_); \
    } while (0)

/* A channel of a mechanism that none of the extras below belongs to. */
static ipc_channel *foreign(void) { return tl_open("pipe", NULL); }

static void test_queue_extras(void **state)
{
    (void)state;
    ipc_channel *ch = foreign();
    assert_error(ipc_queue_task_done(NULL));
    assert_error(ipc_queue_join(NULL, 0));
    assert_error(ipc_queue_qsize(NULL));
    assert_false(ipc_queue_full(NULL));
    assert_error(ipc_queue_shutdown(NULL, true));
    assert_error(ipc_queue_task_done(ch));
    assert_error(ipc_queue_join(ch, 0));
    assert_error(ipc_queue_qsize(ch));
    assert_false(ipc_queue_full(ch));
    ipc_free(ch);
}

static void test_pipe_family_extras(void **state)
{
    (void)state;
    ipc_channel *ch = tl_open("queue", NULL), *a = NULL, *b = NULL;
    assert_null(ipc_fifo_path(NULL));
    assert_null(ipc_fifo_path(ch));
    assert_null(ipc_unix_path(NULL));
    assert_null(ipc_unix_path(ch));
    assert_error(ipc_tcp_port(NULL));
    assert_error(ipc_tcp_port(ch));
    assert_error(ipc_stream_kernel_bytes(NULL));
    assert_error(ipc_stream_kernel_bytes(ch)); /* a thread queue is no byte stream */
    assert_error(ipc_duplex_open(NULL, NULL, &b));
    assert_error(ipc_duplex_open(&(ipc_config){ .max_msg = (size_t)1 << 40 }, &a, &b));
    assert_null(a);
    assert_null(b);
    ipc_free(ch);
}

static void test_signal_extras(void **state)
{
    (void)state;
    ipc_channel *ch = foreign();
    assert_error(ipc_signal_number(NULL));
    assert_error(ipc_signal_number(ch));
    assert_error(ipc_signal_block(NULL));
    assert_error(ipc_signal_block(ch));
    assert_error(ipc_signal_set_target(NULL, 1));
    assert_error(ipc_signal_set_target(ch, 1));
    assert_true(ipc_signal_target(NULL) <= 0);
    assert_true(ipc_signal_target(ch) <= 0);
    assert_error(ipc_signal_count_deliveries(0, 3));       /* no such signal */
    assert_error(ipc_signal_count_deliveries(SIGUSR1, -1)); /* absurd count */
    ipc_free(ch);
}

static void test_shm_extras(void **state)
{
    (void)state;
    ipc_channel *ch = foreign();
    assert_null(ipc_shm_name(NULL));
    assert_null(ipc_shm_name(ch));
    ipc_free(ch);

    ipc_value *v = (ipc_value *)0x1;
    assert_error(ipc_value_open(NULL, 'l', true));
    assert_error(ipc_value_open(&v, 'q', true));
    assert_null(v);
    assert_error(ipc_array_open(&v, 'l', 0, false));
    assert_error(ipc_array_open(&v, 'l', (size_t)1 << 60, false));
    long x;
    double d;
    assert_error(ipc_array_get(NULL, 0, &x));
    assert_error(ipc_array_set(NULL, 0, 1));
    assert_error(ipc_array_get_d(NULL, 0, &d));
    assert_error(ipc_array_set_d(NULL, 0, 1.0));
    assert_error(ipc_array_add(NULL, 0, 1, NULL));
    assert_error(ipc_array_add_d(NULL, 0, 1.0, NULL));
    assert_error(ipc_array_add_racy(NULL, 0, 1));
    assert_error(ipc_array_add_atomic(NULL, 0, 1, NULL));
    assert_error(ipc_value_lock(NULL));
    assert_error(ipc_value_unlock(NULL));
    assert_int_equal(ipc_array_len(NULL), 0);
    assert_int_equal(ipc_value_typecode(NULL), 0);
    assert_false(ipc_value_has_lock(NULL));
    assert_ipc(ipc_value_open(&v, 'l', true), IPC_OK);
    assert_error(ipc_array_get(v, 0, NULL));
    assert_error(ipc_array_get(v, 1, &x)); /* a Value is an array of one */
    ipc_value_free(v);
    ipc_value_free(NULL);
}

static void test_event_and_poll_extras(void **state)
{
    (void)state;
    assert_error(ipc_event_open(NULL));
    ipc_event_obj *ev = (ipc_event_obj *)0x1;
    assert_error(ipc_event_open_named("", 0, &ev));
    assert_null(ev);
    assert_error(ipc_event_set(NULL));
    assert_error(ipc_event_clear(NULL));
    assert_error(ipc_event_is_set(NULL));
    assert_error(ipc_event_wait(NULL, 0));
    assert_error(ipc_event_pollfd(NULL));
    assert_null(ipc_event_name(NULL));
    ipc_event_free(NULL);

    ipc_sem *sem = (ipc_sem *)0x1;
    assert_error(ipc_sem_open(NULL, 1));
    assert_error(ipc_sem_open_named("", 1, 0, &sem));
    assert_null(sem);
    assert_error(ipc_sem_acquire(NULL, 0));
    assert_error(ipc_sem_release(NULL));
    assert_error(ipc_sem_value(NULL));
    assert_null(ipc_sem_name(NULL));
    ipc_sem_free(NULL);

    assert_error(ipc_poller_open(NULL));
    assert_error(ipc_poller_add(NULL, NULL, NULL));
    assert_error(ipc_poller_add_fd(NULL, 0, NULL));
    assert_error(ipc_poller_remove(NULL, NULL));
    assert_error(ipc_poller_remove_fd(NULL, 0));
    ipc_ready r;
    assert_error(ipc_poller_wait(NULL, &r, 1, 0));
    assert_int_equal(ipc_poller_count(NULL), 0);
    ipc_poller_free(NULL);
    ipc_poller *p;
    assert_ipc(ipc_poller_open(&p), IPC_OK);
    assert_error(ipc_poller_add(p, NULL, NULL));
    assert_error(ipc_poller_add_fd(p, -1, NULL));
    assert_error(ipc_poller_wait(p, NULL, 1, 0));
    ipc_channel *q = tl_open("queue", NULL); /* no pollfd */
    assert_ipc(ipc_poller_add(p, q, NULL), IPC_ENOTSUP);
    ipc_poller_free(p);
    bool ready;
    assert_error(ipc_poll(NULL, 1, &ready, 0));
    assert_error(ipc_poll(&q, 1, NULL, 0));
    ipc_free(q);

    uint64_t reads[4];
    size_t nreads;
    assert_error(ipc_eventfd_show_counter(NULL, 2, false, reads, 4, &nreads));
    assert_error(ipc_eventfd_show_counter((const uint64_t[]){ 1, 2 }, 2, false, NULL, 4, &nreads));
}

static void test_broker_extras(void **state)
{
    (void)state;
    ipc_channel *ch = foreign();
    size_t len;
    char buf[8];
    (void)len, (void)buf;
    /* each broker's extras only in a build with it (make BROKERS=...) */
#ifdef IPC_WITH_REDIS
    assert_error(ipc_redis_send_batch(NULL, (const void *[]){ "x" }, (size_t[]){ 1 }, 1));
    assert_error(ipc_redis_send_batch(ch, (const void *[]){ "x" }, (size_t[]){ 1 }, 1));
    assert_error(ipc_redis_recv_batch(NULL, (char[8]){ 0 }, 8, (size_t[1]){ 0 }, 1, 0));
    assert_error(ipc_redis_recv_batch(ch, (char[8]){ 0 }, 8, (size_t[1]){ 0 }, 1, 0));
    assert_error(ipc_redis_send_at(NULL, "x", 1, 0));
    assert_error(ipc_redis_send_at(ch, "x", 1, 0));
    assert_error(ipc_redis_publish(NULL, "t", "x", 1));
    assert_error(ipc_redis_publish(ch, "t", "x", 1));
    ipc_redis_sub *rs = (ipc_redis_sub *)0x1;
    assert_error(ipc_redis_subscribe(ch, "t", &rs));
    assert_null(rs);
    assert_error(ipc_redis_subscribe(NULL, "t", NULL));
    assert_error(ipc_redis_sub_recv(NULL, buf, sizeof buf, &len, 0));
    ipc_redis_sub_free(NULL);
    assert_error(ipc_redis_server_start(NULL, NULL));
    assert_null(ipc_redis_server_endpoint(NULL));
    assert_null(ipc_redis_server_dir(NULL));
    assert_true(ipc_redis_server_pid(NULL) <= 0);
    assert_int_equal(ipc_redis_server_stop(NULL), IPC_OK); /* documented: NULL is a no-op, like free */
#endif
#ifdef IPC_WITH_ZMQ
    assert_null(ipc_zmq_endpoint(NULL));
    assert_null(ipc_zmq_endpoint(ch));
    assert_error(ipc_zmq_pub_open(NULL, NULL));
    ipc_zmq_pub *pub = (ipc_zmq_pub *)0x1;
    assert_error(ipc_zmq_pub_open("bogus://nowhere", &pub));
    assert_null(pub);
    assert_null(ipc_zmq_pub_endpoint(NULL));
    assert_error(ipc_zmq_publish(NULL, "t", "x", 1));
    ipc_zmq_pub_free(NULL);
    ipc_zmq_sub *sub = (ipc_zmq_sub *)0x1;
    assert_error(ipc_zmq_sub_open(NULL, "t", &sub));
    assert_null(sub);
    assert_error(ipc_zmq_sub_recv(NULL, buf, sizeof buf, &len, 0));
    ipc_zmq_sub_free(NULL);
#endif
#ifdef IPC_WITH_AMQP
    assert_error(ipc_amqp_send_after(NULL, "x", 1, 0, 0));
    assert_error(ipc_amqp_send_after(ch, "x", 1, 0, 0));
    const void *msgs[1] = { "x" };
    size_t lens[1] = { 1 };
    assert_error(ipc_amqp_send_batch(NULL, msgs, lens, 1));
    assert_error(ipc_amqp_send_batch(ch, msgs, lens, 1));
    assert_error(ipc_amqp_recv_batch(NULL, buf, sizeof buf, &len, 1, 0));
    assert_error(ipc_amqp_recv_batch(ch, buf, sizeof buf, &len, 1, 0));
    ipc_amqp_delivery *dl = (ipc_amqp_delivery *)0x1;
    assert_error(ipc_amqp_recv_unacked(ch, buf, sizeof buf, &len, NULL, 0, &dl));
    assert_null(dl);
    assert_error(ipc_amqp_recv_unacked(NULL, buf, sizeof buf, &len, NULL, 0, NULL));
    assert_error(ipc_amqp_ack(NULL));
    assert_error(ipc_amqp_requeue(NULL));
    assert_error(ipc_amqp_publish(NULL, "t", "x", 1));
    assert_error(ipc_amqp_publish(ch, "t", "x", 1));
    ipc_amqp_sub *as = (ipc_amqp_sub *)0x1;
    assert_error(ipc_amqp_subscribe(ch, "t", &as));
    assert_null(as);
    assert_error(ipc_amqp_subscribe(NULL, "t", NULL));
    assert_error(ipc_amqp_sub_recv(NULL, buf, sizeof buf, &len, 0));
    ipc_amqp_sub_free(NULL);
    assert_error(ipc_amqp_server_start(NULL, NULL));
    assert_null(ipc_amqp_server_endpoint(NULL));
    assert_null(ipc_amqp_server_dir(NULL));
    assert_null(ipc_amqp_server_user(NULL));
    assert_null(ipc_amqp_server_password(NULL));
    assert_true(ipc_amqp_server_port(NULL) < 0);
    assert_true(ipc_amqp_server_pid(NULL) <= 0);
    assert_true(ipc_amqp_server_epmd_pid(NULL) <= 0);
    assert_int_equal(ipc_amqp_server_stop(NULL), IPC_OK); /* documented: NULL is a no-op, like free */
#endif
    ipc_free(ch);
}

/* The registry's self-check (core/backend.h): every mechanism's ops agree
 * with its caps — pollfd iff IPC_CAP_POLL, attach_config iff
 * IPC_CAP_UNRELATED, the mandatory ops present — and the check itself
 * catches a descriptor that lies. */
static void test_registry_ops_agree_with_caps(void **state)
{
    (void)state;
    size_t n;
    const ipc_mechanism *const *all = ipc_mechanisms(&n);
    for (size_t i = 0; i < n; i++)
        if (ipc__mechanism_check(all[i]) != IPC_OK) fail_msg("%s", ipc_last_error());

    const ipc_mechanism *pipe = ipc_find("pipe");
    assert_non_null(pipe);
    ipc_mechanism liar = *pipe;
    liar.caps &= ~(unsigned)IPC_CAP_POLL; /* but ops.pollfd is set */
    assert_ipc(ipc__mechanism_check(&liar), IPC_EINVAL);
    liar = *pipe;
    liar.caps |= IPC_CAP_UNRELATED;       /* but no ops.attach_config */
    assert_ipc(ipc__mechanism_check(&liar), IPC_EINVAL);
    struct ipc_ops no_recv = *pipe->ops;
    no_recv.recv = NULL;
    liar = *pipe;
    liar.ops = &no_recv;
    assert_ipc(ipc__mechanism_check(&liar), IPC_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TL_CASE(test_queue_extras),
        TL_CASE(test_pipe_family_extras),
        TL_CASE(test_signal_extras),
        TL_CASE(test_shm_extras),
        TL_CASE(test_event_and_poll_extras),
        TL_CASE(test_broker_extras),
        TL_CASE(test_registry_ops_agree_with_caps),
    };
    return cmocka_run_group_tests_name("bad input to the module extras", tests, NULL, NULL);
}
