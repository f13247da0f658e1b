/*
 * ipcplay-clean — remove the names that killed ipcplay programs left behind.
 *
 * Every name ipcplay generates says which process made it
 * ("<prefix>.<pid>.<n>"): shm segments and named events in /dev/shm, POSIX
 * queues (with their ".ctl" and ".shut" companions), the private temp dirs
 * of fifo, unix, zmq and redis channels.  A name whose process is gone
 * (or whose pid was reused by a younger process) is stale; this removes the
 * stale names of one prefix, owned by you.  Names of live processes, names
 * you chose yourself (cfg.name) and other users' names are never touched.
 * ipc_open does the same once per process; this is the command for a
 * shell, a cron job or `make clean-ipc`.
 *
 * Usage: ipcplay-clean [-n|--dry-run] [-p|--prefix PREFIX] [-q|--quiet] [-h|--help]
 *   -n, --dry-run   list what would be removed, remove nothing
 *   -p, --prefix    the name prefix (default: $IPCPLAY_NAME_PREFIX or "ipcplay")
 *   -q, --quiet     print only errors
 * Exit status: 0 done (whether or not anything was stale), 1 something
 * stale could not be removed, 2 bad usage.
 */
#define _GNU_SOURCE
#include "core/stale.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *to)
{
    fputs("usage: ipcplay-clean [-n|--dry-run] [-p|--prefix PREFIX] [-q|--quiet] [-h|--help]\n"
          "Remove the shm segments, POSIX queues and temp dirs that ipcplay programs\n"
          "killed before ipc_free left behind: names \"<prefix>.<pid>.<n>...\" whose\n"
          "process is gone, owned by you.\n"
          "  -n, --dry-run   list them, remove nothing\n"
          "  -p, --prefix    name prefix (default: $IPCPLAY_NAME_PREFIX or \"ipcplay\")\n"
          "  -q, --quiet     print only errors\n", to);
}

struct tally { bool quiet, dry_run; int failed; };

static void show(void *arg, const char *kind, const char *name, int pid, bool removed)
{
    struct tally *t = arg;
    if (!t->dry_run && !removed) {
        t->failed++;
        fprintf(stderr, "ipcplay-clean: could not remove %s %s (creator pid %d): %s\n", kind, name, pid,
                strerror(errno));
        return;
    }
    if (!t->quiet)
        printf("%s %-6s %s (creator pid %d gone)\n", t->dry_run ? "stale  " : "removed", kind, name, pid);
}

int main(int argc, char **argv)
{
    struct tally t = { 0 };
    const char *prefix = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--dry-run")) t.dry_run = true;
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) t.quiet = true;
        else if ((!strcmp(a, "-p") || !strcmp(a, "--prefix")) && i + 1 < argc) prefix = argv[++i];
        else {
            fprintf(stderr, "ipcplay-clean: unknown or incomplete argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    int n = ipc__stale_sweep(prefix, t.dry_run, show, &t);
    if (n < 0) {
        fprintf(stderr, "ipcplay-clean: %s\n", ipc_last_error());
        return 2;
    }
    if (!t.quiet)
        printf("%d stale name%s %s\n", n, n == 1 ? "" : "s", t.dry_run ? "found (dry run)" : "handled");
    return t.failed ? 1 : 0;
}
