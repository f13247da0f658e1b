/*
 * shm_sysv.c — System V shared memory: shmget, shmat, and "marked for removal".
 *
 * Before shm_open() and mmap() there was shmget(2): a segment identified by
 * a key, attached with shmat(2) at some address, listed by `ipcs -m`.  Its
 * life has one trap and one kindness:
 *   - the segment outlives every process unless someone calls
 *     shmctl(IPC_RMID) — a crashed program leaks it until reboot;
 *   - IPC_RMID while processes are still attached only MARKS it: the memory
 *     stays usable by those attached and is freed when the last detaches
 *     (shm_nattch reaches 0).  So the safe idiom is: create, attach
 *     everywhere, then IPC_RMID at once — no leak even on SIGKILL.
 *
 * The demo:
 *   1. creates a 4 KiB segment, attaches it; a child (inheriting the
 *      attachment across fork) writes a message; the parent reads it;
 *   2. shows shm_nattch = 2 while both are attached;
 *   3. IPC_RMID while attached: the key is gone from new lookups, but the
 *      child still writes and the parent still reads through the mapping;
 *   4. after both detach, the segment is gone.
 *
 * Mirrors: multiprocessing.shared_memory (which uses shm_open underneath);
 * TLPI chapter 48.  ipcplay's own shm rings use shm_open + mmap (chapter 4).
 *
 * Usage: shm_sysv [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

#include <sys/ipc.h>
#include <sys/shm.h>

enum { SIZE = 4096 };

static unsigned long nattch(int shmid)
{
    struct shmid_ds ds;
    demo_sys(shmctl(shmid, IPC_STAT, &ds), "shmctl(IPC_STAT)");
    return (unsigned long)ds.shm_nattch;
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: shm_sysv\n"
               "A System V shared memory segment between parent and child; IPC_RMID while\n"
               "attached marks it for removal, and it is freed when the last process detaches.\n");

    int shmid = demo_sys(shmget(IPC_PRIVATE, SIZE, IPC_CREAT | 0600), "shmget");
    char *mem = shmat(shmid, NULL, 0);
    if (mem == (void *)-1) demo_sys(-1, "shmat");
    printf("1. shmget(IPC_PRIVATE, %d): segment %d attached at %p (see it: ipcs -m)\n", SIZE, shmid,
           (void *)mem);

    int go[2], done[2];
    demo_sys(pipe(go), "pipe");
    demo_sys(pipe(done), "pipe");
    pid_t kid = demo_fork();
    if (kid == 0) { /* the attachment is inherited across fork */
        char c;
        snprintf(mem, SIZE, "hello from child %d", (int)getpid());
        if (write(done[1], "1", 1) != 1) _exit(2);
        if (read(go[0], &c, 1) != 1) _exit(3); /* wait for the parent's IPC_RMID */
        snprintf(mem, SIZE, "still writable after IPC_RMID");
        if (write(done[1], "2", 1) != 1) _exit(4);
        if (shmdt(mem) == -1) _exit(5);
        _exit(0);
    }
    char c;
    if (read(done[0], &c, 1) != 1) demo_sys(-1, "read");
    printf("   parent reads: \"%s\"\n", mem);

    unsigned long both = nattch(shmid);
    printf("2. shm_nattch = %lu (parent and child attached)\n", both);

    printf("3. shmctl(IPC_RMID) while both are attached\n");
    demo_sys(shmctl(shmid, IPC_RMID, NULL), "shmctl(IPC_RMID)");
    if (write(go[1], "g", 1) != 1) demo_sys(-1, "write");
    if (read(done[0], &c, 1) != 1) demo_sys(-1, "read");
    printf("   parent reads: \"%s\" (the memory lives while attached)\n", mem);
    demo_reap(kid, "child");

    demo_sys(shmdt(mem), "shmdt");
    struct shmid_ds ds;
    int gone = shmctl(shmid, IPC_STAT, &ds) == -1 && (errno == EINVAL || errno == EIDRM);
    printf("4. after the last shmdt: segment %d %s\n", shmid, gone ? "is gone" : "still exists?!");

    if (both != 2 || !gone) return 1;
    printf("lesson: create, attach everywhere, IPC_RMID at once: nothing can leak\n");
    return 0;
}
