#!/usr/bin/env python3
"""report.py -- turn ipcbench's JSON into a ranked table, CSV files and PNG charts.

Usage: report.py RESULTS.json [--out DIR] [--lat-size 100] [--thr-sizes 100,65536]
                 [--console] [--max-lines 57] [--quiet] [--no-charts]

Writes to DIR (default: the JSON's directory):
  report.md     the machine, the statistic, the ranked table, the interface-cost table,
                the baselines and the headline ratios (printed whole unless --console or
                --quiet; --console prints a short 80-column version instead)
  results.csv   every benchmark, one row each: its figure, the interval over the
                repetitions, and its ratios to the raw baseline and to Python
  summary.csv   the ranked table as CSV
  latency.png, throughput.png (and latency_vs_size.png when several sizes were
                measured), drawn by gnuplot

THE STATISTIC.  Each repetition of a benchmark gives one figure, the same for the C
benchmarks, their raw baselines and Python:
  latency     the p50 (median) of that repetition's round trips
  throughput  the median over the repetition's 8 turns of the time per message
  pair        the median over the repetition's turns of the time per send+receive
(memcpy, a single-threaded ceiling, has Google Benchmark's mean time per copy).  Over N
repetitions a benchmark's figure is the MEDIAN of those N figures, its interval the
MIN-MAX of them.  A rate (msgs/s, MB/s) is 1e9 / that time.  A figure is "noisy" (~)
when (max - min) / median exceeds --noisy (0.25).  Every ratio divides the median of
one side by the median of the other, both the same statistic; its interval is
[min(a) / max(b), max(a) / min(b)].
  cost_vs_raw        ours / the raw system calls' (measured interleaved in the same
                     repetition): 1.05 = 5 % slower
  speedup_vs_python  Python's / ours: 12 = twelve times faster than Python
                     (queue.Queue for threads, multiprocessing.Queue for processes)
The ranked table orders rows by their round trip on two cores; rows whose intervals
overlap share a rank ("3=") instead of being ranked as if one were faster.

Standard library only; gnuplot is optional (no charts without it).  compare.py imports
load() from here.
"""
import argparse
import csv
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap

PY_FOR_MODE = {"threads": "python:queue.Queue", "procs": "python:mp.Queue"}
UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
NOISY = 0.25

# The per-repetition figure of each workload: (field, raw lane's field, words)
STAT_FIELD = {"latency": ("p50_ns", "raw_p50_ns"), "throughput": ("msg_ns", "raw_msg_ns"),
              "pair": ("ns_per_op", "raw_ns_per_op")}
STAT_WORDS = {
    "latency": "p50 of a repetition's round trips",
    "throughput": "median over a repetition's 8 turns of the time per message",
    "pair": "median over a repetition's turns of the time per send+receive",
    "mean": "Google Benchmark's mean time per iteration",
}
# The fields that tell two benchmarks apart (the label's named fields).
KEY_FIELDS = ("workload", "mechanism", "mode", "placement", "size", "shape", "wait")


# ---- reading ------------------------------------------------------------------------


def base_name(name):
    """A benchmark's name without Google Benchmark's suffixes: the key across files."""
    return re.sub(r"/(manual_time|real_time|process_time)$", "", name)


def parse_name(name):
    """KIND/IMPL/MODE/PLACEMENT/SIZE[/NxM] -> fields, or None."""
    parts = base_name(name).split("/")
    if len(parts) < 5 or not parts[4].isdigit():
        return None
    rec = {"workload": parts[0], "mechanism": parts[1], "mode": parts[2], "placement": parts[3],
           "size": parts[4], "shape": "1x1"}
    if len(parts) > 5 and re.fullmatch(r"\d+x\d+", parts[5]):
        rec["shape"] = parts[5]
    return rec


def parse_label(label):
    """'k=v;k=v' -> dict (a label of another form gives {})."""
    out = {}
    for part in label.split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def median(xs):
    return statistics.median(xs) if xs else None


def ratio_iv(a, b):
    """median(a) / median(b), with [min(a)/max(b), max(a)/min(b)]; (None,)*3 if not both."""
    a = [x for x in a if x]
    b = [x for x in b if x]
    if not a or not b:
        return None, None, None
    return median(a) / median(b), min(a) / max(b), max(a) / min(b)


def load(path):
    """(context, records): one record per benchmark (repetitions gathered), in file order."""
    with open(path) as f:
        data = json.load(f)
    context = data.get("context", {})
    impls = {}
    for key, value in context.items():
        if key.startswith("impl."):
            impls[key[5:]] = dict(kv.split("=", 1) for kv in value.split("|") if "=" in kv)
    groups, medians = {}, {}
    for e in data.get("benchmarks", []):
        run = base_name(e.get("run_name", e["name"]))
        if e.get("run_type") == "aggregate":
            if e.get("aggregate_name") == "median":
                medians[run] = e
            continue
        groups.setdefault(run, []).append(e)
    # --benchmark_report_aggregates_only: the median aggregate stands for the runs
    for run, e in medians.items():
        if run not in groups:
            groups[run] = [dict(e, aggregates_only=True)]
    records = []
    for run, entries in groups.items():
        fields = parse_name(run)
        if fields is None:
            continue
        first = entries[0]
        label = parse_label(first.get("label", ""))
        fields.update({k: label[k] for k in KEY_FIELDS if k in label})
        rec = {"key": run, "name": run, **fields, "label": first.get("label", ""),
               "reps": len(entries), "aggregates_only": bool(first.get("aggregates_only"))}
        rec["kind"] = rec["workload"]
        rec["impl"] = rec["mechanism"]
        rec["pin"] = rec["placement"]
        rec["size"] = int(rec["size"])
        rec["producers"], rec["consumers"] = (int(x) for x in rec["shape"].split("x"))
        info = impls.get(rec["impl"], {})
        rec["family"] = info.get("family", rec["impl"].split(":")[0] if ":" in rec["impl"] else "")
        rec["strategy"] = info.get("wait", label.get("wait", ""))
        rec["raw_impl"] = label.get("raw", info.get("raw", "none"))
        errors = [e.get("error_message", "error") for e in entries if e.get("error_occurred")]
        rec["error"] = errors[0] if errors else ""
        ok = [e for e in entries if not e.get("error_occurred")]
        field, raw_field = STAT_FIELD.get(rec["kind"], (None, None))
        if ok and field and field in ok[0]:
            rec["statistic"] = rec["kind"]
            rec["vals"] = [float(e[field]) for e in ok]
            rec["raw_vals"] = [float(e[raw_field]) for e in ok if raw_field in e]
        elif ok:  # memcpy: Google Benchmark's mean
            rec["statistic"] = "mean"
            rec["vals"] = [float(e["real_time"]) * UNIT_NS.get(e.get("time_unit", "ns"), 1.0) for e in ok]
            rec["raw_vals"] = []
        else:
            rec["statistic"], rec["vals"], rec["raw_vals"] = rec["kind"], [], []
        rec["obs_vals"] = [float(e["observed_ns_per_op"]) for e in ok if "observed_ns_per_op" in e]
        for k in ("p99_ns", "p999_ns", "max_ns", "cpu_util", "cpu_ns_per_op", "vcsw_per_op", "raw_p99_ns"):
            xs = [float(e[k]) for e in ok if k in e]
            if xs:
                rec[k] = median(xs)
        summarize(rec)
        records.append(rec)
    na = {}
    for key, value in context.items():
        if key.startswith("na."):
            f = parse_name(key[3:])
            if f:
                na[(f["workload"], f["mechanism"], f["mode"], f["placement"], int(f["size"]), f["shape"])] = value
    return context, records, na


def summarize(rec):
    """The figure (median), its interval (min-max), noisy, rates, and the raw ratio."""
    vals = rec["vals"]
    rec["t_ns"] = median(vals)
    rec["t_min_ns"] = min(vals) if vals else None
    rec["t_max_ns"] = max(vals) if vals else None
    rec["spread"] = (rec["t_max_ns"] - rec["t_min_ns"]) / rec["t_ns"] if vals and rec["t_ns"] else None
    rec["noisy"] = bool(rec["spread"] is not None and len(vals) > 1 and rec["spread"] > NOISY)
    t = rec["t_ns"]
    rec["msgs_per_s"] = 1e9 / t if t and rec["kind"] == "throughput" else None
    rec["bytes_per_s"] = rec["msgs_per_s"] * rec["size"] if rec["msgs_per_s"] else None
    rec["raw_t_ns"] = median(rec["raw_vals"])
    rec["cost_vs_raw"], rec["cost_vs_raw_lo"], rec["cost_vs_raw_hi"] = ratio_iv(vals, rec["raw_vals"])
    rec["observed_t_ns"] = median(rec["obs_vals"])
    rec["observer_cost"], rec["observer_cost_lo"], rec["observer_cost_hi"] = ratio_iv(rec["obs_vals"], vals)


# ---- ratios ---------------------------------------------------------------------------


def find(records, **want):
    for r in records:
        if not r["error"] and r["t_ns"] and all(r.get(k) == v for k, v in want.items()):
            return r
    return None


def add_ratios(records):
    """speedup_vs_python: the Python row of the same workload, placement and size."""
    for r in records:
        py_name = PY_FOR_MODE.get(r["mode"])
        if (r["error"] or not r["t_ns"] or r["kind"] not in ("latency", "throughput") or not py_name
                or r["impl"].startswith("python:") or r["shape"] != "1x1"):
            continue
        py = find(records, kind=r["kind"], impl=py_name, mode=r["mode"], pin=r["pin"], size=r["size"], shape="1x1")
        if py:
            r["python_impl"] = py_name
            r["python_t_ns"] = py["t_ns"]
            r["speedup_vs_python"], r["speedup_vs_python_lo"], r["speedup_vs_python_hi"] = \
                ratio_iv(py["vals"], r["vals"])


# ---- formatting -----------------------------------------------------------------------


def us(ns):
    if ns is None:
        return "–"
    v = ns / 1e3
    return f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 1000 else f"{v:.0f}"


def rate(v):
    if v is None:
        return "–"
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= div:
            return f"{v / div:.2f}{unit}"
    return f"{v:.0f}"


def ns0(v):
    return "–" if v is None else f"{v:.0f}"


def times(v):
    return "–" if v is None else f"{v:.2f}×" if v < 10 else f"{v:.0f}×"


def with_iv(rec, fmt=us):
    """'12.5 [11.0–14.1]~' for a record's time: median [min–max], ~ if noisy."""
    if not rec or rec.get("t_ns") is None:
        return "–"
    if rec["reps"] < 2:
        return fmt(rec["t_ns"])
    return f"{fmt(rec['t_ns'])} [{fmt(rec['t_min_ns'])}–{fmt(rec['t_max_ns'])}]{'~' if rec['noisy'] else ''}"


def ratio_text(v, lo, hi, reps):
    if v is None:
        return "–"
    return times(v) if reps < 2 else f"{times(v)} [{lo:.2f}–{hi:.2f}]"


def size_tag(n):
    return f"{n >> 20} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else \
        f"{n >> 10} KiB" if n >= 1024 and n % 1024 == 0 else f"{n} B"


def nearest(records, na, size, **want):
    """The record at `size`; if that size is n/a for the mechanism ("n/a (limit N B)"),
    the record at N, which the harness measures in its place.  (record, size, note)."""
    r = find(records, size=size, **want)
    if r:
        return r, size, ""
    key = (want.get("kind"), want.get("impl"), want.get("mode"), want.get("pin"), size, want.get("shape", "1x1"))
    note = na.get(key, "")
    m = re.match(r"n/a \(limit (\d+) B\)", note)
    if m:
        limit = int(m.group(1))
        sub = find(records, size=limit, **want)
        return sub, limit, note
    return None, None, note


def row_key(r):
    return (r["impl"], r["mode"], r["wait"])


def mechanism_rows(records, na, lat_size, thr_sizes):
    """One row per (mechanism, mode, wait) measured, with the figures of the table."""
    keys = []
    for r in records:
        if r["family"] in ("raw", "limit", "python") or ":" in r["impl"] or r["mode"] not in ("threads", "procs"):
            continue
        if row_key(r) not in keys:
            keys.append(row_key(r))
    rows = []
    for impl, mode, wait in keys:
        row = {"mechanism": impl, "mode": mode, "wait": wait, "notes": [], "limit_sizes": set()}
        row["strategy"] = next(r["strategy"] for r in records if row_key(r) == (impl, mode, wait))
        want = dict(impl=impl, mode=mode, wait=wait, shape="1x1")
        for pin in ("same", "cross"):
            lat, used, note = nearest(records, na, lat_size, kind="latency", pin=pin, **want)
            row[f"lat_{pin}"] = lat
            if lat and used != lat_size:
                row["limit_sizes"].add((used, note))
        for size in thr_sizes:
            thr = None
            for pin in ("cross", "same", "none"):
                thr, used, note = nearest(records, na, size, kind="throughput", pin=pin, **want)
                if thr:
                    break
            row[f"thr_{size}"] = thr
            if thr and used != size:
                row["limit_sizes"].add((used, note))
            if not thr:
                err = next((r["error"] for r in records if r["error"] and r["kind"] == "throughput"
                            and r["size"] == size and row_key(r) == (impl, mode, wait)), "")
                row["notes"].append(f"{size_tag(size)}: {err or note or 'not measured'}")
        for used, note in sorted(row["limit_sizes"]):
            row["notes"].insert(0, f"{note}: measured at {size_tag(used)}")
        lat = row["lat_cross"] or row["lat_same"]
        row["lat"] = lat
        thr = row.get(f"thr_{thr_sizes[0]}")
        row["lat_vs_raw"] = lat and lat.get("cost_vs_raw")
        row["thr_vs_raw"] = thr and thr.get("cost_vs_raw")
        row["lat_vs_py"] = lat and lat.get("speedup_vs_python")
        row["thr_vs_py"] = thr and thr.get("speedup_vs_python")
        rows.append(row)
    rank_rows(rows)
    return rows


def rank_rows(rows):
    """Sort by the round trip's median (two cores, else one).  A row's rank is a range:
    from 1 + the rows certainly faster (their whole min-max interval below its own) to
    the number of rows not certainly slower.  Two rows whose intervals overlap get
    overlapping ranges ("2-4": a tie), never ranks that say one is faster."""
    def iv(row):
        lat = row["lat"]
        return (lat["t_min_ns"], lat["t_max_ns"]) if lat else None
    rows.sort(key=lambda r: r["lat"]["t_ns"] if r["lat"] else math.inf)
    measured = [r for r in rows if r["lat"]]
    for row in rows:
        me = iv(row)
        if me is None:
            row.update(rank=None, rank_hi=None, tied=False, rank_text="–")
            continue
        others = [iv(o) for o in measured if o is not row]
        faster = sum(1 for lo, hi in others if hi < me[0])
        slower = sum(1 for lo, hi in others if lo > me[1])
        row["rank"], row["rank_hi"] = 1 + faster, len(measured) - slower
        row["tied"] = row["rank_hi"] > row["rank"]
        row["rank_text"] = f"{row['rank']}–{row['rank_hi']}" if row["tied"] else str(row["rank"])


def statistic_text(context, records):
    reps = max((r["reps"] for r in records), default=1)
    agg = any(r["aggregates_only"] for r in records)
    if agg:
        return "median over the repetitions (aggregates only: no interval)"
    if reps < 2:
        return "one repetition (no interval: use --reps 3 or more)"
    return f"median of {reps} repetitions [min–max]"


def machine_lines(context):
    c = context.get
    return [
        f"Host {c('host_name', '?')}: {c('ipcbench.cpu_model', '?')}, {c('ipcbench.cores', c('num_cpus', '?'))}; "
        f"{c('ipcbench.kernel', '?')}; virtualization: {c('ipcbench.virtualization', '?')}; "
        f"cpuidle: {c('ipcbench.cpuidle', '?')}; governor: {c('ipcbench.governor', '?')}; "
        f"load before the run: {c('ipcbench.load_before', '?')}.",
        f"Run {c('date', '?')}; ipcplay {c('ipcbench.commit', '?')}, built {c('ipcbench.build_type', '?')} "
        f"with {c('ipcbench.compiler', '?')}; placements: same = {c('ipcbench.placement.same', '?')}, "
        f"cross = {c('ipcbench.placement.cross', '?')}.",
        gbench_line(context),
    ]


def gbench_line(context):
    kind = context.get("library_build_type", "?")
    if kind == "debug":
        return ("Google Benchmark library: a debug build (Debian's package). That is the library's own "
                "bookkeeping between timed sections only; every figure here is timed by ipcbench's own "
                "clock (manual time), in code built as stated above.")
    return f"Google Benchmark library: a {kind} build."


def markdown(context, records, na, rows, lat_size, thr_sizes):
    out = ["# ipcbench results\n"]
    out.extend(line + "\n" for line in machine_lines(context))
    stat = statistic_text(context, records)
    t1, t2 = thr_sizes[0], thr_sizes[-1]
    out.append(f"**Statistic: {stat}** of each repetition's figure — latency: {STAT_WORDS['latency']} "
               f"(round trip of a {lat_size}-byte message, µs); throughput: {STAT_WORDS['throughput']} "
               f"(one way, two cores where measured; msgs/s and MB/s = 1e9 / that time). Ratios divide the "
               f"medians of both sides, the same statistic; ~ = spread (max − min) / median above "
               f"{NOISY:.0%}.\n")
    head = ["#", "mechanism", "mode", "wait", "p50 RT same core µs", "p50 RT two cores µs",
            "CPU µs/RT", "sleeps/RT",
            f"msgs/s @{size_tag(t1)}", f"MB/s @{size_tag(t2)}",
            "lat ÷ raw", "thr ÷ raw", "× Python (lat)", "× Python (thr)", "notes"]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    for r in rows:
        thr1, thr2 = r.get(f"thr_{t1}"), r.get(f"thr_{t2}")
        lat = r["lat"] or {}
        thr1 = thr1 or {}
        out.append("| " + " | ".join([
            r["rank_text"], r["mechanism"], r["mode"], r["wait"],
            with_iv(r["lat_same"]), with_iv(r["lat_cross"]),
            us(lat.get("cpu_ns_per_op")) if lat.get("cpu_ns_per_op") is not None else "–",
            f"{lat['vcsw_per_op']:.2f}" if lat.get("vcsw_per_op") is not None else "–",
            rate(thr1.get("msgs_per_s")), mbs(thr2),
            ratio_text(lat.get("cost_vs_raw"), lat.get("cost_vs_raw_lo"), lat.get("cost_vs_raw_hi"), lat.get("reps", 1)),
            ratio_text(thr1.get("cost_vs_raw"), thr1.get("cost_vs_raw_lo"), thr1.get("cost_vs_raw_hi"), thr1.get("reps", 1)),
            ratio_text(lat.get("speedup_vs_python"), lat.get("speedup_vs_python_lo"), lat.get("speedup_vs_python_hi"),
                       lat.get("reps", 1)),
            ratio_text(thr1.get("speedup_vs_python"), thr1.get("speedup_vs_python_lo"),
                       thr1.get("speedup_vs_python_hi"), thr1.get("reps", 1)),
            "; ".join(r["notes"]),
        ]) + " |")
    out.append("")
    out.append("*CPU µs/RT* and *sleeps/RT* (voluntary context switches) are both sides' per round trip in "
               "the latency run (two cores where measured): what a wait strategy costs beside what it buys. "
               "Ranked by the round trip on two cores (one core where that is all there is). A rank like 2–4 is "
               "a tie: the row's interval overlaps others', so this run cannot say which of them is faster; it "
               "could be 2nd to 4th. *÷ raw*: ours over the raw system calls' (measured interleaved; "
               "1.10 = 10 % slower); *× Python*: times faster than queue.Queue (threads) or multiprocessing.Queue "
               "(procs) in the same placement. – = not measured (no raw baseline, no Python counterpart).\n")

    pairs = [r for r in records if r["kind"] == "pair" and not r["error"] and r["t_ns"]]
    if pairs:
        out.append(f"## Interface cost: send + receive in one thread (no wakeups)\n")
        out.append(f"ns per send+receive: {stat} of the {STAT_WORDS['pair']}.\n")
        out.append("| mechanism | size | ns per send+recv | raw ns | ÷ raw | with observer ns | ÷ without |")
        out.append("|---|---|---|---|---|---|---|")
        for r in sorted(pairs, key=lambda r: r["t_ns"]):
            out.append(f"| {r['impl']} | {r['size']} | {with_iv(r, ns0)} | {ns0(r['raw_t_ns'])} | "
                       f"{ratio_text(r['cost_vs_raw'], r['cost_vs_raw_lo'], r['cost_vs_raw_hi'], r['reps'])} | "
                       f"{ns0(r['observed_t_ns'])} | "
                       f"{ratio_text(r['observer_cost'], r['observer_cost_lo'], r['observer_cost_hi'], r['reps'])} |")
        out.append("")

    base = [r for r in records if r["impl"].split(":")[0] in ("limit", "python")]
    if base:
        out.append("## Baselines: the machine's limits and Python\n")
        out.append(f"| baseline | mode | p50 RT same core µs | p50 RT two cores µs | msgs/s @{size_tag(t1)} | "
                   f"MB/s @{size_tag(t2)} |")
        out.append("|---|---|---|---|---|---|")
        seen = []
        for r in base:
            if (r["impl"], r["mode"]) in seen:
                continue
            seen.append((r["impl"], r["mode"]))
            ls = find(records, kind="latency", impl=r["impl"], mode=r["mode"], pin="same")
            lc = find(records, kind="latency", impl=r["impl"], mode=r["mode"], pin="cross")
            a, b = (best_throughput(records, r["impl"], r["mode"], size) for size in (t1, t2))
            if r["impl"] == "limit:memcpy":
                out.append(f"| {r['impl']} | {r['mode']} | – | – | – | {mbs(b)} (mean per copy) |")
                continue
            out.append(f"| {r['impl']} | {r['mode']} | {with_iv(ls)} | {with_iv(lc)} | "
                       f"{rate(a and a.get('msgs_per_s'))} | {mbs(b)} |")
        out.append("")

    out.append("## Headline ratios\n")
    out.extend(headlines(records, na, rows, lat_size, thr_sizes) or ["(not enough data for the headline ratios)"])
    if na:
        out.append("\n## Not applicable\n")
        out.append("Sizes a mechanism cannot carry (not measured; its limit is measured instead): " + "; ".join(
            sorted({f"{k[1]} {k[0]} {size_tag(k[4])}: {v}" for k, v in na.items()})) + ".")
    errors = [r for r in records if r["error"]]
    if errors:
        out.append("\n## Failed benchmarks\n")
        out.extend(f"- `{r['name']}`: {r['error']}" for r in errors)
    return "\n".join(out) + "\n"


def mbs(rec):
    if not rec or not rec.get("t_ns"):
        return "–"
    return f"{rec['size'] * 1e9 / rec['t_ns'] / 1e6:.0f}"


def best_throughput(records, impl, mode, size):
    """The 1x1 throughput record of impl at size: two cores if measured, else one, else unpinned."""
    for pin in ("cross", "same", "none", None):
        want = dict(kind="throughput", impl=impl, mode=mode, size=size, shape="1x1")
        if pin:
            want["pin"] = pin
        r = find(records, **want)
        if r:
            return r
    return None


def one_mode(records, impl):
    """The mode to chart for a mechanism: processes where it runs there, else threads."""
    modes = {r["mode"] for r in records if r["impl"] == impl and not r["error"]}
    return "procs" if "procs" in modes else "threads" if "threads" in modes else "single" if modes else None


def headlines(records, na, rows, lat_size, thr_sizes):
    """The comparisons the project asks for, from the data (medians over the repetitions)."""
    out = []
    small, big = thr_sizes[0], thr_sizes[-1]
    fam = {r["impl"]: r["family"] for r in records}
    mechs = list(dict.fromkeys(row["mechanism"] for row in rows))

    def pick(impl, kind, size, pin="cross"):
        r, _, _ = nearest(records, na, size, kind=kind, impl=impl, mode=one_mode(records, impl), pin=pin,
                          shape="1x1")
        return r

    cache = find(records, kind="latency", impl="limit:cacheline", pin="cross")
    memcpy = find(records, kind="throughput", impl="limit:memcpy", size=big)
    shm = [m for m in mechs if fam.get(m) == "shm"]
    if cache and shm:
        parts = []
        for m in shm:
            r = pick(m, "latency", lat_size)
            if r:
                parts.append(f"{m} {us(r['t_ns'])} µs = {times(r['t_ns'] / cache['t_ns'])}")
        out.append(f"- Shared memory vs the cache-line ping-pong ({us(cache['t_ns'])} µs, two cores): "
                   + ", ".join(parts) + ".")
    if memcpy and shm:
        parts = []
        for m in shm:
            r = pick(m, "throughput", big)
            if r and r.get("t_ns"):
                parts.append(f"{m} {r['bytes_per_s'] / 1e9:.2f} GB/s ({memcpy['t_ns'] / r['t_ns']:.0%})")
        if parts:
            out.append(f"- At {size_tag(big)}, shared memory vs memcpy ({big * 1e9 / memcpy['t_ns'] / 1e9:.1f} GB/s, "
                       f"one thread): " + ", ".join(parts) + ".")
    pairs = [r for r in records if r["kind"] == "pair" and not r["error"] and r.get("cost_vs_raw")]
    if pairs:
        costs = sorted(r["cost_vs_raw"] for r in pairs)
        over = [f"{r['impl']} {times(r['cost_vs_raw'])}" for r in pairs if r["cost_vs_raw_lo"] > 1.10]
        out.append(f"- Interface cost (send+receive, one thread) over the raw calls: median {times(median(costs))} "
                   f"over {len(costs)} mechanisms; above +10 % in every repetition: {', '.join(over) or 'none'}.")
    for mode, py in PY_FOR_MODE.items():
        ranked = [row for row in rows if row["mode"] == mode and row["lat_vs_py"]]
        if ranked:
            best = ranked[0]
            out.append(f"- {mode.capitalize()}: the lowest median round trip, {best['mechanism']} "
                       f"({us(best['lat']['t_ns'])} µs), against {py} in the same placement: Python takes "
                       f"{times(best['lat_vs_py'])} as long.")
    return out


# ---- the short console version ----------------------------------------------------------


def console(context, records, na, rows, lat_size, thr_sizes, max_lines, paths):
    """At most max_lines lines of at most 80 columns: the ranked table and a few headlines."""
    t1 = thr_sizes[0]
    stat = statistic_text(context, records)
    head = [f"ipcbench on {context.get('host_name', '?')} ({context.get('ipcbench.cpu_model', '?')[:30]}, "
            f"{context.get('num_cpus', '?')} CPUs), {context.get('date', '?')[:16]}",
            *textwrap.wrap(f"Figure: {stat}; RT = p50 round trip of {lat_size} B, two cores "
                           f"({context.get('ipcbench.placement.cross', '?')}); msgs/s one way at {size_tag(t1)}.", 80),
            f"{'#':<6}{'mechanism':<24}{'mode':<8}{'RT µs [min–max]':<20}{'msgs/s':>8}{'÷raw':>7}{'×Py':>7}"]
    tail = ["#: 2–4 = a tie (intervals overlap: could be 2nd to 4th). ~ = noisy, spread",
            f"(max-min)/median > {NOISY:.0%}. ÷raw: RT over the raw calls' (interleaved);",
            "×Py: times faster than Python's queue, same placement."]
    if any(r["limit_sizes"] for r in rows):
        tail[-1] += " * = n/a at this size:"
        tail.append("  measured at the mechanism's limit (report.md says which).")
    if any(r["lat"] and r["lat"] is r["lat_same"] for r in rows):
        tail.append("° = one core: no two-core figure.")
    hl = headlines(records, na, rows, lat_size, thr_sizes)
    wrapped, hl = [textwrap.wrap(h, 80, subsequent_indent="  ") for h in hl], []
    for h in wrapped:  # whole headlines only, at most 6 lines of them
        if len(hl) + len(h) <= 6:
            hl += h
    gb = "Google Benchmark lib: " + ("debug build (Debian); outside the timed code"
                                     if context.get("library_build_type") == "debug"
                                     else f"{context.get('library_build_type', '?')} build")
    files = [f"Full table: {paths['md']}; CSV, JSON, PNG and run.log beside it."]
    failed = [r for r in records if r["error"]]
    if failed:
        files.insert(0, f"{len(failed)} benchmarks failed: listed at the end of report.md.")
    room = max_lines - len(head) - len(tail) - len(hl) - 1 - len(files)
    lines = list(head)
    shown = rows if len(rows) <= room else rows[:room - 1]
    for r in shown:
        lat = r["lat"] or {}
        thr = r.get(f"thr_{t1}") or {}
        rt = with_iv(r["lat"]) if r["lat"] else "–"
        if r["lat"] and r["lat"] is r["lat_same"]:
            rt += "°"
        mark = "*" if r["limit_sizes"] else ""
        lines.append(f"{r['rank_text']:<6}{(r['mechanism'] + mark)[:23]:<24}{r['mode']:<8}{rt[:19]:<20}"
                     f"{rate(thr.get('msgs_per_s')):>8}{times(lat.get('cost_vs_raw')):>7}"
                     f"{times(lat.get('speedup_vs_python')):>7}")
    if len(shown) < len(rows):
        lines.append(f"… {len(rows) - len(shown)} more rows in report.md")
    lines += tail + hl + [gb] + files
    return "\n".join(line[:80] for line in lines)


# ---- CSV ------------------------------------------------------------------------------

CSV_FIELDS = ["name", "workload", "mechanism", "family", "mode", "placement", "size", "shape", "wait", "strategy",
              "statistic", "reps", "t_ns", "t_min_ns", "t_max_ns", "spread", "noisy", "msgs_per_s", "bytes_per_s",
              "p99_ns", "cpu_util", "cpu_ns_per_op", "vcsw_per_op", "raw_impl", "raw_t_ns", "cost_vs_raw", "cost_vs_raw_lo",
              "cost_vs_raw_hi", "observed_t_ns", "observer_cost", "python_impl", "python_t_ns",
              "speedup_vs_python", "speedup_vs_python_lo", "speedup_vs_python_hi", "error"]


def write_csv(path, fields, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in fields})


def write_summary(path, rows, thr_sizes):
    out = []
    for r in rows:
        lat = r["lat"] or {}
        d = {"rank": r["rank"], "tied": r["tied"], "mechanism": r["mechanism"], "mode": r["mode"], "wait": r["wait"],
             "statistic": "median over repetitions [min-max]", "notes": "; ".join(r["notes"])}
        for pin in ("same", "cross"):
            rec = r[f"lat_{pin}"] or {}
            d[f"rt_{pin}_ns"], d[f"rt_{pin}_min_ns"], d[f"rt_{pin}_max_ns"] = \
                rec.get("t_ns"), rec.get("t_min_ns"), rec.get("t_max_ns")
        for s in thr_sizes:
            rec = r[f"thr_{s}"] or {}
            d[f"msg_ns_{s}"] = rec.get("t_ns")
            d[f"msgs_per_s_{s}"] = rec.get("msgs_per_s")
        thr = r[f"thr_{thr_sizes[0]}"] or {}
        d.update(lat_vs_raw=lat.get("cost_vs_raw"), thr_vs_raw=thr.get("cost_vs_raw"),
                 lat_vs_py=lat.get("speedup_vs_python"), thr_vs_py=thr.get("speedup_vs_python"))
        out.append(d)
    fields = (["rank", "tied", "mechanism", "mode", "wait", "statistic"]
              + [f"rt_{p}_{x}" for p in ("same", "cross") for x in ("ns", "min_ns", "max_ns")]
              + [f"{k}_{s}" for s in thr_sizes for k in ("msg_ns", "msgs_per_s")]
              + ["lat_vs_raw", "thr_vs_raw", "lat_vs_py", "thr_vs_py", "notes"])
    write_csv(path, fields, out)


# ---- charts ---------------------------------------------------------------------------


def gnuplot(script, workdir):
    if not shutil.which("gnuplot"):
        return "gnuplot not found: no charts"
    p = subprocess.run(["gnuplot"], input=script, text=True, cwd=workdir, capture_output=True)
    return p.stderr.strip() if p.returncode else ""


# Colour + marker pairs: within one panel no two series share either.
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#7f7f7f", "#bcbd22"]
MARKERS = [7, 5, 9, 11, 13, 15, 1, 2, 3, 6]  # filled circle, square, triangles, diamond, pentagon, +, x, *, open circle


def chart_title(context, what, stat):
    return (f"{what}\\n{context.get('host_name', '?')} ({context.get('ipcbench.cpu_model', '?')}), "
            f"{context.get('date', '?')[:16].replace('T', ' ')}; {stat}")


FAMILY_ORDER = ["queues", "pipes", "shm", "events", "signals", "brokers"]


def chart_families(records, kind):
    """{family: [impl, ...]} for the mechanisms measured in `kind`, in course order."""
    fams = {}
    for r in records:
        if r["kind"] == kind and r["t_ns"] and not r["impl"].startswith(("raw:", "limit:", "python:")):
            fams.setdefault(r["family"] or "other", [])
            if r["impl"] not in fams[r["family"] or "other"]:
                fams[r["family"] or "other"].append(r["impl"])
    return sorted(fams.items(), key=lambda kv: FAMILY_ORDER.index(kv[0]) if kv[0] in FAMILY_ORDER else 99)


def size_series(records, impl, mode, kind, pin_order, value):
    """[(size, median, min, max)] of impl at every measured size (1x1)."""
    pts = {}
    for r in records:
        if (r["kind"] == kind and r["impl"] == impl and r["mode"] == mode and r["shape"] == "1x1"
                and r["t_ns"] and r["pin"] in pin_order):
            prio = pin_order.index(r["pin"])
            if r["size"] not in pts or prio < pts[r["size"]][0]:
                pts[r["size"]] = (prio, value(r, r["t_ns"]), value(r, r["t_min_ns"]), value(r, r["t_max_ns"]))
    return [(s,) + tuple(sorted(v[1:])[i] for i in (1, 0, 2)) for s, v in sorted(pts.items())]


def size_chart(records, context, out_dir, tmp, name, kind, pin_order, value, ylabel, what):
    """Small multiples, one panel per family: each mechanism (processes where it runs
    there) and its Python counterpart (and memcpy beside shared memory); markers at
    the measured sizes, each series a little to the side so the min-max error bars
    stay visible; no lines between sizes.  (The raw baselines are in report.md.)"""
    fams = chart_families(records, kind)
    sizes = sorted({r["size"] for r in records if r["kind"] == kind and r["t_ns"] and r["shape"] == "1x1"})
    # worth a chart when at least two sizes were measured for a third of the mechanisms
    # (not only a limit or two measured in place of an n/a size)
    mechs = sum(len(impls) for _, impls in fams)
    common = [s for s in sizes if 3 * len({r["impl"] for r in records if r["kind"] == kind and r["size"] == s
                                            and r["t_ns"]}) >= mechs]
    if not fams or len(common) < 2:
        if os.path.exists(os.path.join(out_dir, name)):
            os.unlink(os.path.join(out_dir, name))  # not a stale chart of another run
        return None
    ncols = 2 if len(fams) > 1 else 1
    nrows = (len(fams) + ncols - 1) // ncols
    tics = ", ".join(f'"{size_tag(n).replace(" ", "")}" {n}' for n in sizes)
    stat = statistic_text(context, records)
    script = [f'set terminal pngcairo size {900 * ncols},{520 * nrows + 90} font "DejaVu Sans,10" noenhanced',
              f'set output "{os.path.join(os.path.abspath(out_dir), name)}"',
              f'set multiplot layout {nrows},{ncols} title "{chart_title(context, what, stat)}" font ",12"',
              "set logscale xy", "set grid xtics ytics", f"set xtics ({tics})",
              f"set xrange [{sizes[0] / 1.5}:{sizes[-1] * 1.5}]", 'set xlabel "message size"',
              f'set ylabel "{ylabel}"', "set key outside right top font \",9\"", "set bars 2"]
    n = 0
    for fam, impls in fams:
        series = [(f"{impl} ({one_mode(records, impl)})", impl, one_mode(records, impl)) for impl in impls]
        py = {PY_FOR_MODE.get(m) for _, _, m in series} - {None}
        series += [(p, p, "threads" if "queue.Queue" in p else "procs") for p in sorted(py)]
        if fam == "shm" and kind == "throughput":
            series.append(("limit:memcpy (one thread)", "limit:memcpy", "single"))
        plots = []
        for i, (title, impl, mode) in enumerate(series):
            pts = size_series(records, impl, mode, kind, pin_order + ["same"] * (mode == "single"), value)
            if not pts:
                continue
            n += 1
            fn = f"s{n}.dat"
            # side by side around each measured size, so that error bars do not hide each other
            shift = 1.07 ** (i - (len(series) - 1) / 2)
            with open(os.path.join(tmp, fn), "w") as f:
                f.writelines(f"{s * shift} {v} {lo} {hi}\n" for s, v, lo, hi in pts)
            dash = "dt 2 " if ":" in impl else ""
            plots.append(f'"{fn}" using 1:2:3:4 with yerrorbars {dash}pt {MARKERS[(i + i // len(COLOURS)) % len(MARKERS)]} '
                         f'ps 1.3 lw 1.5 lc rgb "{COLOURS[i % len(COLOURS)]}" title "{title}"')
        script.append(f'set title "{fam}"')
        script.append("plot " + ", ".join(plots) if plots else "plot NaN notitle")
    script.append("unset multiplot")
    err = gnuplot("\n".join(script) + "\n", tmp)
    return err or os.path.join(out_dir, name)


def latency_chart(records, context, rows, out_dir, tmp, lat_size):
    """Round trip per mechanism at one size: p50 on one core and on two, medians with
    min-max error bars, one cluster per mechanism (the mode of its row)."""
    items = []
    for row in rows:
        if row["lat_same"] or row["lat_cross"]:
            size = (row["lat_cross"] or row["lat_same"])["size"]
            at = f", {size_tag(size)}" if size != lat_size else ""  # n/a at lat_size: its limit
            items.append((f"{row['mechanism']} ({row['mode']}{at})", row["lat_same"], row["lat_cross"]))
    for impl in ("limit:cacheline", "python:queue.Queue", "python:mp.Queue", "python:mp.Pipe", "python:ipcplay.Queue"):
        mode = one_mode(records, impl)
        s = next((r for r in records if r["impl"] == impl and r["kind"] == "latency" and r["pin"] == "same"
                  and r["t_ns"]), None)
        c = next((r for r in records if r["impl"] == impl and r["kind"] == "latency" and r["pin"] == "cross"
                  and r["t_ns"]), None)
        if s or c:
            items.append((f"{impl} ({mode})", s, c))
    if not items:
        return None

    def cols(r):
        return (f"{r['t_ns'] / 1e3:.4f} {r['t_min_ns'] / 1e3:.4f} {r['t_max_ns'] / 1e3:.4f}" if r
                else "NaN NaN NaN")
    first_base = next((i for i, (label, _, _) in enumerate(items) if ":" in label.split(" ")[0]), None)
    separator = (f'set arrow from {first_base - 0.5}, graph 0 to {first_base - 0.5}, graph 1 nohead dt 2 lc rgb "#555555"\n'
                 f'set label "baselines" at {first_base - 0.4}, graph 0.96 left textcolor rgb "#555555"'
                 if first_base else "")
    with open(os.path.join(tmp, "lat.dat"), "w") as f:
        for label, s, c in items:
            f.write(f'"{label}" {cols(s)} {cols(c)}\n')
    stat = statistic_text(context, records)
    width = max(1200, 42 * len(items) + 200)
    placement = (f"same core = {context.get('ipcbench.placement.same', '?')}, "
                 f"two cores = {context.get('ipcbench.placement.cross', '?')}")
    err = gnuplot(f"""
set terminal pngcairo size {width},780 font "DejaVu Sans,10" noenhanced
set output "{os.path.join(os.path.abspath(out_dir), 'latency.png')}"
set title "{chart_title(context, f'Round trip of a {lat_size}-byte message, p50 per repetition ({placement}); ranked by two cores', stat)}"
set ylabel "round trip (µs, log scale)"
set logscale y
set grid ytics
set style data histograms
set style histogram errorbars gap 1 lw 1.2
set style fill solid 0.85 border -1
set boxwidth 0.9
set bars 0.6
set xtics rotate by 40 right scale 0 font ",9"
set xrange [-0.6:{len(items) - 0.4}]
set key outside top center horizontal
set bmargin 12
set lmargin 12
set format y "%g"
{separator}
plot "lat.dat" using 2:3:4:xtic(1) title "same core" lc rgb "#4e79a7", \\
     "" using 5:6:7 title "two cores" lc rgb "#f28e2b"
""", tmp)
    return err or os.path.join(out_dir, "latency.png")


def charts(records, context, rows, out_dir, lat_size):
    tmp = tempfile.mkdtemp(prefix="ipcreport.")
    notes = []
    try:
        notes.append(latency_chart(records, context, rows, out_dir, tmp, lat_size))
        notes.append(size_chart(records, context, out_dir, tmp, "throughput.png", "throughput",
                                ["cross", "same", "none"], lambda r, t: r["size"] * 1e9 / t / 1e6,
                                "throughput (MB/s = 1e6 bytes/s)",
                                f"One-way throughput by message size, per family (two cores = "
                                f"{context.get('ipcbench.placement.cross', '?')} where measured, else one core)"))
        notes.append(size_chart(records, context, out_dir, tmp, "latency_vs_size.png", "latency", ["cross"],
                                lambda r, t: t / 1e3, "round trip p50 (µs)",
                                f"Round trip by message size, per family, two cores = "
                                f"{context.get('ipcbench.placement.cross', '?')}"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [n for n in notes if n]


# ---- main -----------------------------------------------------------------------------


def build(path, lat_size, thr_sizes):
    """Everything the outputs are made of, from one result file."""
    context, records, na = load(path)
    add_ratios(records)
    rows = mechanism_rows(records, na, lat_size, thr_sizes)
    return context, records, na, rows


def main():
    global NOISY
    ap = argparse.ArgumentParser(description="ipcbench JSON -> markdown table, CSV, PNG charts")
    ap.add_argument("json")
    ap.add_argument("--out", default=None, help="output directory (default: the JSON's directory)")
    ap.add_argument("--lat-size", type=int, default=100)
    ap.add_argument("--thr-sizes", default="100,65536")
    ap.add_argument("--noisy", type=float, default=NOISY, help="spread (max-min)/median above which a figure is noisy")
    ap.add_argument("--console", action="store_true", help="print the short table (<= --max-lines, 80 columns)")
    ap.add_argument("--max-lines", type=int, default=57)
    ap.add_argument("--quiet", action="store_true", help="do not print the table")
    ap.add_argument("--no-charts", action="store_true")
    args = ap.parse_args()
    NOISY = args.noisy
    out_dir = args.out or os.path.dirname(os.path.abspath(args.json))
    os.makedirs(out_dir, exist_ok=True)
    thr_sizes = [int(s) for s in args.thr_sizes.split(",") if s]

    context, records, na, rows = build(args.json, args.lat_size, thr_sizes)
    if not records:
        print(f"report: no benchmark entries in {args.json}", file=sys.stderr)
        return 1
    text = markdown(context, records, na, rows, args.lat_size, thr_sizes)
    paths = {"md": os.path.join(out_dir, "report.md"), "csv": os.path.join(out_dir, "results.csv"),
             "summary": os.path.join(out_dir, "summary.csv")}
    with open(paths["md"], "w") as f:
        f.write(text)
    write_csv(paths["csv"], CSV_FIELDS, records)
    write_summary(paths["summary"], rows, thr_sizes)
    notes = [] if args.no_charts else charts(records, context, rows, out_dir, args.lat_size)
    problems = [n for n in notes if not n.endswith(".png")]
    if args.console:
        print(console(context, records, na, rows, args.lat_size, thr_sizes, args.max_lines - len(problems), paths))
        for n in problems:
            print(f"report: charts: {n.splitlines()[0][:66]}")
        return 0
    if not args.quiet:
        print(text)
    print(f"report: {paths['md']}, {paths['csv']}, {paths['summary']}")
    for n in notes:
        print(f"report: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
