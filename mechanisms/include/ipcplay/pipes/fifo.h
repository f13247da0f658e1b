/*
 * fifo.h — the extra call of the "fifo" mechanism (a named pipe).
 */
#ifndef IPCPLAY_FIFO_H
#define IPCPLAY_FIFO_H

#include "../ipc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The FIFO's path in the file system: what an unrelated process passes as
 * cfg->name with IPC_ATTACH.  With cfg->name NULL the owner generated it in
 * a private temporary directory.  NULL if ch is not a fifo channel. */
const char *ipc_fifo_path(const ipc_channel *ch);

#ifdef __cplusplus
}
#endif
#endif
