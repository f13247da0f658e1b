/*
 * tcp.h — the extra call of the "tcp" mechanism.
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
