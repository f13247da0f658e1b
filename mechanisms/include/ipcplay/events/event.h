/*
 * event.h — the event object: threading.Event / multiprocessing.Event /
 * asyncio.Event in C.
 *
 * An event is a flag, not a queue: set() raises it, clear() lowers it,
 * wait() blocks until it is raised.  Nothing is consumed, so it is not a
 * registry mechanism (a "message" would have no boundaries and no count);
 * it is a module API next to the channels.
 *
 * Where it works: between threads, between a process and its fork()ed
 * children (ipc_event_open: the state lives in a shared anonymous mapping),
 * and between unrelated processes (ipc_event_open_named: a shm_open object).
 *
 * The "set then clear at once" question.  A waiter that is blocked when
 * set() happens returns 0 (success) even if clear() follows before it gets
 * to run — exactly threading.Event.wait and asyncio.Event.wait, which
 * "return True if and only if the flag has been set to true, either before
 * the wait call or after the wait starts" (CPython issue 13502).
 * multiprocessing.Event differs: after waking it re-checks the flag and
 * returns False if it was already cleared.  We follow threading.Event.
 */
#ifndef IPCPLAY_EVENT_H
#define IPCPLAY_EVENT_H

#include "../ipc.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* (ipc_event is taken: it is the observer's record in ipc.h.) */
typedef struct ipc_event_obj ipc_event_obj;

/* A private event, flag clear, shared with children forked after this call.
 * RETURNS 0 and *out, or IPC_EINVAL, IPC_ESYS (*out left NULL). */
int  ipc_event_open(ipc_event_obj **out);

/* A named event for unrelated processes.  Without IPC_ATTACH in flags it
 * creates the shm object `name` ("/something", or "something", which gets
 * the slash: the one object-name rule of every named channel; NULL = a
 * generated unique name, see ipc_event_name) and owns it: its ipc_event_free unlinks it.
 * With IPC_ATTACH it opens the existing one.  Named events have no pollfd.
 * RETURNS 0, IPC_EINVAL (bad or too long name, not an event), IPC_ESYS
 * (e.g. ENOENT when attaching to a name nobody created). */
int  ipc_event_open_named(const char *name, unsigned flags, ipc_event_obj **out);

/* The shm name of a named event (what an attacher passes), or NULL. */
const char *ipc_event_name(const ipc_event_obj *ev);

/* Raise the flag and wake every waiter in every process.  Idempotent.
 * RETURNS 0, IPC_EINVAL, IPC_ESYS. */
int  ipc_event_set(ipc_event_obj *ev);

/* Lower the flag; later waits block until the next set.
 * RETURNS 0, IPC_EINVAL, IPC_ESYS. */
int  ipc_event_clear(ipc_event_obj *ev);

/* RETURNS 1 if the flag is raised, 0 if not, IPC_EINVAL. */
int  ipc_event_is_set(const ipc_event_obj *ev);

/* Block until the flag is raised (or was raised at some point since the
 * call began, see the top).  timeout_ms: -1 forever, 0 just check, >0 ms on
 * CLOCK_MONOTONIC; signals do not restart the clock.
 * RETURNS 0 (set), IPC_ETIMEDOUT (timed out), IPC_EINVAL (also a timeout below -1), IPC_ESYS. */
int  ipc_event_wait(ipc_event_obj *ev, int timeout_ms);

/* An fd that polls readable while the flag is raised, for ipc_poller or
 * your own poll loop: an eventfd that set/clear update under the same lock
 * as the flag, in every process holding the event.  The first call switches
 * that mirror on; from then on each set/clear pair costs two more system
 * calls (measured 0.6-0.9 us instead of 27-61 ns).  Owned by the event:
 * do not close or read it.  RETURNS the fd (>= 0), IPC_ENOTSUP for a named
 * event (an eventfd cannot be handed to an unrelated process by name),
 * IPC_EINVAL, IPC_ESYS (until 2026-12 every failure answered -1). */
int  ipc_event_pollfd(ipc_event_obj *ev);

/* Release this handle (the state stays for the other holders); the creator
 * of a named event also unlinks its name (the creating process only: a
 * forked child freeing its inherited copy does not).  NULL is a no-op. */
void ipc_event_free(ipc_event_obj *ev);

#ifdef __cplusplus
}
#endif
#endif /* IPCPLAY_EVENT_H */
