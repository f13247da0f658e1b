/*
 * shm.h — extras of the shared-memory rings "shm" and "shm_spsc"
 * (shm_ring.c) that are not part of the one interface.
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

/* Fault injection, for tests only.  fn runs inside ipc_send/ipc_recv on an
 * MPMC "shm" channel while that side's robust lock is held, just before the
 * ring is touched: a test makes it block there and kills the process with
 * SIGKILL to prove the survivors carry on.  is_recv says which side.
 * Process-wide; NULL removes it.  Not for production use. */
typedef void (*ipc_shm_lock_hook)(ipc_channel *ch, int is_recv);
void ipc_shm_set_lock_hook(ipc_shm_lock_hook fn);

#ifdef __cplusplus
}
#endif
#endif /* IPCPLAY_SHM_H */
