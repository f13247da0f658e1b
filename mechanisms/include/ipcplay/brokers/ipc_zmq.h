/*
 * ipc_zmq.h — the extras of the "zmq" mechanism: the channel's endpoint (to
 * attach from another process or host) and publish/subscribe broadcast.
 * Send/receive/close go through ipc.h; see zmq.c for the design.
 *
 * (Named ipc_zmq.h so that it can never be mistaken for libzmq's <zmq.h>.)
 */
/*
 * What "zmq" promises, and what it does not (ipc.h's contract, item by item):
 *   - A send that returned IPC_OK is in this process's ZeroMQ pipe, not yet
 *     in the channel: ipc_free lingers up to 2 s to flush it, but a process
 *     killed (or ending with _exit without ipc_free) loses what it had not
 *     flushed.  (This is why IPC_CAP_FORK is not claimed.)
 *   - Receivers do not prefetch: a receiver killed between receives takes
 *     nothing with it; one killed inside a blocking receive can take the one
 *     message on its way to it; one killed after IPC_EMSGSIZE takes that
 *     message (ipc_free hands it back to the channel, at its tail).
 *   - ipc_close (IPC_CAP_CLOSE_WAKES): every send of the closing handle that
 *     returned IPC_OK is received before any receiver gets IPC_ECLOSED, and
 *     receivers blocked anywhere wake.  Senders in OTHER processes are not
 *     told (a PUSH socket hears nothing back) unless they also receive: a
 *     message they send after the close is accepted and never delivered, and
 *     one blocked at the high-water mark stays blocked until its deadline.
 *   - IPC_ATTACH fails at open (IPC_ECLOSED) when nobody serves the endpoint,
 *     and (IPC_EINVAL) when an ipc:// path is not a socket or belongs to
 *     another uid.  A channel whose creator dies or frees it ends: attached
 *     receivers then wait until their deadline (recv(-1) forever).
 *   - Capacity is a high-water mark per pipe, not an exact bound
 *     (IPC_CAP_BOUNDED is not claimed); 0 asks for the default, 1000
 *     (ZeroMQ's own), so that senders cannot run unboundedly ahead of
 *     receivers, which pay a round trip through the device per message.
 *     Order is per sending handle.
 *   - ipc_close never waits for room: on a channel at its high-water mark
 *     with no receiver it returns at once, and a helper thread queues the
 *     close behind the handle's messages when a receiver has made room (a
 *     handle freed before that drops it: then receivers are not told).
 *   - Descriptors: open fails (IPC_ESYS, errno EMFILE) rather than a later
 *     send or receive; it keeps room for the connections ZeroMQ opens after
 *     open and counts connections already made twice, so it refuses early
 *     rather than late.  Attachers' connections also cost the creator one
 *     descriptor each, which its own opens cannot foresee.
 */
#ifndef IPCPLAY_IPC_ZMQ_H
#define IPCPLAY_IPC_ZMQ_H

#include "../ipc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What another process passes as ipc_config.endpoint, with IPC_ATTACH, to
 * reach this channel: "ipc:///tmp/<prefix>.<pid>.<n>.zmq/chan" by default,
 * or "tcp://127.0.0.1:41234" when the channel was opened on tcp://...:*.
 * A channel uses two addresses: this one (senders connect here) and the next
 * one (receivers: "<path>.out", or port + 1).  NULL if ch is not zmq. */
const char *ipc_zmq_endpoint(const ipc_channel *ch);

/* ---- publish/subscribe -------------------------------------------------
 * PUB/SUB: every subscriber whose topic is a PREFIX of the message's topic
 * gets a copy ("news" also matches "newsletter": that is ZeroMQ's rule).
 * Nothing is stored: a subscriber receives only what is published after its
 * connection is up, and connecting takes a moment — the "slow joiner": a
 * publisher that starts sending at once loses the first messages.  A slow
 * subscriber whose queue reaches the high-water mark (1000) loses messages
 * too: PUB never blocks. */
typedef struct ipc_zmq_pub ipc_zmq_pub;
typedef struct ipc_zmq_sub ipc_zmq_sub;

/* Bind a publisher at endpoint ("tcp://127.0.0.1:*", "ipc:///path"), or in
 * a private temp dir if NULL.  RETURNS 0, IPC_EINVAL, IPC_ESYS. */
int  ipc_zmq_pub_open(const char *endpoint, ipc_zmq_pub **out);
/* The bound address to give subscribers (the real port for tcp://...:*). */
const char *ipc_zmq_pub_endpoint(const ipc_zmq_pub *p);
/* RETURNS 0, IPC_EINVAL, IPC_ESYS.  Never blocks. */
int  ipc_zmq_publish(ipc_zmq_pub *p, const char *topic, const void *msg, size_t len);
void ipc_zmq_pub_free(ipc_zmq_pub *p);

/* Connect a subscriber to a publisher's endpoint for topic ("" = all). */
int  ipc_zmq_sub_open(const char *endpoint, const char *topic, ipc_zmq_sub **out);
/* Next message's payload, with the ipc_recv conventions: IPC_EEMPTY on
 * timeout, IPC_EMSGSIZE (*len = size) keeps it for the next call. */
int  ipc_zmq_sub_recv(ipc_zmq_sub *s, void *buf, size_t cap, size_t *len, int timeout_ms);
void ipc_zmq_sub_free(ipc_zmq_sub *s);

#ifdef __cplusplus
}
#endif
#endif /* IPCPLAY_IPC_ZMQ_H */
