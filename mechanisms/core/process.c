/*
 * core/process.c — the fork and exit hook tables (process.h).
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

#include <pthread.h>
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
