/*
 * event.c — the event object (threading.Event) on a futex.
 *
 * The whole state is one 32-bit word in shared memory:
 *
 *     bit 0       the flag (1 = set)
 *     bits 1..31  the generation: how many times set() raised the flag
 *
 * wait() reads the word; if the flag is down it sleeps in
 * futex(FUTEX_WAIT_BITSET) "as long as the word still holds this value".
 * set() raises the flag and bumps the generation in one store, then
 * futex(FUTEX_WAKE) wakes every sleeper.  A woken waiter returns success if
 * the flag is up OR the generation moved: that is how a waiter sees a set()
 * that a quick clear() already undid (threading.Event's promise, see
 * event.h).  The generation wraps after 2^31 sets; a waiter would have to
 * sleep through exactly that many to miss one.
 *
 * Why a futex and not a process-shared mutex + condvar?  Waiters need no
 * lock at all: wait() on a raised flag is one atomic load, and a waiter
 * killed in its sleep holds nothing (a condvar waiter killed inside
 * pthread_cond_wait can leave the condvar's internal counters off).  The
 * futex calls are the non-private ones (no FUTEX_PRIVATE_FLAG): the kernel
 * then keys the wait queue on the physical page, so it works across
 * processes on MAP_SHARED memory — an anonymous mapping inherited by fork
 * or a shm_open object mapped by unrelated processes.
 *
 * set() and clear() take a small robust mutex, to keep the eventfd mirror
 * (ipc_event_pollfd) in step with the flag: "flag up" and "eventfd
 * readable" change together.  If a setter dies holding it, the next
 * set/clear re-derives the mirror from the word and wakes everyone.
 * The mirror is not cheap, so it starts switched off: every holder has the
 * eventfd (made at open, inherited by fork) but set/clear only touch it
 * once some holder asked for the pollfd.  Measured on this 2-vCPU machine,
 * a set+clear pair with nobody waiting costs 27-61 ns without the mirror
 * and 0.6-0.9 us with it (an eventfd write and read: two system calls).
 *
 * What a dead process can and cannot break (SIGKILL anywhere; tested by
 * test_events' killed waiters and setters): a waiter killed asleep leaves
 * `waiters` one too high (later sets make a FUTEX_WAKE nobody needed); a
 * setter killed holding the lock is repaired by the next set/clear (above);
 * a setter killed between its store and its wake is repaired by the next
 * set, and a waiter with a deadline returns at it.  It cannot corrupt the
 * word (one store) and there is no condvar to leave a dead waiter in.
 *
 * Timeouts: FUTEX_WAIT_BITSET takes an ABSOLUTE CLOCK_MONOTONIC time, so
 * the call's deadline is passed as is and a signal (EINTR) cannot restart
 * the clock.
 *
 * From the core: the futex calls are core/futex.h's word calls (the word is
 * its own futex word, so not its wait point); the shared page is a
 * core/segment.h segment — anonymous for ipc_event_open, named for
 * ipc_event_open_named (exclusive create, O_CLOEXEC, the object-name rule
 * "word" or "/word", an attacher waits for the ready magic and checks the
 * owner, only the creating process unlinks).
 */
#define _GNU_SOURCE
#include "events/event.h"
#include "../ipc_internal.h" /* core/segment.h, core/futex.h */

#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define FLAG        1u
#define EVENT_MAGIC 0x45564E54u /* "EVNT": written last by the creator */

typedef struct event_shared {
    _Atomic uint32_t word;    /* flag + generation: the futex word          */
    atomic_uint      waiters; /* threads between "saw it clear" and waking  */
    pthread_mutex_t  lock;    /* orders set/clear with the mirror eventfd   */
    bool             mirrored;/* someone asked for the pollfd (under lock)  */
    _Atomic uint32_t magic;   /* EVENT_MAGIC once the creator finished      */
} event_shared;

struct ipc_event_obj {
    ipc_segment   seg;       /* core/segment.h: anonymous, or named (creator unlinks) */
    event_shared *sh;        /* seg.addr                                    */
    int           mirror_fd; /* eventfd readable while set; -1 if named    */
};

/* ---- open and free ----------------------------------------------------- */

/* Fill in a new segment's lock, then mark it ready (core/segment.h: the
 * magic, RELEASE, last).  The word starts zeroed: flag clear, generation 0. */
static int init_shared(ipc_event_obj *ev)
{
    ev->sh = ev->seg.addr;
    int rc = ipc__shared_mutex_init(&ev->sh->lock);
    if (rc == IPC_OK) ipc__segment_ready(&ev->sh->magic, EVENT_MAGIC);
    return rc;
}

int ipc_event_open(ipc_event_obj **out)
{
    if (!out) return ipc__fail(IPC_EINVAL, "ipc_event_open: out is NULL");
    *out = NULL;
    ipc_event_obj *ev = calloc(1, sizeof *ev);
    if (!ev) return ipc__fail(IPC_ESYS, "calloc");
    int rc = IPC_ESYS;
    ev->mirror_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ev->mirror_fd < 0) {
        rc = ipc__fail(IPC_ESYS, "eventfd");
        goto fail;
    }
    if ((rc = ipc__segment_create(&ev->seg, NULL, sizeof(event_shared), 0)) != IPC_OK) goto fail;
    if ((rc = init_shared(ev)) != IPC_OK) goto fail;
    *out = ev;
    return IPC_OK;
fail:
    if (ev->mirror_fd >= 0) close(ev->mirror_fd);
    ipc__segment_release(&ev->seg);
    free(ev);
    return rc;
}

int ipc_event_open_named(const char *name, unsigned flags, ipc_event_obj **out)
{
    if (!out) return ipc__fail(IPC_EINVAL, "ipc_event_open_named: out is NULL");
    *out = NULL;
    bool attach = flags & IPC_ATTACH;
    if (flags & ~(unsigned)IPC_ATTACH) return ipc__fail(IPC_EINVAL, "unknown flags 0x%x", flags);
    if (attach && !name) return ipc__fail(IPC_EINVAL, "IPC_ATTACH needs the event's name");

    char made[NAME_MAX + 1];
    int rc;
    if (!name) {
        if ((rc = ipc__unique_name(made, sizeof made, "/", ".event")) != IPC_OK) return rc;
        name = made;
    }
    ipc_event_obj *ev = calloc(1, sizeof *ev);
    if (!ev) return ipc__fail(IPC_ESYS, "calloc");
    ev->mirror_fd = -1;
    /* core/segment.h: the name rule, O_EXCL|O_CLOEXEC, the owner check, and
     * an attacher waits out a creator still between shm_open and its magic. */
    rc = attach ? ipc__segment_attach(&ev->seg, name, sizeof(event_shared), offsetof(event_shared, magic), EVENT_MAGIC)
                : ipc__segment_create(&ev->seg, name, sizeof(event_shared), 0);
    if (rc == IPC_OK) {
        if (attach) ev->sh = ev->seg.addr;
        else rc = init_shared(ev);
    }
    if (rc != IPC_OK) {
        ipc__segment_release(&ev->seg); /* the creator's failed set-up unlinks */
        free(ev);
        return rc;
    }
    *out = ev;
    return IPC_OK;
}

const char *ipc_event_name(const ipc_event_obj *ev)
{
    if (!ev) return ipc__fail(IPC_EINVAL, "ipc_event_name: event is NULL"), NULL;
    if (!ev->seg.name[0]) return ipc__fail(IPC_EINVAL, "ipc_event_name: a private event has no name"), NULL;
    return ev->seg.name;
}

void ipc_event_free(ipc_event_obj *ev)
{
    if (!ev) return;
    /* No pthread_mutex_destroy: other holders may still use the lock; the
     * memory goes away with the last mapping.  Only the creating process
     * unlinks the name (a child that inherited its handle does not). */
    ipc__segment_release(&ev->seg);
    if (ev->mirror_fd >= 0) close(ev->mirror_fd);
    free(ev);
}

/* ---- set and clear ----------------------------------------------------- */

/* Make the eventfd readable (flag up) or drained (flag down), if the
 * mirror is on.  Called with the lock held. */
static int mirror(const ipc_event_obj *ev, bool up)
{
    if (ev->mirror_fd < 0 || !ev->sh->mirrored) return IPC_OK;
    uint64_t v = 1;
    ssize_t n = up ? write(ev->mirror_fd, &v, sizeof v) : read(ev->mirror_fd, &v, sizeof v);
    if (n < 0 && errno != EAGAIN) /* EAGAIN on read: it was already drained */
        return ipc__fail(IPC_ESYS, up ? "write(eventfd)" : "read(eventfd)");
    return IPC_OK;
}

/* The word is shared (core/futex.h: no FUTEX_PRIVATE_FLAG), since other
 * processes may map it. */
static int wake_all(event_shared *sh)
{
    int r = ipc__futex_wake_word(&sh->word, INT_MAX, true);
    return r < 0 ? r : IPC_OK;
}

/* Take the set/clear lock.  If its holder died mid-update, the word itself
 * is fine (it changes in one store) but the mirror and the wake-up may be
 * missing: redo both from the word. */
static int lock_state(ipc_event_obj *ev)
{
    bool died = false;
    int rc = ipc__lock(&ev->sh->lock, &ipc__forever, &died);
    if (rc != IPC_OK || !died) return rc;
    bool up = atomic_load(&ev->sh->word) & FLAG;
    rc = mirror(ev, false);
    if (rc == IPC_OK && up) rc = mirror(ev, true);
    if (rc == IPC_OK) rc = wake_all(ev->sh);
    if (rc != IPC_OK) pthread_mutex_unlock(&ev->sh->lock);
    return rc;
}

/* set() and clear(): move the flag to `up` if it is not there already. */
static int change(ipc_event_obj *ev, bool up, const char *who)
{
    if (!ev) return ipc__fail(IPC_EINVAL, "%s: event is NULL", who);
    event_shared *sh = ev->sh;
    int rc = lock_state(ev);
    if (rc != IPC_OK) return rc;
    /* Writers are serialised by the lock, so a plain read of our own word. */
    uint32_t w = atomic_load_explicit(&sh->word, memory_order_relaxed);
    if (up && !(w & FLAG)) {
        /* seq_cst store, then seq_cst load of `waiters`; a waiter does the
         * mirror image (waiters++, then the kernel reads the word).  One of
         * the two must see the other: either we see its count and wake it,
         * or its FUTEX_WAIT sees the new word and does not sleep. */
        atomic_store(&sh->word, ((w >> 1) + 1) << 1 | FLAG);
        rc = mirror(ev, true);
    } else if (!up && (w & FLAG)) {
        /* The generation stays: a waiter that slept through set+clear
         * still sees that it moved. */
        atomic_store_explicit(&sh->word, w & ~FLAG, memory_order_release);
        rc = mirror(ev, false);
    }
    pthread_mutex_unlock(&sh->lock);
    /* Wake after unlocking: a woken waiter that goes straight to clear()
     * must not find the lock still held (on one core that costs a second
     * sleep and switch).  Wake whenever someone waits, even if the flag was
     * already up: if an earlier setter died between its store and its
     * wake, this set() repairs it. */
    if (up && atomic_load(&sh->waiters) > 0) {
        int w_rc = wake_all(sh);
        if (rc == IPC_OK) rc = w_rc;
    }
    return rc;
}

int ipc_event_set(ipc_event_obj *ev) { return change(ev, true, "ipc_event_set"); }
int ipc_event_clear(ipc_event_obj *ev) { return change(ev, false, "ipc_event_clear"); }

int ipc_event_is_set(const ipc_event_obj *ev)
{
    if (!ev) return ipc__fail(IPC_EINVAL, "ipc_event_is_set: event is NULL");
    return (atomic_load_explicit(&ev->sh->word, memory_order_acquire) & FLAG) ? 1 : 0;
}

int ipc_event_pollfd(ipc_event_obj *ev)
{
    if (!ev) return ipc__fail(IPC_EINVAL, "ipc_event_pollfd: event is NULL");
    if (ev->mirror_fd < 0)
        return ipc__fail(IPC_ENOTSUP, "%s: a named event has no pollfd", ev->seg.name);
    int rc = lock_state(ev);
    if (rc != IPC_OK) return rc;
    if (!ev->sh->mirrored) { /* switch the mirror on, starting from the flag */
        ev->sh->mirrored = true;
        if (atomic_load(&ev->sh->word) & FLAG) rc = mirror(ev, true);
    }
    pthread_mutex_unlock(&ev->sh->lock);
    return rc == IPC_OK ? ev->mirror_fd : rc;
}

/* ---- wait -------------------------------------------------------------- */

int ipc_event_wait(ipc_event_obj *ev, int timeout_ms)
{
    if (!ev) return ipc__fail(IPC_EINVAL, "ipc_event_wait: event is NULL");
    int rc = ipc__timeout_check("ipc_event_wait", timeout_ms);
    if (rc != IPC_OK) return rc;
    event_shared *sh = ev->sh;
    /* acquire: whatever the setter wrote before set() is visible after. */
    uint32_t seen = atomic_load_explicit(&sh->word, memory_order_acquire);
    if (seen & FLAG) return IPC_OK;

    ipc_deadline d;
    ipc__deadline_start(&d, timeout_ms);
    for (;;) {
        if (ipc__deadline_passed(&d)) return ipc__fail(IPC_ETIMEDOUT, "event not set before the deadline");
        atomic_fetch_add(&sh->waiters, 1); /* seq_cst: see ipc_event_set */
        int r = ipc__futex_wait_word(&sh->word, seen, true,
                                     ipc__deadline_blocks_forever(&d) ? NULL : &d.when);
        atomic_fetch_sub(&sh->waiters, 1);

        uint32_t now = atomic_load_explicit(&sh->word, memory_order_acquire);
        if ((now & FLAG) || (now >> 1) != (seen >> 1))
            return IPC_OK; /* set now, or set (and cleared) while we slept */
        /* Timed out (1), interrupted by a signal or woken for nothing (0):
         * the deadline check at the top decides whether to sleep again. */
        if (r < 0) return r;
    }
}
