/*
 * pitfall_pipe_buf.c — several writers on one pipe: PIPE_BUF atomicity.
 *
 * POSIX promises that a write(2) of at most PIPE_BUF bytes (4096 on Linux)
 * to a pipe or FIFO is atomic: its bytes land together, never mixed with
 * another writer's.  A larger write carries no such promise: when the pipe
 * (64 KiB by default) fills up half-way through, the writer sleeps with
 * part of its record written, another writer gets in, and the reader sees
 * the two records interleaved — a corrupted stream.
 *
 * Four writer processes each write records filled with their own letter,
 * through a raw pipe; the reader reads record-sized pieces and counts those
 * that hold more than one letter:
 *   part 1  records of exactly PIPE_BUF bytes: never mixed (guaranteed);
 *   part 2  records of 256 KiB: usually mixed (nothing keeps them whole).
 *
 * This is why ipcplay's stream framing (mechanisms/engines/stream.c) takes a
 * robust process-shared write lock around every frame: PIPE_BUF alone would
 * keep small frames whole on a pipe, but not larger ones, nor any frame on a
 * socket (where no size is atomic), and the lock is also what makes a close
 * linearizable against the sends.
 *
 * Mirrors: the pitfall behind seed 004 §2 (several processes sending into
 * one Pipe end; multiprocessing's Connection.send takes no lock).
 *
 * Usage: pitfall_pipe_buf [--help]
 */
#define _GNU_SOURCE
#include "demo.h"

#include <limits.h>

enum { WRITERS = 4 };

/* Read exactly n bytes (a pipe read may return less); 0 at end of file. */
static size_t read_full(int fd, unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r == -1 && errno == EINTR) continue;
        if (r == -1) demo_sys(-1, "read");
        if (r == 0) break;
        got += (size_t)r;
    }
    return got;
}

/* WRITERS processes write `records` records of `size` bytes each into one
 * pipe; returns how many records the reader found mixed. */
static int mixed_records(size_t size, int records)
{
    int fds[2];
    demo_sys(pipe(fds), "pipe");
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = demo_fork();
        if (pids[w] == 0) {
            demo_sys(close(fds[0]), "close");
            unsigned char *rec = malloc(size);
            if (!rec) _exit(1);
            memset(rec, 'A' + w, size);
            for (int i = 0; i < records; i++) {
                ssize_t n = write(fds[1], rec, size); /* blocking: returns when all is written */
                if (n != (ssize_t)size) demo_sys(-1, "write");
            }
            free(rec);
            _exit(0);
        }
    }
    demo_sys(close(fds[1]), "close"); /* so the reader sees end-of-file after the last writer */
    unsigned char *buf = malloc(size);
    if (!buf) demo_sys(-1, "malloc");
    int mixed = 0, total = 0;
    while (read_full(fds[0], buf, size) == size) {
        total++;
        for (size_t i = 1; i < size; i++) {
            if (buf[i] != buf[0]) {
                mixed++;
                break;
            }
        }
    }
    free(buf);
    demo_sys(close(fds[0]), "close");
    for (int w = 0; w < WRITERS; w++) demo_reap(pids[w], "writer");
    if (total != WRITERS * records) {
        fprintf(stderr, "read %d records, expected %d\n", total, WRITERS * records);
        exit(1);
    }
    return mixed;
}

int main(int argc, char **argv)
{
    demo_start(argc, argv,
               "usage: pitfall_pipe_buf\n"
               "Four processes write records into one pipe: records of PIPE_BUF bytes arrive\n"
               "whole, records of 256 KiB arrive interleaved.\n");
    printf("PIPE_BUF on this system: %d bytes; %d writer processes on one pipe\n", PIPE_BUF, WRITERS);

    int small = mixed_records(PIPE_BUF, 250);
    printf("1. %d records of %d bytes (= PIPE_BUF): %d mixed  <- guaranteed whole\n", WRITERS * 250,
           PIPE_BUF, small);
    int big = mixed_records(256 * 1024, 10);
    printf("2. %d records of %d bytes: %d mixed on this run  <- nothing keeps them whole\n", WRITERS * 10,
           256 * 1024, big);
    if (small != 0) return 1;
    printf("lesson: a message larger than PIPE_BUF needs a lock (or one writer per pipe); ipcplay's\n"
           "pipe locks exactly those frames, and every frame on a socket\n");
    return 0;
}
