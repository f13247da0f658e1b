/*
 * test_course.c — the course keeps its promises.
 *
 * Exercises: every exercise's solution passes its own check, every
 * starter builds and does NOT pass (so the check really checks what the
 * student must write), and every starter.c is what scripts/make-starters
 * derives from its solution.c (one source of truth).
 *
 * An exercise is a directory exercises/NN_name/ with solution.c and
 * starter.c; both are built into $OUT/exercises/NN_name/.  The programs
 * print PASS or FAIL as their last line and exit 0 or 1.  The directory is
 * found like the demos': $IPCPLAY_EXERCISES_DIR, else ../exercises next to
 * this program.  The source tree is the current directory (make test runs
 * from the top of the checkout).
 *
 * Documents: scripts/check-course finds no broken link or anchor, every
 * chapter of TUTORIAL.md has its learning goals, prerequisites, exercises
 * and answers, no maintainer detail sits in the student text, and every
 * demo and exercise is taught somewhere.
 *
 *   build/tests/test_course
 */
#define _GNU_SOURCE
#include "testlib.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { TIME_LIMIT_S = 60, MAX_EX = 64 };

static char ex_dir[PATH_MAX];
static char names[MAX_EX][NAME_MAX + 1];
static size_t count;

static int run(char *const argv[], char **out) { return tl_run(argv, TIME_LIMIT_S, out); }

/* The last non-empty line of s (in place). */
static const char *last_line(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '\n') s[--n] = '\0';
    char *nl = strrchr(s, '\n');
    return nl ? nl + 1 : s;
}

static void program(const char *name, const char *which, char *path, size_t size)
{
    int n = snprintf(path, size, "%s/%s/%s", ex_dir, name, which);
    if (n < 0 || (size_t)n >= size) fail_msg("path too long");
    if (access(path, X_OK) != 0) fail_msg("%s is not built (make exercises)", path);
}

/* Run argv; it must exit with want_code and, when want_last is given, end
 * with a line starting with it.  `what` names the promise in the failure. */
static void expect_run(char *const argv[], int want_code, const char *want_last, const char *what)
{
    tl_watchdog(TIME_LIMIT_S + 15);
    char *out;
    int code = run(argv, &out);
    const char *last = last_line(out);
    if (code != want_code || (want_last && strncmp(last, want_last, strlen(want_last)) != 0)) {
        print_error("---- %s (exit %d) ----\n%s\n---- end ----\n", argv[0], code, out);
        free(out);
        fail_msg("%s", what);
    }
    free(out);
    tl_watchdog(0);
}

/* The solution prints PASS and exits 0. */
static void test_solution(void **state)
{
    char path[PATH_MAX];
    program(*state, "solution", path, sizeof path);
    expect_run((char *const[]){ path, NULL }, 0, "PASS", "the solution does not pass");
}

/* The starter builds, runs to its end and says FAIL: its TODOs matter. */
static void test_starter(void **state)
{
    char path[PATH_MAX];
    program(*state, "starter", path, sizeof path);
    expect_run((char *const[]){ path, NULL }, 1, "FAIL", "the unfinished starter should say FAIL and exit 1");
}

/* Scripts that check the course's sources; skipped outside the tree. */
static void script_passes(const char *script, const char *arg, const char *what)
{
    if (access(script, X_OK) != 0) {
        print_message("not run from the top of the source tree: skipped\n");
        skip();
    }
    expect_run((char *const[]){ (char *)script, (char *)arg, NULL }, 0, NULL, what);
}

/* starter.c is exactly what scripts/make-starters makes of solution.c. */
static void test_starters_in_sync(void **state)
{
    (void)state;
    script_passes("scripts/make-starters", "--check", "a starter.c is out of date: run scripts/make-starters");
}

/* scripts/check-course passes (it prints each problem it finds). */
static void test_course_documents(void **state)
{
    (void)state;
    script_passes("scripts/check-course", NULL, "the course documents have problems (see above)");
}

static int by_name(const void *a, const void *b) { return strcmp(a, b); }

int main(int argc, char **argv)
{
    (void)argc;
    const char *env = getenv("IPCPLAY_EXERCISES_DIR");
    if (env && *env) {
        snprintf(ex_dir, sizeof ex_dir, "%s", env);
    } else {
        char self[PATH_MAX];
        snprintf(self, sizeof self, "%s", argv[0]);
        snprintf(ex_dir, sizeof ex_dir, "%s/../exercises", dirname(self));
    }
    DIR *d = opendir(ex_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) && count < MAX_EX)
            if (e->d_name[0] >= '0' && e->d_name[0] <= '9') snprintf(names[count++], sizeof names[0], "%s", e->d_name);
        closedir(d);
    }
    qsort(names, count, sizeof names[0], by_name);

    struct CMUnitTest tests[2 * MAX_EX + 2];
    char labels[2 * MAX_EX][NAME_MAX + 16];
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        snprintf(labels[n], sizeof labels[n], "%s/solution", names[i]);
        tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(test_solution, names[i]);
        tests[n].name = labels[n];
        n++;
        snprintf(labels[n], sizeof labels[n], "%s/starter", names[i]);
        tests[n] = (struct CMUnitTest)cmocka_unit_test_prestate(test_starter, names[i]);
        tests[n].name = labels[n];
        n++;
    }
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_starters_in_sync);
    tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_course_documents);
    if (count == 0) fprintf(stderr, "no exercises found in %s\n", ex_dir);
    return _cmocka_run_group_tests("course", tests, n, NULL, NULL) || count == 0;
}
