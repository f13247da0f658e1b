/*
 * core/segment.c — named shared-memory segments (segment.h).
 */
#define _GNU_SOURCE
#include "core/segment.h"
#include "core/error.h"
#include "core/names.h"
#include "core/stale.h" /* ipc__check_owner */
#include "core/sync.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int check_tag(const char *tag)
{
    if (tag[0] != '.' || strchr(tag, '/') || strlen(tag) > NAME_MAX / 2)
        return ipc__fail(IPC_EINVAL, "segment tag '%.40s' must be a short '.'-suffix without '/'", tag);
    return IPC_OK;
}

/* Every /dev/shm entry "<prefix>.<pid>.<n><tag>": calls fn(arg, leaf, pid)
 * until it returns true.  false if /dev/shm cannot be listed (errno). */
static bool each_tagged(const char *tag, bool (*fn)(void *, const char *, int), void *arg)
{
    DIR *d = opendir("/dev/shm");
    if (!d) return false;
    size_t tlen = strlen(tag);
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len <= tlen || strcmp(e->d_name + len - tlen, tag) != 0) continue;
        /* exactly "<prefix>.<pid>.<n>" before the tag */
        char head[NAME_MAX + 1];
        snprintf(head, sizeof head, "%.*s", (int)(len - tlen), e->d_name);
        int pid = ipc__generated_pid(head, NULL);
        if (pid <= 0) continue;
        const char *p = head + strlen(ipc__name_prefix()) + 1;
        p += strspn(p, "0123456789") + 1; /* the pid and its '.' */
        if (p[strspn(p, "0123456789")] != '\0') continue;
        if (fn(arg, e->d_name, pid)) break;
    }
    closedir(d);
    return true;
}

static bool unlink_one(void *arg, const char *leaf, int pid)
{
    (void)arg, (void)pid;
    char name[NAME_MAX + 2];
    snprintf(name, sizeof name, "/%s", leaf);
    shm_unlink(name); /* ENOENT: a sweep was quicker */
    return false;
}

typedef struct found { char leaf[NAME_MAX + 1]; bool any, alive; } found;

static bool pick(void *arg, const char *leaf, int pid)
{
    found *f = arg;
    struct stat st;
    char path[NAME_MAX + 16];
    snprintf(path, sizeof path, "/dev/shm/%s", leaf);
    bool alive = stat(path, &st) == 0 && ipc__creator_alive(pid, st.st_ctime);
    if (!f->any || (alive && !f->alive)) {
        snprintf(f->leaf, sizeof f->leaf, "%s", leaf);
        f->any = true;
        f->alive = alive;
    }
    return f->alive; /* a live creator's: done */
}

int ipc__segment_find(char *out, size_t size, const char *tag)
{
    int rc = check_tag(tag);
    if (rc != IPC_OK) return rc;
    const struct timespec tick = { .tv_sec = 0, .tv_nsec = 1000000 };
    found f = { .any = false };
    for (int i = 0; i <= IPC_SEGMENT_SETTLE_MS && !f.any; i++) {
        if (i) nanosleep(&tick, NULL); /* the creator may be between its mkfifo and here */
        if (!each_tagged(tag, pick, &f)) return ipc__fail(IPC_ESYS, "opendir(/dev/shm)");
    }
    if (!f.any) {
        errno = ENOENT;
        return ipc__fail(IPC_ESYS, "no shared segment '<prefix>.<pid>.<n>%s' (prefix '%s')", tag, ipc__name_prefix());
    }
    int n = snprintf(out, size, "/%s", f.leaf);
    if (n < 0 || (size_t)n >= size) return ipc__fail(IPC_EINVAL, "segment name '%s' does not fit", f.leaf);
    return IPC_OK;
}

int ipc__segment_create(ipc_segment *s, const char *name, size_t size, unsigned flags)
{
    memset(s, 0, sizeof *s);
    if (!name) {
        s->addr = ipc__shared_alloc(size);
        if (!s->addr) return IPC_ESYS;
        s->size = size;
        return IPC_OK;
    }
    int rc;
    if (flags & IPC_SEGMENT_TAGGED) {
        if ((rc = check_tag(name)) != IPC_OK) return rc;
        (void)each_tagged(name, unlink_one, NULL); /* a dead creator's, from an earlier identity */
        rc = ipc__unique_name(s->name, sizeof s->name, "/", name);
    } else {
        rc = ipc__object_name(s->name, sizeof s->name, name, "shared segment");
    }
    if (rc != IPC_OK) {
        s->name[0] = '\0';
        return rc;
    }
    int fd = shm_open(s->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = ipc__fail(IPC_ESYS, "shm_open(%s)", s->name);
        s->name[0] = '\0';
        return rc;
    }
    void *p = MAP_FAILED;
    int err;
    if (ftruncate(fd, (off_t)size) < 0) rc = ipc__fail(IPC_ESYS, "ftruncate(%s, %zu)", s->name, size);
    /* ftruncate reserves nothing: on a full /dev/shm the first touch of a
     * page would be SIGBUS, long after open said yes.  Take the pages now,
     * so a full tmpfs is an error here (ENOSPC). */
    else if ((err = posix_fallocate(fd, 0, (off_t)size)) != 0)
        errno = err, rc = ipc__fail(IPC_ESYS, "no room in /dev/shm for %s (%zu bytes): posix_fallocate", s->name, size);
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
