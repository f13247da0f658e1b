/*
 * thread_queue.h — the extras of the thread queue ("queue", "lifo",
 * "priority"), the C counterpart of Python's queue.Queue, LifoQueue and
 * PriorityQueue.  Send/receive/close go through ipc.h; these are the calls
 * Python has and a plain channel does not.
 */
#ifndef IPCPLAY_THREAD_QUEUE_H
#define IPCPLAY_THREAD_QUEUE_H

#include "../ipc.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Mark one received message as processed (Queue.task_done()).
 * RETURNS 0, or IPC_EINVAL when called more times than messages were sent
 * (Python raises ValueError), or when ch is not a thread queue. */
int ipc_queue_task_done(ipc_channel *ch);

/* Block until every message ever sent has been task_done()'d (Queue.join()).
 * RETURNS 0, IPC_ETIMEDOUT (tasks still unfinished at the deadline: a wait
 * for a state, ipc.h), IPC_EINVAL (not a thread queue; timeout below -1). */
int ipc_queue_join(ipc_channel *ch, int timeout_ms);

/* Hints, like Python's: another thread may change the answer at once.
 * They come from the queue's own counter, so they always work. */
long ipc_queue_qsize(const ipc_channel *ch);
bool ipc_queue_empty(const ipc_channel *ch);
bool ipc_queue_full(const ipc_channel *ch);   /* always false when unbounded */

/* Queue.shutdown(immediate): like ipc_close(), and with immediate=true the
 * queued messages are discarded (and counted as done, so join() returns). */
int ipc_queue_shutdown(ipc_channel *ch, bool immediate);

#ifdef __cplusplus
}
#endif
#endif
