/*
 * test_semaphore.c — the counting semaphore of events/semaphore.h.
 *
 * Counting and limits, timeouts (0, >0, below -1), wake-ups between
 * processes, a waiter killed asleep (the others neither hang nor lose a
 * unit), named semaphores (attach, the creator unlinks), and a threaded
 * stress in which the count of holders never exceeds the units.
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "events/semaphore.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void counts_and_limits(void **state)
{
    (void)state;
    ipc_sem *s;
    assert_ipc(ipc_sem_open(&s, 3), IPC_OK);
    assert_int_equal(ipc_sem_value(s), 3);
    for (int i = 0; i < 3; i++) assert_ipc(ipc_sem_acquire(s, 0), IPC_OK);
    assert_ipc(ipc_sem_acquire(s, 0), IPC_EEMPTY); /* none free: would block */
    assert_int_equal(ipc_sem_value(s), 0);
    assert_ipc(ipc_sem_release(s), IPC_OK);
    assert_ipc(ipc_sem_acquire(s, 0), IPC_OK);
    assert_null(ipc_sem_name(s)); /* private */
    ipc_sem_free(s);

    assert_ipc(ipc_sem_open(&s, IPC_SEM_MAX), IPC_OK);
    assert_ipc(ipc_sem_release(s), IPC_EFULL); /* a release without an acquire, at the top */
    ipc_sem_free(s);
}

static void bad_input(void **state)
{
    (void)state;
    ipc_sem *s = (ipc_sem *)1;
    assert_ipc(ipc_sem_open(NULL, 1), IPC_EINVAL);
    assert_ipc(ipc_sem_open(&s, IPC_SEM_MAX + 1u), IPC_EINVAL);
    assert_null(s);
    assert_ipc(ipc_sem_acquire(NULL, 0), IPC_EINVAL);
    assert_ipc(ipc_sem_release(NULL), IPC_EINVAL);
    assert_int_equal(ipc_sem_value(NULL), IPC_EINVAL);
    assert_null(ipc_sem_name(NULL));
    ipc_sem_free(NULL);
    assert_ipc(ipc_sem_open_named("/x", 1, 0x80, &s), IPC_EINVAL);  /* unknown flag */
    assert_ipc(ipc_sem_open_named(NULL, 1, IPC_ATTACH, &s), IPC_EINVAL); /* attach needs a name */
    assert_ipc(ipc_sem_open(&s, 0), IPC_OK);
    for (int t = -2; t > -200; t *= 3) assert_ipc(ipc_sem_acquire(s, t), IPC_EINVAL); /* not "forever" */
    ipc_sem_free(s);
}

static void timeout_waits_then_gives_up(void **state)
{
    (void)state;
    ipc_sem *s;
    assert_ipc(ipc_sem_open(&s, 0), IPC_OK);
    int64_t t0 = ipc_now_ns();
    assert_ipc(ipc_sem_acquire(s, 150), IPC_EEMPTY);
    assert_true(tl_ms_since(t0) >= 150); /* never before the deadline (no upper bound: shared machine) */
    ipc_sem_free(s);
}

/* A child asleep in acquire(-1) is woken by the parent's release. */
static void release_wakes_another_process(void **state)
{
    (void)state;
    ipc_sem *s, *done;
    assert_ipc(ipc_sem_open(&s, 0), IPC_OK);
    assert_ipc(ipc_sem_open(&done, 0), IPC_OK);
    pid_t kid = tl_fork(30);
    if (kid == 0) {
        int rc = ipc_sem_acquire(s, -1);
        if (rc == IPC_OK) rc = ipc_sem_release(done);
        _exit(rc == IPC_OK ? 0 : 1);
    }
    tl_sleep_ms(100); /* let it sleep (the test holds either way) */
    assert_ipc(ipc_sem_release(s), IPC_OK);
    assert_ipc(ipc_sem_acquire(done, 10000), IPC_OK);
    assert_int_equal(tl_wait(kid, 10), 0);
    ipc_sem_free(done);
    ipc_sem_free(s);
}

/* A waiter SIGKILLed in its sleep: the survivors neither hang nor lose the
 * unit it was waiting for. */
static void killed_waiter_harms_nobody(void **state)
{
    (void)state;
    ipc_sem *s;
    assert_ipc(ipc_sem_open(&s, 0), IPC_OK);
    pid_t victim = tl_fork(30);
    if (victim == 0) _exit(ipc_sem_acquire(s, -1) == IPC_OK ? 3 : 1); /* killed before it gets one */
    tl_sleep_ms(100);
    assert_int_equal(kill(victim, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(victim, &status, 0), victim);
    assert_true(WIFSIGNALED(status));
    pid_t survivor = tl_fork(30);
    if (survivor == 0) _exit(ipc_sem_acquire(s, 10000) == IPC_OK ? 0 : 1);
    tl_sleep_ms(50);
    assert_ipc(ipc_sem_release(s), IPC_OK);
    assert_int_equal(tl_wait(survivor, 15), 0);
    assert_int_equal(ipc_sem_value(s), 0); /* the survivor has it: nothing lost, nothing doubled */
    ipc_sem_free(s);
}

/* A named semaphore: an attacher shares the count; after the creator's
 * free the name is gone. */
static void named_attach_and_unlink(void **state)
{
    (void)state;
    ipc_sem *owner, *peer;
    assert_ipc(ipc_sem_open_named(NULL, 2, 0, &owner), IPC_OK);
    const char *name = ipc_sem_name(owner);
    assert_non_null(name);
    char copy[256];
    snprintf(copy, sizeof copy, "%s", name);
    assert_ipc(ipc_sem_open_named(copy, 0, IPC_ATTACH, &peer), IPC_OK);
    assert_ipc(ipc_sem_acquire(peer, 0), IPC_OK);
    assert_int_equal(ipc_sem_value(owner), 1);
    ipc_sem_free(peer); /* an attacher's free leaves the name */
    assert_ipc(ipc_sem_open_named(copy, 1, 0, &peer), IPC_ESYS); /* exists: never adopted */
    ipc_sem_free(owner);
    ipc_sem *late = NULL;
    assert_ipc(ipc_sem_open_named(copy, 0, IPC_ATTACH, &late), IPC_ESYS); /* the creator unlinked it */
    assert_int_equal(errno, ENOENT);
    assert_null(late);
}

/* Threads hammer a semaphore of 3: at no moment are more than 3 inside. */
enum { STRESS_THREADS = 6, STRESS_ROUNDS = 20000, STRESS_UNITS = 3 };
static ipc_sem *stress_sem;
static atomic_int inside, most, errors;

static void *stress_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < STRESS_ROUNDS; i++) {
        if (ipc_sem_acquire(stress_sem, -1) != IPC_OK) {
            atomic_fetch_add(&errors, 1);
            return NULL;
        }
        int now = atomic_fetch_add(&inside, 1) + 1; /* seq_cst: a test counter */
        int m = atomic_load(&most);
        while (now > m && !atomic_compare_exchange_weak(&most, &m, now)) {
        }
        atomic_fetch_sub(&inside, 1);
        if (ipc_sem_release(stress_sem) != IPC_OK) atomic_fetch_add(&errors, 1);
    }
    return NULL;
}

static void threads_never_exceed_the_units(void **state)
{
    (void)state;
    assert_ipc(ipc_sem_open(&stress_sem, STRESS_UNITS), IPC_OK);
    atomic_store(&inside, 0);
    atomic_store(&most, 0);
    atomic_store(&errors, 0);
    pthread_t t[STRESS_THREADS];
    for (int i = 0; i < STRESS_THREADS; i++) t[i] = tl_thread(stress_thread, NULL);
    for (int i = 0; i < STRESS_THREADS; i++) pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&errors), 0);
    assert_true(atomic_load(&most) >= 1 && atomic_load(&most) <= STRESS_UNITS);
    assert_int_equal(ipc_sem_value(stress_sem), STRESS_UNITS); /* every unit came back */
    ipc_sem_free(stress_sem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TL_CASE(counts_and_limits),
        TL_CASE(bad_input),
        TL_CASE(timeout_waits_then_gives_up),
        TL_CASE(release_wakes_another_process),
        TL_CASE(killed_waiter_harms_nobody),
        TL_CASE(named_attach_and_unlink),
        TL_CASE(threads_never_exceed_the_units),
    };
    return cmocka_run_group_tests_name("semaphore", tests, NULL, NULL);
}
