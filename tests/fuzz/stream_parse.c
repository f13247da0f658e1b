/*
 * stream_parse.c — libFuzzer target: the byte-stream frame parser
 * (engines/stream.c, ipc__stream_parse), as a receiver drives it.
 *
 * The input is what a peer wrote into a pipe or socket (any bytes: a
 * hostile or crashed sender), preceded by two bytes that pick the
 * receiver's buffer size, one that, when odd, corrupts the shared read
 * indices the way a holder dying mid-update could, and one for the read
 * buffer's size.  The loop does what
 * ipc__stream_recv does: refill the 64 KiB read buffer, parse, hand out
 * whole frames, skip a frame larger than the buffer (read_large's part) and
 * stop on TOO_BIG (the message stays queued) or CORRUPT.  ASan checks that
 * no byte outside the buffer is read; the asserts check the parser's
 * promises: a WHOLE frame lies inside [start, end), a LARGE one does not fit
 * the buffer, TOO_BIG exceeds cap, CORRUPT exactly when the indices are bad.
 *
 *   make fuzz                      10^7 executions (FUZZ_RUNS) on the corpus
 *   build/fuzz/stream_parse tests/fuzz/stream_parse/corpus   by hand
 */
#include "engines/stream.h"

#include <sanitizer/asan_interface.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static unsigned char out[IPC_STREAM_RBUF];
static _Alignas(64) unsigned char rbuf[IPC_STREAM_RBUF];

/* What ipc__stream_recv does with the read buffer, over the whole input. */
static void receive_all(size_t rsize, size_t cap, uint8_t mode, const uint8_t *data, size_t size)
{
    size_t start = 0, end = 0, fed = 0;
    for (int round = 0; round < 4096; round++) {
        /* fill(): slide the tail to the front, read what the "kernel" has */
        if (start > 0) {
            memmove(rbuf, rbuf + start, end - start);
            end -= start;
            start = 0;
        }
        size_t n = size - fed < rsize - end ? size - fed : rsize - end;
        memcpy(rbuf + end, data + fed, n);
        end += n;
        fed += n;

        size_t s0 = start, e0 = end;
        if ((mode & 1) && round == 1) { /* a holder wrote the indices wrongly */
            s0 = (size_t)mode << 9;
            e0 = (size_t)mode << 8;
        }
        uint32_t len = 0;
        int f = ipc__stream_parse(rbuf, rsize, s0, e0, cap, &len);
        bool bad = s0 > e0 || e0 > rsize;
        CHECK((f == IPC_FRAME_CORRUPT) == bad);
        if (f == IPC_FRAME_CORRUPT) return;
        if (f == IPC_FRAME_TOO_BIG) { CHECK(len > cap); return; }
        if (f == IPC_FRAME_LARGE) {
            CHECK(len <= cap && IPC_STREAM_HEADER + (size_t)len > rsize);
            /* read_large: the buffered part, then the rest from the stream */
            size_t have = end - start - IPC_STREAM_HEADER;
            CHECK(have <= len); /* the frame is larger than the buffer */
            start = end = 0;
            size_t rest = len - have;
            if (rest > size - fed) return; /* the stream ends inside it: ECLOSED */
            fed += rest;
            continue;
        }
        if (f == IPC_FRAME_WHOLE) {
            CHECK(len <= cap && start + IPC_STREAM_HEADER + len <= end);
            memcpy(out, rbuf + start + IPC_STREAM_HEADER, len);
            start += IPC_STREAM_HEADER + len;
            continue;
        }
        CHECK(f == IPC_FRAME_NEED_MORE);
        if (fed == size) return; /* end of stream */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    /* The parser takes the buffer size as a parameter: a small one (from the
     * input) reaches the "larger than the buffer" paths with short inputs,
     * and ASan watches its exact bounds (poisoned beyond that size). */
    size_t rsize = 8 + (size_t)data[3] * 64 % (IPC_STREAM_RBUF - 8);
    size_t cap = ((size_t)data[0] << 8 | data[1]) * 37 % (rsize + 4096); /* around the buffer size */
    /* One static buffer, its bytes past rsize poisoned for ASan for this
     * run: the same exact bounds as a malloc of rsize bytes, without a
     * 64 KiB allocation per execution (which was most of its cost). */
    ASAN_POISON_MEMORY_REGION(rbuf + rsize, sizeof rbuf - rsize);
    receive_all(rsize, cap, data[2], data + 4, size - 4);
    ASAN_UNPOISON_MEMORY_REGION(rbuf + rsize, sizeof rbuf - rsize);
    return 0;
}
