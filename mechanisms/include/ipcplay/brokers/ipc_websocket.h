/*
 * ipc_websocket.h — the extras of the "websocket" mechanism: the channel's
 * addresses (for other processes, hosts and a browser), publish/subscribe
 * broadcast, and the server's counters.  Send/receive/close go through
 * ipc.h; see websocket.c for the design and the wire protocol.
 */
#ifndef IPCPLAY_IPC_WEBSOCKET_H
#define IPCPLAY_IPC_WEBSOCKET_H

#include "../ipc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What another process passes as ipc_config.endpoint, with IPC_ATTACH:
 * "ws://127.0.0.1:41234/ipcplay.<pid>.<n>.<random>" (the real port, also when
 * the channel was opened on port 0).  NULL if ch is not a websocket channel. */
const char *ipc_websocket_endpoint(const ipc_channel *ch);

/* The same address for a browser: "http://127.0.0.1:41234/<path>" serves a
 * page that connects to the channel, shows every published message (topic
 * "?topic=..." in the URL, "" = all) and sends what the user types into the
 * channel.  With "?echo=1" it also sends back every message it is shown,
 * prefixed "echo:", so a program can check a real browser took part. */
const char *ipc_websocket_page_url(const ipc_channel *ch);

/* ---- publish/subscribe -------------------------------------------------
 * Every subscriber whose topic is a PREFIX of the message's topic gets a
 * copy ("" gets everything).  Nothing is stored: a subscriber gets what is
 * published after ipc_websocket_subscribe returned (the server confirms the
 * subscription first, so there is no "slow joiner" window).  A subscriber
 * that stops reading is disconnected once 1024 messages (or 8 MiB) wait for
 * it on the server, beyond the 256 its own connection buffers (its
 * ipc_websocket_sub_recv then drains those and answers IPC_ECLOSED): the
 * server never blocks on it and never grows without bound. */
typedef struct ipc_websocket_sub ipc_websocket_sub;

/* Publish from any handle (owner or attacher).  RETURNS the number of
 * subscribers it was queued for (>= 0), or IPC_EINVAL (not websocket, NULL,
 * topic of 128 bytes or more), IPC_EMSGSIZE (len > the channel's max_msg),
 * IPC_ECLOSED (an attacher whose server is gone), IPC_ESYS. */
int  ipc_websocket_publish(ipc_channel *ch, const char *topic, const void *msg, size_t len);
/* A subscriber on its own connection to ch's server.  RETURNS 0 and *out,
 * or IPC_EINVAL, IPC_ECLOSED (no server), IPC_ESYS. */
int  ipc_websocket_subscribe(ipc_channel *ch, const char *topic, ipc_websocket_sub **out);
/* Next published message, with the ipc_recv conventions: IPC_EEMPTY on
 * timeout; IPC_EMSGSIZE (*len = size) keeps it for the next call;
 * IPC_ECLOSED once the connection is gone and everything was read. */
int  ipc_websocket_sub_recv(ipc_websocket_sub *s, void *buf, size_t cap, size_t *len, int timeout_ms);
void ipc_websocket_sub_free(ipc_websocket_sub *s);   /* NULL: no-op */

/* ---- the server's counters (owner's handle only) ------------------------ */
typedef struct ipc_websocket_stats {
    long clients;          /* WebSocket connections open now                 */
    long connections;      /* accepted since open                            */
    long received;         /* messages sent by clients                       */
    long delivered;        /* messages handed to clients                     */
    long requeued;         /* handed to a client that died before "got"      */
    long published;
    long oversize;         /* connections dropped for a too large frame      */
    long protocol_errors;  /* ... for a command that breaks the protocol     */
    long dropped_slow;     /* ... for not reading what waited for them        */
    long rejected;         /* WebSocket upgrades to a path that is not ours  */
} ipc_websocket_stats;

/* RETURNS 0, IPC_EINVAL (not websocket, st NULL), IPC_ENOTSUP (not the
 * owner's handle: only the owner runs the server). */
int  ipc_websocket_stats_get(const ipc_channel *ch, ipc_websocket_stats *st);

#ifdef __cplusplus
}
#endif
#endif /* IPCPLAY_IPC_WEBSOCKET_H */
