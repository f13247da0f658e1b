/*
 * test_crosshost.c — the brokers' promise: the same channel works between
 * machines.  Two network namespaces stand in for two hosts:
 *
 *     namespace A (producer)  vA 10.77.0.1/24 ==veth== vB 10.77.0.2/24  namespace B (consumer)
 *
 * Each has its own interfaces, addresses, routes and loopback, so the only
 * way from A to B is the veth cable, over real TCP.  For each of "tcp" (if
 * the registry has it), "zmq", "redis", "websocket" and "amqp", the consumer in B creates
 * the channel bound to 10.77.0.2 (for redis and amqp it first starts a
 * broker bound there, inside B — RabbitMQ's epmd and distribution port stay
 * on B's loopback), the producer in A attaches by endpoint and sends
 * messages, and the consumer checks that every one arrived, intact and in
 * order.  Children enter a namespace with setns(2) on /run/netns/<name>.
 *
 * The task queue (tasks/task.h) the same way, over redis and amqp: B starts
 * the broker on its address, opens the task queue on it and runs a pool of
 * workers; A attaches by endpoint and name (IPC_ATTACH), enqueues jobs and
 * fetches their results with ipc_task_result — one of them crashes its
 * worker on the first run, and its result still comes back (late
 * acknowledgement across hosts: B's supervisor puts it back on the queue).
 *
 * Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) and iproute2; anywhere else
 * every case is skipped with the reason.  The namespaces are deleted at the
 * end whatever happens (and at exit), and every child is waited for or
 * killed.  A case whose mechanism this build left out (make BROKERS=...)
 * is skipped by name, with the reason; the others still run.
 */
#define _GNU_SOURCE
#include "testlib.h"

/* Each broker only in a build with it (make BROKERS=..., IPC_WITH_<NAME>):
 * a case whose mechanism is not in this build skips, naming it. */
#ifdef IPC_WITH_AMQP
#include "brokers/ipc_amqp.h"
#endif
#ifdef IPC_WITH_REDIS
#include "brokers/ipc_redis.h"
#endif
#ifdef IPC_WITH_WEBSOCKET
#include "brokers/ipc_websocket.h"
#endif
#ifdef IPC_WITH_ZMQ
#include "brokers/ipc_zmq.h"
#endif
#include "tasks/task.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ADDR_A "10.77.0.1"
#define ADDR_B "10.77.0.2"
enum { MSGS = 300, TCP_PORT = 7411, REDIS_PORT = 6391, TASK_REDIS_PORT = 6392, JOBS = 20 };

static char ns_a[32], ns_b[32];
static bool ns_ready;
static char why_not[256] = "not tried";

/* Run a shell command quietly; true if it exited 0. */
static bool run(const char *fmt, ...)
{
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char quiet[600];
    snprintf(quiet, sizeof quiet, "%s >/dev/null 2>&1", cmd);
    int st = system(quiet);
    return st == 0;
}

static void delete_namespaces(void)
{
    if (ns_a[0]) run("ip netns del %s", ns_a); /* takes the veth pair with it */
    if (ns_b[0]) run("ip netns del %s", ns_b);
    ns_ready = false;
}

static bool make_namespaces(void)
{
    if (geteuid() != 0) {
        snprintf(why_not, sizeof why_not, "not root (network namespaces need CAP_SYS_ADMIN)");
        return false;
    }
    snprintf(ns_a, sizeof ns_a, "ipcp%lda", (long)getpid());
    snprintf(ns_b, sizeof ns_b, "ipcp%ldb", (long)getpid());
    char va[16], vb[16]; /* interface names: at most 15 characters */
    snprintf(va, sizeof va, "va%ld", (long)getpid() % 10000000);
    snprintf(vb, sizeof vb, "vb%ld", (long)getpid() % 10000000);
    atexit(delete_namespaces);
    if (!run("ip netns add %s", ns_a) || !run("ip netns add %s", ns_b)) {
        snprintf(why_not, sizeof why_not, "'ip netns add' failed (no iproute2, or namespaces not allowed here)");
        ns_a[0] = ns_b[0] = '\0';
        return false;
    }
    bool ok = run("ip link add %s netns %s type veth peer name %s netns %s", va, ns_a, vb, ns_b)
           && run("ip -n %s addr add " ADDR_A "/24 dev %s", ns_a, va)
           && run("ip -n %s addr add " ADDR_B "/24 dev %s", ns_b, vb)
           && run("ip -n %s link set %s up", ns_a, va) && run("ip -n %s link set lo up", ns_a)
           && run("ip -n %s link set %s up", ns_b, vb) && run("ip -n %s link set lo up", ns_b);
    if (!ok) {
        snprintf(why_not, sizeof why_not, "could not set up the veth pair between the namespaces");
        delete_namespaces();
    }
    return ok;
}

/* In a child: move into the named network namespace. */
static bool enter(const char *ns)
{
    char path[128];
    snprintf(path, sizeof path, "/run/netns/%s", ns);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    int rc = setns(fd, CLONE_NEWNET);
    close(fd);
    return rc == 0;
}

static int group_setup(void **state)
{
    (void)state;
    ns_ready = make_namespaces();
    if (!ns_ready) printf("test_crosshost: every case skipped: %s\n", why_not);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    delete_namespaces();
    return 0;
}

/* ---- the two sides ------------------------------------------------------ */

typedef struct plan {
    const char *mech;
    /* consumer: create the channel in B (starting its broker, if it has
     * one, into *srv); write the endpoint producers use */
    int (*create)(ipc_channel **ch, char *endpoint, size_t size, void **srv);
    int (*stop)(void *srv); /* the broker's stop call, or NULL */
    /* producer: the ipc_config that attaches to endpoint */
    ipc_config (*attach)(const char *endpoint);
} plan;

static size_t msg_len(uint32_t i) { return 1 + (i * 37) % 1500; }

/* Exit codes say where it went wrong.  done_fd: the producer writes one
 * byte there once every send has returned; the consumer (the owner) keeps
 * the channel until then, so a send whose acknowledgement is still on its
 * way (websocket: the server's reply) is not cut off by the owner's free. */
static int consumer(const plan *p, int endpoint_fd, int done_fd)
{
    if (!enter(ns_b)) return 20;
    ipc_channel *ch = NULL;
    void *srv = NULL;
    char endpoint[256];
    if (p->create(&ch, endpoint, sizeof endpoint, &srv) != IPC_OK) {
        fprintf(stderr, "consumer: %s\n", ipc_last_error());
        if (p->stop) p->stop(srv);
        return 21;
    }
    size_t n = strlen(endpoint) + 1;
    int rc = write(endpoint_fd, endpoint, n) == (ssize_t)n ? 0 : 22;
    unsigned char buf[2048];
    for (uint32_t i = 0; rc == 0 && i < MSGS; i++) {
        size_t got;
        int r = ipc_recv(ch, buf, sizeof buf, &got, NULL, 20000);
        if (r != IPC_OK) {
            fprintf(stderr, "consumer: message %u: %s (%s)\n", i, ipc_strerror(r), ipc_last_error());
            rc = 23;
        } else if (got != msg_len(i) || !tl_check(buf, got, i)) {
            fprintf(stderr, "consumer: message %u: wrong size %zu or content (order?)\n", i, got);
            rc = 24;
        }
    }
    struct pollfd wait_done = { .fd = done_fd, .events = POLLIN };
    char byte;
    if (rc == 0 && (poll(&wait_done, 1, 30000) != 1 || read(done_fd, &byte, 1) != 1)) rc = 26;
    ipc_free(ch);
    if (p->stop && p->stop(srv) != IPC_OK) rc = rc ? rc : 25;
    return rc;
}

static int producer(const plan *p, int endpoint_fd, int done_fd)
{
    if (!enter(ns_a)) return 30;
    char endpoint[256];
    ssize_t n = read(endpoint_fd, endpoint, sizeof endpoint - 1);
    if (n <= 0) return 31;
    endpoint[n] = '\0';
    ipc_config cfg = p->attach(endpoint);
    ipc_channel *ch = NULL;
    if (ipc_open(p->mech, &cfg, &ch) != IPC_OK) {
        fprintf(stderr, "producer: attach %s: %s\n", endpoint, ipc_last_error());
        return 32;
    }
    unsigned char buf[2048];
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < MSGS; i++) {
        tl_fill(buf, msg_len(i), i);
        if (ipc_send(ch, buf, msg_len(i), 0, 20000) != IPC_OK) {
            fprintf(stderr, "producer: message %u: %s\n", i, ipc_last_error());
            rc = 33;
        }
    }
    if (rc == 0 && write(done_fd, "d", 1) != 1) rc = 34;
    ipc_free(ch); /* zmq: flushes what is still queued */
    return rc;
}

static void cross(const plan *p)
{
    if (!ipc_find(p->mech) || !p->create) {
        printf("    skipped: mechanism '%s' is not in this build (make BROKERS=... left it out)\n", p->mech);
        skip();
        return;
    }
    if (!ns_ready) {
        printf("    skipped: %s\n", why_not);
        skip();
        return;
    }
    int fds[2], done[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(pipe(done), 0);
    /* Each side closes the ends it does not use, so the producer sees EOF
     * if the consumer dies before it could publish its endpoint, and the
     * consumer sees EOF (not "done") if the producer dies. */
    pid_t cons = tl_fork(120);
    if (cons == 0) {
        close(fds[0]);
        close(done[1]);
        _exit(consumer(p, fds[1], done[0]));
    }
    pid_t prod = tl_fork(120);
    if (prod == 0) {
        close(fds[1]);
        close(done[0]);
        _exit(producer(p, fds[0], done[1]));
    }
    close(fds[0]);
    close(fds[1]);
    close(done[0]);
    close(done[1]);
    int pst = tl_wait(prod, 120), cst = tl_wait(cons, 120);
    if (pst || cst) fail_msg("%s across hosts: producer exited %d, consumer %d", p->mech, pst, cst);
}

/* ---- per mechanism ------------------------------------------------------ */

static int tcp_create(ipc_channel **ch, char *endpoint, size_t size, void **srv)
{
    (void)srv;
    snprintf(endpoint, size, ADDR_B ":%d", TCP_PORT);
    return ipc_open("tcp", &(ipc_config){ .endpoint = endpoint }, ch);
}

static ipc_config tcp_attach(const char *endpoint)
{
    return (ipc_config){ .endpoint = endpoint, .flags = IPC_ATTACH };
}

#ifdef IPC_WITH_ZMQ
static int zmq_create(ipc_channel **ch, char *endpoint, size_t size, void **srv)
{
    (void)srv;
    int rc = ipc_open("zmq", &(ipc_config){ .endpoint = "tcp://" ADDR_B ":*" }, ch);
    if (rc == IPC_OK) snprintf(endpoint, size, "%s", ipc_zmq_endpoint(*ch));
    return rc;
}

#define ZMQ_CREATE zmq_create
#else
#define ZMQ_CREATE NULL
#endif

#ifdef IPC_WITH_REDIS
static int redis_create(ipc_channel **ch, char *endpoint, size_t size, void **srv)
{
    /* The server starts inside B (it inherits our namespace), on B's address. */
    ipc_redis_server *s = NULL;
    int rc = ipc_redis_server_start(&(ipc_redis_server_opts){ .bind = ADDR_B, .port = REDIS_PORT }, &s);
    *srv = s;
    if (rc != IPC_OK) return rc;
    snprintf(endpoint, size, "%s", ipc_redis_server_endpoint(s));
    return ipc_open("redis", &(ipc_config){ .endpoint = endpoint, .name = "crosshost" }, ch);
}

static int redis_stop(void *srv) { return ipc_redis_server_stop(srv); }

#define REDIS_CREATE redis_create
#define REDIS_STOP redis_stop
#else
#define REDIS_CREATE NULL
#define REDIS_STOP NULL
#endif

#ifdef IPC_WITH_AMQP
static int amqp_create(ipc_channel **ch, char *endpoint, size_t size, void **srv)
{
    /* The broker starts inside B, its AMQP listener on B's address, with
     * generated credentials: the endpoint carries them to A. */
    ipc_amqp_server *s = NULL;
    int rc = ipc_amqp_server_start(&(ipc_amqp_server_opts){ .bind = ADDR_B }, &s);
    *srv = s;
    if (rc != IPC_OK) return rc;
    snprintf(endpoint, size, "%s", ipc_amqp_server_endpoint(s));
    return ipc_open("amqp", &(ipc_config){ .endpoint = endpoint, .name = "crosshost" }, ch);
}

static int amqp_stop(void *srv) { return ipc_amqp_server_stop(srv); }

#define AMQP_CREATE amqp_create
#define AMQP_STOP amqp_stop
#else
#define AMQP_CREATE NULL
#define AMQP_STOP NULL
#endif

#ifdef IPC_WITH_WEBSOCKET
static int websocket_create(ipc_channel **ch, char *endpoint, size_t size, void **srv)
{
    (void)srv; /* the server is the channel's owner itself */
    int rc = ipc_open("websocket", &(ipc_config){ .endpoint = "ws://" ADDR_B ":0/crosshost" }, ch);
    if (rc == IPC_OK) snprintf(endpoint, size, "%s", ipc_websocket_endpoint(*ch));
    return rc;
}

#define WEBSOCKET_CREATE websocket_create
#else
#define WEBSOCKET_CREATE NULL
#endif

static ipc_config named_attach(const char *endpoint)
{
    return (ipc_config){ .endpoint = endpoint, .name = "crosshost", .flags = IPC_ATTACH };
}

static void test_tcp_between_namespaces(void **state)
{
    (void)state;
    cross(&(plan){ "tcp", tcp_create, NULL, tcp_attach });
}

static void test_zmq_between_namespaces(void **state)
{
    (void)state;
    cross(&(plan){ "zmq", ZMQ_CREATE, NULL, tcp_attach });
}

static void test_redis_between_namespaces(void **state)
{
    (void)state;
    cross(&(plan){ "redis", REDIS_CREATE, REDIS_STOP, named_attach });
}

static void test_websocket_between_namespaces(void **state)
{
    (void)state;
    cross(&(plan){ "websocket", WEBSOCKET_CREATE, NULL, tcp_attach });
}

static void test_amqp_between_namespaces(void **state)
{
    (void)state;
    cross(&(plan){ "amqp", AMQP_CREATE, AMQP_STOP, named_attach });
}

/* ---- the task queue between hosts -----------------------------------------
 * B: broker, task queue (the owner of both channels), a pool of 2 workers.
 * A: attaches to the task queue by endpoint and name, enqueues JOBS "add"
 * jobs and one "crash_once", and waits for every result. */

typedef struct task_plan {
    const char *mech;
    int (*start)(char *endpoint, size_t size, void **srv); /* the broker, on B's address */
    int (*stop)(void *srv);
} task_plan;

static atomic_int *crash_calls; /* shared by B's workers (MAP_SHARED before the pool forks) */

static int task_add(void *user, const void *args, size_t len, void *result, size_t cap, size_t *rlen)
{
    (void)user;
    int32_t v[2];
    if (len != sizeof v || cap < sizeof(int32_t)) return 1;
    memcpy(v, args, sizeof v);
    int32_t sum = v[0] + v[1];
    memcpy(result, &sum, sizeof sum);
    *rlen = sizeof sum;
    return 0;
}

static int task_crash_once(void *user, const void *args, size_t len, void *result, size_t cap, size_t *rlen)
{
    (void)user, (void)args, (void)len, (void)cap;
    if (atomic_fetch_add(crash_calls, 1) == 0) raise(SIGKILL); /* the worker dies mid-job */
    memcpy(result, "survived", 8);
    *rlen = 8;
    return 0;
}

static int task_workers(const task_plan *p, int endpoint_fd, int done_fd)
{
    if (!enter(ns_b)) return 20;
    crash_calls = mmap(NULL, sizeof *crash_calls, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (crash_calls == MAP_FAILED) return 27;
    void *srv = NULL;
    char endpoint[256] = "";
    ipc_task_queue *tq = NULL;
    int rc = 0;
    if (p->start(endpoint, sizeof endpoint, &srv) != IPC_OK
        || ipc_task_open(p->mech, &(ipc_config){ .endpoint = endpoint, .name = "crosstask" }, &tq) != IPC_OK
        || ipc_task_register(tq, "add", task_add, NULL) != IPC_OK
        || ipc_task_register(tq, "crash_once", task_crash_once, NULL) != IPC_OK
        || ipc_task_work(tq, 2) != IPC_OK) {
        fprintf(stderr, "workers: %s\n", ipc_last_error());
        rc = 21;
    }
    size_t n = strlen(endpoint) + 1;
    if (rc == 0 && write(endpoint_fd, endpoint, n) != (ssize_t)n) rc = 22;
    /* Keep the pool and the queue until the producer has every result. */
    struct pollfd wait_done = { .fd = done_fd, .events = POLLIN };
    char byte;
    if (rc == 0 && (poll(&wait_done, 1, 100000) != 1 || read(done_fd, &byte, 1) != 1)) rc = 26;
    if (rc == 0 && atomic_load(crash_calls) != 2) rc = 28; /* crashed once, ran again once */
    ipc_task_free(tq); /* stops the pool; the owner removes the channels */
    if (p->stop && p->stop(srv) != IPC_OK) rc = rc ? rc : 25;
    return rc;
}

static int task_producer(const task_plan *p, int endpoint_fd, int done_fd)
{
    if (!enter(ns_a)) return 30;
    char endpoint[256];
    ssize_t n = read(endpoint_fd, endpoint, sizeof endpoint - 1);
    if (n <= 0) return 31;
    endpoint[n] = '\0';
    ipc_task_queue *tq;
    if (ipc_task_open(p->mech, &(ipc_config){ .endpoint = endpoint, .name = "crosstask", .flags = IPC_ATTACH }, &tq)
        != IPC_OK) {
        fprintf(stderr, "producer: attach the task queue at %s: %s\n", endpoint, ipc_last_error());
        return 32;
    }
    int rc = 0;
    uint64_t ids[JOBS], crash_id = 0;
    for (int i = 0; rc == 0 && i < JOBS; i++) {
        int32_t args[2] = { i, 1000 * i };
        if (ipc_task_enqueue(tq, "add", args, sizeof args, NULL, &ids[i]) != IPC_OK) rc = 33;
    }
    if (rc == 0 && ipc_task_enqueue(tq, "crash_once", NULL, 0, &(ipc_task_opts){ .retries = 1, .backoff_ms = 10 },
                                    &crash_id) != IPC_OK)
        rc = 33;
    if (rc) fprintf(stderr, "producer: enqueue: %s\n", ipc_last_error());
    for (int i = 0; rc == 0 && i < JOBS; i++) {
        int32_t sum = -1;
        ipc_task_info info;
        int r = ipc_task_result(tq, ids[i], &sum, sizeof sum, &info, 60000);
        if (r != IPC_OK || info.state != IPC_TASK_FINISHED || sum != 1001 * i) {
            fprintf(stderr, "producer: job %d: %s, state %d, sum %d (%s)\n", i, ipc_strerror(r), info.state,
                    (int)sum, r != IPC_OK ? ipc_last_error() : info.error);
            rc = 34;
        }
    }
    char out[16] = "";
    ipc_task_info info;
    if (rc == 0 && (ipc_task_result(tq, crash_id, out, sizeof out, &info, 60000) != IPC_OK
                    || info.state != IPC_TASK_FINISHED || info.attempts != 2 || memcmp(out, "survived", 8) != 0)) {
        fprintf(stderr, "producer: the crashed job: state %d after %d attempts (%s)\n", info.state, info.attempts,
                info.error);
        rc = 35;
    }
    ipc_task_free(tq);
    if (write(done_fd, "d", 1) != 1 && rc == 0) rc = 36;
    return rc;
}

static void cross_tasks(const task_plan *p)
{
    if (!ns_ready) {
        printf("    skipped: %s\n", why_not);
        skip();
        return;
    }
    if (!ipc_find(p->mech) || !p->start) {
        printf("    skipped: mechanism '%s' is not in this build (make BROKERS=... left it out)\n", p->mech);
        skip();
        return;
    }
    int fds[2], done[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(pipe(done), 0);
    pid_t workers = tl_fork(170);
    if (workers == 0) {
        close(fds[0]);
        close(done[1]);
        _exit(task_workers(p, fds[1], done[0]));
    }
    pid_t prod = tl_fork(170);
    if (prod == 0) {
        close(fds[1]);
        close(done[0]);
        _exit(task_producer(p, fds[0], done[1]));
    }
    close(fds[0]);
    close(fds[1]);
    close(done[0]);
    close(done[1]);
    int pst = tl_wait(prod, 170), wst = tl_wait(workers, 170);
    if (pst || wst) fail_msg("task queue over %s across hosts: producer exited %d, workers %d", p->mech, pst, wst);
}

#ifdef IPC_WITH_REDIS
static int task_redis_start(char *endpoint, size_t size, void **srv)
{
    ipc_redis_server *s = NULL;
    int rc = ipc_redis_server_start(&(ipc_redis_server_opts){ .bind = ADDR_B, .port = TASK_REDIS_PORT }, &s);
    *srv = s;
    if (rc == IPC_OK) snprintf(endpoint, size, "%s", ipc_redis_server_endpoint(s));
    return rc;
}
#define TASK_REDIS_START task_redis_start
#else
#define TASK_REDIS_START NULL
#endif

#ifdef IPC_WITH_AMQP
static int task_amqp_start(char *endpoint, size_t size, void **srv)
{
    ipc_amqp_server *s = NULL;
    int rc = ipc_amqp_server_start(&(ipc_amqp_server_opts){ .bind = ADDR_B }, &s);
    *srv = s;
    if (rc == IPC_OK) snprintf(endpoint, size, "%s", ipc_amqp_server_endpoint(s));
    return rc;
}
#define TASK_AMQP_START task_amqp_start
#else
#define TASK_AMQP_START NULL
#endif

static void test_task_queue_over_redis_between_namespaces(void **state)
{
    (void)state;
    cross_tasks(&(task_plan){ "redis", TASK_REDIS_START, REDIS_STOP });
}

static void test_task_queue_over_amqp_between_namespaces(void **state)
{
    (void)state;
    cross_tasks(&(task_plan){ "amqp", TASK_AMQP_START, AMQP_STOP });
}

/* The namespaces really are separate hosts: B's address is unreachable
 * from the root namespace, where this test runs. */
static void test_namespaces_are_isolated(void **state)
{
    (void)state;
    if (!ns_ready) {
        printf("    skipped: %s\n", why_not);
        skip();
        return;
    }
    assert_false(run("ip addr show | grep -q " ADDR_B));
    assert_true(run("ip netns exec %s ping -c 1 -W 2 " ADDR_B, ns_a) || !run("command -v ping"));
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        TL_CASE(test_namespaces_are_isolated),
        TL_CASE(test_tcp_between_namespaces),
        TL_CASE(test_zmq_between_namespaces),
        TL_CASE(test_redis_between_namespaces),
        TL_CASE(test_websocket_between_namespaces),
        TL_CASE(test_amqp_between_namespaces),
        TL_CASE(test_task_queue_over_redis_between_namespaces),
        TL_CASE(test_task_queue_over_amqp_between_namespaces),
    };
    return cmocka_run_group_tests_name("crosshost", tests, group_setup, group_teardown);
}
