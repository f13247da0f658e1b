/*
 * core/sitter.c — the server children and their sitter thread (sitter.h).
 *
 * The thread spawns the children in order, then waits for them: on their
 * pidfds when the kernel gives them (each child is reaped the moment it
 * exits, whatever the order), else with a blocking waitpid per child, the
 * last started first (the main server; helpers such as epmd are stopped
 * after it).  Every change is published under the lock and broadcast.
 */
#define _GNU_SOURCE
#include "core/sitter.h"
#include "core/deadline.h"
#include "core/error.h"
#include "core/sync.h"
#include "core/thread.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* fork + exec spec with the death signal.  The child reports a failure
 * before exec through an O_CLOEXEC pipe (EOF: the exec happened).  The pid,
 * or -1 with *err (the child, if any, already reaped). */
static pid_t spawn(const ipc_spawn *spec, int *err)
{
    int err_pipe[2];
    if (pipe2(err_pipe, O_CLOEXEC) < 0) {
        *err = errno;
        return -1;
    }
    int out = spec->out ? open(spec->out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
    if (out >= 0 && spec->change_uid && fchown(out, spec->uid, spec->gid) < 0) { /* best effort: only we read it */ }
    char *const *env = spec->env ? spec->env : environ;
    int death = spec->death_signal ? spec->death_signal : SIGTERM;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* Child: async-signal-safe calls only (the parent has threads). */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* A server, not part of the caller: it must not inherit a
         * benchmark's CPU pinning (it would run on that one CPU, beside the
         * pinned threads it serves).  The kernel keeps the CPUs we may use. */
        cpu_set_t all;
        CPU_ZERO(&all);
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) CPU_SET(cpu, &all);
        sched_setaffinity(0, sizeof all, &all);
        int e = 0;
        if (spec->dir && chdir(spec->dir) < 0) e = errno;
        if (!e && spec->change_uid && (setgroups(0, NULL) < 0 || setgid(spec->gid) < 0 || setuid(spec->uid) < 0))
            e = errno;
        /* after the uid change, which clears it; and the parent must still
         * be the one that forked us (it may have died before the prctl) */
        if (!e && (prctl(PR_SET_PDEATHSIG, death) < 0 || getppid() != parent)) e = ESRCH;
        if (!e) {
            int null = open("/dev/null", O_RDWR);
            if (null >= 0) dup2(null, 0);
            if (out >= 0) {
                dup2(out, 1);
                dup2(out, 2);
            } else if (null >= 0) {
                dup2(null, 1);
                dup2(null, 2);
            }
            execve(spec->argv[0], spec->argv, env);
            e = errno;
        }
        if (write(err_pipe[1], &e, sizeof e) < 0) _exit(127);
        _exit(127);
    }
    int e = pid < 0 ? errno : 0;
    if (out >= 0) close(out);
    close(err_pipe[1]);
    if (pid > 0) {
        ssize_t n;
        do n = read(err_pipe[0], &e, sizeof e);
        while (n < 0 && errno == EINTR);
        if (n != (ssize_t)sizeof e) e = 0; /* EOF: the exec happened */
        if (e) while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    }
    close(err_pipe[0]);
    *err = e;
    return e ? -1 : pid;
}

static void publish(ipc_sitter *s, void (*change)(ipc_sitter *, int, int), int a, int b)
{
    pthread_mutex_lock(&s->lock);
    change(s, a, b);
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
}

static void set_started(ipc_sitter *s, int i, int pid) { s->pid[i] = pid, s->started = i + 1; }
static void set_exited(ipc_sitter *s, int i, int unused) { (void)unused, s->exited[i] = true; }
static void set_settled(ipc_sitter *s, int err, int failed) { s->start_errno = err, s->failed = failed, s->settled = true; }

/* Reap child i if it has exited (WNOHANG).  true if it had. */
static bool reap_if_exited(ipc_sitter *s, int i)
{
    int status;
    pid_t r;
    while ((r = waitpid(s->pid[i], &status, WNOHANG)) < 0 && errno == EINTR) {}
    if (r == 0) return false;
    publish(s, set_exited, i, 0); /* r < 0 (ECHILD): not ours to wait for any more */
    return true;
}

/* Child i ready for the next one?  0, or ECHILD (it exited) / ETIMEDOUT. */
static int await_ready(ipc_sitter *s, int i)
{
    for (int waited = 0;; waited += 10) {
        if (s->ready(i, s->arg)) return 0;
        if (reap_if_exited(s, i)) return ECHILD;
        if (waited >= s->ready_ms) return ETIMEDOUT;
        struct timespec ts = { 0, 10 * 1000000 };
        nanosleep(&ts, NULL);
    }
}

static void *sitter_main(void *arg)
{
    ipc_sitter *s = arg;
    int pidfd[IPC_SITTER_MAX], started = 0, err = 0, i = 0;
    bool have_pidfds = true;
    for (; i < s->n; i++) {
        pid_t pid = spawn(&s->spec[i], &err);
        if (pid < 0) break;
        pidfd[i] = (int)syscall(SYS_pidfd_open, pid, 0);
        have_pidfds &= pidfd[i] >= 0;
        publish(s, set_started, i, pid);
        started = i + 1;
        if (i + 1 < s->n && s->ready && (err = await_ready(s, i)) != 0) break;
    }
    publish(s, set_settled, err, i); /* on failure, ipc__sitter_start stops what started */

    /* Stay alive while any child runs: their death signal is tied to us. */
    if (have_pidfds) {
        for (;;) {
            struct pollfd p[IPC_SITTER_MAX];
            int np = 0, idx[IPC_SITTER_MAX];
            pthread_mutex_lock(&s->lock);
            for (int i = 0; i < started; i++)
                if (!s->exited[i]) p[np] = (struct pollfd){ .fd = pidfd[i], .events = POLLIN }, idx[np++] = i;
            pthread_mutex_unlock(&s->lock);
            if (np == 0) break;
            if (poll(p, (nfds_t)np, -1) < 0) continue; /* EINTR (signals are blocked here anyway) */
            for (int k = 0; k < np; k++)
                if (p[k].revents) reap_if_exited(s, idx[k]);
        }
    } else {
        for (int i = started; i-- > 0;) {
            int status;
            while (waitpid(s->pid[i], &status, 0) < 0 && errno == EINTR) {}
            publish(s, set_exited, i, 0);
        }
    }
    for (int i = 0; i < started; i++)
        if (pidfd[i] >= 0) close(pidfd[i]);
    return NULL;
}

static void destroy(ipc_sitter *s)
{
    pthread_cond_destroy(&s->changed);
    pthread_mutex_destroy(&s->lock);
}

int ipc__sitter_start(ipc_sitter *s, const ipc_spawn *spec, int n,
                      bool (*ready)(int i, void *arg), void *arg, int ready_ms)
{
    if (n < 1 || n > IPC_SITTER_MAX) return ipc__fail(IPC_EINVAL, "ipc__sitter_start: %d children (1..%d)", n, IPC_SITTER_MAX);
    memset(s, 0, sizeof *s);
    memcpy(s->spec, spec, (size_t)n * sizeof *spec);
    s->n = n, s->ready = ready, s->arg = arg, s->ready_ms = ready_ms;
    s->owner = getpid();
    int rc = ipc__mutex_init(&s->lock, false);
    if (rc != IPC_OK) return rc;
    if ((rc = ipc__cond_init(&s->changed, false)) != IPC_OK) {
        pthread_mutex_destroy(&s->lock);
        return rc;
    }
    ipc_helper h = { .stop_fd = -1 }; /* every signal blocked in it */
    if ((rc = ipc__helper_start(&h, sitter_main, s)) != IPC_OK) {
        destroy(s);
        return rc;
    }
    s->thread = h.thread;
    pthread_mutex_lock(&s->lock);
    while (!s->settled) pthread_cond_wait(&s->changed, &s->lock); /* the sitter always settles */
    int err = s->start_errno, started = s->started, failed = s->failed;
    pthread_mutex_unlock(&s->lock);
    if (!err) return IPC_OK;
    for (int i = started; i-- > 0;) ipc__sitter_terminate(s, i, 5000);
    pthread_join(s->thread, NULL);
    destroy(s);
    errno = err;
    return ipc__fail(IPC_ESYS, "starting %s%s", spec[failed].argv[0],
                     err == ECHILD ? ": it exited before it was ready" : err == ETIMEDOUT ? ": it was not ready in time" : "");
}

bool ipc__sitter_wait(ipc_sitter *s, int i, int timeout_ms)
{
    ipc_deadline d;
    ipc__deadline_start(&d, timeout_ms);
    pthread_mutex_lock(&s->lock);
    while (i < s->started && !s->exited[i]) {
        int w = ipc__cond_wait(&s->changed, &s->lock, &d, NULL);
        if (w < 0) return false; /* the lock went with the error (private mutex: never) */
        if (w == 1) break;
    }
    bool done = i >= s->started || s->exited[i];
    pthread_mutex_unlock(&s->lock);
    return done;
}

/* The last non-empty line of a server's log or output: why it did not start. */
static void log_tail(const char *path, char *out, size_t size)
{
    out[0] = '\0';
    FILE *f = path ? fopen(path, "re") : NULL;
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f))
        if (line[strspn(line, " \t\r\n")] != '\0') snprintf(out, size, "%s", line + strspn(line, " \t"));
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
}

int ipc__sitter_await(ipc_sitter *s, int i, bool (*ready)(void *arg), void *arg, int pause_ms,
                      int timeout_ms, const char *log, const char *what, const char *not_ready)
{
    ipc_deadline d;
    ipc__deadline_start(&d, timeout_ms);
    while (!ready(arg)) {
        bool dead = ipc__sitter_wait(s, i, pause_ms); /* also the pause between two tries */
        if (dead || ipc__deadline_passed(&d)) {
            char why[256];
            log_tail(log, why, sizeof why);
            errno = dead ? ECHILD : ETIMEDOUT;
            return ipc__fail(IPC_ESYS, "%s %s (%s)", what, dead ? "exited" : not_ready, why[0] ? why : "no output");
        }
    }
    return IPC_OK;
}

/* Signal child i only while the sitter has not reaped it. */
static void signal_child(ipc_sitter *s, int i, int sig)
{
    pthread_mutex_lock(&s->lock);
    if (i < s->started && !s->exited[i]) kill(s->pid[i], sig);
    pthread_mutex_unlock(&s->lock);
}

bool ipc__sitter_terminate(ipc_sitter *s, int i, int grace_ms)
{
    signal_child(s, i, SIGTERM);
    if (ipc__sitter_wait(s, i, grace_ms)) return true;
    signal_child(s, i, SIGKILL);
    ipc__sitter_wait(s, i, -1);
    return false;
}

bool ipc__sitter_stop(ipc_sitter *s, int grace_ms)
{
    if (s->owner != getpid()) return true; /* a forked child: the servers are its parent's */
    pthread_mutex_lock(&s->lock);
    int started = s->started;
    pthread_mutex_unlock(&s->lock);
    bool clean = true;
    for (int i = started; i-- > 0;) clean &= ipc__sitter_terminate(s, i, grace_ms);
    pthread_join(s->thread, NULL);
    destroy(s);
    return clean;
}

pid_t ipc__sitter_pid(const ipc_sitter *s, int i)
{
    return i >= 0 && i < IPC_SITTER_MAX ? s->pid[i] : 0;
}
