/*
 * stale.h — finding and removing the names a killed creator left behind.
 *
 * Every name the library generates is "<prefix>.<pid>.<n>..." (see
 * ipc__unique_name): it says which process made it.  A name whose process
 * is gone (or whose pid now belongs to a process started after the name
 * was made) is stale: nobody will ever unlink it.  ipc__stale_sweep finds
 * those of one prefix, and removes them unless asked only to list them.
 * ipc_open runs it once per process (ipc__stale_sweep_once); the
 * `ipcplay-clean` command (scripts/ipcplay-clean.c, `make clean-ipc`) runs it
 * on demand.
 */
#ifndef IPCPLAY_CORE_STALE_H
#define IPCPLAY_CORE_STALE_H

#include "ipc_internal.h"

#include <sys/types.h>

/* Called once per stale name: kind is "shm", "mq" or "tmpdir", name the
 * shm/mq name or the directory's path; removed tells whether it is gone
 * now (false in a dry run or when removal failed, errno then kept). */
typedef void (*ipc_stale_fn)(void *arg, const char *kind, const char *name, int pid, bool removed);

/* Scan /dev/shm, POSIX queues (through their /dev/shm ".ctl" companions, and
 * /dev/mqueue when it is mounted) and $TMPDIR (or /tmp) for names of
 * `prefix` (NULL: ipc__name_prefix()) made by processes that are gone, and
 * owned by this uid (by anyone, for root).  dry_run: only report.  fn may be NULL.
 * RETURNS how many stale names were found (removed unless dry_run), or
 * IPC_EINVAL (a prefix with '/' or empty). */
int  ipc__stale_sweep(const char *prefix, bool dry_run, ipc_stale_fn fn, void *arg);

/* The sweep of ipc__name_prefix(), at most once per process, quietly; set
 * IPCPLAY_NO_STALE_SWEEP=1 to skip it. */
void ipc__stale_sweep_once(void);

/* Is pid a live process that existed at `since` (seconds, CLOCK_REALTIME)?
 * A pid reused by a younger process counts as gone. */
bool ipc__creator_alive(int pid, time_t since);

/* Attach reaches only the caller's own objects: IPC_OK if owner is this
 * process's effective uid, else IPC_EINVAL naming what and both uids.
 * (Root bypasses file modes, so a mode alone would not stop it attaching to
 * — and trusting the memory of — another user's channel.) */
int  ipc__check_owner(uid_t owner, const char *what);

#endif /* IPCPLAY_CORE_STALE_H */
