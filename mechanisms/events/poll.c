/*
 * poll.c — ipc_poller: epoll over the channels' pollfds.
 *
 * epoll_create1 makes a kernel object holding an interest list; epoll_ctl
 * adds or removes an fd; epoll_wait returns only the fds that are ready, so
 * a loop over many channels costs O(ready), not O(watched) as poll(2) does.
 * Each fd is registered with its slot number in our table (epoll_data), and
 * the slot says which channel and user pointer it stands for.
 *
 * Level-triggered on purpose: the edge-style drain rule of poll.h comes
 * from the mechanisms' user-space buffers, not from epoll, and level
 * triggering forgives a caller who drains only part of the kernel's bytes.
 */
#define _GNU_SOURCE
#include "events/poll.h"
#include "../ipc_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define WAIT_BATCH 64 /* epoll events taken per system call */

typedef struct entry {
    ipc_channel *ch;   /* NULL for a plain fd            */
    int          fd;   /* -1: free slot                   */
    void        *user;
} entry;

struct ipc_poller {
    int     epfd;
    entry  *slots;
    size_t  nslots, used;
};

int ipc_poller_open(ipc_poller **out)
{
    if (!out) return ipc__fail(IPC_EINVAL, "ipc_poller_open: out is NULL");
    *out = NULL;
    ipc_poller *p = calloc(1, sizeof *p);
    if (!p) return ipc__fail(IPC_ESYS, "calloc");
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0) {
        int rc = ipc__fail(IPC_ESYS, "epoll_create1");
        free(p);
        return rc;
    }
    *out = p;
    return IPC_OK;
}

void ipc_poller_free(ipc_poller *p)
{
    if (!p) return;
    close(p->epfd);
    free(p->slots);
    free(p);
}

size_t ipc_poller_count(const ipc_poller *p)
{
    if (!p) return ipc__fail(IPC_EINVAL, "ipc_poller_count: poller is NULL"), 0;
    return p->used;
}

static entry *find(ipc_poller *p, const ipc_channel *ch, int fd)
{
    for (size_t i = 0; i < p->nslots; i++)
        if (p->slots[i].fd >= 0 && (ch ? p->slots[i].ch == ch : (!p->slots[i].ch && p->slots[i].fd == fd)))
            return &p->slots[i];
    return NULL;
}

/* A free slot, growing the table when it is full. */
static entry *free_slot(ipc_poller *p)
{
    for (size_t i = 0; i < p->nslots; i++)
        if (p->slots[i].fd < 0) return &p->slots[i];
    size_t n = p->nslots ? p->nslots * 2 : 8;
    entry *s = realloc(p->slots, n * sizeof *s);
    if (!s) {
        ipc__fail(IPC_ESYS, "realloc");
        return NULL;
    }
    for (size_t i = p->nslots; i < n; i++) s[i] = (entry){ .fd = -1 };
    entry *e = &s[p->nslots];
    p->slots = s;
    p->nslots = n;
    return e;
}

static int add(ipc_poller *p, ipc_channel *ch, int fd, void *user)
{
    if (find(p, ch, fd)) return ipc__fail(IPC_EINVAL, "already in this poller");
    entry *e = free_slot(p);
    if (!e) return IPC_ESYS;
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)(e - p->slots) };
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        if (errno == EEXIST) return ipc__fail(IPC_EINVAL, "fd %d is already in this poller", fd);
        return ipc__fail(errno == EBADF || errno == EPERM ? IPC_EINVAL : IPC_ESYS,
                         "epoll_ctl(ADD, fd %d)", fd);
    }
    *e = (entry){ .ch = ch, .fd = fd, .user = user };
    p->used++;
    return IPC_OK;
}

int ipc_poller_add(ipc_poller *p, ipc_channel *ch, void *user)
{
    if (!p) return ipc__fail(IPC_EINVAL, "ipc_poller_add: poller is NULL");
    const ipc_mechanism *m = ipc_channel_mechanism(ch);
    if (!m) return ipc__fail(IPC_EINVAL, "ipc_poller_add: not an open channel");
    int fd = ipc_pollfd(ch);
    if (fd < 0)
        return ipc__fail(IPC_ENOTSUP, "%s has no pollfd (no IPC_CAP_POLL: it waits on a %s); "
                         "receive from it with a timeout instead", m->name, m->wait_strategy);
    return add(p, ch, fd, user);
}

int ipc_poller_add_fd(ipc_poller *p, int fd, void *user)
{
    if (!p) return ipc__fail(IPC_EINVAL, "ipc_poller_add_fd: poller is NULL");
    if (fd < 0) return ipc__fail(IPC_EINVAL, "ipc_poller_add_fd: fd %d", fd);
    return add(p, NULL, fd, user);
}

static int remove_entry(ipc_poller *p, entry *e)
{
    /* If the fd was already closed, the kernel dropped it from the set. */
    if (epoll_ctl(p->epfd, EPOLL_CTL_DEL, e->fd, NULL) < 0 && errno != EBADF && errno != ENOENT)
        return ipc__fail(IPC_ESYS, "epoll_ctl(DEL, fd %d)", e->fd);
    *e = (entry){ .fd = -1 };
    p->used--;
    return IPC_OK;
}

int ipc_poller_remove(ipc_poller *p, ipc_channel *ch)
{
    entry *e = p && ch ? find(p, ch, -1) : NULL;
    if (!e) return ipc__fail(IPC_EINVAL, "ipc_poller_remove: channel not in this poller");
    return remove_entry(p, e);
}

int ipc_poller_remove_fd(ipc_poller *p, int fd)
{
    entry *e = p && fd >= 0 ? find(p, NULL, fd) : NULL;
    if (!e) return ipc__fail(IPC_EINVAL, "ipc_poller_remove_fd: fd %d not in this poller", fd);
    return remove_entry(p, e);
}

int ipc_poller_wait(ipc_poller *p, ipc_ready *ready, size_t max, int timeout_ms)
{
    if (!p || !ready || max == 0)
        return ipc__fail(IPC_EINVAL, "ipc_poller_wait: %s", !p ? "poller is NULL" : "no room for results");
    if (p->used == 0) return ipc__fail(IPC_EINVAL, "ipc_poller_wait: nothing to wait for");
    struct epoll_event evs[WAIT_BATCH];
    int batch = max < WAIT_BATCH ? (int)max : WAIT_BATCH;
    ipc_deadline d;
    int rc = ipc__deadline_begin(&d, timeout_ms, "ipc_poller_wait");
    if (rc != IPC_OK) return rc;
    for (;;) {
        int n = epoll_wait(p->epfd, evs, batch, ipc__deadline_poll_ms(&d));
        if (n < 0) {
            if (errno == EINTR) continue; /* the deadline is absolute: no restart */
            return ipc__fail(IPC_ESYS, "epoll_wait");
        }
        if (n == 0) {
            /* millisecond rounding may wake a hair early: re-check */
            if (!ipc__deadline_passed(&d)) continue;
            return ipc__fail(IPC_ETIMEDOUT, "no channel ready before the deadline");
        }
        for (int i = 0; i < n; i++) {
            const entry *e = &p->slots[evs[i].data.u64];
            ready[i] = (ipc_ready){ .ch = e->ch, .fd = e->fd, .user = e->user };
        }
        return n;
    }
}

int ipc_poll(ipc_channel *const *chs, size_t n, bool *ready, int timeout_ms)
{
    if (!chs || !ready || n == 0)
        return ipc__fail(IPC_EINVAL, "ipc_poll: %s", n == 0 ? "no channels" : "NULL array");
    if (!ipc__timeout_valid(timeout_ms)) return ipc__timeout_check("ipc_poll", timeout_ms);
    ipc_ready *got = malloc(n * sizeof *got);
    if (!got) return ipc__fail(IPC_ESYS, "malloc");
    ipc_poller *p = NULL;
    int rc = ipc_poller_open(&p);
    for (size_t i = 0; rc == IPC_OK && i < n; i++) {
        ready[i] = false;
        rc = ipc_poller_add(p, chs[i], (void *)(uintptr_t)i);
        if (rc != IPC_OK) { /* say which one: copy first, ipc__fail overwrites it */
            char why[400];
            snprintf(why, sizeof why, "%s", ipc_last_error());
            ipc__fail(rc, "ipc_poll: chs[%zu]: %s", i, why);
        }
    }
    if (rc == IPC_OK) rc = ipc_poller_wait(p, got, n, timeout_ms);
    for (int i = 0; i < rc; i++) ready[(uintptr_t)got[i].user] = true;
    ipc_poller_free(p);
    free(got);
    return rc;
}
