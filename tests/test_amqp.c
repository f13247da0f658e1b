/*
 * test_amqp.c — the delivery guarantees of the "amqp" mechanism and the life
 * cycle of its embedded RabbitMQ broker: what the conformance suite cannot
 * ask of every mechanism.
 *
 *   - confirmed messages on a durable queue survive a broker killed with
 *     SIGKILL and restarted on the same data dir (persistence + publisher
 *     confirms: ipc_send returned, so the broker had it on disk);
 *   - a consumer SIGKILLed before acknowledging (ipc_amqp_recv_unacked,
 *     prefetch 1) has its message delivered to another consumer;
 *   - capacity: reject-publish refuses the newest (IPC_EFULL), never drops
 *     the oldest; priority above the maximum counts as the maximum;
 *   - broadcast through fanout exchanges; delayed delivery through TTL +
 *     dead-lettering, drained at close; confirm batches; an oversize message
 *     that arrived while blocked stays queued;
 *   - the embedded broker: its epmd and distribution port listen on
 *     127.0.0.1 only, the credentials are generated, it dies with its owner
 *     (SIGKILL), a clear message when rabbitmq-server is missing, bad
 *     endpoints and wrong passwords answer errors;
 *   - IPC_CAP_PERSISTENT is the broker's restart, not its creator's death:
 *     the creator of an embedded channel SIGKILLed, its fork()ed workers
 *     are told IPC_ECLOSED (the channel ended with it) and none hangs.
 *
 * One broker serves the whole program (~6-12 s to start); the restart case
 * kills and restarts it, and one case lets a child start (and lose) its own.
 */
#define _GNU_SOURCE
#include "testlib.h"

#include "brokers/ipc_amqp.h"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* One broker for the whole program, started by the group setup in a dir
 * of ours so that a case can kill and restart it (~6-12 s per start). */
static ipc_amqp_server *broker;
static char broker_dir[256], broker_endpoint[256], broker_user[64], broker_password[64];
static int broker_port;

static int group_setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    const char *prefix = tl_name_prefix();
    snprintf(broker_dir, sizeof broker_dir, "%s/%s.amqp-test.XXXXXX", tmp, prefix);
    if (!mkdtemp(broker_dir)) return -1;
    if (ipc_amqp_server_start(&(ipc_amqp_server_opts){ .dir = broker_dir }, &broker) != IPC_OK) {
        fprintf(stderr, "test_amqp: no broker: %s\n", ipc_last_error());
        return -1;
    }
    snprintf(broker_endpoint, sizeof broker_endpoint, "%s", ipc_amqp_server_endpoint(broker));
    snprintf(broker_user, sizeof broker_user, "%s", ipc_amqp_server_user(broker));
    snprintf(broker_password, sizeof broker_password, "%s", ipc_amqp_server_password(broker));
    broker_port = ipc_amqp_server_port(broker);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    int rc = ipc_amqp_server_stop(broker);
    broker = NULL;
    tl_rmtree(broker_dir);
    return rc == IPC_OK ? 0 : -1;
}

/* tl_open on the program's broker. */
static ipc_channel *open_on_broker(const char *mech, ipc_config cfg)
{
    cfg.endpoint = broker_endpoint;
    return tl_open(mech, &cfg);
}

/* ---- delivery guarantees ------------------------------------------------ */

/* Publisher confirms + durable queue + persistent messages: once ipc_send
 * has returned, even a SIGKILLed broker (no clean shutdown) has it. */
static void test_confirmed_messages_survive_broker_kill_and_restart(void **state)
{
    (void)state;
    assert_string_not_equal(broker_user, "guest");
    pid_t first = ipc_amqp_server_pid(broker);
    ipc_channel *ch = open_on_broker("amqp", (ipc_config){ .name = "durable" });
    for (uint32_t i = 0; i < 5; i++) tl_send_id(ch, 100 + i, 30, 0);
    assert_int_equal(kill(first, SIGKILL), 0); /* no chance to flush anything */
    assert_true(tl_wait_gone(first, 5000));
    ipc_amqp_server_stop(broker); /* reaps it, stops its epmd, keeps the dir */
    broker = NULL;
    char buf[64];
    size_t got;
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 500), IPC_ESYS); /* no broker: an error, not a hang */

    ipc_amqp_server_opts again_o = { .dir = broker_dir, .port = broker_port, .user = broker_user, .password = broker_password };
    assert_ipc(ipc_amqp_server_start(&again_o, &broker), IPC_OK);
    assert_true(ipc_amqp_server_pid(broker) != first);
    ipc_channel *again = open_on_broker("amqp", (ipc_config){ .name = "durable", .flags = IPC_ATTACH });
    for (uint32_t i = 0; i < 5; i++) tl_recv_id(again, 100 + i, 30, 5000);
    assert_ipc(ipc_recv(again, buf, sizeof buf, &got, NULL, 0), IPC_EEMPTY);
    ipc_free(again);
    tl_send_id(ch, 200, 30, 0); /* the old handle reconnects by itself */
    tl_recv_id(ch, 200, 30, 5000);
    ipc_free(ch);
}

/* Manual acks: a consumer holding a message unacknowledged keeps it from
 * the others; SIGKILL it and the broker hands the message to another. */
static void test_unacked_message_of_killed_consumer_is_redelivered(void **state)
{
    (void)state;
    ipc_channel *ch = open_on_broker("amqp", (ipc_config){ 0 });
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = tl_fork(60);
    if (pid == 0) {
        close(ready[0]);
        unsigned char buf[64];
        size_t got;
        ipc_amqp_delivery *d = NULL;
        /* blocks in basic.consume (prefetch 1) until the parent sends */
        if (ipc_amqp_recv_unacked(ch, buf, sizeof buf, &got, NULL, 20000, &d) != IPC_OK) _exit(1);
        if (!tl_check(buf, got, 1)) _exit(2);
        if (write(ready[1], "x", 1) != 1) _exit(3);
        pause(); /* ...and never acknowledges */
        _exit(0);
    }
    close(ready[1]);
    tl_sleep_ms(300); /* let it block first */
    tl_send_id(ch, 1, 20, 0);
    tl_send_id(ch, 2, 20, 0);
    char x;
    assert_int_equal(read(ready[0], &x, 1), 1);
    close(ready[0]);
    /* prefetch 1: message 2 was not pushed to the blocked child as well */
    tl_recv_id(ch, 2, 20, 5000);
    char buf[64];
    size_t got;
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 200), IPC_EEMPTY); /* 1 is the child's */
    kill(pid, SIGKILL);
    assert_int_equal(tl_wait(pid, 10), 128 + SIGKILL);
    tl_recv_id(ch, 1, 20, 5000); /* the dead consumer's message comes back */
    /* and an unacked delivery that is requeued comes back too */
    tl_send_id(ch, 3, 20, 0);
    ipc_amqp_delivery *d = NULL;
    assert_ipc(ipc_amqp_recv_unacked(ch, buf, sizeof buf, &got, NULL, 5000, &d), IPC_OK);
    assert_true(tl_check(buf, got, 3));
    assert_ipc(ipc_amqp_requeue(d), IPC_OK);
    assert_ipc(ipc_amqp_recv_unacked(ch, buf, sizeof buf, &got, NULL, 5000, &d), IPC_OK);
    assert_true(tl_check(buf, got, 3));
    assert_ipc(ipc_amqp_ack(d), IPC_OK);
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 0), IPC_EEMPTY);
    ipc_free(ch);
}

/* x-overflow reject-publish: a full queue refuses the newest message
 * (IPC_EFULL); RabbitMQ's default (drop-head) would silently drop the
 * oldest and accept it. */
static void test_full_queue_refuses_newest_keeps_oldest(void **state)
{
    (void)state;
    ipc_channel *ch = open_on_broker("amqp", (ipc_config){ .capacity = 3 });
    for (uint32_t i = 0; i < 3; i++) tl_send_id(ch, i, 10, 0);
    unsigned char buf[16];
    tl_fill(buf, 10, 99);
    assert_ipc(ipc_send(ch, buf, 10, 0, 0), IPC_EFULL);
    assert_int_equal(ipc_depth(ch), 3);
    for (uint32_t i = 0; i < 3; i++) tl_recv_id(ch, i, 10, 2000); /* 0 is still first */
    ipc_free(ch);
}

/* x-max-priority 9: a larger prio counts as 9, a negative one as 0. */
static void test_priority_clamped_to_broker_levels(void **state)
{
    (void)state;
    ipc_channel *ch = open_on_broker("amqp-prio", (ipc_config){ 0 });
    tl_send_id(ch, 1, 8, -5);
    tl_send_id(ch, 2, 8, 9);
    tl_send_id(ch, 3, 8, 200);
    tl_send_id(ch, 4, 8, 4);
    assert_int_equal(tl_recv_id(ch, 2, 8, 2000), 9);
    assert_int_equal(tl_recv_id(ch, 3, 8, 2000), 9); /* a tie with 2: FIFO */
    assert_int_equal(tl_recv_id(ch, 4, 8, 2000), 4);
    assert_int_equal(tl_recv_id(ch, 1, 8, 2000), 0);
    ipc_free(ch);
}

struct blocked_recv { ipc_channel *ch; size_t cap; int rc; size_t got; };

static void *blocked_recv(void *arg)
{
    struct blocked_recv *b = arg;
    unsigned char buf[256];
    b->rc = ipc_recv(b->ch, buf, b->cap, &b->got, NULL, 10000);
    return NULL;
}

/* A message pushed to a blocked receiver whose buffer is too small is
 * rejected back into the queue (IPC_EMSGSIZE, *len = its size), first in line. */
static void test_oversize_delivery_while_blocked_stays_queued(void **state)
{
    (void)state;
    ipc_channel *ch = open_on_broker("amqp", (ipc_config){ 0 });
    struct blocked_recv b = { .ch = ch, .cap = 10 };
    pthread_t t = tl_thread(blocked_recv, &b);
    tl_sleep_ms(300);
    tl_send_id(ch, 7, 100, 0);
    tl_send_id(ch, 8, 5, 0);
    pthread_join(t, NULL);
    assert_ipc(b.rc, IPC_EMSGSIZE);
    assert_int_equal(b.got, 100);
    tl_recv_id(ch, 7, 100, 2000);
    tl_recv_id(ch, 8, 5, 2000);
    ipc_free(ch);
}

/* Delayed delivery: per-message TTL, then dead-lettered into the channel. */
static void test_delayed_delivery(void **state)
{
    (void)state;
    ipc_channel *ch = open_on_broker("amqp", (ipc_config){ 0 });
    unsigned char late[16];
    tl_fill(late, 16, 42);
    int64_t t0 = ipc_now_ns();
    assert_ipc(ipc_amqp_send_after(ch, late, 16, 0, 400), IPC_OK);
    tl_send_id(ch, 1, 8, 0);
    tl_recv_id(ch, 1, 8, 2000); /* the undelayed one first */
    char buf[32];
    size_t got;
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 0), IPC_EEMPTY);
    tl_recv_id(ch, 42, 16, 5000);
    int64_t ms = tl_ms_since(t0);
    if (ms < 390) fail_msg("a 400 ms delay delivered after %lld ms", (long long)ms);

    /* close: pending delayed messages are drained, then IPC_ECLOSED */
    assert_ipc(ipc_amqp_send_after(ch, late, 16, 0, 60000), IPC_OK);
    assert_ipc(ipc_close(ch), IPC_OK);
    tl_recv_id(ch, 42, 16, 2000);
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 2000), IPC_ECLOSED);
    assert_ipc(ipc_amqp_send_after(ch, late, 16, 0, 10), IPC_ECLOSED);
    ipc_free(ch);

    ipc_channel *bounded = open_on_broker("amqp", (ipc_config){ .capacity = 2 });
    assert_ipc(ipc_amqp_send_after(bounded, late, 16, 0, 10), IPC_ENOTSUP);
    assert_ipc(ipc_amqp_send_after(bounded, late, 16, 0, -1), IPC_EINVAL);
    ipc_free(bounded);
}

/* Broadcast: a fanout exchange per topic; every subscriber gets a copy. */
static void test_publish_subscribe(void **state)
{
    (void)state;
    ipc_channel *ch = open_on_broker("amqp", (ipc_config){ 0 });
    ipc_amqp_sub *a = NULL, *b = NULL, *other = NULL;
    assert_ipc(ipc_amqp_subscribe(ch, "news", &a), IPC_OK);
    assert_ipc(ipc_amqp_subscribe(ch, "news", &b), IPC_OK);
    assert_ipc(ipc_amqp_subscribe(ch, "weather", &other), IPC_OK);
    assert_int_equal(ipc_amqp_publish(ch, "news", "hello all", 9), 1);
    assert_int_equal(ipc_amqp_publish(ch, "nobody-listens", "x", 1), 0);
    char buf[32];
    size_t got;
    assert_ipc(ipc_amqp_sub_recv(a, buf, sizeof buf, &got, 2000), IPC_OK);
    assert_true(got == 9 && memcmp(buf, "hello all", 9) == 0);
    assert_ipc(ipc_amqp_sub_recv(b, buf, 4, &got, 2000), IPC_EMSGSIZE); /* kept for the next call */
    assert_int_equal(got, 9);
    assert_ipc(ipc_amqp_sub_recv(b, buf, sizeof buf, &got, 2000), IPC_OK);
    assert_true(got == 9 && memcmp(buf, "hello all", 9) == 0);
    assert_ipc(ipc_amqp_sub_recv(other, buf, sizeof buf, &got, 200), IPC_EEMPTY);
    assert_ipc(ipc_amqp_sub_recv(other, buf, sizeof buf, &got, -2), IPC_EINVAL); /* a mistake, not "forever" */
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 0), IPC_EEMPTY); /* not in the queue */
    ipc_amqp_sub_free(a);
    ipc_amqp_sub_free(b);
    ipc_amqp_sub_free(other);
    ipc_free(ch);
}

/* Confirm batches: n publishes, one wait; every message arrives in order;
 * batch receives keep the order and leave what does not fit queued. */
static void test_confirm_batch(void **state)
{
    (void)state;
    ipc_channel *ch = open_on_broker("amqp", (ipc_config){ 0 });
    enum { N = 50 };
    unsigned char bodies[N][32];
    const void *msgs[N];
    size_t lens[N];
    for (int i = 0; i < N; i++) {
        lens[i] = 1 + (size_t)i % 32;
        tl_fill(bodies[i], lens[i], (uint32_t)i);
        msgs[i] = bodies[i];
    }
    assert_int_equal(ipc_amqp_send_batch(ch, msgs, lens, N), N);
    assert_int_equal(ipc_depth(ch), N);
    for (int i = 0; i < 10; i++) tl_recv_id(ch, (uint32_t)i, lens[i], 2000);
    /* the receiving side: the first waits, the rest come in one round trip */
    static unsigned char slots[N][32];
    size_t got[N];
    assert_int_equal(ipc_amqp_recv_batch(ch, slots, 32, got, 20, 2000), 20);
    for (int i = 0; i < 20; i++) assert_true(got[i] == lens[10 + i] && tl_check(slots[i], got[i], (uint32_t)(10 + i)));
    /* a message larger than a slot stays first in line (30 has 31 bytes) */
    assert_ipc(ipc_amqp_recv_batch(ch, slots, 16, got, N, 2000), IPC_EMSGSIZE);
    assert_int_equal(got[0], lens[30]);
    assert_int_equal(ipc_amqp_recv_batch(ch, slots, 32, got, 3, 2000), 3); /* 30, 31, 32 */
    for (int i = 0; i < 3; i++) assert_true(tl_check(slots[i], got[i], (uint32_t)(30 + i)));
    /* ...and one that does not fit ends a batch: 33..47 have 2..16 bytes, 48 has 17 */
    assert_int_equal(ipc_amqp_recv_batch(ch, slots, 16, got, N, 2000), 15);
    for (int i = 0; i < 15; i++) assert_true(tl_check(&slots[0][0] + i * 16, got[i], (uint32_t)(33 + i)));
    assert_int_equal(ipc_amqp_recv_batch(ch, slots, 32, got, N, 2000), 2);
    for (int i = 0; i < 2; i++) assert_true(tl_check(slots[i], got[i], (uint32_t)(48 + i)));
    char one[8];
    size_t len1;
    assert_ipc(ipc_amqp_recv_batch(ch, one, sizeof one, &len1, 1, 0), IPC_EEMPTY);
    assert_ipc(ipc_amqp_recv_batch(ch, one, sizeof one, &len1, 1, -2), IPC_EINVAL); /* a mistake, not "forever" */
    ipc_free(ch);
    ipc_channel *bounded = open_on_broker("amqp", (ipc_config){ .capacity = 4 });
    assert_ipc(ipc_amqp_send_batch(bounded, msgs, lens, N), IPC_ENOTSUP);
    ipc_free(bounded);
}

/* ---- the embedded broker ------------------------------------------------- */

/* Socket inodes of a process's open fds. */
static size_t socket_inodes(pid_t pid, unsigned long *out, size_t max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
    DIR *d = opendir(path);
    if (!d) return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        char link[400], target[128];
        snprintf(link, sizeof link, "%s/%s", path, e->d_name);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len <= 0) continue;
        target[len] = '\0';
        if (sscanf(target, "socket:[%lu]", &out[n]) == 1) n++;
    }
    closedir(d);
    return n;
}

/* Count the listening TCP sockets among `inodes`, and those not on loopback. */
static void listeners(const unsigned long *inodes, size_t n, int *total, int *exposed)
{
    static const char *const tables[] = { "/proc/net/tcp", "/proc/net/tcp6" };
    for (int t = 0; t < 2; t++) {
        FILE *f = fopen(tables[t], "r");
        if (!f) continue;
        char line[512];
        if (!fgets(line, sizeof line, f)) { fclose(f); continue; }
        while (fgets(line, sizeof line, f)) {
            char local[64];
            unsigned st;
            unsigned long ino;
            /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
            if (sscanf(line, " %*s %63s %*s %x %*s %*s %*s %*s %*s %lu", local, &st, &ino) != 3 || st != 0x0A) continue;
            for (size_t i = 0; i < n; i++)
                if (inodes[i] == ino) {
                    (*total)++;
                    bool loop = t == 0 ? strncmp(local, "0100007F:", 9) == 0
                                       : strncmp(local, "00000000000000000000000001000000:", 33) == 0;
                    if (!loop) (*exposed)++;
                }
        }
        fclose(f);
    }
}

/* epmd, the distribution port and the AMQP port all listen on loopback
 * only, and the broker's credentials are not guest/guest (the embedded
 * broker is started by the same ipc_amqp_server_start with no options;
 * the conformance suite runs every case on it). */
static void test_broker_listens_on_loopback_only(void **state)
{
    (void)state;
    ipc_channel *ch = open_on_broker("amqp", (ipc_config){ 0 });
    pid_t beam = ipc_amqp_server_pid(broker);
    assert_true(beam > 0);
    ipc_config cfg;
    assert_ipc(ipc_attach_config(ch, &cfg), IPC_OK);
    assert_non_null(strstr(cfg.endpoint, "@127.0.0.1:"));
    assert_null(strstr(cfg.endpoint, "guest"));
    unsigned long inodes[512];
    size_t n = socket_inodes(beam, inodes, 512);
    pid_t epmd = ipc_amqp_server_epmd_pid(broker);
    assert_true(tl_pid_alive(epmd));
    n += socket_inodes(epmd, inodes + n, 512 - n);
    int total = 0, exposed = 0;
    listeners(inodes, n, &total, &exposed);
    printf("    broker %ld + its epmd: %d listening sockets, %d not on loopback\n", (long)beam, total, exposed);
    assert_true(total >= 3); /* AMQP, distribution, epmd */
    assert_int_equal(exposed, 0);
    ipc_free(ch);
}

/* A process that dies by SIGKILL takes its broker and epmd with it, even
 * while the broker is still starting: killed 0, 30 and 60 ms after its
 * beam.smp appears.  With SIGTERM as the death signal a node killed 10-70 ms
 * into its boot ignored it and lived on, and its boot, finding our epmd
 * gone, daemonized an `epmd -daemon` of its own (3 of 3 such delays here;
 * once in a loaded ASan run, from the 10 ms polling below): hence SIGKILL,
 * and the check that no process of the owner's dir is left. */
static void test_broker_dies_with_its_owner(void **state)
{
    (void)state;
    static const int delays_ms[] = { 0, 30, 60 };
    for (size_t k = 0; k < sizeof delays_ms / sizeof delays_ms[0]; k++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s-orphan%ld.%zu",
                 tl_name_prefix(), (long)getpid(), k);
        pid_t pid = tl_fork(90);
        if (pid == 0) {
            setenv("IPCPLAY_NAME_PREFIX", prefix, 1);
            ipc_amqp_server *s = NULL;
            if (ipc_amqp_server_start(NULL, &s) != IPC_OK) _exit(1);
            pause();
            _exit(0);
        }
        pid_t beam = 0, epmd = 0;
        for (int64_t t0 = ipc_now_ns(); !beam && tl_ms_since(t0) < 30000; tl_sleep_ms(2)) {
            beam = tl_find_process("beam.smp", prefix);
            if (!tl_pid_alive(pid)) break;
        }
        epmd = tl_find_process("epmd", prefix); /* started before the node */
        if (!beam || !epmd) {
            kill(pid, SIGKILL);
            fail_msg("the child's broker (%ld) or epmd (%ld) never appeared (status %d)", (long)beam, (long)epmd,
                     tl_wait(pid, 10));
        }
        tl_sleep_ms(delays_ms[k]);
        kill(pid, SIGKILL);
        assert_int_equal(tl_wait(pid, 10), 128 + SIGKILL);
        bool beam_gone = tl_wait_gone(beam, 20000), epmd_gone = tl_wait_gone(epmd, 5000); /* PR_SET_PDEATHSIG */
        pid_t stray_beam = tl_find_process("beam.smp", prefix), stray_epmd = tl_find_process("epmd", prefix);
        printf("    owner killed %d ms after its node appeared: node %s, epmd %s, strays %ld %ld\n", delays_ms[k],
               beam_gone ? "gone" : "ALIVE", epmd_gone ? "gone" : "ALIVE", (long)stray_beam, (long)stray_epmd);
        if (!beam_gone) kill(beam, SIGKILL); /* ours: found by our prefix */
        if (stray_epmd) kill(stray_epmd, SIGKILL);
        tl_rmtree_prefixed(prefix); /* the owner could not remove its temp dir */
        assert_true(beam_gone);
        assert_true(epmd_gone);
        assert_int_equal(stray_beam, 0);
        assert_int_equal(stray_epmd, 0);
    }
}

/* The embedded broker's lifetime is its creator's (ipc.h, IPC_CAP_PERSISTENT;
 * ipc_amqp.h): its fork()ed workers are told IPC_ECLOSED when the creator is
 * SIGKILLed (testlib.h; test_brokers runs the same case on redis). */
static void test_creator_killed_workers_told_closed(void **state)
{
    (void)state;
    tl_creator_killed_workers_told_closed("amqp", "beam.smp");
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The embedded broker outlives its last channel (the linger), idle — the
 * linger's timed wait once spun for all 30 s on a realtime-clock condvar —
 * and stops when the linger is set to 0. */
static void test_embedded_broker_lingers_idle_then_stops(void **state)
{
    (void)state;
    ipc_channel *ch = tl_open("amqp", NULL);
    pid_t beam = ipc_amqp_embedded_pid();
    assert_true(beam > 0);
    ipc_free(ch);
    double cpu0 = cpu_seconds();
    tl_sleep_ms(1000);
    double spent = cpu_seconds() - cpu0;
    printf("    CPU used by this process during 1 s of linger: %.3f s\n", spent);
    assert_true(spent < 0.05); /* the spinning version used 0.26 s of a loaded machine here */
    assert_true(tl_pid_alive(beam));
    assert_int_equal(ipc_amqp_embedded_pid(), beam);
    assert_int_equal(ipc_amqp_embedded_linger_ms(0), 30000); /* no channel left: stops now */
    assert_true(tl_wait_gone(beam, 20000));
    assert_int_equal(ipc_amqp_embedded_pid(), 0);
    ipc_amqp_embedded_linger_ms(30000);
}

static void test_missing_broker_says_how_to_install(void **state)
{
    (void)state;
    char *old = strdup(getenv("PATH") ? getenv("PATH") : "");
    assert_non_null(old);
    setenv("PATH", "/nonexistent", 1);
    ipc_amqp_server *s = NULL;
    int rc = ipc_amqp_server_start(NULL, &s);
    setenv("PATH", old, 1);
    free(old);
    assert_ipc(rc, IPC_ESYS);
    assert_null(s);
    assert_non_null(strstr(ipc_last_error(), "apt-get install rabbitmq-server"));
}

static void test_bad_endpoints_and_credentials(void **state)
{
    (void)state;
    ipc_channel *ch = NULL;
    assert_ipc(ipc_open("amqp", &(ipc_config){ .endpoint = "redis://127.0.0.1:1" }, &ch), IPC_EINVAL);
    assert_ipc(ipc_open("amqp", &(ipc_config){ .endpoint = "amqp://u:p@127.0.0.1:1", .flags = IPC_ATTACH }, &ch), IPC_EINVAL);
    assert_ipc(ipc_open("amqp", &(ipc_config){ .order = IPC_LIFO }, &ch), IPC_EINVAL);
    assert_ipc(ipc_open("amqp", &(ipc_config){ .endpoint = "amqp://u:p@127.0.0.1:1" }, &ch), IPC_ESYS); /* refused */
    ipc_channel *good = open_on_broker("amqp", (ipc_config){ 0 });
    ipc_config cfg;
    assert_ipc(ipc_attach_config(good, &cfg), IPC_OK);
    char wrong[256];
    const char *at = strchr(cfg.endpoint, '@');
    assert_non_null(at);
    snprintf(wrong, sizeof wrong, "amqp://guest:guest%s", at);
    assert_ipc(ipc_open("amqp", &(ipc_config){ .endpoint = wrong, .name = cfg.name, .flags = IPC_ATTACH }, &ch), IPC_ESYS);
    assert_non_null(strstr(ipc_last_error(), "refused"));
    assert_ipc(ipc_open("amqp", &(ipc_config){ .endpoint = cfg.endpoint, .name = "no-such-queue", .flags = IPC_ATTACH }, &ch), IPC_EINVAL);
    /* a second owner for the same name is refused */
    assert_ipc(ipc_open("amqp", &(ipc_config){ .endpoint = cfg.endpoint, .name = cfg.name }, &ch), IPC_EINVAL);
    /* attaching to a closed channel */
    assert_ipc(ipc_close(good), IPC_OK);
    assert_ipc(ipc_open("amqp", &(ipc_config){ .endpoint = cfg.endpoint, .name = cfg.name, .flags = IPC_ATTACH }, &ch), IPC_ECLOSED);
    assert_null(ch);
    ipc_free(good);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TL_CASE(test_broker_listens_on_loopback_only),
        TL_CASE(test_unacked_message_of_killed_consumer_is_redelivered),
        TL_CASE(test_full_queue_refuses_newest_keeps_oldest),
        TL_CASE(test_priority_clamped_to_broker_levels),
        TL_CASE(test_oversize_delivery_while_blocked_stays_queued),
        TL_CASE(test_delayed_delivery),
        TL_CASE(test_publish_subscribe),
        TL_CASE(test_confirm_batch),
        TL_CASE(test_bad_endpoints_and_credentials),
        TL_CASE(test_missing_broker_says_how_to_install),
        TL_CASE(test_embedded_broker_lingers_idle_then_stops),
        TL_CASE(test_confirmed_messages_survive_broker_kill_and_restart),
        TL_CASE(test_broker_dies_with_its_owner),
        TL_CASE(test_creator_killed_workers_told_closed),
    };
    /* TL_FILTER="*dies_with*" runs only the matching cases (cmocka wildcards). */
    if (getenv("TL_FILTER")) cmocka_set_test_filter(getenv("TL_FILTER"));
    return cmocka_run_group_tests_name("amqp", tests, group_setup, group_teardown);
}
