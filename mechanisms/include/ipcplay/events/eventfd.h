/*
 * eventfd.h — the extra of the "eventfd" mechanism: a look at the bare
 * kernel counter, which the channel itself only uses as a semaphore.
 */
#ifndef IPCPLAY_EVENTFD_H
#define IPCPLAY_EVENTFD_H

#include "../ipc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Write `values` one by one into a fresh eventfd (EFD_SEMAPHORE or not),
 * then read it until it is empty, and report what the reads returned.
 * Plain mode: the kernel ADDED the values, one read returns their sum and
 * resets the counter to 0 ({1,2,3} -> {6}).  Semaphore mode: every read
 * returns 1 and subtracts 1 ({1,2,3} -> six reads of 1).  Boundaries are
 * gone either way: that is why the channel keeps its messages elsewhere.
 * reads[] gets the first max_reads results, *nreads how many reads there
 * were in all.  RETURNS 0, IPC_EINVAL, IPC_ESYS. */
int ipc_eventfd_show_counter(const uint64_t *values, size_t n, bool semaphore,
                             uint64_t *reads, size_t max_reads, size_t *nreads);

#ifdef __cplusplus
}
#endif
#endif
