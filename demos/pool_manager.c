/*
 * pool_manager.c — a pool of unrelated processes sharing a queue by name.
 *
 * multiprocessing.Queue can only be handed to a child through inheritance
 * (Process(args=(q,))).  Pool workers are started before the job exists, so
 * passing a Queue to them fails with "RuntimeError: Queue objects should
 * only be shared between processes through inheritance"; the seed's fix is
 * Manager().Queue(), a queue living in a server process that every worker
 * reaches by address.
 *
 * The C way to reach a queue without inheritance is a NAME.  The "shm"
 * mechanism's ring lives in a POSIX shared-memory object (shm_open(3):
 * a file in /dev/shm); any process that knows the name maps the same
 * pages with IPC_ATTACH.  Here the workers really are unrelated to the
 * queue: each is a fresh program (fork + execve of this file with
 * --writer/--reader NAME), holding nothing inherited, only the name.
 *
 *   1. procq — the inheritance-only queue — refuses a name: our
 *      counterpart of the RuntimeError;
 *   2. the parent creates the shm queue with IPC_ATTACHABLE (the library
 *      picks a unique name) and asks ipc_attach_config() for it;
 *   3. "pool.apply(writer)": a writer program attaches and puts a..e;
 *   4. a pool of three reader programs attach and share the messages;
 *      the parent calls ipc_close() so they stop when it is drained;
 *   5. the parent (the creator) frees the queue, which unlinks the name,
 *      and checks that /dev/shm holds nothing more.
 *
 * Mirrors: seed 001 §3 (Manager().Queue() with a Pool: writer puts a..e,
 * reader gets them, "Queue objects should only be shared ... through
 * inheritance").
 *
 * Usage: pool_manager [--help]
 *        pool_manager --writer NAME | --reader NAME   (started by itself)
 */
#define _GNU_SOURCE
#include "demo.h"

#include <sys/stat.h>

enum { READERS = 3, MAXMSG = 16 };

static ipc_channel *attach(const char *name)
{
    ipc_channel *q;
    ipc_config cfg = { .name = name, .flags = IPC_ATTACH };
    demo_ok(ipc_open("shm", &cfg, &q), "ipc_open(shm, IPC_ATTACH)");
    return q;
}

static int writer(const char *name)
{
    printf("  writer started %d, parent process is %d; attached by name to %s\n", (int)getpid(),
           (int)getppid(), name);
    ipc_channel *q = attach(name);
    for (const char *v = "abcde"; *v; v++) demo_ok(ipc_send(q, v, 1, 0, 5000), "writer: ipc_send");
    ipc_free(q); /* an attacher never unlinks */
    return 0;
}

static int reader(const char *name)
{
    printf("  reader %d started, parent process is %d; attached by name\n", (int)getpid(), (int)getppid());
    ipc_channel *q = attach(name);
    char v[MAXMSG];
    size_t len;
    int rc;
    while ((rc = ipc_recv(q, v, sizeof v, &len, NULL, 5000)) == IPC_OK)
        printf("  reader %d got message from Queue: %.*s\n", (int)getpid(), (int)len, v);
    if (rc != IPC_ECLOSED) demo_ok(rc, "reader: ipc_recv");
    ipc_free(q);
    return 0;
}

/* Start this very program again with (role, name): a new process image
 * that shares nothing with us but the name. */
static pid_t spawn(const char *role, const char *name)
{
    pid_t pid = demo_fork();
    if (pid == 0) {
        execl("/proc/self/exe", "pool_manager", role, name, (char *)NULL);
        fprintf(stderr, "execl(/proc/self/exe): %s\n", strerror(errno));
        _exit(127);
    }
    return pid;
}

static int exists_in_dev_shm(const char *name)
{
    char path[300];
    struct stat st;
    snprintf(path, sizeof path, "/dev/shm%s", name);
    return stat(path, &st) == 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--writer") == 0) return writer(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--reader") == 0) return reader(argv[2]);
    demo_start(argc, argv,
               "usage: pool_manager\n"
               "A pool of separately exec'ed processes shares one queue by name (the\n"
               "Manager().Queue() of Python's Pool): a writer puts a..e, three readers share them.\n");
    printf("Parent process %d started...\n", (int)getpid());

    char name[128];
    demo_name(name, sizeof name, "pool");
    ipc_channel *q;
    ipc_config cfg = { .name = name, .max_msg = MAXMSG };
    int rc = ipc_open("procq", &cfg, &q);
    printf("1. procq with a name: %s (%s)\n", ipc_strerror(rc), ipc_last_error());
    if (rc != IPC_EINVAL) return 1;

    /* Let the library pick a unique name (IPC_ATTACHABLE), then ask it what
     * another process must pass to ipc_open() to reach the queue. */
    demo_ok(ipc_open("shm", &(ipc_config){ .max_msg = MAXMSG, .flags = IPC_ATTACHABLE }, &q),
            "ipc_open(shm, IPC_ATTACHABLE)");
    ipc_config how;
    demo_ok(ipc_attach_config(q, &how), "ipc_attach_config");
    snprintf(name, sizeof name, "%s", how.name);
    printf("2. created the named queue %s (visible as /dev/shm%s: %s)\n", name, name,
           exists_in_dev_shm(name) ? "yes" : "no");

    printf("3. pool.apply(writer): run it to the end\n");
    demo_reap(spawn("--writer", name), "writer");

    printf("4. a pool of %d readers share what the writer left\n", READERS);
    pid_t readers[READERS];
    for (int i = 0; i < READERS; i++) readers[i] = spawn("--reader", name);
    demo_ok(ipc_close(q), "ipc_close"); /* no more puts: readers drain, then stop */
    for (int i = 0; i < READERS; i++) demo_reap(readers[i], "reader");

    ipc_free(q); /* the creator unlinks the name */
    int left = exists_in_dev_shm(name);
    printf("5. the creator freed the queue: /dev/shm%s %s\n", name, left ? "is STILL there" : "is gone");
    printf("%d end\n", (int)getpid());
    return left ? 1 : 0;
}
