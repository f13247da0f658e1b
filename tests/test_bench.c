/*
 * test_bench.c — the benchmark harness's plumbing, never its timings.
 *
 *   shim     a C benchmark registered through bench/gbench_shim.h runs, gets
 *            its user pointer and argument, and its counters, items/s and
 *            label land in Google Benchmark's JSON; a filter matching
 *            nothing answers 0; a callback that returns without looping is
 *            reported as an error instead of aborting the program.
 *   report   ipcbench on a tiny run (three mechanisms, one size, one
 *            placement, two repetitions, raw and Python baselines), then
 *            bench/report.py --console on its JSON: the short table fits 80
 *            columns and its line budget, names its statistic, shows a size
 *            eventfd cannot carry as "n/a (limit 8 B)" and no error; the
 *            result file carries the machine context; and every ratio in
 *            results.csv and summary.csv is the one tests/bench_check.py
 *            recomputes from the JSON's repetitions with the same statistic
 *            on both sides (cost_vs_raw from the raw lane, speedup_vs_python
 *            from the Python row of the same placement).
 *   json     --benchmark_format=json: stdout parses as one JSON document,
 *            --benchmark_out gets the same, --benchmark_filter selected a
 *            Python row; prose went to stderr.
 *   compare  `ipcbench compare` of synthetic files from two hosts: a known
 *            2x reported as 2x and significant (Mann-Whitney U), the same
 *            distribution as no significant change; the U test itself
 *            against published values (tests/bench_check.py mwu).
 *   filter   a --benchmark_filter matching no Python row never starts the
 *            Python baseline (a stand-in script that leaves a mark proves
 *            it), and one matching a Python row does.
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

/* Run argv with stdout into out and stderr into err (NULL: into out too);
 * returns the exit status, and shows what it wrote when that is not 0. */
static int run_split(char *const argv[], const char *out, const char *err, unsigned seconds)
{
    fflush(NULL);
    pid_t pid = tl_fork(seconds); /* its kill timer survives exec */
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int e = err ? open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : o;
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0) _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status = tl_wait(pid, seconds + 10);
    if (status != 0) {
        char *text = slurp(err ? err : out);
        print_message("%s exited with %d; its output:\n%s\n", argv[0], status, text ? text : "(none)");
        free(text);
    }
    return status;
}

static int run(char *const argv[], const char *log, unsigned seconds)
{
    return run_split(argv, log, NULL, seconds);
}

/* tests/bench_check.py (the JSON/CSV checks), found like bench/report.py. */
static void find_check(char *buf, size_t size)
{
    find_report(buf, size);
    char *bench = strstr(buf, "bench/report.py");
    assert_non_null(bench);
    snprintf(bench, size - (size_t)(bench - buf), "tests/bench_check.py");
    assert_int_equal(access(buf, R_OK), 0);
}

/* python3 tests/bench_check.py CMD A [B]: 0 if the check holds. */
static int check(const char *cmd, const char *a, const char *b)
{
    char script[PATH_MAX + 64], log[PATH_MAX + 16];
    find_check(script, sizeof script);
    snprintf(log, sizeof log, "%s/check-%s.log", tmpdir, cmd);
    char *argv[] = { "python3", script, (char *)cmd, (char *)a, (char *)b, NULL };
    return run(argv, log, 60);
}

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

    /* two repetitions: every figure is a median with an interval */
    char *bench_argv[] = { ipcbench, "--mech", "queue,pipe,eventfd", "--sizes", "64", "--pin", "same",
                           "--only", "latency,throughput,pair,raw,python", "--min-time", "0.01",
                           "--reps", "2", "--json", json, NULL };
    assert_int_equal(run(bench_argv, log, 200), 0);
    assert_int_equal(check("context", json, NULL), 0);

    snprintf(log, sizeof log, "%s/report.log", tmpdir);
    char *report_argv[] = { "python3", report, json, "--out", tmpdir, "--lat-size", "64",
                            "--thr-sizes", "64", "--console", "--max-lines", "40", NULL };
    assert_int_equal(run(report_argv, log, 60), 0);

    /* the short table: at most 40 lines of 80 columns, the statistic named,
     * the sizes eventfd cannot carry marked n/a, never an error */
    char *console = slurp(log);
    assert_non_null(console);
    int lines = 0;
    for (char *p = console, *nl; *p; p = nl + 1, lines++) {
        nl = strchr(p, '\n');
        if (!nl) nl = p + strlen(p) - 1;
        /* columns, not bytes: µ, – and × are two bytes each in UTF-8 */
        int cols = 0;
        for (char *c = p; c <= nl && *c != '\n'; c++) cols += ((unsigned char)*c & 0xC0) != 0x80;
        if (cols > 80) fail_msg("console line %d has %d columns: %.*s", lines + 1, cols, (int)(nl - p), p);
    }
    assert_true(lines <= 40);
    assert_non_null(strstr(console, "median of 2 repetitions [min–max]"));
    assert_null(strstr(console, "ERROR"));
    free(console);

    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/report.md", tmpdir);
    char *md = slurp(path);
    assert_non_null(md);
    assert_non_null(strstr(md, "| queue@block | threads |"));
    assert_non_null(strstr(md, "| pipe@block | procs |"));
    assert_non_null(strstr(md, "## Interface cost"));
    assert_non_null(strstr(md, "**Statistic: median of 2 repetitions [min–max]**"));
    assert_non_null(strstr(md, "n/a (limit 8 B)"));
    assert_null(strstr(md, "## Failed benchmarks"));
    free(md);

    /* every ratio is the one the JSON gives, the same statistic on both sides */
    assert_int_equal(check("ratios", json, tmpdir), 0);

    /* the charts, if gnuplot is there to draw them */
    if (system("command -v gnuplot >/dev/null 2>&1") == 0) {
        for (const char *const *png = (const char *const[]){ "latency.png", NULL }; *png; png++) {
            snprintf(path, sizeof path, "%s/%s", tmpdir, *png);
            char *img = slurp(path);
            assert_non_null(img);
            assert_memory_equal(img, "\x89PNG", 4);
            free(img);
        }
    }
}

/* --benchmark_format=json: stdout is exactly one JSON document (C rows,
 * Python rows, context), everything else on stderr; --benchmark_out gets
 * the same document. */
static void json_on_stdout(void **state)
{
    (void)state;
    tl_watchdog(120);
    char out[PATH_MAX], ipcbench[PATH_MAX + 16], std_out[PATH_MAX + 16], std_err[PATH_MAX + 16];
    char out_flag[PATH_MAX + 64], out_file[PATH_MAX + 16];
    out_dir(out, sizeof out);
    snprintf(ipcbench, sizeof ipcbench, "%s/ipcbench", out);
    snprintf(std_out, sizeof std_out, "%s/stdout.json", tmpdir);
    snprintf(std_err, sizeof std_err, "%s/stderr.txt", tmpdir);
    snprintf(out_file, sizeof out_file, "%s/out.json", tmpdir);
    snprintf(out_flag, sizeof out_flag, "--benchmark_out=%s", out_file);
    char *argv[] = { ipcbench, "--mech", "pipe", "--sizes", "64", "--pin", "same", "--min-time", "0.01",
                     "--benchmark_format=json", "--benchmark_filter=^pair/pipe|latency/python:mp.Pipe",
                     out_flag, NULL };
    assert_int_equal(run_split(argv, std_out, std_err, 100), 0);
    assert_int_equal(check("json-doc", std_out, NULL), 0);
    assert_int_equal(check("python-rows", std_out, "1"), 0); /* the filter reached Python */
    assert_int_equal(check("json-doc", out_file, NULL), 0);
    assert_int_equal(check("python-rows", out_file, "1"), 0);
    char *err = slurp(std_err);
    assert_non_null(err);
    assert_non_null(strstr(err, "[ipcbench]"));  /* progress went to stderr */
    free(err);

    /* a filter that selects Python rows only: still one document, with context */
    char *py_only[] = { ipcbench, "--mech", "pipe", "--sizes", "64", "--pin", "same", "--min-time", "0.01",
                        "--benchmark_format=json", "--benchmark_filter=latency/python:mp.Pipe", NULL };
    assert_int_equal(run_split(py_only, std_out, std_err, 100), 0);
    assert_int_equal(check("json-doc", std_out, NULL), 0);
    assert_int_equal(check("python-rows", std_out, "1"), 0);
}

/* A --benchmark_filter that matches no Python row does not start Python:
 * the baseline is replaced by a script that leaves a mark when run. */
static void filter_without_python_rows_runs_no_python(void **state)
{
    (void)state;
    tl_watchdog(120);
    char out[PATH_MAX], ipcbench[PATH_MAX + 16], fake[PATH_MAX + 16], mark[PATH_MAX + 16];
    char json[PATH_MAX + 16], log[PATH_MAX + 16];
    out_dir(out, sizeof out);
    snprintf(ipcbench, sizeof ipcbench, "%s/ipcbench", out);
    snprintf(fake, sizeof fake, "%s/fake_baseline.py", tmpdir);
    snprintf(mark, sizeof mark, "%s/python-ran", tmpdir);
    snprintf(json, sizeof json, "%s/filtered.json", tmpdir);
    snprintf(log, sizeof log, "%s/filtered.log", tmpdir);
    FILE *f = fopen(fake, "w");
    assert_non_null(f);
    fprintf(f, "import sys\nopen(%s%s%s, 'w').close()\n"
               "out = sys.argv[sys.argv.index('--json') + 1]\nopen(out, 'w').write('[]')\n",
            "'", mark, "'");
    assert_int_equal(fclose(f), 0);
    assert_int_equal(setenv("IPCBENCH_PYTHON_BASELINE", fake, 1), 0);

    char *argv[] = { ipcbench, "--mech", "pipe", "--sizes", "64", "--pin", "same", "--min-time", "0.01",
                     "--benchmark_filter=^pair/pipe", "--json", json, NULL };
    assert_int_equal(run(argv, log, 100), 0);
    assert_int_equal(access(mark, F_OK), -1);             /* no Python */
    assert_int_equal(check("python-rows", json, "0"), 0);

    /* the control: a filter that matches a Python row does run it */
    char *argv2[] = { ipcbench, "--mech", "pipe", "--sizes", "64", "--pin", "same", "--min-time", "0.01",
                      "--benchmark_filter=^pair/pipe|python:mp.Pipe", "--json", json, NULL };
    assert_int_equal(run(argv2, log, 100), 0);
    assert_int_equal(access(mark, F_OK), 0);
    unsetenv("IPCBENCH_PYTHON_BASELINE");
}

/* ipcbench compare on synthetic result files from two "hosts", 9
 * repetitions each: every time doubled is reported as 2x and significant;
 * the same distribution as no significant change; the Mann-Whitney U
 * implementation matches published values (and scipy, when installed). */
static void compare_synthetic_results(void **state)
{
    (void)state;
    tl_watchdog(120);
    char out[PATH_MAX], ipcbench[PATH_MAX + 16], a[PATH_MAX + 16], b[PATH_MAX + 16], dir[PATH_MAX + 16];
    char csv[PATH_MAX + 32], log[PATH_MAX + 16];
    out_dir(out, sizeof out);
    snprintf(ipcbench, sizeof ipcbench, "%s/ipcbench", out);
    assert_int_equal(check("mwu", "", NULL), 0);
    assert_int_equal(check("synthetic", tmpdir, NULL), 0);
    snprintf(a, sizeof a, "%s/A.json", tmpdir);
    snprintf(log, sizeof log, "%s/compare.log", tmpdir);

    snprintf(b, sizeof b, "%s/B2x.json", tmpdir);
    snprintf(dir, sizeof dir, "%s/cmp2x", tmpdir);
    char *argv[] = { ipcbench, "compare", a, b, "--out", dir, NULL };
    assert_int_equal(run(argv, log, 60), 0);
    snprintf(csv, sizeof csv, "%s/compare.csv", dir);
    assert_int_equal(check("compare-2x", csv, NULL), 0);
    char *text = slurp(log);
    assert_non_null(text);
    assert_non_null(strstr(text, "0 faster, 4 slower, 0 no significant change"));
    assert_non_null(strstr(text, "host: A laptop | B vm"));
    free(text);

    snprintf(b, sizeof b, "%s/Bsame.json", tmpdir);
    snprintf(dir, sizeof dir, "%s/cmpsame", tmpdir);
    assert_int_equal(run(argv, log, 60), 0);
    snprintf(csv, sizeof csv, "%s/compare.csv", dir);
    assert_int_equal(check("compare-same", csv, NULL), 0);
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
        cmocka_unit_test(json_on_stdout),
        cmocka_unit_test(filter_without_python_rows_runs_no_python),
        cmocka_unit_test(compare_synthetic_results),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
