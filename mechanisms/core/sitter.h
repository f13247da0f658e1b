/*
 * core/sitter.h — server processes a mechanism starts for itself (the
 * embedded redis-server; rabbitmq-server and its epmd), watched by one
 * "sitter" thread.
 *
 * Why a thread: PR_SET_PDEATHSIG sends the child its death signal when the
 * THREAD that forked it ends, not the process.  So a dedicated thread forks
 * the servers and stays alive, waiting for them, for as long as they run:
 * if this process dies, even by SIGKILL, every server gets its death signal
 * (SIGTERM unless the spec names another) and none outlives it.  The thread starts with every signal blocked (core/thread.h);
 * a child unblocks them before exec.
 *
 * Invariants (guarded by the sitter's lock):
 *   - a child is signalled only while it has not been reaped (`exited`
 *     false): after waitpid its pid may already name another process;
 *   - children are reaped only by the sitter, each by its own pid (never
 *     waitpid(-1), which would steal the program's own children);
 *   - only the process that started the sitter (`owner`) stops or joins it:
 *     in a fork()ed child the thread does not exist, and the servers are the
 *     parent's.
 *
 * Failure analysis.  A failed exec, a uid change or chdir that fails, or a
 * parent that died between fork and prctl (getppid changed) is reported by
 * the child through an O_CLOEXEC pipe, so ipc__sitter_start answers IPC_ESYS
 * with that errno instead of a later "did not answer".  If a child is not
 * ready for the next one in time (ready()), or exits meanwhile, the start
 * fails and the children already started are stopped and reaped: a failed
 * start leaves nothing running and nothing to free.
 */
#ifndef IPCPLAY_CORE_SITTER_H
#define IPCPLAY_CORE_SITTER_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#define IPC_SITTER_MAX 4

/* How to start one server. */
typedef struct ipc_spawn {
    char *const *argv;      /* argv[0]: the program's path (execve: no $PATH search) */
    char *const *env;       /* its environment; NULL: this process's               */
    const char  *dir;       /* chdir there first; NULL: stay                        */
    const char  *out;       /* stdout and stderr appended there; NULL: /dev/null    */
    bool         change_uid;/* setgroups(0) + setgid + setuid before exec           */
    uid_t        uid;
    gid_t        gid;
    int          death_signal; /* sent when this process dies; 0: SIGTERM.  A server
                                * that may ignore SIGTERM while it starts (RabbitMQ)
                                * gets SIGKILL: its owner is gone, nobody waits for it */
} ipc_spawn;

typedef struct ipc_sitter {
    pthread_mutex_t lock;
    pthread_cond_t  changed;           /* on CLOCK_MONOTONIC (core/sync.h)      */
    pthread_t       thread;
    pid_t           owner;             /* the process that started the sitter   */
    int             n;                 /* children asked for                    */
    ipc_spawn       spec[IPC_SITTER_MAX];
    bool          (*ready)(int i, void *arg); /* child i may have a successor     */
    void           *arg;
    int             ready_ms;
    /* guarded by lock: */
    int             started;           /* children running (pid[0..started-1]) */
    bool            settled;           /* all started, or the start failed      */
    int             start_errno;       /* why it failed (0: it did not)          */
    int             failed;            /* which child it failed at               */
    pid_t           pid[IPC_SITTER_MAX];
    bool            exited[IPC_SITTER_MAX]; /* reaped by the sitter              */
} ipc_sitter;

/* Start the sitter thread, which spawns spec[0..n-1] in order: child i+1
 * once ready(i, arg) is true (polled every 10 ms, up to ready_ms; ready may
 * be NULL: at once), then waits for them all.  Returns when every child is
 * running: IPC_OK.  Otherwise IPC_ESYS (errno: the exec's, ECHILD when a
 * child exited before it was ready, ETIMEDOUT) or IPC_EINVAL (n out of
 * range), and nothing is left running or to free.  spec's strings must live
 * until ipc__sitter_stop. */
int  ipc__sitter_start(ipc_sitter *s, const ipc_spawn *spec, int n,
                       bool (*ready)(int i, void *arg), void *arg, int ready_ms);
/* Wait until the children serve: try ready(arg) (a PING, a login), and
 * between two tries sleep pause_ms or until child i exits.  IPC_OK once
 * ready says so; IPC_ESYS when child i exited (errno ECHILD) or timeout_ms
 * passed (ETIMEDOUT), with a message "<what> exited (...)" or "<what>
 * <not_ready> (...)" quoting the last non-empty line of the file log (its
 * own complaint; log may be NULL).  The caller then stops the sitter. */
int  ipc__sitter_await(ipc_sitter *s, int i, bool (*ready)(void *arg), void *arg, int pause_ms,
                       int timeout_ms, const char *log, const char *what, const char *not_ready);
/* Wait until child i has exited (timeout_ms -1: forever).  true if it has. */
bool ipc__sitter_wait(ipc_sitter *s, int i, int timeout_ms);
/* SIGTERM child i, SIGKILL after grace_ms; returns once it is reaped.
 * true if SIGTERM was enough. */
bool ipc__sitter_terminate(ipc_sitter *s, int i, int grace_ms);
/* Stop every child still running, the last started first (each with
 * grace_ms), join the thread and destroy the sitter.  true if every child
 * went on SIGTERM.  In another process than the owner (a fork()ed child):
 * does nothing, true.  Idempotent only until it returns: call it once. */
bool ipc__sitter_stop(ipc_sitter *s, int grace_ms);
/* Child i's pid (0 before it started). */
pid_t ipc__sitter_pid(const ipc_sitter *s, int i);

#endif /* IPCPLAY_CORE_SITTER_H */
