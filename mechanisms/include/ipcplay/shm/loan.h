/*
 * loan.h — zero-copy sends and receives on the shared-memory rings
 * ("spsc" and "shm_spsc"): the idea of iceoryx's loan and Aeron's
 * claim/commit.
 *
 * ipc_send copies the message from the caller's buffer into a slot of the
 * ring, and ipc_recv copies it out of the slot into the receiver's buffer:
 * two copies of every byte.  A loan hands out the slot itself instead:
 *
 *   sender                               receiver
 *     ipc_loan_reserve(ch, size, &l, t)    ipc_loan_peek(ch, &l, t)
 *     write up to l.len bytes at l.data    read l.len bytes at l.data
 *     ipc_loan_commit(ch, &l, len, prio)   ipc_loan_release(ch, &l)
 *
 * The message is built where the receiver will read it, and read where the
 * sender built it: no copy at all.  In between, the loan holds the ring's
 * one sending (receiving) position, so on that side of that handle
 * ipc_send (ipc_recv) and a second reserve (peek) answer IPC_EINVAL until
 * the loan ends.  Commit, abort and release end it, whatever they return.
 *
 * Which channels.  The single-producer/single-consumer rings only: "spsc"
 * (two threads) and "shm_spsc" (two processes, also across fork and
 * attach).  The MPMC ring "shm" would have to keep a lock held between two
 * calls for a loan, and every other mechanism copies through the kernel or
 * a broker: they answer IPC_ENOTSUP.
 *
 * Waiting.  A reserve waits for room and a peek for a message exactly as
 * ipc_send and ipc_recv do: the timeout rule of ipc.h (-1, 0, > 0), the
 * handle's wait strategy, EINTR neither ending the wait nor restarting its
 * clock, and ipc_close waking the waiter.  Commit and release never wait.
 *
 * Close.  A reserve after ipc_close answers IPC_ECLOSED; a reservation
 * still out when some holder closes the channel cannot be sent: its commit
 * answers IPC_ECLOSED and the loan ends (nothing was sent, as for an
 * ipc_send that meets a close).  A receiver drains as with ipc_recv: peeks
 * return the queued messages, then IPC_ECLOSED; a peeked message stays
 * readable until it is released, even after a close.  After ipc_free of
 * the handle, loaned memory must not be touched.
 *
 * The observer (ipc_observe) hears a commit as a send (SEND_BEGIN and
 * SEND_DONE, with the message) and a release as a receive (RECV_BEGIN and
 * RECV_DONE, with the message); a reserve or peek that has to wait reports
 * SEND_BLOCKED or RECV_BLOCKED first.
 *
 * The memory at l.data is the shared ring: another process may map it.
 * What the sender writes there is what the receiver reads, so a receiver
 * that does not trust the sender must check the bytes, not just l.len
 * (which the library checks against max_msg).
 */
#ifndef IPCPLAY_SHM_LOAN_H
#define IPCPLAY_SHM_LOAN_H

#include "../ipc.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One loan.  Zero it before its first use (every call that ends a loan,
 * and every failed reserve or peek, leaves it zeroed); the fields below
 * `prio` are the library's.  A reserve or peek handed a loan that is still
 * out answers IPC_EINVAL and leaves it as it is. */
typedef struct ipc_loan {
    void        *data;  /* reserve: where to write; peek: the message (NULL when no loan) */
    size_t       len;   /* reserve: bytes of room at data; peek: the message's length     */
    int          prio;  /* peek: the message's priority                                    */
    /* private: the library's bookkeeping */
    unsigned     state; /* no loan, reserved or peeked                                     */
    uint64_t     index; /* the ring position the loan holds                                */
    ipc_channel *ch;    /* the handle it was taken on                                      */
} ipc_loan;

/* Reserve room for a message of up to `size` bytes in the ring of ch and
 * lend it: on success loan->data points at the slot, loan->len = size, and
 * the caller writes the message there, then commits (or aborts).  Waits for
 * room like ipc_send (timeout -1, 0 or > 0 ms).
 * RETURNS 0; IPC_EFULL (no room before the deadline, or at once with
 * timeout 0); IPC_ECLOSED (the channel was closed); IPC_EMSGSIZE (size
 * exceeds the channel's max_msg); IPC_EINVAL (ch not an open channel, loan
 * NULL, timeout below -1, a reservation of this handle is still out, or
 * this ipc_loan itself is);
 * IPC_ENOTSUP (not "spsc" or "shm_spsc");
 * IPC_ESYS (a futex wait failed; errno kept).  On failure nothing is held
 * and loan is zeroed (but for a loan still out, see ipc_loan). */
int ipc_loan_reserve(ipc_channel *ch, size_t size, ipc_loan *loan, int timeout_ms);

/* Send the reserved message: its first `len` bytes at loan->data, with
 * priority prio (carried, as by ipc_send).  Never waits.  Ends the loan
 * whatever it returns, except IPC_EMSGSIZE and the IPC_EINVAL of a loan
 * that is not a reservation of ch.
 * RETURNS 0 (the receiver can now peek or receive it); IPC_ECLOSED (the
 * channel was closed while the loan was out: nothing is sent); IPC_EMSGSIZE
 * (len exceeds the room reserved: the loan stays out, commit less or
 * abort); IPC_EINVAL (ch not an open channel, loan NULL, or loan is not a
 * reservation of ch: a commit without reserve, or a second commit). */
int ipc_loan_commit(ipc_channel *ch, ipc_loan *loan, size_t len, int prio);

/* Give a reservation back unsent (the slot is reused by the next send).
 * RETURNS 0; IPC_EINVAL (ch not an open channel, loan NULL, or loan is not
 * a reservation of ch). */
int ipc_loan_abort(ipc_channel *ch, ipc_loan *loan);

/* Lend the oldest message of ch: on success loan->data points at it in the
 * ring, loan->len is its length and loan->prio its priority; it stays
 * queued (and in place) until ipc_loan_release.  Waits for a message like
 * ipc_recv (timeout -1, 0 or > 0 ms).
 * RETURNS 0; IPC_EEMPTY (nothing before the deadline, or at once with
 * timeout 0); IPC_ECLOSED (closed and drained); IPC_EINVAL (ch not an open
 * channel, loan NULL, timeout below -1, or a peeked message of this handle
 * is not released yet, or this ipc_loan is still out); IPC_ENOTSUP (not
 * "spsc" or "shm_spsc"); IPC_ESYS (a futex wait failed; errno kept).  On
 * failure nothing is held and loan is zeroed (but for a loan still out). */
int ipc_loan_peek(ipc_channel *ch, ipc_loan *loan, int timeout_ms);

/* Done with a peeked message: remove it from the ring (its slot is free for
 * the sender again) and end the loan.  loan->data must not be read after.
 * Works after a close too (the receiver drains).
 * RETURNS 0; IPC_EINVAL (ch not an open channel, loan NULL, or loan is not
 * a peek of ch: never peeked, or released twice). */
int ipc_loan_release(ipc_channel *ch, ipc_loan *loan);

#ifdef __cplusplus
}
#endif
#endif /* IPCPLAY_SHM_LOAN_H */
