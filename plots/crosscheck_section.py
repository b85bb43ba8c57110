"""The cross-check of archbench-load against wrk (harness/experiments/http-crosscheck.toml): on
the same server and cores, does archbench's load generator measure what the field's reference
tool measures? For each server measured by both tools at the same connection count: the
throughput ratio archbench-load / wrk with its spread over the rounds, the latency percentiles
of both side by side, and sentences from the run's own figures. The goal is a ratio within
GOAL (5 %); where it is missed, the sentences give what was measured beside it: each tool's CPU
use, the server's busy share and its CPU per request under each.

A pair is two workloads that differ only in their load generator (meta.json's experiment:
`load_generator`, archbench-load unless said), both HTTP, both closed loop and persistent. The
ratio's spread pairs the repetitions by round (the harness measures each point once per round,
in a shuffled order), so that a slow drift of the machine falls on both members of a ratio.
"""
from __future__ import annotations

import html
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

import lessons
import run_data
from run_data import Run

GOAL = 0.05
TOOLS = ("archbench-load", "wrk")
PERCENTILES = (("p50_us", "p50"), ("p90_us", "p90"), ("p99_us", "p99"), ("max_us", "max"))
# The keys that must be equal for two workloads to measure the same thing.
SAME = ("session", "work_us", "sleep_us", "reply_bytes", "pipeline", "rate", "rate_x_capacity",
        "rate_steps", "idle", "path")
CORE_BUSY = 0.9  # a core this busy was the limit


def _setting(run: Run, spec: dict, key: str, default):
    value = spec.get(key)
    if value is None:
        value = run.meta.get("experiment", {}).get(key)
    return value if value is not None else default


def _specs(run: Run) -> dict[str, dict]:
    return {spec.get("name"): spec for spec in run.meta.get("experiment", {}).get("workloads", [])
            if isinstance(spec, dict)}


@dataclass
class Pair:
    server: str
    connections: int
    workloads: dict[str, str]  # tool -> workload


def pairs(run: Run) -> list[Pair]:
    """Every (server, connection count) measured by both tools in workloads that differ only
    in their load generator."""
    specs = _specs(run)
    by_tool: dict[str, list[str]] = {tool: [] for tool in TOOLS}
    for workload in run.workloads:
        spec = specs.get(workload, {})
        if _setting(run, spec, "protocol", "zen") != "http" or spec.get("session") or \
                spec.get("rate") or spec.get("rate_x_capacity") or spec.get("rate_steps"):
            continue
        tool = _setting(run, spec, "load_generator", "archbench-load")
        if tool in by_tool:
            by_tool[tool].append(workload)
    found = []
    for ours in by_tool["archbench-load"]:
        for theirs in by_tool["wrk"]:
            if any(specs[ours].get(k) != specs[theirs].get(k) for k in SAME if k != "pipeline") \
                    or (specs[ours].get("pipeline") or 1) != (specs[theirs].get("pipeline") or 1):
                continue
            for server in run.architectures:
                for count in run.connections(ours):
                    if run.points_at(ours, server, count) and run.points_at(theirs, server, count):
                        found.append(Pair(server, count, {"archbench-load": ours, "wrk": theirs}))
    return found


def _values(run: Run, workload: str, server: str, count: int, metric: str) -> list[float]:
    return run_data.values_at(run, workload, server, metric, count)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def round_ratios(run: Run, pair: Pair) -> list[float]:
    """archbench-load / wrk throughput, one per round in which both measured it."""
    by_round = {}
    for tool, workload in pair.workloads.items():
        for point in run.points_at(workload, pair.server, pair.connections):
            value = point.value("throughput_rps")
            measured_in = point.values.get("round", math.nan)
            if not math.isnan(value):
                key = point.rep if math.isnan(measured_in) else int(measured_in)
                by_round.setdefault(key, {})[tool] = value
    return [r["archbench-load"] / r["wrk"] for r in by_round.values()
            if len(r) == 2 and r["wrk"] > 0]


@dataclass
class Figures:
    throughput: dict[str, float]
    spread: dict[str, tuple[float, float]]
    ratio: float
    ratios: list[float]
    latency: dict[str, dict[str, float]]
    other: dict[str, dict[str, float]]  # loadgen_cpu_util, server_cores_busy, server CPU/req


def figures(run: Run, pair: Pair) -> Figures:
    throughput, spread, latency, other = {}, {}, {}, {}
    for tool, workload in pair.workloads.items():
        values = _values(run, workload, pair.server, pair.connections, "throughput_rps")
        throughput[tool] = _median(values)
        spread[tool] = (min(values), max(values)) if values else (math.nan, math.nan)
        latency[tool] = {label: _median(_values(run, workload, pair.server, pair.connections,
                                                metric)) for metric, label in PERCENTILES}
        other[tool] = {metric: _median(_values(run, workload, pair.server, pair.connections,
                                               metric))
                       for metric in ("loadgen_cpu_util", "server_cores_busy",
                                      "server_cpu_us_per_req", "errors", "foreign_cpu_share")}
        # The load generator's CPU per request: its busiest thread's share of a core (wrk: its
        # threads' mean) times its threads, over the requests of a second.
        threads = min(int(run.meta.get("placement", {}).get("load_threads") or 1),
                      pair.connections)
        other[tool]["load_us_per_req"] = other[tool]["loadgen_cpu_util"] * threads * 1e6 / \
            throughput[tool] if throughput[tool] else math.nan
        points = run.points_at(workload, pair.server, pair.connections)
        other[tool]["disturbed"] = sum(1 for p in points if p.disturbed)
        other[tool]["points"] = len(points)
    ratios = round_ratios(run, pair)
    ratio = throughput["archbench-load"] / throughput["wrk"] \
        if throughput["wrk"] and not math.isnan(throughput["wrk"]) else math.nan
    return Figures(throughput, spread, ratio, ratios, latency, other)


def _share(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{100 * value:.0f} %"


def sentences(run: Run, pair: Pair, f: Figures) -> list[str]:
    """What this pair shows, in the run's own figures."""
    if math.isnan(f.ratio):
        return [f"{pair.server} at {pair.connections} connections: a tool measured nothing "
                f"here (see the failed points), so there is no ratio."]
    spread = (f"; over {len(f.ratios)} rounds the ratio went from {min(f.ratios):.3f} to "
              f"{max(f.ratios):.3f}" if f.ratios else "")
    within = abs(f.ratio - 1) <= GOAL
    said = [f"{pair.server} at {pair.connections} connections: archbench-load measured "
            f"{lessons.rps(f.throughput['archbench-load'])} req/s and wrk "
            f"{lessons.rps(f.throughput['wrk'])} (median of the repetitions), a ratio of "
            f"{f.ratio:.3f}{spread}: " + (f"within the goal of {GOAL:.0%}." if within else
                                           f"outside the goal of {GOAL:.0%}.")]
    if f.ratios and not within and min(f.ratios) <= 1 + GOAL and max(f.ratios) >= 1 - GOAL:
        said.append("Some rounds were within the goal and others not: the spread of the "
                    "rounds, not a difference between the tools, may be what is measured.")
    ours, theirs = f.other["archbench-load"], f.other["wrk"]
    said.append(f"Load generator CPU: archbench-load used {_share(ours['loadgen_cpu_util'])} "
                f"of its core(s) ({lessons.cpu_us(ours['load_us_per_req'])} per request), wrk "
                f"{_share(theirs['loadgen_cpu_util'])} ({lessons.cpu_us(theirs['load_us_per_req'])} per "
                f"request); the server's "
                f"core(s) were busy {_share(ours['server_cores_busy'])} under archbench-load "
                f"and {_share(theirs['server_cores_busy'])} under wrk.")
    disturbed = ours["disturbed"] + theirs["disturbed"]
    foreign = max(ours["foreign_cpu_share"], theirs["foreign_cpu_share"])
    wide = bool(f.ratios) and max(f.ratios) - min(f.ratios) > 2 * GOAL
    if disturbed:
        said.append(f"{disturbed} of {ours['points'] + theirs['points']} points of this pair "
                    f"were disturbed (other processes took up to {_share(foreign)} of these "
                    f"cores' time, by the noise sentinel): "
                    + ("the machine's noise, not the tools, can explain the difference"
                       if not within else "the median is within the goal, but the rounds "
                       "spread wider than it, so it is no verdict" if wide else
                       "the ratio is within the goal even so")
                    + "; measure it again on a quiet machine.")
        faster = "archbench-load" if f.ratio > 1 else "wrk"
        slower = "wrk" if faster == "archbench-load" else "archbench-load"
        costs = (f.other[slower]["load_us_per_req"], f.other[faster]["load_us_per_req"])
        if not within and not any(math.isnan(c) for c in costs) and costs[0] > costs[1] * (1 + GOAL):
            said.append(f"{slower} spent {costs[0] / costs[1]:.2f}x {faster}'s CPU per request: on "
                        f"a load core shared with other processes, the tool that needs less CPU "
                        f"per request sends more of them.")
    elif not within:
        slower = "archbench-load" if f.ratio < 1 else "wrk"
        other_tool = "wrk" if slower == "archbench-load" else "archbench-load"
        load_use = f.other[slower]["loadgen_cpu_util"]
        busy = f.other[slower]["server_cores_busy"]
        if not math.isnan(load_use) and load_use >= CORE_BUSY:
            said.append(f"{slower} used {_share(load_use)} of its core: the load generator "
                        f"was the limit, not the server.")
        elif not math.isnan(busy) and busy >= CORE_BUSY:
            cpu = (f.other[slower]["server_cpu_us_per_req"],
                   f.other[other_tool]["server_cpu_us_per_req"])
            said.append(f"The server was the limit under both (its cores busy), so it spent "
                        f"more per request under {slower}: "
                        + (f"{cpu[0]:.1f} us of server CPU per request against {cpu[1]:.1f} us "
                           f"under {other_tool}" if not any(math.isnan(c) for c in cpu)
                           else "its CPU per request was not counted exactly here")
                        + " (how the tools send their requests: write sizes, request headers, "
                          "timing of the next request).")
        else:
            said.append(f"Neither {slower} nor the server kept its core busy: the two were "
                        f"waiting on each other (the round trip through the loopback and the "
                        f"scheduler), which the placement and the machine's noise decide.")
    lat_ours, lat_theirs = f.latency["archbench-load"], f.latency["wrk"]
    if not math.isnan(lat_ours["p50"]) and not math.isnan(lat_theirs["p50"]):
        said.append(f"Latency, both closed loop: p50 {lat_ours['p50']:,.0f} us "
                    f"(archbench-load) against {lat_theirs['p50']:,.0f} us (wrk), p99 "
                    f"{lat_ours['p99']:,.0f} against {lat_theirs['p99']:,.0f} us.")
    return said


def chart(run: Run, found: list[Pair], path: Path) -> Path:
    """Throughput of both tools per server (bars: median, whiskers: min-max), and their
    latency percentiles side by side."""
    from charts import DPI, save  # matplotlib, only when drawing
    from matplotlib.figure import Figure
    figure = Figure(figsize=(13, 4.6), dpi=DPI)
    throughput_ax, latency_ax = figure.subplots(1, 2)
    colours = {"archbench-load": "#1f6fb4", "wrk": "#e6730e"}
    labels = [f"{p.server}\nc={p.connections}" for p in found]
    width = 0.38
    for offset, tool in ((-width / 2, "archbench-load"), (width / 2, "wrk")):
        all_figures = [figures(run, p) for p in found]
        heights = [f.throughput[tool] for f in all_figures]
        low = [h - f.spread[tool][0] for h, f in zip(heights, all_figures)]
        high = [f.spread[tool][1] - h for h, f in zip(heights, all_figures)]
        xs = [i + offset for i in range(len(found))]
        throughput_ax.bar(xs, heights, width, yerr=[low, high], capsize=4, label=tool,
                          color=colours[tool])
        for index, f in enumerate(all_figures):
            ys = [f.latency[tool][label] for _, label in PERCENTILES]
            xs_lat = [index * (len(PERCENTILES) + 1) + k for k in range(len(PERCENTILES))]
            latency_ax.plot(xs_lat, ys, marker="o" if tool == "wrk" else "s",
                            color=colours[tool], linestyle="-" if tool == "wrk" else "--",
                            label=tool if index == 0 else None)
    throughput_ax.set_xticks(range(len(found)), labels)
    throughput_ax.set_ylabel("throughput (requests/s)")
    throughput_ax.set_title("Throughput (median; whiskers: min-max over repetitions)",
                            fontsize=10)
    throughput_ax.legend(frameon=False)
    ticks = [(index * (len(PERCENTILES) + 1) + k, f"{label}\n{p.server}" if k == 0 else label)
             for index, p in enumerate(found) for k, (_, label) in enumerate(PERCENTILES)]
    latency_ax.set_xticks([x for x, _ in ticks], [t for _, t in ticks], fontsize=8)
    latency_ax.set_yscale("log")
    latency_ax.set_ylabel("latency (µs, log scale)")
    latency_ax.set_title("Latency percentiles (medians of the repetitions)", fontsize=10)
    latency_ax.legend(frameon=False)
    for ax in (throughput_ax, latency_ax):
        ax.grid(True, axis="y", alpha=0.3)
    figure.suptitle(f"archbench-load against wrk on the same server and cores\n"
                    f"{run.machine_line()} · run {run.name}", fontsize=11, y=1.04)
    return save(figure, path.parent, path.stem)[0]


def section_html(run: Run, draw: bool = True) -> str:
    """The report's cross-check section; "" when the run holds no pair."""
    found = pairs(run)
    if not found:
        return ""
    esc = lambda text: html.escape(str(text), quote=True)  # noqa: E731
    image = ""
    if draw:
        png = chart(run, found, run.path / "plots" / "crosscheck.png")
        image = f"<img src=\"{esc(png.relative_to(run.path).as_posix())}\" alt=\"cross-check\">"
    rows, lat_rows, words = [], [], []
    for pair in found:
        f = figures(run, pair)
        spread = (f"{min(f.ratios):.3f} to {max(f.ratios):.3f}" if f.ratios else "n/a")
        within = "yes" if not math.isnan(f.ratio) and abs(f.ratio - 1) <= GOAL else "no"
        rows.append(f"<tr><td>{esc(pair.server)}</td><td>{pair.connections}</td>"
                    + "".join(f"<td>{esc(lessons.rps(f.throughput[t]))} <span class=\"small\">"
                              f"({esc(lessons.rps(f.spread[t][0]))} to {esc(lessons.rps(f.spread[t][1]))})"
                              f"</span></td>" for t in TOOLS)
                    + f"<td>{'n/a' if math.isnan(f.ratio) else f'{f.ratio:.3f}'}</td>"
                      f"<td>{esc(spread)}</td><td>{within}</td></tr>")
        ours, theirs = f.latency["archbench-load"], f.latency["wrk"]
        lat_rows.append(f"<tr><td>{esc(pair.server)}</td><td>{pair.connections}</td>"
                        + "".join(f"<td>{esc(lessons.rps(ours[label]))} / {esc(lessons.rps(theirs[label]))}"
                                  f"</td>" for _, label in PERCENTILES) + "</tr>")
        words.append("<li>" + esc(" ".join(sentences(run, pair, f))) + "</li>")
    header = "".join(f"<th>{esc(t)} req/s (min to max)</th>" for t in TOOLS)
    lat_header = "".join(f"<th>{label} us</th>" for _, label in PERCENTILES)
    return (
        "<h2 id=\"crosscheck\">archbench-load against wrk</h2>"
        "<p>The same servers, on the same pinned cores, measured by archbench-load and by wrk "
        "(the field's reference tool), in HTTP/1.1 closed loop. The goal: archbench-load's "
        f"throughput within {GOAL:.0%} of wrk's on the same server. The ratio is archbench-load "
        "/ wrk of the medians; its spread pairs the two tools' repetitions by round. wrk "
        "times each request from the moment it sent it, as a closed loop must: a server that "
        "stalls delays the requests that would have measured the stall (coordinated "
        "omission), and so do archbench-load's closed-loop figures; only its open loop "
        "(<code>rate</code>) times from a schedule. wrk does not check bodies (any response "
        "counts, only non-2xx statuses are errors); archbench-load checks every byte.</p>"
        f"{image}<table><tr><th>server</th><th>connections</th>{header}<th>ratio</th>"
        f"<th>ratio by round</th><th>within {GOAL:.0%}</th></tr>{''.join(rows)}</table>"
        f"<h3>Latency, archbench-load / wrk</h3><table><tr><th>server</th><th>connections"
        f"</th>{lat_header}</tr>{''.join(lat_rows)}</table>"
        f"<p class=\"small\">wrk prints no p99.9: its --latency distribution has 50, 75, 90 "
        f"and 99 %.</p><ul>{''.join(words)}</ul>")
