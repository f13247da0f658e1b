/*
 * test_shm.c — what the conformance suite cannot see of the shared-memory
 * family: shared values across processes, the SPSC rings over a million
 * messages, the MPMC ring across processes attached by name, a process
 * killed while it holds a ring's lock, timeouts under a signal storm, and
 * close waking waiters in other processes.
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "shm/shared_value.h"
#include "shm/shm.h"
#include "ipc_internal.h"
#include "engines/ring.h" /* the lock hook: tests link the -DIPC_TESTING copy */

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A named channel the way a user would name it, under the test run's prefix
 * so the run can prove it left nothing behind in /dev/shm. */
static void test_name(char *buf, size_t size)
{
    static int n;
    const char *prefix = getenv("IPCPLAY_NAME_PREFIX");
    snprintf(buf, size, "/%s.shmtest.%ld.%d", prefix && *prefix ? prefix : "ipcplay", (long)getpid(), n++);
}

static bool dev_shm_has(const char *name) /* name starts with '/' */
{
    char path[300];
    snprintf(path, sizeof path, "/dev/shm%s", name);
    return access(path, F_OK) == 0;
}

static void *shared_map(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    return p;
}

/* ---- shared values ------------------------------------------------------ */

enum { WORKERS = 4, ADDS = 20000 };

/* 4 processes each add 1 ADDS times; returns the final count. */
static long count_in_processes(ipc_value *v, int (*add)(ipc_value *, long))
{
    pid_t pid[WORKERS];
    for (int w = 0; w < WORKERS; w++) {
        pid[w] = tl_fork(60);
        if (pid[w] == 0) {
            for (int i = 0; i < ADDS; i++)
                if (add(v, 1) != IPC_OK) _exit(1);
            _exit(0);
        }
    }
    for (int w = 0; w < WORKERS; w++) assert_int_equal(tl_wait(pid[w], 60), 0);
    long total = -1;
    assert_ipc(ipc_value_get(v, &total), IPC_OK);
    return total;
}

static int add_locked(ipc_value *v, long d) { return ipc_value_add(v, d, NULL); }
static int add_atomic(ipc_value *v, long d) { return ipc_value_add_atomic(v, d, NULL); }
static int add_racy(ipc_value *v, long d) { return ipc_value_add_racy(v, d); }

static void test_value_lock_gives_exact_total(void **state)
{
    (void)state;
    ipc_value *v;
    assert_ipc(ipc_value_open(&v, 'l', true), IPC_OK);
    assert_true(ipc_value_has_lock(v));
    assert_int_equal(count_in_processes(v, add_locked), WORKERS * ADDS);
    ipc_value_free(v);

    /* the lock-free C11 way gives the same exact total */
    assert_ipc(ipc_value_open(&v, 'l', false), IPC_OK);
    assert_int_equal(count_in_processes(v, add_atomic), WORKERS * ADDS);
    ipc_value_free(v);
}

/* Without the lock updates MAY be lost; how many is up to the scheduler, so
 * only the bounds are asserted (and the loss is printed for the curious). */
static void test_value_racy_add_stays_in_bounds(void **state)
{
    (void)state;
    ipc_value *v;
    assert_ipc(ipc_value_open(&v, 'l', false), IPC_OK);
    long total = count_in_processes(v, add_racy);
    print_message("racy counter: %ld of %d (%ld updates lost)\n", total, WORKERS * ADDS,
                  (long)WORKERS * ADDS - total);
    assert_true(total >= 1 && total <= WORKERS * ADDS);
    /* alone, the same racy add is exact: nothing else writes in between */
    assert_ipc(ipc_value_set(v, 0), IPC_OK);
    for (int i = 0; i < 1000; i++) assert_ipc(ipc_value_add_racy(v, 1), IPC_OK);
    assert_ipc(ipc_value_get(v, &total), IPC_OK);
    assert_int_equal(total, 1000);
    ipc_value_free(v);
}

/* Array('d', n): each process owns one element and shares a locked sum. */
static void test_array_across_processes(void **state)
{
    (void)state;
    ipc_value *a, *sum;
    assert_ipc(ipc_array_open(&a, 'd', WORKERS, true), IPC_OK);
    assert_ipc(ipc_value_open(&sum, 'd', true), IPC_OK);
    assert_int_equal(ipc_array_len(a), WORKERS);
    assert_int_equal(ipc_value_typecode(a), 'd');
    pid_t pid[WORKERS];
    for (int w = 0; w < WORKERS; w++) {
        pid[w] = tl_fork(60);
        if (pid[w] == 0) {
            for (int i = 0; i < 1000; i++) {
                /* 0.5 is exact in binary, so the sums are exact too */
                if (ipc_array_add_d(a, (size_t)w, 0.5, NULL) != IPC_OK) _exit(1);
                if (ipc_value_add_d(sum, 0.5, NULL) != IPC_OK) _exit(2);
            }
            _exit(0);
        }
    }
    for (int w = 0; w < WORKERS; w++) assert_int_equal(tl_wait(pid[w], 60), 0);
    for (int w = 0; w < WORKERS; w++) {
        double x = 0;
        assert_ipc(ipc_array_get_d(a, (size_t)w, &x), IPC_OK);
        assert_true(x == 500.0);
    }
    double total = 0;
    assert_ipc(ipc_value_get_d(sum, &total), IPC_OK);
    assert_true(total == 500.0 * WORKERS);
    ipc_value_free(a);
    ipc_value_free(sum);
}

static void test_value_lock_and_bad_input(void **state)
{
    (void)state;
    ipc_value *v = (ipc_value *)0x1, *raw;
    assert_ipc(ipc_value_open(&v, 'x', true), IPC_EINVAL);
    assert_null(v);
    assert_ipc(ipc_value_open(NULL, 'l', true), IPC_EINVAL);
    assert_ipc(ipc_array_open(&v, 'l', 0, true), IPC_EINVAL);
    assert_ipc(ipc_array_open(&v, 'l', 3, true), IPC_OK);
    assert_ipc(ipc_value_open(&raw, 'l', false), IPC_OK);

    long x;
    double d;
    assert_ipc(ipc_array_get(v, 3, &x), IPC_EINVAL);      /* out of range */
    assert_ipc(ipc_array_set(v, 3, 1), IPC_EINVAL);
    assert_ipc(ipc_array_get_d(v, 0, &d), IPC_EINVAL);    /* wrong kind */
    assert_ipc(ipc_array_get(v, 0, NULL), IPC_EINVAL);
    assert_ipc(ipc_array_get(NULL, 0, &x), IPC_EINVAL);
    assert_ipc(ipc_value_add(NULL, 1, NULL), IPC_EINVAL);
    assert_ipc(ipc_value_lock(NULL), IPC_EINVAL);
    assert_ipc(ipc_value_lock(raw), IPC_ENOTSUP);
    assert_ipc(ipc_value_unlock(raw), IPC_ENOTSUP);
    assert_int_equal(ipc_array_len(NULL), 0);
    assert_false(ipc_value_has_lock(raw));
    ipc_value_free(NULL);

    /* get_lock() around a compound update; add inside it (the lock is recursive) */
    assert_ipc(ipc_value_lock(v), IPC_OK);
    assert_ipc(ipc_array_set(v, 2, 40), IPC_OK);
    assert_ipc(ipc_array_add(v, 2, 2, &x), IPC_OK);
    assert_int_equal(x, 42);
    assert_ipc(ipc_value_unlock(v), IPC_OK);
    assert_ipc(ipc_array_add_atomic(v, 2, -2, &x), IPC_OK);
    assert_int_equal(x, 40);
    ipc_value_free(v);
    ipc_value_free(raw);
}

/* A process killed while holding a value's lock: the next locker is told
 * (1) instead of hanging, and the lock works normally afterwards. */
static void test_value_lock_holder_killed(void **state)
{
    (void)state;
    ipc_value *v;
    assert_ipc(ipc_value_open(&v, 'l', true), IPC_OK);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = tl_fork(30);
    if (pid == 0) {
        if (ipc_value_lock(v) != IPC_OK) _exit(1);
        if (write(ready[1], "L", 1) != 1) _exit(2);
        pause();
        _exit(0);
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    kill(pid, SIGKILL);
    assert_int_equal(tl_wait(pid, 10), 128 + SIGKILL);
    assert_ipc(ipc_value_lock(v), 1);
    assert_ipc(ipc_value_unlock(v), IPC_OK);
    assert_ipc(ipc_value_lock(v), IPC_OK);
    assert_ipc(ipc_value_unlock(v), IPC_OK);
    assert_ipc(ipc_value_add(v, 5, NULL), IPC_OK);
    close(ready[0]);
    close(ready[1]);
    ipc_value_free(v);
}

/* ---- SPSC: order and no loss over a million messages ------------------- */

enum { SPSC_MSGS = 1000000 };

/* Message i: its number, then (i % 29) bytes derived from it. */
static size_t spsc_encode(unsigned char *buf, uint32_t i)
{
    size_t extra = i % 29;
    memcpy(buf, &i, sizeof i);
    for (size_t k = 0; k < extra; k++) buf[sizeof i + k] = (unsigned char)(i * 7 + k);
    return sizeof i + extra;
}

/* 0 if every message arrived once, in order, intact; else a code. */
static int spsc_receive_all(ipc_channel *ch)
{
    for (uint32_t i = 0; i < SPSC_MSGS; i++) {
        unsigned char buf[64], want[64];
        size_t got;
        int rc = ipc_recv(ch, buf, sizeof buf, &got, NULL, 20000);
        if (rc != IPC_OK) return 20;
        size_t len = spsc_encode(want, i);
        if (got != len || memcmp(buf, want, len) != 0) return 21; /* lost, reordered or torn */
    }
    size_t got;
    unsigned char buf[64];
    return ipc_recv(ch, buf, sizeof buf, &got, NULL, 0) == IPC_EEMPTY ? 0 : 22; /* nothing extra */
}

static int spsc_send_all(ipc_channel *ch)
{
    for (uint32_t i = 0; i < SPSC_MSGS; i++) {
        unsigned char buf[64];
        size_t len = spsc_encode(buf, i);
        if (ipc_send(ch, buf, len, 0, 20000) != IPC_OK) return 10;
    }
    return 0;
}

struct spsc_side { ipc_channel *ch; int rc; };

static void *spsc_sender(void *arg)
{
    struct spsc_side *s = arg;
    s->rc = spsc_send_all(s->ch);
    return NULL;
}

static void test_spsc_threads_million(void **state)
{
    (void)state;
    /* a small ring, so both the full and the empty waits happen often */
    ipc_channel *ch = tl_open("spsc", &(ipc_config){ .capacity = 16, .max_msg = 64 });
    struct spsc_side s = { .ch = ch };
    pthread_t t = tl_thread(spsc_sender, &s);
    int rc = spsc_receive_all(ch);
    pthread_join(t, NULL);
    assert_int_equal(s.rc, 0);
    assert_int_equal(rc, 0);
    assert_int_equal(ipc_depth(ch), 0);
    ipc_free(ch);
}

static void test_shm_spsc_processes_million(void **state)
{
    (void)state;
    ipc_channel *ch = tl_open("shm_spsc", &(ipc_config){ .capacity = 16, .max_msg = 64 });
    pid_t pid = tl_fork(120);
    if (pid == 0) _exit(spsc_send_all(ch));
    int rc = spsc_receive_all(ch);
    assert_int_equal(tl_wait(pid, 120), 0);
    assert_int_equal(rc, 0);
    ipc_free(ch);
}

/* ---- MPMC across processes, attached by name, with checksums ----------- */

enum { MP_PRODUCERS = 3, MP_CONSUMERS = 3, MP_PER = 20000 };

struct tally {
    atomic_int seen[MP_PRODUCERS][MP_PER];
    atomic_int corrupt, out_of_order;
};

struct mp_msg { uint32_t producer, seq, sum; unsigned char pad[20]; };

static uint32_t mp_sum(const struct mp_msg *m, size_t pad)
{
    uint32_t h = 2166136261u ^ m->producer * 131u ^ m->seq;
    for (size_t i = 0; i < pad; i++) h = (h ^ m->pad[i]) * 16777619u;
    return h;
}

static ipc_channel *attach(const char *mech, const char *name)
{
    ipc_channel *ch = NULL;
    return ipc_open(mech, &(ipc_config){ .name = name, .flags = IPC_ATTACH }, &ch) == IPC_OK ? ch : NULL;
}

static int mp_produce(const char *name, uint32_t p)
{
    ipc_channel *ch = attach("shm", name);
    if (!ch) return 30;
    for (uint32_t s = 0; s < MP_PER; s++) {
        struct mp_msg m = { .producer = p, .seq = s };
        size_t pad = (p + s) % sizeof m.pad;
        for (size_t i = 0; i < pad; i++) m.pad[i] = (unsigned char)(s >> i ^ p);
        m.sum = mp_sum(&m, pad);
        if (ipc_send(ch, &m, offsetof(struct mp_msg, pad) + pad, 0, 30000) != IPC_OK) return 31;
    }
    ipc_free(ch);
    return 0;
}

/* Receive until the channel is closed and drained. */
static int mp_consume(const char *name, struct tally *t)
{
    ipc_channel *ch = attach("shm", name);
    if (!ch) return 40;
    long last[MP_PRODUCERS] = { -1, -1, -1 };
    for (;;) {
        struct mp_msg m;
        size_t got;
        int rc = ipc_recv(ch, &m, sizeof m, &got, NULL, 30000);
        if (rc == IPC_ECLOSED) break;
        if (rc != IPC_OK) return 41;
        size_t head = offsetof(struct mp_msg, pad);
        if (got < head || m.producer >= MP_PRODUCERS || m.seq >= MP_PER || mp_sum(&m, got - head) != m.sum) {
            atomic_fetch_add(&t->corrupt, 1);
            continue;
        }
        if ((long)m.seq <= last[m.producer]) atomic_fetch_add(&t->out_of_order, 1);
        last[m.producer] = m.seq;
        atomic_fetch_add(&t->seen[m.producer][m.seq], 1);
    }
    ipc_free(ch);
    return 0;
}

static void test_shm_mpmc_processes_by_name(void **state)
{
    (void)state;
    char name[128];
    test_name(name, sizeof name);
    ipc_channel *ch = tl_open("shm", &(ipc_config){ .name = name, .capacity = 32, .max_msg = 64 });
    assert_string_equal(ipc_shm_name(ch), name);
    assert_true(dev_shm_has(name));
    struct tally *t = shared_map(sizeof *t);
    pid_t pid[MP_PRODUCERS + MP_CONSUMERS];
    for (int i = 0; i < MP_PRODUCERS + MP_CONSUMERS; i++) {
        pid[i] = tl_fork(120);
        if (pid[i] == 0) _exit(i < MP_PRODUCERS ? mp_produce(name, (uint32_t)i) : mp_consume(name, t));
    }
    for (int i = 0; i < MP_PRODUCERS; i++) assert_int_equal(tl_wait(pid[i], 120), 0);
    assert_ipc(ipc_close(ch), IPC_OK); /* consumers drain, then see IPC_ECLOSED */
    for (int i = MP_PRODUCERS; i < MP_PRODUCERS + MP_CONSUMERS; i++) assert_int_equal(tl_wait(pid[i], 120), 0);

    assert_int_equal(atomic_load(&t->corrupt), 0);
    assert_int_equal(atomic_load(&t->out_of_order), 0); /* each consumer sees each producer in order */
    for (int p = 0; p < MP_PRODUCERS; p++)
        for (int s = 0; s < MP_PER; s++)
            if (atomic_load(&t->seen[p][s]) != 1)
                fail_msg("message (%d,%d) arrived %d times", p, s, atomic_load(&t->seen[p][s]));
    munmap(t, sizeof *t);
    ipc_free(ch);
    assert_false(dev_shm_has(name)); /* the creator unlinked it */
}

/* ---- attach: what it sees, what it refuses, who unlinks ---------------- */

static void test_attach_rules(void **state)
{
    (void)state;
    char name[128];
    test_name(name, sizeof name);
    ipc_channel *ch = tl_open("shm_spsc", &(ipc_config){ .name = name + 1, .capacity = 5, .max_msg = 100 });
    assert_string_equal(ipc_shm_name(ch), name); /* "x" became "/x" */

    ipc_channel *other = attach("shm_spsc", name);
    assert_non_null(other);
    assert_int_equal(ipc_capacity(other), 5);  /* the creator's geometry, not the defaults */
    assert_int_equal(ipc_max_msg(other), 100);
    assert_ipc(ipc_send(ch, "hello", 5, 0, 0), IPC_OK);
    char buf[100];
    size_t got;
    assert_ipc(ipc_recv(other, buf, sizeof buf, &got, NULL, 1000), IPC_OK);
    assert_int_equal(got, 5);
    assert_memory_equal(buf, "hello", 5);

    ipc_channel *bad = NULL;
    assert_ipc(ipc_open("shm", &(ipc_config){ .name = name, .flags = IPC_ATTACH }, &bad), IPC_EINVAL);
    assert_ipc(ipc_open("shm", &(ipc_config){ .name = "/a/b" }, &bad), IPC_EINVAL);
    assert_ipc(ipc_open("shm", &(ipc_config){ .name = name }, &bad), IPC_ESYS); /* exists */
    assert_int_equal(errno, EEXIST);
    assert_ipc(ipc_open("shm", &(ipc_config){ .order = IPC_LIFO }, &bad), IPC_EINVAL);
    char missing[128];
    test_name(missing, sizeof missing);
    assert_ipc(ipc_open("shm", &(ipc_config){ .name = missing, .flags = IPC_ATTACH }, &bad), IPC_ESYS);
    assert_int_equal(errno, ENOENT);
    assert_null(bad);
    assert_ipc(ipc_open("spsc", &(ipc_config){ .name = name }, &bad), IPC_EINVAL);

    /* a forked child freeing its copy does not unlink; the attacher neither */
    pid_t pid = tl_fork(10);
    if (pid == 0) {
        ipc_free(ch);
        _exit(0);
    }
    assert_int_equal(tl_wait(pid, 10), 0);
    ipc_free(other);
    assert_true(dev_shm_has(name));
    ipc_free(ch);
    assert_false(dev_shm_has(name));

    ipc_channel *priv = tl_open("shm", NULL);
    assert_null(ipc_shm_name(priv)); /* private: fork only, no name */
    ipc_free(priv);
}

/* ---- a process killed while holding a ring lock ------------------------ */

static int hook_fd = -1;

static void stop_in_lock(ipc_channel *ch, int is_recv)
{
    (void)ch;
    char c = is_recv ? 'R' : 'S';
    if (write(hook_fd, &c, 1) != 1) _exit(3);
    for (;;) pause(); /* hold the lock until SIGKILL */
}

/* Start a child that enters send (is_recv = 0) or recv and stops inside it
 * with the side's lock held; returns once it is there. */
static pid_t child_stuck_in_lock(ipc_channel *ch, int is_recv)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = tl_fork(60);
    if (pid == 0) {
        close(fds[0]);
        hook_fd = fds[1];
        ipc__ring_set_lock_hook(stop_in_lock);
        char buf[64] = "from the doomed sender";
        size_t got;
        if (is_recv) ipc_recv(ch, buf, sizeof buf, &got, NULL, -1);
        else ipc_send(ch, buf, sizeof buf, 0, -1);
        _exit(4); /* never reached */
    }
    close(fds[1]);
    char c;
    assert_int_equal(read(fds[0], &c, 1), 1);
    assert_int_equal(c, is_recv ? 'R' : 'S');
    close(fds[0]);
    return pid;
}

static void test_consumer_killed_holding_lock(void **state)
{
    (void)state;
    ipc_channel *ch = tl_open("shm", &(ipc_config){ .capacity = 8, .max_msg = 64 });
    for (uint32_t i = 0; i < 3; i++) assert_ipc(ipc_send(ch, &i, sizeof i, 0, 0), IPC_OK);

    pid_t doomed = child_stuck_in_lock(ch, 1);
    /* the lock is really held: a receiver with a deadline gives up on time */
    uint32_t x;
    size_t got;
    int64_t t0 = ipc_now_ns();
    assert_ipc(ipc_recv(ch, &x, sizeof x, &got, NULL, 150), IPC_EEMPTY);
    int64_t ms = tl_ms_since(t0);
    if (ms < 149 || ms > 3000) fail_msg("150 ms timeout on a held lock took %lld ms", (long long)ms);

    /* a survivor queues up behind the lock, then the holder dies */
    pid_t survivor = tl_fork(60);
    if (survivor == 0) {
        if (ipc_recv(ch, &x, sizeof x, &got, NULL, 20000) != IPC_OK) _exit(1);
        _exit(got == sizeof x && x == 0 ? 0 : 2); /* the dead one's message was not lost */
    }
    tl_sleep_ms(100);
    kill(doomed, SIGKILL);
    assert_int_equal(tl_wait(doomed, 10), 128 + SIGKILL);
    assert_int_equal(tl_wait(survivor, 30), 0);

    for (uint32_t i = 1; i < 3; i++) {
        assert_ipc(ipc_recv(ch, &x, sizeof x, &got, NULL, 2000), IPC_OK);
        assert_int_equal(x, i);
    }
    assert_ipc(ipc_send(ch, "again", 5, 0, 1000), IPC_OK);
    char buf[8];
    assert_ipc(ipc_recv(ch, buf, sizeof buf, &got, NULL, 1000), IPC_OK);
    assert_int_equal(got, 5);
    ipc_free(ch);
}

static void test_producer_killed_holding_lock(void **state)
{
    (void)state;
    ipc_channel *ch = tl_open("shm", &(ipc_config){ .capacity = 8, .max_msg = 64 });
    pid_t doomed = child_stuck_in_lock(ch, 0);
    assert_ipc(ipc_send(ch, "x", 1, 0, 100), IPC_EFULL); /* lock held past the deadline */
    kill(doomed, SIGKILL);
    assert_int_equal(tl_wait(doomed, 10), 128 + SIGKILL);
    uint32_t x = 7;
    assert_ipc(ipc_send(ch, &x, sizeof x, 0, 2000), IPC_OK);
    size_t got;
    x = 0;
    assert_ipc(ipc_recv(ch, &x, sizeof x, &got, NULL, 2000), IPC_OK);
    assert_int_equal(x, 7); /* the dead sender's message never appeared */
    assert_ipc(ipc_recv(ch, &x, sizeof x, &got, NULL, 0), IPC_EEMPTY);
    ipc_free(ch);
}

/* ---- timeouts ------------------------------------------------------------ */

/* ---- close wakes waiters in other processes ----------------------------- */

static void test_close_wakes_other_processes(void **state)
{
    (void)state;
    ipc_channel *empty = tl_open("shm", &(ipc_config){ .capacity = 1, .max_msg = 8 });
    ipc_channel *full = tl_open("shm", &(ipc_config){ .capacity = 1, .max_msg = 8 });
    assert_ipc(ipc_send(full, "f", 1, 0, 0), IPC_OK);
    enum { BLOCKED = 4 };
    pid_t pid[BLOCKED];
    for (int i = 0; i < BLOCKED; i++) {
        pid[i] = tl_fork(30);
        if (pid[i] == 0) {
            char buf[8];
            size_t got;
            int rc = i < 3 ? ipc_recv(empty, buf, sizeof buf, &got, NULL, -1)
                           : ipc_send(full, "g", 1, 0, -1);
            _exit(rc == IPC_ECLOSED ? 0 : 1);
        }
    }
    tl_sleep_ms(300); /* let them reach the futex */
    assert_ipc(ipc_close(empty), IPC_OK);
    assert_ipc(ipc_close(full), IPC_OK);
    for (int i = 0; i < BLOCKED; i++) assert_int_equal(tl_wait(pid[i], 10), 0);
    char buf[8];
    size_t got;
    assert_ipc(ipc_recv(full, buf, sizeof buf, &got, NULL, 0), IPC_OK); /* drains first */
    assert_ipc(ipc_recv(full, buf, sizeof buf, &got, NULL, 0), IPC_ECLOSED);
    ipc_free(empty);
    ipc_free(full);
}


int main(void)
{
    static const struct CMUnitTest tests[] = {
        TL_CASE(test_value_lock_gives_exact_total),
        TL_CASE(test_value_racy_add_stays_in_bounds),
        TL_CASE(test_array_across_processes),
        TL_CASE(test_value_lock_and_bad_input),
        TL_CASE(test_value_lock_holder_killed),
        TL_CASE(test_spsc_threads_million),
        TL_CASE(test_shm_spsc_processes_million),
        TL_CASE(test_shm_mpmc_processes_by_name),
        TL_CASE(test_attach_rules),
        TL_CASE(test_consumer_killed_holding_lock),
        TL_CASE(test_producer_killed_holding_lock),
        TL_CASE(test_close_wakes_other_processes),
    };
    return cmocka_run_group_tests_name("shm", tests, NULL, NULL);
}
