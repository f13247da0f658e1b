/*
 * context.c — what a result file must say about the machine and the build,
 * so that two result files can be compared (and a surprising one explained).
 *
 * Every entry lands in the "context" object of ipcbench's JSON (Google
 * Benchmark already puts host_name, num_cpus, mhz_per_cpu, load_avg at the
 * start of the run and library_build_type there); the report and compare
 * tools print them.  Keys, all under "ipcbench.":
 *
 *   cpu_model        /proc/cpuinfo "model name" (first CPU)
 *   cores            online CPUs, and how many this process may run on
 *   kernel           uname: sysname release machine
 *   virtualization   the cpuinfo "hypervisor" flag, and systemd-detect-virt's
 *                    answer when that program exists
 *   cpuidle          cpuidle driver/governor, and haltpoll's guest_halt_poll_ns
 *                    (a guest that polls before halting wakes faster)
 *   governor         cpufreq scaling governor of CPU 0 ("none" without cpufreq)
 *   load_before      /proc/loadavg before the first benchmark (1, 5, 15 min)
 *   commit           `git describe --always --dirty` of the source tree the
 *                    executable was built from, when git and the tree exist
 *   compiler, cflags, build_type    how ipcbench itself was compiled
 *   gbench_library   Google Benchmark's library build type, and what it means
 *
 * Failure analysis: every probe is best effort.  A file that is missing (no
 * cpufreq in a VM, no cpuidle in a container) is recorded as "none" or
 * "unknown", never as an error: the benchmarks still run.  Nothing here
 * runs inside a measured section.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#ifndef IPCBENCH_CFLAGS
#define IPCBENCH_CFLAGS "unknown"
#endif
#ifndef IPCBENCH_BUILD
#define IPCBENCH_BUILD "unknown"
#endif

/* The first line of a file, without its newline, or "" (false). */
static bool read_line(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return false;
    bool ok = fgets(buf, (int)size, f) != NULL;
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return ok && buf[0];
}

/* The value of the first "key<tabs>: value" line of /proc/cpuinfo, or
 * whether a word occurs in its "flags" line (word != NULL). */
static bool cpuinfo(const char *key, const char *word, char *buf, size_t size)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, strlen(key)) != 0) continue;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        colon += 1 + (colon[1] == ' ');
        colon[strcspn(colon, "\n")] = '\0';
        if (word) {
            size_t n = strlen(word);
            for (char *p = colon; (p = strstr(p, word)) != NULL; p += n)
                if ((p == colon || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) found = true;
            break; /* the first CPU's flags stand for all */
        }
        snprintf(buf, size, "%s", colon);
        found = true;
    }
    fclose(f);
    return found;
}

/* Run argv with stdout into buf (first line); false if it cannot run or
 * exits non-zero.  stderr goes to /dev/null. */
static bool command_line(char *const argv[], char *buf, size_t size)
{
    buf[0] = '\0';
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) return false;
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) {
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (err) {
        close(fds[0]);
        return false;
    }
    size_t n = 0;
    for (;;) {
        ssize_t k = read(fds[0], buf + n, size - 1 - n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        n += (size_t)k;
        if (n == size - 1) break;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && buf[0];
}

/* The source tree: the directory above the executable holding
 * bench/context.c (build/ipcbench -> .), or "" */
static bool source_dir(char *dir, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", dir, size - 1);
    if (n <= 0) return false;
    dir[n] = '\0';
    for (int up = 0; up < 5; up++) {
        char *slash = strrchr(dir, '/');
        if (!slash) break;
        *slash = '\0';
        char probe[PATH_MAX + 32];
        snprintf(probe, sizeof probe, "%s/bench/context.c", dir);
        if (access(probe, R_OK) == 0) return true;
    }
    return false;
}

/* Every entry is kept here too, for a result file Google Benchmark does not
 * write (a --benchmark_filter that selects Python rows only). */
static struct { char *key, *value; } *kept;
static size_t nkept;

void bench_context_set(const char *key, const char *value)
{
    gb_add_context(key, value);
    bench_context_keep(key, value);
}

void bench_context_keep(const char *key, const char *value)
{
    void *grown = realloc(kept, (nkept + 1) * sizeof *kept);
    if (!grown) return; /* the JSON of Google Benchmark still has it */
    kept = grown;
    kept[nkept].key = strdup(key);
    kept[nkept].value = strdup(value);
    if (kept[nkept].key && kept[nkept].value) nkept++;
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", (unsigned char)*s);
        else fputc(*s, f);
    }
    fputc('"', f);
}

void bench_context_write(FILE *f)
{
    fputs("{", f);
    for (size_t i = 0; i < nkept; i++) {
        fputs(i ? ",\n    " : "\n    ", f);
        json_string(f, kept[i].key);
        fputs(": ", f);
        json_string(f, kept[i].value);
    }
    fputs("\n  }", f);
}

static void add(const char *key, const char *value)
{
    char k[96];
    snprintf(k, sizeof k, "ipcbench.%s", key);
    bench_context_set(k, value && value[0] ? value : "unknown");
}

void bench_context_add(void)
{
    char buf[512], more[256], v[1024];

    add("cpu_model", cpuinfo("model name", NULL, buf, sizeof buf) ? buf : "unknown");

    cpu_set_t set;
    int allowed = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : -1;
    snprintf(v, sizeof v, "%ld online, %d this process may use", sysconf(_SC_NPROCESSORS_ONLN), allowed);
    add("cores", v);

    struct utsname u;
    if (uname(&u) == 0) snprintf(v, sizeof v, "%s %s %s", u.sysname, u.release, u.machine);
    else snprintf(v, sizeof v, "unknown");
    add("kernel", v);

    bool hv = cpuinfo("flags", "hypervisor", NULL, 0);
    char *detect[] = { "systemd-detect-virt", NULL };
    /* systemd-detect-virt prints "none" and exits 1 on bare metal */
    bool ran = command_line(detect, buf, sizeof buf);
    snprintf(v, sizeof v, "cpuinfo hypervisor flag: %s; systemd-detect-virt: %s", hv ? "yes" : "no",
             ran ? buf : buf[0] ? buf : "not available");
    add("virtualization", v);

    char drv[128], gov[128];
    if (!read_line("/sys/devices/system/cpu/cpuidle/current_driver", drv, sizeof drv)) snprintf(drv, sizeof drv, "none");
    if (!read_line("/sys/devices/system/cpu/cpuidle/current_governor_ro", gov, sizeof gov) &&
        !read_line("/sys/devices/system/cpu/cpuidle/current_governor", gov, sizeof gov))
        snprintf(gov, sizeof gov, "none");
    if (!read_line("/sys/module/haltpoll/parameters/guest_halt_poll_ns", more, sizeof more))
        snprintf(more, sizeof more, "not loaded");
    snprintf(v, sizeof v, "driver %s, governor %s; haltpoll guest_halt_poll_ns %s", drv, gov, more);
    add("cpuidle", v);

    if (!read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", buf, sizeof buf))
        snprintf(buf, sizeof buf, "none (no cpufreq)");
    add("governor", buf);

    if (read_line("/proc/loadavg", buf, sizeof buf)) {
        /* "0.52 0.58 0.59 1/123 4567": the three averages */
        char *p = buf;
        for (int sp = 0; *p && sp < 3; p++) sp += *p == ' ';
        if (*p) p[-1] = '\0';
    }
    add("load_before", buf);

    char dir[PATH_MAX];
    bool have_git = false;
    if (source_dir(dir, sizeof dir)) {
        char *git[] = { "git", "-C", dir, "describe", "--always", "--dirty", NULL };
        have_git = command_line(git, buf, sizeof buf);
    }
    add("commit", have_git ? buf : "unknown (no git tree beside the executable)");

#ifdef __clang__
    add("compiler", "clang " __clang_version__);
#else
    add("compiler", "gcc " __VERSION__);
#endif
    add("cflags", IPCBENCH_CFLAGS);
    add("build_type", IPCBENCH_BUILD);
}
