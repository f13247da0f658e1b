#!/usr/bin/env python3
"""compare.py -- compare two ipcbench result files, benchmark by benchmark.

Usage: ipcbench compare A.json B.json [--out DIR] [--alpha 0.05] [--filter REGEX]
                                      [--max-rows 40] [--no-chart]
       (or: python3 bench/compare.py A.json B.json ...)

A is the baseline, B the new result: before and after a change, one machine and another,
block and spin.  Benchmarks are matched by name (KIND/IMPL/MODE/PLACEMENT/SIZE[/NxM]),
so files from different hosts compare; what differs between the two machines and builds
(context) is printed first.

Per benchmark, with the statistic of report.py (each repetition's figure: p50 round trip,
median time per message over 8 turns, ...):
  ratio      median(B) / median(A) of the repetitions' figures: < 1 = B is faster
  interval   [min(B) / max(A), max(B) / min(A)]
  p          two-sided Mann-Whitney U test over the two sets of repetitions (as Google
             Benchmark's tools/compare.py does): the probability of a difference at least
             this large if A and B came from one distribution
  verdict    "faster" / "slower" when p < alpha, else "no significant change"; "too few
             repetitions" when even a complete separation could not reach alpha (3 against
             3 repetitions cannot: the smallest two-sided p is 0.10; use --reps 5)

Writes DIR/compare.md, DIR/compare.csv and (gnuplot) DIR/compare.png; prints the summary
and the largest changes.  The Mann-Whitney U test is implemented here with the standard
library (exact distribution without ties when a sample has at most 8 values, as scipy's
method="auto"; otherwise the normal approximation with tie and continuity corrections).
"""
import argparse
import csv
import math
import os
import re
import sys
import tempfile
import shutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (load(), the statistic, gnuplot)


# ---- Mann-Whitney U ------------------------------------------------------------------


def _ranks(values):
    """Average ranks (1-based) of values, ties sharing the mean of their ranks; and the
    tie groups' sizes."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    ties = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        ties.append(j - i + 1)
        i = j + 1
    return ranks, ties


def _exact_counts(n1, n2):
    """counts[u] = how many of the C(n1+n2, n1) orderings give U = u (no ties)."""
    # f[a][b] is a list over u for samples of sizes a and b; built bottom-up
    f = [[None] * (n2 + 1) for _ in range(n1 + 1)]
    for a in range(n1 + 1):
        for b in range(n2 + 1):
            if a == 0 or b == 0:
                f[a][b] = [1]
                continue
            size = a * b + 1
            out = [0] * size
            # the largest value belongs to sample 1 (it beats all b of sample 2) or to sample 2
            for u, c in enumerate(f[a - 1][b]):
                out[u + b] += c
            for u, c in enumerate(f[a][b - 1]):
                out[u] += c
            f[a][b] = out
    return f[n1][n2]


def mann_whitney_u(x, y, method="auto"):
    """Two-sided Mann-Whitney U test: (U of x, p-value, method used).  method: "auto"
    (exact when a sample has at most 8 values and there are no ties), "exact" or
    "asymptotic"."""
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        raise ValueError("mann_whitney_u: both samples need values")
    ranks, ties = _ranks(list(x) + list(y))
    r1 = sum(ranks[:n1])
    u1 = r1 - n1 * (n1 + 1) / 2
    u2 = n1 * n2 - u1
    big = max(u1, u2)
    has_ties = any(t > 1 for t in ties)
    if method == "exact" or (method == "auto" and min(n1, n2) <= 8 and not has_ties):
        counts = _exact_counts(n1, n2)
        total = math.comb(n1 + n2, n1)
        # P(U >= big), doubled for two sides
        tail = sum(counts[int(round(big)):]) / total
        return u1, min(1.0, 2 * tail), "exact"
    n = n1 + n2
    mu = n1 * n2 / 2
    tie_term = sum(t ** 3 - t for t in ties) / (n * (n - 1))
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term))
    if sigma == 0:
        return u1, 1.0, "asymptotic"
    z = (big - mu - 0.5) / sigma  # continuity correction
    p = math.erfc(z / math.sqrt(2))  # = 2 * (1 - Phi(z))
    return u1, min(1.0, max(0.0, p)), "asymptotic"


def smallest_p(n1, n2):
    """The smallest two-sided p a test of n1 against n2 values can give."""
    if min(n1, n2) <= 8:
        return min(1.0, 2 / math.comb(n1 + n2, n1))
    return mann_whitney_u(list(range(n1)), list(range(n1, n1 + n2)))[1]


# ---- the comparison ----------------------------------------------------------------------


CONTEXT_KEYS = [("host", "host_name"), ("CPU", "ipcbench.cpu_model"), ("cores", "ipcbench.cores"),
                ("kernel", "ipcbench.kernel"), ("virtualization", "ipcbench.virtualization"),
                ("cpuidle", "ipcbench.cpuidle"), ("governor", "ipcbench.governor"),
                ("load before", "ipcbench.load_before"), ("commit", "ipcbench.commit"),
                ("build", "ipcbench.build_type"), ("compiler", "ipcbench.compiler"),
                ("repetitions", "ipcbench.repetitions"), ("date", "date")]


def compare(a_path, b_path, alpha, name_filter):
    ctx_a, rec_a, _ = report.load(a_path)
    ctx_b, rec_b, _ = report.load(b_path)
    by_b = {r["key"]: r for r in rec_b}
    rows = []
    for a in rec_a:
        b = by_b.get(a["key"])
        if not b or not a["vals"] or not b["vals"] or (name_filter and not re.search(name_filter, a["key"])):
            continue
        ratio, lo, hi = report.ratio_iv(b["vals"], a["vals"])
        u, p, method = mann_whitney_u(a["vals"], b["vals"])
        floor = smallest_p(len(a["vals"]), len(b["vals"]))
        if floor >= alpha:
            verdict = "too few repetitions"
        elif p < alpha:
            verdict = "faster" if ratio < 1 else "slower"
        else:
            verdict = "no significant change"
        rows.append({"name": a["key"], "statistic": report.STAT_WORDS.get(a["statistic"], a["statistic"]),
                     "a_reps": len(a["vals"]), "b_reps": len(b["vals"]), "a_ns": a["t_ns"], "b_ns": b["t_ns"],
                     "ratio": ratio, "ratio_lo": lo, "ratio_hi": hi, "u": u, "p_value": p, "method": method,
                     "verdict": verdict})
    only_a = sorted({r["key"] for r in rec_a} - set(by_b))
    only_b = sorted(set(by_b) - {r["key"] for r in rec_a})
    return ctx_a, ctx_b, rows, only_a, only_b


def fmt_ns(ns):
    return "–" if ns is None else f"{ns / 1e3:.2f} µs" if ns >= 1e3 else f"{ns:.1f} ns"


def text_report(a_path, b_path, ctx_a, ctx_b, rows, only_a, only_b, alpha, max_rows):
    out = [f"# ipcbench compare: B = {b_path} against A = {a_path}", ""]
    same, differ = [], []
    for label, key in CONTEXT_KEYS:
        va, vb = ctx_a.get(key, "?"), ctx_b.get(key, "?")
        if key not in ctx_a and key not in ctx_b:
            continue
        (same if va == vb else differ).append((label, va, vb))
    out.append("Machines and builds:")
    for label, va, vb in differ:
        out.append(f"- {label}: A {va} | B {vb}")
    if same:
        out.append(f"- the same in both: {', '.join(label for label, _, _ in same)}")
    out.append("")
    n = len(rows)
    count = {v: sum(1 for r in rows if r["verdict"] == v)
             for v in ("faster", "slower", "no significant change", "too few repetitions")}
    geo = math.exp(sum(math.log(r["ratio"]) for r in rows) / n) if n else None
    out.append(f"{n} benchmarks in both files (matched by name); statistic per repetition as in report.md, "
               f"ratio = median(B) / median(A) [min(B)/max(A) – max(B)/min(A)], < 1 = B faster; "
               f"two-sided Mann–Whitney U over the repetitions, alpha {alpha}.")
    out.append(f"Summary: {count['faster']} faster, {count['slower']} slower, "
               f"{count['no significant change']} no significant change"
               + (f", {count['too few repetitions']} with too few repetitions to tell" if count["too few repetitions"] else "")
               + (f"; geometric mean of the ratios {geo:.3f}" if geo else "") + ".")
    if count["too few repetitions"]:
        worst = max(rows, key=lambda r: smallest_p(r["a_reps"], r["b_reps"]))
        out.append(f"(With {worst['a_reps']} against {worst['b_reps']} repetitions the smallest possible p is "
                   f"{smallest_p(worst['a_reps'], worst['b_reps']):.3f}: run both with --reps 5 or more.)")
    if only_a or only_b:
        out.append(f"Only in A: {len(only_a)} benchmarks; only in B: {len(only_b)}.")
    out.append("")
    for verdict, key in (("faster", lambda r: r["ratio"]), ("slower", lambda r: -r["ratio"])):
        sig = sorted((r for r in rows if r["verdict"] == verdict), key=key)
        if sig:
            out.append(f"Largest {verdict} (of {len(sig)}):")
            for r in sig[:max_rows // 2]:
                out.append(f"  {r['ratio']:6.3f}× [{r['ratio_lo']:.2f}–{r['ratio_hi']:.2f}] p={r['p_value']:.3g}  "
                           f"{r['name']}  ({fmt_ns(r['a_ns'])} -> {fmt_ns(r['b_ns'])})")
            out.append("")
    return out


def markdown_table(rows):
    out = ["| benchmark | A | B | B/A | interval | p | verdict |", "|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: r["name"]):
        out.append(f"| {r['name']} | {fmt_ns(r['a_ns'])} ({r['a_reps']}) | {fmt_ns(r['b_ns'])} ({r['b_reps']}) | "
                   f"{r['ratio']:.3f} | {r['ratio_lo']:.2f}–{r['ratio_hi']:.2f} | {r['p_value']:.3g} | "
                   f"{r['verdict']} |")
    return out


def chart(rows, ctx_a, ctx_b, out_dir, alpha, limit=80):
    """A dot per benchmark: B/A on a log axis with its interval; colour = verdict."""
    if not rows:
        return None
    shown = sorted(rows, key=lambda r: (r["verdict"] not in ("faster", "slower"), -abs(math.log(r["ratio"]))))[:limit]
    shown.sort(key=lambda r: r["ratio"])
    tmp = tempfile.mkdtemp(prefix="ipccompare.")
    colours = {"faster": "#2ca02c", "slower": "#d62728", "no significant change": "#7f7f7f",
               "too few repetitions": "#bcbd22"}
    markers = {"faster": 9, "slower": 11, "no significant change": 7, "too few repetitions": 6}
    try:
        plots = []
        for verdict in colours:
            fn = f"{verdict.replace(' ', '_')}.dat"
            with open(os.path.join(tmp, fn), "w") as f:
                for i, r in enumerate(shown):
                    if r["verdict"] == verdict:
                        f.write(f"{r['ratio']} {i} {r['ratio_lo']} {r['ratio_hi']}\n")
            if any(r["verdict"] == verdict for r in shown):
                plots.append(f'"{fn}" using 1:2:3:4 with xerrorbars pt {markers[verdict]} ps 1.2 '
                             f'lc rgb "{colours[verdict]}" title "{verdict}"')
        tics = ", ".join(f'"{r["name"]}" {i}' for i, r in enumerate(shown))
        lo = min(r["ratio_lo"] for r in shown)
        hi = max(r["ratio_hi"] for r in shown)
        lo, hi = min(lo, 0.9) / 1.2, max(hi, 1.1) * 1.2
        xtics = ", ".join(f'"{t:g}×" {t}' for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 0.67, 0.8, 0.9, 1, 1.1,
                                                   1.25, 1.5, 2, 3, 4, 5, 10, 20, 50, 100) if lo <= t <= hi)
        title = (f"ipcbench compare: B/A per benchmark (median of each repetition's figure; bars min(B)/max(A) "
                 f"to max(B)/min(A); Mann-Whitney U, alpha {alpha})\\n"
                 f"A: {ctx_a.get('host_name', '?')} {ctx_a.get('date', '?')[:16].replace('T', ' ')} {ctx_a.get('ipcbench.commit', '')}"
                 f"   B: {ctx_b.get('host_name', '?')} {ctx_b.get('date', '?')[:16].replace('T', ' ')} {ctx_b.get('ipcbench.commit', '')}"
                 f"   ({len(shown)} of {len(rows)} shown: significant first, then the largest ratios)")
        script = f"""
set terminal pngcairo size 1300,{max(420, 16 * len(shown) + 200)} font "DejaVu Sans,9" noenhanced
set output "{os.path.join(os.path.abspath(out_dir), 'compare.png')}"
set title "{title}"
set logscale x
set xrange [{lo}:{hi}]
set xtics ({xtics})
set yrange [-1:{len(shown)}]
set ytics ({tics}) font ",8"
set grid xtics
set xlabel "B / A  (< 1: B faster, > 1: B slower; log scale)"
set key outside top center horizontal
set lmargin 40
set arrow from 1, graph 0 to 1, graph 1 nohead dt 2 lc rgb "#333333"
plot {", ".join(plots)}
"""
        err = report.gnuplot(script, tmp)
        return err or os.path.join(out_dir, "compare.png")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(prog="ipcbench compare",
                                 description="compare two ipcbench result files benchmark by benchmark")
    ap.add_argument("a", help="the baseline (A)")
    ap.add_argument("b", help="the new result (B)")
    ap.add_argument("--out", default=None, help="directory for compare.md/.csv/.png (default: B's directory)")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--filter", default="", help="only benchmarks whose name this regex matches")
    ap.add_argument("--max-rows", type=int, default=20, help="changes listed on the terminal")
    ap.add_argument("--no-chart", action="store_true")
    args = ap.parse_args()
    out_dir = args.out or os.path.dirname(os.path.abspath(args.b))
    os.makedirs(out_dir, exist_ok=True)
    ctx_a, ctx_b, rows, only_a, only_b = compare(args.a, args.b, args.alpha, args.filter)
    if not rows:
        print("compare: no benchmark with figures in both files (names differ?)", file=sys.stderr)
        return 1
    lines = text_report(args.a, args.b, ctx_a, ctx_b, rows, only_a, only_b, args.alpha, args.max_rows)
    print("\n".join(lines))
    with open(os.path.join(out_dir, "compare.md"), "w") as f:
        f.write("\n".join(lines + markdown_table(rows)) + "\n")
    fields = ["name", "statistic", "a_reps", "b_reps", "a_ns", "b_ns", "ratio", "ratio_lo", "ratio_hi", "u",
              "p_value", "method", "verdict"]
    report.write_csv(os.path.join(out_dir, "compare.csv"), fields, rows)
    note = None if args.no_chart else chart(rows, ctx_a, ctx_b, out_dir, args.alpha)
    print(f"compare: {os.path.join(out_dir, 'compare.md')}, {os.path.join(out_dir, 'compare.csv')}"
          + (f", {note}" if note and note.endswith(".png") else f" (chart: {note})" if note else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
