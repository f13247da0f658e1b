/*
 * core/pool.c — idle-connection pools and their fork handlers (pool.h).
 *
 * Lock order: g_pools_lock, then any pool's lock.  The fork handlers hold
 * all of them from prepare to parent/child, so a child never inherits a
 * pool locked by a thread that does not exist there, nor a half-pushed
 * idle list.
 */
#define _GNU_SOURCE
#include "core/pool.h"
#include "core/error.h"
#include "core/process.h"
#include "core/sync.h"

#include <stddef.h>

static pthread_mutex_t g_pools_lock = PTHREAD_MUTEX_INITIALIZER;
static ipc_pool       *g_pools;

static void pools_prepare(void)
{
    pthread_mutex_lock(&g_pools_lock);
    for (ipc_pool *p = g_pools; p; p = p->next) pthread_mutex_lock(&p->lock);
}

static void pools_parent(void)
{
    for (ipc_pool *p = g_pools; p; p = p->next) pthread_mutex_unlock(&p->lock);
    pthread_mutex_unlock(&g_pools_lock);
}

static void pools_child(void)
{
    for (ipc_pool *p = g_pools; p; p = p->next) {
        while (p->n > 0) p->drop(p->idle[--p->n], false); /* the parent's: only our copy of the socket */
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_unlock(&g_pools_lock);
}

int ipc__pool_init(ipc_pool *p, void (*drop)(void *c, bool polite), bool (*alive)(void *c))
{
    int rc = ipc__atfork(pools_prepare, pools_parent, pools_child); /* a no-op after the first */
    if (rc != IPC_OK) return rc;
    if ((rc = ipc__mutex_init(&p->lock, false)) != IPC_OK) return rc;
    p->n = 0;
    p->drop = drop;
    p->alive = alive;
    p->prev = NULL;
    pthread_mutex_lock(&g_pools_lock);
    p->next = g_pools;
    if (g_pools) g_pools->prev = p;
    g_pools = p;
    pthread_mutex_unlock(&g_pools_lock);
    return IPC_OK;
}

void *ipc__pool_take(ipc_pool *p)
{
    for (;;) {
        pthread_mutex_lock(&p->lock);
        void *c = p->n > 0 ? p->idle[--p->n] : NULL;
        pthread_mutex_unlock(&p->lock);
        if (!c || !p->alive || p->alive(c)) return c;
        p->drop(c, true); /* the server closed it (restarted, or timed it out) */
    }
}

void ipc__pool_give(ipc_pool *p, void *c)
{
    pthread_mutex_lock(&p->lock);
    bool kept = p->n < IPC_POOL_MAX;
    if (kept) p->idle[p->n++] = c;
    pthread_mutex_unlock(&p->lock);
    if (!kept) p->drop(c, true);
}

void ipc__pool_destroy(ipc_pool *p)
{
    pthread_mutex_lock(&g_pools_lock);
    if (p->prev) p->prev->next = p->next;
    else if (g_pools == p) g_pools = p->next;
    if (p->next) p->next->prev = p->prev;
    pthread_mutex_unlock(&g_pools_lock);
    while (p->n > 0) p->drop(p->idle[--p->n], true);
    pthread_mutex_destroy(&p->lock);
}
