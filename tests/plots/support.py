"""Shared by the plots tests: synthetic run folders, written the way the harness writes them
(meta.json, points.csv with results.COLUMNS, raw/*.hgrm), with models of how each architecture
behaves, failed points included."""
from __future__ import annotations

import csv
import json
import math
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[2]
PLOTS = REPO / "plots"
PYTHON = sys.executable

sys.path.insert(0, str(PLOTS))
sys.path.insert(0, str(REPO / "harness"))

import results  # noqa: E402  (the harness's points.csv columns)
from families import FALLBACK_FAMILIES  # noqa: E402

MACHINE = {"hostname": "testhost", "cpu_model": "Synthetic CPU 9000", "cores": 2,
           "cpus_allowed": [0, 1], "memory_kb": 8_000_000, "kernel": "6.1.0-test",
           "os": "Debian GNU/Linux 12 (bookworm)"}


def book_model(arch: str, workload: str, connections: int, rep: int) -> dict:
    """Plausible figures, with the failures the report must show: the single-threaded server
    starves (timeouts grow, and at 1024 connections nothing is answered: the CSV then says 0
    requests/s, which must never be drawn), and select hits FD_SETSIZE at 1024 (the server
    dies: empty figures)."""
    noise = 1 + 0.03 * (random.Random(f"{arch}{workload}{connections}{rep}").random() - 0.5)
    plateau = {"single": 20_000, "threaded": 60_000, "forked": 40_000, "select": 70_000,
               "epoll": 90_000, "my-arch": 50_000}[arch]
    if workload == "churn":
        plateau /= 4
    if arch == "single" and connections >= 1024:
        return {"status": "failed", "reason": "no request succeeded (server hung or refused "
                "every connection)", "throughput_rps": 0, "requests_ok": 0, "errors": 3000,
                "timeouts": 3000}
    if arch == "select" and connections >= 1024:
        return {"status": "failed", "reason": "server died during the run (exit code 1): "
                "select: fd 1030 is beyond FD_SETSIZE"}
    throughput = plateau * min(1.0, 0.25 + connections / 16) * noise
    p50 = connections / throughput * 1e6
    tail = 12 if arch in ("single", "forked") else 3
    cpu = {"single": 7, "threaded": 15, "forked": 40, "select": 9 + connections * 0.02,
           "epoll": 8, "my-arch": 11}[arch]
    rss_mib = {"single": 3, "threaded": 3 + connections * 0.1, "forked": 1.5 * connections + 2,
               "select": 3.2, "epoll": 3.1, "my-arch": 4}[arch]
    timeouts = int(connections * 30) if arch == "single" and connections >= 64 else 0
    return {"status": "ok", "throughput_rps": throughput, "p50_us": p50, "p90_us": p50 * 1.8,
            "p99_us": p50 * tail, "p99_9_us": p50 * tail * 2, "max_us": p50 * tail * 5,
            "requests_ok": int(throughput * 1.5), "errors": timeouts, "timeouts": timeouts,
            "server_cpu_us_per_req": cpu * noise, "ctx_switches_per_req":
            {"single": 1.0, "threaded": 2.1, "forked": 2.3}.get(arch, 0.2),
            "server_rss_kb": rss_mib * 1024 * noise, "server_threads": connections + 1
            if arch == "threaded" else 1, "server_processes": connections + 1
            if arch == "forked" else 1, "loadgen_cpu_util": 0.5,
            "loadgen_saturated": arch == "epoll" and connections >= 64}


def write_hgrm(path: Path, p50_us: float, p99_us: float, total: int = 10000) -> None:
    """HdrHistogram's percentile distribution text (as hdr_percentiles_print writes it)."""
    alpha = math.log(p99_us / p50_us) / math.log(50) if p99_us > p50_us else 0.1
    lines = [f"{'Value':>12} {'Percentile':>14} {'TotalCount':>10} {'1/(1-Percentile)':>14}", ""]
    step = 0
    value = p50_us
    while True:
        percentile = 1 - 0.5 ** (step / 4)
        if percentile > 0.99999:
            break
        x = 1 / (1 - percentile)
        value = p50_us * 0.6 if x < 2 else p50_us * (x / 2) ** alpha
        value = max(value, p50_us * 0.6 + step * 1e-3)
        lines.append(f"{value:12.3f} {percentile:14.12f} {int(total * percentile):10d} "
                     f"{x:14.2f}")
        step += 1
    maximum = value * 1.5
    lines.append(f"{maximum:12.3f} {1.0:14.12f} {total:10d} {'inf':>14}")
    lines.append(f"#[Mean    = {p50_us:12.3f}, StdDeviation   = {p50_us / 2:12.3f}]")
    lines.append(f"#[Max     = {maximum:12.3f}, Total count    = {total:12d}]")
    lines.append(f"#[Buckets = {22:12d}, SubBuckets     = {2048:12d}]")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_run(folder: Path, name: str = "20250101T000000Z-testhost",
             archs=("single", "threaded", "forked", "select", "epoll"),
             workloads=("persistent",), connections=(1, 16, 64, 1024), reps: int = 2,
             model: Callable[[str, str, int, int], dict] = book_model,
             hgrm: bool = True, machine: dict | None = None,
             families: dict[str, str] | None = None) -> Path:
    """Writes a run folder folder/name and returns it. meta.json's `families` is, as the
    harness records it, every registered architecture's family: the registry of the first 14
    (plots/families.py's fallback table) and then `families`."""
    run = folder / name
    (run / "raw").mkdir(parents=True)
    meta = {"machine": machine or MACHINE,
            "build": {"compiler": "/usr/bin/c++", "compiler_version": "c++ (Debian 12.2.0) 12.2.0",
                      "build_type": "Release", "cxx_flags": "-O3 -DNDEBUG"},
            "git": {"revision": "0123456789abcdef", "dirty": False},
            "experiment": {"name": "synthetic", "description": "a synthetic run for tests",
                           "architectures": list(archs),
                           "workloads": [{"name": w, "session": 1 if w == "churn" else 0,
                                          "work_us": 0, "sleep_us": 0, "reply_bytes": 0,
                                          "pipeline": None, "rate": None} for w in workloads],
                           "connections": list(connections), "duration_s": 1.5,
                           "warmup_s": 0.5, "repetitions": reps},
            "placement": {"server_cpus": [0], "load_cpus": [1]},
            "families": {**FALLBACK_FAMILIES, **(families or {})},
            "notes": [], "start_time": "2025-01-01T00:00:00Z",
            "end_time": "2025-01-01T00:10:00Z", "interrupted": False}
    (run / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    with open(run / "points.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=results.COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for workload in workloads:
            for count in connections:
                for arch in archs:
                    for rep in range(1, reps + 1):
                        figures = model(arch, workload, count, rep)
                        row = {"arch": arch, "workload": workload, "connections": count,
                               "rep": rep, **figures}
                        writer.writerow({k: _cell(row.get(k)) for k in results.COLUMNS})
                        label = f"{arch}-{workload}-c{count}-r{rep}"
                        if hgrm and figures.get("status") == "ok" and figures.get("p50_us"):
                            write_hgrm(run / "raw" / f"{label}.hgrm", figures["p50_us"],
                                       figures.get("p99_us", figures["p50_us"] * 3))
                        (run / "raw" / f"{label}.server.stderr").write_text("", encoding="utf-8")
    return run


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def run_script(script: str, *args, timeout: float = 240) -> subprocess.CompletedProcess:
    # report.py draws an overview and a chart per family for every chart kind: about four
    # times the charts of one run of the synthetic folders, which a loaded machine needs time for.
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([PYTHON, str(PLOTS / script), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env)


class TempDir:
    def __init__(self):
        self._dir = tempfile.TemporaryDirectory(prefix="archbench-plots-test-")
        self.path = Path(self._dir.name)

    def cleanup(self):
        self._dir.cleanup()


# --------------------------------------------------------------------------- microbenchmarks

# Medians of the synthetic microbenchmarks, in ns per iteration (per request where a benchmark
# has several per iteration): select is the cheapest wait with 1 descriptor and skipped at
# 1000 (FD_SETSIZE), epoll the cheapest at 1000 with poll 30x as dear; a pool thread is 20x
# cheaper than a fork; Unix is 2.5x faster than TCP (20 us).
MICROBENCH_MEDIANS = {
    "readiness": {
        **{f"BM_SelectWait/idle:{idle}": ns for idle, ns in ((0, 300), (9, 600), (99, 3000))},
        **{f"BM_PollWait/idle:{idle}": ns
           for idle, ns in ((0, 350), (9, 500), (99, 2000), (999, 15000))},
        **{f"BM_EpollWait/idle:{idle}": ns
           for idle, ns in ((0, 400), (9, 400), (99, 410), (999, 500))},
        **{f"BM_EpollRegisterAndRemove/idle:{idle}": 1200 for idle in (0, 9, 99, 999)},
    },
    "workers": {"BM_ForkExitWait/real_time": 100_000,
                "BM_ForkExitWaitWith64MiBTouched/real_time": 400_000,
                "BM_ThreadCreateJoin/real_time": 20_000,
                "BM_HandDescriptorToPoolThread/real_time": 5_000},
    "loopback": {"BM_TcpLoopbackRoundTrip/real_time": 20_000,
                 "BM_UnixSocketpairRoundTrip/real_time": 8_000},
    "protocol": {"BM_ParseAndAnswer/pipeline:1/reply_bytes:0": 40,
                 "BM_ParseAndAnswer/pipeline:16/reply_bytes:0": 15,
                 "BM_ParseAndAnswer/pipeline:1/reply_bytes:1024": 90,
                 "BM_ParseSplitQuestion": 70, "BM_ReadAnswers/pipeline:1": 12},
    "loadgen": {"BM_HistogramRecord": 5, "BM_HistogramPercentile": 2_000,
                "BM_HistogramMerge": 30_000,
                "BM_RequestPath/pipeline:1/reply_bytes:0": 80,
                "BM_RequestPath/pipeline:16/reply_bytes:0": 45},
}
MICROBENCH_SKIPPED = {"readiness": {"BM_SelectWait/idle:999":
                                    "select cannot watch a descriptor at or above FD_SETSIZE"}}
MEAN_FACTOR = 1.5  # the synthetic means are 1.5x the medians: a chart that drew means is wrong


def _items_per_iteration(name: str) -> int:
    for part in name.split("/"):
        if part.startswith("pipeline:"):
            return int(part.split(":")[1])
    return 1


def microbench_json(program: str, medians: dict[str, float],
                    skipped: dict[str, str] | None = None, repetitions: int = 5) -> dict:
    """One program's output as `--benchmark_repetitions=5 --benchmark_report_aggregates_only
    --benchmark_out_format=json` writes it (Google Benchmark 1.7): mean, median, stddev and cv
    rows per benchmark, and for a benchmark that called SkipWithError one iteration row per
    repetition with error_occurred (no aggregates). Times in time_unit ns; the primary time is
    real time for /real_time benchmarks, CPU time otherwise (the other one deliberately off);
    ns_per_* counters in seconds per item, as Google Benchmark writes inverted rates."""
    rows = []
    skipped = skipped or {}
    names = list(medians) + [name for name in skipped if name not in medians]
    for family_index, name in enumerate(names):
        if name in skipped:
            for rep in range(repetitions):
                rows.append({"name": name, "family_index": family_index,
                             "per_family_instance_index": 0, "run_name": name,
                             "run_type": "iteration", "repetitions": repetitions,
                             "repetition_index": rep, "threads": 1, "error_occurred": True,
                             "error_message": skipped[name], "iterations": 0,
                             "real_time": 0.0, "cpu_time": 0.0, "time_unit": "ns"})
            continue
        per_item = medians[name]
        items = _items_per_iteration(name)
        real_time = name.endswith("/real_time")
        for aggregate, factor in (("mean", MEAN_FACTOR), ("median", 1.0), ("stddev", 0.1),
                                  ("cv", 0.001)):
            primary = per_item * items * factor
            row = {"name": f"{name}_{aggregate}", "family_index": family_index,
                   "per_family_instance_index": 0, "run_name": name, "run_type": "aggregate",
                   "repetitions": repetitions, "threads": 1, "aggregate_name": aggregate,
                   "aggregate_unit": "percentage" if aggregate == "cv" else "time",
                   "iterations": repetitions,
                   "real_time": primary if real_time else primary * 1.3,
                   "cpu_time": primary / 10 if real_time else primary, "time_unit": "ns",
                   "items_per_second": 1e9 / (per_item * factor)}
            if name.startswith(("BM_SelectWait", "BM_PollWait", "BM_EpollWait",
                                "BM_EpollRegisterAndRemove")):
                descriptors = int(name.split("idle:")[1]) + 1
                row["descriptors"] = float(descriptors) if aggregate in ("mean", "median") \
                    else 0.0
                if "Register" not in name:
                    row["ns_per_descriptor"] = primary / descriptors * 1e-9
            if "pipeline:" in name and not name.startswith("BM_ReadAnswers"):
                row["ns_per_request"] = per_item * factor * 1e-9
            rows.append(row)
    return {"context": {"date": "2025-01-01T00:00:00+00:00", "host_name": "testhost",
                        "executable": f"build/bin/microbench-{program}", "num_cpus": 2,
                        "mhz_per_cpu": 2445, "cpu_scaling_enabled": False, "caches": [],
                        "load_avg": [0.5, 0.4, 0.3], "library_build_type": "release"},
            "benchmarks": rows}


def write_microbench(folder: Path, programs=("readiness", "workers", "loopback", "protocol",
                                             "loadgen")) -> Path:
    """folder/<program>.json for each program, as `make microbench` writes RUN/microbench/."""
    folder.mkdir(parents=True, exist_ok=True)
    for program in programs:
        document = microbench_json(program, MICROBENCH_MEDIANS[program],
                                   MICROBENCH_SKIPPED.get(program))
        (folder / f"{program}.json").write_text(json.dumps(document, indent=2),
                                                encoding="utf-8")
    return folder
