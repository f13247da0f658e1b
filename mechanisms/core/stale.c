/*
 * stale.c — removing the names of creators that were killed (issue 12,
 * defect 10).  See stale.h for the interface.
 *
 * Which names.  Only generated ones: "<prefix>.<pid>.<n>" followed by
 * nothing or a '.'-suffix (".ctl", ".event", ".shut", ".XXXXXX" of mkdtemp).
 * A name the user chose (cfg->name) carries no pid and is never touched.
 * Where:
 *   /dev/shm       shm and shm_spsc segments, named events, fifo states
 *                  ("<prefix>.<pid>.<n>.fifo.<dev>.<ino>"), posix_mq's
 *                  ".ctl" word — whose queue and ".shut" doorbell are
 *                  mq_unlink()ed with it (the mq namespace cannot be listed
 *                  unless /dev/mqueue is mounted; when it is, it is scanned
 *                  too);
 *   $TMPDIR, /tmp  the private directories of fifo, unix*, zmq and redis,
 *                  removed with their contents (sockets, fifos, redis data).
 * SysV queues have keys, not names: see sysv_mq.c (listed by ipcs, removed
 * with ipcrm); they are not swept.
 *
 * Whose.  A name is stale when its pid is not a live process, or is a
 * process that started after the name was made (the pid was reused: the
 * name's change time is compared with the process's start time, from
 * /proc/<pid>/stat and the boot time).  Only entries owned by our uid are
 * looked at (root: every uid's, since a broker's dir may belong to its
 * daemon user — amqp hands its node dir to rabbitmq).  The check is per pid namespace: a creator in another pid
 * namespace sharing /dev/shm or /tmp would look dead — ipcplay does not
 * share those across containers, and IPCPLAY_NO_STALE_SWEEP=1 turns the
 * automatic sweep off.
 *
 * Races.  A creator that is alive is never touched.  A sweep running while
 * a dead creator's name is being removed by another sweep sees ENOENT and
 * goes on.  No new name can reuse a dead pid's names while that pid is
 * free, and a new process with that pid started after the name: stale.
 */
#define _GNU_SOURCE
#include "core/stale.h"
#include "core/names.h" /* ipc__generated_pid, ipc__remove_tree */

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Seconds since the epoch at which the system booted, or 0. */
static time_t boot_time(void)
{
    FILE *f = fopen("/proc/stat", "re");
    if (!f) return 0;
    char line[256];
    long long bt = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "btime %lld", &bt) == 1) break;
    fclose(f);
    return (time_t)bt;
}

bool ipc__creator_alive(int pid, time_t since)
{
    if (pid <= 0) return false;
    if (kill(pid, 0) < 0 && errno == ESRCH) return false;
    /* Alive (or not ours to signal: EPERM).  Started after the name? */
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno != ENOENT; /* cannot tell: keep it */
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return true;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* comm may hold spaces and ')' */
    if (!p) return true;
    unsigned long long start = 0;
    /* fields after comm (2): state is 3, ..., starttime is 22 */
    int field = 2;
    for (p++; *p && field < 22; p++)
        if (*p == ' ') field++;
    if (sscanf(p, " %llu", &start) != 1 && sscanf(p, "%llu", &start) != 1) return true;
    time_t bt = boot_time();
    long hz = sysconf(_SC_CLK_TCK);
    if (!bt || hz <= 0) return true;
    time_t started = bt + (time_t)(start / (unsigned long long)hz);
    return started <= since + 1; /* a second of slack for rounding */
}

typedef struct sweep {
    const char  *prefix;
    bool         dry_run;
    ipc_stale_fn fn;
    void        *arg;
    int          found;
} sweep;

static void report(sweep *s, const char *kind, const char *name, int pid, bool removed)
{
    s->found++;
    if (s->fn) s->fn(s->arg, kind, name, pid, removed);
}

/* Is the entry at path stale (ours, with a dead creator)?  The pid, or -1. */
static int stale_entry(const sweep *s, const char *dir, const char *leaf, struct stat *st)
{
    int pid = ipc__generated_pid(leaf, s->prefix);
    if (pid < 0) return -1;
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, leaf) >= (int)sizeof path) return -1;
    /* ours, or root's to judge: a broker's dir may be handed to its daemon
     * user (amqp chowns it to rabbitmq) */
    if (lstat(path, st) < 0 || (st->st_uid != geteuid() && geteuid() != 0)) return -1;
    return ipc__creator_alive(pid, st->st_ctime) ? -1 : pid;
}

static void sweep_shm(sweep *s)
{
    DIR *d = opendir("/dev/shm");
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        struct stat st;
        int pid = stale_entry(s, "/dev/shm", e->d_name, &st);
        if (pid < 0) continue;
        char name[NAME_MAX + 2];
        snprintf(name, sizeof name, "/%s", e->d_name);
        size_t len = strlen(name);
        if (len > 4 && strcmp(name + len - 4, ".ctl") == 0) {
            /* posix_mq's companion: its queue and doorbell go with it */
            char q[NAME_MAX + 2], bell[NAME_MAX + 8];
            snprintf(q, sizeof q, "%.*s", (int)(len - 4), name);
            snprintf(bell, sizeof bell, "%s.shut", q);
            bool rq = !s->dry_run && mq_unlink(q) == 0, rb = !s->dry_run && mq_unlink(bell) == 0;
            if (rq || s->dry_run) report(s, "mq", q, pid, rq);
            if (rb || s->dry_run) report(s, "mq", bell, pid, rb);
        }
        report(s, "shm", name, pid, !s->dry_run && shm_unlink(name) == 0);
    }
    closedir(d);
}

static void sweep_mqueue_mount(sweep *s)
{
    DIR *d = opendir("/dev/mqueue"); /* only where it is mounted */
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        struct stat st;
        int pid = stale_entry(s, "/dev/mqueue", e->d_name, &st);
        if (pid < 0) continue;
        char name[NAME_MAX + 2];
        snprintf(name, sizeof name, "/%s", e->d_name);
        report(s, "mq", name, pid, !s->dry_run && mq_unlink(name) == 0);
    }
    closedir(d);
}

static void sweep_tmp(sweep *s, const char *tmp)
{
    DIR *d = opendir(tmp);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        struct stat st;
        int pid = stale_entry(s, tmp, e->d_name, &st);
        if (pid < 0) continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", tmp, e->d_name);
        bool removed = false;
        if (!s->dry_run) {
            if (S_ISDIR(st.st_mode)) ipc__remove_tree(path); /* best effort; judged below */
            else remove(path);
            removed = lstat(path, &st) < 0 && errno == ENOENT;
        }
        report(s, "tmpdir", path, pid, removed);
    }
    closedir(d);
}

int ipc__stale_sweep(const char *prefix, bool dry_run, ipc_stale_fn fn, void *arg)
{
    if (!prefix) prefix = ipc__name_prefix();
    if (!*prefix || strchr(prefix, '/'))
        return ipc__fail(IPC_EINVAL, "stale sweep: prefix '%s' must be non-empty, without '/'", prefix);
    sweep s = { .prefix = prefix, .dry_run = dry_run, .fn = fn, .arg = arg };
    sweep_shm(&s);
    sweep_mqueue_mount(&s);
    const char *tmp = getenv("TMPDIR");
    if (tmp && *tmp && strcmp(tmp, "/tmp") != 0) sweep_tmp(&s, tmp);
    sweep_tmp(&s, "/tmp");
    return s.found;
}

int ipc__check_owner(uid_t owner, const char *what)
{
    if (owner == geteuid()) return IPC_OK;
    return ipc__fail(IPC_EINVAL, "%s belongs to uid %u, not to this process (uid %u): not attaching",
                     what, (unsigned)owner, (unsigned)geteuid());
}

static void sweep_quietly(void)
{
    const char *off = getenv("IPCPLAY_NO_STALE_SWEEP");
    if (off && *off && strcmp(off, "0") != 0) return;
    int saved = errno;
    (void)ipc__stale_sweep(NULL, false, NULL, NULL);
    errno = saved;
}

void ipc__stale_sweep_once(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sweep_quietly);
}
