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
 * size above a mechanism's limit is reported as "n/a (limit N B)", never
 * measured as something else (the limit itself is measured instead).
 *
 * Names: KIND/IMPL/MODE/PLACEMENT/SIZE[/NxM], e.g. latency/pipe/procs/cross/100
 * (filter them with --benchmark_filter=REGEX: it selects the Python rows
 * too, and a filter that matches none of them does not start Python).  The
 * label of each figure is a list of named fields (workload=...;mechanism=...;
 * mode=...;placement=...;size=...;shape=...;wait=...): see bench_case_label.
 *
 * Google Benchmark conventions: prose and progress go to stderr; stdout
 * carries Google Benchmark's display (console by default) or, with
 * --benchmark_format=json, exactly one JSON document: the merged results
 * (C benchmarks, Python rows, the machine context of context.c).
 * --benchmark_out=FILE writes the same document to FILE;
 * --benchmark_repetitions=N (or --reps N) repeats every benchmark, the C and
 * the Python ones, and adds Google Benchmark's mean/median/stddev/cv
 * aggregates.  `ipcbench compare A.json B.json` runs bench/compare.py.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
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
    const char *out;         /* --benchmark_out=FILE             */
    const char *out_format;  /* --benchmark_out_format=FMT       */
    const char *filter;      /* --benchmark_filter=REGEX         */
    bool        stdout_json; /* --benchmark_format=json          */
    bool        aggregates_only; /* --benchmark_report_aggregates_only=true */
    bool        reps_given;  /* --benchmark_repetitions was passed */
    bool        list_tests;  /* --benchmark_list_tests: names only   */
    size_list   lat, thr;    /* message sizes                    */
    bool        sizes_given;
    bool        pin[3];      /* placements: same, cross, none    */
    bool        quick;
    int         reps;
    double      min_time;
    bool        min_time_given; /* --benchmark_min_time was passed */
    unsigned    only;        /* ONLY_* bits                      */
    unsigned    waits;       /* IPC_WAIT_BIT()s; DEFAULT's = each one's default */
    bool        list;
} opt;

enum {
    ONLY_LATENCY = 1 << 0, ONLY_THROUGHPUT = 1 << 1, ONLY_FAN = 1 << 2, ONLY_PAIR = 1 << 3,
    ONLY_RAW = 1 << 4, ONLY_LIMITS = 1 << 5, ONLY_PYTHON = 1 << 6, ONLY_ALL = (1 << 7) - 1,
};
static const char *const only_names[] = { "latency", "throughput", "fan", "pair", "raw", "limits", "python" };
/* --wait words, indexed by enum ipc_wait */
static const char *const wait_names[] = { "default", "block", "spin", "adaptive" };

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
        "  --wait LIST     wait strategies: block,spin,adaptive,default (default: default,\n"
        "                  i.e. each mechanism's own; a mechanism is measured under each\n"
        "                  listed strategy it supports, as IMPL = MECH@STRATEGY)\n"
        "  --reps N        run every benchmark N times (= --benchmark_repetitions=N):\n"
        "                  the report then gives each figure's median and min-max over\n"
        "                  the N repetitions, marks wide spreads, and shows ties\n"
        "  --min-time S    seconds per benchmark (default 0.2; --quick 0.04)\n"
        "  --quick         the short run behind `make run`\n"
        "  --json FILE     write all results (Google Benchmark JSON + the Python baseline)\n"
        "  --no-python     same as leaving python out of --only\n"
        "  --list          list the mechanisms, their wait strategies and raw baselines\n"
        "  --help          this text\n"
        "  compare A.json B.json [options]   compare two result files (bench/compare.py)\n"
        "\n"
        "Names are KIND/IMPL/MODE/PLACEMENT/SIZE[/NxM] (IMPL of a mechanism: MECH@STRATEGY);\n"
        "select with --benchmark_filter=REGEX (Python rows too).  --benchmark_format=json\n"
        "prints one JSON document on stdout; --benchmark_out=FILE writes it to FILE; prose\n"
        "and progress go to stderr.\n"
        "Latency is a round trip (ping-pong, full payload echoed) in manual time; throughput\n"
        "counts messages from \"go\" until the last one is received.  cpu_util is the CPU time\n"
        "of both sides over the wall time (2.0 = two cores busy); cpu_ns_per_op and\n"
        "vcsw_per_op (voluntary context switches: sleeps) are per message, both sides.\n");
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
    opt.waits = IPC_WAIT_BIT(IPC_WAIT_DEFAULT);
    opt.reps = 1;
    opt.min_time = -1;
    bool only_given = false;
    int kept = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < *argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (strncmp(a, "--benchmark_", 12) == 0) {
            /* ours to handle: the merged JSON goes to stdout / the out file */
            if (!strncmp(a, "--benchmark_format=", 19)) {
                opt.stdout_json = !strcmp(a + 19, "json");
                if (opt.stdout_json) continue;
            } else if (!strncmp(a, "--benchmark_out=", 16)) {
                opt.out = a + 16;
                continue;
            } else if (!strncmp(a, "--benchmark_out_format=", 23)) {
                opt.out_format = a + 23;
                continue;
            } else if (!strncmp(a, "--benchmark_filter=", 19)) {
                opt.filter = a + 19;
            } else if (!strncmp(a, "--benchmark_repetitions=", 24)) {
                opt.reps = atoi(a + 24);
                opt.reps_given = true;
                if (opt.reps < 1) opt.reps = 1;
            } else if (!strncmp(a, "--benchmark_report_aggregates_only=", 35)) {
                opt.aggregates_only = !strcmp(a + 35, "true") || !strcmp(a + 35, "1");
            } else if (strncmp(a, "--benchmark_min_time", 20) == 0) {
                opt.min_time_given = true;
            } else if (!strcmp(a, "--benchmark_list_tests") || !strcmp(a, "--benchmark_list_tests=true")) {
                opt.list_tests = true;
            }
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
        } else if (!strcmp(a, "--wait")) {
            if (parse_words(val, wait_names, 4, &opt.waits, "--wait strategy") < 0) return -1;
        } else if (!strcmp(a, "--reps")) {
            int n = atoi(val);
            if (n < 1) { fprintf(stderr, "ipcbench: --reps needs a number >= 1\n"); return -1; }
            if (!opt.reps_given) opt.reps = n; /* --benchmark_repetitions wins */
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
    if (opt.out_format && strcmp(opt.out_format, "json") != 0) {
        fprintf(stderr, "ipcbench: --benchmark_out_format=%s: ipcbench writes its results as json only "
                        "(report.py makes CSV from them)\n", opt.out_format);
        return -1;
    }
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

/* A label value may not hold the field separator. */
static void label_value(char *dst, size_t size, const char *v)
{
    snprintf(dst, size, "%s", v ? v : "none");
    for (char *p = dst; *p; p++)
        if (*p == ';') *p = ',';
}

/* The name and the label of a case, from its fields (bench.h).  Adding a
 * dimension (say a wait strategy): one more name segment and one more
 * label field here. */
static void describe_case(bench_case *c)
{
    int n = snprintf(c->name, sizeof c->name, "%s/%s/%s/%s/%zu", bench_kind_name[c->kind], c->impl->name,
                     bench_mode_name[c->mode], bench_pin_name[c->pin], c->size);
    if (c->kind == KIND_THROUGHPUT && (c->producers > 1 || c->consumers > 1) && n > 0 && (size_t)n < sizeof c->name)
        snprintf(c->name + n, sizeof c->name - (size_t)n, "/%dx%d", c->producers, c->consumers);
    char wait[200];
    label_value(wait, sizeof wait, c->impl->wait);
    snprintf(c->label, sizeof c->label,
             "workload=%s;mechanism=%s;mode=%s;placement=%s;cpus=%s;size=%zu;shape=%dx%d;wait=%s;raw=%s",
             bench_kind_name[c->kind], c->impl->name, bench_mode_name[c->mode], bench_pin_name[c->pin],
             bench_placement_text(c->pin), c->size, c->producers, c->consumers, wait,
             c->raw ? c->raw->name : "none");
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
    describe_case(c);
    if (size > impl->max_msg)
        snprintf(c->na, sizeof c->na, "n/a (limit %zu B)", impl->max_msg);
    else if (pin == PIN_CROSS && bench_cpu(1) < 0)
        snprintf(c->na, sizeof c->na, "n/a (only one CPU to run on)");
    return c;
}

static void add_modes(enum bench_kind kind, const bench_impl *impl, const size_list *wanted,
                      const bool *pins, int producers, int consumers)
{
    /* A size above the limit is listed (as "n/a (limit N B)" in the context)
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
    bench_context_set(k, v);
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
    printf("%-15s %-8s %-14s %-19s %-11s %-24s %-45s %s\n", "mechanism", "family", "carrier", "runs in",
           "max msg", "waits (*default)", "blocks in", "raw baseline");
    for (size_t i = 0; i < n; i++) {
        const ipc_mechanism *m = all[i];
        const char *why;
        const bench_impl *raw = bench_raw_for(m, &why);
        char runs[40];
        snprintf(runs, sizeof runs, "%s%s%s", m->caps & IPC_CAP_THREADS ? "threads " : "",
                 m->caps & IPC_CAP_FORK ? "procs " : "", m->caps & IPC_CAP_MPMC ? "mpmc" : "");
        char waits[40] = "";
        unsigned set = m->waits ? m->waits : IPC_WAIT_BIT(IPC_WAIT_BLOCK);
        int dflt = m->wait_default ? m->wait_default : IPC_WAIT_BLOCK;
        for (int w = IPC_WAIT_BLOCK; w <= IPC_WAIT_ADAPTIVE; w++)
            if (set & IPC_WAIT_BIT(w))
                snprintf(waits + strlen(waits), sizeof waits - strlen(waits), "%s%s%s",
                         waits[0] ? "," : "", ipc_wait_name(w), w == dflt ? "*" : "");
        printf("%-15s %-8s %-14s %-19s %-11zu %-24s %-45s %s%s%s\n", m->name, ipc_family_name(m->family_id),
               ipc_carrier_name(m->carrier), runs, m->max_msg_limit,
               waits, m->wait_strategy ? m->wait_strategy : "?", raw ? raw->name : "", raw ? " — " : "", why);
    }
}

/* Everything to measure, in course order: each mechanism (with its raw
 * baseline and observed variant in the same cases), then the limits. */
static int register_all(void)
{
    size_t n;
    const ipc_mechanism *const *all = ipc_mechanisms(&n);
    enum { STRATEGIES = IPC_WAIT_ADAPTIVE + 1 };
    bench_impl *impls = calloc(2 * STRATEGIES * n + 1, sizeof *impls);
    if (!impls) return -1;
    for (size_t i = 0; i < n; i++) {
        const ipc_mechanism *m = all[i];
        if (!selected(m->name)) continue;
        /* The strategies asked for that m supports ("default" = its own), once each. */
        unsigned can = m->waits ? m->waits : IPC_WAIT_BIT(IPC_WAIT_BLOCK), want = 0;
        int dflt = m->wait_default ? m->wait_default : IPC_WAIT_BLOCK;
        for (int w = IPC_WAIT_DEFAULT; w < STRATEGIES; w++)
            if (opt.waits & IPC_WAIT_BIT(w)) want |= IPC_WAIT_BIT(w == IPC_WAIT_DEFAULT ? dflt : w);
        if (want & ~can) fprintf(stderr, "%s: cannot wait by the other strategies asked for\n", m->name);
        const char *why;
        current_raw = bench_raw_for(m, &why);
        for (int w = IPC_WAIT_BLOCK; w < STRATEGIES; w++) {
            if (!(want & can & IPC_WAIT_BIT(w))) continue;
            bench_impl *impl = &impls[2 * (STRATEGIES * i + (size_t)w)], *observed = impl + 1;
            if (bench_impl_from_mechanism(impl, m, false, w) < 0 ||
                bench_impl_from_mechanism(observed, m, true, w) < 0) return -1;
            current_observed = observed;
            groups++;
            add_channel_cases(impl);
            add_context(impl->name, m->family, impl->wait,
                        current_raw && (opt.only & ONLY_RAW) ? current_raw->name : NULL);
        }
        bool raw_seen = false; /* several mechanisms share a raw baseline */
        const char *note;
        for (size_t k = 0; k < i && current_raw; k++)
            raw_seen |= selected(all[k]->name) && bench_raw_for(all[k], &note) == current_raw;
        if (current_raw && (opt.only & ONLY_RAW) && !raw_seen)
            add_context(current_raw->name, "raw", current_raw->wait, NULL);
        if (!current_raw) fprintf(stderr, "%s: %s\n", m->name, why);
        const bench_impl *batch = bench_batch_for(m);
        if (batch && (opt.only & ONLY_THROUGHPUT)) { /* its batched path, beside it */
            /* The mechanism's raw baseline (a stream's one-read-per-message
             * loop) runs in the batch's cases too, so its rows carry vs_raw
             * like the mechanism's own; brokers have none. */
            current_observed = NULL;
            add_modes(KIND_THROUGHPUT, batch, &opt.thr, opt.pin, 1, 1);
            add_context(batch->name, m->family, batch->wait,
                        current_raw && (opt.only & ONLY_RAW) ? current_raw->name : NULL);
        }
    }
    current_raw = current_observed = NULL;
    if (opt.only & ONLY_LIMITS) {
        groups++;
        if (opt.only & ONLY_LATENCY) {
            const size_list ball = { { sizeof(long) }, 1 };
            add_modes(KIND_CACHELINE, &limit_cacheline, &ball, opt.pin, 1, 1);
        }
        groups++;
        if (opt.only & ONLY_THROUGHPUT) /* the bare SPSC ring: 8-byte items, two pinned threads */
            for (enum bench_pin p = PIN_SAME; p <= PIN_CROSS; p++)
                if (opt.pin[p]) add_case(KIND_SPSC, &limit_spsc, MODE_THREADS, p, sizeof(uint64_t), 1, 1);
        if (opt.only & ONLY_THROUGHPUT)
            for (int s = 0; s < opt.thr.n; s++)
                add_case(KIND_MEMCPY, &limit_memcpy, MODE_SINGLE, PIN_SAME, opt.thr.v[s], 1, 1);
        add_context(limit_cacheline.name, "limit", limit_cacheline.wait, NULL);
        add_context(limit_memcpy.name, "limit", limit_memcpy.wait, NULL);
        add_context(limit_spsc.name, "limit", limit_spsc.wait, NULL);
    }
    /* impls stay alive until exit: the cases point into them */

    for (int i = 0; i < ncases; i++) {
        bench_case *c = cases[i];
        c->groups = groups;
        /* Not applicable: not a benchmark (Google Benchmark would print it
         * as an error), but a line of the context the report shows. */
        if (c->na[0]) {
            char k[200];
            snprintf(k, sizeof k, "na.%s", c->name);
            bench_context_set(k, c->na);
            continue;
        }
        gb_bench *b = gb_register(c->name, bench_case_run, c);
        if (!b) return -1;
        /* memcpy is one thread doing all the work: real time is right.
         * Everything else times itself (see workloads.c). */
        if (c->kind == KIND_MEMCPY) gb_bench_use_real_time(b);
        else gb_bench_use_manual_time(b);
        gb_bench_unit(b, c->kind == KIND_LATENCY || c->kind == KIND_CACHELINE ? GB_US : GB_NS);
    }
    return 0;
}

/* ---- the Python baseline ----------------------------------------------- */

/* bench/NAME next to the sources: $ENV (if set), or found by walking up from
 * the executable (build/ipcbench, build/<dir>/ipcbench ...), or from the
 * current directory. */
static int find_script(const char *name, const char *env_name, char *path, size_t size)
{
    const char *env = env_name ? getenv(env_name) : NULL;
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
            snprintf(path, size, "%s/bench/%s", dir, name);
            if (access(path, R_OK) == 0) return 0;
            snprintf(path, size, "%s/share/ipcplay/bench/%s", dir, name); /* installed: <prefix>/bin/ipcbench */
            if (access(path, R_OK) == 0) return 0;
        }
    }
    snprintf(path, size, "bench/%s", name);
    return access(path, R_OK) == 0 ? 0 : -1;
}

static void join_sizes(const size_list *l, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < l->n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%zu", i ? "," : "", l->v[i]);
}

/* The placements the Python baseline runs: those asked for that this
 * machine has ("cross" needs a second CPU). */
static void python_pins(char *buf, size_t size)
{
    buf[0] = '\0';
    for (int p = 0; p < 3; p++)
        if (opt.pin[p] && !(p == PIN_CROSS && bench_cpu(1) < 0))
            snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", buf[0] ? "," : "", bench_pin_name[p]);
}

/* The rows bench/python_baseline.py measures (its IMPLS list), named like
 * ours: KIND/IMPL/MODE/PLACEMENT/SIZE.  Kept here so that a
 * --benchmark_filter matching none of them does not start Python at all. */
static const struct { const char *impl, *mode; } python_rows[] = {
    { "python:queue.Queue", "threads" }, { "python:mp.Queue", "procs" }, { "python:mp.Pipe", "procs" },
    { "python:ipcplay.Queue", "procs" },
};

/* How many Python rows --benchmark_filter selects (Google Benchmark's rule:
 * a regular expression searched in the name; a leading '-' negates it;
 * empty or "all" selects everything).  -1: the expression is not POSIX
 * extended syntax; Python will apply it itself. */
static int python_rows_selected(bool print)
{
    const char *f = opt.filter;
    bool negate = f && f[0] == '-';
    if (negate) f++;
    bool all = !f || !*f || !strcmp(f, "all");
    regex_t re;
    if (!all && regcomp(&re, f, REG_EXTENDED | REG_NOSUB) != 0) return -1;
    int count = 0;
    char pins[32];
    python_pins(pins, sizeof pins);
    for (size_t r = 0; r < sizeof python_rows / sizeof python_rows[0]; r++)
        for (int k = 0; k < 2; k++) {
            if (!(opt.only & (k == 0 ? ONLY_LATENCY : ONLY_THROUGHPUT))) continue;
            const size_list *sizes = k == 0 ? &opt.lat : &opt.thr;
            for (int p = 0; p < 3; p++) {
                if (!strstr(pins, bench_pin_name[p])) continue;
                for (int i = 0; i < sizes->n; i++) {
                    char name[160];
                    snprintf(name, sizeof name, "%s/%s/%s/%s/%zu", k == 0 ? "latency" : "throughput",
                             python_rows[r].impl, python_rows[r].mode, bench_pin_name[p], sizes->v[i]);
                    bool match = (all || regexec(&re, name, 0, NULL, 0) == 0) != negate;
                    count += match;
                    if (match && print) printf("%s\n", name);
                }
            }
        }
    if (!all) regfree(&re);
    return count;
}

/* Run the Python baseline; its results (a JSON array) go to out_json.
 * Its stdout (one line per row) goes to our stderr: stdout is for results. */
static int run_python(const char *out_json)
{
    char script[PATH_MAX + 32], lat[256], thr[256], pins[32], min_time[32], reps[16], cpus[32];
    if (find_script("python_baseline.py", "IPCBENCH_PYTHON_BASELINE", script, sizeof script) < 0) {
        fprintf(stderr, "python baseline: bench/python_baseline.py not found (set IPCBENCH_PYTHON_BASELINE)\n");
        return -1;
    }
    join_sizes(&opt.lat, lat, sizeof lat);
    join_sizes(&opt.thr, thr, sizeof thr);
    python_pins(pins, sizeof pins);
    snprintf(min_time, sizeof min_time, "%g", opt.min_time < 0.1 ? 0.1 : opt.min_time);
    snprintf(reps, sizeof reps, "%d", opt.reps);
    snprintf(cpus, sizeof cpus, "%d,%d", bench_cpu(0), bench_cpu(1));
    char *argv[32];
    int argc = 0;
    char *fixed[] = { "python3", script, "--json", (char *)out_json, "--lat-sizes", lat, "--thr-sizes", thr,
                      "--pin", pins[0] ? pins : "none", "--min-time", min_time, "--reps", reps, "--cpus", cpus };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) argv[argc++] = fixed[i];
    if (!(opt.only & ONLY_LATENCY)) argv[argc++] = "--no-latency";
    if (!(opt.only & ONLY_THROUGHPUT)) argv[argc++] = "--no-throughput";
    if (opt.filter) {
        argv[argc++] = "--filter";
        argv[argc++] = (char *)opt.filter;
    }
    if (opt.aggregates_only) argv[argc++] = "--aggregates-only";
    argv[argc] = NULL;
    fflush(NULL);
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) return -1;
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
    pid_t pid;
    int err = posix_spawnp(&pid, "python3", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err) {
        fprintf(stderr, "python baseline: python3 not found (%s): no Python figures\n", strerror(err));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "python baseline: %s failed (status %d)\n", script,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
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

/* Copy the file at path to fd (stdout) or to another path. */
static int copy_out(const char *path, FILE *to, const char *to_path)
{
    size_t len;
    char *text = slurp(path, &len);
    if (!text) return bench_fail_errno("%s", path);
    FILE *f = to ? to : fopen(to_path, "w");
    int rc = f && fwrite(text, 1, len, f) == len ? 0 : -1;
    if (f && !to && fclose(f) != 0) rc = -1;
    if (f && to && fflush(f) != 0) rc = -1;
    free(text);
    return rc < 0 ? bench_fail_errno("writing %s", to_path ? to_path : "stdout") : 0;
}

/* `ipcbench compare ...`: bench/compare.py with the same arguments. */
static int run_compare(int argc, char **argv)
{
    char script[PATH_MAX + 32];
    if (find_script("compare.py", "IPCBENCH_COMPARE", script, sizeof script) < 0) {
        fprintf(stderr, "ipcbench compare: bench/compare.py not found (set IPCBENCH_COMPARE)\n");
        return 2;
    }
    char **args = calloc((size_t)argc + 2, sizeof *args);
    if (!args) return 1;
    args[0] = "python3";
    args[1] = script;
    for (int i = 2; i < argc; i++) args[i] = argv[i];
    execvp("python3", args);
    fprintf(stderr, "ipcbench compare: cannot run python3: %s\n", strerror(errno));
    return 2;
}

/* ---- main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "compare")) return run_compare(argc, argv);
    signal(SIGPIPE, SIG_IGN); /* a raw pipe whose reader is gone says EPIPE */
    bench_cpus_init();
    if (parse_options(&argc, argv) < 0 || check_mech_list() < 0) return 2;
    if (opt.list) {
        list_mechanisms();
        return 0;
    }

    /* Google Benchmark always writes its JSON to one file of ours (--json,
     * else --benchmark_out, else a temporary one); the Python rows are
     * merged into it, and it is then copied where it was asked for. */
    char tmp_json[64] = "";
    const char *json = opt.json ? opt.json : opt.out;
    if (!json) {
        snprintf(tmp_json, sizeof tmp_json, "/tmp/ipcbench.%ld.json", (long)getpid());
        json = tmp_json;
    }
    char out_flag[PATH_MAX + 32];
    static char **gargv; /* Google Benchmark keeps pointers into it until exit */
    gargv = calloc((size_t)argc + 6, sizeof *gargv);
    if (!gargv) return 1;
    int gargc = 0;
    for (int i = 0; i < argc; i++) gargv[gargc++] = argv[i];
    /* (a per-benchmark MinTime would put "/min_time:0.050" in every name) */
    char min_flag[64], reps_flag[64];
    if (!opt.min_time_given) {
        snprintf(min_flag, sizeof min_flag, "--benchmark_min_time=%g", opt.min_time);
        gargv[gargc++] = min_flag;
    }
    /* the flag, not Benchmark::Repetitions(): names stay free of "/repeats:N" */
    if (!opt.reps_given && opt.reps > 1) {
        snprintf(reps_flag, sizeof reps_flag, "--benchmark_repetitions=%d", opt.reps);
        gargv[gargc++] = reps_flag;
    }
    snprintf(out_flag, sizeof out_flag, "--benchmark_out=%s", json);
    gargv[gargc++] = out_flag;
    gargv[gargc++] = "--benchmark_out_format=json";
    gb_initialize(&gargc, gargv);
    if (gb_report_unrecognized(gargc, gargv)) return 2;

    /* stdout carries results only: with --benchmark_format=json, the merged
     * JSON at the end; Google Benchmark's console display goes to stderr. */
    int saved_stdout = -1;
    if (opt.stdout_json) {
        fflush(stdout);
        saved_stdout = dup(1);
        if (saved_stdout < 0 || dup2(2, 1) < 0) {
            perror("ipcbench: dup");
            return 1;
        }
    }

    bench_watchdog_start();
    bench_set_run_budget(60 + 20 * opt.min_time);
    char cpus[64];
    snprintf(cpus, sizeof cpus, "%d,%d", bench_cpu(0), bench_cpu(1));
    bench_context_set("ipcbench.cpus", cpus);
    bench_context_set("ipcbench.quick", opt.quick ? "1" : "0");
    char reps[16];
    snprintf(reps, sizeof reps, "%d", opt.reps);
    bench_context_set("ipcbench.repetitions", reps);
    for (int p = 0; p < 3; p++) {
        char k[64];
        snprintf(k, sizeof k, "ipcbench.placement.%s", bench_pin_name[p]);
        bench_context_set(k, bench_placement_text((enum bench_pin)p));
    }
    bench_context_add();
    fprintf(stderr, "ipcbench: CPUs %d and %d; placements: same = %s, cross = %s, none = unpinned\n",
            bench_cpu(0), bench_cpu(1), bench_placement_text(PIN_SAME), bench_placement_text(PIN_CROSS));
    if (register_all() < 0) {
        fprintf(stderr, "ipcbench: registering the benchmarks failed\n");
        return 1;
    }

    size_t ran = gb_run(NULL);
    bench_session_end();
    gb_shutdown();
    fflush(stdout);
    if (opt.list_tests) { /* Google Benchmark listed ours; the Python rows follow */
        if (opt.only & ONLY_PYTHON) python_rows_selected(true);
        if (tmp_json[0]) unlink(tmp_json);
        return 0;
    }
    int py_rows = (opt.only & ONLY_PYTHON) ? python_rows_selected(false) : 0;
    if (ran == 0 && py_rows == 0) {
        fprintf(stderr, "ipcbench: no benchmark ran (does --benchmark_filter match any name?)\n");
        if (tmp_json[0]) unlink(tmp_json);
        return 1;
    }
    fprintf(stderr, "[ipcbench] %zu benchmarks in %.0f s\n", ran, bench_elapsed());
    if (ran == 0) {
        /* only Python rows selected: Google Benchmark wrote nothing */
        FILE *f = fopen(json, "w");
        if (f) {
            /* what Google Benchmark's context would have said first */
            char host[256] = "?", date[64] = "?";
            time_t now = time(NULL);
            gethostname(host, sizeof host - 1);
            strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S+00:00", gmtime(&now));
            bench_context_keep("date", date);
            bench_context_keep("host_name", host);
            bench_context_keep("ipcbench.note", "no C benchmark selected (only Python rows)");
            fputs("{\n  \"context\": ", f);
            bench_context_write(f);
            fputs(",\n  \"benchmarks\": [\n  ]\n}\n", f);
        }
        if (!f || ferror(f) || fclose(f) != 0) {
            perror(json);
            return 1;
        }
    }

    int rc = 0;
    if (py_rows == 0 && (opt.only & ONLY_PYTHON)) {
        fprintf(stderr, "python baseline: --benchmark_filter matches no Python row: not run\n");
    } else if (opt.only & ONLY_PYTHON) {
        char py_json[PATH_MAX];
        snprintf(py_json, sizeof py_json, "%s.python", json);
        if (run_python(py_json) == 0 && merge_json(json, py_json) < 0) rc = 1;
        unlink(py_json);
    }
    if (saved_stdout >= 0) {
        fflush(stdout);
        if (dup2(saved_stdout, 1) < 0) rc = 1;
        close(saved_stdout);
        if (copy_out(json, stdout, NULL) < 0) {
            fprintf(stderr, "ipcbench: %s\n", bench_error());
            rc = 1;
        }
    }
    if (opt.json && opt.out && strcmp(opt.json, opt.out) != 0 && copy_out(opt.json, NULL, opt.out) < 0) {
        fprintf(stderr, "ipcbench: %s\n", bench_error());
        rc = 1;
    }
    if (tmp_json[0]) unlink(tmp_json);
    else fprintf(stderr, "ipcbench: results in %s\n", json);
    if (bench_stuck_peer()) {
        /* A peer thread still inside a mechanism: the library's exit
         * handlers (stopping an embedded broker, say) would pull the
         * mechanism from under it.  Leave without them; the brokers'
         * servers die with us (PR_SET_PDEATHSIG). */
        fprintf(stderr, "ipcbench: a peer thread of %s is still stuck: exiting without the exit handlers\n",
                bench_stuck_peer());
        fflush(NULL);
        _exit(rc);
    }
    return rc;
}
