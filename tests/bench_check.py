#!/usr/bin/env python3
"""bench_check.py -- the checks of tests/test_bench.c that read JSON and CSV.

Independent of bench/report.py's code on purpose: it recomputes what the report
claims from the raw JSON with its own few lines, so a wrong statistic in the
report cannot agree with itself.

  bench_check.py json-doc FILE          FILE (ipcbench's stdout) is exactly one JSON
                                        document with benchmarks and a context
  bench_check.py ratios JSON DIR        every ratio in DIR/results.csv and
                                        DIR/summary.csv (and the figures they divide)
                                        is the median over the repetitions of the
                                        same per-repetition statistic on both sides
  bench_check.py context JSON           the machine context is in the result file
  bench_check.py python-rows JSON N     exactly N Python rows (0: none ran)
  bench_check.py synthetic DIR          write DIR/A.json, DIR/B2x.json (every time doubled)
                                        and DIR/Bsame.json (the same distribution), two
                                        "machines", 9 repetitions each
  bench_check.py compare-2x CSV         compare.csv of A against B2x: every benchmark 2x
                                        slower (within 1 %) and significant
  bench_check.py compare-same CSV       compare.csv of A against Bsame: no significant change
  bench_check.py mwu                    bench/compare.py's Mann-Whitney U against published
                                        values (scipy's documentation example) and, when
                                        scipy is installed, against scipy

Exit status 0 when the check holds; otherwise a message on stderr and 1.
"""
import csv
import json
import os
import random
import statistics
import sys

FIELD = {"latency": ("p50_ns", "raw_p50_ns"), "throughput": ("msg_ns", "raw_msg_ns"),
         "pair": ("ns_per_op", "raw_ns_per_op")}
PYTHON = {"threads": "python:queue.Queue", "procs": "python:mp.Queue"}


def fail(msg):
    print(f"bench_check: {msg}", file=sys.stderr)
    sys.exit(1)


def close(a, b):
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def per_rep(path):
    """{benchmark name without suffix: [iteration entries]}"""
    with open(path) as f:
        data = json.load(f)
    out = {}
    for e in data["benchmarks"]:
        if e.get("run_type") == "aggregate" or e.get("error_occurred"):
            continue
        name = e.get("run_name", e["name"])
        for suffix in ("/manual_time", "/real_time"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
        out.setdefault(name, []).append(e)
    return data, out


def json_doc(path):
    with open(path) as f:
        text = f.read()
    try:
        doc = json.loads(text)  # exactly one document: anything around it fails here
    except ValueError as e:
        fail(f"{path} is not one JSON document: {e}; it starts {text[:120]!r}")
    if not isinstance(doc, dict) or "benchmarks" not in doc or "context" not in doc:
        fail(f"{path}: no benchmarks/context")
    if not doc["benchmarks"]:
        fail(f"{path}: no benchmark entries")


def ratios(path, out_dir):
    _, runs = per_rep(path)

    def stat(name, raw=False):
        kind = name.split("/")[0]
        field = FIELD[kind][1 if raw else 0]
        vals = [float(e[field]) for e in runs.get(name, []) if field in e]
        return statistics.median(vals) if vals else None

    checked = {"raw": 0, "python": 0, "figure": 0}
    with open(f"{out_dir}/results.csv") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        name = r["name"]
        kind = r["workload"]
        if r["error"] or kind not in FIELD or name not in runs or r["statistic"] == "mean":
            continue  # (memcpy, a one-thread ceiling, has Google Benchmark's mean, and says so)
        t = stat(name)
        if r["t_ns"] and not close(float(r["t_ns"]), t):
            fail(f"{name}: t_ns {r['t_ns']}, the JSON's median of {FIELD[kind][0]} is {t}")
        checked["figure"] += 1
        if r["cost_vs_raw"]:
            want = t / stat(name, raw=True)
            if not close(float(r["cost_vs_raw"]), want):
                fail(f"{name}: cost_vs_raw {r['cost_vs_raw']}, medians of {FIELD[kind][0]} and "
                     f"{FIELD[kind][1]} give {want}")
            checked["raw"] += 1
        if r["speedup_vs_python"]:
            parts = name.split("/")
            py = "/".join([parts[0], PYTHON[parts[2]], parts[2], parts[3], parts[4]])
            want = stat(py) / t
            if not close(float(r["speedup_vs_python"]), want):
                fail(f"{name}: speedup_vs_python {r['speedup_vs_python']}, medians of {FIELD[kind][0]} "
                     f"({py} / ours) give {want}")
            checked["python"] += 1
    # the ranked table: its ratios are those of its latency and throughput rows
    with open(f"{out_dir}/summary.csv") as f:
        summary = list(csv.DictReader(f))
    for s in summary:
        lat = None
        for r in rows:
            if (r["workload"] == "latency" and r["mechanism"] == s["mechanism"] and r["mode"] == s["mode"]
                    and r["t_ns"] and s["rt_cross_ns"] and close(float(r["t_ns"]), float(s["rt_cross_ns"]))):
                lat = r
        if lat is None:
            for r in rows:
                if (r["workload"] == "latency" and r["mechanism"] == s["mechanism"] and r["mode"] == s["mode"]
                        and r["t_ns"] and s["rt_same_ns"] and close(float(r["t_ns"]), float(s["rt_same_ns"]))):
                    lat = r
        if lat is None:
            fail(f"summary row {s['mechanism']} {s['mode']}: no latency row with its figure")
        for col, src in (("lat_vs_raw", "cost_vs_raw"), ("lat_vs_py", "speedup_vs_python")):
            if s[col] or lat[src]:
                if not (s[col] and lat[src] and close(float(s[col]), float(lat[src]))):
                    fail(f"summary {s['mechanism']} {s['mode']}: {col} {s[col]!r} but its latency row says "
                         f"{lat[src]!r}")
                checked["raw" if "raw" in col else "python"] += 1
    if checked["figure"] < 4 or checked["raw"] < 4 or checked["python"] < 2:
        fail(f"too little was checked: {checked}")
    print(f"bench_check: ratios hold ({checked})")


def context(path):
    with open(path) as f:
        ctx = json.load(f)["context"]
    for k in ("cpu_model", "cores", "kernel", "virtualization", "cpuidle", "governor", "load_before", "commit",
              "compiler", "cflags", "build_type", "repetitions"):
        if not ctx.get(f"ipcbench.{k}"):
            fail(f"{path}: no ipcbench.{k} in the context")
    for k in ("library_build_type", "host_name", "date"):
        if k not in ctx:
            fail(f"{path}: no {k} in the context")


def python_rows(path, want):
    with open(path) as f:
        n = sum(1 for e in json.load(f)["benchmarks"]
                if e["name"].split("/")[1].startswith("python:") and e.get("run_type") != "aggregate")
    if n != int(want):
        fail(f"{path}: {n} Python entries, expected {want}")


SYNTH = [("latency/pipe/threads/cross/100", "p50_ns", 50000.0, "manual_time"),
         ("throughput/queue/procs/cross/100", "msg_ns", 800.0, "manual_time"),
         ("pair/shm/single/same/100", "ns_per_op", 40.0, "manual_time"),
         ("latency/python:mp.Queue/procs/cross/100", "p50_ns", 90000.0, None)]


def synthetic_file(path, host, factor, seed, reps=9):
    """Each benchmark's repetitions: base x (1 +- up to 10 %) drawn with `seed`; then
    on the other host shuffled and multiplied by factor: with the same seed and factor 2,
    exactly twice A's values in another order; with factor 1, A's values in another order,
    each moved by up to 0.2 % (the same distribution, not the same numbers)."""
    rng = random.Random(seed)
    entries = []
    for name, field, base, suffix in SYNTH:
        full = f"{name}/{suffix}" if suffix else name
        vals = [base * (1 + rng.uniform(-0.1, 0.1)) for _ in range(reps)]
        if factor != 1 or host != "laptop":
            random.Random(seed + 100).shuffle(vals)
            vals = [factor * v for v in vals]
        if factor == 1 and host != "laptop":  # the same distribution, other draws: jitter each value
            jitter = random.Random(seed + 200)
            vals = [v * (1 + jitter.uniform(-0.002, 0.002)) for v in vals]
        kind, mech, mode, place, size = name.split("/")
        label = f"workload={kind};mechanism={mech};mode={mode};placement={place};size={size};shape=1x1;wait=block"
        for i, v in enumerate(vals):
            entries.append({"name": full, "run_name": full, "run_type": "iteration", "repetitions": reps,
                            "repetition_index": i, "iterations": 1000, "real_time": v, "cpu_time": v,
                            "time_unit": "ns", field: v, "label": label})
        entries.append({"name": full + "_median", "run_name": full, "run_type": "aggregate",
                        "aggregate_name": "median", "real_time": statistics.median(vals), field: 1.0,
                        "label": label})
    doc = {"context": {"host_name": host, "date": "2026-12-04T12:00:00+00:00", "ipcbench.repetitions": str(reps)},
           "benchmarks": entries}
    with open(path, "w") as f:
        json.dump(doc, f)


def synthetic(out_dir):
    synthetic_file(os.path.join(out_dir, "A.json"), "laptop", 1.0, 1)
    synthetic_file(os.path.join(out_dir, "B2x.json"), "vm", 2.0, 1)  # A's values, doubled
    synthetic_file(os.path.join(out_dir, "Bsame.json"), "vm", 1.0, 1)


def compare_rows(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    if len(rows) != len(SYNTH):
        fail(f"{path}: {len(rows)} rows, expected {len(SYNTH)} (matched by name across hosts)")
    return rows


def compare_2x(path):
    for r in compare_rows(path):
        if abs(float(r["ratio"]) - 2.0) > 1e-9:
            fail(f"{r['name']}: ratio {r['ratio']}, expected 2")
        if r["verdict"] != "slower" or float(r["p_value"]) >= 0.05:
            fail(f"{r['name']}: {r['verdict']} p={r['p_value']}, expected a significant slowdown")


def compare_same(path):
    for r in compare_rows(path):
        if r["verdict"] != "no significant change" or float(r["p_value"]) < 0.05:
            fail(f"{r['name']}: {r['verdict']} p={r['p_value']}, expected no significant change")


def mwu(*_):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
    import compare
    x, y = [19, 22, 16, 29, 24], [20, 11, 17, 12]  # scipy.stats.mannwhitneyu's documented example
    for method, want in (("exact", 0.1111111111111111), ("asymptotic", 0.11134688653314041)):
        u, p, _ = compare.mann_whitney_u(x, y, method)
        if u != 17 or abs(p - want) > 1e-12:
            fail(f"mann_whitney_u {method}: U={u} p={p}, scipy documents U=17 p={want}")
    cases = [([1, 2, 3], [4, 5, 6], 0.1), (list(range(5)), list(range(5, 10)), 2 / 252)]
    for a, b, want in cases:  # complete separation: p = 2 / C(n1+n2, n1)
        if abs(compare.mann_whitney_u(a, b)[1] - want) > 1e-12:
            fail(f"mann_whitney_u({a}, {b}): p {compare.mann_whitney_u(a, b)[1]}, expected {want}")
    if compare.mann_whitney_u([1, 2, 3, 4], [1, 2, 3, 4])[1] != 1.0:
        fail("mann_whitney_u of two equal samples: p should be 1")
    try:
        from scipy.stats import mannwhitneyu
    except ImportError:
        print("bench_check: mwu holds (published values; scipy not installed)")
        return
    rng = random.Random(7)
    for _ in range(200):
        a = [round(rng.gauss(10, 2), 1) for _ in range(rng.randint(2, 12))]
        b = [round(rng.gauss(11, 2), 1) for _ in range(rng.randint(2, 12))]
        want = mannwhitneyu(a, b, alternative="two-sided").pvalue
        got = compare.mann_whitney_u(a, b)[1]
        if abs(got - want) > 1e-9:
            fail(f"mann_whitney_u({a}, {b}): p {got}, scipy {want}")
    print("bench_check: mwu holds (published values and 200 scipy cases)")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"json-doc": json_doc, "ratios": ratios, "context": context, "python-rows": python_rows,
     "synthetic": synthetic, "compare-2x": compare_2x, "compare-same": compare_same, "mwu": mwu}[cmd](*args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
