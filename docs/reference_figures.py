#!/usr/bin/env python3
"""Prints every figure the docs quote, computed from a run folder (default: results/reference),
so that a page's figures can be checked, or brought up to date after a new reference run.

    /usr/bin/python3 docs/reference_figures.py [RUN]

Standard library only. Medians over repetitions where a point has several."""
from __future__ import annotations

import csv
import json
import statistics
import sys
from datetime import datetime
from pathlib import Path

RUN = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "results" / "reference"


def number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


rows = list(csv.DictReader(open(RUN / "points.csv", encoding="utf-8")))
meta = json.loads((RUN / "meta.json").read_text(encoding="utf-8"))
archs = list(dict.fromkeys(r["arch"] for r in rows))
workloads = list(dict.fromkeys(r["workload"] for r in rows))
counts = sorted({int(r["connections"]) for r in rows})


def value(workload: str, arch: str, connections: int, column: str) -> float | None:
    found = [number(r[column]) for r in rows if r["workload"] == workload and r["arch"] == arch
             and int(r["connections"]) == connections and r["status"] == "ok"]
    found = [v for v in found if v is not None]
    return statistics.median(found) if found else None


def show(v: float | None, digits: int = 0) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


print(f"== the run: {RUN}")
start = datetime.fromisoformat(meta["start_time"].replace("Z", "+00:00"))
end = datetime.fromisoformat(meta["end_time"].replace("Z", "+00:00"))
took = int((end - start).total_seconds())
machine = meta["machine"]
print(f"{len(archs)} architectures, {len(rows)} points ({sum(r['status'] != 'ok' for r in rows)} "
      f"failed), {took // 60} min {took % 60:02d} s ({meta['start_time']} to {meta['end_time']})")
print(f"{machine['cpu_model']}, {machine['cores']} cores, kernel {machine['kernel']}, "
      f"{machine['os']}; server on CPUs {meta['placement']['server_cpus']}, load generator on "
      f"{meta['placement']['load_cpus']}; git {meta['git']['revision'][:7]}")
saturated = sum(r["loadgen_saturated"] == "true" for r in rows)
print(f"load generator saturated at {saturated} of {len(rows)} points")

for workload in workloads:
    print(f"\n== workload {workload}: per architecture")
    print(f"{'arch':16} {'rps@1':>8} {'p50@1':>6} {'peak rps':>9} {'at':>5} {'cpu@64':>7} "
          f"{'ctx@64':>7} {'p99@64':>8} {'rss@1024 MiB':>12} {'errors by count':>30} {'workers':>8}")
    for arch in archs:
        peak_count, peak = max(((c, value(workload, arch, c, "throughput_rps") or 0)
                                for c in counts), key=lambda item: item[1])
        rss = value(workload, arch, counts[-1], "server_rss_kb")
        errors = " ".join(f"{c}:{int(value(workload, arch, c, 'errors') or 0)}"
                          for c in counts if value(workload, arch, c, "errors"))
        threads = value(workload, arch, counts[-1], "server_threads")
        processes = value(workload, arch, counts[-1], "server_processes")
        print(f"{arch:16} {show(value(workload, arch, 1, 'throughput_rps')):>8} "
              f"{show(value(workload, arch, 1, 'p50_us')):>6} {show(peak):>9} {peak_count:>5} "
              f"{show(value(workload, arch, 64, 'server_cpu_us_per_req'), 1):>7} "
              f"{show(value(workload, arch, 64, 'ctx_switches_per_req'), 3):>7} "
              f"{show(value(workload, arch, 64, 'p99_us')):>8} "
              f"{show(None if rss is None else rss / 1024, 1):>12} {errors or 'none':>30} "
              f"{show(threads)}t/{show(processes)}p")

print("\n== memory at the most connections, persistent: RSS summed over processes, and PSS")
for arch in archs:
    rss = value("persistent", arch, counts[-1], "server_rss_kb")
    pss = value("persistent", arch, counts[-1], "server_pss_kb")
    print(f"{arch:16} rss {show(None if rss is None else rss / 1024, 1):>9} MiB   "
          f"pss {show(None if pss is None else pss / 1024, 1):>7} MiB")

print("\n== worker_connections (pools): workers, connections accepted, the busiest worker")
for r in rows:
    if r["worker_connections"] and r["workload"] == "persistent" and int(r["connections"]) in (64, 1024):
        workers = [int(x) for x in r["worker_connections"].split()]
        print(f"{r['arch']:16} c={r['connections']:<5} {len(workers)} workers, "
              f"{sum(workers)} connections, busiest {max(workers)}")

print("\n== microbenchmarks (RUN/microbench/*.json): medians of the repetitions")
for path in sorted((RUN / "microbench").glob("*.json")):
    data = json.loads(path.read_text(encoding="utf-8"))
    context = data["context"]
    print(f"-- {path.name}: {context.get('date')}, load average {context.get('load_avg')}")
    for bench in data["benchmarks"]:
        if bench.get("aggregate_name") != "median":
            continue
        scale = {"ns": 1, "us": 1e3, "ms": 1e6}[bench["time_unit"]]
        extra = ""
        if "ns_per_request" in bench:  # Google Benchmark writes this counter in seconds
            extra = f"  per request {bench['ns_per_request'] * 1e9:,.1f} ns"
        print(f"{bench['run_name']:52} real {bench['real_time'] * scale:>12,.1f} ns   "
              f"cpu {bench['cpu_time'] * scale:>12,.1f} ns{extra}")

print("\n== noise: the same loop under two names (one server CPU: the pools ran one loop)")
for twin, original in (("epoll-reuseport", "epoll"), ("asio-pool", "asio")):
    for workload in workloads:
        ratios = [(c, value(workload, twin, c, "throughput_rps") / value(workload, original, c, "throughput_rps"))
                  for c in counts if value(workload, twin, c, "throughput_rps") and value(workload, original, c, "throughput_rps")]
        low, high = min(r for _, r in ratios), max(r for _, r in ratios)
        print(f"{twin}/{original} {workload:10} throughput ratio {low:.2f} to {high:.2f}: "
              + " ".join(f"{c}:{r:.3f}" for c, r in ratios))

print("\n== ranges quoted in the docs")
loops = ["select", "poll", "epoll", "asio", "asio-coro", "libevent", "io-uring"]
present = [a for a in loops if a in archs]
def span(workload, names, connections, column, scale=1.0):
    found = [value(workload, a, c, column) for a in names for c in connections]
    found = [v / scale for v in found if v is not None]
    return f"{min(found):,.3g} to {max(found):,.3g}" if found else "- (no such points)"
others = [a for a in archs if a != "single"]
print("persistent p50 at 1 connection, all:", span("persistent", archs, [1], "p50_us"), "us")
print("persistent p50 at 4 connections, all but single:", span("persistent", others, [4], "p50_us"), "us")
print("persistent p50 at 1024, all but single:", span("persistent", others, [1024], "p50_us", 1000), "ms")
print("persistent throughput at 1 connection, all:", span("persistent", archs, [1], "throughput_rps"))
print("one-thread event loops, persistent, CPU/req at 64:", span("persistent", present, [64], "server_cpu_us_per_req"))
print("one-thread event loops, persistent, ctx/req at 64:", span("persistent", present, [64], "ctx_switches_per_req"))
print("one-thread event loops, RSS at 1024 persistent:", span("persistent", present, [1024], "server_rss_kb", 1024), "MiB")
print("churn CPU/req over all counts, forked:", span("churn", ["forked"], counts, "server_cpu_us_per_req"),
      "threaded:", span("churn", ["threaded"], counts, "server_cpu_us_per_req"),
      "the rest:", span("churn", [a for a in archs if a not in ("forked", "threaded")], counts, "server_cpu_us_per_req"))
print("churn ctx/req from 16 connections, event loops:", span("churn", present + [a for a in ("epoll-reuseport", "asio-pool") if a in archs], [c for c in counts if c >= 16], "ctx_switches_per_req"))
print("churn ctx/req, forked:", span("churn", ["forked"], counts, "ctx_switches_per_req"))

# README and architectures.md
print("\n== repetitions quoted in README.md and architectures.md: each repetition, then the median"
      " (D disturbed, S load generator saturated, T timeouts, F failed)")


def repetitions(workload: str, connections: int, column: str, names: list[str]) -> None:
    for arch in names:
        found = sorted((r for r in rows if r["workload"] == workload and r["arch"] == arch
                        and int(r["connections"]) == connections), key=lambda r: int(r["rep"]))
        shown = []
        for r in found:
            flags = ("D" if r["disturbed"] == "true" else "") + ("S" if r["loadgen_saturated"] == "true" else "") \
                + (f"T{r['timeouts']}" if number(r["timeouts"]) else "") + ("F" if r["status"] != "ok" else "")
            shown.append(f"{show(number(r[column]), 1 if column != 'throughput_rps' else 0)}{flags}")
        print(f"{workload:10} c={connections:<5} {column:28} {arch:22} {' '.join(shown):44} "
              f"median {show(value(workload, arch, connections, column), 1)}")


blocking = ["single", "threaded", "forked", "inetd", "prethreaded", "preforked", "leader-followers"]
one_loop = ["select", "poll", "epoll", "epoll-et", "io-uring", "asio", "asio-coro", "libevent"]
python = ["py-single", "py-prethreaded", "py-threading-mixin", "py-forking-mixin", "py-poll",
          "py-asyncio-callbacks", "py-asyncio-coroutines"]
for workload, connections, column, names in (
        ("persistent", 1, "throughput_rps", ["single"]),
        ("persistent", 1, "p50_us", ["single", "libevent"]),
        ("persistent", 64, "throughput_rps", blocking + one_loop + ["epoll-reuseport", "asio-pool", "epoll-prefork",
                                                                    "epoll-offload", "seda", "fibers"] + python + ["go-goroutines"]),
        ("persistent", 64, "server_cpu_us_per_req", blocking + one_loop + ["fibers"] + python + ["go-goroutines"]),
        ("persistent", 64, "p99_us", ["epoll", "threaded", "go-goroutines"]),
        ("persistent", 64, "server_rss_kb", ["epoll", "threaded", "go-goroutines"]),
        ("persistent", 64, "server_threads", ["epoll", "threaded", "go-goroutines"]),
        ("persistent", 1024, "throughput_rps", ["single"]),
        ("persistent", 1024, "errors_reset", ["select"]),
        ("persistent", 1024, "errors_eof", ["select"]),
        ("persistent", 1024, "server_rss_kb", ["forked", "preforked", "prethreaded", "threaded", "fibers"]),
        ("persistent", 1024, "server_pss_kb", ["forked", "preforked", "prethreaded"]),
        ("persistent", 1024, "server_processes", ["forked", "preforked"]),
        ("churn", 64, "throughput_rps", ["single", "forked", "inetd", "epoll", "threaded", "go-goroutines"]),
        ("churn", 64, "server_cpu_us_per_req", blocking + one_loop + ["fibers", "py-forking-mixin", "go-goroutines"]),
        ("churn", 64, "p99_us", ["epoll", "threaded", "go-goroutines"]),
        ("churn", 64, "server_rss_kb", ["epoll", "threaded", "go-goroutines"]),
        ("churn", 64, "server_threads", ["epoll", "threaded", "go-goroutines"]),
        ("sleep-1ms", 64, "throughput_rps", ["epoll", "epoll-offload", "seda", "leader-followers", "threaded",
                                             "prethreaded", "fibers"]),
        ("sleep-1ms", 64, "p99_us", ["epoll", "epoll-offload", "seda", "leader-followers", "threaded", "prethreaded"]),
):
    repetitions(workload, connections, column, names)


# the other docs pages
print("\n== the other docs pages: repetitions of the figures they quote (D disturbed, S load generator"
      " saturated, Tn timeouts, F failed)")
for workload, connections, column, names in (
        ("persistent", 64, "throughput_rps", ["epoll", "epoll-reuseport"]),
        ("book", 64, "throughput_rps", ["asio", "asio-pool"]),
        ("persistent", 64, "server_cpu_us_per_req", ["epoll", "forked"]),
        ("persistent", 64, "server_cores_busy", ["forked"]),
        ("persistent", 1024, "server_cpu_us_per_req", ["forked"]),
        ("persistent", 1024, "p50_us", ["threaded", "preforked"]),
        ("persistent", 1024, "p99_9_us", ["threaded", "preforked"]),
        ("persistent", 1024, "errors", ["single", "select", "forked", "preforked"]),
        ("churn", 64, "server_cpu_us_per_req", ["forked", "threaded", "preforked"]),
        ("idle-1500", 8, "throughput_rps", ["forked"]),
        ("idle-1500", 8, "foreign_cpu_share", ["forked"]),
):
    repetitions(workload, connections, column, names)
for workload in ("persistent", "churn"):
    for arch in ("epoll", "io-uring", "forked", "threaded"):
        print(f"syscalls_per_req {workload:10} c=64 {arch:9} median {show(value(workload, arch, 64, 'syscalls_per_req'), 2)}")
print("cpu_accounting other than exact:", [(r["arch"], r["workload"], r["connections"], r["rep"], r["cpu_accounting"])
                                        for r in rows if r["cpu_accounting"] not in ("", "exact")])
clean = [number(r["p50_us"]) for r in rows if r["workload"] == "persistent" and r["connections"] == "1024"
         and r["status"] == "ok" and not number(r["errors"]) and not number(r["timeouts"])]
print("persistent p50 at 1024, repetitions without errors or timeouts:",
      show(min(clean) / 1000, 1), "to", show(max(clean) / 1000, 1), "ms")
