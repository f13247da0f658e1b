/*
 * kernel_util.c — holdback, backoff and /proc limits for the kernel-queue
 * mechanisms.  See kernel_util.h for why each exists.
 */
#define _GNU_SOURCE
#include "kernel_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- holdback ---------------------------------------------------------- */

struct ipc_held {
    ipc_held     *next;
    size_t        len;
    int           prio;
    unsigned char data[];
};

int ipc__holdback_init(ipc_holdback *h)
{
    h->head = h->tail = NULL;
    atomic_init(&h->any, false);
    int err = pthread_mutex_init(&h->lock, NULL);
    if (err) {
        errno = err;
        return ipc__fail(IPC_ESYS, "pthread_mutex_init (holdback)");
    }
    return IPC_OK;
}

int ipc__holdback_put(ipc_holdback *h, const void *msg, size_t len, int prio)
{
    ipc_held *m = malloc(sizeof *m + len);
    if (!m) return ipc__fail(IPC_ESYS, "malloc (holdback of a %zu-byte message)", len);
    m->next = NULL;
    m->len = len;
    m->prio = prio;
    if (len) memcpy(m->data, msg, len);
    pthread_mutex_lock(&h->lock);
    if (h->tail) h->tail->next = m;
    else h->head = m;
    h->tail = m;
    atomic_store_explicit(&h->any, true, memory_order_release);
    pthread_mutex_unlock(&h->lock);
    return IPC_OK;
}

/* Unlink the head (lock held). */
static ipc_held *unlink_head(ipc_holdback *h)
{
    ipc_held *m = h->head;
    h->head = m->next;
    if (!h->head) {
        h->tail = NULL;
        atomic_store_explicit(&h->any, false, memory_order_relaxed);
    }
    return m;
}

int ipc__holdback_take(ipc_holdback *h, void *buf, size_t cap, size_t *len, int *prio)
{
    if (!atomic_load_explicit(&h->any, memory_order_acquire)) return IPC_HOLDBACK_EMPTY;
    pthread_mutex_lock(&h->lock);
    ipc_held *m = h->head;
    int rc = IPC_HOLDBACK_EMPTY;
    if (m && m->len > cap) {
        *len = m->len;
        rc = ipc__fail(IPC_EMSGSIZE, "message of %zu bytes does not fit a %zu-byte buffer", m->len, cap);
        m = NULL;
    } else if (m) {
        unlink_head(h);
        rc = IPC_OK;
    }
    pthread_mutex_unlock(&h->lock);
    if (m) {
        if (m->len) memcpy(buf, m->data, m->len);
        *len = m->len;
        *prio = m->prio;
        free(m);
    }
    return rc;
}

int ipc__holdback_pop(ipc_holdback *h, void *msg, size_t *len, int *prio)
{
    if (!atomic_load_explicit(&h->any, memory_order_acquire)) return 0;
    pthread_mutex_lock(&h->lock);
    ipc_held *m = h->head ? unlink_head(h) : NULL;
    pthread_mutex_unlock(&h->lock);
    if (!m) return 0;
    if (m->len) memcpy(msg, m->data, m->len);
    *len = m->len;
    *prio = m->prio;
    free(m);
    return 1;
}

void ipc__holdback_reset(ipc_holdback *h)
{
    /* Called in a fresh child too, where another thread of the parent may
     * have held the lock at fork(): start from a new one. */
    pthread_mutex_init(&h->lock, NULL);
    while (h->head) free(unlink_head(h));
}

void ipc__holdback_destroy(ipc_holdback *h)
{
    while (h->head) free(unlink_head(h));
    pthread_mutex_destroy(&h->lock);
}

/* ---- backoff ----------------------------------------------------------- */

int ipc__backoff_sleep(ipc_backoff *b, const ipc_deadline *d)
{
    if (ipc__deadline_passed(d)) return 0;
    struct timespec wake = ipc__deadline_step(d, b->step_ns);
    /* An absolute wake-up time: a signal (EINTR) does not stretch the wait. */
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &wake, NULL) == EINTR) {}
    if (b->step_ns < IPC_BACKOFF_MAX_NS) b->step_ns *= 2;
    return !ipc__deadline_passed(d);
}

/* ---- limits ------------------------------------------------------------ */

int ipc__read_proc_limit(const char *path, long *value)
{
    FILE *f = fopen(path, "re");
    if (!f) return ipc__fail(IPC_ESYS, "fopen(%s)", path);
    int n = fscanf(f, "%ld", value);
    fclose(f);
    if (n != 1) {
        errno = EINVAL;
        return ipc__fail(IPC_ESYS, "%s holds no number", path);
    }
    return IPC_OK;
}
