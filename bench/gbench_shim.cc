// gbench_shim.cc — the C API of gbench_shim.h on top of Google Benchmark 1.7.1.
//
// The project's only C++ file.  gb_state and gb_bench are never defined: a
// gb_state * IS a benchmark::State *, and a gb_bench * IS a
// benchmark::internal::Benchmark *, cast at the boundary.  A C callback is
// registered through a capturing lambda that carries the function pointer
// and its `void *user`.
#include "gbench_shim.h"

#include <benchmark/benchmark.h>

#include <map>
#include <string>

namespace {

benchmark::State *S(gb_state *st) { return reinterpret_cast<benchmark::State *>(st); }
const benchmark::State *S(const gb_state *st) { return reinterpret_cast<const benchmark::State *>(st); }
benchmark::internal::Benchmark *B(gb_bench *b) { return reinterpret_cast<benchmark::internal::Benchmark *>(b); }
gb_bench *C(benchmark::internal::Benchmark *b) { return reinterpret_cast<gb_bench *>(b); }

// What a registration carries: the C callback, its user pointer, and how
// many arguments each run gets.  State::range() does not bounds-check once
// NDEBUG is on, so gb_range() consults `nargs` instead of trusting the index.
struct c_benchmark {
    gb_fn fn;
    void *user;
    int   nargs;
};
std::map<benchmark::internal::Benchmark *, c_benchmark *> registrations;

// The registration whose callback is running (benchmarks run one at a time
// on the main thread).
thread_local const c_benchmark *running;

} // namespace

extern "C" {

void gb_initialize(int *argc, char **argv) { benchmark::Initialize(argc, argv); }

bool gb_report_unrecognized(int argc, char **argv)
{
    return benchmark::ReportUnrecognizedArguments(argc, argv);
}

void gb_add_context(const char *key, const char *value)
{
    benchmark::AddCustomContext(key, value);
}

gb_bench *gb_register(const char *name, gb_fn fn, void *user)
{
    if (!name || !fn) return nullptr;
    auto *cb = new c_benchmark{fn, user, 0}; // lives as long as the registration
    auto *b = benchmark::RegisterBenchmark(name, [cb](benchmark::State &st) {
        running = cb;
        cb->fn(reinterpret_cast<gb_state *>(&st), cb->user);
        running = nullptr;
        // A C callback that returns early without an error would trip the
        // library's "returned before KeepRunning() returned false" check and
        // abort the whole program: turn it into a reported error instead.
        if (!st.error_occurred() && st.iterations() < st.max_iterations)
            st.SkipWithError("benchmark returned before its loop finished");
    });
    registrations[b] = cb;
    return C(b);
}

// Every argument set registered here has exactly one value.
static gb_bench *one_arg(gb_bench *b)
{
    registrations.at(B(b))->nargs = 1;
    return b;
}

gb_bench *gb_bench_arg(gb_bench *b, int64_t x) { return one_arg(C(B(b)->Arg(x))); }

gb_bench *gb_bench_range(gb_bench *b, int64_t lo, int64_t hi, int multiplier)
{
    // RangeMultiplier must come before Range (1.7.1 pitfall)
    return one_arg(C(B(b)->RangeMultiplier(multiplier)->Range(lo, hi)));
}

gb_bench *gb_bench_use_real_time(gb_bench *b) { return C(B(b)->UseRealTime()); }
gb_bench *gb_bench_use_manual_time(gb_bench *b) { return C(B(b)->UseManualTime()); }
gb_bench *gb_bench_min_time(gb_bench *b, double seconds) { return C(B(b)->MinTime(seconds)); }
gb_bench *gb_bench_iterations(gb_bench *b, int64_t n) { return C(B(b)->Iterations(n)); }
gb_bench *gb_bench_repetitions(gb_bench *b, int n) { return C(B(b)->Repetitions(n)); }

gb_bench *gb_bench_unit(gb_bench *b, enum gb_unit unit)
{
    static const benchmark::TimeUnit units[] = {
        benchmark::kNanosecond, benchmark::kMicrosecond, benchmark::kMillisecond, benchmark::kSecond,
    };
    return C(B(b)->Unit(units[unit]));
}

size_t gb_run(const char *filter)
{
    // 1.7.1 wraps its static default display reporter in a unique_ptr and
    // deletes it at the end of RunSpecifiedBenchmarks: a second run would
    // use freed memory.  Passing that reporter ourselves keeps it alive.
    static benchmark::BenchmarkReporter *display = benchmark::CreateDefaultDisplayReporter();
    return filter ? benchmark::RunSpecifiedBenchmarks(display, std::string(filter))
                  : benchmark::RunSpecifiedBenchmarks(display);
}

void gb_shutdown(void)
{
    benchmark::Shutdown();
    // Forget the benchmarks (their lambdas point into our side table).
    benchmark::ClearRegisteredBenchmarks();
    for (auto &r : registrations) delete r.second;
    registrations.clear();
}

bool gb_keep_running(gb_state *st) { return S(st)->KeepRunning(); }
bool gb_keep_running_batch(gb_state *st, int64_t n) { return S(st)->KeepRunningBatch(n); }
int64_t gb_iterations(const gb_state *st) { return S(st)->iterations(); }
int64_t gb_max_iterations(const gb_state *st) { return S(st)->max_iterations; }

int64_t gb_range(const gb_state *st, int i)
{
    return running && i >= 0 && i < running->nargs ? S(st)->range(static_cast<std::size_t>(i)) : 0;
}

void gb_set_iteration_time(gb_state *st, double seconds) { S(st)->SetIterationTime(seconds); }
void gb_pause_timing(gb_state *st) { S(st)->PauseTiming(); }
void gb_resume_timing(gb_state *st) { S(st)->ResumeTiming(); }
void gb_set_items_processed(gb_state *st, int64_t items) { S(st)->SetItemsProcessed(items); }
void gb_set_bytes_processed(gb_state *st, int64_t bytes) { S(st)->SetBytesProcessed(bytes); }

void gb_counter(gb_state *st, const char *name, double value, unsigned flags)
{
    int f = benchmark::Counter::kDefaults;
    if (flags & GB_COUNTER_RATE) f |= benchmark::Counter::kIsRate;
    if (flags & GB_COUNTER_PER_ITER) f |= benchmark::Counter::kAvgIterations;
    if (flags & GB_COUNTER_INVERT) f |= benchmark::Counter::kInvert;
    S(st)->counters[name] = benchmark::Counter(value, static_cast<benchmark::Counter::Flags>(f));
}

void gb_set_label(gb_state *st, const char *label) { S(st)->SetLabel(label); }
void gb_skip_with_error(gb_state *st, const char *msg) { S(st)->SkipWithError(msg); }
bool gb_error_occurred(const gb_state *st) { return S(st)->error_occurred(); }

} // extern "C"
