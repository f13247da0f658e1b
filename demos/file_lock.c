/*
 * file_lock.c — three kinds of file lock, and the one that vanishes.
 *
 * Linux has three advisory locks on files (they stop only programs that
 * ask for them):
 *   flock(2)           the whole file; owned by the OPEN FILE DESCRIPTION
 *                      (shared by dup() and by fork()), released when the
 *                      last fd referring to it is closed;
 *   fcntl(F_SETLK)     POSIX record locks on byte ranges; owned by the
 *                      PROCESS: not inherited across fork(), and — the
 *                      famous trap — released when the process closes ANY
 *                      fd of that file, even one opened by a library for a
 *                      moment;
 *   fcntl(F_OFD_SETLK) "open file description" locks (Linux 3.15, POSIX
 *                      2024): byte ranges like fcntl, owned like flock —
 *                      the fix for the trap.
 *
 * The demo (a child probes with a non-blocking lock, as another process):
 *   1. fcntl lock on bytes 0-99: the child is refused; then the parent
 *      opens the same file again and closes that second fd: the lock is
 *      GONE and the child gets it;
 *   2. the same with an OFD lock: closing the other fd does not drop it;
 *   3. flock: the child inherits the lock's description through fork and is
 *      not blocked by it; a separate open() in the child is refused;
 *   4. what a lock + unlock costs with each kind (uncontended: two system
 *      calls; compare a semaphore or mutex, which need none).
 *
 * Mirrors: fcntl.lockf / fcntl.flock in Python; TLPI chapter 55.
 *
 * Usage: file_lock [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>

enum { PROBE_FREE = 10, PROBE_BUSY = 11 };

/* In a child: try to take a write lock on bytes 0-99 with `cmd` (F_SETLK or
 * F_OFD_SETLK) on a fresh open() of path; exit PROBE_FREE or PROBE_BUSY. */
static int probe(const char *path, int cmd)
{
    pid_t kid = demo_fork();
    if (kid == 0) {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0) _exit(2);
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100 };
        if (fcntl(fd, cmd, &fl) == 0) _exit(PROBE_FREE);
        _exit(errno == EAGAIN || errno == EACCES ? PROBE_BUSY : 3);
    }
    int status;
    while (waitpid(kid, &status, 0) == -1)
        if (errno != EINTR) demo_sys(-1, "waitpid");
    if (!WIFEXITED(status) || (WEXITSTATUS(status) != PROBE_FREE && WEXITSTATUS(status) != PROBE_BUSY)) {
        fprintf(stderr, "probe child failed (status %d)\n", status);
        exit(1);
    }
    return WEXITSTATUS(status);
}

static const char *said(int r) { return r == PROBE_FREE ? "got the lock" : "refused (locked)"; }

/* Lock bytes 0-99 of fd with cmd, then open+close the file once more and
 * report what another process sees before and after. */
static int close_other_fd(const char *path, int cmd, const char *what)
{
    int fd = demo_sys(open(path, O_RDWR | O_CLOEXEC), "open");
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100 };
    demo_sys(fcntl(fd, cmd, &fl), what);
    int before = probe(path, cmd);
    int other = demo_sys(open(path, O_RDONLY | O_CLOEXEC), "open (a second fd)");
    demo_sys(close(other), "close (the second fd)");
    int after = probe(path, cmd);
    printf("   another process: %s; after we open+close a second fd: %s\n", said(before), said(after));
    demo_sys(close(fd), "close");
    return before == PROBE_BUSY ? after : -1;
}

/* One lock + unlock of the whole file: kind 0 fcntl, 1 OFD, 2 flock. */
static void lock_unlock(int fd, int kind)
{
    if (kind == 2) {
        demo_sys(flock(fd, LOCK_EX), "flock");
        demo_sys(flock(fd, LOCK_UN), "flock(LOCK_UN)");
        return;
    }
    int cmd = kind == 0 ? F_SETLK : F_OFD_SETLK;
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    demo_sys(fcntl(fd, cmd, &fl), "fcntl(lock)");
    fl.l_type = F_UNLCK;
    demo_sys(fcntl(fd, cmd, &fl), "fcntl(unlock)");
}

static double median5(double v[5])
{
    for (int i = 1; i < 5; i++)
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[2];
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: file_lock\n"
               "fcntl record locks vanish when the process closes ANY fd of the file; OFD locks\n"
               "and flock belong to the open file description and do not.\n");

    char path[] = "/tmp/ipcplay-demo-lock.XXXXXX";
    int fd = demo_sys(mkstemp(path), "mkstemp");
    demo_sys(close(fd), "close");

    printf("1. fcntl(F_SETLK) on bytes 0-99 (a POSIX record lock, owned by the process)\n");
    int posix_after = close_other_fd(path, F_SETLK, "fcntl(F_SETLK)");
    printf("2. fcntl(F_OFD_SETLK) on bytes 0-99 (owned by the open file description)\n");
    int ofd_after = close_other_fd(path, F_OFD_SETLK, "fcntl(F_OFD_SETLK)");

    printf("3. flock(LOCK_EX) on the whole file, then fork\n");
    fd = demo_sys(open(path, O_RDWR | O_CLOEXEC), "open");
    demo_sys(flock(fd, LOCK_EX | LOCK_NB), "flock");
    pid_t kid = demo_fork();
    if (kid == 0) {
        /* the inherited fd shares the description that holds the lock */
        int inherited = flock(fd, LOCK_EX | LOCK_NB) == 0;
        int own = open(path, O_RDWR | O_CLOEXEC);
        int fresh = own >= 0 && flock(own, LOCK_EX | LOCK_NB) == 0;
        _exit((inherited ? 1 : 0) | (fresh ? 2 : 0));
    }
    int status;
    while (waitpid(kid, &status, 0) == -1)
        if (errno != EINTR) demo_sys(-1, "waitpid");
    int bits = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    printf("   child, on the inherited fd: %s; on its own open(): %s\n",
           bits >= 0 && (bits & 1) ? "lock held (same description)" : "refused?!",
           bits >= 0 && (bits & 2) ? "got it?!" : "refused (locked)");
    demo_sys(close(fd), "close");

    printf("4. an uncontended lock + unlock, median of 5 runs of 20,000\n");
    fd = demo_sys(open(path, O_RDWR | O_CLOEXEC), "open");
    double us[3][5];
    for (int r = 0; r < 5; r++)
        for (int kind = 0; kind < 3; kind++) {
            int64_t t0 = ipc_now_ns();
            for (int i = 0; i < 20000; i++) lock_unlock(fd, kind);
            us[kind][r] = (double)(ipc_now_ns() - t0) / 20000 / 1e3;
        }
    printf("   fcntl(F_SETLK): %.2f us, fcntl(F_OFD_SETLK): %.2f us, flock: %.2f us\n", median5(us[0]),
           median5(us[1]), median5(us[2]));
    demo_sys(close(fd), "close");
    demo_sys(unlink(path), "unlink");

    if (posix_after != PROBE_FREE || ofd_after != PROBE_BUSY || bits != 1) {
        fprintf(stderr, "unexpected: fcntl after %d, ofd after %d, flock bits %d\n", posix_after, ofd_after, bits);
        return 1;
    }
    printf("lesson: a POSIX record lock is lost when ANY fd of the file is closed: prefer OFD locks\n");
    return 0;
}
