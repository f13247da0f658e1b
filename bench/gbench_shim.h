/*
 * gbench_shim.h — Google Benchmark (1.7.1) from C.
 *
 * Google Benchmark is a C++ library; ipcplay's harness is C.  This header is
 * the whole bridge: register a C callback with a `void *user`, drive the
 * keep-running loop, time it (real, manual), report items/bytes and
 * counters, then Initialize / Run / Shutdown.  gbench_shim.cc implements it
 * in a few lines per call; it is the project's only C++ file.
 *
 *     static void bm_memcpy(gb_state *st, void *user) {
 *         while (gb_keep_running(st)) memcpy(dst, src, 4096);
 *         gb_set_bytes_processed(st, gb_iterations(st) * 4096);
 *     }
 *     gb_initialize(&argc, argv);
 *     gb_bench_use_real_time(gb_register("memcpy/4096", bm_memcpy, NULL));
 *     if (gb_run(NULL) == 0) error;            (0 ran = an error, see below)
 *     gb_shutdown();
 *
 * Pitfalls of 1.7.1 the shim takes care of (../shared/TOOLCHAIN.md):
 *   - it is compiled with -DNDEBUG: State::range() asserts in the header;
 *     gb_range() answers 0 for an argument the benchmark was not given;
 *   - gb_run() returns how many benchmarks ran: 0 means the filter matched
 *     nothing (or nothing was registered), which a caller treats as an error;
 *   - --benchmark_min_time takes a plain number of seconds ("0.05").
 *
 * Timing: the default timer counts the CPU time of the thread running the
 * loop, which lies for IPC (a thread blocked in read() looks free).  Every
 * IPC benchmark here says gb_bench_use_real_time() or _use_manual_time().
 */
#ifndef IPCPLAY_GBENCH_SHIM_H
#define IPCPLAY_GBENCH_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gb_state gb_state; /* a running benchmark::State            */
typedef struct gb_bench gb_bench; /* a registered benchmark::internal::Benchmark */
typedef void (*gb_fn)(gb_state *st, void *user);

/* ---- setup ------------------------------------------------------------- */

/* Parse and remove the --benchmark_* flags from argv (argc updated). */
void   gb_initialize(int *argc, char **argv);
/* Complain about flags left in argv; true if there was one. */
bool   gb_report_unrecognized(int argc, char **argv);
/* A key/value pair for the "context" object of the JSON output. */
void   gb_add_context(const char *key, const char *value);

/* Register fn(st, user) under name (copied).  NULL on failure. */
gb_bench *gb_register(const char *name, gb_fn fn, void *user);

/* Per-benchmark options; each returns b so calls can be nested. */
gb_bench *gb_bench_arg(gb_bench *b, int64_t x);                /* one more argument set */
gb_bench *gb_bench_range(gb_bench *b, int64_t lo, int64_t hi, int multiplier);
gb_bench *gb_bench_use_real_time(gb_bench *b);
gb_bench *gb_bench_use_manual_time(gb_bench *b);
gb_bench *gb_bench_min_time(gb_bench *b, double seconds);
gb_bench *gb_bench_iterations(gb_bench *b, int64_t n);
gb_bench *gb_bench_repetitions(gb_bench *b, int n);
enum gb_unit { GB_NS, GB_US, GB_MS, GB_S };
gb_bench *gb_bench_unit(gb_bench *b, enum gb_unit unit);

/* Run every registered benchmark whose name matches the regular expression
 * filter (NULL: --benchmark_filter or all).  Returns how many ran: 0 is an
 * error (nothing matched).  May be called again; each call rewrites the
 * --benchmark_out file. */
size_t gb_run(const char *filter);
void   gb_shutdown(void);

/* ---- inside a benchmark ------------------------------------------------ */

/* The loop: `while (gb_keep_running(st)) { one iteration }`.  The batch
 * form runs n iterations per call (it may overshoot by up to n). */
bool    gb_keep_running(gb_state *st);
bool    gb_keep_running_batch(gb_state *st, int64_t n);
int64_t gb_iterations(const gb_state *st);     /* done so far (= total after the loop) */
int64_t gb_max_iterations(const gb_state *st); /* what this run will do          */
int64_t gb_range(const gb_state *st, int i);   /* argument i, 0 if not given     */

/* With gb_bench_use_manual_time: the time of this iteration (or batch). */
void gb_set_iteration_time(gb_state *st, double seconds);
void gb_pause_timing(gb_state *st);
void gb_resume_timing(gb_state *st);

/* Rates over the measured time: items_per_second, bytes_per_second. */
void gb_set_items_processed(gb_state *st, int64_t items);
void gb_set_bytes_processed(gb_state *st, int64_t bytes);

/* A user counter, shown in the console and in the JSON.  flags: */
enum gb_counter_flags {
    GB_COUNTER_PLAIN    = 0,       /* the value as given                       */
    GB_COUNTER_RATE     = 1 << 0,  /* divided by the measured seconds          */
    GB_COUNTER_PER_ITER = 1 << 1,  /* divided by the number of iterations      */
    GB_COUNTER_INVERT   = 1 << 2,  /* 1/x, after the above                     */
};
void gb_counter(gb_state *st, const char *name, double value, unsigned flags);
/* A free-text label beside the figure (mechanism, wait strategy, CPUs). */
void gb_set_label(gb_state *st, const char *label);
/* Mark this run as failed (or not applicable) with msg; leave the loop and
 * return.  Shown as "ERROR OCCURRED: 'msg'" and stored in the JSON. */
void gb_skip_with_error(gb_state *st, const char *msg);
bool gb_error_occurred(const gb_state *st);

#ifdef __cplusplus
}
#endif
#endif /* IPCPLAY_GBENCH_SHIM_H */
