/*
 * start_methods.c — fork, spawn and forkserver: what a new process inherits.
 *
 * Python's multiprocessing can start a worker three ways
 * (multiprocessing.set_start_method), and each is a plain POSIX recipe:
 *   fork        fork(2) alone.  The child is a copy of the parent at that
 *               moment: every global, every heap object, every open fd —
 *               but only the thread that called fork.  A lock another
 *               thread held at that instant stays locked in the child for
 *               ever (the reason Python 3.14 stopped defaulting to fork).
 *   spawn       fork(2) then execve(2) of a fresh program (here: this one
 *               again, with an argument saying "you are a worker").  Nothing
 *               of the parent's memory survives; the worker gets only what
 *               is passed on purpose: argv, environment, fds without
 *               O_CLOEXEC.  Slower (a whole program start), always safe.
 *   forkserver  a small server process is forked EARLY, while the parent
 *               is still single-threaded and clean; later, workers are
 *               forked from the server on request (over a socket).  Fork's
 *               speed, with the server's clean state instead of the
 *               parent's current one.
 *
 * The demo starts the forkserver first, then sets a global to 42 and starts
 * a helper thread in the parent, then starts one worker each way.  Every
 * worker reports the global and its thread count (from /proc/self/status).
 * Last, it times each way: start 20 empty workers and wait for each to
 * exit, and prints the median.
 *
 * Mirrors: multiprocessing start methods (fork, spawn, forkserver) from the
 * Python tutorials; TLPI chapters 24-28.
 *
 * Usage: start_methods [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

static long global_state; /* 0 at program start; the parent sets 42 later */

/* Threads: line of /proc/self/status. */
static int thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) demo_sys(-1, "/proc/self/status");
    char line[256];
    int n = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    fclose(f);
    return n;
}

/* What every worker does: report, then exit. */
static int worker(const char *how)
{
    printf("   %-10s worker %d: global = %ld, threads = %d\n", how, (int)getpid(), global_state,
           thread_count());
    fflush(stdout);
    return global_state == (strcmp(how, "fork") == 0 ? 42 : 0) && thread_count() == 1 ? 0 : 1;
}

enum { TIMED = 20 };

/* The forkserver: forks a worker for every byte it reads ('w': one that
 * reports, 'q': one that exits at once), sends back whether it exited 0,
 * ends at EOF. */
static void forkserver(int sock)
{
    char req;
    while (read(sock, &req, 1) == 1) {
        pid_t w = fork();
        if (w == 0) _exit(req == 'q' ? 0 : worker("forkserver"));
        int status = -1;
        if (w > 0)
            while (waitpid(w, &status, 0) == -1 && errno == EINTR) {
            }
        char ok = w > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (write(sock, &ok, 1) != 1) _exit(2);
    }
    _exit(0);
}

static void *idle_thread(void *arg)
{
    int fd = *(int *)arg;
    char c;
    if (read(fd, &c, 1) < 0) return NULL; /* wait until main closes the pipe */
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Median over TIMED runs of: start an empty worker `how`, wait for its exit. */
static double median_start_us(const char *how, const char *self, int server)
{
    int64_t t[TIMED];
    for (int i = 0; i < TIMED; i++) {
        int64_t t0 = ipc_now_ns();
        if (strcmp(how, "forkserver") == 0) {
            char req = 'q', ok = 0;
            if (write(server, &req, 1) != 1 || read(server, &ok, 1) != 1 || ok != 1)
                demo_sys(-1, "forkserver request");
        } else {
            pid_t w = fork(); /* no demo_fork: stdout was flushed above, keep the timing clean */
            if (w == 0) {
                if (strcmp(how, "spawn") == 0) execl("/proc/self/exe", self, "--spawned-quiet", (char *)NULL);
                _exit(strcmp(how, "spawn") == 0 ? 127 : 0);
            }
            demo_reap(demo_sys(w, "fork"), how);
        }
        t[i] = ipc_now_ns() - t0;
    }
    qsort(t, TIMED, sizeof t[0], cmp_i64);
    return (double)t[TIMED / 2] / 1e3;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--spawned-worker") == 0) return worker("spawn");
    if (argc == 2 && strcmp(argv[1], "--spawned-quiet") == 0) return 0;
    demo_start(argc, argv,
               "usage: start_methods\n"
               "Starts one worker by fork, by spawn (fork + exec) and by a forkserver, and shows\n"
               "what each inherits: a global set by the parent, and the parent's threads.\n");

    /* 1. the forkserver, while we are still single-threaded with global 0 */
    int sv[2];
    demo_sys(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), "socketpair");
    pid_t server = demo_fork();
    if (server == 0) {
        close(sv[0]);
        forkserver(sv[1]);
    }
    close(sv[1]);

    /* 2. the parent's state changes: a global and a second thread */
    global_state = 42;
    int hold[2];
    demo_sys(pipe(hold), "pipe");
    pthread_t t;
    demo_pthread(pthread_create(&t, NULL, idle_thread, &hold[0]), "pthread_create");
    printf("parent %d: global = %ld, threads = %d\n", (int)getpid(), global_state, thread_count());

    int ok = 0;
    printf("fork:       a copy of the parent now (only the calling thread)\n");
    pid_t w = demo_fork();
    if (w == 0) _exit(worker("fork"));
    ok += WEXITSTATUS(demo_reap(w, "fork worker")) == 0;

    printf("spawn:      fork + exec of a fresh program\n");
    w = demo_fork();
    if (w == 0) {
        execl("/proc/self/exe", argv[0], "--spawned-worker", (char *)NULL);
        _exit(127);
    }
    ok += WEXITSTATUS(demo_reap(w, "spawned worker")) == 0;

    printf("forkserver: forked by the server started before the parent changed\n");
    char req = 'w', reply = 0;
    if (write(sv[0], &req, 1) != 1) demo_sys(-1, "write to the forkserver");
    if (read(sv[0], &reply, 1) != 1) demo_sys(-1, "read from the forkserver");
    ok += reply == 1;

    fflush(stdout);
    double f = median_start_us("fork", argv[0], sv[0]);
    double sp = median_start_us("spawn", argv[0], sv[0]);
    double fs = median_start_us("forkserver", argv[0], sv[0]);
    printf("time to start an empty worker and see it exit (median of %d): fork %.0f us, spawn %.0f us, "
           "forkserver %.0f us\n", TIMED, f, sp, fs);
    close(sv[0]); /* EOF: the server exits */
    demo_reap(server, "forkserver");

    close(hold[1]);
    demo_pthread(pthread_join(t, NULL), "pthread_join");
    close(hold[0]);
    if (ok != 3) return 1;
    printf("lesson: fork copies the parent as it is now; spawn and forkserver start clean\n");
    return 0;
}
