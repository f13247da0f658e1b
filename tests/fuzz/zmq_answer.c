/*
 * zmq_answer.c — libFuzzer target: what a zmq receiver reads from the
 * channel's device (brokers/zmq.c: read_answer and fetch), when the device
 * is hostile or broken.
 *
 * Setup (once): this program plays the device itself — a PULL bound at
 * ipc://DIR/in and a ROUTER at ipc://DIR/in.out, the two addresses a zmq
 * channel's endpoint names — and a real zmq handle attaches to it with
 * IPC_ATTACH.  Per input: the fake device queues answers for the handle (the
 * input, cut into messages of one or more frames: any type byte, any data,
 * any number of parts), always followed by a well-formed "nothing now" (E)
 * so that a receive that kept asking gets an end; then the handle receives
 * with no wait, into a buffer of the size the input's first byte says.
 *
 * Whatever the device says: the receive returns a code (OK, EEMPTY,
 * EMSGSIZE, ECLOSED, ESYS) within a few seconds (never hangs), an OK
 * message fits the buffer (ASan sees any write past it), and the handle
 * keeps working: once it has seen "closed" it is freed and a new one
 * attaches.  The requests the handle sends are read and dropped.
 */
#define _GNU_SOURCE
#include "ipc.h"

#include <zmq.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static char dir[] = "/tmp/ipcplay-fuzz-zmq.XXXXXX";
static char in_ep[128], out_ep[128];
static void *ctx, *front, *back;
static ipc_channel *h;
static unsigned char id[256];
static size_t id_len;

static void drain_requests(void);

static void *first_receive(void *arg)
{
    (void)arg;
    unsigned char buf[8];
    size_t len;
    (void)ipc_recv(h, buf, sizeof buf, &len, NULL, 0);
    return NULL;
}

/* A fresh handle, and its identity: its first request (a no-wait receive in
 * a thread), answered at once with "nothing now". */
static void attach(void)
{
    ipc_config cfg = { .flags = IPC_ATTACH, .endpoint = in_ep, .max_msg = 256 };
    if (ipc_open("zmq", &cfg, &h) != IPC_OK) {
        fprintf(stderr, "zmq_answer: attach to %s: %s\n", in_ep, ipc_last_error());
        abort();
    }
    pthread_t t;
    CHECK(pthread_create(&t, NULL, first_receive, NULL) == 0);
    zmq_pollitem_t item = { .socket = back, .events = ZMQ_POLLIN };
    CHECK(zmq_poll(&item, 1, 5000) == 1);
    id_len = 0;
    drain_requests();
    CHECK(id_len > 0);
    CHECK(zmq_send(back, id, id_len, ZMQ_SNDMORE) >= 0 && zmq_send(back, "E", 1, 0) >= 0);
    pthread_join(t, NULL);
    drain_requests();
}

/* Read and drop the handle's requests; learn its identity. */
static void drain_requests(void)
{
    for (;;) {
        unsigned char frame[256];
        int n = zmq_recv(back, frame, sizeof frame, ZMQ_DONTWAIT);
        if (n < 0) return;
        id_len = (size_t)n > sizeof id ? sizeof id : (size_t)n;
        memcpy(id, frame, id_len);
        int more;
        size_t sz = sizeof more;
        while (zmq_getsockopt(back, ZMQ_RCVMORE, &more, &sz) == 0 && more
               && zmq_recv(back, frame, sizeof frame, ZMQ_DONTWAIT) >= 0) {}
    }
}

static void teardown(void)
{
    if (h) ipc_free(h);
    zmq_close(front);
    zmq_close(back);
    zmq_ctx_term(ctx);
    unlink(in_ep + 6);
    unlink(out_ep + 6);
    rmdir(dir);
}

static void setup(void)
{
    if (!mkdtemp(dir)) abort();
    snprintf(in_ep, sizeof in_ep, "ipc://%s/in", dir);
    snprintf(out_ep, sizeof out_ep, "ipc://%s/in.out", dir);
    CHECK((ctx = zmq_ctx_new()));
    CHECK((front = zmq_socket(ctx, ZMQ_PULL)) && (back = zmq_socket(ctx, ZMQ_ROUTER)));
    int zero = 0;
    zmq_setsockopt(front, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(back, ZMQ_LINGER, &zero, sizeof zero);
    CHECK(zmq_bind(front, in_ep) == 0 && zmq_bind(back, out_ep) == 0);
    atexit(teardown);
    attach();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once++) setup();
    if (size < 1) return 0;
    size_t cap = data[0] % 32;
    data++, size--;
    /* messages: [count byte: parts = 1 + (c & 3)] then each part [len byte % 16][bytes] */
    int messages = 0;
    while (size > 0 && messages < 8) {
        int parts = 1 + (data[0] & 3);
        data++, size--;
        CHECK(zmq_send(back, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0);
        for (int p = 0; p < parts; p++) {
            size_t n = size ? data[0] % 16 : 0;
            if (size) data++, size--;
            if (n > size) n = size;
            CHECK(zmq_send(back, data, n, (p + 1 < parts ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) >= 0);
            data += n, size -= n;
        }
        messages++;
    }
    CHECK(zmq_send(back, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0);
    CHECK(zmq_send(back, "E", 1, ZMQ_DONTWAIT) >= 0);

    unsigned char *buf = malloc(cap ? cap : 1);
    CHECK(buf);
    size_t len = SIZE_MAX;
    int64_t t0 = ipc_now_ns();
    int rc = ipc_recv(h, buf, cap, &len, NULL, 0);
    int64_t ms = (ipc_now_ns() - t0) / 1000000;
    CHECK(rc == IPC_OK || rc == IPC_EEMPTY || rc == IPC_EMSGSIZE || rc == IPC_ECLOSED || rc == IPC_ESYS);
    if (rc == IPC_OK) CHECK(len <= cap);
    if (ms > 8000) {
        fprintf(stderr, "zmq_answer: a no-wait receive took %lld ms\n", (long long)ms);
        abort();
    }
    free(buf);
    drain_requests();
    if (rc == IPC_ECLOSED || rc == IPC_ESYS) { /* start over with a fresh handle */
        ipc_free(h);
        h = NULL;
        attach();
    }
    return 0;
}
