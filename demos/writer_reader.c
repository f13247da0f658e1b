/*
 * writer_reader.c — one writer process and one reader process.
 *
 * Two Python tutorials show this pair, each with a flaw worth seeing:
 *
 *   part 1 (seed 001)  the parent runs the writer to completion, then the
 *                      reader, which reads "while not q.empty()".  It works
 *                      only because the writer has finished: empty() is a
 *                      snapshot, and with a writer still running the reader
 *                      would stop at the first momentary gap.
 *   part 2 (seed 004)  writer and reader run at the same time, so their
 *                      lines interleave; the reader loops forever and the
 *                      parent ends it with terminate() (SIGTERM) — which
 *                      can kill it between taking a message and handling
 *                      it.  Here the parent calls ipc_close() after the
 *                      writer is done instead: the reader drains everything
 *                      and leaves by itself.
 *
 * The queue is "procq" (multiprocessing.Queue's counterpart), inherited by
 * fork().
 *
 * Mirrors: seed 001 §2 (write(q)/read(q) processes, A B C) and seed 004 §1
 * (write/read with a,b,c,d and pr.terminate()).
 *
 * Usage: writer_reader [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

static void writer(ipc_channel *q, const char *const *values, int n, long pause_ms)
{
    for (int i = 0; i < n; i++) {
        printf("  writer: put %s to queue...\n", values[i]);
        demo_ok(ipc_send(q, values[i], strlen(values[i]), 0, -1), "writer: ipc_send");
        demo_sleep_ms(pause_ms); /* Python: time.sleep(random.random()) */
    }
}

/* Read one message with the given timeout; returns 0, or the IPC_E* code
 * that ended the reading (empty or closed). */
static int read_one(ipc_channel *q, int timeout_ms)
{
    char buf[16];
    size_t len;
    int rc = ipc_recv(q, buf, sizeof buf, &len, NULL, timeout_ms);
    if (rc == IPC_EEMPTY || rc == IPC_ECLOSED) return rc;
    demo_ok(rc, "reader: ipc_recv");
    printf("  reader: get %.*s from queue...\n", (int)len, buf);
    return 0;
}

static void part1_one_after_the_other(void)
{
    static const char *const values[] = { "A", "B", "C" };
    printf("part 1: the writer runs to the end, then the reader empties the queue\n");
    ipc_channel *q;
    demo_ok(ipc_open("procq", NULL, &q), "ipc_open(procq)");

    pid_t w = demo_fork();
    if (w == 0) {
        writer(q, values, 3, 50);
        _exit(0);
    }
    demo_reap(w, "writer");

    pid_t r = demo_fork();
    if (r == 0) {
        /* "while not q.empty(): get" == get_nowait until Empty.  Correct
         * only because no writer is left. */
        while (read_one(q, 0) == 0) {}
        _exit(0);
    }
    demo_reap(r, "reader");
    printf("main: all data has been written and read\n");
    ipc_free(q);
}

static void part2_at_the_same_time(void)
{
    static const char *const values[] = { "a", "b", "c", "d" };
    printf("\npart 2: writer and reader at the same time; the reader stops when the queue is closed\n");
    ipc_channel *q;
    demo_ok(ipc_open("procq", NULL, &q), "ipc_open(procq)");

    pid_t r = demo_fork();
    if (r == 0) {
        int rc;
        while ((rc = read_one(q, -1)) == 0) {}
        printf("  reader: %s -> nothing more will come, exiting\n", ipc_strerror(rc));
        _exit(rc == IPC_ECLOSED ? 0 : 1);
    }
    pid_t w = demo_fork();
    if (w == 0) {
        writer(q, values, 4, 30);
        _exit(0);
    }
    demo_reap(w, "writer");
    printf("main: writer joined; ipc_close() instead of the seed's pr.terminate()\n");
    demo_ok(ipc_close(q), "ipc_close");
    demo_reap(r, "reader");
    printf("main: reader joined by itself; nothing was killed mid-message\n");
    ipc_free(q);
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: writer_reader\n"
               "A writer process and a reader process share a procq.  Part 1 runs them one\n"
               "after the other; part 2 runs them together and stops the reader with\n"
               "ipc_close() instead of terminate().\n");
    part1_one_after_the_other();
    part2_at_the_same_time();
    printf("done\n");
    return 0;
}
