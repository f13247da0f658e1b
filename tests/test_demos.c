/*
 * test_demos.c — every demo runs, ends by itself, exits 0 and prints the
 * lines its lesson is about.
 *
 * Each demo is fork/exec'ed with stdout and stderr on one pipe; the test
 * reads everything (with a deadline), waits for the exit status, and looks
 * for the key lines of the table below.  The demos are found in
 * $IPCPLAY_DEMOS_DIR, else in ../demos next to this program (build/tests ->
 * build/demos, build/san-address/tests -> build/san-address/demos).  A demo
 * that needs a broker this build left out (make BROKERS=..., so the registry
 * lacks it) is not built and is skipped, naming the broker; any other demo
 * that is not built is a failure.
 *
 *   build/tests/test_demos                 every demo
 *   build/tests/test_demos pipe_duplex     only the named ones
 */
#define _GNU_SOURCE
#include "testlib.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { TIME_LIMIT_S = 60, MAX_EXPECT = 6 };

typedef struct demo_case {
    const char *name;
    const char *expect[MAX_EXPECT]; /* substrings the output must contain */
} demo_case;

/* The demos built only with a broker (they include its header: make
 * BROKERS=... leaves them out with it). */
static const struct { const char *demo, *broker; } needs[] = {
    { "broadcast", "redis" }, { "broadcast", "zmq" }, { "ws_chat", "websocket" }, { "delay_queue", "redis" },
};

/* Demos whose lesson ThreadSanitizer's runtime changes (seen in tsan-2 of
 * 2026-12-05): skipped in a SANITIZE=thread build only, with the reason.
 * They run, with every check, in the plain, ASan and UBSan builds. */
#if defined(__SANITIZE_THREAD__)
static const struct { const char *demo, *why; } tsan_cannot[] = {
    { "mq_notify", "glibc starts the SIGEV_THREAD notification thread itself, not through the pthread_create "
                   "TSan intercepts, and TSan's allocator crashes in that thread (SIGSEGV in __tsan::user_calloc)" },
    { "eintr_restart", "TSan delays a signal handler until the interrupted call returns, so an SA_RESTART read "
                       "is restarted before the handler that feeds it runs, and blocks for good" },
    { "start_methods", "a worker forked by the forkserver also holds TSan's background thread, so it counts "
                       "2 threads where the lesson says 1" },
    { "ws_chat", "its forked consumers start websocket threads after a fork of a threaded process, which TSan "
                 "does not support: allowed (die_after_fork=0), they die \"ThreadSanitizer: dup thread with used "
                 "id\" (3 of 3 runs)" },
};
#endif

static const demo_case demos[] = {
    { "queue_workers", { "join() returned: all 10 items were task_done()", "got a sentinel, exiting",
                         "queue drained, exiting", "processed 10 of 10 items" } },
    { "bounded_queue", { "False  <- full() after two puts", "True  <- full() after three puts",
                         "Message queue is full, number of existing messages: 3  (put timeout 2000 ms",
                         "Message queue is full, number of existing messages: 3  (put timeout 0 ms",
                         "Message 1\nMessage 2\nMessage 3\n", "Message queue is empty" } },
    { "producer_consumer", { "got the sentinel, exiting", "it took all 5 items",
                             "queue closed and drained, exiting", "together they took 10 of 10 items" } },
    { "writer_reader", { "get C from queue", "all data has been written and read", "get d from queue",
                         "reader joined by itself" } },
    { "pool_manager", { "procq with a name: invalid argument", "attached by name to",
                        "got message from Queue: e", "the creator freed the queue", "is gone" } },
    { "odd_even", { "handled in this order: 1 3 5 7 9", "useless take-and-put-back",
                    "nothing put back; each consumer saw its numbers in order" } },
    { "queue_orders", { "gives:  0 (prio 1)  1 (prio 5)  2 (prio 1)  3 (prio 9)  4 (prio 5)",
                        "gives:  4 (prio 5)  3 (prio 9)  2 (prio 1)  1 (prio 5)  0 (prio 1)",
                        "gives:  3 (prio 9)  1 (prio 5)  4 (prio 5)  0 (prio 1)  2 (prio 1)" } },
    { "pipe_simplex", { "recv 9 from pipe", "EOFError", "9 messages, in order, none lost" } },
    { "pipe_duplex", { "received \"pong for ping 5\" on end A", "the parent is done, exiting",
                       "child joined after 5 round trips" } },
    { "signal_usr1", { "kill -USR1 ", "Signal handler called with signal SIGUSR1", "received 3 SIGUSR1" } },
    { "shared_value", { "\n1\n[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n", "without a lock:",
                        "with a lock:          400000  (exact)", "atomic fetch-and-add: 400000" } },
    { "event_wait", { "task: Event received!", "timed out (IPC_ETIMEDOUT)", "all 3 runners started on one set()" } },
    { "event_loop", { "report requested:", "pipe       says bye", "socketpair says bye",
                      "readings from" } },
    { "broadcast", { "\"too early\": 0 receivers", "9 deliveries for 3 publishes",
                     "3 messages taken in all: each by exactly one receiver", "the first ping the subscriber saw",
                     "got \"zmq headline 3\"" } },
    { "ws_chat", { "part 1: 3 consumers subscribed to \"chat\"", "relayed \"consumer 2: hello from process",
                   "notification 3 reached 3 subscribers", "consumer 2 saw 3 chat lines and 3 notifications",
                   "every consumer saw every chat line and every notification\n" } },
    { "delay_queue", { "received: reminder due in 200 ms\n", "received: reminder due in 600 ms\n",
                       "drained after close: due in an hour" } },
    { "placement", { "same core", "two cores", "unpinned", "round trip of a 64-byte message", "pipe " } },
    { "pitfall_join_drain", { "join timed out after 1 s", "could then finish and was joined",
                              "join succeeded: nothing was left in flight", "put #17 failed" } },
    { "pitfall_qsize", { "get_nowait() got the item", "get_nowait() said \"channel is empty\"",
                         "ipc_depth() = -1", "nothing within 100 ms" } },
    { "pitfall_pipe_buf", { "PIPE_BUF on this system: 4096 bytes", "(= PIPE_BUF): 0 mixed",
                            "records of 262144 bytes:" } },
    { "wait_strategies", { "mechanism  placement strategy", "pipe       one CPU   spin",
                           "pipe on one CPU: adaptive / block = ", "queue on one CPU: spin / block = ",
                           "adaptive backs off to blocking" } },
    { "pitfall_poll_wakeups", { "1. blocking readv (no timeout)", "2. poll + readv (can time out)",
                                "3. ipcplay pipe (timeouts, close)", "poll + readv costs" } },
    { "pitfall_sigpipe", { "killed by signal 13", "(errno EPIPE)", "ipc_send -> channel is closed" } },
    { "pitfall_coalesce", { "standard signals coalesce: 10 sent, 1 delivered",
                            "[value 8] [value 9]  -> 10", "queued: 10 sent, 10 delivered" } },
    { "pitfall_zombie", { "says state Z (zombie", "reaped: /proc/", "is gone without anyone collecting it" } },
    { "pitfall_unlink", { "left behind (", "still there: \"message 3\"", "after ipc_free: gone" } },
    /* the course's systems-programming topics (TLPI chapters 21-55) */
    { "sem_posix", { "at most 3 inside at once", "sem_timedwait: ETIMEDOUT (nobody posted)", "present before, gone after",
                     "sem_wait + sem_post: " } },
    { "sem_sysv", { "EAGAIN after 300 ms: the dead child still holds it",
                    "taken at once: the kernel undid the dead child's -1", "removed" } },
    { "shm_sysv", { "shm_nattch = 2", "\"still writable after IPC_RMID\" (the memory lives while attached)",
                    "after the last shmdt: segment", "is gone" } },
    { "mmap_file", { "read(2) of the file: \"written by child", "the file still says: \"written by child",
                     "the file keeps: \"written by child" } },
    { "file_lock", { "after we open+close a second fd: got the lock",
                     "after we open+close a second fd: refused (locked)",
                     "lock held (same description); on its own open(): refused (locked)",
                     "fcntl(F_SETLK): " } },
    { "mq_notify", { "EBUSY (one per queue)", "9 messages in 3 bursts: 9 received", "must be re-armed" } },
    { "eintr_restart", { "read() = -1, Interrupted system call", "restarted transparently",
                         "poll() = -1, Interrupted system call" } },
    { "signal_thread", { "got User defined signal 1", "got Terminated",
                         "workers processed 9 of 9 items, none interrupted; SIGUSR1 taken 3 times" } },
    { "reap_wnohang", { "SIGCHLD handler calls: 1 (for 5 children", "reaped", "(No child processes): nothing left" } },
    { "start_methods", { "fork       worker", "global = 42, threads = 1", "spawn      worker",
                         "forkserver worker", "global = 0, threads = 1",
                         "time to start an empty worker and see it exit (median of 20): fork " } },
    { "task_queue", { "result: 8 (attempts 1)", "finished after 3 attempts", "finished after 2 attempts: \"survived\"",
                      "dead letters: 1", "300 of 300 results right" } },
    { "loan", { "   64 KiB", " 1024 KiB", "copy / loan = ", "every message arrived with the right sum, both ways" } },
    { "joinable_queue", { ": 0 unfinished tasks", "queue closed, exiting", "refused (Python: ValueError)" } },
};

static char demo_dir[PATH_MAX];

static void path_of(const char *name, char *path, size_t size)
{
    int n = snprintf(path, size, "%s/%s", demo_dir, name);
    if (n < 0 || (size_t)n >= size) fail_msg("demo path too long");
}

/* Run the demo with at most one argument; see tl_run. */
static int run(const char *path, const char *arg, char **output)
{
    return tl_run((char *const[]){ (char *)path, (char *)arg, NULL }, TIME_LIMIT_S, output);
}

/* Is the demo's program there?  If not, it must be one that needs a broker
 * this build left out: say so (and the caller skips it); anything else is a
 * failure (a demo the build should have made). */
static bool built(const demo_case *dc, const char *path)
{
    if (access(path, X_OK) == 0) return true;
    for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++)
        if (strcmp(needs[i].demo, dc->name) == 0 && !ipc_find(needs[i].broker)) {
            print_message("%s: needs %s, which this build left out (make BROKERS=...): skipped\n", dc->name,
                          needs[i].broker);
            return false;
        }
    fail_msg("%s is not built (make demos)", path);
    return false;
}

static void test_demo(void **state)
{
    const demo_case *dc = *state;
    char path[PATH_MAX];
    path_of(dc->name, path, sizeof path);
    if (!built(dc, path)) skip();
#if defined(__SANITIZE_THREAD__)
    for (size_t i = 0; i < sizeof tsan_cannot / sizeof tsan_cannot[0]; i++)
        if (strcmp(tsan_cannot[i].demo, dc->name) == 0) {
            print_message("%s: skipped under ThreadSanitizer: %s\n", dc->name, tsan_cannot[i].why);
            skip();
        }
#endif
    tl_watchdog(TIME_LIMIT_S + 10);
    char *out;
    int code = run(path, NULL, &out);
    bool ok = code == 0;
    for (int i = 0; i < MAX_EXPECT && dc->expect[i]; i++) {
        if (!strstr(out, dc->expect[i])) {
            print_error("%s: missing in the output: \"%s\"\n", dc->name, dc->expect[i]);
            ok = false;
        }
    }
    if (!ok) {
        print_error("---- output of %s (exit code %d) ----\n%s---- end ----\n", dc->name, code, out);
        free(out);
        fail_msg("%s failed", dc->name);
    }
    free(out);
    tl_watchdog(0);
}

/* Run every built demo with `arg`: each must exit with `want_code` and
 * print `want` (at the start of its output when at_start). */
static void every_demo_answers(const char *arg, int want_code, const char *want, bool at_start)
{
    /* 10 s a demo: under a sanitizer on a busy machine even --help is slow */
    tl_watchdog((unsigned)(10 * (sizeof demos / sizeof demos[0])));
    int checked = 0;
    for (size_t i = 0; i < sizeof demos / sizeof demos[0]; i++) {
        char path[PATH_MAX];
        path_of(demos[i].name, path, sizeof path);
        if (!built(&demos[i], path)) continue;
        char *out;
        int code = run(path, arg, &out);
        bool seen = at_start ? strncmp(out, want, strlen(want)) == 0 : strstr(out, want) != NULL;
        if (code != want_code || !seen) {
            print_error("%s %s: exit %d (want %d), output:\n%s\n", demos[i].name, arg, code, want_code, out);
            free(out);
            fail_msg("%s %s: want exit %d and \"%s\"", demos[i].name, arg, want_code, want);
        }
        free(out);
        checked++;
    }
    assert_true(checked > 0);
    tl_watchdog(0);
}

/* Every demo answers --help with a usage line and exit 0, and runs nothing. */
static void test_help(void **state)
{
    (void)state;
    every_demo_answers("--help", 0, "usage: ", true);
}

/* Every demo refuses an argument it does not know (exit 2, naming it)
 * instead of running its default mode: `signal_usr1 --manaul` must not
 * quietly run the automatic lesson. */
static void test_unknown_argument(void **state)
{
    (void)state;
    every_demo_answers("--no-such-option", 2, "unknown argument '--no-such-option'", false);
}

static void find_demo_dir(const char *argv0)
{
    const char *env = getenv("IPCPLAY_DEMOS_DIR");
    if (env && *env) {
        snprintf(demo_dir, sizeof demo_dir, "%s", env);
        return;
    }
    char self[PATH_MAX];
    snprintf(self, sizeof self, "%s", argv0);
    snprintf(demo_dir, sizeof demo_dir, "%s/../demos", dirname(self));
}

static bool selected(int argc, char **argv, const char *name)
{
    if (argc < 2) return true;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0) return true;
    return false;
}

int main(int argc, char **argv)
{
    find_demo_dir(argv[0]);
    enum { N = sizeof demos / sizeof demos[0] };
    struct CMUnitTest tests[N + 2];
    size_t n = 0;
    for (size_t i = 0; i < N; i++) {
        if (!selected(argc, argv, demos[i].name)) continue;
        tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(test_demo, (void *)&demos[i]);
        tests[n].name = demos[i].name;
        n++;
    }
    if (argc < 2) tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_help);
    if (argc < 2) tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_unknown_argument);
    return _cmocka_run_group_tests("demos", tests, n, NULL, NULL);
}
