/*
 * test_bench.c — the benchmark harness's plumbing, never its timings.
 *
 *   shim     a C benchmark registered through bench/gbench_shim.h runs, gets
 *            its user pointer and argument, and its counters, items/s and
 *            label land in Google Benchmark's JSON; a filter matching
 *            nothing answers 0; a callback that returns without looping is
 *            reported as an error instead of aborting the program.
 *   report   ipcbench on a tiny run (two mechanisms, one size, one
 *            placement, with raw and Python baselines), then bench/report.py
 *            on its JSON: the table, the CSV files and (with gnuplot) the
 *            charts exist, and every ratio in results.csv is the one computed
 *            from the figures next to it — cost_vs_raw from the raw lane,
 *            speedup_vs_python from the Python row of the same placement.
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "gbench_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[1024]; /* short: paths are built inside it */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0, k;
    char *buf = malloc(cap);
    while (buf && (k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (n + 1 == cap) {
            char *g = realloc(buf, cap *= 2);
            if (!g) { free(buf); buf = NULL; }
            buf = g;
        }
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    return buf;
}

/* The number after `"key": ` following `after` in a JSON text, or NAN. */
static double json_number(const char *json, const char *after, const char *key)
{
    const char *p = strstr(json, after);
    if (!p) return NAN;
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    p = strstr(p, pat);
    return p ? strtod(p + strlen(pat), NULL) : NAN;
}

/* ---- the shim ---------------------------------------------------------- */

typedef struct probe {
    int     calls;
    int64_t arg0, arg1;
} probe;

static void bm_answer(gb_state *st, void *user)
{
    probe *p = user;
    p->calls++;
    while (gb_keep_running(st)) {}
    gb_counter(st, "answer", 42, GB_COUNTER_PLAIN);
    gb_set_items_processed(st, gb_iterations(st));
    gb_set_label(st, "hello from C");
}

static void bm_with_arg(gb_state *st, void *user)
{
    probe *p = user;
    p->arg0 = gb_range(st, 0);
    p->arg1 = gb_range(st, 1); /* never given: the shim must answer 0 */
    while (gb_keep_running_batch(st, 10)) gb_set_iteration_time(st, 1e-6);
}

static void bm_returns_early(gb_state *st, void *user)
{
    (void)st, (void)user;
}

static void shim_runs_c_benchmarks(void **state)
{
    (void)state;
    tl_watchdog(60);
    char out[PATH_MAX + 32], json[PATH_MAX];
    snprintf(json, sizeof json, "%s/shim.json", tmpdir);
    snprintf(out, sizeof out, "--benchmark_out=%s", json);
    char *argv[] = { "test_bench", out, "--benchmark_out_format=json", "--benchmark_min_time=0.001", NULL };
    int argc = 4;
    gb_initialize(&argc, argv);
    assert_false(gb_report_unrecognized(argc, argv));
    gb_add_context("test.context", "present");

    probe answer = { 0 }, with_arg = { 0 }, early = { 0 };
    assert_non_null(gb_bench_use_real_time(gb_register("shim/answer", bm_answer, &answer)));
    assert_non_null(gb_bench_use_manual_time(gb_bench_arg(gb_register("shim/arg", bm_with_arg, &with_arg), 7)));
    assert_non_null(gb_register("shim/early", bm_returns_early, &early));

    assert_int_equal(gb_run("^shim/"), 3);
    assert_true(answer.calls >= 1);
    assert_int_equal(with_arg.arg0, 7);
    assert_int_equal(with_arg.arg1, 0);
    char *text = slurp(json); /* before the next run, which rewrites the file */
    assert_int_equal(gb_run("^no-such-benchmark$"), 0); /* 0 = nothing matched: an error */
    gb_shutdown();

    assert_non_null(text);
    assert_non_null(strstr(text, "\"test.context\": \"present\""));
    assert_true(json_number(text, "\"name\": \"shim/answer", "answer") == 42.0);
    assert_true(json_number(text, "\"name\": \"shim/answer", "items_per_second") > 0);
    assert_non_null(strstr(text, "\"label\": \"hello from C\""));
    assert_non_null(strstr(text, "\"name\": \"shim/arg/7/manual_time\""));
    assert_non_null(strstr(text, "benchmark returned before its loop finished"));
    free(text);
}

/* ---- ipcbench + report.py on a tiny run --------------------------------- */

/* The directory of this executable's build ($OUT): ipcbench sits there. */
static void out_dir(char *buf, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", buf, size - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    for (int up = 0; up < 2; up++) *strrchr(buf, '/') = '\0'; /* OUT/tests/test_bench -> OUT */
}

/* bench/report.py: from the current directory (make runs tests at the top),
 * else walking up from the executable. */
static void find_report(char *buf, size_t size) /* size >= 1040 */
{
    snprintf(buf, size, "bench/report.py");
    if (access(buf, R_OK) == 0) return;
    char dir[1024];
    out_dir(dir, sizeof dir);
    for (int up = 0; up < 5 && strrchr(dir, '/'); up++) {
        *strrchr(dir, '/') = '\0';
        snprintf(buf, size, "%s/bench/report.py", dir);
        if (access(buf, R_OK) == 0) return;
    }
    fail_msg("bench/report.py not found from the current directory or the executable");
}

/* Run argv with stdout and stderr into log; returns the exit status. */
static int run(char *const argv[], const char *log, unsigned seconds)
{
    fflush(NULL);
    pid_t pid = tl_fork(seconds); /* its kill timer survives exec */
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status = tl_wait(pid, seconds + 10);
    if (status != 0) {
        char *text = slurp(log);
        print_message("%s exited with %d; its output:\n%s\n", argv[0], status, text ? text : "(none)");
        free(text);
    }
    return status;
}

/* A tiny CSV reader: the header's names, then rows of fields (csv module
 * quoting: "..." with "" inside). */
#define MAX_COLS 64
typedef struct csv_row {
    int  n;
    char f[MAX_COLS][256];
} csv_row;

static const char *csv_next(const char *p, csv_row *row)
{
    row->n = 0;
    if (!p || !*p) return NULL;
    for (;;) {
        char *out = row->f[row->n];
        size_t k = 0;
        if (*p == '"') {
            for (p++; *p && !(*p == '"' && p[1] != '"'); p++) {
                if (*p == '"') p++;
                if (k < 255) out[k++] = *p;
            }
            if (*p == '"') p++;
        } else {
            for (; *p && *p != ',' && *p != '\n' && *p != '\r'; p++)
                if (k < 255) out[k++] = *p;
        }
        out[k] = '\0';
        if (row->n < MAX_COLS - 1) row->n++;
        if (*p == ',') { p++; continue; }
        while (*p == '\r' || *p == '\n') p++;
        return p;
    }
}

static int col(const csv_row *head, const char *name)
{
    for (int i = 0; i < head->n; i++)
        if (strcmp(head->f[i], name) == 0) return i;
    fail_msg("results.csv has no column '%s'", name);
    return -1;
}

static double num(const csv_row *r, int i) { return r->f[i][0] ? strtod(r->f[i], NULL) : NAN; }

static bool close_to(double a, double b) { return fabs(a - b) <= 1e-6 * fabs(b); }

static void report_on_tiny_run(void **state)
{
    (void)state;
    tl_watchdog(300);
    char out[PATH_MAX], ipcbench[PATH_MAX + 16], report[PATH_MAX], json[PATH_MAX + 16], log[PATH_MAX + 16];
    out_dir(out, sizeof out);
    snprintf(ipcbench, sizeof ipcbench, "%s/ipcbench", out);
    assert_int_equal(access(ipcbench, X_OK), 0);
    find_report(report, sizeof report);
    snprintf(json, sizeof json, "%s/tiny.json", tmpdir);
    snprintf(log, sizeof log, "%s/ipcbench.log", tmpdir);

    char *bench_argv[] = { ipcbench, "--mech", "queue,pipe", "--sizes", "64", "--pin", "same",
                           "--only", "latency,throughput,pair,raw,python", "--min-time", "0.01",
                           "--json", json, NULL };
    assert_int_equal(run(bench_argv, log, 200), 0);

    snprintf(log, sizeof log, "%s/report.log", tmpdir);
    char *report_argv[] = { "python3", report, json, "--out", tmpdir, "--lat-size", "64",
                            "--thr-sizes", "64", "--quiet", NULL };
    assert_int_equal(run(report_argv, log, 60), 0);

    /* the table: both mechanisms ranked, in both modes where they run */
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/report.md", tmpdir);
    char *md = slurp(path);
    assert_non_null(md);
    assert_non_null(strstr(md, "| queue | threads |"));
    assert_non_null(strstr(md, "| pipe | procs |"));
    assert_non_null(strstr(md, "## Interface cost"));
    free(md);
    snprintf(path, sizeof path, "%s/summary.csv", tmpdir);
    char *summary = slurp(path);
    assert_non_null(summary);
    assert_non_null(strstr(summary, ",queue,threads,"));
    free(summary);

    /* every ratio in results.csv is the one its own figures give */
    snprintf(path, sizeof path, "%s/results.csv", tmpdir);
    char *csv = slurp(path);
    assert_non_null(csv);
    csv_row head, r;
    const char *p = csv_next(csv, &head);
    int kind = col(&head, "kind"), impl = col(&head, "impl"), mode = col(&head, "mode"), pin = col(&head, "pin");
    int p50 = col(&head, "p50_ns"), raw_p50 = col(&head, "raw_p50_ns"), cost = col(&head, "cost_vs_raw");
    int msg = col(&head, "msg_ns"), raw_msg = col(&head, "raw_msg_ns");
    int speed = col(&head, "speedup_vs_python"), err = col(&head, "error");
    int raw_checked = 0, py_checked = 0, rows = 0;
    while ((p = csv_next(p, &r)) != NULL) {
        rows++;
        if (r.f[err][0]) continue;
        bool lat = strcmp(r.f[kind], "latency") == 0, thr = strcmp(r.f[kind], "throughput") == 0;
        if ((lat || thr) && !isnan(num(&r, cost))) {
            double want = lat ? num(&r, p50) / num(&r, raw_p50) : num(&r, msg) / num(&r, raw_msg);
            if (!close_to(num(&r, cost), want))
                fail_msg("%s %s: cost_vs_raw %s, figures give %g", r.f[kind], r.f[impl], r.f[cost], want);
            raw_checked++;
        }
        if (lat && !isnan(num(&r, speed))) {
            /* find the Python row of the same placement and mode */
            const char *py = strcmp(r.f[mode], "threads") == 0 ? "python:queue.Queue" : "python:mp.Queue";
            csv_row q;
            const char *s = csv_next(csv, &q);
            double py_p50 = NAN;
            while ((s = csv_next(s, &q)) != NULL)
                if (!strcmp(q.f[impl], py) && !strcmp(q.f[kind], "latency") && !strcmp(q.f[pin], r.f[pin]))
                    py_p50 = num(&q, p50);
            assert_false(isnan(py_p50));
            if (!close_to(num(&r, speed), py_p50 / num(&r, p50)))
                fail_msg("%s %s: speedup_vs_python %s, figures give %g", r.f[impl], r.f[mode], r.f[speed],
                         py_p50 / num(&r, p50));
            py_checked++;
        }
    }
    free(csv);
    assert_true(rows >= 8);
    assert_true(raw_checked >= 4);  /* queue and pipe, latency and throughput */
    assert_true(py_checked >= 2);   /* queue (threads) and pipe (procs)       */

    /* the charts, if gnuplot is there to draw them */
    if (system("command -v gnuplot >/dev/null 2>&1") == 0) {
        for (const char *const *png = (const char *const[]){ "latency.png", "throughput.png", NULL }; *png; png++) {
            snprintf(path, sizeof path, "%s/%s", tmpdir, *png);
            char *img = slurp(path);
            assert_non_null(img);
            assert_memory_equal(img, "\x89PNG", 4);
            free(img);
        }
    }
}

static int make_tmpdir(void **state)
{
    (void)state;
    tl_tempdir(tmpdir, sizeof tmpdir, "bench-test");
    return 0;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shim_runs_c_benchmarks),
        cmocka_unit_test(report_on_tiny_run),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
