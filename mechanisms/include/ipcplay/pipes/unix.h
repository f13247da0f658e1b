/*
 * unix.h — the extra call of the Unix socket mechanisms ("unix",
 * "unix_seqpacket", "unix_dgram").
 */
#ifndef IPCPLAY_UNIX_H
#define IPCPLAY_UNIX_H

#include "../ipc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The path of the channel's door: what an unrelated process passes as
 * cfg->name with IPC_ATTACH (with IPC_ATTACHABLE and cfg->name NULL, a
 * generated one).  NULL for a private channel (opened with neither:
 * reachable by inheritance only) or if ch is not a Unix socket channel. */
const char *ipc_unix_path(const ipc_channel *ch);

#ifdef __cplusplus
}
#endif
#endif
