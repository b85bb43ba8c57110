"""Why an architecture costs what it costs: the system calls it makes per request, by kind, and
the time its threads waited for a CPU (run-queue wait), from the columns the harness fills when
it can count with perf (harness/perfcount.py). Draws, per workload:
- a stacked bar per architecture of system calls per request by kind, at one connection count
  (the highest that every architecture served without errors, else the highest any did);
- system calls per request against connections, and run-queue wait per request against
  connections (a pool with more runnable threads than cores waits here).
"""
from __future__ import annotations

import math
import statistics

from matplotlib.figure import Figure

from run_data import Run, arch_colour, arch_marker, series

KINDS = ("read", "write", "wait", "epoll_ctl", "accept", "futex", "spawn", "close", "memory",
         "other")
KIND_COLOURS = {"read": "#4e79a7", "write": "#59a14f", "wait": "#f28e2b", "epoll_ctl": "#edc948",
                "accept": "#b07aa1", "futex": "#e15759", "spawn": "#9c755f", "close": "#bab0ac",
                "memory": "#76b7b2", "other": "#d4d4d4"}
KIND_LABELS = {"read": "read/recv", "write": "write/send",
               "wait": "readiness waits (select, poll, epoll_wait, io_uring_enter)",
               "epoll_ctl": "epoll_ctl", "accept": "accept", "futex": "futex",
               "spawn": "clone/fork/exec", "close": "close",
               "memory": "mmap/munmap/mprotect/madvise/brk (e.g. thread stacks)", "other": "other"}

LOOK_FOR = ("System calls per request explain most of the throughput chart: each is a trip into "
            "the kernel. A blocking server reads and writes once per request; an event loop adds "
            "its readiness wait (shared by every connection that was ready at once, so it falls "
            "as connections grow) and epoll_ctl when it changes what it waits for; a process or "
            "thread per connection adds clone and close per connection, which a persistent "
            "connection spreads over many requests; io_uring submits and reaps many operations "
            "in one io_uring_enter. Run-queue wait is time a thread was ready to run but had no "
            "CPU: more busy threads than the server's cores makes it grow.")


def kind_metric(kind: str) -> str:
    return f"syscalls_{kind}_per_req"


def has_data(run: Run, workload: str) -> bool:
    return any(p.workload == workload and p.ok and not math.isnan(p.value("syscalls_per_req"))
               for p in run.points)


def breakdown_connections(run: Run, workload: str) -> int | None:
    """The highest connection count at which every architecture that was counted served without
    errors; else the highest at which any was counted."""
    counted = [p for p in run.points if p.workload == workload and p.ok
               and not math.isnan(p.value("syscalls_per_req"))]
    if not counted:
        return None
    archs = {p.arch for p in counted}
    clean = []
    for count in sorted({p.connections for p in counted}):
        here = [p for p in counted if p.connections == count]
        if {p.arch for p in here} == archs and all(p.value("errors") == 0 for p in here):
            clean.append(count)
    return max(clean) if clean else max(p.connections for p in counted)


def breakdown(run: Run, workload: str, connections: int) -> dict[str, dict[str, float]]:
    """arch -> kind -> median system calls per request at `connections`, and "total"."""
    found: dict[str, dict[str, float]] = {}
    for arch in run.architectures:
        total = series(run, workload, arch, "syscalls_per_req", [connections]).at(connections)
        if math.isnan(total):
            continue
        kinds = {kind: series(run, workload, arch, kind_metric(kind), [connections]).at(connections)
                 for kind in KINDS}
        found[arch] = {**{k: (0.0 if math.isnan(v) else v) for k, v in kinds.items()},
                       "total": total}
    return found


def syscalls_figure(run: Run, workload: str) -> Figure:
    connections = breakdown_connections(run, workload)
    data = breakdown(run, workload, connections)
    figure = Figure(figsize=(13, 8.6))
    bars_ax = figure.add_subplot(2, 1, 1)
    calls_ax = figure.add_subplot(2, 2, 3)
    wait_ax = figure.add_subplot(2, 2, 4)
    archs = sorted(data, key=lambda a: data[a]["total"])
    bottoms = [0.0] * len(archs)
    for kind in KINDS:
        heights = [data[a][kind] for a in archs]
        if not any(heights):
            continue
        bars_ax.bar(archs, heights, bottom=bottoms, color=KIND_COLOURS[kind],
                    label=KIND_LABELS[kind])
        bottoms = [b + h for b, h in zip(bottoms, heights)]
    bars_ax.set_ylabel("system calls per request")
    bars_ax.set_title(f"by kind, at {connections} connections (median of the repetitions)",
                      fontsize=10)
    bars_ax.tick_params(axis="x", labelrotation=45)
    for label in bars_ax.get_xticklabels():
        label.set_horizontalalignment("right")
    bars_ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    for ax, metric, label in ((calls_ax, "syscalls_per_req", "system calls per request"),
                              (wait_ax, "runqueue_us_per_req", "run-queue wait per request (µs)")):
        for arch in run.architectures:
            line = series(run, workload, arch, metric)
            if all(math.isnan(v) for v in line.median):
                continue
            ax.plot(line.connections, line.median, color=arch_colour(arch),
                    marker=arch_marker(arch), markersize=4, label=arch)
            ax.fill_between(line.connections, line.low, line.high, color=arch_colour(arch),
                            alpha=0.12, linewidth=0)
        ax.set_xscale("log")
        ax.set_xlabel("connections (log scale)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    wait_ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False)
    figure.suptitle(f"System calls and run-queue wait per request — workload '{workload}'\n"
                    f"{run.machine_line()}", fontsize=11)
    figure.subplots_adjust(top=0.9, hspace=0.55, wspace=0.25, right=0.8)
    return figure


def sentences(run: Run, workload: str) -> list[str]:
    """What the counts say, computed from the run."""
    connections = breakdown_connections(run, workload)
    if connections is None:
        return []
    data = breakdown(run, workload, connections)
    if not data:
        return []
    said = []
    fewest = min(data, key=lambda a: data[a]["total"])
    most = max(data, key=lambda a: data[a]["total"])
    said.append(f"At {connections} connections, {fewest} made {data[fewest]['total']:.2f} system "
                f"calls per request and {most} {data[most]['total']:.2f} (medians of the "
                f"repetitions).")
    for arch in (fewest, most):
        top = sorted(KINDS, key=lambda k: data[arch][k], reverse=True)[:2]
        said.append(f"{arch}'s calls: " + ", ".join(
            f"{KIND_LABELS[k].split(' (')[0]} {data[arch][k]:.2f}" for k in top if data[arch][k] > 0)
            + " per request.")
    spawners = [a for a in data if data[a]["spawn"] >= 0.5]
    if spawners:
        said.append("A new thread or process per connection shows as clone/fork/exec: " + ", ".join(
            f"{a} {data[a]['spawn']:.2f}" for a in sorted(spawners)) + " per request.")
    throughput = {a: series(run, workload, a, "throughput_rps", [connections]).at(connections)
                  for a in data}
    paired = [(data[a]["total"], throughput[a]) for a in data if throughput[a] > 0]
    if len(paired) >= 3:
        calls, rates = zip(*paired)
        rho = _spearman(calls, rates)
        if not math.isnan(rho):
            said.append(f"Across the {len(paired)} architectures, fewer calls per request went "
                        f"with higher throughput with a rank correlation of {-rho:.2f} (1: "
                        f"perfectly, 0: not at all).")
    waits = {a: series(run, workload, a, "runqueue_us_per_req", [connections]).at(connections)
             for a in data}
    waits = {a: w for a, w in waits.items() if not math.isnan(w)}
    if waits:
        longest = max(waits, key=waits.get)
        said.append(f"The longest run-queue wait per request at {connections} connections was "
                    f"{longest}'s, {waits[longest]:.1f} µs (the median architecture's: "
                    f"{statistics.median(waits.values()):.1f} µs).")
    return said


def _spearman(xs, ys) -> float:
    def ranks(values):
        order = sorted(range(len(values)), key=lambda i: values[i])
        result = [0.0] * len(values)
        for rank, index in enumerate(order):
            result[index] = float(rank)
        return result
    rx, ry = ranks(xs), ranks(ys)
    n = len(xs)
    mean = (n - 1) / 2
    cov = sum((a - mean) * (b - mean) for a, b in zip(rx, ry))
    var = sum((a - mean) ** 2 for a in rx)
    return cov / var if var else float("nan")


def counting_cost(run: Run) -> list[str]:
    """Sentences on what counting costs, from workloads that differ only in count_syscalls
    (harness/experiments/counting-overhead.toml): throughput uncounted / counted, per
    architecture and connection count, medians and the range over repetitions."""
    specs = run.meta.get("experiment", {}).get("workloads", [])
    said = []
    for counted in (s for s in specs if s.get("count_syscalls", True)):
        twin = next((s for s in specs if not s.get("count_syscalls", True) and
                     {k: v for k, v in s.items() if k not in ("name", "count_syscalls")} ==
                     {k: v for k, v in counted.items() if k not in ("name", "count_syscalls")}),
                    None)
        if twin is None:
            continue
        for arch in run.architectures:
            for count in run.connections(counted["name"]):
                on = series(run, counted["name"], arch, "throughput_rps", [count])
                off = series(run, twin["name"], arch, "throughput_rps", [count])
                if math.isnan(on.at(count)) or math.isnan(off.at(count)):
                    continue
                low, high = on.spread_at(count)
                off_low, off_high = off.spread_at(count)
                said.append(f"{arch} at {count} connections: counted {on.at(count):,.0f} req/s "
                            f"({low:,.0f} to {high:,.0f}), uncounted {off.at(count):,.0f} "
                            f"({off_low:,.0f} to {off_high:,.0f}) over {on.reps_at(count)} and "
                            f"{off.reps_at(count)} repetitions: counted / uncounted = "
                            f"{on.at(count) / off.at(count):.3f}.")
    return said
