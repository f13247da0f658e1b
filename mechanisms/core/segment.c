/*
 * core/segment.c — named shared-memory segments (segment.h).
 */
#define _GNU_SOURCE
#include "core/segment.h"
#include "core/error.h"
#include "core/names.h"
#include "core/stale.h" /* ipc__check_owner */
#include "core/sync.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int ipc__segment_create(ipc_segment *s, const char *name, size_t size, unsigned flags)
{
    memset(s, 0, sizeof *s);
    if (!name) {
        s->addr = ipc__shared_alloc(size);
        if (!s->addr) return IPC_ESYS;
        s->size = size;
        return IPC_OK;
    }
    int rc = ipc__object_name(s->name, sizeof s->name, name, "shared segment");
    if (rc != IPC_OK) return rc;
    int fd = shm_open(s->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST && (flags & IPC_SEGMENT_REPLACE_STALE)) {
        shm_unlink(s->name);
        fd = shm_open(s->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
    if (fd < 0) {
        rc = ipc__fail(IPC_ESYS, "shm_open(%s)", s->name);
        s->name[0] = '\0';
        return rc;
    }
    void *p = MAP_FAILED;
    if (ftruncate(fd, (off_t)size) < 0) rc = ipc__fail(IPC_ESYS, "ftruncate(%s, %zu)", s->name, size);
    else if ((p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
        rc = ipc__fail(IPC_ESYS, "mmap(%s, %zu)", s->name, size);
    close(fd); /* the mapping keeps the object alive */
    if (rc != IPC_OK) {
        shm_unlink(s->name);
        s->name[0] = '\0';
        return rc;
    }
    s->addr = p;
    s->size = size;
    s->unlinker = getpid();
    return IPC_OK;
}

void ipc__segment_ready(_Atomic uint32_t *word, uint32_t magic)
{
    /* RELEASE, last: an attacher that sees the magic sees the whole set-up. */
    atomic_store_explicit(word, magic, memory_order_release);
}

/* Poll cond every millisecond for up to IPC_SEGMENT_SETTLE_MS: the creator
 * is between two steps of its set-up. */
static bool settle(bool (*cond)(const void *, size_t, uint32_t), const void *a, size_t b, uint32_t c)
{
    const struct timespec tick = { .tv_sec = 0, .tv_nsec = 1000000 };
    for (int i = 0; i < IPC_SEGMENT_SETTLE_MS; i++) {
        if (cond(a, b, c)) return true;
        nanosleep(&tick, NULL);
    }
    return cond(a, b, c);
}

static bool sized(const void *fd, size_t min_size, uint32_t unused)
{
    (void)unused;
    struct stat st;
    return fstat(*(const int *)fd, &st) == 0 && (size_t)st.st_size >= min_size;
}

static bool marked(const void *word, size_t unused, uint32_t magic)
{
    (void)unused;
    /* ACQUIRE: pairs with the creator's RELEASE in ipc__segment_ready. */
    return atomic_load_explicit((_Atomic uint32_t *)word, memory_order_acquire) == magic;
}

int ipc__segment_attach(ipc_segment *s, const char *name, size_t min_size,
                        size_t magic_offset, uint32_t magic)
{
    memset(s, 0, sizeof *s);
    int rc = ipc__object_name(s->name, sizeof s->name, name, "shared segment");
    if (rc != IPC_OK) return rc;
    if (magic_offset + sizeof(uint32_t) > min_size)
        return ipc__fail(IPC_EINVAL, "%s: magic outside the segment", s->name); /* a caller's bug */
    int fd = shm_open(s->name, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) {
        rc = ipc__fail(IPC_ESYS, "shm_open(%s) to attach", s->name);
        memset(s, 0, sizeof *s);
        return rc;
    }
    struct stat st;
    if (!settle(sized, &fd, min_size, 0) || fstat(fd, &st) < 0) {
        close(fd);
        rc = ipc__fail(IPC_EINVAL, "%s is not an ipcplay object (smaller than %zu bytes)", s->name, min_size);
        memset(s, 0, sizeof *s);
        return rc;
    }
    /* Security (issue 12): attach only to an object the caller's uid owns. */
    if ((rc = ipc__check_owner(st.st_uid, s->name)) != IPC_OK) {
        close(fd);
        memset(s, 0, sizeof *s);
        return rc;
    }
    size_t size = (size_t)st.st_size;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) rc = ipc__fail(IPC_ESYS, "mmap(%s, %zu)", s->name, size);
    close(fd);
    if (rc == IPC_OK && !settle(marked, (char *)p + magic_offset, 0, magic)) {
        munmap(p, size);
        rc = ipc__fail(IPC_EINVAL, "%s is not a ready ipcplay object of this version", s->name);
    }
    if (rc != IPC_OK) {
        memset(s, 0, sizeof *s);
        return rc;
    }
    s->addr = p;
    s->size = size;
    s->unlinker = 0; /* an attacher never unlinks */
    return IPC_OK;
}

void ipc__segment_release(ipc_segment *s)
{
    if (s->addr) {
        if (s->name[0]) munmap(s->addr, s->size);
        else ipc__shared_free(s->addr, s->size);
    }
    if (s->name[0] && s->unlinker == getpid()) shm_unlink(s->name);
    memset(s, 0, sizeof *s);
}
