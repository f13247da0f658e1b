/*
 * tcp.h — the extra call of the "tcp" mechanism.
 *
 * What the owner's ipc_free does to the others.  The owner runs a relay
 * thread that forwards attachers' messages into the channel.  Its free
 * stops the relay (messages the relay has not started to forward are
 * dropped, as at shutdown; attachers' next sends answer IPC_ECLOSED) and
 * leaves the channel whole for the holders the owner fork()ed: they keep
 * sending and receiving.  A relay in the middle of writing a message into
 * a full channel finishes it in the background as those holders make room
 * (ipc_free returns after about 1.25 s without waiting for that).  Only if
 * the owner's process exits before the relay finished that message do the
 * holders' receives answer IPC_ECLOSED ("stream broken").
 */
#ifndef IPCPLAY_TCP_H
#define IPCPLAY_TCP_H

#include "../ipc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The port the owner listens on — the one the kernel chose when the
 * endpoint said port 0 (the default endpoint is "127.0.0.1:0").  An
 * attacher passes "host:port" as cfg->endpoint with IPC_ATTACH.  For an
 * attached handle: the owner's port.  IPC_EINVAL if ch is not a tcp channel
 * (until 2026-12 it answered -1, which is IPC_EFULL). */
int ipc_tcp_port(const ipc_channel *ch);

#ifdef __cplusplus
}
#endif
#endif
