/*
 * core/thread.h — the small helper thread an owner runs beside its channel
 * (serving attachers, relaying frames, watching a broker server).
 *
 * It starts with every signal blocked (a signal meant for the program, such
 * as a test's SIGALRM watchdog, must never run its handler here) and polls
 * stop_fd, which ipc__helper_stop makes readable.  Threads do not survive
 * fork(): only the process that started it stops and joins it.
 */
#ifndef IPCPLAY_CORE_THREAD_H
#define IPCPLAY_CORE_THREAD_H

#include <pthread.h>
#include <sys/types.h>

typedef struct ipc_helper {
    pthread_t thread;
    int       stop_fd;  /* eventfd; -1 before ipc__helper_init           */
    pid_t     pid;      /* the process running the thread; 0: not started */
} ipc_helper;

/* Create stop_fd (so that the owner can hand it to what the thread will
 * use), then start the thread.  Both RETURN 0 or IPC_ESYS. */
int  ipc__helper_init(ipc_helper *h);
int  ipc__helper_start(ipc_helper *h, void *(*fn)(void *), void *arg);
/* Ask the thread to stop and join it (in the starting process); elsewhere
 * (a forked child) only close this process's copy of stop_fd.  If the
 * thread has not stopped after `grace_ms`, call unstick(arg) once (it may
 * be blocked on a peer: break that wait) and join again.  Idempotent. */
void ipc__helper_stop(ipc_helper *h, int grace_ms, void (*unstick)(void *), void *arg);

#endif /* IPCPLAY_CORE_THREAD_H */
