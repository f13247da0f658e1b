/*
 * pitfall_unlink.c — named IPC objects outlive the processes that made them.
 *
 * A pipe or an anonymous mapping disappears with the last process holding
 * it.  A NAMED object does not: a POSIX shared-memory object (/dev/shm), a
 * POSIX message queue (/dev/mqueue), a FIFO in the file system, a System V
 * queue (ipcs) stays until someone removes its name — shm_unlink(3),
 * mq_unlink(3), unlink(2), msgctl(IPC_RMID) — or the machine reboots.
 * That is what makes names useful (an unrelated process can attach later,
 * the data is still there) and what makes them leak: a creator killed by
 * SIGKILL, or one that simply forgets, leaves the name behind, and the
 * next run may fail with EEXIST or read stale data.
 *
 *   1. a child creates a named "shm" queue, puts three messages, and is
 *      killed (SIGKILL) before it can free it;
 *   2. the name is still in /dev/shm — and so are the three messages: the
 *      parent attaches by name and reads them;
 *   3. the parent removes the name with shm_unlink(), as a clean-up tool
 *      or the next run of the program would have to;
 *   4. the normal path: the creator's ipc_free() unlinks the name itself.
 *
 * Find leftovers with `ls /dev/shm /dev/mqueue` and `ipcs`; ipcplay names
 * start with "ipcplay." (or $IPCPLAY_NAME_PREFIX), so they are easy to spot.
 *
 * Mirrors: the pitfall behind seed 001 §3 (Manager queues and named
 * objects outlive a crashed worker) and seed 000 ("persistence").
 *
 * Usage: pitfall_unlink [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* Size of /dev/shm/<name>, or -1 if it does not exist. */
static long dev_shm_size(const char *name)
{
    char path[300];
    struct stat st;
    snprintf(path, sizeof path, "/dev/shm%s", name);
    if (stat(path, &st) == 0) return (long)st.st_size;
    if (errno != ENOENT) demo_sys(-1, path);
    return -1;
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: pitfall_unlink\n"
               "A child creates a named shared-memory queue and is killed: the name and its\n"
               "messages stay in /dev/shm until someone unlinks them.\n");
    char name[128];
    demo_name(name, sizeof name, "leak");
    ipc_config cfg = { .name = name, .max_msg = 64, .capacity = 8 };

    printf("1. a child creates %s, puts 3 messages and is killed with SIGKILL\n", name);
    pid_t child = demo_fork();
    if (child == 0) {
        ipc_channel *q;
        demo_ok(ipc_open("shm", &cfg, &q), "child: ipc_open(shm, named)");
        for (int i = 1; i <= 3; i++) {
            char msg[32];
            int n = snprintf(msg, sizeof msg, "message %d", i);
            demo_ok(ipc_send(q, msg, (size_t)n, 0, 1000), "child: ipc_send");
        }
        raise(SIGKILL); /* no ipc_free, no atexit, nothing */
        _exit(1);
    }
    int status;
    while (waitpid(child, &status, 0) == -1)
        if (errno != EINTR) demo_sys(-1, "waitpid");
    printf("   child %s\n", WIFSIGNALED(status) ? "was killed before it could clean up" : "exited?!");

    long size = dev_shm_size(name);
    printf("2. /dev/shm%s: %s", name, size >= 0 ? "left behind" : "gone");
    if (size >= 0) printf(" (%ld bytes)", size);
    printf("; attaching by name:\n");
    ipc_channel *q;
    ipc_config at = { .name = name, .flags = IPC_ATTACH };
    demo_ok(ipc_open("shm", &at, &q), "ipc_open(shm, IPC_ATTACH)");
    int found = 0;
    char msg[64];
    size_t len;
    while (ipc_recv(q, msg, sizeof msg, &len, NULL, 0) == IPC_OK) {
        printf("   still there: \"%.*s\"\n", (int)len, msg);
        found++;
    }
    ipc_free(q); /* an attacher does not unlink */
    long still = dev_shm_size(name);
    printf("   after the attacher's ipc_free the name is %s\n", still >= 0 ? "still there" : "gone");

    printf("3. shm_unlink(\"%s\"): the clean-up someone has to do\n", name);
    demo_sys(shm_unlink(name), "shm_unlink");
    long after_unlink = dev_shm_size(name);
    printf("   /dev/shm%s is %s\n", name, after_unlink >= 0 ? "still there" : "gone");

    printf("4. the normal path: the creator's ipc_free() unlinks\n");
    demo_ok(ipc_open("shm", &cfg, &q), "ipc_open(shm, named)");
    long while_open = dev_shm_size(name);
    ipc_free(q);
    long after_free = dev_shm_size(name);
    printf("   while open: %s; after ipc_free: %s\n", while_open >= 0 ? "present" : "absent",
           after_free >= 0 ? "present" : "gone");

    if (size < 0 || found != 3 || still < 0 || after_unlink >= 0 || while_open < 0 || after_free >= 0) {
        fprintf(stderr, "unexpected sequence of presence checks\n");
        return 1;
    }
    printf("lesson: a named object lives until it is unlinked; make the creator unlink on every\n"
           "path, and give names a prefix you can find and clean (ls /dev/shm /dev/mqueue, ipcs)\n");
    return 0;
}
