/*
 * semaphore.c — the counting semaphore (events/semaphore.h) on a futex.
 *
 * The state, in shared memory (an anonymous mapping inherited by fork, or a
 * named /dev/shm segment):
 *
 *     count   the units free now: one atomic word, changed only by
 *             compare-and-swap (acquire: count -> count-1 if count > 0) or
 *             fetch-add (release)
 *     fx      the core's futex wait point (core/futex.h): acquirers with
 *             nothing to take sleep there; a release wakes them, and skips
 *             the system call when nobody is registered
 *
 * Acquire: try the CAS; if the count is 0, register (ipc__futex_prepare),
 * look at the count again — a release between the first look and the
 * registration is seen here, the Dekker pair of core/futex.h —, sleep while
 * the wait point's seq is unchanged, unregister, retry.  Every wake-up wakes
 * all sleepers (a woken one may give up at its deadline without taking the
 * unit); they race on the CAS and the losers sleep again.
 *
 * Invariants: count never goes below 0 (only a CAS from a positive value
 * decrements it) and never above IPC_SEM_MAX (release checks before adding,
 * by CAS).  What a dead process can do: die holding a unit (it is never
 * given back: a semaphore has no owner, unlike SEM_UNDO), or die asleep
 * (the wait point's waiter count stays one too high: later releases make a
 * FUTEX_WAKE nobody needed).  It cannot corrupt the count (one atomic word)
 * or leave anything locked: there is no lock.
 */
#define _GNU_SOURCE
#include "events/semaphore.h"
#include "core/futex.h"
#include "core/names.h"
#include "core/segment.h"
#include "../ipc_internal.h"

#include <stdlib.h>
#include <string.h>

#define SEM_MAGIC 0x53454d31u /* "SEM1": a ready, initialised semaphore */

typedef struct sem_shared {
    _Atomic uint32_t magic;  /* SEM_MAGIC once initialised (core/segment.h's ready word) */
    _Atomic uint32_t count;  /* free units                                               */
    ipc_futex        fx;     /* acquirers with nothing to take sleep here                */
} sem_shared;

struct ipc_sem {
    unsigned     handle_magic; /* SEM_MAGIC while this handle is open */
    ipc_segment  seg;          /* the mapping (anonymous or named)    */
    sem_shared  *sh;
};

static bool valid(const ipc_sem *s) { return s && s->handle_magic == SEM_MAGIC && s->sh; }

static int finish_open(ipc_sem *s, ipc_sem **out)
{
    s->sh = s->seg.addr;
    s->handle_magic = SEM_MAGIC;
    *out = s;
    return IPC_OK;
}

static int create(const char *name, unsigned initial, ipc_sem **out)
{
    if (!out) return ipc__fail(IPC_EINVAL, "ipc_sem_open: out is NULL");
    *out = NULL;
    if (initial > IPC_SEM_MAX) return ipc__fail(IPC_EINVAL, "ipc_sem_open: initial %u > IPC_SEM_MAX", initial);
    ipc_sem *s = calloc(1, sizeof *s);
    if (!s) return ipc__fail(IPC_ESYS, "ipc_sem_open: calloc");
    int rc = ipc__segment_create(&s->seg, name, sizeof(sem_shared), 0);
    if (rc != IPC_OK) {
        free(s);
        return rc;
    }
    sem_shared *sh = s->seg.addr;
    /* RELAXED: nobody can see the segment before ipc__segment_ready publishes it */
    atomic_store_explicit(&sh->count, initial, memory_order_relaxed);
    ipc__segment_ready(&sh->magic, SEM_MAGIC);
    return finish_open(s, out);
}

int ipc_sem_open(ipc_sem **out, unsigned initial) { return create(NULL, initial, out); }

int ipc_sem_open_named(const char *name, unsigned initial, unsigned flags, ipc_sem **out)
{
    if (!out) return ipc__fail(IPC_EINVAL, "ipc_sem_open_named: out is NULL");
    *out = NULL;
    if (flags & ~(unsigned)IPC_ATTACH) return ipc__fail(IPC_EINVAL, "ipc_sem_open_named: unknown flags 0x%x", flags);
    char generated[NAME_MAX + 1];
    if (!(flags & IPC_ATTACH)) {
        if (!name) {
            int rc = ipc__unique_name(generated, sizeof generated, "/", ".sem");
            if (rc != IPC_OK) return rc;
            name = generated;
        }
        return create(name, initial, out);
    }
    if (!name) return ipc__fail(IPC_EINVAL, "ipc_sem_open_named: IPC_ATTACH needs a name");
    ipc_sem *s = calloc(1, sizeof *s);
    if (!s) return ipc__fail(IPC_ESYS, "ipc_sem_open_named: calloc");
    int rc = ipc__segment_attach(&s->seg, name, sizeof(sem_shared), offsetof(sem_shared, magic), SEM_MAGIC);
    if (rc != IPC_OK) {
        free(s);
        return rc;
    }
    return finish_open(s, out);
}

const char *ipc_sem_name(const ipc_sem *s)
{
    if (!valid(s)) return ipc__fail(IPC_EINVAL, "ipc_sem_name: not an open semaphore"), NULL;
    if (!s->seg.name[0]) return ipc__fail(IPC_EINVAL, "ipc_sem_name: a private semaphore has no name"), NULL;
    return s->seg.name;
}

/* One unit if there is one: CAS count -> count - 1 from a positive value. */
static bool try_take(sem_shared *sh)
{
    /* RELAXED first look: the CAS below is what decides */
    uint32_t c = atomic_load_explicit(&sh->count, memory_order_relaxed);
    while (c > 0)
        /* ACQUIRE on success: what the releaser wrote before its release
         * (the resource the unit stands for) is visible to the new holder */
        if (atomic_compare_exchange_weak_explicit(&sh->count, &c, c - 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return true;
    return false;
}

int ipc_sem_acquire(ipc_sem *s, int timeout_ms)
{
    if (!valid(s)) return ipc__fail(IPC_EINVAL, "ipc_sem_acquire: not an open semaphore");
    if (!ipc__timeout_valid(timeout_ms)) return ipc__timeout_check("ipc_sem_acquire", timeout_ms);
    sem_shared *sh = s->sh;
    if (try_take(sh)) return IPC_OK;
    ipc_deadline d;
    ipc__deadline_start(&d, timeout_ms);
    for (;;) {
        uint32_t seen = ipc__futex_prepare(&sh->fx);
        if (try_take(sh)) { /* a release landed before we registered */
            ipc__futex_done(&sh->fx);
            return IPC_OK;
        }
        int r = ipc__futex_wait(&sh->fx, seen, true, &d);
        ipc__futex_done(&sh->fx);
        if (try_take(sh)) return IPC_OK;
        if (r < 0) return r;
        if (r == 1) return ipc__fail(IPC_EEMPTY, "ipc_sem_acquire: no unit free within %d ms", timeout_ms);
    }
}

int ipc_sem_release(ipc_sem *s)
{
    if (!valid(s)) return ipc__fail(IPC_EINVAL, "ipc_sem_release: not an open semaphore");
    sem_shared *sh = s->sh;
    /* RELAXED first look: the CAS decides */
    uint32_t c = atomic_load_explicit(&sh->count, memory_order_relaxed);
    do {
        if (c >= IPC_SEM_MAX) return ipc__fail(IPC_EFULL, "ipc_sem_release: the count is already at its maximum");
        /* RELEASE: the holder's writes happen-before the next acquirer's
         * successful CAS (acquire) */
    } while (!atomic_compare_exchange_weak_explicit(&sh->count, &c, c + 1, memory_order_release,
                                                    memory_order_relaxed));
    ipc__futex_wake(&sh->fx, true); /* no system call when nobody sleeps */
    return IPC_OK;
}

long ipc_sem_value(const ipc_sem *s)
{
    if (!valid(s)) return ipc__fail(IPC_EINVAL, "ipc_sem_value: not an open semaphore");
    /* RELAXED: a hint, like qsize() */
    return (long)atomic_load_explicit(&s->sh->count, memory_order_relaxed);
}

void ipc_sem_free(ipc_sem *s)
{
    if (!s) return;
    if (s->handle_magic != SEM_MAGIC) return; /* not ours, or freed: free() would be worse */
    s->handle_magic = 0;
    ipc__segment_release(&s->seg);
    free(s);
}
