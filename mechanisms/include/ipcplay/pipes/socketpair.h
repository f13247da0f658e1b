/*
 * socketpair.h — multiprocessing.Pipe(duplex=True): two connected ends.
 */
#ifndef IPCPLAY_SOCKETPAIR_H
#define IPCPLAY_SOCKETPAIR_H

#include "../ipc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Open a duplex pair: what is sent on *a is received on *b and vice versa.
 * Typically the parent keeps one end and a child the other (free the end you
 * do not use after fork).  ipc_close(end) shuts that direction down: the
 * other end drains and then receives IPC_ECLOSED.
 * RETURNS 0, IPC_EINVAL, IPC_ESYS; on failure both are NULL. */
int ipc_duplex_open(const ipc_config *cfg, ipc_channel **a, ipc_channel **b);

#ifdef __cplusplus
}
#endif
#endif
