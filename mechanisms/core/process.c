/*
 * core/process.c — the fork and exit hook tables, and whether a process is
 * still running (process.h).
 *
 * Invariant: an entry is written completely before `count` makes it
 * visible, and entries are never removed, so the dispatchers (which may run
 * in fork() while another thread registers) read a consistent prefix
 * without a lock.  fork() itself holds the registration lock from prepare
 * to parent/child, so a child never inherits it locked by a thread that
 * does not exist there.
 */
#define _GNU_SOURCE
#include "core/process.h"
#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fork_hooks { void (*prepare)(void), (*parent)(void), (*child)(void); } fork_hooks;

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static fork_hooks      forks[IPC_HOOKS_MAX];
static atomic_int      nforks;   /* published entries of forks[]            */
static pthread_once_t  forks_once = PTHREAD_ONCE_INIT;
static int             forks_err;  /* pthread_atfork's answer, set once     */
static void          (*exits[IPC_HOOKS_MAX])(void);
static atomic_int      nexits;
static bool            exits_installed;

/* ACQUIRE loads of the counts: pair with the RELEASE stores in the
 * registration functions, so every visible entry is complete. */
static void run_prepare(void)
{
    pthread_mutex_lock(&reg_lock);
    for (int i = atomic_load_explicit(&nforks, memory_order_acquire); i-- > 0;)
        if (forks[i].prepare) forks[i].prepare();
}

static void run_parent(void)
{
    int n = atomic_load_explicit(&nforks, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (forks[i].parent) forks[i].parent();
    pthread_mutex_unlock(&reg_lock);
}

static void run_child(void)
{
    int n = atomic_load_explicit(&nforks, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (forks[i].child) forks[i].child();
    pthread_mutex_unlock(&reg_lock);
}

static void run_exits(void)
{
    for (int i = atomic_load_explicit(&nexits, memory_order_acquire); i-- > 0;)
        exits[i]();
}

/* Registered with libc outside reg_lock: glibc holds its own atfork lock
 * while it runs run_prepare (which takes reg_lock), so calling
 * pthread_atfork under reg_lock could deadlock against a concurrent fork. */
static void install_forks(void) { forks_err = pthread_atfork(run_prepare, run_parent, run_child); }

int ipc__atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
    int rc = IPC_OK;
    pthread_once(&forks_once, install_forks);
    if (forks_err) {
        errno = forks_err;
        return ipc__fail(IPC_ESYS, "pthread_atfork");
    }
    pthread_mutex_lock(&reg_lock);
    int n = atomic_load_explicit(&nforks, memory_order_relaxed); /* RELAXED: writers hold reg_lock */
    for (int i = 0; i < n; i++)
        if (forks[i].prepare == prepare && forks[i].parent == parent && forks[i].child == child)
            goto out; /* already registered */
    if (n == IPC_HOOKS_MAX) {
        rc = ipc__fail(IPC_EINVAL, "ipc__atfork: more than %d fork handler sets", IPC_HOOKS_MAX);
        goto out;
    }
    forks[n] = (fork_hooks){ prepare, parent, child };
    atomic_store_explicit(&nforks, n + 1, memory_order_release); /* RELEASE: entry before count */
out:
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

int ipc__atexit(void (*fn)(void))
{
    int rc = IPC_OK;
    pthread_mutex_lock(&reg_lock);
    int n = atomic_load_explicit(&nexits, memory_order_relaxed); /* RELAXED: writers hold reg_lock */
    for (int i = 0; i < n; i++)
        if (exits[i] == fn) goto out;
    if (!exits_installed) {
        if (atexit(run_exits) != 0) {
            rc = ipc__fail(IPC_ESYS, "atexit");
            goto out;
        }
        exits_installed = true;
    }
    if (n == IPC_HOOKS_MAX) {
        rc = ipc__fail(IPC_EINVAL, "ipc__atexit: more than %d exit handlers", IPC_HOOKS_MAX);
        goto out;
    }
    exits[n] = fn;
    atomic_store_explicit(&nexits, n + 1, memory_order_release); /* RELEASE: entry before count */
out:
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

bool ipc__find_in_path(const char *prog, char *out, size_t size)
{
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        int len = snprintf(out, size, "%.*s/%s", (int)n, p, prog);
        if (len > 0 && (size_t)len < size && access(out, X_OK) == 0) return true;
        p += n;
        if (*p == ':') p++;
    }
    return false;
}

/* ---- is a process still there ------------------------------------------ */

/* Running: neither a zombie (a creator just killed stays one until reaped)
 * nor dying (process.h).  A SIGKILLed process is dying from the moment the
 * signal is queued to it (ShdPnd holds SIGKILL until it is gone) and while
 * its main thread exits (PF_EXITING): its other threads, the sitter among them, may
 * end first — the sitter's end sends the broker its death signal — while
 * the main thread still waits for a CPU or tears down a large address space
 * (ASan's): a holder told "connection lost" in that window must already
 * see its creator gone. */
#define PROC_PF_EXITING 0x4u /* include/linux/sched.h: getting shut down */
bool ipc__process_running(pid_t pid)
{
    if (kill(pid, 0) < 0 && errno == ESRCH) return false;
    char path[64], buf[4096]; /* /proc/PID/status is ~1.5 KB, ShdPnd ~0.6 KB in */
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno != ENOENT;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return true;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* comm may hold spaces and ')' */
    char state = 0;
    unsigned flags = 0; /* field 9, after state ppid pgrp session tty_nr tpgid */
    if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %u", &state, &flags) != 2) return true;
    if (state == 'Z' || state == 'X' || (flags & PROC_PF_EXITING)) return false;
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno != ENOENT;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return true;
    buf[n] = '\0';
    unsigned long long shdpnd = 0;
    const char *s = strstr(buf, "\nShdPnd:");
    if (s && sscanf(s + 8, " %llx", &shdpnd) == 1 && (shdpnd >> (SIGKILL - 1) & 1)) return false;
    return true;
}

int ipc__ended_with_creator(int rc, pid_t creator, const char *mech, const char *name)
{
    if (rc != IPC_ESYS || creator <= 0 || creator == getpid()) return rc;
    int saved = errno;
    bool gone = !ipc__process_running(creator);
    errno = saved;
    if (!gone) return rc;
    rc = ipc__fail(IPC_ECLOSED, "%s: channel '%s' ended with its creator (pid %ld), whose embedded server it was", mech,
                   name ? name : "", (long)creator);
    errno = saved;
    return rc;
}
