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

Exit status 0 when the check holds; otherwise a message on stderr and 1.
"""
import csv
import json
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


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"json-doc": json_doc, "ratios": ratios, "context": context, "python-rows": python_rows}[cmd](*args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
