/*
 * shm.h — extras of the shared-memory rings "shm" and "shm_spsc"
 * (shm/shm.c) that are not part of the one interface.
 */
#ifndef IPCPLAY_SHM_H
#define IPCPLAY_SHM_H

#include "../ipc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The shm_open name an unrelated process passes as cfg.name (with
 * IPC_ATTACH) to reach this channel, e.g. "/ipcplay.4711.0" (generated with
 * IPC_ATTACHABLE); NULL for a private channel (reachable by fork only) or a
 * channel of another kind. */
const char *ipc_shm_name(const ipc_channel *ch);

#ifdef __cplusplus
}
#endif
#endif /* IPCPLAY_SHM_H */
