/*
 * core/fd.c — fd helpers (fd.h).  No state: the SIGPIPE handling touches
 * only the calling thread's signal mask, and restores it before returning.
 */
#define _GNU_SOURCE
#include "core/fd.h"
#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <unistd.h>

int ipc__set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return ipc__fail(IPC_ESYS, "fcntl(O_NONBLOCK)");
    return IPC_OK;
}

ssize_t ipc__writev_nosigpipe(int fd, const struct iovec *iov, int iovcnt)
{
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    /* Block SIGPIPE in this thread only: the SIGPIPE an EPIPE write raises is
     * thread-directed, so it stays pending here instead of being delivered. */
    if (pthread_sigmask(SIG_BLOCK, &pipe_only, &old) != 0) return writev(fd, iov, iovcnt);
    bool was_blocked = sigismember(&old, SIGPIPE) == 1;
    /* Already blocked by the program: a SIGPIPE pending from before is the
     * program's, not ours to consume. */
    bool was_pending = false;
    if (was_blocked) {
        sigset_t pending;
        was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
    }
    ssize_t n = writev(fd, iov, iovcnt);
    int err = errno;
    if (n < 0 && err == EPIPE && !was_pending) {
        const struct timespec zero = { 0, 0 };
        while (sigtimedwait(&pipe_only, NULL, &zero) < 0 && errno == EINTR) {}
    }
    if (!was_blocked) pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return n;
}

int ipc__fds_left(int upto)
{
    int saved = errno, fds[64], n = 0;
    if (upto > 64) upto = 64;
    while (n < upto && (fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0) n++;
    for (int i = 0; i < n; i++) close(fds[i]);
    errno = saved;
    return n;
}
