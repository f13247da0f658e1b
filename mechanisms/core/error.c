/*
 * core/error.c — error codes, their text, the per-thread message and errno.
 * Both buffers are _Thread_local: no lock, and one thread's failure never
 * overwrites another's message.
 */
#define _GNU_SOURCE
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[512];
static _Thread_local int  last_errno;

const char *ipc_strerror(int err)
{
    switch (err) {
    case IPC_OK:       return "success";
    case IPC_EFULL:    return "channel is full (send would block or timed out)";
    case IPC_EEMPTY:   return "channel is empty (receive would block or timed out)";
    case IPC_ECLOSED:  return "channel is closed (or the peer is gone)";
    case IPC_EMSGSIZE: return "message too large for the channel or the buffer";
    case IPC_EINVAL:   return "invalid argument";
    case IPC_ENOMECH:  return "unknown mechanism";
    case IPC_ESYS:     return "system call failed (see errno)";
    case IPC_ENOTSUP:  return "not supported by this mechanism";
    case IPC_ETIMEDOUT: return "timed out (the awaited state was not reached)";
    default:           return "unknown error code";
    }
}

const char *ipc_last_error(void) { return last_error; }

int ipc__fail(int err, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    if (err == IPC_ESYS) {
        last_errno = saved;
        if (n >= 0 && (size_t)n < sizeof last_error)
            snprintf(last_error + n, sizeof last_error - (size_t)n, ": %s", strerror(saved));
    }
    errno = saved;
    return err;
}

int ipc__saved_errno(void) { return last_errno; }

void ipc__restore_errno(int rc)
{
    if (rc == IPC_ESYS && last_errno) errno = last_errno;
}
