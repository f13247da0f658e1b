/*
 * engines/ring.h — the single-producer/single-consumer ring, written once
 * and used three times (shm/shm.c): "spsc" keeps it in the heap for two
 * threads, "shm_spsc" places the very same struct in shared memory for two
 * processes, and the MPMC "shm" puts one lock in front of each side.
 *
 * Layout: the producer's index and the consumer's index sit on separate
 * 64-byte cache lines, so the two sides only exchange a line when one of
 * them really needs to know how far the other has got; each side also keeps
 * a private copy of the other's index (head_cache, tail_cache) and re-reads
 * the real one only when the copy says "full" or "empty".  The fixed-size
 * slots (a 16-byte header: length, priority, and a sequence hint that a
 * spinning receiver watches; then up to max_msg bytes) follow the struct.
 */
#ifndef IPCPLAY_RING_H
#define IPCPLAY_RING_H

#include "../ipc_internal.h"
#include "core/futex.h"

#include <stdalign.h>
#include <stdint.h>

typedef struct ipc_ring {
    /* Set once at init, read-only afterwards. */
    uint64_t     capacity;   /* slots: messages in flight before send blocks  */
    uint64_t     slot_size;  /* bytes per slot, a multiple of 64               */
    bool         shared;     /* futexes cross processes (no FUTEX_PRIVATE_FLAG) */
    _Atomic bool shut;       /* ipc_close() was called by some holder           */

    /* The producer's line: only the producer writes it. */
    alignas(64) _Atomic uint64_t tail; /* next slot to fill (counts up forever) */
    uint64_t     head_cache;           /* last head seen: head_cache <= head    */

    /* The consumer's line: only the consumer writes it. */
    alignas(64) _Atomic uint64_t head; /* next slot to empty                    */
    uint64_t     tail_cache;           /* last tail seen: tail_cache <= tail    */

    /* core/futex.h's latches (see ring_wait in ring.c for the protocol). */
    alignas(64) ipc_latch not_empty; /* receivers sleep here */
    alignas(64) ipc_latch not_full;  /* senders sleep here   */
} ipc_ring;                              /* slots follow at (char *)ring + sizeof(ipc_ring) */

/* Bytes needed for the ring and its slots, or 0 if that exceeds 1 GiB. */
size_t ipc__ring_size(size_t capacity, size_t max_msg);
/* Initialise zeroed memory of ipc__ring_size() bytes. */
void   ipc__ring_init(ipc_ring *r, size_t capacity, size_t max_msg, bool shared);

/* The whole send/recv: push (pop), and while the ring is full (empty), wait
 * and retry, up to the deadline.  lock == NULL: the caller is the only
 * producer (consumer).  Otherwise a robust process-shared mutex serialises
 * the producers (consumers); it is held only around one push (pop), never
 * while waiting.  Error codes as in ipc.h, with ipc__fail messages. */
int  ipc__ring_send(ipc_channel *ch, ipc_ring *r, pthread_mutex_t *lock,
                    const void *msg, size_t len, int prio, const ipc_deadline *d);
int  ipc__ring_recv(ipc_channel *ch, ipc_ring *r, pthread_mutex_t *lock,
                    void *buf, size_t cap, size_t *len, int *prio, const ipc_deadline *d);

/* Loans (shm/loan.h): push and pop cut in two, for the one producer (the
 * one consumer) of the moment; the caller keeps the position in between.
 *   reserve  wait (like send) for room at tail: *index = that position,
 *            *data = its slot's bytes (room for ch->max_msg);
 *   commit   write the slot's length and prio, publish it (IPC_ECLOSED if
 *            a close came first: then nothing is sent), wake a receiver;
 *   peek     wait (like recv) for a message: its position, bytes, length
 *            (checked against max_msg) and prio, left in place;
 *   release  free the peeked slot (IPC_EINVAL if head has moved: another
 *            receiver broke the one-consumer rule), wake a sender.
 * Error codes as in ipc.h, with ipc__fail messages. */
int  ipc__ring_reserve(ipc_channel *ch, ipc_ring *r, uint64_t *index, void **data, const ipc_deadline *d);
int  ipc__ring_commit(ipc_channel *ch, ipc_ring *r, uint64_t index, size_t len, int prio);
int  ipc__ring_peek(ipc_channel *ch, ipc_ring *r, uint64_t *index, void **data, size_t *len, int *prio,
                    const ipc_deadline *d);
int  ipc__ring_release(ipc_channel *ch, ipc_ring *r, uint64_t index);
/* Is `index` still the lendable position of that side (tail for the
 * sender, head for the receiver)?  False for a loan that has ended. */
bool ipc__ring_at(const ipc_ring *r, uint64_t index, bool send);

#ifdef IPC_TESTING
/* Fault injection, built only into the tests' copy of the library (the
 * Makefile's TEST_LIB: this file's users compiled with -DIPC_TESTING); the
 * shipped libraries have no hook.  fn runs inside ipc_send/ipc_recv on a
 * ring with a lock (MPMC "shm") while that side's robust lock is held,
 * just before the ring is touched: a test makes it block there and kills
 * the process with SIGKILL to prove the survivors carry on.  is_recv says
 * which side.  Process-wide; NULL removes it. */
typedef void (*ipc__ring_lock_hook_fn)(ipc_channel *ch, int is_recv);
void ipc__ring_set_lock_hook(ipc__ring_lock_hook_fn fn);
#endif

/* Check a ring another process set up (at attach): its geometry matches
 * capacity and max_msg (which the caller then keeps privately: the ring
 * calls take them from ch, never again from the shared header) and fits
 * `bytes` of mapping, and its indices are in range.  IPC_OK or IPC_EINVAL. */
int  ipc__ring_check(const ipc_ring *r, size_t capacity, size_t max_msg, size_t bytes);

/* Shut down for every holder and wake every waiter, in every process. */
int  ipc__ring_close(ipc_ring *r);
long ipc__ring_depth(const ipc_ring *r);

/* What BLOCK (and ADAPTIVE, once its spin budget is spent) sleeps in; the
 * spinning is the handle's strategy's (core/wait.c). */
#define IPC_RING_WAIT_STRATEGY "futex"

#endif /* IPCPLAY_RING_H */
