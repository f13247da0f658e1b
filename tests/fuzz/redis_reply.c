/*
 * redis_reply.c — libFuzzer target: what a Redis server answers to the
 * channel's scripts (brokers/redis_reply.h), from a broken or hostile
 * server.
 *
 * The input is the server's bytes on the wire (RESP), cut anywhere; hiredis's
 * own reader turns them into replies exactly as a receive would get them,
 * and each reply goes through every interpretation redis.c has: the pop
 * script's {code, arg, payload}, the popn script's {n, payload...} and the
 * attach's HMGET of order, capacity and max_msg.  Whatever the bytes, they
 * must never write past the caller's buffer (ASan watches: the buffers are
 * exactly cap bytes), never report a message that was not copied, and never
 * accept an order, capacity or max_msg out of range.
 */
#define _GNU_SOURCE
#include "brokers/redis_reply.h"
#include "ipc.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void interpret(const redisReply *rep, size_t cap)
{
    /* pop: a buffer of exactly cap bytes (cap 0: a 1-byte allocation never written) */
    unsigned char *buf = malloc(cap ? cap : 1);
    CHECK(buf);
    size_t len = SIZE_MAX;
    int prio = INT_MIN + 7;
    long long arg;
    long long code = ipc__redis_pop_reply(rep, buf, cap, &len, &prio, &arg);
    if (code == 0) {
        CHECK(len <= cap);
        CHECK(rep->type == REDIS_REPLY_ARRAY && rep->elements == 3);
        CHECK(len == rep->element[2]->len && memcmp(buf, rep->element[2]->str, len) == 0);
        CHECK(prio == arg);
    } else {
        CHECK(len == SIZE_MAX && prio == INT_MIN + 7); /* nothing reported */
    }
    free(buf);

    /* popn: up to 4 slots of cap bytes each, the first one taken already */
    enum { MAX = 4 };
    unsigned char *many = malloc(cap * MAX + 1);
    CHECK(many);
    size_t lens[MAX];
    size_t n = ipc__redis_popn_reply(rep, many, cap, lens, 1, MAX);
    CHECK(n >= 1 && n <= MAX);
    for (size_t i = 1; i < n; i++) CHECK(lens[i] <= cap);
    free(many);

    /* attach's meta */
    int order = -1;
    size_t capacity = 0, max_msg = 0;
    if (ipc__redis_meta_reply(rep, &order, &capacity, &max_msg) == 0)
        CHECK(order >= IPC_FIFO && order <= IPC_PRIORITY && max_msg >= 1);
}

/* hiredis 0.14 (Debian 12) allocates an aggregate's element array as soon as
 * it reads "*<count>", with no upper bound (later hiredis has maxelements):
 * "*555555555" makes it calloc 4 GB, in any program that reads a hostile
 * server's replies.  That is hiredis's, not ours to fuzz: such inputs are
 * skipped (the first one found is kept in the corpus as
 * hiredis-huge-array). */
static bool huge_aggregate(const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (d[i] != '*' && d[i] != '%' && d[i] != '~' && d[i] != '>') continue;
        size_t j = i + 1, digits = 0;
        while (j < n && d[j] >= '0' && d[j] <= '9') j++, digits++;
        if (digits > 5) return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || huge_aggregate(data, size)) return 0;
    size_t cap = data[0] % 64; /* the receiver's buffer */
    data++, size--;
    redisReader *r = redisReaderCreate();
    CHECK(r);
    if (redisReaderFeed(r, (const char *)data, size) == REDIS_OK) {
        for (int i = 0; i < 16; i++) {
            void *rep = NULL;
            if (redisReaderGetReply(r, &rep) != REDIS_OK || !rep) break;
            interpret(rep, cap);
            freeReplyObject(rep);
        }
    }
    redisReaderFree(r);
    return 0;
}
