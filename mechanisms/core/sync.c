/*
 * core/sync.c — locks and condition variables (see sync.h): the robust
 * process-shared ones that survive the death of a holder, and the private
 * monotonic ones, set up in one place.
 *
 * Two attributes do the work:
 *   PTHREAD_PROCESS_SHARED  the futex word may be in memory mapped by
 *                           several processes (fork or shm_open);
 *   PTHREAD_MUTEX_ROBUST    the kernel keeps a list of robust mutexes each
 *                           thread holds and, when the thread dies, marks
 *                           them so the next locker gets EOWNERDEAD instead
 *                           of waiting forever (a peer killed with SIGKILL
 *                           while holding the lock is the classic hang).
 */
#define _GNU_SOURCE
#include "core/sync.h"
#include "core/error.h"
#include "core/wait.h"

#include <sys/mman.h>

int ipc__mutex_init(pthread_mutex_t *m, bool shared)
{
    pthread_mutexattr_t a;
    int err = pthread_mutexattr_init(&a);
    if (!err && shared) err = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (!err && shared) err = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (!err) err = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    if (err) { /* pthread calls return the error instead of setting errno */
        errno = err;
        return ipc__fail(IPC_ESYS, "pthread_mutex_init (%s)", shared ? "robust, process-shared" : "private");
    }
    return IPC_OK;
}

int ipc__cond_init(pthread_cond_t *c, bool shared)
{
    pthread_condattr_t a;
    int err = pthread_condattr_init(&a);
    if (!err && shared) err = pthread_condattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (!err) err = pthread_condattr_setclock(&a, CLOCK_MONOTONIC); /* deadlines are monotonic */
    if (!err) err = pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
    if (err) {
        errno = err;
        return ipc__fail(IPC_ESYS, "pthread_cond_init (%s, monotonic)", shared ? "process-shared" : "private");
    }
    return IPC_OK;
}

static int owner_died(pthread_mutex_t *m, bool *holder_died)
{
    /* The holder died inside its critical section: take the lock over. */
    if (holder_died) *holder_died = true;
    int err = pthread_mutex_consistent(m);
    if (err) {
        pthread_mutex_unlock(m);
        errno = err;
        return ipc__fail(IPC_ESYS, "pthread_mutex_consistent");
    }
    return 0;
}

/* A timed wait for a shared robust mutex that ended ETIMEDOUT: was the lock
 * in fact free, or its holder dead?  The kernel wakes one waiter when the
 * holder unlocks or dies (FUTEX_OWNER_DIED); that wake can miss a waiter
 * (make test's creator storm, 2026-12-05: a receiver's 300 ms wait timed
 * out, then trylock took the lock at once or got EOWNERDEAD, in 10 of 25
 * loaded runs; the receiver had answered "another receiver is waiting" and
 * the storm's last consumer stopped with a full pipe behind it).  One
 * trylock after the timeout turns that into the lock.  RETURNS the error to
 * go on with: 0, EOWNERDEAD, or ETIMEDOUT (really busy). */
static int look_again(pthread_mutex_t *m)
{
    int err = pthread_mutex_trylock(m);
    return err == 0 || err == EOWNERDEAD ? err : ETIMEDOUT;
}

int ipc__lock(pthread_mutex_t *m, const ipc_deadline *d, bool *holder_died)
{
    int err;
    if (ipc__deadline_blocks_forever(d)) {
#ifdef __SANITIZE_THREAD__
        err = pthread_mutex_lock(m); /* TSan does not intercept clocklock (below) */
#else
        /* In slices of a second, each ending with look_again: a missed wake
         * costs a second, never a wait for ever. */
        do {
            ipc_deadline slice;
            ipc__deadline_start(&slice, 1000);
            err = pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &slice.when);
            if (err == ETIMEDOUT) err = look_again(m);
        } while (err == ETIMEDOUT);
#endif
    } else if (ipc__deadline_is_nowait(d)) {
        err = pthread_mutex_trylock(m);
    } else {
#ifdef __SANITIZE_THREAD__
        /* ThreadSanitizer intercepts neither pthread_mutex_clocklock nor
         * EOWNERDEAD from timedlock, and would then call every unlock bogus.
         * Under it only, poll trylock (which it does understand). */
        while ((err = pthread_mutex_trylock(m)) == EBUSY && !ipc__deadline_passed(d))
            nanosleep(&(struct timespec){ .tv_nsec = 200000 }, NULL);
        if (err == EBUSY) err = ETIMEDOUT;
#else
        err = pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &d->when);
        if (err == ETIMEDOUT) err = look_again(m);
#endif
    }
    if (err == 0) return 0;
    if (err == EOWNERDEAD) return owner_died(m, holder_died);
    if (err == EBUSY || err == ETIMEDOUT) return 1;
    errno = err;
    return ipc__fail(IPC_ESYS, "pthread_mutex_lock");
}

int ipc__lock_brief(pthread_mutex_t *m, const ipc_deadline *d, bool *holder_died)
{
    return ipc__lock(m, ipc__deadline_is_nowait(d) ? &ipc__forever : d, holder_died);
}

int ipc__monitor_spin(pthread_mutex_t *m, const ipc_deadline *d, bool *holder_died)
{
    switch (ipc__spin_next(d)) { /* the monitor kind of waiting (core/wait.c) */
    case IPC__SPIN_TIMEOUT: return 1;
    case IPC__SPIN_ROUND: /* let the peer in, pause, and report "woken": the caller re-checks */
        pthread_mutex_unlock(m);
        ipc__spin_pause(d);
        return ipc__lock(m, &ipc__forever, holder_died); /* 0 held, or IPC_ESYS not held */
    default:
        return IPC__MONITOR_SLEEP;
    }
}

int ipc__cond_wait(pthread_cond_t *c, pthread_mutex_t *m, const ipc_deadline *d, bool *holder_died)
{
    if (ipc__deadline_is_nowait(d)) return 1;
    int spun = ipc__monitor_spin(m, d, holder_died);
    if (spun != IPC__MONITOR_SLEEP) return spun;
    int err = ipc__deadline_blocks_forever(d) ? pthread_cond_wait(c, m)
                                              : pthread_cond_timedwait(c, m, &d->when);
    if (err == EOWNERDEAD) return owner_died(m, holder_died); /* 0, or an error with m released */
    return err == ETIMEDOUT ? 1 : 0;
}

void *ipc__shared_alloc(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        ipc__fail(IPC_ESYS, "mmap(%zu bytes, MAP_SHARED|MAP_ANONYMOUS)", size);
        return NULL;
    }
    return p; /* anonymous mappings start zeroed */
}

void ipc__shared_free(void *p, size_t size)
{
    if (p) munmap(p, size);
}
