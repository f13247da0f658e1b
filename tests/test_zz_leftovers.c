/*
 * test_zz_leftovers.c — runs LAST (scripts/run-tests sorts by name) and
 * checks that the whole run left nothing behind.
 *
 * Every named object the library makes starts with $IPCPLAY_NAME_PREFIX
 * (ipc__unique_name: "<prefix>.<pid>.<n>"), and scripts/run-tests sets a
 * fresh prefix per run.  So a leftover of this run is provably ours:
 *
 *   /dev/shm          shm_open objects (and sem_open's "sem.<name>")
 *   POSIX queues      /dev/mqueue is not mounted here, but the mqueue file
 *                     system can be: a child enters a private mount
 *                     namespace (unshare(CLONE_NEWNS), root only), mounts
 *                     it on a scratch dir and lists the queues of our IPC
 *                     namespace; nobody else sees that mount
 *   $TMPDIR or /tmp   fifo/socket files and mkdtemp dirs
 *   broker processes  a process named redis-server, beam.smp (a RabbitMQ
 *                     node), epmd, or chromium (test_websocket's headless
 *                     browser: its --user-data-dir is a tl_tempdir) whose
 *                     working directory (the broker's temp dir), command
 *                     line or environment (a daemonized epmd: cwd /, HOME
 *                     the node's dir) has a path component starting with
 *                     the prefix
 *
 * SysV message queues have no names (IPC_PRIVATE keys).  scripts/run-tests
 * saves /proc/sysvipc/msg before the first test; a queue is ours if it is
 * not in that snapshot, was created (ctime) after it, belongs to our uid,
 * is not being used by a live process, and is still there after a grace
 * period (other programs' queues come and go in milliseconds; a leak of a
 * finished run stays).  That is evidence, not proof, on a shared machine,
 * so SysV findings are reported with the ipcrm command, never removed; the
 * prefixed objects above are removed after being reported.
 *
 * A name matches when it starts with the prefix followed by a character
 * that is not a letter or digit ("ipct12" must not claim "ipct123.x").
 *
 * The detector is tested too: a subprocess leaks one object of every kind
 * under a different prefix, the scan must find each, then cleans them.
 *
 *   build/tests/test_zz_leftovers      (scripts/run-tests sets the prefix)
 */
#define _GNU_SOURCE
#include "testlib.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { GRACE_MS = 2000 };

/* ---- findings ----------------------------------------------------------- */

enum kind { K_SHM, K_MQ, K_TMP, K_SYSV, K_REDIS };

typedef struct finding {
    enum kind kind;
    long      id;               /* msqid or pid; -1 otherwise */
    char      path[PATH_MAX];   /* what to show / unlink      */
} finding;

typedef struct findings {
    finding v[64];
    size_t  n;
    char    unchecked[512];     /* what could not be looked at, and why */
} findings;

static void add(findings *f, enum kind kind, long id, const char *fmt, const char *a, const char *b)
{
    if (f->n == sizeof f->v / sizeof f->v[0]) return;
    finding *x = &f->v[f->n++];
    x->kind = kind;
    x->id = id;
    snprintf(x->path, sizeof x->path, fmt, a, b);
}

static void unchecked(findings *f, const char *what, const char *why)
{
    size_t used = strlen(f->unchecked);
    snprintf(f->unchecked + used, sizeof f->unchecked - used, "%s%s (%s)", used ? "; " : "", what, why);
}

static bool has_kind(const findings *f, enum kind kind, long id)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->v[i].kind == kind && (id < 0 || f->v[i].id == id)) return true;
    return false;
}

static void print_finding(const char *lead, const finding *x)
{
    switch (x->kind) {
    case K_SHM:   printf("  %s shm object   %s\n", lead, x->path); break;
    case K_MQ:    printf("  %s POSIX queue  %s\n", lead, x->path); break;
    case K_TMP:   printf("  %s temp entry   %s\n", lead, x->path); break;
    case K_SYSV:  printf("  %s SysV queue   msqid %ld (remove: ipcrm -q %ld)\n", lead, x->id, x->id); break;
    case K_REDIS: printf("  %s broker process pid %ld (%s)\n", lead, x->id, x->path); break;
    }
}

/* ---- matching names ----------------------------------------------------- */

static bool starts_with_prefix(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(name, prefix, n) == 0 && !isalnum((unsigned char)name[n]);
}

/* Does some path component in s start with the prefix? */
static bool mentions_prefix(const char *s, const char *prefix)
{
    for (const char *p = strchr(s, '/'); p; p = strchr(p + 1, '/'))
        if (starts_with_prefix(p + 1, prefix)) return true;
    return false;
}

/* ---- the places to look ------------------------------------------------- */

static void scan_dev_shm(const char *prefix, findings *f)
{
    DIR *d = opendir("/dev/shm");
    if (!d) { unchecked(f, "/dev/shm", strerror(errno)); return; }
    struct dirent *e;
    while ((e = readdir(d)))
        if (starts_with_prefix(e->d_name, prefix) ||
            (strncmp(e->d_name, "sem.", 4) == 0 && starts_with_prefix(e->d_name + 4, prefix)))
            add(f, K_SHM, -1, "/dev/shm/%s%s", e->d_name, "");
    closedir(d);
}

static const char *tmp_dir(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

static void scan_dir(const char *dir, const char *prefix, findings *f)
{
    DIR *d = opendir(dir);
    if (!d) { unchecked(f, dir, strerror(errno)); return; }
    struct dirent *e;
    while ((e = readdir(d)))
        if (starts_with_prefix(e->d_name, prefix)) add(f, K_TMP, -1, "%s/%s", dir, e->d_name);
    closedir(d);
}

/* $TMPDIR, and /tmp too: a module that ignores TMPDIR must not hide there */
static void scan_tmp(const char *prefix, findings *f)
{
    scan_dir(tmp_dir(), prefix, f);
    if (strcmp(tmp_dir(), "/tmp") != 0) scan_dir("/tmp", prefix, f);
}

/* In a child: a private mount namespace, the mqueue fs mounted on `dir`,
 * one queue name per line written to `out`. */
static int list_queues_child(const char *dir, int out)
{
    if (unshare(CLONE_NEWNS) < 0) return 10;
    /* make every mount private first, so ours cannot propagate back */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return 11;
    if (mount("mqueue", dir, "mqueue", 0, NULL) < 0) return 12;
    DIR *d = opendir(dir);
    if (!d) return 13;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        dprintf(out, "%s\n", e->d_name);
    }
    closedir(d);
    return 0; /* the namespace, and the mount, end with this process */
}

static void scan_mqueue(const char *prefix, findings *f)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/mqview.XXXXXX", tmp_dir());
    if (!mkdtemp(dir)) { unchecked(f, "POSIX queues", "mkdtemp failed"); return; }
    int p[2];
    if (pipe(p) < 0) { rmdir(dir); unchecked(f, "POSIX queues", "pipe failed"); return; }
    fflush(stdout); /* the child must not inherit (and repeat) buffered output */
    pid_t pid = tl_fork(20);
    if (pid == 0) {
        close(p[0]);
        _exit(list_queues_child(dir, p[1]));
    }
    close(p[1]);
    FILE *in = fdopen(p[0], "r");
    char line[NAME_MAX + 2];
    while (in && fgets(line, sizeof line, in)) {
        line[strcspn(line, "\n")] = '\0';
        if (starts_with_prefix(line, prefix)) add(f, K_MQ, -1, "/%s%s", line, "");
    }
    if (in) fclose(in); else close(p[0]);
    int code = tl_wait(pid, 20);
    rmdir(dir);
    if (code != 0)
        unchecked(f, "POSIX queues", code == 10 || code == 11 || code == 12
                  ? "cannot mount the mqueue fs: needs root (unshare/mount), and /dev/mqueue is not mounted"
                  : "listing failed");
}

static bool process_alive(long pid)
{
    if (pid <= 0) return false;
    char path[64], state = '?';
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *s = fopen(path, "r");
    if (!s) return false;
    /* "pid (comm) S ...": the state follows the last ')' */
    char buf[512];
    size_t n = fread(buf, 1, sizeof buf - 1, s);
    fclose(s);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    if (rp && rp[1] == ' ') state = rp[2];
    return state != 'Z' && state != 'X' && state != '?';
}

/* The brokers' server processes: redis-server, and RabbitMQ's Erlang VM
 * (beam.smp) with the epmd it starts beside it; and the browser processes
 * the websocket test starts. */
static const char *broker_comm(const char *comm)
{
    static const char *const names[] = { "redis-server", "beam.smp", "epmd", "chromium" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strncmp(comm, names[i], strlen(names[i])) == 0 && (comm[strlen(names[i])] == '\n' || !comm[strlen(names[i])]))
            return names[i];
    return NULL;
}

static void scan_redis(const char *prefix, findings *f)
{
    DIR *d = opendir("/proc");
    if (!d) { unchecked(f, "broker processes", "cannot read /proc"); return; }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0])) continue;
        char path[PATH_MAX], comm[64] = "", cwd[PATH_MAX] = "", cmd[2048] = "", env[16384] = "";
        snprintf(path, sizeof path, "/proc/%s/comm", e->d_name);
        FILE *c = fopen(path, "r");
        if (!c) continue;
        bool got = fgets(comm, sizeof comm, c) != NULL;
        fclose(c);
        const char *which = got ? broker_comm(comm) : NULL;
        if (!which) continue;
        if (!process_alive(atol(e->d_name))) continue; /* a zombie holds nothing */
        snprintf(path, sizeof path, "/proc/%s/cwd", e->d_name);
        ssize_t n = readlink(path, cwd, sizeof cwd - 1);
        cwd[n > 0 ? n : 0] = '\0';
        tl_proc_strings(e->d_name, "cmdline", cmd, sizeof cmd);
        tl_proc_strings(e->d_name, "environ", env, sizeof env);
        /* the environment too: a daemon (`epmd -daemon`, which a RabbitMQ
         * node whose epmd died starts) runs in / with a bare command line,
         * but its HOME or PWD still names the broker's temp dir */
        if (mentions_prefix(cwd, prefix) || mentions_prefix(cmd, prefix) || mentions_prefix(env, prefix)) {
            char what[80]; /* the path is cut to PATH_MAX anyway */
            snprintf(what, sizeof what, "%s, cwd", which);
            add(f, K_REDIS, atol(e->d_name), "%s %s", what, cwd);
        }
    }
    closedir(d);
}

/* ---- SysV message queues ------------------------------------------------- */

typedef struct msq { long id, ctime, lspid, lrpid; unsigned cuid; } msq;
typedef struct msq_list { msq v[512]; size_t n; time_t since; } msq_list;

static bool read_msq_table(FILE *in, msq_list *out)
{
    char line[512];
    out->n = 0;
    if (!fgets(line, sizeof line, in)) return false; /* the header */
    while (fgets(line, sizeof line, in) && out->n < sizeof out->v / sizeof out->v[0]) {
        long key, id, lspid, lrpid, stime, rtime, ctime;
        unsigned perms, uid, gid, cuid, cgid;
        unsigned long cbytes, qnum;
        if (sscanf(line, "%ld %ld %o %lu %lu %ld %ld %u %u %u %u %ld %ld %ld", &key, &id, &perms, &cbytes,
                   &qnum, &lspid, &lrpid, &uid, &gid, &cuid, &cgid, &stime, &rtime, &ctime) == 14)
            out->v[out->n++] = (msq){ .id = id, .ctime = ctime, .lspid = lspid, .lrpid = lrpid, .cuid = cuid };
    }
    return true;
}

static bool load_msqs(const char *path, msq_list *out)
{
    FILE *in = fopen(path, "r");
    if (!in) return false;
    bool ok = read_msq_table(in, out);
    struct stat st;
    if (fstat(fileno(in), &st) == 0) out->since = st.st_mtime;
    fclose(in);
    return ok;
}

static const msq *find_msq(const msq_list *l, long id)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].id == id) return &l->v[i];
    return NULL;
}

/* Take the "before" picture now (the self-test does this; the real run
 * gets it from scripts/run-tests). */
static bool snapshot_msqs(msq_list *out)
{
    bool ok = load_msqs("/proc/sysvipc/msg", out);
    out->since = time(NULL);
    return ok;
}

static void scan_sysv(const msq_list *before, int grace_ms, findings *f)
{
    static msq_list now, later;
    static bool candidate[sizeof now.v / sizeof now.v[0]];
    if (!load_msqs("/proc/sysvipc/msg", &now)) { unchecked(f, "SysV queues", "cannot read /proc/sysvipc/msg"); return; }
    bool any = false;
    for (size_t i = 0; i < now.n; i++) {
        const msq *q = &now.v[i];
        candidate[i] = !find_msq(before, q->id) && q->ctime >= before->since - 1 && q->cuid == geteuid()
                    && !process_alive(q->lspid) && !process_alive(q->lrpid);
        any |= candidate[i];
    }
    if (!any) return;
    tl_sleep_ms((unsigned)grace_ms);
    if (!load_msqs("/proc/sysvipc/msg", &later)) return;
    for (size_t i = 0; i < now.n; i++) {
        if (!candidate[i]) continue;
        const msq *q = find_msq(&later, now.v[i].id);
        if (q && q->ctime == now.v[i].ctime && !process_alive(q->lspid) && !process_alive(q->lrpid))
            add(f, K_SYSV, q->id, "msqid%s%s", "", "");
    }
}

/* ---- the whole scan, and cleaning up ------------------------------------ */

static void scan(const char *prefix, const msq_list *before, findings *f)
{
    memset(f, 0, sizeof *f);
    scan_dev_shm(prefix, f);
    scan_mqueue(prefix, f);
    scan_tmp(prefix, f);
    scan_redis(prefix, f);
    if (before) scan_sysv(before, GRACE_MS, f);
    else unchecked(f, "SysV queues", "no snapshot: IPCPLAY_SYSV_SNAPSHOT is set by scripts/run-tests");
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Stop a leaked server: SIGTERM, then SIGKILL if it lingers.  It may be a
 * child of ours (the self-test makes us its subreaper) or of nobody. */
static void stop_process(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 300; i++) {
        waitpid(pid, NULL, WNOHANG);
        if (!process_alive(pid)) return;
        if (i == 200) kill(pid, SIGKILL);
        tl_sleep_ms(10);
    }
}

/* Remove a finding.  SysV queues only when `owned` (the self-test knows
 * its own msqid; the real scan only has evidence). */
static void clean(const finding *x, bool owned)
{
    switch (x->kind) {
    case K_SHM:   unlink(x->path); break;
    case K_MQ:    mq_unlink(x->path); break;
    case K_TMP:   nftw(x->path, remove_entry, 8, FTW_DEPTH | FTW_PHYS); break;
    case K_SYSV:  if (owned) msgctl((int)x->id, IPC_RMID, NULL); break;
    case K_REDIS: stop_process((pid_t)x->id); break;
    }
}

/* ---- the tests ---------------------------------------------------------- */

static void test_run_left_nothing_behind(void **state)
{
    (void)state;
    tl_watchdog(120);
    const char *prefix = getenv("IPCPLAY_NAME_PREFIX");
    if (!prefix || !*prefix) {
        printf("  IPCPLAY_NAME_PREFIX is not set: run this through scripts/run-tests (make test)\n");
        skip();
    }
    static msq_list before;
    const char *snap = getenv("IPCPLAY_SYSV_SNAPSHOT");
    bool have_snap = snap && *snap && load_msqs(snap, &before);

    static findings f;
    scan(prefix, have_snap ? &before : NULL, &f);
    printf("  prefix '%s': %zu leftover(s)\n", prefix, f.n);
    if (f.unchecked[0]) printf("  not checked: %s\n", f.unchecked);
    for (size_t i = 0; i < f.n; i++) {
        print_finding("leftover", &f.v[i]);
        clean(&f.v[i], false); /* so the next run starts clean */
    }
    fflush(stdout); /* the list first, then cmocka's verdict on stderr */
    if (f.n) fail_msg("%zu object(s) left behind by this run (listed above; the prefixed ones were removed)", f.n);
    tl_watchdog(0);
}

static const char *redis_server(void)
{
    static char found[PATH_MAX];
    const char *path = getenv("PATH");
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", path ? path : "/usr/bin:/bin");
    for (char *save, *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        snprintf(found, sizeof found, "%s/redis-server", dir);
        if (access(found, X_OK) == 0) return found;
    }
    return NULL;
}

/* The leaking subprocess: one object of every kind under `prefix`, then exit
 * without cleaning up.  It reports the SysV msqid on `out`. */
static int leak_everything(const char *prefix, const char *redis, int out)
{
    char name[PATH_MAX + 16], dir[PATH_MAX];
    snprintf(name, sizeof name, "/%s.leak.shm", prefix);
    int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) return 1;
    close(fd);

    snprintf(name, sizeof name, "/%s.leak.mq", prefix);
    struct mq_attr a = { .mq_maxmsg = 1, .mq_msgsize = 8 };
    mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &a);
    if (q == (mqd_t)-1) return 2;
    mq_close(q);

    /* a fifo in a private temp dir, as the fifo mechanism makes them */
    snprintf(dir, sizeof dir, "%s/%s.leak.XXXXXX", tmp_dir(), prefix);
    if (!mkdtemp(dir)) return 3;
    snprintf(name, sizeof name, "%s/fifo", dir);
    if (mkfifo(name, 0600) < 0) return 3;

    int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (id < 0) return 4;
    dprintf(out, "%d\n", id);

    if (redis) { /* an embedded broker nobody stopped */
        pid_t pid = fork();
        if (pid < 0) return 5;
        if (pid == 0) {
            close(out);
            int null = open("/dev/null", O_RDWR);
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
            snprintf(name, sizeof name, "%s/redis.sock", dir);
            execl(redis, "redis-server", "--port", "0", "--unixsocket", name, "--dir", dir,
                  "--save", "", "--appendonly", "no", "--daemonize", "no", (char *)NULL);
            _exit(127);
        }
    }
    /* A RabbitMQ node and its epmd nobody stopped.  The detector goes by
     * process name, working directory and environment, so a link named
     * beam.smp (or epmd) to sleep stands in for each: the node runs in the
     * leaked dir; the epmd, as the `epmd -daemon` a booting node starts
     * when its own epmd is gone, runs in / with HOME naming the dir. */
    static const char *const fakes[] = { "beam.smp", "epmd" };
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "%s/%s", dir, fakes[i]);
        if (symlink("/bin/sleep", name) < 0) return 6;
        char home[PATH_MAX + 8];
        snprintf(home, sizeof home, "HOME=%s", dir);
        char *const env[] = { home, NULL };
        pid_t pid = fork();
        if (pid < 0) return 6;
        if (pid == 0) {
            close(out);
            if (chdir(i == 0 ? dir : "/") < 0) _exit(127);
            execle(name, fakes[i], "60", (char *)NULL, env);
            _exit(127);
        }
    }
    return 0; /* ...and nothing is released: that is the leak */
}

static void test_detector_finds_a_deliberate_leak(void **state)
{
    (void)state;
    tl_watchdog(60);
    /* A prefix of our own, unrelated to the run's: nothing else uses it. */
    char prefix[64];
    snprintf(prefix, sizeof prefix, "ipczz%ld", (long)getpid());
    const char *redis = redis_server();
    /* the orphaned redis-server is re-parented to us, so we can reap it */
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);

    static msq_list before;
    assert_true(snapshot_msqs(&before));
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = tl_fork(20);
    if (pid == 0) {
        close(p[0]);
        _exit(leak_everything(prefix, redis, p[1]));
    }
    close(p[1]);
    char line[32] = "";
    ssize_t n = read(p[0], line, sizeof line - 1);
    close(p[0]);
    assert_int_equal(tl_wait(pid, 20), 0);
    long msqid = n > 0 ? atol(line) : -1;
    assert_true(msqid >= 0);

    static findings f;
    for (int tries = 0;; tries++) { /* redis-server chdirs to --dir as it starts */
        scan(prefix, &before, &f);
        size_t procs = 0;
        for (size_t i = 0; i < f.n; i++) procs += f.v[i].kind == K_REDIS;
        if (procs >= (redis ? 3u : 2u) || tries == 50) break;
        tl_sleep_ms(100);
    }
    if (f.unchecked[0]) printf("  not checked: %s\n", f.unchecked);
    for (size_t i = 0; i < f.n; i++) print_finding("deliberate leak found:", &f.v[i]);

    bool saw_shm = has_kind(&f, K_SHM, -1), saw_tmp = has_kind(&f, K_TMP, -1);
    bool saw_mq = has_kind(&f, K_MQ, -1), saw_sysv = has_kind(&f, K_SYSV, msqid);
    bool saw_redis = false, saw_beam = false, saw_epmd = false;
    for (size_t i = 0; i < f.n; i++)
        if (f.v[i].kind == K_REDIS) {
            saw_redis |= strncmp(f.v[i].path, "redis-server,", 13) == 0;
            saw_beam |= strncmp(f.v[i].path, "beam.smp,", 9) == 0;
            saw_epmd |= strncmp(f.v[i].path, "epmd,", 5) == 0;
        }
    bool mq_listable = !strstr(f.unchecked, "POSIX queues");
    /* clean only what the leaker made (other SysV queues may be live ones) */
    for (size_t i = 0; i < f.n; i++)
        if (f.v[i].kind != K_SYSV || f.v[i].id == msqid) clean(&f.v[i], true);
    if (!mq_listable) { /* we could not see it, but we know its name */
        char name[128];
        snprintf(name, sizeof name, "/%s.leak.mq", prefix);
        mq_unlink(name);
    }
    if (!saw_sysv && msqid >= 0) msgctl((int)msqid, IPC_RMID, NULL);
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
    prctl(PR_SET_CHILD_SUBREAPER, 0);

    assert_true(saw_shm);
    assert_true(saw_tmp);
    if (mq_listable) assert_true(saw_mq);
    else printf("  POSIX queue check unavailable here: %s\n", f.unchecked);
    assert_true(saw_sysv);
    if (redis) assert_true(saw_redis);
    else printf("  redis-server not installed: its part of the detector is untested\n");
    assert_true(saw_beam);
    assert_true(saw_epmd);

    /* and after cleaning, the same scan is quiet */
    scan(prefix, NULL, &f);
    for (size_t i = 0; i < f.n; i++) print_finding("not cleaned:", &f.v[i]);
    assert_int_equal(f.n, 0);
    assert_int_equal(msgctl((int)msqid, IPC_STAT, &(struct msqid_ds){ 0 }), -1);
    tl_watchdog(0);
}

static void test_prefix_matching(void **state)
{
    (void)state;
    assert_true(starts_with_prefix("ipct12.3.4", "ipct12"));
    assert_true(starts_with_prefix("ipct12", "ipct12"));
    assert_false(starts_with_prefix("ipct123.3.4", "ipct12")); /* another run */
    assert_false(starts_with_prefix("xipct12.3", "ipct12"));
    assert_true(mentions_prefix("/tmp/ipct12.9.0.AbCdEf/redis.sock", "ipct12"));
    assert_false(mentions_prefix("/tmp/ipct123.9.0/redis.sock", "ipct12"));
    assert_false(mentions_prefix("redis-server *:0", "ipct12"));
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_matching),
        cmocka_unit_test(test_detector_finds_a_deliberate_leak),
        cmocka_unit_test(test_run_left_nothing_behind),
    };
    return cmocka_run_group_tests_name("leftovers", tests, NULL, NULL);
}
