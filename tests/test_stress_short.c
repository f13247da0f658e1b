/*
 * test_stress_short.c — the seconds-long version of `make stress` (issue 12):
 * runs build/ipcstress --short (kill storm with 8 SIGKILLs per cross-process
 * MPMC mechanism, the same with the creator killed halfway, 4x4 soak of 500
 * messages per producer as threads and processes, descriptor limit 64, 100
 * channels of every in-process mechanism, /dev/shm a 1 MiB tmpfs in a
 * private mount namespace (root), RLIMIT_MSGQUEUE 4096) and fails unless
 * every check held: 0 lost beyond the allowance (one per killed consumer;
 * what a creator's death took, where the API reported it and the mechanism
 * does not claim IPC_CAP_PERSISTENT), 0 duplicated, 0 hung, 0 corrupt,
 * every open under a limit either works or fails with an error code (never
 * a crash), nothing left in /dev/shm, /dev/mqueue, SysV or temp dirs.  Its
 * report is printed as it runs.  The guarantees: docs/reliability.md.
 */
#define _GNU_SOURCE
#include "testlib.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_stress[PATH_MAX];

static void test_stress_short_campaigns_hold(void **state)
{
    (void)state;
    if (access(g_stress, X_OK) != 0) fail_msg("%s is not built (make build-tests builds it)", g_stress);
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "%s --short 2>&1", g_stress);
    fflush(stdout);
    int st = system(cmd);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("ipcstress --short failed (status %d): see its report above", st);
}

int main(int argc, char **argv)
{
    (void)argc;
    char self[PATH_MAX];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(g_stress, sizeof g_stress, "%s/../ipcstress", dirname(self));
    const struct CMUnitTest tests[] = {
        TL_CASE(test_stress_short_campaigns_hold),
    };
    return cmocka_run_group_tests_name("stress_short", tests, NULL, NULL);
}
