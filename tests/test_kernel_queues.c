/*
 * test_kernel_queues.c — what the conformance suite does not ask of the
 * kernel queues: posix_mq priorities and its msg_max error, attaching by
 * name, a too-large message staying in the KERNEL queue (another process
 * gets it), who removes the kernel objects, SysV's byte budget, eventfd's
 * semaphore arithmetic, and pollfd on posix_mq, eventfd and signal at once.
 */
#define _GNU_SOURCE
#include "testlib.h"

#include "events/eventfd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A name under the run's prefix, so a leak would be found by it. */
static void test_name(char *buf, size_t size, const char *what)
{
    const char *prefix = getenv("IPCPLAY_NAME_PREFIX");
    snprintf(buf, size, "/%s.kq.%s.%ld", prefix && *prefix ? prefix : "ipcplay", what, (long)getpid());
}

static long proc_long(const char *path)
{
    FILE *f = fopen(path, "r");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1) v = -1;
        fclose(f);
    }
    return v;
}

static void send_ok(ipc_channel *ch, const void *msg, size_t len, int prio)
{
    assert_ipc(ipc_send(ch, msg, len, prio, 5000), IPC_OK);
}

static void recv_ok(ipc_channel *ch, void *buf, size_t cap, size_t *len, int *prio)
{
    assert_ipc(ipc_recv(ch, buf, cap, len, prio, 5000), IPC_OK);
}


/* ---- priorities -------------------------------------------------------- */

/* Highest first, FIFO among equals, and the prio comes back. */
static void check_priorities(const char *mech, const int *prios, const int *order, size_t n)
{
    ipc_channel *ch = tl_open(mech, NULL);
    for (size_t i = 0; i < n; i++) {
        unsigned char msg[4];
        tl_fill(msg, sizeof msg, (uint32_t)i);
        send_ok(ch, msg, sizeof msg, prios[i]);
    }
    for (size_t k = 0; k < n; k++) {
        unsigned char buf[4];
        size_t got;
        int prio;
        recv_ok(ch, buf, sizeof buf, &got, &prio);
        assert_int_equal(prio, prios[order[k]]);
        assert_true(tl_check(buf, got, (uint32_t)order[k]));
    }
    ipc_free(ch);
}

static void test_posix_mq_priorities(void **state)
{
    (void)state;
    static const int prios[] = { 0, 7, -3, 7, 8191, -8192, 0, 1, -1, 2 };
    static const int order[] = { 4, 1, 3, 9, 7, 0, 6, 8, 2, 5 };
    check_priorities("posix_mq", prios, order, 10);
    /* the kernel has 32768 levels; half of them carry put-back messages */
    ipc_channel *ch = tl_open("posix_mq", NULL);
    assert_ipc(ipc_send(ch, "x", 1, 8192, 0), IPC_EINVAL);
    assert_ipc(ipc_send(ch, "x", 1, -8193, 0), IPC_EINVAL);
    assert_non_null(strstr(ipc_last_error(), "-8192..8191"));
    ipc_free(ch);
}

static void test_sysv_mq_priorities(void **state)
{
    (void)state;
    /* mtype = 2*(2^31 - prio): the whole int range, INT_MAX first */
    static const int prios[] = { 0, INT_MIN, INT_MAX, 5, INT_MAX, -5, 0 };
    static const int order[] = { 2, 4, 3, 0, 6, 5, 1 };
    check_priorities("sysv_mq", prios, order, 7);
}

/* ---- limits -------------------------------------------------------------- */

static void test_posix_mq_capacity_above_msg_max(void **state)
{
    (void)state;
    long msg_max = proc_long("/proc/sys/fs/mqueue/msg_max");
    if (msg_max < 0) { skip(); return; }
    ipc_channel *ch = NULL;
    assert_ipc(ipc_open("posix_mq", &(ipc_config){ .capacity = (size_t)msg_max + 1 }, &ch), IPC_EINVAL);
    assert_null(ch);
    char want[64];
    snprintf(want, sizeof want, "/proc/sys/fs/mqueue/msg_max %ld", msg_max);
    if (!strstr(ipc_last_error(), want)) fail_msg("error does not name the limit: %s", ipc_last_error());
    /* exactly msg_max is fine, and then bounded at it */
    ch = tl_open("posix_mq", &(ipc_config){ .capacity = (size_t)msg_max, .max_msg = 16 });
    for (long i = 0; i < msg_max; i++) assert_ipc(ipc_send(ch, "m", 1, 0, 0), IPC_OK);
    assert_ipc(ipc_send(ch, "m", 1, 0, 0), IPC_EFULL);
    assert_int_equal(ipc_depth(ch), msg_max);
    ipc_free(ch);
}

/* SysV bounds bytes: capacity 2 x max_msg 100 = a 200-byte budget. */
static void test_sysv_mq_byte_budget(void **state)
{
    (void)state;
    ipc_channel *ch = tl_open("sysv_mq", &(ipc_config){ .capacity = 2, .max_msg = 100 });
    assert_int_equal(ipc_capacity(ch), 0); /* not a message count */
    unsigned char big[100] = { 0 };
    assert_ipc(ipc_send(ch, big, 100, 0, 0), IPC_OK);
    assert_ipc(ipc_send(ch, big, 100, 0, 0), IPC_OK);
    assert_ipc(ipc_send(ch, big, 100, 0, 0), IPC_EFULL);
    int64_t t0 = ipc_now_ns();
    assert_ipc(ipc_send(ch, big, 1, 0, 100), IPC_EFULL); /* even 1 byte: the budget is spent */
    int64_t ms = tl_ms_since(t0);
    if (ms < 99 || ms > 3000) fail_msg("100 ms timed send took %lld ms", (long long)ms);
    size_t got;
    int prio;
    recv_ok(ch, big, sizeof big, &got, &prio);
    for (int i = 0; i < 10; i++) assert_ipc(ipc_send(ch, big, 10, 0, 0), IPC_OK); /* small ones: more fit */
    assert_int_equal(ipc_depth(ch), 11);
    ipc_free(ch);
}

/* ---- a too-large message stays in the kernel queue ----------------------- */

/* EMSGSIZE in the parent; a child (another process: it cannot see the
 * parent's handle) then receives it, ahead of a later message of the same
 * priority. */
static void check_put_back(const char *mech)
{
    ipc_channel *ch = tl_open(mech, NULL);
    unsigned char msg[100];
    tl_fill(msg, sizeof msg, 1);
    send_ok(ch, msg, sizeof msg, 3);
    tl_fill(msg, 10, 2);
    send_ok(ch, msg, 10, 3);
    unsigned char small[10];
    size_t got = 0;
    assert_ipc(ipc_recv(ch, small, sizeof small, &got, NULL, 5000), IPC_EMSGSIZE);
    assert_int_equal(got, 100);
    pid_t pid = tl_fork(20);
    if (pid == 0) {
        unsigned char buf[100];
        size_t n;
        int prio;
        if (ipc_recv(ch, buf, sizeof buf, &n, &prio, 5000) != IPC_OK) _exit(1);
        if (n != 100 || prio != 3 || !tl_check(buf, n, 1)) _exit(2);
        if (ipc_recv(ch, buf, sizeof buf, &n, &prio, 5000) != IPC_OK) _exit(3);
        _exit(n == 10 && tl_check(buf, n, 2) ? 0 : 4);
    }
    assert_int_equal(tl_wait(pid, 20), 0);
    ipc_free(ch);
}

static void test_posix_mq_put_back_is_in_the_kernel(void **state) { (void)state; check_put_back("posix_mq"); }
static void test_sysv_mq_put_back_is_in_the_kernel(void **state) { (void)state; check_put_back("sysv_mq"); }

/* ---- names, attach, removal ---------------------------------------------- */

static bool mq_exists(const char *name)
{
    mqd_t q = mq_open(name, O_RDONLY);
    if (q == (mqd_t)-1) return false;
    mq_close(q);
    return true;
}

static bool shm_exists(const char *name)
{
    int fd = shm_open(name, O_RDONLY, 0);
    if (fd < 0) return false;
    close(fd);
    return true;
}

/* An unrelated process attaches by name and gets the creator's limits; it
 * closes the channel, which wakes the creator's blocked receive; only the
 * creator's free unlinks the three names. */
static void test_posix_mq_attach_close_unlink(void **state)
{
    (void)state;
    char name[128], bell[160], ctl[160];
    test_name(name, sizeof name, "attach");
    snprintf(bell, sizeof bell, "%s.shut", name);
    snprintf(ctl, sizeof ctl, "%s.ctl", name);
    ipc_channel *ch = tl_open("posix_mq", &(ipc_config){ .name = name, .capacity = 3, .max_msg = 64 });
    assert_true(mq_exists(name) && mq_exists(bell) && shm_exists(ctl));
    ipc_channel *dup = NULL;
    assert_ipc(ipc_open("posix_mq", &(ipc_config){ .name = name }, &dup), IPC_ESYS); /* O_EXCL */
    assert_int_equal(errno, EEXIST);

    pid_t pid = tl_fork(20);
    if (pid == 0) {
        ipc_channel *a = NULL;
        if (ipc_open("posix_mq", &(ipc_config){ .name = name, .flags = IPC_ATTACH }, &a) != IPC_OK) _exit(1);
        if (ipc_max_msg(a) != 64 || ipc_capacity(a) != 3) _exit(2);
        if (ipc_send(a, "hello", 5, 0, 5000) != IPC_OK) _exit(3);
        tl_sleep_ms(300); /* the parent is blocked in recv by now */
        if (ipc_close(a) != IPC_OK) _exit(4);
        ipc_free(a); /* an attacher never unlinks */
        _exit(mq_exists(name) ? 0 : 5);
    }
    char buf[64];
    size_t got;
    int prio;
    recv_ok(ch, buf, sizeof buf, &got, &prio);
    assert_int_equal(got, 5);
    assert_memory_equal(buf, "hello", 5);
    int64_t t0 = ipc_now_ns();
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 10000), IPC_ECLOSED);
    assert_true(tl_ms_since(t0) < 5000); /* the doorbell woke us, not the timeout */
    assert_ipc(ipc_send(ch, "x", 1, 0, 0), IPC_ECLOSED); /* closed by the other process */
    assert_int_equal(tl_wait(pid, 20), 0);
    ipc_free(ch);
    assert_false(mq_exists(name));
    assert_false(mq_exists(bell));
    assert_false(shm_exists(ctl));
}

/* A private channel's names are unlinked as soon as it exists: a creator
 * killed with SIGKILL leaves nothing in /dev/mqueue or /dev/shm. */
static void test_posix_mq_private_leaves_no_names_when_killed(void **state)
{
    (void)state;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s.kq.killed", tl_name_prefix());
    int *ready = mmap(NULL, sizeof *ready, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(ready != MAP_FAILED);
    pid_t pid = tl_fork(20);
    if (pid == 0) {
        setenv("IPCPLAY_NAME_PREFIX", prefix, 1);
        ipc_channel *ch = NULL;
        if (ipc_open("posix_mq", NULL, &ch) != IPC_OK) _exit(1);
        if (ipc_send(ch, "x", 1, 0, 0) != IPC_OK) _exit(2); /* the queue itself still works */
        *ready = 1;
        pause();
        _exit(3);
    }
    while (!*ready) tl_sleep_ms(5);
    kill(pid, SIGKILL);
    assert_int_equal(tl_wait(pid, 10), 128 + SIGKILL);
    munmap(ready, sizeof *ready);
    /* "/<prefix>.<pid>.<n>": the counter n is inherited, so try a range */
    for (int n = 0; n < 5000; n++) {
        char name[160], other[176];
        snprintf(name, sizeof name, "/%s.%ld.%d", prefix, (long)pid, n);
        snprintf(other, sizeof other, "%s.shut", name);
        if (mq_exists(name) || mq_exists(other)) fail_msg("%s was left behind", name);
        snprintf(other, sizeof other, "%s.ctl", name);
        if (shm_exists(other)) fail_msg("%s was left behind", other);
    }
}

static void test_posix_mq_bad_names(void **state)
{
    (void)state;
    ipc_channel *ch = NULL;
    assert_ipc(ipc_open("posix_mq", &(ipc_config){ .name = "/a/b" }, &ch), IPC_EINVAL);
    assert_ipc(ipc_open("posix_mq", &(ipc_config){ .name = "/" }, &ch), IPC_EINVAL);
    char name[128];
    test_name(name, sizeof name, "missing");
    assert_ipc(ipc_open("posix_mq", &(ipc_config){ .name = name, .flags = IPC_ATTACH }, &ch), IPC_ESYS);
    assert_int_equal(errno, ENOENT);
    assert_ipc(ipc_open("posix_mq", &(ipc_config){ .order = IPC_LIFO }, &ch), IPC_EINVAL);
    assert_null(ch);
}

/* A name without the leading '/' gets one; the queue is found either way. */
static void test_posix_mq_name_without_slash(void **state)
{
    (void)state;
    char name[128];
    test_name(name, sizeof name, "noslash");
    ipc_channel *ch = tl_open("posix_mq", &(ipc_config){ .name = name + 1 });
    assert_true(mq_exists(name));
    ipc_free(ch);
    assert_false(mq_exists(name));
}

static void test_sysv_mq_attach_by_name_and_removal(void **state)
{
    (void)state;
    char name[128];
    test_name(name, sizeof name, "sysv");
    ipc_channel *ch = tl_open("sysv_mq", &(ipc_config){ .name = name, .max_msg = 300 });
    pid_t pid = tl_fork(20);
    if (pid == 0) {
        ipc_channel *a = NULL;
        if (ipc_open("sysv_mq", &(ipc_config){ .name = name, .flags = IPC_ATTACH }, &a) != IPC_OK) _exit(1);
        if (ipc_max_msg(a) != 300) _exit(2);
        int rc = ipc_send(a, "ping", 4, 9, 5000);
        ipc_free(a);
        _exit(rc == IPC_OK ? 0 : 3);
    }
    assert_int_equal(tl_wait(pid, 20), 0);
    char buf[300];
    size_t got;
    int prio;
    recv_ok(ch, buf, sizeof buf, &got, &prio);
    assert_int_equal(got, 4);
    assert_int_equal(prio, 9);
    ipc_free(ch);
    /* removed with IPC_RMID: attaching again finds nothing */
    ipc_channel *a = NULL;
    assert_ipc(ipc_open("sysv_mq", &(ipc_config){ .name = name, .flags = IPC_ATTACH }, &a), IPC_ESYS);
    assert_int_equal(errno, ENOENT);
}

/* A forked child freeing its copy must not remove the queue; the owner's
 * free does, and a holder still using it then hears IPC_ECLOSED. */
static void check_child_free_keeps_queue(const char *mech)
{
    ipc_channel *ch = tl_open(mech, NULL);
    pid_t pid = tl_fork(20);
    if (pid == 0) {
        ipc_free(ch);
        _exit(0);
    }
    assert_int_equal(tl_wait(pid, 20), 0);
    send_ok(ch, "still", 5, 0);
    char buf[16];
    size_t got;
    recv_ok(ch, buf, sizeof buf, &got, NULL);
    assert_int_equal(got, 5);
    ipc_free(ch);
}

static void test_posix_mq_child_free_keeps_queue(void **state) { (void)state; check_child_free_keeps_queue("posix_mq"); }
static void test_sysv_mq_child_free_keeps_queue(void **state) { (void)state; check_child_free_keeps_queue("sysv_mq"); }

static void test_sysv_mq_owner_free_removes(void **state)
{
    (void)state;
    ipc_channel *ch = tl_open("sysv_mq", NULL);
    int *verdict = mmap(NULL, sizeof *verdict, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(verdict != MAP_FAILED);
    pid_t pid = tl_fork(20);
    if (pid == 0) { /* blocked forever in msgrcv until the owner removes the queue */
        char buf[8];
        size_t got;
        *verdict = ipc_recv(ch, buf, sizeof buf, &got, NULL, -1);
        _exit(0);
    }
    tl_sleep_ms(200);
    ipc_free(ch); /* IPC_RMID wakes the sleeper with EIDRM */
    assert_int_equal(tl_wait(pid, 10), 0);
    assert_int_equal(*verdict, IPC_ECLOSED);
    munmap(verdict, sizeof *verdict);
}

/* ---- eventfd ------------------------------------------------------------- */

static void test_eventfd_counter_merges_writes(void **state)
{
    (void)state;
    static const uint64_t values[] = { 1, 2, 3 };
    uint64_t reads[8];
    size_t n;
    assert_ipc(ipc_eventfd_show_counter(values, 3, false, reads, 8, &n), IPC_OK);
    assert_int_equal(n, 1); /* the kernel added them: one read of the sum */
    assert_int_equal(reads[0], 6);
    assert_ipc(ipc_eventfd_show_counter(values, 3, true, reads, 8, &n), IPC_OK);
    assert_int_equal(n, 6); /* semaphore mode: six reads of 1 */
    for (size_t i = 0; i < n; i++) assert_int_equal(reads[i], 1);
    assert_ipc(ipc_eventfd_show_counter(NULL, 3, true, reads, 8, &n), IPC_EINVAL);
}

/* The spaces semaphore is the bound, the items semaphore the readiness. */
static void test_eventfd_semaphores_bound_and_signal(void **state)
{
    (void)state;
    ipc_channel *ch = tl_open("eventfd", &(ipc_config){ .capacity = 3 });
    struct pollfd p = { .fd = ipc_pollfd(ch), .events = POLLIN };
    assert_int_equal(poll(&p, 1, 0), 0);
    uint64_t v;
    for (v = 1; v <= 3; v++) send_ok(ch, &v, sizeof v, 0);
    assert_ipc(ipc_send(ch, &v, sizeof v, 0, 0), IPC_EFULL);
    assert_int_equal(poll(&p, 1, 0), 1);
    assert_int_equal(ipc_depth(ch), 3);
    /* a too-small buffer leaves the value at the head (and its unit counted) */
    uint32_t small;
    size_t got;
    assert_ipc(ipc_recv(ch, &small, sizeof small, &got, NULL, 0), IPC_EMSGSIZE);
    assert_int_equal(got, 8);
    for (uint64_t want = 1; want <= 3; want++) {
        recv_ok(ch, &v, sizeof v, &got, NULL);
        assert_int_equal(got, 8);
        assert_int_equal(v, want); /* values are NOT added: each one is a message */
    }
    assert_int_equal(poll(&p, 1, 0), 0);
    assert_ipc(ipc_recv(ch, &v, sizeof v, &got, NULL, 0), IPC_EEMPTY);
    ipc_channel *big = NULL;
    assert_ipc(ipc_open("eventfd", &(ipc_config){ .capacity = (1 << 20) + 1 }, &big), IPC_EINVAL);
    assert_ipc(ipc_open("eventfd", &(ipc_config){ .name = "x" }, &big), IPC_EINVAL);
    ipc_free(ch);
}

/* ---- pollfd: three mechanisms in one poll() ------------------------------ */

static void test_pollfd_on_three_mechanisms(void **state)
{
    (void)state;
    static const char *const mechs[] = { "posix_mq", "eventfd", "signal" };
    enum { N = 3 };
    ipc_channel *ch[N];
    struct pollfd p[N];
    for (int i = 0; i < N; i++) {
        ch[i] = tl_open(mechs[i], NULL);
        p[i] = (struct pollfd){ .fd = ipc_pollfd(ch[i]), .events = POLLIN };
        assert_true(p[i].fd >= 0);
    }
    assert_int_equal(poll(p, N, 0), 0);
    /* one message into the second and third: exactly those wake */
    send_ok(ch[1], "e", 1, 0);
    send_ok(ch[2], "s", 1, 0);
    assert_int_equal(poll(p, N, 5000), 2);
    assert_false(p[0].revents & POLLIN);
    assert_true(p[1].revents & POLLIN);
    assert_true(p[2].revents & POLLIN);
    send_ok(ch[0], "m", 1, 0);
    assert_int_equal(poll(p, N, 5000), N);
    for (int i = 0; i < N; i++) {
        char buf[8];
        size_t got;
        recv_ok(ch[i], buf, sizeof buf, &got, NULL);
        assert_int_equal(got, 1);
        assert_int_equal(buf[0], "mes"[i]);
    }
    assert_int_equal(poll(p, N, 0), 0);
    for (int i = 0; i < N; i++) ipc_free(ch[i]);
}

/* ---- SysV's wait strategy, measured -------------------------------------- */

struct late_send { ipc_channel *ch; unsigned delay_ms; };

static void *send_later(void *arg)
{
    struct late_send *l = arg;
    tl_sleep_ms(l->delay_ms);
    ipc_send(l->ch, "late", 4, 0, 5000);
    return NULL;
}

/* A timed receive that backs off still sees a message soon after it lands
 * (the sleeps never exceed 1 ms; the bound here is generous for CI). */
static void test_sysv_mq_timed_receive_reacts(void **state)
{
    (void)state;
    ipc_channel *ch = tl_open("sysv_mq", NULL);
    struct late_send l = { ch, 300 };
    pthread_t t = tl_thread(send_later, &l);
    char buf[8];
    size_t got;
    int64_t t0 = ipc_now_ns();
    recv_ok(ch, buf, sizeof buf, &got, NULL);
    int64_t ms = tl_ms_since(t0);
    pthread_join(t, NULL);
    if (ms < 290 || ms > 2000) fail_msg("message sent after 300 ms was received after %lld ms", (long long)ms);
    ipc_free(ch);
}


/* A queue and its control objects need a few descriptors: short of them,
 * the error names RLIMIT_NOFILE, not RLIMIT_MSGQUEUE (mq_open's EMFILE
 * stands for either limit; testlib.h). */
static void test_posix_mq_out_of_descriptors_is_named(void **state)
{
    (void)state;
    tl_out_of_descriptors_is_named("posix_mq", 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TL_CASE(test_posix_mq_priorities),
        TL_CASE(test_sysv_mq_priorities),
        TL_CASE(test_posix_mq_capacity_above_msg_max),
        TL_CASE(test_sysv_mq_byte_budget),
        TL_CASE(test_posix_mq_put_back_is_in_the_kernel),
        TL_CASE(test_sysv_mq_put_back_is_in_the_kernel),
        TL_CASE(test_posix_mq_attach_close_unlink),
        TL_CASE(test_posix_mq_private_leaves_no_names_when_killed),
        TL_CASE(test_posix_mq_bad_names),
        TL_CASE(test_posix_mq_out_of_descriptors_is_named),
        TL_CASE(test_posix_mq_name_without_slash),
        TL_CASE(test_sysv_mq_attach_by_name_and_removal),
        TL_CASE(test_posix_mq_child_free_keeps_queue),
        TL_CASE(test_sysv_mq_child_free_keeps_queue),
        TL_CASE(test_sysv_mq_owner_free_removes),
        TL_CASE(test_eventfd_counter_merges_writes),
        TL_CASE(test_eventfd_semaphores_bound_and_signal),
        TL_CASE(test_pollfd_on_three_mechanisms),
        TL_CASE(test_sysv_mq_timed_receive_reacts),
    };
    return cmocka_run_group_tests_name("kernel_queues", tests, NULL, NULL);
}
