/*
 * core/gate.c — the close gate (gate.h): a robust lock around "shut?" and
 * the publish, and around close's store.
 */
#define _GNU_SOURCE
#include "core/gate.h"
#include "core/error.h"
#include "core/sync.h"

int ipc__gate_init(ipc_gate *g)
{
    atomic_init(&g->shut, 0);
    return ipc__shared_mutex_init(&g->lock);
}

int ipc__gate_enter(ipc_gate *g, const ipc_deadline *d, const char *who)
{
    int rc = ipc__lock_brief(&g->lock, d, NULL); /* a dead holder: taken over, shut is one word */
    if (rc != 0) return rc; /* 1: deadline, or IPC_ESYS */
    /* RELAXED would do under the lock; ACQUIRE keeps the one reading rule. */
    if (ipc__gate_is_shut(g)) {
        pthread_mutex_unlock(&g->lock);
        return ipc__fail(IPC_ECLOSED, "%s: channel is shut down", who);
    }
    return IPC_OK;
}

void ipc__gate_leave(ipc_gate *g)
{
    pthread_mutex_unlock(&g->lock);
}

int ipc__gate_close(ipc_gate *g)
{
    int rc = ipc__lock(&g->lock, &ipc__forever, NULL);
    if (rc != 0) return rc;
    /* RELEASE: a reader that sees 1 (ACQUIRE) sees every publish made inside
     * the gate before this store (the lock orders them before it). */
    atomic_store_explicit(&g->shut, 1, memory_order_release);
    pthread_mutex_unlock(&g->lock);
    return IPC_OK;
}
