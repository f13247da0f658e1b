/*
 * ipc_internal.h — the umbrella a mechanism file includes: the whole core
 * (mechanisms/core/, private, libc only), one header per subsystem.
 *
 *   core/backend.h   the backend contract: ops table, channel base, what
 *                    dispatch checks so backends do not, concurrency rules
 *   core/error.h     ipc__fail, errno kept beside the message
 *   core/deadline.h  deadlines and the one timespec helper
 *   core/sync.h      robust shared / private monotonic mutexes and condvars
 *   core/futex.h     the one futex wait/wake primitive (waiter count)
 *   core/segment.h   named shared-memory segments (create, ready, attach)
 *   core/names.h     generated names, the object-name rule, temp dirs
 *   core/fd.h        non-blocking fds, waiting on fds, writes without SIGPIPE
 *   core/thread.h    helper threads
 *   core/process.h   the one place for atfork/atexit registrations
 *   core/wait.h      wait strategies (block, spin, adaptive), once per kind
 *
 * Dependencies point one way (DESIGN.md): mechanism families -> engines
 * (engines/stream.h, engines/ring.h) -> core.  Never sideways: a broker
 * does not include a pipes/ header.
 */
#ifndef IPCPLAY_IPC_INTERNAL_H
#define IPCPLAY_IPC_INTERNAL_H

#include "ipc.h"

#include "core/backend.h"
#include "core/deadline.h"
#include "core/error.h"
#include "core/fd.h"
#include "core/futex.h"
#include "core/names.h"
#include "core/pool.h"
#include "core/process.h"
#include "core/segment.h"
#include "core/sitter.h"
#include "core/sync.h"
#include "core/thread.h"
#include "core/wait.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#endif /* IPCPLAY_IPC_INTERNAL_H */
