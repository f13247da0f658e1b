/*
 * demo.h — the few helpers every demo shares (the role tlpi_hdr.h and
 * error_functions.c play in TLPI's examples), so that each demo file can be
 * read top to bottom as the lesson itself.
 *
 *   demo_start(argc, argv, usage)   for a demo that takes no arguments:
 *                                   --help / -h prints usage and exits 0,
 *                                   anything else is an error (exit 2);
 *                                   stdout becomes line-buffered so lines
 *                                   are not printed twice after fork()
 *   demo_start_opts(argc, argv, usage, flags)
 *                                   the same, accepting the listed flags
 *                                   (a NULL-terminated array; read them with
 *                                   demo_flag)
 *   demo_list(arg, out, max)        split a comma-separated list in place
 *                                   ("pipe,shm" -> 2 items), as ipcbench does
 *   demo_ok(rc, "what")             an ipc_* result: on failure print
 *                                   ipc_strerror + ipc_last_error, exit 1
 *   demo_sys(ret, "what")           a system call returning -1 + errno
 *   demo_pthread(err, "what")       a pthread call (returns the error
 *                                   number, does not set errno)
 *   demo_fork()                     fork() or exit
 *   demo_reap(pid, "who")           waitpid and insist on exit status 0
 *   demo_sleep_ms(ms)               nanosleep, restarted on EINTR
 *
 * All are static inline: a demo that does not use one pays nothing.
 */
#ifndef IPCPLAY_DEMO_H
#define IPCPLAY_DEMO_H

#include "ipc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Shared by demo_start and demo_start_opts: --help prints usage, and an
 * argument not in `accepted` (NULL = none) is refused rather than ignored, so
 * a typo such as --manaul never silently runs the default mode. */
static inline void demo_start_opts(int argc, char **argv, const char *usage,
                                   const char *const *accepted)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("%s", usage);
            exit(0);
        }
    }
    for (int i = 1; i < argc; i++) {
        int known = 0;
        for (const char *const *a = accepted; a && *a && !known; a++)
            known = strcmp(argv[i], *a) == 0;
        if (!known) {
            fprintf(stderr, "%s: unknown argument '%s'\n%s", argv[0], argv[i], usage);
            exit(2);
        }
    }
}

static inline void demo_start(int argc, char **argv, const char *usage)
{
    demo_start_opts(argc, argv, usage, NULL);
}

/* Split a comma-separated list in place into at most max items; returns how
 * many.  Empty items ("pipe,,shm") are skipped. */
static inline int demo_list(char *arg, const char **out, int max)
{
    int n = 0;
    while (arg && n < max) {
        char *comma = strchr(arg, ',');
        if (comma) *comma = '\0';
        if (*arg) out[n++] = arg;
        arg = comma ? comma + 1 : NULL;
    }
    return n;
}

/* True if argv holds the option (demos take at most a flag or two). */
static inline int demo_flag(int argc, char **argv, const char *flag)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], flag) == 0) return 1;
    return 0;
}

static inline int demo_ok(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "[%d] %s: %s (%s)\n", (int)getpid(), what, ipc_strerror(rc), ipc_last_error());
        exit(1);
    }
    return rc;
}

static inline int demo_sys(int ret, const char *what)
{
    if (ret == -1) {
        fprintf(stderr, "[%d] %s: %s\n", (int)getpid(), what, strerror(errno));
        exit(1);
    }
    return ret;
}

static inline void demo_pthread(int err, const char *what)
{
    if (err != 0) {
        fprintf(stderr, "%s: %s\n", what, strerror(err));
        exit(1);
    }
}

static inline pid_t demo_fork(void)
{
    fflush(NULL); /* nothing buffered may be inherited and printed twice */
    return demo_sys(fork(), "fork");
}

/* Wait for pid; returns its raw status after checking it exited with 0. */
static inline int demo_reap(pid_t pid, const char *who)
{
    int status;
    while (waitpid(pid, &status, 0) == -1) {
        if (errno != EINTR) demo_sys(-1, "waitpid");
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return status;
    if (WIFSIGNALED(status))
        fprintf(stderr, "%s (pid %d) was killed by signal %d (%s)\n", who, (int)pid,
                WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        fprintf(stderr, "%s (pid %d) exited with status %d\n", who, (int)pid, WEXITSTATUS(status));
    exit(1);
}

/* A name for a named object: "/<prefix>.<pid>.<what>", where the prefix is
 * $IPCPLAY_NAME_PREFIX or "ipcplay" — the library's convention, so the test
 * runner can check that a demo left nothing behind. */
static inline void demo_name(char *buf, size_t size, const char *what)
{
    const char *prefix = getenv("IPCPLAY_NAME_PREFIX");
    int n = snprintf(buf, size, "/%s.%d.%s", prefix && *prefix ? prefix : "ipcplay", (int)getpid(), what);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "name for %s does not fit in %zu bytes\n", what, size);
        exit(1);
    }
}

static inline void demo_sleep_ms(long ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

#endif
