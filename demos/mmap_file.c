/*
 * mmap_file.c — a memory-mapped file shared by two processes, and what
 * MAP_PRIVATE changes.
 *
 * mmap(2) of a regular file with MAP_SHARED puts the file's pages (the page
 * cache) into the address space: a store is a write to the file, visible at
 * once to every other process mapping it and to read(2), and it stays in the
 * file after every process has gone — shared memory that persists.  msync()
 * only forces the pages to the disk; other processes see them without it.
 * With MAP_PRIVATE the first store to a page copies it (copy-on-write): the
 * process gets its own page and the file never changes.
 *
 * The demo:
 *   1. creates a file of one page, maps it MAP_SHARED; a child maps the
 *      same file (by path, as an unrelated process would) and stores a
 *      message and a counter; the parent sees them through its own mapping
 *      AND through read(2) of the file;
 *   2. maps it MAP_PRIVATE and writes: the mapping changes, the file does not;
 *   3. unmaps everything: the message is still in the file (persistent).
 *
 * Mirrors: mmap.mmap in Python, the way numpy.memmap shares arrays; TLPI
 * chapter 49.
 *
 * Usage: mmap_file [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>

enum { SIZE = 4096 };

static char *map_file(const char *path, int flags)
{
    int fd = demo_sys(open(path, O_RDWR | O_CLOEXEC), "open");
    char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (p == MAP_FAILED) demo_sys(-1, "mmap");
    demo_sys(close(fd), "close"); /* the mapping keeps the file referenced */
    return p;
}

/* The first `n` bytes of the file, through read(2), NUL-terminated. */
static void read_file(const char *path, char *buf, size_t n)
{
    int fd = demo_sys(open(path, O_RDONLY | O_CLOEXEC), "open");
    ssize_t got = demo_sys((int)pread(fd, buf, n - 1, 0), "pread");
    buf[got] = '\0';
    demo_sys(close(fd), "close");
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: mmap_file\n"
               "Two processes share a file through MAP_SHARED mappings; MAP_PRIVATE copies on\n"
               "write; the data stays in the file after every mapping is gone.\n");

    char dir[] = "/tmp/ipcplay-demo-mmap.XXXXXX";
    if (!mkdtemp(dir)) demo_sys(-1, "mkdtemp");
    char path[sizeof dir + 16];
    snprintf(path, sizeof path, "%s/data", dir);
    int fd = demo_sys(open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600), "open");
    demo_sys(ftruncate(fd, SIZE), "ftruncate"); /* a mapping cannot grow the file */
    demo_sys(close(fd), "close");

    char *shared = map_file(path, MAP_SHARED);
    printf("1. %s mapped MAP_SHARED in the parent\n", path);
    pid_t kid = demo_fork();
    if (kid == 0) {
        char *mine = map_file(path, MAP_SHARED); /* its own mapping of the same file */
        snprintf(mine, SIZE, "written by child %d through its mapping", (int)getpid());
        _exit(munmap(mine, SIZE) == 0 ? 0 : 1);
    }
    demo_reap(kid, "child");
    char via_read[128];
    read_file(path, via_read, sizeof via_read);
    printf("   parent's mapping: \"%s\"\n", shared);
    printf("   read(2) of the file: \"%s\"\n", via_read);
    int same = strcmp(shared, via_read) == 0 && strncmp(shared, "written by child", 16) == 0;

    printf("2. MAP_PRIVATE: a store copies the page\n");
    char *private = map_file(path, MAP_PRIVATE);
    snprintf(private, SIZE, "private scribble");
    read_file(path, via_read, sizeof via_read);
    printf("   private mapping: \"%s\"; the file still says: \"%s\"\n", private, via_read);
    int untouched = strncmp(via_read, "written by child", 16) == 0;
    demo_sys(munmap(private, SIZE), "munmap");

    printf("3. every mapping gone\n");
    demo_sys(msync(shared, SIZE, MS_SYNC), "msync"); /* to the disk; not needed for sharing */
    demo_sys(munmap(shared, SIZE), "munmap");
    read_file(path, via_read, sizeof via_read);
    printf("   the file keeps: \"%s\"\n", via_read);
    int persists = strncmp(via_read, "written by child", 16) == 0;
    demo_sys(unlink(path), "unlink");
    demo_sys(rmdir(dir), "rmdir");

    if (!same || !untouched || !persists) return 1;
    printf("lesson: MAP_SHARED file pages are shared memory that outlives the processes\n");
    return 0;
}
