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
#ifdef IPC_WITH_WEBSOCKET
#include "brokers/ipc_websocket.h"
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
#include "tasks/task.h"

#include <limits.h>
#include <signal.h>
#include <string.h>

/* The one convention of every extra (ipc.h, "The extras ... follow the
 * conventions of this file"), checked the same way on every call below:
 *   CODE   a failing int/long call returns a code in [IPC_E_LAST, -1] that
 *          ipc_strerror knows, and leaves a message in ipc_last_error();
 *   NUL    a pointer call returns NULL and leaves a message;
 *   ZERO   a bool/size_t query of a bad handle answers false/0 and leaves a
 *          message.
 * The message is cleared before each call, so it must be this call's. */
enum conv { CODE, NUL, ZERO };
static void check_convention(enum conv kind, const char *call, long rc)
{
    const char *msg = ipc_last_error();
    switch (kind) {
    case CODE:
        if (rc >= 0 || rc < IPC_E_LAST)
            fail_msg("%s = %ld, want a negative IPC_E* code (%d..-1)", call, rc, IPC_E_LAST);
        if (strcmp(ipc_strerror((int)rc), ipc_strerror(1000)) == 0)
            fail_msg("%s = %ld: ipc_strerror does not know it", call, rc);
        break;
    case NUL:
        if (rc != 0) fail_msg("%s returned a pointer, want NULL", call);
        break;
    case ZERO:
        if (rc != 0) fail_msg("%s = %ld, want false/0", call, rc);
        break;
    }
    if (!msg[0]) fail_msg("%s failed without a message in ipc_last_error()", call);
}
#define CLEAR_ERROR() ipc__fail(IPC_OK, "%s", "")
#define assert_error(call) do { CLEAR_ERROR(); long rc_ = (long)(call); check_convention(CODE, #call, rc_); } while (0)
#define assert_null_err(call) do { CLEAR_ERROR(); long rc_ = (call) != NULL; check_convention(NUL, #call, rc_); } while (0)
#define assert_zero_err(call) do { CLEAR_ERROR(); long rc_ = (long)(call); check_convention(ZERO, #call, rc_); } while (0)
/* A timeout below -1 is IPC_EINVAL everywhere, never "block forever". */
#define assert_bad_timeout(call) do { CLEAR_ERROR(); assert_ipc((call), IPC_EINVAL); \
        if (!strstr(ipc_last_error(), "timeout")) fail_msg("%s: message '%s' does not name the timeout", #call, ipc_last_error()); \
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
    assert_zero_err(ipc_queue_full(NULL));
    assert_zero_err(ipc_queue_empty(NULL));
    assert_error(ipc_queue_shutdown(NULL, true));
    assert_error(ipc_queue_task_done(ch));
    assert_error(ipc_queue_join(ch, 0));
    assert_error(ipc_queue_qsize(ch));
    assert_zero_err(ipc_queue_full(ch));
    assert_zero_err(ipc_queue_empty(ch));
    ipc_free(ch);
}

static void test_pipe_family_extras(void **state)
{
    (void)state;
    ipc_channel *ch = tl_open("queue", NULL), *a = NULL, *b = NULL;
    assert_null_err(ipc_fifo_path(NULL));
    assert_null_err(ipc_fifo_path(ch));
    assert_null_err(ipc_unix_path(NULL));
    assert_null_err(ipc_unix_path(ch));
    assert_error(ipc_tcp_port(NULL));
    assert_error(ipc_tcp_port(ch));
    assert_error(ipc_stream_kernel_bytes(NULL));
    assert_error(ipc_stream_kernel_bytes(ch)); /* a thread queue is no byte stream */
    const void *msgs[2] = { "ab", NULL };
    size_t lens[2] = { 2, 0 }, sent = 7;
    assert_error(ipc_stream_send_batch(NULL, msgs, lens, 1, 0, &sent));
    assert_int_equal(sent, 0);
    assert_error(ipc_stream_send_batch(ch, msgs, lens, 1, 0, &sent));
    ipc_channel *p = tl_open("pipe", &(ipc_config){ .max_msg = 64 });
    assert_error(ipc_stream_send_batch(p, msgs, lens, 1, 0, NULL));
    assert_error(ipc_stream_send_batch(p, NULL, lens, 1, 0, &sent));
    assert_error(ipc_stream_send_batch(p, msgs, NULL, 1, 0, &sent));
    lens[1] = 5; /* msgs[1] NULL with a length */
    assert_error(ipc_stream_send_batch(p, msgs, lens, 2, 0, &sent));
    lens[1] = 65; /* over max_msg: nothing sent, not even msgs[0] */
    msgs[1] = "0123456789012345678901234567890123456789012345678901234567890123456789";
    assert_ipc(ipc_stream_send_batch(p, msgs, lens, 2, 0, &sent), IPC_EMSGSIZE);
    assert_int_equal(sent, 0);
    assert_int_equal(ipc_stream_kernel_bytes(p), 0);
    ipc_free(p);
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
    assert_error(ipc_signal_target(NULL));
    assert_error(ipc_signal_target(ch));
    assert_error(ipc_signal_count_deliveries(0, 3));       /* no such signal */
    assert_error(ipc_signal_count_deliveries(SIGUSR1, -1)); /* absurd count */
    ipc_free(ch);
}

static void test_shm_extras(void **state)
{
    (void)state;
    ipc_channel *ch = foreign();
    assert_null_err(ipc_shm_name(NULL));
    assert_null_err(ipc_shm_name(ch));
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
    assert_zero_err(ipc_array_len(NULL));
    assert_zero_err(ipc_value_typecode(NULL));
    assert_zero_err(ipc_value_has_lock(NULL));
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
    assert_null_err(ipc_event_name(NULL));
    ipc_event_free(NULL);

    ipc_sem *sem = (ipc_sem *)0x1;
    assert_error(ipc_sem_open(NULL, 1));
    assert_error(ipc_sem_open_named("", 1, 0, &sem));
    assert_null(sem);
    assert_error(ipc_sem_acquire(NULL, 0));
    assert_error(ipc_sem_release(NULL));
    assert_error(ipc_sem_value(NULL));
    assert_null_err(ipc_sem_name(NULL));
    ipc_sem_free(NULL);

    assert_error(ipc_poller_open(NULL));
    assert_error(ipc_poller_add(NULL, NULL, NULL));
    assert_error(ipc_poller_add_fd(NULL, 0, NULL));
    assert_error(ipc_poller_remove(NULL, NULL));
    assert_error(ipc_poller_remove_fd(NULL, 0));
    ipc_ready r;
    assert_error(ipc_poller_wait(NULL, &r, 1, 0));
    assert_zero_err(ipc_poller_count(NULL));
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
    assert_null_err(ipc_redis_server_endpoint(NULL));
    assert_null_err(ipc_redis_server_dir(NULL));
    assert_error(ipc_redis_server_pid(NULL));
    assert_int_equal(ipc_redis_server_stop(NULL), IPC_OK); /* documented: NULL is a no-op, like free */
#endif
#ifdef IPC_WITH_ZMQ
    assert_null_err(ipc_zmq_endpoint(NULL));
    assert_null_err(ipc_zmq_endpoint(ch));
    assert_error(ipc_zmq_pub_open(NULL, NULL));
    ipc_zmq_pub *pub = (ipc_zmq_pub *)0x1;
    assert_error(ipc_zmq_pub_open("bogus://nowhere", &pub));
    assert_null(pub);
    assert_null_err(ipc_zmq_pub_endpoint(NULL));
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
    assert_null_err(ipc_amqp_server_endpoint(NULL));
    assert_null_err(ipc_amqp_server_dir(NULL));
    assert_null_err(ipc_amqp_server_user(NULL));
    assert_null_err(ipc_amqp_server_password(NULL));
    assert_error(ipc_amqp_server_port(NULL));
    assert_error(ipc_amqp_server_pid(NULL));
    assert_error(ipc_amqp_server_epmd_pid(NULL));
    assert_int_equal(ipc_amqp_server_stop(NULL), IPC_OK); /* documented: NULL is a no-op, like free */
    assert_error(ipc_amqp_embedded_linger_ms(-5));
#endif
#ifdef IPC_WITH_WEBSOCKET
    assert_null_err(ipc_websocket_endpoint(NULL));
    assert_null_err(ipc_websocket_endpoint(ch));
    assert_null_err(ipc_websocket_page_url(NULL));
    assert_null_err(ipc_websocket_page_url(ch));
    assert_error(ipc_websocket_publish(NULL, "t", "x", 1));
    assert_error(ipc_websocket_publish(ch, "t", "x", 1));
    ipc_websocket_sub *ws = (ipc_websocket_sub *)0x1;
    assert_error(ipc_websocket_subscribe(ch, "t", &ws));
    assert_null(ws);
    assert_error(ipc_websocket_sub_recv(NULL, buf, sizeof buf, &len, 0));
    ipc_websocket_sub_free(NULL);
    ipc_websocket_stats st;
    assert_error(ipc_websocket_stats_get(NULL, &st));
    assert_error(ipc_websocket_stats_get(ch, &st));
#endif
    ipc_free(ch);
}

static void test_task_extras(void **state)
{
    (void)state;
    ipc_task_queue *tq = (ipc_task_queue *)0x1;
    assert_error(ipc_task_open(NULL, NULL, &tq));
    assert_error(ipc_task_open("queue", NULL, NULL));
    assert_error(ipc_task_register(NULL, "f", NULL, NULL));
    uint64_t id;
    assert_error(ipc_task_enqueue(NULL, "f", "x", 1, NULL, &id));
    assert_error(ipc_task_work(NULL, 1));
    assert_error(ipc_task_stop(NULL));
    assert_error(ipc_task_result(NULL, 1, NULL, 0, NULL, 0));
    assert_error(ipc_task_dead(NULL, &id, 1));
    ipc_task_free(NULL);
}

/* Every extra that takes a timeout checks it like ipc_send/ipc_recv do
 * (core: ipc__timeout_check): -2 is a mistake, IPC_EINVAL, never "forever"
 * (each object below is ready, so a call that let -2 through would answer
 * at once with success instead). */
static void test_extras_reject_bad_timeouts(void **state)
{
    (void)state;
    ipc_channel *q = tl_open("queue", NULL);
    assert_bad_timeout(ipc_queue_join(q, -2)); /* nothing unfinished: would succeed */
    assert_bad_timeout(ipc_queue_join(q, INT_MIN));

    ipc_event_obj *ev;
    assert_ipc(ipc_event_open(&ev), IPC_OK);
    assert_ipc(ipc_event_set(ev), IPC_OK);
    assert_bad_timeout(ipc_event_wait(ev, -2));
    ipc_event_free(ev);

    ipc_sem *sem;
    assert_ipc(ipc_sem_open(&sem, 1), IPC_OK);
    assert_bad_timeout(ipc_sem_acquire(sem, -2));
    ipc_sem_free(sem);

    ipc_channel *p = tl_open("pipe", NULL);
    const void *one[1] = { "y" };
    size_t one_len[1] = { 1 }, sent;
    assert_bad_timeout(ipc_stream_send_batch(p, one, one_len, 1, -2, &sent)); /* room: would succeed */
    assert_int_equal(ipc_stream_kernel_bytes(p), 0);
    assert_ipc(ipc_send(p, "x", 1, 0, 0), IPC_OK); /* readable */
    bool ready;
    assert_bad_timeout(ipc_poll(&p, 1, &ready, -2));
    ipc_poller *poller;
    assert_ipc(ipc_poller_open(&poller), IPC_OK);
    assert_ipc(ipc_poller_add(poller, p, NULL), IPC_OK);
    ipc_ready r;
    assert_bad_timeout(ipc_poller_wait(poller, &r, 1, -2));
    ipc_poller_free(poller);
    ipc_free(p);

    long seen = ipc_signal_usr1_count();
    assert_bad_timeout(ipc_signal_usr1_wait(seen - 1, -2)); /* already exceeded: would succeed */
#ifdef IPC_WITH_ZMQ
    ipc_zmq_sub *sub;
    assert_ipc(ipc_zmq_sub_open("tcp://127.0.0.1:1", "", &sub), IPC_OK); /* connects lazily */
    size_t len;
    char buf[8];
    assert_bad_timeout(ipc_zmq_sub_recv(sub, buf, sizeof buf, &len, -2));
    ipc_zmq_sub_free(sub);
#endif
    ipc_free(q);
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

    /* Descriptors sharing one ops table are told apart by their variant
     * (never by comparing descriptor pointers, issue 11). */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (all[i]->ops == all[j]->ops && all[i]->variant == all[j]->variant)
                fail_msg("%s and %s share ops and variant %d", all[i]->name, all[j]->name, all[i]->variant);

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
    liar = *pipe;
    liar.family_id = IPC_FAMILY_SHM;      /* but family says "pipes" */
    assert_ipc(ipc__mechanism_check(&liar), IPC_EINVAL);
    liar = *pipe;
    liar.carrier = (enum ipc_carrier)0;   /* no carrier */
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
        TL_CASE(test_task_extras),
        TL_CASE(test_extras_reject_bad_timeouts),
        TL_CASE(test_registry_ops_agree_with_caps),
    };
    return cmocka_run_group_tests_name("bad input to the module extras", tests, NULL, NULL);
}
