/*
 * core/fd.h — file-descriptor idioms every fd-based mechanism shares:
 * non-blocking mode, waiting with a deadline and a close-wake fd, writing
 * without SIGPIPE, and telling "out of descriptors" from other EMFILEs.
 *
 * SIGPIPE: a write to a pipe or socket whose readers are gone raises SIGPIPE,
 * whose default action kills the process.  The library never changes the
 * process's disposition (a program's own handler or SIG_DFL stays as it
 * was): sockets are written with MSG_NOSIGNAL; pipes and FIFOs, which have
 * no such flag, through ipc__writev_nosigpipe, which blocks SIGPIPE in the
 * calling thread for the one write and consumes the SIGPIPE that write
 * raised (sigtimedwait), so the caller sees EPIPE (-> IPC_ECLOSED) only.
 */
#ifndef IPCPLAY_CORE_FD_H
#define IPCPLAY_CORE_FD_H

#include "core/deadline.h"

#include <sys/types.h>
#include <sys/uio.h>

/* Set O_NONBLOCK.  IPC_OK or IPC_ESYS. */
int ipc__set_nonblock(int fd);

/* Wait until fd is ready for `events` (POLLIN/POLLOUT), also watching
 * wake_fd (may be -1) for a close notification, the way the deadline's
 * wait strategy says (implemented in core/wait.c).  Returns 1 when fd is
 * ready, 0 on deadline, IPC_ECLOSED when wake_fd fired, IPC_ESYS. */
int ipc__wait_fd(int fd, short events, int wake_fd, const ipc_deadline *d);

/* writev(2) that cannot raise SIGPIPE in the process: returns what writev
 * returned, errno EPIPE when the readers are gone.  Costs two more
 * system calls per write (rt_sigprocmask twice, or once + sigpending). */
ssize_t ipc__writev_nosigpipe(int fd, const struct iovec *iov, int iovcnt);

/* How many more descriptors this process could open under RLIMIT_NOFILE
 * (ulimit -n), counted up to `upto`: 0 means the table is full.  Asked
 * after a failure that may have another cause: mq_open's EMFILE also means
 * RLIMIT_MSGQUEUE, and a library that fails inside (libwebsockets) closes
 * what it got and leaves errno at anything.  Opens /dev/null that many
 * times (closed again at once), so another thread may change the answer;
 * for error messages only.  Keeps errno. */
int ipc__fds_left(int upto);

#endif /* IPCPLAY_CORE_FD_H */
