/*
 * core/error.h — how every part of the library reports a failure.
 *
 * Invariants: a failing call returns one negative IPC_E* code (ipc.h) and,
 * through ipc__fail, leaves a message in the calling thread's buffer
 * (ipc_last_error) and, for IPC_ESYS, the failing call's errno in a
 * thread-local beside it, so that cleanup after ipc__fail (close, munmap,
 * unlink on the error path) cannot change what the caller is told.
 * Nothing here allocates, locks or prints.
 */
#ifndef IPCPLAY_CORE_ERROR_H
#define IPCPLAY_CORE_ERROR_H

#include "ipc.h"

#include <errno.h>

/* Record why a call failed (printf-style) and return err, so a module can
 * write `return ipc__fail(IPC_EINVAL, "name '%s' too long", name);`.  For
 * IPC_ESYS it appends strerror(errno) and keeps errno (unchanged, and
 * saved for ipc__restore_errno). */
int ipc__fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* errno as the last ipc__fail(IPC_ESYS, ...) of this thread saw it: put
 * back into errno by the dispatch layer before it returns IPC_ESYS, after
 * the backend's cleanup may have clobbered it. */
int  ipc__saved_errno(void);
void ipc__restore_errno(int rc);

#endif /* IPCPLAY_CORE_ERROR_H */
