/*
 * test_fuzz_smoke.c — every libFuzzer target (tests/fuzz/<target>.c, built
 * into $IPCPLAY_FUZZ_DIR, default build/fuzz) runs for a few seconds from its
 * seed corpus and finds nothing.  The real campaign, 10^7 executions each,
 * is `make fuzz`; this only proves each target builds, runs its corpus and
 * survives a short mutation run.  New inputs go to a temporary directory, so
 * the corpus in the repo is never touched.  Without clang the targets are
 * not built: the case then skips, saying so.
 */
#define _GNU_SOURCE
#include "testlib.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A target named <broker>_* is not built when that broker is left out
 * (make BROKERS=...): the Makefile filters it the same way. */
static bool broker_left_out(const char *target)
{
    static const struct { const char *prefix; bool on; } brokers[] = {
#ifdef IPC_WITH_ZMQ
        { "zmq_", true },
#else
        { "zmq_", false },
#endif
#ifdef IPC_WITH_REDIS
        { "redis_", true },
#else
        { "redis_", false },
#endif
#ifdef IPC_WITH_WEBSOCKET
        { "websocket_", true },
#else
        { "websocket_", false },
#endif
#ifdef IPC_WITH_AMQP
        { "amqp_", true },
#else
        { "amqp_", false },
#endif
    };
    for (size_t i = 0; i < sizeof brokers / sizeof brokers[0]; i++)
        if (strncmp(target, brokers[i].prefix, strlen(brokers[i].prefix)) == 0) return !brokers[i].on;
    return false;
}

static void test_every_fuzz_target_survives_a_short_run(void **state)
{
    (void)state;
    const char *dir = getenv("IPCPLAY_FUZZ_DIR");
    if (!dir || !*dir) dir = "build/fuzz";
    DIR *src = opendir("tests/fuzz");
    assert_non_null(src);
    int ran = 0, missing = 0;
    struct dirent *e;
    while ((e = readdir(src))) {
        size_t n = strlen(e->d_name);
        if (n < 3 || strcmp(e->d_name + n - 2, ".c")) continue;
        char target[256], bin[512], corpus[512], work[512], log[600];
        snprintf(target, sizeof target, "%.*s", (int)(n - 2), e->d_name);
        snprintf(bin, sizeof bin, "%s/%s", dir, target);
        snprintf(corpus, sizeof corpus, "tests/fuzz/%s/corpus", target);
        if (access(bin, X_OK) != 0) {
            if (!broker_left_out(target)) missing++;
            continue;
        }
        tl_tempdir(work, sizeof work, "fuzz");
        snprintf(log, sizeof log, "%s/log", work);
        pid_t pid = tl_fork(60);
        if (pid == 0) {
            int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(127);
            char artifacts[600];
            snprintf(artifacts, sizeof artifacts, "-artifact_prefix=%s/", work);
            execl(bin, bin, "-max_total_time=3", "-seed=1", artifacts, work, corpus, (char *)NULL);
            _exit(127);
        }
        int status = tl_wait(pid, 60);
        if (status) {
            char cmd[700];
            snprintf(cmd, sizeof cmd, "tail -n 25 '%s'", log);
            if (system(cmd) < 0) {}
        }
        char rm[600];
        snprintf(rm, sizeof rm, "rm -rf '%s'", work);
        if (system(rm) != 0) {}
        if (status) fail_msg("fuzz target %s failed its smoke run (exit %d)", target, status);
        ran++;
    }
    closedir(src);
    if (ran == 0) {
        printf("no fuzz target is built in %s (clang missing?): %d skipped\n", dir, missing);
        skip();
    }
    if (missing) fail_msg("%d fuzz target(s) not built in %s", missing, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TL_CASE(test_every_fuzz_target_survives_a_short_run),
    };
    return cmocka_run_group_tests_name("fuzz_smoke", tests, NULL, NULL);
}
