/*
 * ipcbench — every ipcplay mechanism, its raw system calls, the physical
 * limits of the machine and Python's queues, measured side by side in one
 * run with Google Benchmark.
 *
 * Usage: ipcbench [options] [--benchmark_* flags]      (ipcbench --help)
 *
 * For every mechanism in the registry (no per-mechanism code here: a new
 * module is measured as soon as it is registered):
 *   latency     round trip, ping-pong, p50/p99/p99.9/max, per placement;
 *   throughput  one way, msgs/s and bytes/s, per placement;
 *   fan         N producers x M consumers, N,M in {1,2,4} (IPC_CAP_MPMC);
 *   pair        send+receive in one thread: the interface's CPU cost, with
 *               and without an observer attached;
 * in threads (IPC_CAP_THREADS) and in forked processes (IPC_CAP_FORK),
 * each with its raw baseline (raw_table.c) measured interleaved in the same
 * case (raw_* counters).  Then the cache-line ping-pong and memcpy limits,
 * and bench/python_baseline.py, whose entries are spliced into the JSON.  A
 * size above a mechanism's limit is reported as "n/a: limit N bytes", never
 * measured as something else (the limit itself is measured instead).
 *
 * Names: KIND/IMPL/MODE/PLACEMENT/SIZE[/NxM], e.g. latency/pipe/procs/cross/100
 * (filter them with --benchmark_filter=REGEX).  The label beside each
 * figure names the wait strategy and the CPUs used.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- options ------------------------------------------------------------- */

#define MAX_SIZES 32

typedef struct size_list {
    size_t v[MAX_SIZES];
    int    n;
} size_list;

static struct {
    const char *mech;        /* comma list, NULL = all          */
    const char *json;        /* --json FILE                      */
    size_list   lat, thr;    /* message sizes                    */
    bool        sizes_given;
    bool        pin[3];      /* placements: same, cross, none    */
    bool        quick;
    int         reps;
    double      min_time;
    bool        min_time_given; /* --benchmark_min_time was passed */
    unsigned    only;        /* ONLY_* bits                      */
    bool        list;
} opt;

enum {
    ONLY_LATENCY = 1 << 0, ONLY_THROUGHPUT = 1 << 1, ONLY_FAN = 1 << 2, ONLY_PAIR = 1 << 3,
    ONLY_RAW = 1 << 4, ONLY_LIMITS = 1 << 5, ONLY_PYTHON = 1 << 6, ONLY_ALL = (1 << 7) - 1,
};
static const char *const only_names[] = { "latency", "throughput", "fan", "pair", "raw", "limits", "python" };

static const size_list full_lat = { { 8, 100, 1024, 8192, 65536 }, 5 };
static const size_list full_thr = { { 8, 100, 1024, 8192, 65536, 262144, 1048576 }, 7 };
static const size_list quick_lat = { { 100 }, 1 };
static const size_list quick_thr = { { 100, 65536 }, 2 };
static const size_t fan_size = 100;   /* fan-in/out and the pair run at one size */
static const int fan_counts[] = { 1, 2, 4 };

static void usage(FILE *f)
{
    fprintf(f,
        "usage: ipcbench [options] [--benchmark_* flags of Google Benchmark]\n"
        "\n"
        "Measures every registered ipcplay mechanism next to its raw system calls, the\n"
        "machine's limits (cache-line ping-pong, memcpy) and Python's queues.\n"
        "\n"
        "  --mech LIST     mechanisms to measure, e.g. pipe,shm (default: all registered)\n"
        "  --sizes LIST    message sizes for latency and throughput, e.g. 8,100,64K,1M\n"
        "                  (default: latency 8..64K, throughput 8..1M; --quick: 100 / 100,64K)\n"
        "  --pin LIST      placements: same (both sides on one CPU), cross (two CPUs),\n"
        "                  none (the scheduler decides); default same,cross\n"
        "  --only LIST     latency,throughput,fan,pair,raw,limits,python (default: all;\n"
        "                  --quick leaves out fan)\n"
        "  --reps N        run every benchmark N times (mean/median/stddev are added)\n"
        "  --min-time S    seconds per benchmark (default 0.2; --quick 0.04)\n"
        "  --quick         the short run behind `make run`\n"
        "  --json FILE     write all results (Google Benchmark JSON + the Python baseline)\n"
        "  --no-python     same as leaving python out of --only\n"
        "  --list          list the mechanisms, their wait strategies and raw baselines\n"
        "  --help          this text\n"
        "\n"
        "Names are KIND/IMPL/MODE/PLACEMENT/SIZE[/NxM]; select with --benchmark_filter=REGEX.\n"
        "Latency is a round trip (ping-pong, full payload echoed) in manual time; throughput\n"
        "counts messages from \"go\" until the last one is received.  cpu_util is the CPU time\n"
        "of both sides over the wall time (2.0 = two cores busy).\n");
}

static int parse_sizes(const char *s, size_list *out)
{
    out->n = 0;
    char *copy = strdup(s), *save = NULL;
    if (!copy) return -1;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(t, &end, 10);
        if (*end == 'K' || *end == 'k') { v <<= 10; end++; }
        else if (*end == 'M' || *end == 'm') { v <<= 20; end++; }
        if (*end == 'B' || *end == 'b') end++;
        if (errno || *end || v == 0 || v > ((size_t)1 << 30) || out->n == MAX_SIZES) {
            fprintf(stderr, "ipcbench: bad size '%s' (1 .. 1G, at most %d sizes)\n", t, MAX_SIZES);
            free(copy);
            return -1;
        }
        out->v[out->n++] = (size_t)v;
    }
    free(copy);
    return out->n > 0 ? 0 : -1;
}

/* Set bit i of *bits for every word of s found in names[]. */
static int parse_words(const char *s, const char *const *names, int count, unsigned *bits, const char *what)
{
    *bits = 0;
    char *copy = strdup(s), *save = NULL;
    if (!copy) return -1;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int i = 0;
        while (i < count && strcmp(t, names[i]) != 0) i++;
        if (i == count) {
            fprintf(stderr, "ipcbench: unknown %s '%s'\n", what, t);
            free(copy);
            return -1;
        }
        *bits |= 1u << i;
    }
    free(copy);
    return 0;
}

/* Our options out of argv; Google Benchmark's --benchmark_* flags stay. */
static int parse_options(int *argc, char **argv)
{
    opt.pin[PIN_SAME] = opt.pin[PIN_CROSS] = true;
    opt.only = ONLY_ALL;
    opt.reps = 1;
    opt.min_time = -1;
    bool only_given = false;
    int kept = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < *argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (strncmp(a, "--benchmark_", 12) == 0) {
            if (strncmp(a, "--benchmark_min_time", 20) == 0) opt.min_time_given = true;
            argv[kept++] = argv[i];
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); exit(0); }
        else if (!strcmp(a, "--quick")) { opt.quick = true; takes = false; }
        else if (!strcmp(a, "--list")) { opt.list = true; takes = false; }
        else if (!strcmp(a, "--no-python")) { opt.only &= ~(unsigned)ONLY_PYTHON; takes = false; }
        else if (!val) { fprintf(stderr, "ipcbench: unknown option or missing value: %s\n", a); return -1; }
        else if (!strcmp(a, "--mech")) opt.mech = val;
        else if (!strcmp(a, "--json")) opt.json = val;
        else if (!strcmp(a, "--sizes")) {
            if (parse_sizes(val, &opt.lat) < 0) return -1;
            opt.thr = opt.lat;
            opt.sizes_given = true;
        } else if (!strcmp(a, "--pin")) {
            unsigned bits;
            if (parse_words(val, bench_pin_name, 3, &bits, "placement") < 0) return -1;
            for (int p = 0; p < 3; p++) opt.pin[p] = bits & (1u << p);
        } else if (!strcmp(a, "--only")) {
            unsigned bits;
            if (parse_words(val, only_names, 7, &bits, "--only item") < 0) return -1;
            opt.only = bits | (opt.only & ~(unsigned)ONLY_ALL);
            only_given = true;
        } else if (!strcmp(a, "--reps")) {
            opt.reps = atoi(val);
            if (opt.reps < 1) { fprintf(stderr, "ipcbench: --reps needs a number >= 1\n"); return -1; }
        } else if (!strcmp(a, "--min-time")) {
            opt.min_time = strtod(val, NULL);
            if (opt.min_time <= 0) { fprintf(stderr, "ipcbench: --min-time needs seconds > 0\n"); return -1; }
        } else {
            fprintf(stderr, "ipcbench: unknown option %s (see --help)\n", a);
            return -1;
        }
        if (takes) i++;
    }
    argv[kept] = NULL;
    *argc = kept;
    if (!opt.sizes_given) {
        opt.lat = opt.quick ? quick_lat : full_lat;
        opt.thr = opt.quick ? quick_thr : full_thr;
    }
    if (opt.quick && !only_given) opt.only &= ~(unsigned)ONLY_FAN;
    if (opt.min_time <= 0) opt.min_time = opt.quick ? 0.04 : 0.2;
    return 0;
}

/* ---- the cases ----------------------------------------------------------- */

static bench_case **cases;
static int ncases, groups;
/* the mechanism being registered: its raw baseline and observed variant */
static const bench_impl *current_raw, *current_observed;

/* The raw baseline measured alongside impl in this case, if it can be. */
static const bench_impl *raw_lane(const bench_impl *raw, enum bench_kind kind, enum bench_mode mode,
                                  size_t size, int producers, int consumers)
{
    if (!raw || !(opt.only & ONLY_RAW) || size > raw->max_msg) return NULL;
    if (producers > 1 || consumers > 1) return NULL; /* raw framing is single-writer */
    if (mode == MODE_THREADS && !(raw->caps & IPC_CAP_THREADS)) return NULL;
    if (mode == MODE_PROCS && !(raw->caps & IPC_CAP_FORK)) return NULL;
    return kind == KIND_LATENCY || kind == KIND_THROUGHPUT || kind == KIND_PAIR ? raw : NULL;
}

static bench_case *add_case(enum bench_kind kind, const bench_impl *impl, enum bench_mode mode,
                            enum bench_pin pin, size_t size, int producers, int consumers)
{
    bench_case **grown = realloc(cases, (size_t)(ncases + 1) * sizeof *cases);
    bench_case *c = calloc(1, sizeof *c);
    if (!grown || !c) {
        perror("ipcbench: out of memory");
        exit(1);
    }
    cases = grown;
    cases[ncases++] = c;
    *c = (bench_case){ .kind = kind, .impl = impl, .mode = mode, .pin = pin, .size = size,
                       .producers = producers, .consumers = consumers, .group = groups - 1,
                       .raw = raw_lane(current_raw, kind, mode, size, producers, consumers),
                       .observed = kind == KIND_PAIR ? current_observed : NULL };
    int n = snprintf(c->name, sizeof c->name, "%s/%s/%s/%s/%zu", bench_kind_name[kind], impl->name,
                     bench_mode_name[mode], bench_pin_name[pin], size);
    if (kind == KIND_THROUGHPUT && (producers > 1 || consumers > 1) && n > 0 && (size_t)n < sizeof c->name)
        snprintf(c->name + n, sizeof c->name - (size_t)n, "/%dx%d", producers, consumers);
    if (size > impl->max_msg)
        snprintf(c->na, sizeof c->na, "n/a: limit %zu bytes", impl->max_msg);
    else if (pin == PIN_CROSS && bench_cpu(1) < 0)
        snprintf(c->na, sizeof c->na, "n/a: only one CPU to run on");
    return c;
}

static void add_modes(enum bench_kind kind, const bench_impl *impl, const size_list *wanted,
                      const bool *pins, int producers, int consumers)
{
    /* A size above the limit is registered (it prints "n/a: limit N bytes")
     * and the limit itself is measured in its place, so that an 8-byte
     * mechanism still gets a figure. */
    size_list sizes = *wanted;
    bool limit_listed = false, above = false;
    for (int s = 0; s < sizes.n; s++) {
        limit_listed |= sizes.v[s] == impl->max_msg;
        above |= sizes.v[s] > impl->max_msg;
    }
    if (above && !limit_listed && sizes.n < MAX_SIZES) {
        int at = sizes.n++;   /* keep the list sorted */
        while (at > 0 && sizes.v[at - 1] > impl->max_msg) { sizes.v[at] = sizes.v[at - 1]; at--; }
        sizes.v[at] = impl->max_msg;
    }
    for (int s = 0; s < sizes.n; s++)
        for (enum bench_mode m = MODE_THREADS; m <= MODE_PROCS; m++) {
            if (m == MODE_THREADS && !(impl->caps & IPC_CAP_THREADS)) continue;
            if (m == MODE_PROCS && !(impl->caps & IPC_CAP_FORK)) continue;
            for (enum bench_pin p = PIN_SAME; p <= PIN_NONE; p++)
                if (pins[p]) add_case(kind, impl, m, p, sizes.v[s], producers, consumers);
        }
}

/* One line of the JSON context per implementation, for the report:
 * "impl.pipe": "family=pipes|wait=kernel block (poll)|raw=raw:pipe". */
static void add_context(const char *impl, const char *family, const char *wait, const char *raw)
{
    char k[120], v[400];
    snprintf(k, sizeof k, "impl.%s", impl);
    snprintf(v, sizeof v, "family=%s|wait=%s|raw=%s", family, wait, raw ? raw : "none");
    gb_add_context(k, v);
}

/* Latency, throughput, fan-in/out and the pair of one mechanism. */
static void add_channel_cases(const bench_impl *impl)
{
    const size_list one = { { fan_size }, 1 };
    if (opt.only & ONLY_LATENCY) add_modes(KIND_LATENCY, impl, &opt.lat, opt.pin, 1, 1);
    if (opt.only & ONLY_THROUGHPUT) add_modes(KIND_THROUGHPUT, impl, &opt.thr, opt.pin, 1, 1);
    if ((opt.only & ONLY_FAN) && (impl->caps & IPC_CAP_MPMC)) {
        const bool unpinned[3] = { [PIN_NONE] = true };
        for (int p = 0; p < 3; p++)
            for (int c = 0; c < 3; c++)
                if (p || c) add_modes(KIND_THROUGHPUT, impl, &one, unpinned, fan_counts[p], fan_counts[c]);
    }
    if (opt.only & ONLY_PAIR)
        add_case(KIND_PAIR, impl, MODE_SINGLE, PIN_SAME, fan_size < impl->max_msg ? fan_size : impl->max_msg, 1, 1);
}

static bool selected(const char *name)
{
    if (!opt.mech) return true;
    size_t len = strlen(name);
    for (const char *p = opt.mech; (p = strstr(p, name)) != NULL; p += len)
        if ((p == opt.mech || p[-1] == ',') && (p[len] == ',' || p[len] == '\0')) return true;
    return false;
}

static int check_mech_list(void)
{
    if (!opt.mech) return 0;
    char *copy = strdup(opt.mech), *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (!ipc_find(t)) {
            size_t n;
            const ipc_mechanism *const *all = ipc_mechanisms(&n);
            fprintf(stderr, "ipcbench: unknown mechanism '%s' (known:", t);
            for (size_t i = 0; i < n; i++) fprintf(stderr, " %s", all[i]->name);
            fprintf(stderr, ")\n");
            rc = -1;
        }
    free(copy);
    return rc;
}

static void list_mechanisms(void)
{
    size_t n;
    const ipc_mechanism *const *all = ipc_mechanisms(&n);
    printf("%-15s %-8s %-19s %-11s %-45s %s\n", "mechanism", "family", "runs in", "max msg", "wait strategy",
           "raw baseline");
    for (size_t i = 0; i < n; i++) {
        const ipc_mechanism *m = all[i];
        const char *why;
        const bench_impl *raw = bench_raw_for(m->name, &why);
        char runs[40];
        snprintf(runs, sizeof runs, "%s%s%s", m->caps & IPC_CAP_THREADS ? "threads " : "",
                 m->caps & IPC_CAP_FORK ? "procs " : "", m->caps & IPC_CAP_MPMC ? "mpmc" : "");
        printf("%-15s %-8s %-19s %-11zu %-45s %s%s%s\n", m->name, m->family, runs, m->max_msg_limit,
               m->wait_strategy ? m->wait_strategy : "?", raw ? raw->name : "", raw ? " — " : "", why);
    }
}

/* Everything to measure, in course order: each mechanism (with its raw
 * baseline and observed variant in the same cases), then the limits. */
static int register_all(void)
{
    size_t n;
    const ipc_mechanism *const *all = ipc_mechanisms(&n);
    bench_impl *impls = calloc(2 * n + 1, sizeof *impls);
    if (!impls) return -1;
    for (size_t i = 0; i < n; i++) {
        const ipc_mechanism *m = all[i];
        if (!selected(m->name)) continue;
        bench_impl *impl = &impls[2 * i], *observed = &impls[2 * i + 1];
        bench_impl_from_mechanism(impl, m, false);
        bench_impl_from_mechanism(observed, m, true);
        const char *why;
        current_raw = bench_raw_for(m->name, &why);
        current_observed = observed;
        groups++;
        add_channel_cases(impl);

        add_context(m->name, m->family, impl->wait, current_raw && (opt.only & ONLY_RAW) ? current_raw->name : NULL);
        bool raw_seen = false; /* several mechanisms share a raw baseline */
        const char *note;
        for (size_t k = 0; k < i && current_raw; k++)
            raw_seen |= selected(all[k]->name) && bench_raw_for(all[k]->name, &note) == current_raw;
        if (current_raw && (opt.only & ONLY_RAW) && !raw_seen)
            add_context(current_raw->name, "raw", current_raw->wait, NULL);
        if (!current_raw) printf("%s: %s\n", m->name, why);
    }
    current_raw = current_observed = NULL;
    if (opt.only & ONLY_LIMITS) {
        groups++;
        if (opt.only & ONLY_LATENCY) {
            const size_list ball = { { sizeof(long) }, 1 };
            add_modes(KIND_CACHELINE, &limit_cacheline, &ball, opt.pin, 1, 1);
        }
        groups++;
        if (opt.only & ONLY_THROUGHPUT)
            for (int s = 0; s < opt.thr.n; s++)
                add_case(KIND_MEMCPY, &limit_memcpy, MODE_SINGLE, PIN_SAME, opt.thr.v[s], 1, 1);
        add_context(limit_cacheline.name, "limit", limit_cacheline.wait, NULL);
        add_context(limit_memcpy.name, "limit", limit_memcpy.wait, NULL);
    }
    /* impls stay alive until exit: the cases point into them */

    for (int i = 0; i < ncases; i++) {
        bench_case *c = cases[i];
        c->groups = groups;
        gb_bench *b = gb_register(c->name, bench_case_run, c);
        if (!b) return -1;
        /* memcpy is one thread doing all the work: real time is right.
         * Everything else times itself (see workloads.c). */
        if (c->kind == KIND_MEMCPY) gb_bench_use_real_time(b);
        else gb_bench_use_manual_time(b);
        gb_bench_unit(b, c->kind == KIND_LATENCY || c->kind == KIND_CACHELINE ? GB_US : GB_NS);
        if (opt.reps > 1) gb_bench_repetitions(b, opt.reps);
    }
    return 0;
}

/* ---- the Python baseline ----------------------------------------------- */

/* bench/python_baseline.py next to the sources: $IPCBENCH_PYTHON_BASELINE,
 * or found by walking up from the executable (build/ipcbench,
 * build/<dir>/ipcbench ...), or from the current directory. */
static int find_script(char *path, size_t size)
{
    const char *env = getenv("IPCBENCH_PYTHON_BASELINE");
    if (env && *env) {
        snprintf(path, size, "%s", env);
        return access(path, R_OK) == 0 ? 0 : -1;
    }
    char dir[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n > 0) {
        dir[n] = '\0';
        for (int up = 0; up < 5; up++) {
            char *slash = strrchr(dir, '/');
            if (!slash) break;
            *slash = '\0';
            snprintf(path, size, "%s/bench/python_baseline.py", dir);
            if (access(path, R_OK) == 0) return 0;
        }
    }
    snprintf(path, size, "bench/python_baseline.py");
    return access(path, R_OK) == 0 ? 0 : -1;
}

static void join_sizes(const size_list *l, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < l->n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%zu", i ? "," : "", l->v[i]);
}

/* Run the Python baseline; its results (a JSON array) go to out_json. */
static int run_python(const char *out_json)
{
    char script[PATH_MAX + 32], lat[256], thr[256], pins[32] = "", min_time[32], reps[16], cpus[32];
    if (find_script(script, sizeof script) < 0) {
        printf("python baseline: bench/python_baseline.py not found (set IPCBENCH_PYTHON_BASELINE)\n");
        return -1;
    }
    join_sizes(&opt.lat, lat, sizeof lat);
    join_sizes(&opt.thr, thr, sizeof thr);
    for (int p = 0; p < 3; p++)
        if (opt.pin[p] && !(p == PIN_CROSS && bench_cpu(1) < 0))
            snprintf(pins + strlen(pins), sizeof pins - strlen(pins), "%s%s", pins[0] ? "," : "", bench_pin_name[p]);
    snprintf(min_time, sizeof min_time, "%g", opt.min_time < 0.1 ? 0.1 : opt.min_time);
    snprintf(reps, sizeof reps, "%d", opt.reps);
    snprintf(cpus, sizeof cpus, "%d,%d", bench_cpu(0), bench_cpu(1));
    char *argv[24];
    int argc = 0;
    char *fixed[] = { "python3", script, "--json", (char *)out_json, "--lat-sizes", lat, "--thr-sizes", thr,
                      "--pin", pins[0] ? pins : "none", "--min-time", min_time, "--reps", reps, "--cpus", cpus };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) argv[argc++] = fixed[i];
    if (!(opt.only & ONLY_LATENCY)) argv[argc++] = "--no-latency";
    if (!(opt.only & ONLY_THROUGHPUT)) argv[argc++] = "--no-throughput";
    argv[argc] = NULL;
    fflush(NULL);
    pid_t pid;
    int err = posix_spawnp(&pid, "python3", NULL, NULL, argv, environ);
    if (err) {
        printf("python baseline: python3 not found (%s): no Python figures\n", strerror(err));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("python baseline: %s failed (status %d)\n", script, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return -1;
    }
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, k;
    do {
        if (n + 65536 > cap) {
            char *g = realloc(buf, cap = cap * 2 + 65536);
            if (!g) { free(buf); fclose(f); return NULL; }
            buf = g;
        }
        k = fread(buf + n, 1, cap - n - 1, f);
        n += k;
    } while (k > 0);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Google Benchmark wrote {"context": {...}, "benchmarks": [ ... ]}; the
 * Python baseline wrote [ {...}, ... ] with the same fields.  Splice its
 * entries into the "benchmarks" array: one file for the report. */
static int merge_json(const char *gb_file, const char *py_file)
{
    size_t glen, plen;
    char *g = slurp(gb_file, &glen), *p = slurp(py_file, &plen);
    int rc = -1;
    char *gend = g ? strrchr(g, ']') : NULL;          /* end of "benchmarks" */
    char *pbeg = p ? strchr(p, '[') : NULL, *pend = p ? strrchr(p, ']') : NULL;
    if (!gend || !pbeg || !pend || pend <= pbeg) {
        fprintf(stderr, "ipcbench: cannot merge %s into %s\n", py_file, gb_file);
        goto out;
    }
    char *last = gend - 1;                            /* empty array? no comma */
    while (last > g && (*last == ' ' || *last == '\n')) last--;
    const char *body = pbeg + 1;
    while (body < pend && (*body == ' ' || *body == '\n')) body++;
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", gb_file);
    FILE *f = fopen(tmp, "w");
    if (!f) { perror(tmp); goto out; }
    fwrite(g, 1, (size_t)(last + 1 - g), f);
    if (body < pend) {
        fputs(*last == '[' ? "\n" : ",\n", f);
        fwrite(body, 1, (size_t)(pend - body), f);
    }
    fputs("\n  ]\n}\n", f);
    if (fclose(f) != 0 || rename(tmp, gb_file) != 0) { perror(gb_file); goto out; }
    rc = 0;
out:
    free(g);
    free(p);
    return rc;
}

/* ---- main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN); /* a raw pipe whose reader is gone says EPIPE */
    bench_cpus_init();
    if (parse_options(&argc, argv) < 0 || check_mech_list() < 0) return 2;
    if (opt.list) {
        list_mechanisms();
        return 0;
    }

    /* Google Benchmark's flags, plus the JSON output we were asked for. */
    char out_flag[PATH_MAX + 32];
    static char **gargv; /* Google Benchmark keeps pointers into it until exit */
    gargv = calloc((size_t)argc + 4, sizeof *gargv);
    if (!gargv) return 1;
    int gargc = 0;
    for (int i = 0; i < argc; i++) gargv[gargc++] = argv[i];
    /* (a per-benchmark MinTime would put "/min_time:0.050" in every name) */
    char min_flag[64];
    if (!opt.min_time_given) {
        snprintf(min_flag, sizeof min_flag, "--benchmark_min_time=%g", opt.min_time);
        gargv[gargc++] = min_flag;
    }
    if (opt.json) {
        snprintf(out_flag, sizeof out_flag, "--benchmark_out=%s", opt.json);
        gargv[gargc++] = out_flag;
        gargv[gargc++] = "--benchmark_out_format=json";
    }
    gb_initialize(&gargc, gargv);
    if (gb_report_unrecognized(gargc, gargv)) return 2;

    bench_watchdog_start();
    bench_set_run_budget(60 + 20 * opt.min_time);
    char cpus[64];
    snprintf(cpus, sizeof cpus, "%d,%d", bench_cpu(0), bench_cpu(1));
    gb_add_context("ipcbench.cpus", cpus);
    gb_add_context("ipcbench.quick", opt.quick ? "1" : "0");
    for (int p = 0; p < 3; p++) {
        char k[64];
        snprintf(k, sizeof k, "ipcbench.placement.%s", bench_pin_name[p]);
        gb_add_context(k, bench_placement_text((enum bench_pin)p));
    }
    printf("ipcbench: CPUs %d and %d; placements: same = %s, cross = %s, none = unpinned\n",
           bench_cpu(0), bench_cpu(1), bench_placement_text(PIN_SAME), bench_placement_text(PIN_CROSS));
    if (register_all() < 0) {
        fprintf(stderr, "ipcbench: registering the benchmarks failed\n");
        return 1;
    }
    fflush(stdout);

    size_t ran = gb_run(NULL);
    bench_session_end();
    gb_shutdown();
    if (ran == 0) {
        fprintf(stderr, "ipcbench: no benchmark ran (does --benchmark_filter match any name?)\n");
        return 1;
    }
    fprintf(stderr, "[ipcbench] %zu benchmarks in %.0f s\n", ran, bench_elapsed());

    if (opt.only & ONLY_PYTHON) {
        /* Without --json the Python figures are only printed. */
        char py_json[PATH_MAX];
        if (opt.json) snprintf(py_json, sizeof py_json, "%s.python", opt.json);
        else snprintf(py_json, sizeof py_json, "/tmp/ipcbench-python.%ld.json", (long)getpid());
        if (run_python(py_json) == 0 && opt.json && merge_json(opt.json, py_json) < 0) return 1;
        unlink(py_json);
    }
    if (opt.json) printf("ipcbench: results in %s\n", opt.json);
    return 0;
}
