/*
 * ring_header.c — libFuzzer target: a shared-memory ring whose header was
 * written by a hostile or crashed peer (engines/ring.c).
 *
 * A ring of capacity 4 and max_msg 64 is set up the way shm.c sets one up;
 * then the input overwrites what another process can write in shared
 * memory — head, tail (with or without the shut bit), both index caches,
 * the latches' armed/seq words, the geometry fields, and every slot's length —
 * and a sequence of non-blocking sends and receives (picked by the input)
 * runs against it.  Every call must return one of ipc.h's codes (out-of-
 * range indices and lengths answer IPC_ECLOSED "ring header corrupt"), and
 * ASan checks no byte outside the mapping is touched: the geometry comes
 * from the handle, never from the header.
 */
#include "engines/ring.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) abort(); } while (0)

enum { CAP = 4, MAX_MSG = 64 };

static uint64_t take(const uint8_t **p, size_t *n)
{
    uint64_t v = 0;
    size_t k = *n < 8 ? *n : 8;
    memcpy(&v, *p, k);
    *p += k;
    *n -= k;
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ipc_ring *r;
    static size_t bytes;
    static ipc_channel ch;
    if (!r) {
        bytes = ipc__ring_size(CAP, MAX_MSG);
        r = aligned_alloc(64, bytes);
        ch.mech = ipc_find("shm_spsc");
        ch.capacity = CAP;
        ch.max_msg = MAX_MSG;
    }
    memset(r, 0, bytes);
    ipc__ring_init(r, CAP, MAX_MSG, false);

    /* A few honest messages first, so the slots hold something. */
    unsigned char msg[MAX_MSG + 8] = { 0 }, buf[MAX_MSG + 8];
    for (int i = 0; i < 3; i++) CHECK(ipc__ring_send(&ch, r, NULL, msg, (size_t)i * 20, 0, &ipc__nowait) == IPC_OK);

    /* What a peer can scribble over. */
    const uint8_t *p = data;
    size_t n = size;
    uint64_t sel = take(&p, &n);
    if (sel & 1) atomic_store(&r->head, take(&p, &n) & 0xff);
    if (sel & 2) atomic_store(&r->tail, take(&p, &n) ^ (sel & 4 ? (uint64_t)1 << 63 : 0));
    if (sel & 8) r->head_cache = take(&p, &n);
    if (sel & 16) r->tail_cache = take(&p, &n);
    if (sel & 32) { r->capacity = take(&p, &n); r->slot_size = take(&p, &n); }
    if (sel & 64) atomic_store(&r->not_empty.armed, 0); /* no sleeper registered: a wake makes no FUTEX_WAKE */
    if (sel & 128) atomic_store(&r->shut, (bool)(sel >> 8 & 1));
    unsigned char *slots = (unsigned char *)r + sizeof(ipc_ring);
    size_t slot = (bytes - sizeof(ipc_ring)) / CAP;
    for (int i = 0; i < CAP && n >= 4; i++) {
        if (!(sel >> (16 + i) & 1)) continue;
        uint32_t len = (uint32_t)take(&p, &n);
        memcpy(slots + (size_t)i * slot, &len, sizeof len); /* ring_slot.len */
    }

    /* Then the calls. */
    if (ipc__ring_check(r, CAP, MAX_MSG, bytes) != IPC_OK && (sel & 512)) return 0; /* attach refuses it */
    for (size_t i = 0; i < n && i < 32; i++) {
        int rc;
        size_t len = 0;
        int prio;
        switch (p[i] & 3) {
        case 0:
        case 1:
            rc = ipc__ring_recv(&ch, r, NULL, buf, (size_t)(p[i] >> 2) * 2, &len, &prio, &ipc__nowait);
            CHECK(rc == IPC_OK || rc == IPC_EEMPTY || rc == IPC_ECLOSED || rc == IPC_EMSGSIZE);
            if (rc == IPC_OK || rc == IPC_EMSGSIZE) CHECK(len <= MAX_MSG);
            break;
        case 2:
            rc = ipc__ring_send(&ch, r, NULL, msg, p[i] >> 2, 0, &ipc__nowait);
            CHECK(rc == IPC_OK || rc == IPC_EFULL || rc == IPC_ECLOSED);
            break;
        default:
            CHECK(ipc__ring_depth(r) >= 0);
            break;
        }
    }
    return 0;
}
