#!/usr/bin/env python3
"""report.py -- turn ipcbench's JSON into a ranked table, CSV files and PNG charts.

Usage: report.py RESULTS.json [--out DIR] [--lat-size 100] [--thr-sizes 100,65536] [--quiet]

Writes to DIR (default: the JSON's directory):
  report.md     the ranked table (also printed), the interface-cost table, the baselines,
                and the headline ratios
  results.csv   every measurement, one row each, with its ratio to the raw baseline and to
                Python computed from the figures in the JSON
  summary.csv   the ranked table as CSV
  latency.png, throughput.png (and latency_vs_size.png when several sizes were measured),
                drawn by gnuplot

Ratios, always computed from the data in the JSON (never copied from a counter):
  cost_vs_raw        our time / the raw system calls' time, both measured interleaved in the
                     same run: latency p50, median time per message over the turns of a
                     throughput run, median ns per send+receive: 1.05 = 5 % slower
  speedup_vs_python  Python's time / ours: 12 = twelve times faster than Python
Python's counterpart: queue.Queue for threads, multiprocessing.Queue for processes.
Standard library only; gnuplot is optional (no charts without it).
"""
import argparse
import csv
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

PY_FOR_MODE = {"threads": "python:queue.Queue", "procs": "python:mp.Queue"}
UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


# ---- reading ------------------------------------------------------------------------


def parse_name(name):
    """KIND/IMPL/MODE/PLACEMENT/SIZE[/NxM][/manual_time...] -> dict, or None."""
    parts = name.split("/")
    if len(parts) < 5 or not parts[4].isdigit():
        return None
    rec = {"kind": parts[0], "impl": parts[1], "mode": parts[2], "pin": parts[3], "size": int(parts[4]),
           "producers": 1, "consumers": 1}
    if len(parts) > 5 and re.fullmatch(r"\d+x\d+", parts[5]):
        rec["producers"], rec["consumers"] = (int(x) for x in parts[5].split("x"))
    return rec


def load(path):
    with open(path) as f:
        data = json.load(f)
    context = data.get("context", {})
    impls = {}
    for key, value in context.items():
        if key.startswith("impl."):
            impls[key[5:]] = dict(kv.split("=", 1) for kv in value.split("|") if "=" in kv)
    entries = data.get("benchmarks", [])
    # With --reps, Google Benchmark adds aggregates: use the median, not every repetition.
    medians = {e["run_name"] for e in entries
               if e.get("run_type") == "aggregate" and e.get("aggregate_name") == "median"}
    records = []
    for e in entries:
        if e.get("run_type") == "aggregate" and e.get("aggregate_name") != "median":
            continue
        if e.get("run_type") != "aggregate" and e.get("run_name", e["name"]) in medians:
            continue
        rec = parse_name(e.get("run_name", e["name"]))
        if rec is None:
            continue
        unit = UNIT_NS.get(e.get("time_unit", "ns"), 1.0)
        rec.update({
            "name": e["name"],
            "error": e.get("error_message", "") if e.get("error_occurred") else "",
            "mean_ns": e.get("real_time", 0.0) * unit,
            "label": e.get("label", ""),
        })
        for k in ("p50_ns", "p99_ns", "p999_ns", "max_ns", "items_per_second", "bytes_per_second",
                  "cpu_util", "cpu_ns_per_op", "raw_p50_ns", "raw_p99_ns", "raw_items_per_second",
                  "raw_bytes_per_second", "ns_per_op", "raw_ns_per_op", "observed_ns_per_op",
                  "msg_ns", "raw_msg_ns"):
            if k in e:
                rec[k] = float(e[k])
        if rec["kind"] == "pair" and not rec["error"] and "ns_per_op" not in rec:
            rec["ns_per_op"] = rec["mean_ns"]
        # The rate the tables and charts show: from the median time per message over
        # the run's turns where the harness gives it (a stalled turn on a shared
        # machine does not drag it down), else the run's mean.
        if rec.get("msg_ns"):
            rec["msgs_per_s"] = 1e9 / rec["msg_ns"]
            rec["bytes_per_s"] = rec["msgs_per_s"] * rec["size"]
        else:
            rec["msgs_per_s"] = rec.get("items_per_second")
            rec["bytes_per_s"] = rec.get("bytes_per_second")
        info = impls.get(rec["impl"], {})
        rec["family"] = info.get("family", rec["impl"].split(":")[0] if ":" in rec["impl"] else "")
        rec["wait"] = info.get("wait", rec["label"].split(";")[0])
        rec["raw_impl"] = info.get("raw", "none")
        records.append(rec)
    return context, impls, records


# ---- ratios ---------------------------------------------------------------------------


def ratio(a, b):
    return a / b if a and b else None


def find(records, **want):
    for r in records:
        if not r["error"] and all(r.get(k) == v for k, v in want.items()):
            return r
    return None


def add_ratios(records):
    """cost_vs_raw from the raw lane's figures, speedup_vs_python from the Python rows."""
    for r in records:
        if r["error"]:
            continue
        if r["kind"] == "latency":
            r["cost_vs_raw"] = ratio(r.get("p50_ns"), r.get("raw_p50_ns"))
        elif r["kind"] == "throughput":
            r["cost_vs_raw"] = ratio(r.get("msg_ns"), r.get("raw_msg_ns"))
        elif r["kind"] == "pair":
            r["cost_vs_raw"] = ratio(r.get("ns_per_op"), r.get("raw_ns_per_op"))
            r["observer_cost"] = ratio(r.get("observed_ns_per_op"), r.get("ns_per_op"))
        py_name = PY_FOR_MODE.get(r["mode"])
        if r["kind"] in ("latency", "throughput") and py_name and not r["impl"].startswith("python:"):
            py = find(records, kind=r["kind"], impl=py_name, mode=r["mode"], pin=r["pin"], size=r["size"],
                      producers=1, consumers=1)
            if py and r["producers"] == 1 and r["consumers"] == 1:
                r["python_impl"] = py_name
                if r["kind"] == "latency":
                    r["speedup_vs_python"] = ratio(py.get("p50_ns"), r.get("p50_ns"))
                else:
                    r["speedup_vs_python"] = ratio(r.get("msgs_per_s"), py.get("msgs_per_s"))


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


def num(v):
    return "–" if v is None else f"{v:.0f}"


def mb(bytes_per_second):
    return "–" if not bytes_per_second else f"{bytes_per_second / 1e6:.0f}"


def best_throughput(records, impl, mode, size):
    """The 1x1 throughput record of impl at size: two cores if measured, else one, else unpinned."""
    for pin in ("cross", "same", "none"):
        r = find(records, kind="throughput", impl=impl, mode=mode, pin=pin, size=size, producers=1, consumers=1)
        if r:
            return r
    return None


def times(v):
    return "–" if v is None else f"{v:.2f}×" if v < 10 else f"{v:.0f}×"


def nearest(records, size, **want):
    """The record at `size`; if that size was n/a ("n/a: limit N bytes"), the
    record at N, which the harness measures in its place.  (record, size used)
    or (None, None)."""
    exact = [r for r in records if r["size"] == size and all(r.get(k) == v for k, v in want.items())]
    for r in exact:
        if not r["error"]:
            return r, size
    for r in exact:
        m = re.match(r"n/a: limit (\d+) bytes", r["error"])
        if m:
            limit = int(m.group(1))
            sub = find(records, size=limit, **want)
            return (sub, limit) if sub else (None, None)
    return None, None


def mechanism_rows(records, lat_size, thr_sizes):
    """One row per (mechanism, mode) measured, with the figures of the table."""
    keys = []
    for r in records:
        if r["family"] in ("raw", "limit", "python") or ":" in r["impl"] or r["mode"] not in ("threads", "procs"):
            continue
        if (r["impl"], r["mode"]) not in keys:
            keys.append((r["impl"], r["mode"]))
    rows = []
    for impl, mode in keys:
        row = {"mechanism": impl, "mode": mode, "notes": [], "limit_sizes": set()}
        first = next(r for r in records if r["impl"] == impl)
        row["wait"] = first["wait"]
        for pin in ("same", "cross"):
            lat, used = nearest(records, lat_size, kind="latency", impl=impl, mode=mode, pin=pin,
                                producers=1, consumers=1)
            row[f"p50_{pin}"] = lat.get("p50_ns") if lat else None
            row[f"p99_{pin}"] = lat.get("p99_ns") if lat else None
            row[f"lat_{pin}"] = lat
            if lat and used != lat_size:
                row["limit_sizes"].add(used)
        for size in thr_sizes:
            thr = None
            for pin in ("cross", "same", "none"):
                thr, used = nearest(records, size, kind="throughput", impl=impl, mode=mode, pin=pin,
                                    producers=1, consumers=1)
                if thr:
                    break
            row[f"thr_{size}"] = thr
            if thr and used != size:
                row["limit_sizes"].add(used)
            if not thr:
                err = find_error(records, impl=impl, mode=mode, size=size, kind="throughput")
                if err:
                    row["notes"].append(f"{size} B: {err}")
        if row["limit_sizes"]:
            row["notes"].insert(0, "larger sizes n/a: measured at its limit, "
                                + ", ".join(f"{n} B" for n in sorted(row["limit_sizes"])))
        lat = row["lat_cross"] or row["lat_same"]
        thr = row.get(f"thr_{thr_sizes[0]}")
        row["lat_vs_raw"] = lat.get("cost_vs_raw") if lat else None
        row["thr_vs_raw"] = thr.get("cost_vs_raw") if thr else None
        row["lat_vs_py"] = lat.get("speedup_vs_python") if lat else None
        row["thr_vs_py"] = thr.get("speedup_vs_python") if thr else None
        row["rank_key"] = row["p50_cross"] or row["p50_same"] or math.inf
        rows.append(row)
    rows.sort(key=lambda r: r["rank_key"])
    for i, row in enumerate(rows, 1):
        row["rank"] = i
    return rows


def find_error(records, **want):
    for r in records:
        if r["error"] and all(r.get(k) == v for k, v in want.items()):
            return r["error"]
    return ""


def markdown(context, records, rows, lat_size, thr_sizes):
    out = []
    cpus = context.get("ipcbench.cpus", "?")
    out.append(f"# ipcbench results\n")
    out.append(f"Host {context.get('host_name', '?')}, {context.get('num_cpus', '?')} CPUs, run "
               f"{context.get('date', '?')}; placements: same = {context.get('ipcbench.placement.same', '?')}, "
               f"cross = {context.get('ipcbench.placement.cross', '?')} (CPUs {cpus}).  "
               f"Latency = round trip of a {lat_size}-byte message (µs); throughput one way, "
               f"two cores where measured.\n")
    t1, t2 = thr_sizes[0], thr_sizes[-1]
    head = ["#", "mechanism", "mode", "wait strategy", "p50 same", "p99 same", "p50 cross", "p99 cross",
            f"msgs/s @{t1}B", f"MB/s @{t2 // 1024}KiB" if t2 >= 1024 else f"MB/s @{t2}B",
            "lat ÷ raw", "thr cost ÷ raw", "× Python (lat)", "× Python (thr)", "notes"]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    for r in rows:
        thr1, thr2 = r.get(f"thr_{t1}"), r.get(f"thr_{t2}")
        out.append("| " + " | ".join([
            str(r["rank"]), r["mechanism"], r["mode"], r["wait"],
            us(r["p50_same"]), us(r["p99_same"]), us(r["p50_cross"]), us(r["p99_cross"]),
            rate(thr1.get("msgs_per_s")) if thr1 else "–",
            mb(thr2 and thr2.get("bytes_per_s")),
            times(r["lat_vs_raw"]), times(r["thr_vs_raw"]), times(r["lat_vs_py"]), times(r["thr_vs_py"]),
            "; ".join(r["notes"]),
        ]) + " |")
    out.append("")
    out.append("Ranked by p50 latency on two cores.  *lat ÷ raw*: p50 over the raw system calls' p50, "
               "measured interleaved (1.10 = 10 % slower); *thr cost ÷ raw*: time per message over raw's "
               f"at {t1} B; *× Python*: times faster than queue.Queue (threads) or multiprocessing.Queue "
               "(procs) in the same placement.  – = not measured (no raw baseline, no Python counterpart, "
               "or the size is above the mechanism's limit).\n")

    pairs = [r for r in records if r["kind"] == "pair" and not r["error"]]
    if pairs:
        out.append("## Interface cost: send + receive in one thread (no wakeups)\n")
        out.append("| mechanism | size | ns per send+recv | raw ns | ÷ raw | with observer ns | ÷ without |")
        out.append("|---|---|---|---|---|---|---|")
        for r in sorted(pairs, key=lambda r: r["ns_per_op"]):
            out.append(f"| {r['impl']} | {r['size']} | {r['ns_per_op']:.0f} | {num(r.get('raw_ns_per_op'))} | "
                       f"{times(r.get('cost_vs_raw'))} | {num(r.get('observed_ns_per_op'))} | "
                       f"{times(r.get('observer_cost'))} |")
        out.append("")

    base = [r for r in records if r["family"] in ("limit", "python") or r["impl"].split(":")[0] in ("limit", "python")]
    if base:
        out.append("## Baselines: the machine's limits and Python\n")
        out.append(f"| baseline | mode | wait | p50 same µs | p50 cross µs | msgs/s @{t1}B | MB/s @{t2}B |")
        out.append("|---|---|---|---|---|---|---|")
        seen = []
        for r in base:
            if (r["impl"], r["mode"]) in seen:
                continue
            seen.append((r["impl"], r["mode"]))
            ls = find(records, kind="latency", impl=r["impl"], mode=r["mode"], pin="same")
            lc = find(records, kind="latency", impl=r["impl"], mode=r["mode"], pin="cross")
            a, b = (best_throughput(records, r["impl"], r["mode"], size) for size in (t1, t2))
            out.append(f"| {r['impl']} | {r['mode']} | {r['wait']} | {us(ls and ls.get('p50_ns'))} | "
                       f"{us(lc and lc.get('p50_ns'))} | {rate(a and a.get('msgs_per_s'))} | "
                       f"{mb(b and b.get('bytes_per_s'))} |")
        out.append("")

    out.append("## Headline ratios\n")
    out.extend(headlines(records, rows, lat_size, thr_sizes) or ["(not enough data for the headline ratios)"])
    errors = [r for r in records if r["error"] and not r["error"].startswith("n/a")]
    if errors:
        out.append("\n## Failed benchmarks\n")
        out.extend(f"- `{r['name']}`: {r['error']}" for r in errors)
    return "\n".join(out) + "\n"


def headlines(records, rows, lat_size, thr_sizes):
    """The comparisons the project asks for, from the data: by family, each
    mechanism in the mode the charts use (processes where it can), two cores."""
    out = []
    small, big = thr_sizes[0], thr_sizes[-1]
    fam = {r["impl"]: r["family"] for r in records}
    mechs = list(dict.fromkeys(row["mechanism"] for row in rows))

    def pick(impl, kind, size, pin="cross"):
        r, _ = nearest(records, size, kind=kind, impl=impl, mode=one_mode(records, impl), pin=pin,
                       producers=1, consumers=1)
        return r

    cache = find(records, kind="latency", impl="limit:cacheline", pin="cross")
    memcpy = find(records, kind="throughput", impl="limit:memcpy", size=big)
    shm = [m for m in mechs if fam.get(m) == "shm"]
    if cache and shm:
        out.append(f"Shared memory against the cache-line ping-pong ({us(cache['p50_ns'])} µs round trip, two cores):")
        for m in shm:
            r = pick(m, "latency", lat_size)
            if r:
                out.append(f"- {m} ({r['mode']}): p50 {us(r['p50_ns'])} µs = {times(ratio(r['p50_ns'], cache['p50_ns']))}")
    if memcpy and shm:
        out.append(f"\nShared memory at {big} B against memcpy ({memcpy['bytes_per_s'] / 1e9:.1f} GB/s, one thread):")
        for m in shm:
            r = pick(m, "throughput", big)
            if r and r.get("bytes_per_s"):
                out.append(f"- {m} ({r['mode']}): {r['bytes_per_s'] / 1e9:.2f} GB/s = "
                           f"{ratio(r['bytes_per_s'], memcpy['bytes_per_s']):.0%} of memcpy")
    streams = [(m, pick(m, "throughput", small)) for m in mechs if fam.get(m) == "pipes"]
    streams = [(m, r) for m, r in streams if r and r.get("msg_ns") and r.get("raw_msg_ns")]
    if streams:
        out.append(f"\nPipes and sockets, {small} B messages, against the raw one-read(2)-per-message reader "
                   "(median time per message, interleaved; > 1 = ipcplay faster):")
        for m, r in streams:
            out.append(f"- {m} ({r['mode']}): {r['msg_ns']:.0f} ns vs {r['raw_msg_ns']:.0f} ns for "
                       f"{r['raw_impl']}: {ratio(r['raw_msg_ns'], r['msg_ns']):.2f}×")
    pairs = [r for r in records if r["kind"] == "pair" and not r["error"] and r.get("cost_vs_raw")]
    if pairs:
        costs = sorted(r["cost_vs_raw"] for r in pairs)
        over = [f"{r['impl']} {times(r['cost_vs_raw'])}" for r in pairs if r["cost_vs_raw"] > 1.10]
        out.append(f"\nInterface overhead, one thread (send+receive, no wakeups), against the raw calls: median "
                   f"{times(costs[len(costs) // 2])} over {len(costs)} mechanisms; above the 10 % target: "
                   f"{', '.join(over) if over else 'none'}.")
    for mode, py in PY_FOR_MODE.items():
        ranked = [row for row in rows if row["mode"] == mode and (row["lat_vs_py"] or row["thr_vs_py"])]
        if not ranked:
            continue
        out.append(f"\nAgainst {py} ({mode}; × = times faster; p50 round trip on one core / two cores, "
                   f"{small} B msgs/s on two cores):")
        for row in [ranked[0]] + [r for r in ranked[1:] if fam.get(r["mechanism"]) == "queues"]:
            same = row["lat_same"] and row["lat_same"].get("speedup_vs_python")
            out.append(f"- {row['mechanism']}: latency {times(same)} / {times(row['lat_vs_py'])}, "
                       f"throughput {times(row['thr_vs_py'])}")
    return out


# ---- CSV ------------------------------------------------------------------------------

CSV_FIELDS = ["name", "kind", "impl", "family", "mode", "pin", "size", "producers", "consumers", "wait",
              "p50_ns", "p99_ns", "p999_ns", "max_ns", "mean_ns", "items_per_second", "bytes_per_second",
              "msgs_per_s", "bytes_per_s", "msg_ns", "ns_per_op", "cpu_util", "cpu_ns_per_op", "raw_impl", "raw_p50_ns",
              "raw_items_per_second", "raw_msg_ns", "raw_ns_per_op", "cost_vs_raw", "observed_ns_per_op", "observer_cost", "python_impl",
              "speedup_vs_python", "error"]


def write_csv(path, fields, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in fields})


# ---- charts ---------------------------------------------------------------------------


def gnuplot(script, workdir):
    if not shutil.which("gnuplot"):
        return "gnuplot not found: no charts"
    p = subprocess.run(["gnuplot"], input=script, text=True, cwd=workdir, capture_output=True)
    return p.stderr.strip() if p.returncode else ""


def one_mode(records, impl):
    """The mode to chart for a mechanism: processes where it runs there, else threads."""
    modes = {r["mode"] for r in records if r["impl"] == impl and not r["error"]}
    return "procs" if "procs" in modes else "threads" if "threads" in modes else None


# 20 colours that stay apart (Tableau 20); baselines are dashed.
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
           "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"]


def style(i, impl):
    """Line i's look: the same colour and point for an implementation in every chart."""
    dash = 2 if impl.startswith(("python:", "limit:")) else 1
    return f'with linespoints dt {dash} lw 2 pt {i % 13 + 1} ps 1.2 lc rgb "{PALETTE[i % len(PALETTE)]}"'


def size_axis(sizes):
    """x tics at the measured sizes, written 8, 100, 1K, 64K, 1M."""
    def tag(n):
        return f"{n >> 20}M" if n >= 1 << 20 and n % (1 << 20) == 0 else \
            f"{n >> 10}K" if n >= 1024 and n % 1024 == 0 else str(n)
    tics = ", ".join(f'"{tag(n)}" {n}' for n in sizes)
    return f"set xtics ({tics})\nset xrange [{sizes[0] / 1.6}:{sizes[-1] * 1.6}]" if sizes else ""


def line_chart(out_dir, name, tmp, plots, sizes, title, ylabel):
    """A log-log chart of one line per implementation against message size."""
    err = gnuplot(f"""
set terminal pngcairo size 1400,820 font "DejaVu Sans,11" noenhanced
set output "{os.path.join(os.path.abspath(out_dir), name)}"
set title "{title}"
set xlabel "message size (bytes)"
set ylabel "{ylabel}"
set logscale xy
set grid xtics ytics
set key outside right top font ",9"
{size_axis(sizes)}
plot {", ".join(plots)}
""", tmp)
    return err or os.path.join(out_dir, name)


def charts(records, out_dir, lat_size):
    tmp = tempfile.mkdtemp(prefix="ipcreport.")
    notes = []
    index = {impl: i for i, impl in enumerate(dict.fromkeys(r["impl"] for r in records))}
    try:
        # 1. latency per mechanism: p50 same core, p50 two cores, p99 two cores
        groups = []
        for r in records:
            if r["kind"] == "latency" and not r["error"] and r["impl"] not in [g[0] for g in groups]:
                groups.append((r["impl"], one_mode(records, r["impl"])))
        with open(os.path.join(tmp, "lat.dat"), "w") as f:
            # columns: label, p50 same core, p50 two cores, p99 two cores (no header line:
            # in a histogram it would take the first slot)
            for impl, mode in groups:
                vals, sizes = [], set()
                for pin, key in (("same", "p50_ns"), ("cross", "p50_ns"), ("cross", "p99_ns")):
                    # a limit has one size of its own (the cache line's ping-pong carries 8 bytes)
                    size = lat_size if not impl.startswith("limit:") else \
                        next((x["size"] for x in records if x["impl"] == impl and x["kind"] == "latency"), lat_size)
                    r, used = nearest(records, size, kind="latency", impl=impl, mode=mode, pin=pin,
                                      producers=1, consumers=1)
                    vals.append(f"{r[key] / 1e3:.4f}" if r and r.get(key) else "NaN")
                    if r:
                        sizes.add(used)
                at = "".join(f", {x} B" for x in sizes if x != lat_size and not impl.startswith("limit:"))
                f.write(f'"{impl} ({mode}{at})" ' + " ".join(vals) + "\n")
        if groups:
            width = max(1200, 60 * len(groups) + 200)
            first_base = next((i for i, (impl, _) in enumerate(groups) if ":" in impl), None)
            separator = (f'set arrow from {first_base - 0.5}, graph 0 to {first_base - 0.5}, graph 1 nohead dt 2 lc rgb "#555555"\n'
                         f'set label "baselines" at {first_base - 0.4}, graph 0.97 left textcolor rgb "#555555"'
                         if first_base else "")
            err = gnuplot(f"""
set terminal pngcairo size {width},760 font "DejaVu Sans,11" noenhanced
set output "{os.path.join(os.path.abspath(out_dir), 'latency.png')}"
set title "Round-trip latency, {lat_size}-byte messages (log scale; processes where the mechanism allows, else threads)"
set ylabel "round trip (µs)"
set logscale y
set grid ytics
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by 40 right scale 0 font ",10"
set xrange [-0.6:{len(groups) - 0.4}]
set key outside top center horizontal
set bmargin 11
set lmargin 10
{separator}
plot "lat.dat" using 2:xtic(1) title "p50, same core" lc rgb "#4e79a7", \\
     "" using 3 title "p50, two cores" lc rgb "#f28e2b", \\
     "" using 4 title "p99, two cores" lc rgb "#e15759"
""", tmp)
            notes.append(err or f"{out_dir}/latency.png")

        # 2. throughput vs message size, log-log, one line per implementation
        lines = []
        for impl in dict.fromkeys(r["impl"] for r in records if r["kind"] == "throughput" and not r["error"]):
            mode = one_mode(records, impl) if not impl.startswith("limit:") else "single"
            pts = {}
            for r in records:
                if (r["kind"] == "throughput" and r["impl"] == impl and r["mode"] == mode and not r["error"]
                        and r["producers"] == 1 and r["consumers"] == 1 and r.get("bytes_per_s")):
                    prio = {"cross": 0, "same": 1, "none": 2, }.get(r["pin"], 3)
                    if r["size"] not in pts or prio < pts[r["size"]][0]:
                        pts[r["size"]] = (prio, r["bytes_per_s"])
            if pts:
                fname = f"thr{len(lines)}.dat"
                with open(os.path.join(tmp, fname), "w") as f:
                    for size in sorted(pts):
                        f.write(f"{size} {pts[size][1] / 1e6:.6f}\n")
                lines.append((impl, mode, fname))
        if lines:
            # queue.Queue hands over a reference: its "bytes per second" copies nothing
            plots = [f'"{fname}" using 1:2 {style(index[impl], impl)} title "{impl} ({mode}'
                     f'{", by reference" if impl == "python:queue.Queue" else ""})"'
                     for impl, mode, fname in lines]
            sizes = sorted({r["size"] for r in records if r["kind"] == "throughput" and not r["error"]})
            notes.append(line_chart(out_dir, "throughput.png", tmp, plots, sizes,
                                    "One-way throughput vs message size (two cores where measured; log-log)",
                                    "throughput (MB/s, 10^6 bytes per second)"))

        # 3. latency vs message size, when several sizes were measured
        lat_lines = []
        for impl, mode in groups:
            pts = sorted((r["size"], r["p50_ns"] / 1e3) for r in records
                         if r["kind"] == "latency" and r["impl"] == impl and r["mode"] == mode
                         and r["pin"] == "cross" and not r["error"] and r.get("p50_ns"))
            if len(pts) > 1:
                fname = f"latsz{len(lat_lines)}.dat"
                with open(os.path.join(tmp, fname), "w") as f:
                    f.writelines(f"{s} {v:.4f}\n" for s, v in pts)
                lat_lines.append((impl, mode, fname))
        if lat_lines:
            plots = [f'"{fn}" using 1:2 {style(index[impl], impl)} title "{impl} ({mode})"'
                     for impl, mode, fn in lat_lines]
            sizes = sorted({r["size"] for r in records if r["kind"] == "latency" and not r["error"]})
            notes.append(line_chart(out_dir, "latency_vs_size.png", tmp, plots, sizes,
                                    "Round-trip latency p50 vs message size, two cores (log-log)",
                                    "round trip p50 (µs)"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return notes


# ---- main -----------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description="ipcbench JSON -> markdown table, CSV, PNG charts")
    ap.add_argument("json")
    ap.add_argument("--out", default=None, help="output directory (default: the JSON's directory)")
    ap.add_argument("--lat-size", type=int, default=100)
    ap.add_argument("--thr-sizes", default="100,65536")
    ap.add_argument("--quiet", action="store_true", help="do not print the table")
    ap.add_argument("--no-charts", action="store_true")
    args = ap.parse_args()
    out_dir = args.out or os.path.dirname(os.path.abspath(args.json))
    os.makedirs(out_dir, exist_ok=True)
    thr_sizes = [int(s) for s in args.thr_sizes.split(",") if s]

    context, impls, records = load(args.json)
    if not records:
        print(f"report: no benchmark entries in {args.json}", file=sys.stderr)
        return 1
    add_ratios(records)
    rows = mechanism_rows(records, args.lat_size, thr_sizes)
    text = markdown(context, records, rows, args.lat_size, thr_sizes)
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write(text)
    write_csv(os.path.join(out_dir, "results.csv"), CSV_FIELDS, records)
    summary = [{**r, "p50_same_ns": r["p50_same"], "p99_same_ns": r["p99_same"], "p50_cross_ns": r["p50_cross"],
                "p99_cross_ns": r["p99_cross"],
                **{f"msgs_per_s_{s}": (r[f"thr_{s}"] or {}).get("msgs_per_s") for s in thr_sizes},
                **{f"bytes_per_s_{s}": (r[f"thr_{s}"] or {}).get("bytes_per_s") for s in thr_sizes},
                "notes": "; ".join(r["notes"])} for r in rows]
    write_csv(os.path.join(out_dir, "summary.csv"),
              ["rank", "mechanism", "mode", "wait", "p50_same_ns", "p99_same_ns", "p50_cross_ns", "p99_cross_ns"]
              + [f"msgs_per_s_{s}" for s in thr_sizes] + [f"bytes_per_s_{s}" for s in thr_sizes]
              + ["lat_vs_raw", "thr_vs_raw", "lat_vs_py", "thr_vs_py", "notes"], summary)
    notes = [] if args.no_charts else charts(records, out_dir, args.lat_size)
    if not args.quiet:
        print(text)
    print(f"report: {os.path.join(out_dir, 'report.md')}, {os.path.join(out_dir, 'results.csv')}, "
          f"{os.path.join(out_dir, 'summary.csv')}")
    for n in notes:
        print(f"report: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
