/*
 * core/process.h — the one place where the library registers process-wide
 * hooks: fork handlers (pthread_atfork) and exit handlers (atexit); and
 * whether another process (an embedded server's creator) is still there.
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
#include <sys/types.h>

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

/* Is pid running: not gone, not a zombie, and not dying (SIGKILL pending,
 * or its main thread exiting)?  A process that cannot be read is taken as
 * running. */
bool ipc__process_running(pid_t pid);

/* The answer a holder of a channel on an EMBEDDED server (redis, amqp: a
 * server that is a child of its creator and dies with it, core/sitter.h)
 * gets for a call that failed with rc on the server's connection.  When the
 * creator is another process and is gone, the channel ended with it and the
 * messages it held went too (ipc.h, IPC_CAP_PERSISTENT): IPC_ECLOSED, not
 * IPC_ESYS.  Any other rc, a creator <= 0 (not embedded) or this process,
 * comes back unchanged.  Keeps errno (the connection's). */
int ipc__ended_with_creator(int rc, pid_t creator, const char *mech, const char *name);

#endif /* IPCPLAY_CORE_PROCESS_H */
