#!/usr/bin/env python3
"""python_baseline.py -- what the same workloads cost in Python (standard library only).

ipcbench runs this after its own benchmarks, with the same sizes and placements, and
splices the entries into its JSON: the same name scheme and the same fields as the C
benchmarks, so the report can put "x times faster than Python" next to every mechanism.

  python:queue.Queue   queue.Queue between two threads (a reference is passed, nothing
                       is copied: that is what a Python user gets between threads; the
                       GIL is held by whichever thread runs)
  python:mp.Queue      multiprocessing.Queue between two processes (pickled, written to
                       a pipe by a hidden feeder thread)
  python:mp.Pipe       multiprocessing.Pipe(duplex=False) between two processes, with
                       send_bytes/recv_bytes (no pickling: the cheapest Python path)
  python:ipcplay.Queue ipcplay's own Python binding (python/ipcplay: ctypes over
                       libipcplay.so) on "procq", between two processes: bytes in and out,
                       no feeder thread; the row to hold against python:mp.Queue (needs the
                       tree's build/libipcplay.so; left out with a note when it is missing)

Both queues are bounded to 1024 messages (put blocks when full), like the C channels.

Workloads and statistics (the same as bench/workloads.c, so that a ratio compares like
with like):
  latency     ping-pong over two channels, the full payload echoed, CLOCK_MONOTONIC
              (time.monotonic_ns) right before the send, warm-up discarded;
              p50/p99/p99.9/max of the round trips of one repetition (p50_ns is the
              figure the report uses, as for C)
  throughput  one producer (the main thread or process) sends, one consumer counts, in
              8 turns of equal size (sized so the turns fill --min-time): a turn is timed
              from its first send until the consumer has acknowledged its last message;
              msg_ns = the median over the 8 turns of the turn's time per message (the
              figure the report uses, as for C); items_per_second is the whole run's mean

Repetitions (--reps N): every repetition is one entry (run_type "iteration",
repetition_index 0..N-1), followed by Google Benchmark's aggregates (mean, median, stddev,
cv of every figure), unless --aggregates-only keeps the aggregates only.
--filter REGEX runs only the rows whose name it matches (re.search; a leading '-' negates,
as in --benchmark_filter).  Progress goes to stdout (ipcbench sends it to its stderr).

Usage: python_baseline.py --json OUT [--lat-sizes 8,100] [--thr-sizes 100,65536]
       [--pin same,cross] [--min-time 0.2] [--reps 1] [--cpus 0,1]
       [--no-latency] [--no-throughput] [--filter REGEX] [--aggregates-only]
"""
import argparse
import json
import multiprocessing
import os
import queue
import re
import resource
import statistics
import sys
import threading
import time

WARMUP = 50
STOP = b"S"
MARK = b"M"       # end of a throughput turn: the consumer acknowledges it
TURNS = 8         # throughput turns per repetition, as THR_CHUNKS in workloads.c
# Queues are bounded, as a producer that may run ahead without limit would
# measure how fast memory fills (and then take seconds to drain).
BOUND = 1024


def pin(cpu):
    """Pin the calling thread (Linux: pid 0 = this thread) to cpu; -1 = leave it."""
    if cpu >= 0:
        os.sched_setaffinity(0, {cpu})


def payload(size):
    return b"D" + bytes((i * 7 + 1) & 0xFF for i in range(1, size))


def self_cpu():
    ru = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return ru.ru_utime + ru.ru_stime


def percentiles(samples):
    s = sorted(samples)
    at = lambda q: s[min(len(s) - 1, max(0, int(q * len(s) + 0.999999) - 1))]
    return {"p50_ns": at(0.50), "p99_ns": at(0.99), "p999_ns": at(0.999), "max_ns": s[-1]}


# ---- the three implementations: how a peer is started and how bytes move ----------


class ThreadQueue:
    name, mode = "python:queue.Queue", "threads"
    wait = "threading.Condition (GIL)"

    def channel(self):
        q = queue.Queue(maxsize=BOUND)
        return q, q  # (sending end, receiving end)

    send = staticmethod(lambda q, msg: q.put(msg))
    recv = staticmethod(lambda q: q.get())

    def start(self, target, args):
        t = threading.Thread(target=target, args=args, daemon=True)
        t.start()
        return t


class ProcessBase:
    mode = "procs"
    ctx = multiprocessing.get_context("fork")  # the way ipcplay's channels are inherited

    def start(self, target, args):
        p = self.ctx.Process(target=target, args=args, daemon=True)
        p.start()
        return p


class ProcessQueue(ProcessBase):
    name = "python:mp.Queue"
    wait = "pipe + lock + feeder thread (pickle)"

    def channel(self):
        q = self.ctx.Queue(maxsize=BOUND)
        return q, q

    send = staticmethod(lambda q, msg: q.put(msg))
    recv = staticmethod(lambda q: q.get())


class ProcessPipe(ProcessBase):
    name = "python:mp.Pipe"
    wait = "pipe, send_bytes/recv_bytes"

    def channel(self):
        r, w = self.ctx.Pipe(duplex=False)
        return w, r

    send = staticmethod(lambda end, msg: end.send_bytes(msg))
    recv = staticmethod(lambda end: end.recv_bytes())


class IpcplayQueue(ProcessBase):
    name = "python:ipcplay.Queue"
    wait = "ctypes over libipcplay.so: procq (robust mutex+condvar)"

    def channel(self):
        q = ipcplay.Queue("procq", maxsize=BOUND)
        return q, q

    send = staticmethod(lambda q, msg: q.put(msg))
    recv = staticmethod(lambda q: q.get())


def load_ipcplay():
    """The binding beside this script: the tree's python/ipcplay, or the installed
    one (<prefix>/share/ipcplay/bench -> <prefix>/lib/python3/dist-packages)."""
    global ipcplay
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [os.path.join(here, "..", "python"),
                    os.path.join(here, "..", "..", "..", "lib", "python3", "dist-packages")]
    try:
        import ipcplay
        return True
    except ImportError as e:
        print(f"python baseline: no python:ipcplay.Queue row ({e})", flush=True)
        return False


# ---- the peers --------------------------------------------------------------------


def echo_peer(impl, rx, tx, cpu, report):
    """Receive on rx, send the same bytes back on tx, until STOP; then report CPU."""
    pin(cpu)
    t0 = time.process_time() if impl.mode == "procs" else 0.0
    while True:
        msg = impl.recv(rx)
        if msg == STOP:
            break
        impl.send(tx, msg)
    report_ops(impl).send(report, ("cpu", time.process_time() - t0 if impl.mode == "procs" else 0.0))


def consumer_peer(impl, rx, cpu, report):
    """Count messages; at each MARK acknowledge the turn with the count so far; at
    STOP report (count, CPU seconds of this process)."""
    pin(cpu)
    t0 = time.process_time() if impl.mode == "procs" else 0.0
    ops = report_ops(impl)
    count = 0
    while True:
        msg = impl.recv(rx)
        if msg == STOP:
            break
        if msg == MARK:
            ops.send(report, ("turn", count))
            continue
        count += 1
    ops.send(report, (count, time.process_time() - t0 if impl.mode == "procs" else 0.0))


def report_ops(impl):
    """The peer's final report (a tuple) travels on a queue of the same kind
    (a pipe's send_bytes takes bytes only, so pipes report on an mp.Queue)."""
    return ProcessQueue() if isinstance(impl, (ProcessPipe, IpcplayQueue)) else impl


# ---- the measurements -------------------------------------------------------------


def latency(impl, size, cpus, min_time):
    a_tx, a_rx = impl.channel()
    b_tx, b_rx = impl.channel()
    ops = report_ops(impl)
    r_tx, r_rx = ops.channel()
    old = os.sched_getaffinity(0)
    pin(cpus[0])
    peer = impl.start(echo_peer, (impl, a_rx, b_tx, cpus[1], r_tx))
    msg = payload(size)
    for _ in range(WARMUP):
        impl.send(a_tx, msg)
        impl.recv(b_rx)
    samples = []
    cpu0, wall0 = self_cpu(), time.monotonic_ns()
    deadline = wall0 + int(min_time * 1e9)
    while True:
        t0 = time.monotonic_ns()
        impl.send(a_tx, msg)
        echo = impl.recv(b_rx)
        t1 = time.monotonic_ns()
        samples.append(t1 - t0)
        if len(echo) != size:
            raise RuntimeError(f"{impl.name}: echo of {len(echo)} bytes, sent {size}")
        if t1 >= deadline and len(samples) >= 100:
            break
    wall = (time.monotonic_ns() - wall0) * 1e-9
    cpu = self_cpu() - cpu0
    impl.send(a_tx, STOP)
    _, peer_cpu = ops.recv(r_rx)
    peer.join()
    os.sched_setaffinity(0, old)
    cpu += peer_cpu
    mean_us = sum(samples) / len(samples) / 1e3
    entry = {
        "iterations": len(samples), "real_time": mean_us, "cpu_time": mean_us, "time_unit": "us",
        "cpu_util": cpu / wall, "cpu_ns_per_op": cpu * 1e9 / len(samples), "size": float(size),
    }
    entry.update({k: float(v) for k, v in percentiles(samples).items()})
    return entry


def throughput(impl, size, cpus, min_time):
    tx, rx = impl.channel()
    ops = report_ops(impl)
    r_tx, r_rx = ops.channel()
    old = os.sched_getaffinity(0)
    pin(cpus[0])
    peer = impl.start(consumer_peer, (impl, rx, cpus[1], r_tx))
    msg = payload(size)
    sent = 0

    def turn(n):
        """n messages, timed until the consumer has acknowledged the last one."""
        nonlocal sent
        t0 = time.monotonic_ns()
        for _ in range(n):
            impl.send(tx, msg)
        impl.send(tx, MARK)
        what, count = ops.recv(r_rx)
        t1 = time.monotonic_ns()
        sent += n
        if what != "turn" or count != sent:
            raise RuntimeError(f"{impl.name}: consumer counted {count} of {sent}")
        return t1 - t0

    # warm-up turns, growing until one turn fills its share of min_time
    per_turn = 100
    while turn(per_turn) < min_time * 1e9 / TURNS and per_turn < 1 << 24:
        per_turn *= 2
    measured0 = sent
    cpu0 = self_cpu()
    turns = [turn(per_turn) for _ in range(TURNS)]
    wall = sum(turns) * 1e-9
    cpu = self_cpu() - cpu0
    n = sent - measured0
    impl.send(tx, STOP)
    count, peer_cpu = ops.recv(r_rx)
    cpu += peer_cpu  # (a process peer's CPU covers its warm-up turns too)
    peer.join()
    os.sched_setaffinity(0, old)
    if count != sent:
        raise RuntimeError(f"{impl.name}: sent {sent}, received {count}")
    return {
        "iterations": n, "real_time": wall * 1e9 / n, "cpu_time": wall * 1e9 / n,
        "time_unit": "ns", "items_per_second": n / wall, "bytes_per_second": n * size / wall,
        "msg_ns": statistics.median(t / per_turn for t in turns),
        "cpu_util": cpu / wall, "cpu_ns_per_op": cpu * 1e9 / n, "size": float(size),
        "producers": 1.0, "consumers": 1.0,
    }


NOT_AGGREGATED = {"iterations", "size", "producers", "consumers", "repetitions", "repetition_index", "threads"}


def aggregates(runs, name, label):
    """Google Benchmark's aggregates over the repetitions: mean, median, stddev, cv of
    every figure (as its JSON reporter writes them)."""
    out = []
    keys = [k for k, v in runs[0].items() if isinstance(v, float) and k not in NOT_AGGREGATED]
    for agg in ("mean", "median", "stddev", "cv"):
        e = {"name": f"{name}_{agg}", "run_name": name, "run_type": "aggregate", "repetitions": len(runs),
             "threads": 1, "aggregate_name": agg, "aggregate_unit": "percentage" if agg == "cv" else "time",
             "iterations": len(runs), "time_unit": runs[0]["time_unit"], "size": runs[0]["size"], "label": label}
        for k in keys:
            vals = [r[k] for r in runs]
            mean = statistics.fmean(vals)
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            e[k] = {"mean": mean, "median": statistics.median(vals), "stddev": sd,
                    "cv": sd / mean if mean else 0.0}[agg]
        out.append(e)
    return out


def selected(name, spec):
    """--benchmark_filter's rule: re.search; a leading '-' negates; '' or 'all' = all."""
    if not spec or spec == "all":
        return True
    if spec.startswith("-"):
        return re.search(spec[1:], name) is None
    return re.search(spec, name) is not None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", required=True)
    ap.add_argument("--lat-sizes", default="100")
    ap.add_argument("--thr-sizes", default="100,65536")
    ap.add_argument("--pin", default="same,cross")
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--cpus", default="")
    ap.add_argument("--no-latency", action="store_true")
    ap.add_argument("--no-throughput", action="store_true")
    ap.add_argument("--filter", default="", help="only rows whose name this regex matches")
    ap.add_argument("--aggregates-only", action="store_true", help="write the aggregates only")
    args = ap.parse_args()

    allowed = sorted(os.sched_getaffinity(0))
    cpu_ids = [int(c) for c in args.cpus.split(",") if c.strip() and int(c) >= 0] or allowed[:2]
    first, second = cpu_ids[0], (cpu_ids[1] if len(cpu_ids) > 1 else -1)
    placements = {"same": (first, first), "cross": (first, second), "none": (-1, -1)}
    sizes = {"latency": [int(s) for s in args.lat_sizes.split(",") if s],
             "throughput": [int(s) for s in args.thr_sizes.split(",") if s]}
    kinds = [k for k, off in (("latency", args.no_latency), ("throughput", args.no_throughput)) if not off]

    entries = []
    impls = [ThreadQueue(), ProcessQueue(), ProcessPipe()] + ([IpcplayQueue()] if load_ipcplay() else [])
    for impl in impls:
        for kind in kinds:
            for size in sizes[kind]:
                for place in args.pin.split(","):
                    cpus = placements[place]
                    if place == "cross" and cpus[1] < 0:
                        continue
                    name = f"{kind}/{impl.name}/{impl.mode}/{place}/{size}"
                    if not selected(name, args.filter):
                        continue
                    measure = latency if kind == "latency" else throughput
                    label = (f"workload={kind};mechanism={impl.name};mode={impl.mode};placement={place};"
                             f"cpus={'unpinned' if cpus[0] < 0 else f'cpu {cpus[0]}/{cpus[1]}'};size={size};"
                             f"shape=1x1;wait={impl.wait};raw=none")
                    runs = []
                    for rep in range(args.reps):
                        e = measure(impl, size, cpus, args.min_time)
                        runs.append(e)
                        figure = (f"p50 {e['p50_ns'] / 1e3:9.2f} us  p99 {e['p99_ns'] / 1e3:9.2f} us"
                                  if kind == "latency" else
                                  f"{1e9 / e['msg_ns'] / 1e3:9.1f} k msgs/s (median of {TURNS} turns)")
                        print(f"{name:<52} rep {rep + 1}/{args.reps} {figure}", flush=True)
                    if not args.aggregates_only:
                        entries.extend({"name": name, "run_name": name, "run_type": "iteration",
                                        "repetitions": args.reps, "repetition_index": i, "threads": 1,
                                        **e, "label": label} for i, e in enumerate(runs))
                    if args.reps > 1:
                        entries.extend(aggregates(runs, name, label))
    with open(args.json, "w") as f:
        json.dump(entries, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
