/*
 * core/thread.c — helper threads (thread.h).
 */
#define _GNU_SOURCE
#include "core/thread.h"
#include "core/deadline.h"
#include "core/error.h"

#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

int ipc__helper_init(ipc_helper *h)
{
    h->pid = 0;
    h->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (h->stop_fd < 0) return ipc__fail(IPC_ESYS, "eventfd");
    return IPC_OK;
}

int ipc__helper_start(ipc_helper *h, void *(*fn)(void *), void *arg)
{
    /* The new thread inherits the signal mask in force at pthread_create. */
    sigset_t all, old;
    sigfillset(&all);
    int err = pthread_sigmask(SIG_SETMASK, &all, &old);
    if (!err) {
        err = pthread_create(&h->thread, NULL, fn, arg);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    if (err) { /* pthread calls return the error instead of setting errno */
        errno = err;
        return ipc__fail(IPC_ESYS, "pthread_create");
    }
    h->pid = getpid();
    return IPC_OK;
}

void ipc__helper_stop(ipc_helper *h, int grace_ms, void (*unstick)(void *), void *arg)
{
    if (h->stop_fd < 0) return;
    if (h->pid == getpid()) {
        uint64_t one = 1;
        if (write(h->stop_fd, &one, sizeof one) < 0) { /* cannot fail: counter far from max */ }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until); /* pthread_timedjoin_np takes CLOCK_REALTIME */
        ipc__timespec_add_ns(&until, (int64_t)grace_ms * 1000000);
        if (pthread_timedjoin_np(h->thread, NULL, &until) != 0) {
            if (unstick) unstick(arg);
            pthread_join(h->thread, NULL);
        }
    }
    h->pid = 0;
    close(h->stop_fd);
    h->stop_fd = -1;
}
