"""The lessons of the chapter, as experiments: where architectures differ by factors, not percent.

Each lesson finds its workloads in a run by their knobs (any experiment may hold them: the
experiments in harness/experiments/ each hold one lesson, the default experiment reduced ones),
draws one chart and writes its sentences from the run's own figures:

  blocking       sleep_us > 0: a one-thread loop answers at most 1e6/sleep_us requests/s
  cpu            work_us > 0: nobody passes server CPUs x 1e6/work_us
  idle           idle > 0: what N silent connections cost (FD_SETSIZE, poll's scan, memory)
  load           open loop (offered_rps): the hockey stick, and the highest rate within the SLO
  overload       rate_steps: twice the capacity, then half: does it hold, when does it recover
  replies        reply_bytes >= 16 KiB: bandwidth and CPU per byte

Comparisons use the median over repetitions, and one architecture is said to beat another only
by the project's ranking rule (harness/ranking.py: repetitions that separate them); otherwise
they are "tied within noise". The blocking and idle lessons state measured factors against
physical caps (1e6/sleep_us, FD_SETSIZE), which need no ranking. Nothing here is typed in: every number in a sentence comes from points.csv (and, for
the overload timeline, raw/*.json).
"""
from __future__ import annotations

import html
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import run_data
import ranking  # noqa: E402  (harness/ranking.py, on the path run_data sets)
from run_data import Run, arch_colour, arch_marker

CAPPED_WITHIN = 1.25        # "capped": its best is at most this multiple of the cap ...
GROWS_BY = 2.0              # ... and at most this multiple of its figure at the fewest connections
FD_SETSIZE = 1024
LARGE_REPLY_BYTES = 16 * 1024
DEFAULT_SLO_US = 1000.0
SUSTAINED_SHARE = 0.9       # as harness/offered.py: answered at least this share of the offer


@dataclass
class Lesson:
    key: str
    title: str
    sentences: list[str]
    chart: Path | None = None      # relative to the run folder
    workloads: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- figures

def rps(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:,.0f}"


def cpu_us(value: float) -> str:
    """A per-request CPU cost, to a tenth of a microsecond."""
    return "n/a" if value is None or math.isnan(value) else f"{value:,.1f} us"


def us(value: float) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value / 1000:,.1f} ms" if value >= 10_000 else f"{value:,.0f} us"


def _values(run: Run, workload: str, arch: str, connections: int, metric: str) -> list[float]:
    return [v for v in (p.value(metric) for p in run.points_at(workload, arch, connections))
            if not math.isnan(v)]


def median(run: Run, workload: str, arch: str, connections: int, metric: str) -> float:
    values = _values(run, workload, arch, connections, metric)
    return statistics.median(values) if values else math.nan


def separated(a: list[float], b: list[float]) -> bool:
    """Whether two sets of repetitions separate by the ranking rule (harness/ranking.py)."""
    return ranking.separated(a, b) != 0


def workload_spec(run: Run, workload: str) -> dict:
    for spec in run.meta.get("experiment", {}).get("workloads", []):
        if spec.get("name") == workload:
            return spec
    # No meta: the knobs recorded on the points.
    points = [p for p in run.points if p.workload == workload]
    spec = {"name": workload}
    for key in ("sleep_us", "work_us", "reply_bytes", "idle", "rate", "session"):
        values = [p.values.get(key, math.nan) for p in points]
        values = [v for v in values if not math.isnan(v)]
        spec[key] = values[0] if values else 0
    return spec


def _knob(spec: dict, key: str) -> float:
    value = spec.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _open_loop(spec: dict) -> bool:
    return bool(spec.get("rate") or spec.get("rate_x_capacity") or spec.get("rate_steps"))


def server_cpus(run: Run) -> int:
    cpus = run.meta.get("placement", {}).get("server_cpus") or []
    return max(len(cpus), 1)


def slo_us(run: Run) -> float:
    return float(run.meta.get("experiment", {}).get("slo_us") or DEFAULT_SLO_US)


def _closed(run: Run, predicate) -> list[str]:
    """Closed-loop workloads without idle connections whose spec satisfies predicate."""
    return [w for w in run.workloads if not _open_loop(spec := workload_spec(run, w))
            and not _knob(spec, "idle") and predicate(spec)]


# --------------------------------------------------------------------------- blocking back end

def blocking_sentences(run: Run, workload: str) -> tuple[list[str], dict]:
    """The cap of a one-thread loop, 1e6/sleep_us, against what each architecture answered at
    its best connection count."""
    sleep = _knob(workload_spec(run, workload), "sleep_us")
    cap = 1e6 / sleep
    best: dict[str, tuple[float, int]] = {}
    for arch in run.architectures:
        figures = [(median(run, workload, arch, c, "throughput_rps"), c)
                   for c in run.connections(workload)]
        figures = [f for f in figures if not math.isnan(f[0])]
        if figures:
            best[arch] = max(figures)
    # Capped: its best is near the cap, and connections did not multiply it (more than
    # GROWS_BY over its figure at the fewest connections, where a pool could still be below).
    fewest = min(run.connections(workload))
    capped = {a: f for a, f in best.items() if f[0] <= CAPPED_WITHIN * cap and not (
        f[0] > GROWS_BY * median(run, workload, a, fewest, "throughput_rps"))}
    free = {a: f for a, f in best.items() if a not in capped}
    order = lambda group: sorted(group.items(), key=lambda item: item[1][0])  # noqa: E731
    listing = lambda group: "; ".join(  # noqa: E731
        f"{a} {rps(t)} at {c}" for a, (t, c) in order(group))
    head = (f"With a {sleep:g} us back-end call per request, a server that waits for it on its "
            f"one thread can answer at most 1/sleep = {rps(cap)} req/s, whatever the "
            f"connections")
    sentences = []
    if capped and free:
        top_arch, (top, top_c) = order(free)[-1]
        low_arch, (low, _) = order(capped)[0]
        sentences.append(f"{head}: capped near it were {listing(capped)} (req/s at their best "
                         f"connection count).")
        sentences.append(f"A thread or process per client, or a pool, blocks only its own "
                         f"client and went past the cap: {listing(free)}; {top_arch} answered "
                         f"{top / max(low, 1e-9):,.0f}x what {low_arch} did.")
    elif capped:
        sentences.append(f"{head}: every architecture in this run stayed near that cap "
                         f"({listing(capped)}).")
        sentences.append("None of them serves other clients while one waits, so none went "
                         "past it; add connections or an architecture with a thread or process "
                         "per client to see the difference.")
    elif free:
        sentences.append(f"{head}; no architecture of this run was capped there: "
                         f"{listing(free)}.")
        sentences.append("Each serves other clients while one waits, so each went past "
                         f"{rps(cap)} req/s (at most {CAPPED_WITHIN:g}x the cap counts as "
                         "capped).")
    return sentences, {"cap": cap, "capped": sorted(capped), "free": sorted(free)}


# --------------------------------------------------------------------------- CPU-heavy

def cpu_sentences(run: Run, workload: str) -> list[str]:
    work = _knob(workload_spec(run, workload), "work_us")
    cores = server_cpus(run)
    cap = cores * 1e6 / work
    top = max(run.connections(workload))
    figures = {a: median(run, workload, a, top, "throughput_rps") for a in run.architectures}
    figures = {a: t for a, t in figures.items() if not math.isnan(t)}
    if not figures:
        return []
    ranked = sorted(figures.items(), key=lambda item: item[1])
    (worst, worst_t), (best, best_t) = ranked[0], ranked[-1]
    overhead = median(run, workload, worst, top, "server_cpu_us_per_req") - work
    best_reps = _values(run, workload, best, top, "throughput_rps")
    worst_reps = _values(run, workload, worst, top, "throughput_rps")
    if min(len(best_reps), len(worst_reps)) < ranking.MIN_REPS:
        tie = (f" (fewer than {ranking.MIN_REPS} repetitions each: not a ranking)")
    else:
        tie = "" if separated(best_reps, worst_reps) else \
            " (tied within noise: their repetitions overlap)"
    # The share of its CPUs the server used: well below 1, the machine gave it less (busy).
    used = best_t * median(run, workload, best, top, "server_cpu_us_per_req") / 1e6 / cores
    sentences = [f"With {work:g} us of CPU work per request and {cores} server "
                 f"CPU{'s' if cores > 1 else ''}, no design can pass {cores}/work = {rps(cap)} "
                 f"req/s; at {top} connections the best, {best}, reached {rps(best_t)} "
                 f"({100 * best_t / cap:.0f}% of the cap) and the worst, {worst}, {rps(worst_t)}"
                 f"{tie}" + (f"; {best} used {100 * used:.0f}% of the server's CPU time, so the "
                             f"machine gave it less than its CPU" if used < 0.8 else "") + ".",
                 f"The gap is what a design adds per request on top of the work"
                 + (f": {worst} spent {overhead:,.0f} us of server CPU beyond the {work:g} us."
                    if not math.isnan(overhead) else ".")]
    if cores == 1:
        sentences.append("The server had one CPU here, so this run cannot show multi-core "
                         "scaling: pools and several loops had nothing to spread over.")
    return sentences


# --------------------------------------------------------------------------- idle multitude

def idle_groups(run: Run) -> dict[tuple, list[tuple[int, str]]]:
    """Closed-loop workloads that differ only in `idle`, grouped: [(N, workload), ...]."""
    groups: dict[tuple, list[tuple[int, str]]] = {}
    for w in run.workloads:
        spec = workload_spec(run, w)
        if _open_loop(spec):
            continue
        key = tuple(_knob(spec, k) for k in ("session", "work_us", "sleep_us", "reply_bytes"))
        if _knob(spec, "idle") > 0:
            groups.setdefault(key, []).append((int(_knob(spec, "idle")), w))
    return {k: sorted(v) for k, v in groups.items()}


def _largest_ok(run: Run, levels: list[tuple[int, str]], arch: str, active: int):
    """The largest idle level at which the architecture's point succeeded: (N, workload)."""
    ok = [(n, w) for n, w in levels if any(p.ok for p in run.points_at(w, arch, active))]
    return ok[-1] if ok else None


def idle_sentences(run: Run, levels: list[tuple[int, str]]) -> list[str]:
    top_n, top_w = levels[-1]
    active = max(run.connections(top_w))
    held, closing, refusing = [], [], []
    for arch in run.architectures:
        points = run.points_at(top_w, arch, active)
        if not points:
            continue
        closed = statistics.median(p.values.get("idle_closed_by_server", 0) or 0
                                   for p in points)
        failed = statistics.median(p.values.get("idle_failed", 0) or 0 for p in points)
        errors = statistics.median(p.values.get("errors", 0) or 0 for p in points)
        if closed > 0:
            opened = statistics.median(p.values.get("idle_opened", 0) or 0 for p in points)
            closing.append(f"{arch} closed {closed:,.0f} of them (kept {opened - closed:,.0f}"
                           + (f"; select() cannot watch a descriptor past FD_SETSIZE, "
                              f"{FD_SETSIZE}" if arch == "select" else "") + ")")
        elif failed > 0 or errors > 0:
            refusing.append(f"{arch} failed ({failed:,.0f} idle connects failed, "
                            f"{errors:,.0f} active requests erred)")
        elif not any(p.ok for p in points):
            # Nothing answered and nothing failed: the active clients waited behind the idle
            # ones all the run (a pool held by idle clients; a server still forking for them).
            threads = statistics.median(p.values.get("server_threads", 0) or 0 for p in points)
            processes = statistics.median(p.values.get("server_processes", 0) or 0
                                          for p in points)
            refusing.append(f"{arch} answered no active request in the run (its server had "
                            f"{threads:,.0f} threads in {processes:,.0f} processes at the end)")
        else:
            held.append(f"{arch} (active p99 {us(median(run, top_w, arch, active, 'p99_us'))})")
    parts = []
    if held:
        parts.append(f"{', '.join(held)} held every one with no error")
    parts += closing + refusing
    sentences = [f"With {top_n:,} idle connections beside {active} active ones, "
                 + "; ".join(parts) + "."]
    # What each idle client costs: server CPU per active request (a loop that scans every
    # descriptor per turn pays for the idle ones), and memory, from the fewest idle
    # connections to the most at which the architecture still worked.
    low_n, low_w = levels[0]
    cpu, memory = [], []
    for arch in run.architectures:
        largest = _largest_ok(run, levels, arch, active)
        if largest is None or largest[0] <= low_n:
            continue
        n, w = largest
        cpu_low = median(run, low_w, arch, active, "server_cpu_us_per_req")
        cpu_high = median(run, w, arch, active, "server_cpu_us_per_req")
        if not (math.isnan(cpu_low) or math.isnan(cpu_high)):
            cpu.append((cpu_high / cpu_low if cpu_low > 0 else math.inf,
                        f"{arch} {cpu_low:,.1f} -> {cpu_high:,.1f} us (at {n:,})"))
        rss_low = median(run, low_w, arch, active, "server_rss_kb")
        rss_high = median(run, w, arch, active, "server_rss_kb")
        if not (math.isnan(rss_low) or math.isnan(rss_high)):
            memory.append((max(rss_high - rss_low, 0) / (n - low_n), arch))
    if cpu:
        cpu.sort(reverse=True)
        sentences.append(f"Server CPU per active request from {low_n:,} idle connections up: "
                         + ", ".join(text for _, text in cpu) + ".")
    if memory:
        memory.sort(reverse=True)
        sentences.append("Memory per idle connection (server RSS growth over the idle ones, "
                         "children included): "
                         + ", ".join(f"{a} {kib:,.1f} KiB" for kib, a in memory) + ".")
    return sentences


def growth_text(growth: list[tuple[float, str]]) -> str:
    return ", ".join(f"{a} {g:,.1f}x" for g, a in sorted(growth, reverse=True))


# --------------------------------------------------------------------------- latency vs load

def open_loop_workloads(run: Run) -> list[str]:
    return [w for w in run.workloads if _open_loop(spec := workload_spec(run, w))
            and not spec.get("rate_steps")]


def load_curve(run: Run, arch: str, workloads: list[str]) -> list[dict]:
    """One entry per offered level (ascending): medians over repetitions of offered, achieved,
    p50/p99/p99.9, errors, and whether every repetition met the SLO."""
    slo = slo_us(run)
    curve = []
    for w in workloads:
        for c in run.connections(w):
            points = run.points_at(w, arch, c)
            offered = [p.values.get("offered_rps", math.nan) for p in points]
            offered = [o for o in offered if not math.isnan(o)]
            if not offered:
                continue
            entry = {"workload": w, "connections": c, "offered": statistics.median(offered)}
            for metric in ("throughput_rps", "p50_us", "p99_us", "p99_9_us", "errors"):
                entry[metric] = median(run, w, arch, c, metric)
            entry["met"] = all(meets_slo(p, slo) for p in points)
            curve.append(entry)
    return sorted(curve, key=lambda e: e["offered"])


def meets_slo(point, slo: float) -> bool:
    """p99 within the SLO, no errors, and the offer answered (SUSTAINED_SHARE of it)."""
    offered = point.values.get("offered_rps", math.nan)
    p99 = point.value("p99_us")
    errors = point.values.get("errors", 0)
    return (point.ok and not math.isnan(offered) and not math.isnan(p99) and p99 <= slo
            and not (errors and errors > 0)
            and point.value("throughput_rps") >= SUSTAINED_SHARE * offered)


def slo_figure(curve: list[dict]) -> float:
    """The highest offered rate sustained within the SLO (NaN when none was)."""
    met = [e["offered"] for e in curve if e["met"]]
    return max(met) if met else math.nan


def load_sentences(run: Run, workloads: list[str]) -> tuple[list[str], dict[str, float]]:
    slo = slo_us(run)
    figures, sticks = {}, []
    for arch in run.architectures:
        curve = load_curve(run, arch, workloads)
        if not curve:
            continue
        figures[arch] = slo_figure(curve)
        low, high = curve[0], curve[-1]
        if len(curve) > 1 and not math.isnan(low["p99_us"]) and not math.isnan(high["p99_us"]):
            sticks.append(f"{arch} from {us(low['p99_us'])} at {rps(low['offered'])} to "
                          f"{us(high['p99_us'])} at {rps(high['offered'])}")
    if not figures:
        return [], {}
    ranked = sorted(figures.items(), key=lambda item: -(item[1] if not math.isnan(item[1])
                                                         else -1))
    connections = sorted({c for w in workloads for c in run.connections(w)})
    at = f" at {', '.join(str(c) for c in connections)} connections"
    sentences = [f"The highest offered rate sustained with p99 under {us(slo)} and no errors"
                 f"{at}: " + "; ".join(f"{a} {rps(f)} req/s" if not math.isnan(f)
                                       else f"{a} none" for a, f in ranked) + "."]
    if not sticks:
        sentences.append("One offered rate per architecture: too few to draw the hockey stick "
                         "(latency-vs-load.toml sweeps it).")
    if sticks:
        sentences.append("Open loop, latency counts from each request's scheduled time, so it "
                         "rises steeply once the offer nears capacity (the hockey stick): p99 "
                         "went " + "; ".join(sticks) + ".")
    return sentences, figures


# --------------------------------------------------------------------------- overload

def overload_workloads(run: Run) -> list[str]:
    return [w for w in run.workloads if workload_spec(run, w).get("rate_steps")]


def load_result(run: Run, point) -> dict:
    """The point's archbench-load JSON (raw/LABEL.json), or {}."""
    path = run.path / "raw" / f"{point.arch}-{point.workload}-c{point.connections}-r{point.rep}.json"
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return result if isinstance(result, dict) else {}


def timeline(run: Run, point) -> list[dict]:
    return load_result(run, point).get("timeline") or []


def recovery(entries: list[dict], steps: list, capacity: float, slo: float) -> dict:
    """From a per-second timeline and the rate steps (multiples of capacity, seconds): the
    throughput during the overload (the steps above 1x), errors then, and the seconds from the
    end of the overload until p99 was back within the SLO, or within twice the p99 before the
    overload where that was already above the SLO (a busy machine): NaN if not within the
    run."""
    edges, t = [], 0.0
    for factor, seconds in steps:
        edges.append((t, t + seconds, factor))
        t += seconds
    over = [(a, b) for a, b, f in edges if f > 1]
    if not over or not entries:
        return {}
    start, end = over[0][0], over[-1][1]
    during = [e for e in entries if start <= e["t"] and e["t"] + 1 <= end + 1e-9]
    after = [e for e in entries if e["t"] >= end]
    before = [e["p99_us"] for e in entries if e["t"] + 1 <= start + 1e-9
              and e.get("p99_us") is not None]
    baseline = statistics.median(before) if before else math.nan
    threshold = max(slo, 2 * baseline) if not math.isnan(baseline) else slo
    held = statistics.median(e["ok"] / (e.get("duration_s") or 1) for e in during) \
        if during else math.nan
    recovered = math.nan
    for e in after:
        if e.get("p99_us") is not None and e["p99_us"] <= threshold:
            recovered = e["t"] - end
            break
    return {"held_rps": held, "held_share": held / capacity if capacity else math.nan,
            "errors": sum(e.get("errors", 0) for e in during + after),
            "recovered_s": recovered, "overload_end_s": end, "baseline_p99_us": baseline,
            "threshold_us": threshold}


def overload_sentences(run: Run, workload: str) -> list[str]:
    steps = workload_spec(run, workload).get("rate_steps") or []
    slo = slo_us(run)
    parts, recoveries = [], []
    for arch in run.architectures:
        points = [p for p in run.points if p.workload == workload and p.arch == arch and p.ok]
        if not points:
            continue
        point = points[0]
        capacity = point.values.get("capacity_rps", math.nan)
        result = recovery(timeline(run, point), steps, capacity, slo)
        if not result:
            continue
        backlog = (load_result(run, point).get("open_loop") or {}).get("max_backlog")
        parts.append(f"{arch} answered {rps(result['held_rps'])} req/s "
                     f"({100 * result['held_share']:.0f}% of its capacity of {rps(capacity)})"
                     + (f" with {result['errors']:,} errors" if result["errors"] else
                        ", no errors")
                     + (f", up to {backlog:,} requests queued for a connection" if backlog
                        else ""))
        within = (f"under {us(result['threshold_us'])}" if result["threshold_us"] > slo
                  else "under the SLO")
        recoveries.append((f"{arch} after {result['recovered_s']:.0f} s" if not math.isnan(
            result["recovered_s"]) else f"{arch} not within the run") + f" ({within})")
    if not parts:
        return []
    peak = max(f for f, _ in steps)
    return [f"Offered {peak:g}x its capacity: " + "; ".join(parts) + ".",
            f"After the offer fell back to {steps[-1][0]:g}x, the queue built during the "
            f"overload had to drain before p99 came back (under the SLO of {us(slo)}, or under "
            f"twice its p99 before the overload where that was already above it): "
            + ", ".join(recoveries) + "."]


# --------------------------------------------------------------------------- large replies

def reply_sentences(run: Run, workloads: list[str]) -> list[str]:
    largest = max(workloads, key=lambda w: _knob(workload_spec(run, w), "reply_bytes"))
    size = _knob(workload_spec(run, largest), "reply_bytes")
    top = max(run.connections(largest))
    rows = []
    for arch in run.architectures:
        t = median(run, largest, arch, top, "throughput_rps")
        cpu = median(run, largest, arch, top, "server_cpu_us_per_req")
        if not math.isnan(t):
            rows.append((t * size / 1e6, cpu / (size / 1048576) if not math.isnan(cpu) else
                         math.nan, arch))
    if not rows:
        return []
    rows.sort(reverse=True)
    return [f"With replies of {size / 1024:,.0f} KiB at {top} connections the server moved "
            + ", ".join(f"{a} {mb:,.0f} MB/s" for mb, _, a in rows) + ".",
            "The work is now copying bytes, not handling requests: server CPU per MiB sent was "
            + ", ".join(f"{a} {c:,.0f} us" for _, c, a in rows if not math.isnan(c)) + "."]


# --------------------------------------------------------------------------- charts

def _figure(panels: int):
    import charts
    from matplotlib.figure import Figure
    return Figure(figsize=(5.2 * panels + 2.0, 4.2), dpi=charts.DPI)


def _line(ax, arch: str, xs, ys, **style) -> None:
    pairs = [(x, y) for x, y in zip(xs, ys) if not (math.isnan(x) or math.isnan(y))]
    if pairs:
        style.setdefault("label", arch)
        ax.plot([p[0] for p in pairs], [p[1] for p in pairs], color=arch_colour(arch),
                marker=arch_marker(arch), **style)


def _finish(figure, axes, path: Path, title: str) -> Path:
    figure.suptitle(title, fontsize=11)
    handles, labels = axes[0].get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    if seen:
        figure.legend(list(seen.values()), list(seen.keys()), loc="center right", fontsize=8)
    figure.tight_layout(rect=(0, 0, 0.88, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, bbox_inches="tight")
    return path


def blocking_chart(run: Run, workload: str, cap: float, path: Path) -> Path:
    figure = _figure(1)
    ax = figure.subplots()
    connections = run.connections(workload)
    for arch in run.architectures:
        _line(ax, arch, connections, [median(run, workload, arch, c, "throughput_rps")
                                      for c in connections])
    ax.axhline(cap, color="#aa0000", linestyle="--", linewidth=1)
    ax.annotate(f"1/sleep = {rps(cap)} req/s", (connections[0], cap), color="#aa0000",
                fontsize=8, va="bottom")
    ax.set(xscale="log", yscale="log", xlabel="connections", ylabel="requests/s")
    ax.grid(True, alpha=0.3)
    return _finish(figure, [ax], path, f"Blocking back end — '{workload}'")


def cpu_chart(run: Run, workloads: list[str], path: Path) -> Path:
    figure = _figure(1)
    ax = figure.subplots()
    works = [_knob(workload_spec(run, w), "work_us") for w in workloads]
    for arch in run.architectures:
        _line(ax, arch, works, [median(run, w, arch, max(run.connections(w)), "throughput_rps")
                                for w in workloads])
    cores = server_cpus(run)
    ax.plot(sorted(works), [cores * 1e6 / w for w in sorted(works)], color="#aa0000",
            linestyle="--", linewidth=1, label="cap: CPUs / work")
    ax.set(xscale="log", yscale="log", xlabel="CPU work per request (us)",
           ylabel="requests/s at the most connections")
    ax.grid(True, alpha=0.3)
    return _finish(figure, [ax], path, f"CPU-heavy requests ({cores} server CPU"
                   f"{'s' if cores > 1 else ''})")


def idle_chart(run: Run, levels: list[tuple[int, str]], path: Path) -> Path:
    figure = _figure(4)
    axes = list(figure.subplots(1, 4))
    ns = [max(n, 1) for n, _ in levels]
    for arch in run.architectures:
        def at(metric, scale=lambda v, n: v):
            return [scale(median(run, w, arch, max(run.connections(w)), metric), max(n, 1))
                    for n, w in levels]
        _line(axes[0], arch, ns, at("p99_us"))
        _line(axes[1], arch, ns, at("server_cpu_us_per_req"))
        _line(axes[2], arch, ns, at("server_rss_kb", lambda v, n: v / n))
        threads = at("server_threads")
        processes = at("server_processes")
        _line(axes[3], arch, ns, [t + p - 1 for t, p in zip(threads, processes)])
    for ax, label in zip(axes, ("active p99 latency (us)", "server CPU per request (us)",
                                "server RSS / idle connections (KiB)",
                                "threads + processes")):
        ax.set(xscale="log", yscale="log", xlabel="idle connections", ylabel=label)
        ax.grid(True, alpha=0.3)
    return _finish(figure, axes, path, "An idle multitude (C10K)")


def load_chart(run: Run, workloads: list[str], path: Path) -> Path:
    figure = _figure(3)
    axes = list(figure.subplots(1, 3))
    for arch in run.architectures:
        curve = load_curve(run, arch, workloads)
        xs = [e["offered"] for e in curve]
        _line(axes[0], arch, xs, [e["p99_us"] for e in curve])
        _line(axes[0], arch, xs, [e["p50_us"] for e in curve], linestyle=":", alpha=0.6,
              label=f"_{arch} p50")  # a leading _ keeps it out of the legend
        _line(axes[1], arch, xs, [e["p99_9_us"] for e in curve])
        _line(axes[2], arch, xs, [e["throughput_rps"] for e in curve])
    axes[0].axhline(slo_us(run), color="#aa0000", linestyle="--", linewidth=1)
    axes[1].axhline(slo_us(run), color="#aa0000", linestyle="--", linewidth=1)
    limits = [v for line in axes[2].get_lines() for v in line.get_xdata()]
    if limits:
        axes[2].plot([min(limits), max(limits)], [min(limits), max(limits)], color="#888888",
                     linestyle="--", linewidth=1)
    for ax, label in zip(axes, ("p99 (solid) and p50 (dotted), us", "p99.9 (us)",
                                "achieved requests/s")):
        ax.set(xscale="log", yscale="log", xlabel="offered requests/s", ylabel=label)
        ax.grid(True, alpha=0.3)
    return _finish(figure, axes, path, f"Latency against offered load (SLO {us(slo_us(run))}, "
                   "dashed)")


def overload_chart(run: Run, workload: str, path: Path) -> Path:
    figure = _figure(2)
    axes = list(figure.subplots(1, 2))
    steps = workload_spec(run, workload).get("rate_steps") or []
    for arch in run.architectures:
        points = [p for p in run.points if p.workload == workload and p.arch == arch and p.ok]
        if not points:
            continue
        entries = timeline(run, points[0])
        capacity = points[0].values.get("capacity_rps", math.nan)
        ts = [e["t"] + 0.5 for e in entries]
        _line(axes[0], arch, ts, [e["ok"] / (e.get("duration_s") or 1) / capacity
                                  for e in entries])
        _line(axes[1], arch, ts, [e["p99_us"] if e.get("p99_us") is not None else math.nan
                                  for e in entries])
    xs, ys, t = [], [], 0.0
    for factor, seconds in steps:
        xs += [t, t + seconds]
        ys += [factor, factor]
        t += seconds
    axes[0].plot(xs, ys, color="#888888", linestyle="--", linewidth=1, label="offered")
    axes[0].set(xlabel="seconds", ylabel="answered / capacity")
    axes[1].set(xlabel="seconds", ylabel="p99 per second (us)", yscale="log")
    axes[1].axhline(slo_us(run), color="#aa0000", linestyle="--", linewidth=1)
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return _finish(figure, axes, path, f"Overload and recovery — '{workload}'")


def replies_chart(run: Run, workloads: list[str], path: Path) -> Path:
    figure = _figure(2)
    axes = list(figure.subplots(1, 2))
    sizes = [_knob(workload_spec(run, w), "reply_bytes") for w in workloads]
    for arch in run.architectures:
        tops = [(w, max(run.connections(w))) for w in workloads]
        _line(axes[0], arch, sizes, [median(run, w, arch, c, "throughput_rps") * s / 1e6
                                     for (w, c), s in zip(tops, sizes)])
        _line(axes[1], arch, sizes, [median(run, w, arch, c, "server_cpu_us_per_req") /
                                     (s / 1048576) for (w, c), s in zip(tops, sizes)])
    for ax, label in zip(axes, ("MB/s sent", "server CPU per MiB (us)")):
        ax.set(xscale="log", xlabel="reply bytes", ylabel=label)
        ax.grid(True, alpha=0.3)
    return _finish(figure, axes, path, "Large replies")


# --------------------------------------------------------------------------- all of them

def find_lessons(run: Run, draw: bool = True, out: Path | None = None) -> list[Lesson]:
    """Every lesson this run has data for, with its sentences and (draw) its chart."""
    out = out or run.path / "plots"
    lessons: list[Lesson] = []

    def chart(function, name: str, *args) -> Path | None:
        if not draw:
            return None
        try:
            return function(run, *args, out / f"lesson-{name}.png").relative_to(run.path)
        except ValueError:
            return (out / f"lesson-{name}.png")

    for w in _closed(run, lambda s: _knob(s, "sleep_us") > 0):
        sentences, facts = blocking_sentences(run, w)
        if sentences:
            lessons.append(Lesson("blocking", f"A blocking back end ({w})", sentences,
                                  chart(blocking_chart, run_data.safe_name(w), w, facts["cap"]),
                                  [w]))
    cpu = _closed(run, lambda s: _knob(s, "work_us") > 0 and not _knob(s, "sleep_us"))
    if cpu:
        sentences = [s for w in cpu for s in cpu_sentences(run, w)[:2]] + \
            [s for s in cpu_sentences(run, cpu[0])[2:]]
        if sentences:
            lessons.append(Lesson("cpu", "CPU-heavy requests", sentences,
                                  chart(cpu_chart, "cpu", cpu), cpu))
    for index, levels in enumerate(idle_groups(run).values()):
        lessons.append(Lesson("idle", "An idle multitude (C10K)", idle_sentences(run, levels),
                              chart(idle_chart, f"idle-{index}", levels),
                              [w for _, w in levels]))
    open_loop = open_loop_workloads(run)
    if open_loop:
        sentences, _ = load_sentences(run, open_loop)
        if sentences:
            lessons.append(Lesson("load", "Latency against load", sentences,
                                  chart(load_chart, "load", open_loop), open_loop))
    for w in overload_workloads(run):
        sentences = overload_sentences(run, w)
        if sentences:
            lessons.append(Lesson("overload", f"Overload ({w})", sentences,
                                  chart(overload_chart, run_data.safe_name(w), w), [w]))
    large = _closed(run, lambda s: _knob(s, "reply_bytes") >= LARGE_REPLY_BYTES)
    if large:
        sentences = reply_sentences(run, large)
        if sentences:
            lessons.append(Lesson("replies", "Large replies", sentences,
                                  chart(replies_chart, "replies", large), large))
    return lessons


def slo_summary(run: Run) -> dict[str, float]:
    """Per architecture, the highest offered rate sustained within the SLO (for the summary)."""
    workloads = open_loop_workloads(run)
    return load_sentences(run, workloads)[1] if workloads else {}


def slo_summary_html(run: Run) -> str:
    """A row for the report's summary: per architecture, the highest offered rate sustained
    within the SLO (the fairest single figure for a comparison); "" without open-loop points."""
    figures = slo_summary(run)
    if not figures:
        return ""
    esc = lambda text: html.escape(str(text), quote=True)  # noqa: E731
    cells = "".join(f"<tr><td>{esc(a)}</td><td>{esc(rps(f) if not math.isnan(f) else 'none')}"
                    f"</td></tr>" for a, f in sorted(figures.items(), key=lambda i: -(
                        i[1] if not math.isnan(i[1]) else -1)))
    return (f"<h3>Highest offered rate within the SLO</h3><p>Open loop: the highest offered "
            f"rate (req/s) each architecture sustained with p99 under {esc(us(slo_us(run)))} "
            f"and no errors (see the lesson on latency against load).</p>"
            f"<table><tr><th>architecture</th><th>req/s</th></tr>{cells}</table>")


def section_html(lessons: list[Lesson]) -> str:
    """The report's opening section: a chart and its sentences per lesson."""
    if not lessons:
        return ""
    esc = lambda text: html.escape(str(text), quote=True)  # noqa: E731
    parts = ["<h2 id=\"lessons\">Lessons</h2><p>Where architectures differ by factors: each "
             "chart below is from this run, and each sentence is computed from its points.</p>"]
    for index, lesson in enumerate(lessons):
        image = (f"<img src=\"{esc(lesson.chart.as_posix())}\" alt=\"{esc(lesson.title)}\">"
                 if lesson.chart else "")
        parts.append(f"<figure id=\"lesson-{index}-{esc(lesson.key)}\"><h3>{esc(lesson.title)}"
                     f"</h3>{image}<figcaption><p>{esc(' '.join(lesson.sentences))}</p>"
                     f"<p class=\"small\">Workloads: {esc(', '.join(lesson.workloads))}</p>"
                     f"</figcaption></figure>")
    return "\n".join(parts)
