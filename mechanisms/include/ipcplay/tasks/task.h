/*
 * task.h — a task queue in the style of Celery and RQ, over any ipcplay
 * channel that carries messages between processes.
 *
 *   Celery / RQ                                   ipcplay
 *   app = Celery(broker=...); q = Queue(conn)     ipc_task_open("redis", &cfg, &tq)   (or "procq", "amqp")
 *   @app.task def add(x, y)                       ipc_task_register(tq, "add", add_fn, NULL)
 *   celery worker -c 4 / rq worker                ipc_task_work(tq, 4)
 *   r = add.apply_async((4, 4), countdown=2,      ipc_task_enqueue(tq, "add", args, len,
 *         retry=..., time_limit=...)                  &(ipc_task_opts){ .countdown_ms = 2000, ... }, &id)
 *   r.get(timeout=10) / job.result                ipc_task_result(tq, id, buf, cap, &info, 10000)
 *   r.status / job.get_status()                   ipc_task_status(tq, id)
 *   failed job registry                           ipc_task_dead(tq, ids, max)
 *
 * How it works.  Two channels of the chosen mechanism: `jobs` (enqueuers
 * send, workers receive) and `events` (workers and the pool report
 * STARTED, FINISHED, FAILED, RETRY and DEAD; the process that calls
 * ipc_task_result/ipc_task_status reads them).  ipc_task_work forks a pool
 * supervisor, which forks the workers and watches them:
 *   - late acknowledgement: a worker receives a job straight into a slot of
 *     memory it shares with the supervisor, and the slot says "running"
 *     until the job is done; a worker that dies (SIGKILL, a crash) leaves
 *     its job in the slot, and the supervisor sends it to the jobs channel
 *     again and starts another worker — the job runs again elsewhere;
 *   - timeouts: a job running longer than its timeout_ms has its worker
 *     killed (SIGKILL), and counts as a failed attempt;
 *   - retries: a failed attempt (the handler returned an error, the worker
 *     died, the timeout) is run again after backoff_ms × 2^(attempt-1),
 *     up to `retries` more times; then the job is DEAD: in the dead-letter
 *     list, with its last error;
 *   - eta/countdown: a job not yet due is handed by the worker that took it
 *     to the supervisor, which holds it (a heap by due time) and sends it
 *     back when due.
 * Handlers must therefore be idempotent (at-least-once delivery, as with
 * Celery's acks_late): a job may run again after a crash.
 *
 * Wire format (version 1; all integers little-endian, as on the machines
 * this playground runs on): a job is "IPTJ" u8 version u8 kind u16 attempt
 * u16 retries u16 name_len u32 backoff_ms u32 timeout_ms i32 priority u32
 * args_len u64 id i64 not_before (CLOCK_REALTIME ns: clocks of different
 * hosts agree on it, roughly) then name and args; an event is "IPTE" u8
 * version u8 kind u16 attempt u32 len u64 id then the result or the error
 * text.  A message that is not one of these is refused with IPC_EINVAL.
 *
 * Results and status live in the process that reads the events: call
 * ipc_task_result/ipc_task_status from one process per task queue (the one
 * that enqueues, typically).  Errors: negative IPC_E* codes, never a crash.
 */
#ifndef IPCPLAY_TASK_H
#define IPCPLAY_TASK_H

#include "../ipc.h"

#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ipc_task_queue ipc_task_queue;

enum ipc_task_state {
    IPC_TASK_UNKNOWN  = 0, /* not enqueued by this process, or no news yet     */
    IPC_TASK_QUEUED   = 1, /* enqueued (or waiting for its retry)              */
    IPC_TASK_STARTED  = 2, /* a worker runs it                                 */
    IPC_TASK_FINISHED = 3, /* done: the result is there                        */
    IPC_TASK_DEAD     = 4, /* failed after every retry: in the dead letters    */
};

typedef struct ipc_task_opts {
    int     retries;      /* attempts after the first that fails (0: none)      */
    int     backoff_ms;   /* wait before retry n: backoff_ms * 2^(n-1) (0: 100) */
    int     timeout_ms;   /* a run longer than this is killed (0: no limit)     */
    int     countdown_ms; /* not before now + countdown (Celery's countdown)    */
    int64_t eta_ns;       /* or not before this CLOCK_REALTIME time (0: none)    */
    int     priority;     /* passed as the channel's prio (IPC_CAP_PRIORITY)     */
} ipc_task_opts;

typedef struct ipc_task_info {
    enum ipc_task_state state;
    int    attempts;       /* runs so far (1 after a first success)            */
    size_t result_len;     /* FINISHED: bytes of result; copied up to cap       */
    char   error[128];     /* DEAD: what the last attempt said                  */
} ipc_task_info;

/* A handler: read args, write up to cap bytes of result and *result_len.
 * Return 0 for success, anything else for a failed attempt (retried as the
 * job's options say).  Runs in a worker process. */
typedef int (*ipc_task_fn)(void *user, const void *args, size_t args_len, void *result, size_t cap,
                           size_t *result_len);

/* Open a task queue on `mechanism` (it needs IPC_CAP_FORK, and MPMC: procq,
 * redis, amqp, ...).  cfg: the jobs channel's config (capacity, max_msg;
 * name/endpoint to reach a broker); the events channel gets the same.
 * RETURNS 0 and *out, or IPC_EINVAL, IPC_ENOTSUP (the mechanism cannot carry
 * jobs between processes), or what ipc_open answered. */
int  ipc_task_open(const char *mechanism, const ipc_config *cfg, ipc_task_queue **out);

/* Register a handler under `name` (at most 63 bytes) before ipc_task_work:
 * the workers inherit the table.  RETURNS 0, IPC_EINVAL, IPC_EFULL (64
 * handlers already). */
int  ipc_task_register(ipc_task_queue *tq, const char *name, ipc_task_fn fn, void *user);

/* Enqueue a job; opts may be NULL.  *id (may be NULL) gets its id.
 * RETURNS 0, IPC_EINVAL (unknown name is fine: a worker elsewhere may know
 * it; bad options), IPC_EMSGSIZE (args too large for the channel), or what
 * ipc_send answered (IPC_EFULL after 1 s: the queue is full). */
int  ipc_task_enqueue(ipc_task_queue *tq, const char *name, const void *args, size_t len,
                      const ipc_task_opts *opts, uint64_t *id);

/* Start a pool of nworkers worker processes (and their supervisor) that
 * run jobs until ipc_task_stop.  RETURNS 0, IPC_EINVAL (nworkers not 1..64,
 * a pool already running), IPC_ESYS (fork). */
int  ipc_task_work(ipc_task_queue *tq, int nworkers);

/* Stop the pool: no new jobs are taken; running ones finish; the
 * supervisor and workers exit and are reaped.  RETURNS 0, IPC_EINVAL. */
int  ipc_task_stop(ipc_task_queue *tq);

/* The state of job id as the events read so far say (reads what has
 * arrived, never waits). */
enum ipc_task_state ipc_task_status(ipc_task_queue *tq, uint64_t id);

/* Wait up to timeout_ms (-1 forever) until job id is FINISHED or DEAD.
 * info (may be NULL) gets the details; the result is copied to buf (cap).
 * RETURNS 0 (finished or dead: see info->state), IPC_ETIMEDOUT (still not done
 * at the deadline), IPC_EMSGSIZE (cap too small: info->result_len says the
 * size; call again), IPC_EINVAL. */
int  ipc_task_result(ipc_task_queue *tq, uint64_t id, void *buf, size_t cap, ipc_task_info *info,
                     int timeout_ms);

/* The ids of the dead jobs seen so far (at most max); RETURNS how many. */
long ipc_task_dead(ipc_task_queue *tq, uint64_t *ids, size_t max);

/* Stop the pool if running, close nothing (other holders may go on), free. */
void ipc_task_free(ipc_task_queue *tq);

#ifdef __cplusplus
}
#endif
#endif
