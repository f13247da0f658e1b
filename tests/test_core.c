/*
 * test_core.c — the core's own promises (mechanisms/core/), checked from
 * below the mechanisms: SIGPIPE never touches the process's disposition, the
 * named-segment helper's lifecycle and name rule, the futex wait point, the
 * timespec helper and the atfork registry.
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "ipc_internal.h"
#include "engines/stream.h" /* the pipe's read end, to close it */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A pipe whose reader is gone, SIGPIPE at its default (death): the send
 * answers IPC_ECLOSED, the process lives, its disposition is still SIG_DFL
 * and no SIGPIPE is left pending (the library consumed the one it raised).
 * Failed before: opening a pipe set SIGPIPE to SIG_IGN for the process. */
static void test_sigpipe_disposition_untouched(void **state)
{
    (void)state;
    pid_t child = tl_fork(20);
    if (child == 0) {
        signal(SIGPIPE, SIG_DFL);
        ipc_channel *ch = NULL;
        if (ipc_open("pipe", NULL, &ch) != IPC_OK) _exit(2);
        struct sigaction sa;
        if (sigaction(SIGPIPE, NULL, &sa) != 0 || sa.sa_handler != SIG_DFL) _exit(3); /* open changed it */
        /* close the only read end: nobody can read any more */
        close(((ipc_stream *)ch)->rfd);
        int rc = ipc_send(ch, "x", 1, 0, 1000);
        if (rc != IPC_ECLOSED && rc != IPC_ESYS) { fprintf(stderr, "send: %d %s\n", rc, ipc_last_error()); _exit(4); }
        if (sigaction(SIGPIPE, NULL, &sa) != 0 || sa.sa_handler != SIG_DFL) _exit(5);
        sigset_t pending;
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE)) _exit(6);
        _exit(0);
    }
    int code = tl_wait(child, 20);
    if (code != 0) fail_msg("child exited %d (%s)", code, code == 128 + SIGPIPE ? "killed by SIGPIPE" : "see test");
}

static void test_segment_lifecycle_and_names(void **state)
{
    (void)state;
    char name[64];
    assert_ipc(ipc__unique_name(name, sizeof name, "/", ".seg"), IPC_OK);
    ipc_segment a, b;
    assert_ipc(ipc__segment_create(&a, name, 4096, 0), IPC_OK);
    assert_ipc(ipc__segment_create(&b, name, 4096, 0), IPC_ESYS);      /* exclusive */
    _Atomic uint32_t *magic = a.addr;
    /* not ready yet: the attacher waits IPC_SEGMENT_SETTLE_MS, then says so */
    assert_ipc(ipc__segment_attach(&b, name, 64, 0, 0xC0DEu), IPC_EINVAL);
    ipc__segment_ready(magic, 0xC0DEu);
    assert_ipc(ipc__segment_attach(&b, name + 1, 64, 0, 0xC0DEu), IPC_OK); /* "word" = "/word" */
    assert_int_equal(b.size, 4096);
    assert_int_equal(b.unlinker, 0);
    ((char *)b.addr)[100] = 'x';
    assert_int_equal(((char *)a.addr)[100], 'x');
    ipc__segment_release(&b);                   /* an attacher never unlinks */
    char path[128];
    snprintf(path, sizeof path, "/dev/shm%s", name);
    assert_int_equal(access(path, F_OK), 0);
    ipc__segment_release(&a);                   /* the creator does */
    assert_int_equal(access(path, F_OK), -1);
    assert_ipc(ipc__segment_attach(&b, name, 64, 0, 0xC0DEu), IPC_ESYS);
    assert_ipc(ipc__segment_create(&a, "/a/b", 64, 0), IPC_EINVAL);     /* one name rule */
    assert_ipc(ipc__segment_create(&a, "", 64, 0), IPC_EINVAL);
}

static void test_futex_wait_point(void **state)
{
    (void)state;
    ipc_futex wp = { 0 };
    ipc__futex_wake(&wp, false);                /* nobody registered: no bump */
    assert_int_equal(atomic_load(&wp.seq), 0);
    uint32_t seen = ipc__futex_prepare(&wp);
    assert_int_equal(ipc__futex_waiters(&wp), 1);
    ipc_deadline d;
    ipc__deadline_start(&d, 20);
    int64_t t0 = ipc_now_ns();
    assert_int_equal(ipc__futex_wait(&wp, seen, false, &d), 1); /* times out */
    assert_true(ipc_now_ns() - t0 >= 20 * 1000000LL);
    ipc__futex_wake(&wp, false);                /* a registered waiter: bump */
    assert_int_equal(atomic_load(&wp.seq), 1);
    assert_int_equal(ipc__futex_wait(&wp, seen, false, &d), 1); /* word moved: no sleep */
    ipc__futex_done(&wp);
    assert_int_equal(ipc__futex_waiters(&wp), 0);
}

static void test_timespec_helper(void **state)
{
    (void)state;
    struct timespec t = { .tv_sec = 1, .tv_nsec = 999999999 };
    ipc__timespec_add_ns(&t, 1);
    assert_int_equal(t.tv_sec, 2);
    assert_int_equal(t.tv_nsec, 0);
    ipc__timespec_add_ns(&t, 2500000000LL);
    assert_int_equal(t.tv_sec, 4);
    assert_int_equal(t.tv_nsec, 500000000);
    struct timespec u = t;
    ipc__timespec_add_ns(&u, 1);
    assert_true(ipc__timespec_before(&t, &u));
    assert_false(ipc__timespec_before(&u, &t));
}

static int prepared, in_child;
static void on_prepare(void) { prepared++; }
static void on_child(void) { in_child = 1; }

static void test_atfork_registry_once(void **state)
{
    (void)state;
    assert_ipc(ipc__atfork(on_prepare, NULL, on_child), IPC_OK);
    assert_ipc(ipc__atfork(on_prepare, NULL, on_child), IPC_OK); /* same set: no second entry */
    prepared = 0;
    pid_t child = fork();
    if (child == 0) _exit(in_child == 1 ? 0 : 1);
    assert_int_equal(tl_wait(child, 10), 0);
    assert_int_equal(prepared, 1);
}

/* ipc__fds_left counts what the descriptor table still takes.  And out of
 * descriptors (RLIMIT_NOFILE used up), every mechanism's open fails with an
 * error that says so, not one that blames another limit or nothing useful
 * (amqp said "no 'rabbitmq' user": it could not open /etc/passwd).
 * testlib's tl_out_of_descriptors_is_named goes through 0..N left for
 * posix_mq and websocket, whose texts came wrong with 1 and 3 left. */
static void test_out_of_descriptors_is_named(void **state)
{
    (void)state;
    pid_t child = tl_fork(30);
    if (child == 0) {
        struct rlimit rl = { 64, 64 };
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) _exit(2);
        if (ipc__fds_left(1) != 1) _exit(3);
        int last = -1, fd;
        while ((fd = open("/dev/null", O_RDONLY)) >= 0) last = fd;
        if (ipc__fds_left(1) != 0 || errno != EMFILE) _exit(4); /* and errno kept */
        close(last);
        close(last - 1);
        _exit(ipc__fds_left(8) == 2 && ipc__fds_left(8) == 2 ? 0 : 5);
    }
    assert_int_equal(tl_wait(child, 10), 0);
    size_t n;
    const ipc_mechanism *const *all = ipc_mechanisms(&n);
    int checked = 0;
    for (size_t i = 0; i < n; i++) {
        char why[512];
        if (tl_open_with_fds_left(all[i]->name, 0, why, sizeof why) == IPC_OK) continue; /* needs none */
        printf("    %-15s %s\n", all[i]->name, why);
        checked++;
        if (!tl_names_fd_limit(why)) fail_msg("%s: out of descriptors, open said: %s", all[i]->name, why);
    }
    assert_true(checked > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TL_CASE(test_sigpipe_disposition_untouched),
        TL_CASE(test_segment_lifecycle_and_names),
        TL_CASE(test_futex_wait_point),
        TL_CASE(test_timespec_helper),
        TL_CASE(test_atfork_registry_once),
        TL_CASE(test_out_of_descriptors_is_named),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
