/*
 * core/process.h — the one place where the library registers process-wide
 * hooks: fork handlers (pthread_atfork) and exit handlers (atexit).
 *
 * Why one place: each registration is hidden process-wide state; here they
 * are listed, counted and registered with libc exactly once (one
 * pthread_atfork, one atexit for the whole library), however many modules
 * and opens ask.  A module registers its own handler set on first use;
 * registering the same set again is a no-op, so callers need no
 * pthread_once of their own.
 *
 * Order, as pthread_atfork(3) defines it for its own list: `prepare`
 * handlers run in reverse order of registration, `parent` and `child` in
 * order.  Exit handlers run in reverse order of registration, like atexit.
 * Any handler may be NULL.  At most IPC_HOOKS_MAX of each kind.
 */
#ifndef IPCPLAY_CORE_PROCESS_H
#define IPCPLAY_CORE_PROCESS_H

#include <stdbool.h>
#include <stddef.h>

#define IPC_HOOKS_MAX 16

/* IPC_OK, or IPC_ESYS (pthread_atfork failed: errno) / IPC_EINVAL (table
 * full: a library bug). */
int ipc__atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void));
int ipc__atexit(void (*fn)(void));

/* Where execvp would find prog: the first executable "<dir>/prog" of $PATH
 * (/usr/local/bin:/usr/bin:/bin when unset), into out.  Looked up before
 * fork(), so that the child only calls async-signal-safe functions and "not
 * installed" is a clear message, not an exit status.  false if none. */
bool ipc__find_in_path(const char *prog, char *out, size_t size);

#endif /* IPCPLAY_CORE_PROCESS_H */
