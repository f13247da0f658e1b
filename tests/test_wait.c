/*
 * test_wait.c — the wait strategies' promises that the conformance suite
 * (which runs every case under every strategy) cannot see from one call:
 *
 *   no lost wake-up   >= 10^6 messages from a sender that bursts and pauses,
 *                     to a receiver that keeps changing how it waits: it
 *                     spins (nowait retries), blocks (timeout -1) and times
 *                     out (1 ms timeouts while the sender pauses), in phases
 *                     of a few hundred messages.  Every message must arrive,
 *                     in order and intact, before the watchdog; the channel is
 *                     opened under each strategy its mechanism supports, and
 *                     the mechanisms are the ones that wait on a futex word
 *                     or a monitor (where a wake-up can be lost);
 *   wake elision      a sender never pays a wake-up system call when nobody
 *                     sleeps: 3*10^5 send+receive pairs in one thread (nobody
 *                     can be asleep) make no FUTEX_WAKE at all.  The futex
 *                     calls are counted by interposing syscall(2): the
 *                     library is linked statically into this program, so
 *                     its syscall(SYS_futex, ...) calls land here first;
 *   one wake a round  a receiver woken but not yet running (SIGSTOPped)
 *                     costs its sender one FUTEX_WAKE, not one per send,
 *                     on every forked-receiver mechanism that sleeps on a
 *                     futex word (monitor and shared-ring carriers);
 *   one futex         every futex system call the library makes goes through
 *                     core/futex.c (the one wait point): the interposer's
 *                     count equals the count core/futex.c keeps in the
 *                     tests' build (ipc__futex_syscalls, IPC_TESTING), over
 *                     sleeps, wakes and closes on every futex mechanism.
 *
 * Runs under ASan and TSan (make test SANITIZE=address|thread); the message
 * count is smaller there only where the sanitizer makes a phase crawl.
 *
 *   build/tests/test_wait
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "core/futex.h" /* ipc__futex_syscalls: tests link the -DIPC_TESTING copy */

#include <dlfcn.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- counting the library's futex calls: futex_calls, futex_wakes ---- */
#include "futex_count.h"

/* ---- the alternating receiver ------------------------------------------------ */


enum { PHASE = 300, MSG = 16 };

typedef struct run {
    ipc_channel *ch;
    long         total;
    long         timeouts, spins, blocks; /* what the receiver did, by kind */
    long         bad;                     /* first wrong message + 1, or 0    */
    _Atomic int  done;
} run;

static void put_seq(unsigned char *b, long seq)
{
    memcpy(b, &seq, sizeof seq);
    memset(b + sizeof seq, (int)(seq & 0xff), MSG - sizeof seq);
}

static bool seq_ok(const unsigned char *b, size_t len, long want)
{
    long seq;
    memcpy(&seq, b, sizeof seq);
    if (len != MSG || seq != want) return false;
    for (size_t i = sizeof seq; i < MSG; i++)
        if (b[i] != (unsigned char)(want & 0xff)) return false;
    return true;
}

/* The receiver: phase k % 3 spins, blocks, or waits 1 ms at a time. */
static void *receiver(void *arg)
{
    run *r = arg;
    unsigned char b[MSG];
    for (long i = 0; i < r->total; i++) {
        int how = (int)((i / PHASE) % 3), rc;
        size_t len = 0;
        for (;;) {
            rc = ipc_recv(r->ch, b, sizeof b, &len, NULL, how == 0 ? 0 : how == 1 ? -1 : 1);
            if (rc != IPC_EEMPTY) break;
            if (how == 0) r->spins++;
            else r->timeouts++;
        }
        if (how == 1) r->blocks++;
        if (rc != IPC_OK || !seq_ok(b, len, i)) {
            if (!r->bad) r->bad = i + 1;
            fprintf(stderr, "message %ld: rc %d (%s), %zu bytes: %s\n", i, rc, ipc_strerror(rc), len,
                    ipc_last_error());
            break;
        }
    }
    atomic_store(&r->done, 1);
    return NULL;
}

/* Send `total` messages: bursts, and a pause now and then long enough for
 * the receiver to time out (placed in its timed phase: the channel holds
 * fewer messages than a phase, so the receiver is there when it runs dry). */
static void sender(run *r)
{
    unsigned char b[MSG];
    for (long i = 0; i < r->total; i++) {
        put_seq(b, i);
        assert_ipc(ipc_send(r->ch, b, sizeof b, 0, -1), IPC_OK);
        if (i % (9 * PHASE) == 2 * PHASE + 50) {
            tl_sleep_ms(2);                      /* in its 1 ms phase: the receiver times out */
        } else if (i % 97 == 0) {                /* a short gap (~5 µs): it spins, or goes */
            int64_t until = ipc_now_ns() + 5000; /* to sleep as the message comes          */
            while (ipc_now_ns() < until) {}
        }
    }
}

static void alternate(const char *mech, int wait, long total)
{
    ipc_channel *ch = tl_open(mech, &(ipc_config){ .wait = wait, .capacity = 64, .max_msg = 64 });
    run r = { .ch = ch, .total = total };
    pthread_t t = tl_thread(receiver, &r);
    sender(&r);
    /* The watchdog (TL_CASE) turns a lost wake-up into a failure, not a hang. */
    pthread_join(t, NULL);
    ipc_free(ch);
    printf("  %s/%s: %ld messages; receiver spun %ld, blocked %ld, timed out %ld times\n", mech,
           ipc_wait_name(wait), total, r.spins, r.blocks, r.timeouts);
    if (r.bad) fail_msg("%s/%s: message %ld lost or wrong", mech, ipc_wait_name(wait), r.bad - 1);
    assert_true(r.blocks > 0);
    assert_true(r.timeouts > 0); /* the 2 ms pauses outlast the 1 ms timeouts */
}

/* Every strategy mech supports: `most` messages under its default one, `rest` under the others. */
static void alternate_all(const char *mech, long most, long rest)
{
    const ipc_mechanism *m = ipc_find(mech);
    assert_non_null(m);
    unsigned waits = m->waits ? m->waits : IPC_WAIT_BIT(IPC_WAIT_BLOCK);
    int dflt = m->wait_default ? m->wait_default : IPC_WAIT_BLOCK;
    for (int w = IPC_WAIT_BLOCK; w <= IPC_WAIT_ADAPTIVE; w++)
        if (waits & IPC_WAIT_BIT(w)) alternate(mech, w, w == dflt ? most : rest);
}

/* The ring: the futex word of the fastest path, 10^6 messages under its
 * default strategy (adaptive: spin rounds, then the futex), fewer under the others. */
static void test_no_lost_wakeup_spsc(void **state)
{
    (void)state;
    alternate_all("spsc", 1000000, 100000);
}

static void test_no_lost_wakeup_shm_spsc(void **state)
{
    (void)state;
    alternate_all("shm_spsc", 100000, 50000);
}

static void test_no_lost_wakeup_shm(void **state)
{
    (void)state;
    alternate_all("shm", 30000, 30000);
}

/* procq: futex wait points behind a lock; queue: a condition variable. */
static void test_no_lost_wakeup_procq(void **state)
{
    (void)state;
    alternate_all("procq", 30000, 30000);
}

static void test_no_lost_wakeup_queue(void **state)
{
    (void)state;
    alternate_all("queue", 30000, 30000);
}

/* ---- wake elision ------------------------------------------------------------ */

/* One thread sends and receives: nobody is ever asleep on the channel, so
 * not one wake-up system call may be made. */
static void single_thread_pairs(const char *mech, int wait, long pairs)
{
    ipc_channel *ch = tl_open(mech, &(ipc_config){ .wait = wait, .capacity = 64, .max_msg = 64 });
    unsigned char b[MSG], got[MSG];
    long before = atomic_load(&futex_wakes);
    for (long i = 0; i < pairs; i++) {
        size_t len = 0;
        put_seq(b, i);
        assert_ipc(ipc_send(ch, b, sizeof b, 0, -1), IPC_OK);
        assert_ipc(ipc_recv(ch, got, sizeof got, &len, NULL, -1), IPC_OK);
        if (!seq_ok(got, len, i)) fail_msg("%s: message %ld wrong", mech, i);
    }
    long wakes = atomic_load(&futex_wakes) - before;
    ipc_free(ch);
    printf("  %s/%s: %ld send+recv pairs, %ld FUTEX_WAKE calls\n", mech, ipc_wait_name(wait), pairs, wakes);
    assert_int_equal(wakes, 0);
}

static void test_no_wake_when_nobody_sleeps(void **state)
{
    (void)state;
    static const char *const mechs[] = { "spsc", "shm_spsc", "shm", "procq" };
    for (size_t i = 0; i < sizeof mechs / sizeof mechs[0]; i++) {
        const ipc_mechanism *m = ipc_find(mechs[i]);
        assert_non_null(m);
        unsigned waits = m->waits ? m->waits : IPC_WAIT_BIT(IPC_WAIT_BLOCK);
        for (int w = IPC_WAIT_BLOCK; w <= IPC_WAIT_ADAPTIVE; w++)
            if (waits & IPC_WAIT_BIT(w)) single_thread_pairs(mechs[i], w, TL_SANITIZED ? 100000 : 300000);
    }
}

/* The counter itself works: a sleeper on the ring is woken by a system
 * call (otherwise "0 wakes" above would prove nothing). */
static void *late_sender(void *arg)
{
    tl_sleep_ms(50);
    unsigned char b[MSG];
    put_seq(b, 0);
    assert_ipc(ipc_send(arg, b, sizeof b, 0, -1), IPC_OK);
    return NULL;
}

static void test_sleeper_is_woken_by_a_syscall(void **state)
{
    (void)state;
    ipc_channel *ch = tl_open("spsc", &(ipc_config){ .capacity = 64, .max_msg = 64 });
    long before = atomic_load(&futex_wakes);
    pthread_t t = tl_thread(late_sender, ch);
    unsigned char got[MSG];
    size_t len = 0;
    assert_ipc(ipc_recv(ch, got, sizeof got, &len, NULL, 5000), IPC_OK);
    pthread_join(t, NULL);
    assert_true(seq_ok(got, len, 0));
    assert_true(atomic_load(&futex_wakes) - before >= 1);
    ipc_free(ch);
}

/* ---- one futex implementation ------------------------------------------------ */

/* ---- one wake per round of sleepers ------------------------------------------ */

/* True once process pid sleeps in futex(2) (its /proc syscall line starts
 * with SYS_futex while it is blocked in one). */
static bool sleeps_in_futex(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    bool in = fgets(line, sizeof line, f) && atol(line) == SYS_futex;
    fclose(f);
    return in;
}

/* A receiver that sleeps and then cannot run (SIGSTOP: a loaded machine,
 * or one CPU busy with the sender, has not scheduled it yet) is woken by
 * the first send; the next ones find it woken already and make no system
 * call.  A wait point that counts its sleeper until it runs again made
 * every send pay a FUTEX_WAKE (procq before its latch, shm and shm_spsc
 * before theirs: 32 of 32 — on one CPU that cost the rings 10x procq's
 * throughput).  Every mechanism a
 * forked child can receive from whose carrier is a futex word (a monitor
 * or a shared ring) and whose receiver sleeps in futex(2), under BLOCK. */
static void test_a_stopped_sleeper_is_woken_once(void **state)
{
    (void)state;
    enum { K = 32 };
    size_t n = 0;
    const ipc_mechanism *const *all = ipc_mechanisms(&n);
    int checked = 0;
    for (size_t k = 0; k < n; k++) {
        const ipc_mechanism *m = all[k];
        if (!(m->caps & IPC_CAP_FORK) || (m->carrier != IPC_CARRIER_MONITOR && m->carrier != IPC_CARRIER_SHM_RING))
            continue;
        ipc_channel *ch = tl_open(m->name, &(ipc_config){ .wait = IPC_WAIT_BLOCK, .capacity = 64, .max_msg = 64 });
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            unsigned char got[MSG];
            for (long i = 0; i < K; i++) {
                size_t len = 0;
                if (ipc_recv(ch, got, sizeof got, &len, NULL, 20000) != IPC_OK || !seq_ok(got, len, i)) _exit(1);
            }
            _exit(0);
        }
        for (int i = 0; i < 2000 && !sleeps_in_futex(pid); i++) usleep(5000);
        bool slept = sleeps_in_futex(pid);
        assert_int_equal(kill(pid, SIGSTOP), 0);
        int st;
        assert_int_equal(waitpid(pid, &st, WUNTRACED), pid);
        long before = atomic_load(&futex_wakes);
        unsigned char b[MSG];
        for (long i = 0; i < K; i++) {
            put_seq(b, i);
            assert_ipc(ipc_send(ch, b, sizeof b, 0, 0), IPC_OK);
        }
        long wakes = atomic_load(&futex_wakes) - before;
        assert_int_equal(kill(pid, SIGCONT), 0);
        assert_int_equal(waitpid(pid, &st, 0), pid);
        ipc_free(ch);
        printf("  %s: %d sends to a stopped sleeper, %ld FUTEX_WAKE calls\n", m->name, K, wakes);
        if (!slept) fail_msg("%s: the receiver never slept in futex(2) within 10 s", m->name);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("%s: the receiver did not get its %d messages", m->name, K);
        if (wakes != 1) fail_msg("%s: %ld FUTEX_WAKE calls for %d sends to one stopped sleeper (want 1)", m->name, wakes, K);
        checked++;
    }
    assert_true(checked >= 3); /* procq, shm, shm_spsc at least */
}

/* A receiver that sleeps (blocking receive, sender 20 ms late) and one woken
 * by close, on mech: both sides of the futex protocol make system calls. */
static void *late_closer(void *arg)
{
    tl_sleep_ms(20);
    assert_ipc(ipc_close(arg), IPC_OK);
    return NULL;
}

static void sleep_wake_close(const char *mech)
{
    ipc_channel *ch = tl_open(mech, &(ipc_config){ .wait = IPC_WAIT_BLOCK, .capacity = 4, .max_msg = 64 });
    unsigned char got[MSG];
    size_t len = 0;
    pthread_t t = tl_thread(late_sender, ch);
    assert_ipc(ipc_recv(ch, got, sizeof got, &len, NULL, 5000), IPC_OK);
    pthread_join(t, NULL);
    assert_true(seq_ok(got, len, 0));
    t = tl_thread(late_closer, ch);
    assert_ipc(ipc_recv(ch, got, sizeof got, &len, NULL, 5000), IPC_ECLOSED);
    pthread_join(t, NULL);
    ipc_free(ch);
}

static void test_every_futex_call_is_core_futex(void **state)
{
    (void)state;
    static const char *const mechs[] = { "spsc", "shm_spsc", "shm", "procq" };
    long seen = atomic_load(&futex_calls), core = atomic_load(&ipc__futex_syscalls);
    for (size_t i = 0; i < sizeof mechs / sizeof mechs[0]; i++) sleep_wake_close(mechs[i]);
    seen = atomic_load(&futex_calls) - seen;
    core = atomic_load(&ipc__futex_syscalls) - core;
    printf("  %ld futex system calls, %ld of them made by core/futex.c\n", seen, core);
    assert_true(seen >= 2 * (long)(sizeof mechs / sizeof mechs[0])); /* a wait and a wake each, at least */
    assert_int_equal(core, seen);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        TL_CASE(test_sleeper_is_woken_by_a_syscall),
        TL_CASE(test_no_wake_when_nobody_sleeps),
        TL_CASE(test_every_futex_call_is_core_futex),
        TL_CASE(test_a_stopped_sleeper_is_woken_once),
        TL_CASE(test_no_lost_wakeup_spsc),
        TL_CASE(test_no_lost_wakeup_shm_spsc),
        TL_CASE(test_no_lost_wakeup_shm),
        TL_CASE(test_no_lost_wakeup_procq),
        TL_CASE(test_no_lost_wakeup_queue),
    };
    return cmocka_run_group_tests_name("wait", tests, NULL, NULL);
}
