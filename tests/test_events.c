/*
 * test_events.c — the event object (set/clear/wait between threads, across
 * fork and between unrelated processes) and ipc_poller (one consumer
 * serving every pollable mechanism in the registry at once).
 *
 *   build/tests/test_events
 *   build/tests/test_events --event-child NAME   (used by the unrelated-
 *                                                  process test: attach, set)
 */
#define _GNU_SOURCE
#include "testlib.h"

#include "events/event.h"
#include "events/poll.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static ipc_event_obj *open_event(void)
{
    ipc_event_obj *ev = NULL;
    assert_ipc(ipc_event_open(&ev), IPC_OK);
    assert_non_null(ev);
    return ev;
}

static bool fd_readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* ---- a signal storm: proves that EINTR does not restart the clock ------- */

static void on_usr2(int sig) { (void)sig; }

typedef struct storm {
    pthread_t   target;
    atomic_bool stop;
    pthread_t   thread;
} storm;

static void *storm_main(void *arg)
{
    storm *s = arg;
    while (!atomic_load(&s->stop)) {
        pthread_kill(s->target, SIGUSR2);
        tl_sleep_ms(5);
    }
    return NULL;
}

/* Interrupt the calling thread with SIGUSR2 every 5 ms (no SA_RESTART, so
 * every blocking call in it returns EINTR) until storm_stop. */
static void storm_start(storm *s)
{
    struct sigaction sa = { .sa_handler = on_usr2 };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, NULL);
    s->target = pthread_self();
    atomic_store(&s->stop, false);
    s->thread = tl_thread(storm_main, s);
}

static void storm_stop(storm *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    signal(SIGUSR2, SIG_DFL);
}

/* ---- event: one thread ------------------------------------------------- */

static void test_event_set_clear_is_set(void **state)
{
    (void)state;
    ipc_event_obj *ev = open_event();
    assert_int_equal(ipc_event_is_set(ev), 0);
    assert_ipc(ipc_event_wait(ev, 0), IPC_ETIMEDOUT);
    assert_ipc(ipc_event_set(ev), IPC_OK);
    assert_ipc(ipc_event_set(ev), IPC_OK); /* idempotent */
    assert_int_equal(ipc_event_is_set(ev), 1);
    assert_ipc(ipc_event_wait(ev, 0), IPC_OK);
    assert_ipc(ipc_event_wait(ev, -1), IPC_OK); /* set: never blocks */
    assert_ipc(ipc_event_clear(ev), IPC_OK);
    assert_ipc(ipc_event_clear(ev), IPC_OK);
    assert_int_equal(ipc_event_is_set(ev), 0);
    assert_ipc(ipc_event_wait(ev, 0), IPC_ETIMEDOUT);

    /* the pollfd mirror starts from the flag as it is when first asked for */
    assert_ipc(ipc_event_set(ev), IPC_OK);
    int fd = ipc_event_pollfd(ev);
    assert_true(fd >= 0);
    assert_true(fd_readable(fd));
    assert_ipc(ipc_event_clear(ev), IPC_OK);
    assert_false(fd_readable(fd));
    assert_ipc(ipc_event_set(ev), IPC_OK);
    assert_true(fd_readable(fd));
    assert_int_equal(ipc_event_pollfd(ev), fd);
    ipc_event_free(ev);
}

static void test_event_wait_times_out(void **state)
{
    (void)state;
    tl_watchdog(20);
    ipc_event_obj *ev = open_event();
    int64_t t0 = ipc_now_ns();
    assert_ipc(ipc_event_wait(ev, 150), IPC_ETIMEDOUT);
    int64_t ms = tl_ms_since(t0);
    assert_true(ms >= 150);
    assert_true(ms < 5000);
    ipc_event_free(ev);
    tl_watchdog(0);
}

static void test_event_wait_deadline_survives_signals(void **state)
{
    (void)state;
    tl_watchdog(20);
    ipc_event_obj *ev = open_event();
    storm s;
    storm_start(&s);
    int64_t t0 = ipc_now_ns();
    int rc = ipc_event_wait(ev, 300);
    int64_t ms = tl_ms_since(t0);
    storm_stop(&s);
    assert_ipc(rc, IPC_ETIMEDOUT);
    /* ~60 interruptions: a clock restarted on each would never expire */
    assert_true(ms >= 300);
    assert_true(ms < 5000);
    ipc_event_free(ev);
    tl_watchdog(0);
}

static void test_event_bad_arguments(void **state)
{
    (void)state;
    assert_ipc(ipc_event_open(NULL), IPC_EINVAL);
    assert_ipc(ipc_event_set(NULL), IPC_EINVAL);
    assert_ipc(ipc_event_clear(NULL), IPC_EINVAL);
    assert_ipc(ipc_event_is_set(NULL), IPC_EINVAL);
    assert_ipc(ipc_event_wait(NULL, 0), IPC_EINVAL);
    assert_ipc(ipc_event_pollfd(NULL), IPC_EINVAL);
    assert_null(ipc_event_name(NULL));
    ipc_event_free(NULL);

    ipc_event_obj *ev = (ipc_event_obj *)0x1;
    assert_ipc(ipc_event_open_named("/a/b", 0, &ev), IPC_EINVAL);
    assert_null(ev);
    assert_ipc(ipc_event_open_named("a/b", 0, &ev), IPC_EINVAL);
    assert_ipc(ipc_event_open_named("/", 0, &ev), IPC_EINVAL);
    char long_name[400];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[0] = '/';
    long_name[sizeof long_name - 1] = '\0';
    assert_ipc(ipc_event_open_named(long_name, 0, &ev), IPC_EINVAL);
    assert_ipc(ipc_event_open_named(NULL, IPC_ATTACH, &ev), IPC_EINVAL);
    assert_ipc(ipc_event_open_named("/ipcplay-no-such-event", IPC_ATTACH, &ev), IPC_ESYS);
    assert_int_equal(errno, ENOENT);
    assert_ipc(ipc_event_open_named(NULL, 0x80, &ev), IPC_EINVAL);

    /* the one object-name rule (core/names.h): "word" gets its slash */
    const char *prefix = getenv("IPCPLAY_NAME_PREFIX");
    char word[128], slashed[130];
    snprintf(word, sizeof word, "%s.word-event.%ld", prefix && *prefix ? prefix : "ipcplay", (long)getpid());
    snprintf(slashed, sizeof slashed, "/%s", word);
    assert_ipc(ipc_event_open_named(word, 0, &ev), IPC_OK);
    assert_string_equal(ipc_event_name(ev), slashed);
    ipc_event_obj *other = NULL;
    assert_ipc(ipc_event_open_named(slashed, IPC_ATTACH, &other), IPC_OK);
    assert_ipc(ipc_event_set(other), IPC_OK);
    assert_int_equal(ipc_event_is_set(ev), 1);
    ipc_event_free(other);
    ipc_event_free(ev);
    assert_int_equal(shm_open(slashed, O_RDWR, 0), -1); /* the creator unlinked it */
}

/* ---- event: threads ---------------------------------------------------- */

typedef struct waiter {
    ipc_event_obj *ev;
    int            timeout_ms;
    atomic_int     tid;      /* set just before the waiter calls wait */
    int            rc;
} waiter;

static void *waiter_main(void *arg)
{
    waiter *w = arg;
    atomic_store(&w->tid, (int)gettid());
    w->rc = ipc_event_wait(w->ev, w->timeout_ms);
    return NULL;
}

/* Is thread tid of this process asleep in futex(2) right now?  The kernel
 * shows the system call a blocked thread is in (first field: its number). */
static bool asleep_in_futex(int tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    long nr = -1;
    int got = fscanf(f, "%ld", &nr);
    fclose(f);
    return got == 1 && nr == SYS_futex;
}

static void wait_until_asleep(waiter *w)
{
    while (atomic_load(&w->tid) == 0) tl_sleep_ms(1);
    while (!asleep_in_futex(atomic_load(&w->tid))) tl_sleep_ms(1);
}

static void test_event_wakes_every_waiting_thread(void **state)
{
    (void)state;
    tl_watchdog(30);
    ipc_event_obj *ev = open_event();
    enum { N = 4 };
    waiter w[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        w[i] = (waiter){ .ev = ev, .timeout_ms = -1, .rc = 99 };
        t[i] = tl_thread(waiter_main, &w[i]);
    }
    for (int i = 0; i < N; i++) wait_until_asleep(&w[i]);
    assert_ipc(ipc_event_set(ev), IPC_OK);
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_ipc(w[i].rc, IPC_OK);
    }
    ipc_event_free(ev);
    tl_watchdog(0);
}

/* threading.Event: a waiter blocked when set() happens returns True even if
 * clear() came before it ran.  The generation in the futex word does it. */
static void test_event_set_then_clear_still_wakes_waiter(void **state)
{
    (void)state;
    tl_watchdog(30);
    ipc_event_obj *ev = open_event();
    for (int round = 0; round < 5; round++) {
        waiter w = { .ev = ev, .timeout_ms = 20000, .rc = 99 };
        pthread_t t = tl_thread(waiter_main, &w);
        wait_until_asleep(&w);
        assert_ipc(ipc_event_set(ev), IPC_OK);
        assert_ipc(ipc_event_clear(ev), IPC_OK);
        pthread_join(t, NULL);
        assert_ipc(w.rc, IPC_OK);
        assert_int_equal(ipc_event_is_set(ev), 0);
    }
    ipc_event_free(ev);
    tl_watchdog(0);
}

/* ---- event: processes -------------------------------------------------- */

static void test_event_child_waits_parent_sets(void **state)
{
    (void)state;
    tl_watchdog(30);
    ipc_event_obj *ev = open_event();
    pid_t pid = tl_fork(20);
    if (pid == 0) {
        int rc = ipc_event_wait(ev, -1);
        _exit(rc == IPC_OK && ipc_event_is_set(ev) == 1 ? 0 : 1);
    }
    tl_sleep_ms(50); /* usually asleep by now; either way it must see the set */
    assert_ipc(ipc_event_set(ev), IPC_OK);
    assert_int_equal(tl_wait(pid, 20), 0);
    ipc_event_free(ev);
    tl_watchdog(0);
}

static void test_event_parent_waits_with_timeout(void **state)
{
    (void)state;
    tl_watchdog(30);
    ipc_event_obj *ev = open_event();
    ipc_event_obj *go = open_event();
    pid_t pid = tl_fork(20);
    if (pid == 0) {
        if (ipc_event_wait(go, 15000) != IPC_OK) _exit(1);
        _exit(ipc_event_set(ev) == IPC_OK ? 0 : 2);
    }
    /* nobody sets it yet: the timeout answers */
    int64_t t0 = ipc_now_ns();
    assert_ipc(ipc_event_wait(ev, 100), IPC_ETIMEDOUT);
    assert_true(tl_ms_since(t0) >= 100);
    assert_false(fd_readable(ipc_event_pollfd(ev)));
    assert_ipc(ipc_event_set(go), IPC_OK);
    t0 = ipc_now_ns();
    assert_ipc(ipc_event_wait(ev, 15000), IPC_OK);
    assert_true(tl_ms_since(t0) < 15000);
    /* the child's set() also raised the eventfd mirror we share with it */
    assert_true(fd_readable(ipc_event_pollfd(ev)));
    assert_int_equal(tl_wait(pid, 20), 0);
    ipc_event_free(go);
    ipc_event_free(ev);
    tl_watchdog(0);
}

/* Processes killed inside the event: waiters asleep in wait(), and setters
 * killed at random points of set/clear (with the eventfd mirror on, so a
 * death can land while holding the set/clear lock).  The survivors' waits
 * and sets must still work, each within its deadline, in children so a
 * hang is a failure (issue 12, defect 2: check every cross-process monitor). */
static void test_event_survives_killed_waiters_and_setters(void **state)
{
    (void)state;
    tl_watchdog(60);
    ipc_event_obj *ev = open_event();
    assert_true(ipc_event_pollfd(ev) >= 0); /* the mirror on: set/clear take the lock */
    for (int round = 0; round < 20; round++) {
        pid_t waiter = tl_fork(20);
        if (waiter == 0) { ipc_event_wait(ev, -1); _exit(1); }
        pid_t setter = tl_fork(20);
        if (setter == 0) {
            for (;;) {
                ipc_event_set(ev);
                ipc_event_clear(ev);
            }
        }
        tl_sleep_ms(1 + (unsigned)(round % 7));
        kill(waiter, SIGKILL);
        kill(setter, SIGKILL);
        tl_wait(waiter, 10);
        assert_int_equal(tl_wait(setter, 10), 128 + SIGKILL);
        int ready[2];
        assert_int_equal(pipe(ready), 0);
        pid_t survivor = tl_fork(20);
        if (survivor == 0) {
            close(ready[0]);
            if (ipc_event_clear(ev) != IPC_OK) _exit(2);
            if (ipc_event_wait(ev, 100) != IPC_ETIMEDOUT) _exit(3);
            if (write(ready[1], "r", 1) != 1) _exit(5);
            _exit(ipc_event_wait(ev, 5000) == IPC_OK ? 0 : 4);
        }
        close(ready[1]);
        char c;
        if (read(ready[0], &c, 1) != 1) c = 0; /* it failed: its status says why */
        close(ready[0]);
        pid_t poster = tl_fork(20);
        if (poster == 0) _exit(ipc_event_set(ev) == IPC_OK ? 0 : 5);
        int p = tl_wait(poster, 10), s = tl_wait(survivor, 10);
        if (p != 0 || s != 0) fail_msg("round %d: setter exited %d, waiter %d (137: hung, killed)", round, p, s);
        assert_int_equal(ipc_event_is_set(ev), 1);
        assert_true(fd_readable(ipc_event_pollfd(ev)));
        assert_ipc(ipc_event_clear(ev), IPC_OK);
        assert_false(fd_readable(ipc_event_pollfd(ev)));
    }
    ipc_event_free(ev);
    tl_watchdog(0);
}

/* The exec'd half of the next test: a process that shares nothing with the
 * creator but the event's name. */
static int event_child(const char *name)
{
    ipc_event_obj *ev = NULL;
    if (ipc_event_open_named(name, IPC_ATTACH, &ev) != IPC_OK) {
        fprintf(stderr, "event child: %s\n", ipc_last_error());
        return 2;
    }
    int rc = ipc_event_set(ev);
    ipc_event_free(ev); /* an attacher never unlinks */
    return rc == IPC_OK ? 0 : 3;
}

static void test_event_named_between_unrelated_processes(void **state)
{
    (void)state;
    tl_watchdog(30);
    ipc_event_obj *ev = NULL;
    assert_ipc(ipc_event_open_named(NULL, 0, &ev), IPC_OK);
    const char *name = ipc_event_name(ev);
    assert_non_null(name);
    assert_true(name[0] == '/');
    const char *prefix = getenv("IPCPLAY_NAME_PREFIX");
    assert_true(strncmp(name + 1, prefix && *prefix ? prefix : "ipcplay",
                        strlen(prefix && *prefix ? prefix : "ipcplay")) == 0);
    assert_ipc(ipc_event_pollfd(ev), IPC_ENOTSUP); /* a named event has none */

    /* a forked child freeing its inherited handle does not unlink the name */
    pid_t pid = tl_fork(20);
    if (pid == 0) {
        ipc_event_free(ev);
        _exit(0);
    }
    assert_int_equal(tl_wait(pid, 20), 0);
    int fd = shm_open(name, O_RDWR, 0);
    assert_true(fd >= 0);
    close(fd);

    pid = tl_fork(20);
    if (pid == 0) {
        execl("/proc/self/exe", "test_events", "--event-child", name, (char *)NULL);
        _exit(127);
    }
    assert_ipc(ipc_event_wait(ev, 15000), IPC_OK);
    assert_int_equal(tl_wait(pid, 20), 0);

    char keep[256];
    snprintf(keep, sizeof keep, "%s", name);
    ipc_event_free(ev); /* the creator unlinks */
    assert_int_equal(shm_open(keep, O_RDWR, 0), -1);
    assert_int_equal(errno, ENOENT);
    tl_watchdog(0);
}

/* ---- poller ------------------------------------------------------------ */

static ipc_channel *open_ch(const char *mech)
{
    ipc_channel *ch = NULL;
    assert_ipc(ipc_open(mech, NULL, &ch), IPC_OK);
    return ch;
}

static ipc_poller *open_poller(void)
{
    ipc_poller *p = NULL;
    assert_ipc(ipc_poller_open(&p), IPC_OK);
    assert_non_null(p);
    return p;
}

/* A poller already watching ch. */
static ipc_poller *poller_on(ipc_channel *ch, void *user)
{
    ipc_poller *p = open_poller();
    assert_ipc(ipc_poller_add(p, ch, user), IPC_OK);
    return p;
}

static void test_poll_channels_without_pollfd_are_refused(void **state)
{
    (void)state;
    ipc_poller *p = open_poller();
    ipc_channel *q = open_ch("procq"), *pipe = open_ch("pipe");
    assert_ipc(ipc_poller_add(p, q, NULL), IPC_ENOTSUP);
    assert_non_null(strstr(ipc_last_error(), "procq"));
    assert_int_equal(ipc_poller_count(p), 0);

    ipc_channel *both[] = { pipe, q };
    bool ready[2];
    assert_ipc(ipc_poll(both, 2, ready, 0), IPC_ENOTSUP);
    assert_non_null(strstr(ipc_last_error(), "chs[1]"));
    assert_non_null(strstr(ipc_last_error(), "procq"));
    ipc_free(q);
    ipc_free(pipe);
    ipc_poller_free(p);
}

static void test_poll_bad_arguments(void **state)
{
    (void)state;
    ipc_poller *p = open_poller();
    ipc_channel *pipe = open_ch("pipe");
    ipc_ready r[4];
    assert_ipc(ipc_poller_open(NULL), IPC_EINVAL);
    assert_ipc(ipc_poller_add(NULL, pipe, NULL), IPC_EINVAL);
    assert_ipc(ipc_poller_add(p, NULL, NULL), IPC_EINVAL);
    assert_ipc(ipc_poller_add_fd(p, -1, NULL), IPC_EINVAL);
    assert_ipc(ipc_poller_add_fd(p, 12345, NULL), IPC_EINVAL); /* not open */
    assert_ipc(ipc_poller_wait(p, r, 4, 0), IPC_EINVAL);        /* empty poller */
    assert_ipc(ipc_poller_add(p, pipe, NULL), IPC_OK);
    assert_ipc(ipc_poller_add(p, pipe, NULL), IPC_EINVAL);      /* twice */
    assert_ipc(ipc_poller_wait(NULL, r, 4, 0), IPC_EINVAL);
    assert_ipc(ipc_poller_wait(p, NULL, 4, 0), IPC_EINVAL);
    assert_ipc(ipc_poller_wait(p, r, 0, 0), IPC_EINVAL);
    assert_ipc(ipc_poller_remove(p, pipe), IPC_OK);
    assert_ipc(ipc_poller_remove(p, pipe), IPC_EINVAL);         /* not there */
    assert_ipc(ipc_poller_remove_fd(p, 3), IPC_EINVAL);
    assert_ipc(ipc_poll(NULL, 1, (bool[1]){ 0 }, 0), IPC_EINVAL);
    assert_ipc(ipc_poll(&pipe, 0, (bool[1]){ 0 }, 0), IPC_EINVAL);
    assert_int_equal(ipc_poller_count(NULL), 0);
    ipc_poller_free(NULL);
    ipc_free(pipe);
    ipc_poller_free(p);
}

static void test_poll_reports_the_ready_channel(void **state)
{
    (void)state;
    tl_watchdog(30);
    ipc_channel *a = open_ch("pipe"), *b = open_ch("socketpair");
    ipc_poller *p = open_poller();
    assert_ipc(ipc_poller_add(p, a, "a"), IPC_OK);
    assert_ipc(ipc_poller_add(p, b, "b"), IPC_OK);
    assert_int_equal(ipc_poller_count(p), 2);
    ipc_ready r[4];

    int64_t t0 = ipc_now_ns();
    assert_ipc(ipc_poller_wait(p, r, 4, 100), IPC_ETIMEDOUT);
    assert_true(tl_ms_since(t0) >= 100);

    assert_ipc(ipc_send(b, "hi", 2, 0, 1000), IPC_OK);
    assert_int_equal(ipc_poller_wait(p, r, 4, 5000), 1);
    assert_ptr_equal(r[0].ch, b);
    assert_string_equal(r[0].user, "b");
    assert_int_equal(r[0].fd, ipc_pollfd(b));

    /* the one-shot form says the same */
    ipc_channel *both[] = { a, b };
    bool ready[2] = { true, false };
    assert_int_equal(ipc_poll(both, 2, ready, 1000), 1);
    assert_false(ready[0]);
    assert_true(ready[1]);

    /* removed: no longer reported */
    assert_ipc(ipc_poller_remove(p, b), IPC_OK);
    assert_ipc(ipc_poller_wait(p, r, 4, 50), IPC_ETIMEDOUT);
    ipc_free(a);
    ipc_free(b);
    ipc_poller_free(p);
    tl_watchdog(0);
}

/* The contract of poll.h, shown on a pipe: after "ready", drain with
 * timeout 0 until IPC_EEMPTY.  A stream receive takes every frame the
 * kernel holds into the channel's shared window in one read (a killed
 * receiver loses none of them: engines/stream.c), so after one receive the
 * fd is quiet with 9 messages still waiting; a caller that polled again
 * here would sleep on them.  Draining finds them in order, and the fd stays
 * quiet after. */
static void test_poll_drain_contract_on_a_stream(void **state)
{
    (void)state;
    tl_watchdog(30);
    ipc_channel *ch = open_ch("pipe");
    ipc_poller *p = poller_on(ch, NULL);
    for (uint32_t i = 0; i < 10; i++) assert_ipc(ipc_send(ch, &i, sizeof i, 0, 1000), IPC_OK);
    ipc_ready r[1];
    assert_int_equal(ipc_poller_wait(p, r, 1, 5000), 1);

    uint32_t v;
    size_t len;
    assert_ipc(ipc_recv(ch, &v, sizeof v, &len, NULL, 0), IPC_OK);
    assert_int_equal(v, 0);
    assert_ipc(ipc_poller_wait(p, r, 1, 50), IPC_ETIMEDOUT); /* quiet fd, 9 frames in the window */

    uint32_t next = 1;
    int rc;
    while ((rc = ipc_recv(ch, &v, sizeof v, &len, NULL, 0)) == IPC_OK) assert_int_equal(v, next++);
    assert_ipc(rc, IPC_EEMPTY);
    assert_int_equal(next, 10);
    assert_ipc(ipc_poller_wait(p, r, 1, 50), IPC_ETIMEDOUT); /* drained: quiet */
    ipc_free(ch);
    ipc_poller_free(p);
    tl_watchdog(0);
}

static void *set_later(void *arg)
{
    tl_sleep_ms(50);
    ipc_event_set(arg);
    return NULL;
}

/* An event's mirror fd sits in the same poller as channels. */
static void test_poll_mixes_channels_and_an_event(void **state)
{
    (void)state;
    tl_watchdog(30);
    ipc_channel *ch = open_ch("pipe");
    ipc_event_obj *ev = open_event();
    ipc_poller *p = poller_on(ch, "pipe");
    assert_ipc(ipc_poller_add_fd(p, ipc_event_pollfd(ev), "event"), IPC_OK);
    pthread_t t = tl_thread(set_later, ev);
    ipc_ready r[2];
    int n = ipc_poller_wait(p, r, 2, 10000);
    pthread_join(t, NULL);
    assert_int_equal(n, 1);
    assert_null(r[0].ch);
    assert_string_equal(r[0].user, "event");
    /* level: still ready while set, quiet once cleared */
    assert_int_equal(ipc_poller_wait(p, r, 2, 0), 1);
    assert_ipc(ipc_event_clear(ev), IPC_OK);
    assert_ipc(ipc_poller_wait(p, r, 2, 0), IPC_ETIMEDOUT);
    assert_ipc(ipc_poller_remove_fd(p, ipc_event_pollfd(ev)), IPC_OK);
    assert_int_equal(ipc_poller_count(p), 1);
    ipc_poller_free(p);
    ipc_event_free(ev);
    ipc_free(ch);
    tl_watchdog(0);
}

static void test_poll_deadline_survives_signals(void **state)
{
    (void)state;
    tl_watchdog(20);
    ipc_channel *ch = open_ch("pipe");
    ipc_poller *p = poller_on(ch, NULL);
    ipc_ready r[1];
    storm s;
    storm_start(&s);
    int64_t t0 = ipc_now_ns();
    int rc = ipc_poller_wait(p, r, 1, 300);
    int64_t ms = tl_ms_since(t0);
    storm_stop(&s);
    assert_ipc(rc, IPC_ETIMEDOUT);
    assert_true(ms >= 300);
    assert_true(ms < 5000);
    ipc_poller_free(p);
    ipc_free(ch);
    tl_watchdog(0);
}

/* ---- one consumer, every pollable mechanism ---------------------------- */

enum { PER_CHANNEL = 300, MAX_SERVED = 32, MSG_LEN = 24 };

typedef struct served {
    const ipc_mechanism *m;
    ipc_channel         *ch;
    uint32_t             index, got;
    pthread_t            thread;  /* producer thread (mechanisms without FORK) */
    pid_t                child;   /* producer process (mechanisms with FORK)   */
} served;

/* id = channel << 16 | sequence: the consumer checks both */
static int produce(served *s)
{
    unsigned char msg[MSG_LEN];
    for (uint32_t i = 0; i < PER_CHANNEL; i++) {
        uint32_t id = s->index << 16 | i;
        tl_fill(msg, sizeof msg, id);
        memcpy(msg, &id, sizeof id);
        int rc = ipc_send(s->ch, msg, sizeof msg, 0, 20000);
        if (rc != IPC_OK) return rc;
        if (i % 37 == 0) tl_sleep_ms(1); /* let the consumer find it idle sometimes */
    }
    return IPC_OK;
}

static void *producer_thread(void *arg)
{
    return (void *)(intptr_t)produce(arg);
}

static void consume(served *s)
{
    unsigned char buf[256];
    size_t len;
    int rc;
    while ((rc = ipc_recv(s->ch, buf, sizeof buf, &len, NULL, 0)) == IPC_OK) {
        uint32_t id;
        assert_int_equal(len, MSG_LEN);
        memcpy(&id, buf, sizeof id);
        if (id >> 16 != s->index) fail_msg("%s: message of channel %u", s->m->name, id >> 16);
        if ((s->m->caps & IPC_CAP_FIFO) && (id & 0xFFFF) != s->got)
            fail_msg("%s: message %u arrived as number %u", s->m->name, id & 0xFFFF, s->got);
        unsigned char want[MSG_LEN];
        tl_fill(want, sizeof want, id);
        if (memcmp(buf + sizeof id, want + sizeof id, MSG_LEN - sizeof id) != 0)
            fail_msg("%s: message %u corrupted", s->m->name, id & 0xFFFF);
        s->got++;
    }
    if (rc != IPC_EEMPTY)
        fail_msg("%s: recv after %u messages: %s (%s)", s->m->name, s->got, ipc_strerror(rc), ipc_last_error());
}

static void test_poll_serves_every_pollable_mechanism(void **state)
{
    (void)state;
    tl_watchdog(120);
    size_t count;
    const ipc_mechanism *const *all = ipc_mechanisms(&count);
    served s[MAX_SERVED];
    size_t n = 0;
    for (size_t i = 0; i < count && n < MAX_SERVED; i++) {
        const ipc_mechanism *m = all[i];
        if (!(m->caps & IPC_CAP_POLL) || !(m->caps & (IPC_CAP_FORK | IPC_CAP_THREADS))) continue;
        if (m->max_msg_limit < MSG_LEN) {
            printf("  [poll] %s: skipped, carries at most %zu bytes\n", m->name, m->max_msg_limit);
            continue;
        }
        ipc_channel *ch = NULL;
        if (ipc_open(m->name, NULL, &ch) != IPC_OK) { /* e.g. a broker without its server */
            printf("  [poll] %s: skipped, cannot open here: %s\n", m->name, ipc_last_error());
            continue;
        }
        s[n] = (served){ .m = m, .ch = ch, .index = (uint32_t)n, .child = -1 };
        n++;
    }
    /* While fewer than three pollable mechanisms are registered, serve a
     * second channel of one of them so that three channels still compete. */
    size_t kinds = n;
    assert_true(kinds >= 2); /* pipe and socketpair at least */
    for (size_t i = 0; n < 3; i++) {
        s[n] = (served){ .m = s[i].m, .index = (uint32_t)n, .child = -1 };
        assert_ipc(ipc_open(s[n].m->name, NULL, &s[n].ch), IPC_OK);
        n++;
    }
    printf("  [poll] one consumer serving %zu channels of %zu mechanisms:", n, kinds);
    for (size_t i = 0; i < n; i++) printf(" %s", s[i].m->name);
    printf("\n");
    fflush(stdout); /* or the forked producers may print it again */

    ipc_poller *p = open_poller();
    for (size_t i = 0; i < n; i++) assert_ipc(ipc_poller_add(p, s[i].ch, &s[i]), IPC_OK);

    /* processes first (fork with no extra threads running), then threads */
    for (size_t i = 0; i < n; i++) {
        if (!(s[i].m->caps & IPC_CAP_FORK)) continue;
        s[i].child = tl_fork(60);
        if (s[i].child == 0) _exit(produce(&s[i]) == IPC_OK ? 0 : 1);
    }
    for (size_t i = 0; i < n; i++)
        if (s[i].child < 0) s[i].thread = tl_thread(producer_thread, &s[i]);

    size_t done = 0, wakeups = 0;
    while (done < n) {
        ipc_ready r[MAX_SERVED];
        int k = ipc_poller_wait(p, r, MAX_SERVED, 30000);
        if (k < 0) {
            for (size_t i = 0; i < n; i++)
                printf("  [poll] %s: %u of %d received\n", s[i].m->name, s[i].got, PER_CHANNEL);
            fail_msg("ipc_poller_wait: %s (%s)", ipc_strerror(k), ipc_last_error());
        }
        wakeups++;
        for (int j = 0; j < k; j++) {
            served *sv = r[j].user;
            if (sv->got == PER_CHANNEL) continue;
            consume(sv); /* drain until IPC_EEMPTY: the contract of poll.h */
            if (sv->got == PER_CHANNEL) {
                done++;
                assert_ipc(ipc_poller_remove(p, sv->ch), IPC_OK);
            }
        }
    }
    printf("  [poll] %zu messages in %zu wake-ups\n", n * PER_CHANNEL, wakeups);

    for (size_t i = 0; i < n; i++) {
        if (s[i].child > 0) {
            assert_int_equal(tl_wait(s[i].child, 30), 0);
        } else {
            void *ret;
            pthread_join(s[i].thread, &ret);
            assert_int_equal((intptr_t)ret, IPC_OK);
        }
        assert_int_equal(s[i].got, PER_CHANNEL);
        ipc_free(s[i].ch);
    }
    ipc_poller_free(p);
    tl_watchdog(0);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--event-child") == 0) return event_child(argv[2]);

    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_set_clear_is_set),
        cmocka_unit_test(test_event_wait_times_out),
        cmocka_unit_test(test_event_wait_deadline_survives_signals),
        cmocka_unit_test(test_event_bad_arguments),
        cmocka_unit_test(test_event_wakes_every_waiting_thread),
        cmocka_unit_test(test_event_set_then_clear_still_wakes_waiter),
        cmocka_unit_test(test_event_child_waits_parent_sets),
        cmocka_unit_test(test_event_parent_waits_with_timeout),
        cmocka_unit_test(test_event_survives_killed_waiters_and_setters),
        cmocka_unit_test(test_event_named_between_unrelated_processes),
        cmocka_unit_test(test_poll_channels_without_pollfd_are_refused),
        cmocka_unit_test(test_poll_bad_arguments),
        cmocka_unit_test(test_poll_reports_the_ready_channel),
        cmocka_unit_test(test_poll_drain_contract_on_a_stream),
        cmocka_unit_test(test_poll_mixes_channels_and_an_event),
        cmocka_unit_test(test_poll_deadline_survives_signals),
        cmocka_unit_test(test_poll_serves_every_pollable_mechanism),
    };
    return cmocka_run_group_tests_name("events", tests, NULL, NULL);
}
