"""The report's Deployment section (harness/deployment.py's points): the same architecture direct
and behind HAProxy, and what the clients saw when an instance was killed.

    Direct or behind HAProxy   a table per architecture: throughput, p99, the instances' CPU per
                               request and HAProxy's (lb_cpu_us_per_req), and sentences on the
                               hop's cost
    Failover                   a timeline chart per strategy around the kill (answered and
                               failed requests per 100 ms slice, from raw/LABEL.json), a table of
                               failed requests and recovery times, and sentences that state the
                               chapter's argument with this run's figures

A strategy is how the clients reached the instances: hardwired (hosts_policy first), fallback,
spread, or HAProxy (the points' balancer, hosts_policy and balance columns). Every figure is a
median over the repetitions; one is said to beat another only by the ranking rule
(harness/ranking.py); nothing is typed in.
"""
from __future__ import annotations

import csv
import html
import math
import statistics
from pathlib import Path

import lessons
import ranking  # noqa: E402  (harness/ranking.py, on the path run_data sets)
import run_data
from run_data import Run

STRATEGY_NAMES = {"first": "hardwired clients (first)", "fallback": "fallback clients",
                  "spread": "spread clients (round-robin DNS)"}


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def _texts(run: Run) -> dict[tuple, dict]:
    """The text columns of points.csv, per (arch, workload, connections, rep)."""
    try:
        with open(run.path / "points.csv", newline="", encoding="utf-8") as f:
            return {(r["arch"], r["workload"], r["connections"], r["rep"]): r
                    for r in csv.DictReader(f)}
    except (OSError, csv.Error, KeyError):
        return {}


def strategy(texts: dict, point) -> str:
    """How the point's clients reached its instances, in words."""
    row = texts.get((point.arch, point.workload, str(point.connections), str(point.rep)), {})
    if row.get("balancer") == "haproxy":
        return f"HAProxy ({row.get('balance') or 'roundrobin'})"
    return STRATEGY_NAMES.get(row.get("hosts_policy") or "", row.get("hosts_policy") or "direct")


def deployment_workloads(run: Run) -> tuple[list[str], list[str]]:
    """(the workloads without a kill, the failover ones), among the deployment points."""
    steady, failover = [], []
    for w in run.workloads:
        points = [p for p in run.points if p.workload == w]
        if not any(not math.isnan(p.values.get("instances", math.nan)) for p in points):
            continue
        killed = lessons.workload_spec(run, w).get("kill_at_s") is not None or any(
            not math.isnan(p.values.get("kill_s", math.nan)) for p in points)
        (failover if killed else steady).append(w)
    return steady, failover


def _median(points, metric: str) -> float:
    values = [v for v in (p.value(metric) for p in points) if not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def _mib(kib: float) -> str:
    return "n/a" if math.isnan(kib) else f"{kib / 1024:,.1f} MiB"


def _seconds(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f} s"


# --------------------------------------------------------------------------- direct vs HAProxy

def hop_rows(run: Run, workloads: list[str], texts: dict) -> list[dict]:
    """One row per architecture x workload x connections: medians over repetitions."""
    rows = []
    for arch in run.architectures:
        for w in workloads:
            for c in run.connections(w):
                points = run.points_at(w, arch, c)
                ok = [p for p in points if p.ok]
                if not points:
                    continue
                rows.append({
                    "arch": arch, "workload": w, "connections": c,
                    "strategy": strategy(texts, points[0]),
                    "behind": texts.get((arch, w, str(c), str(points[0].rep)), {}).get(
                        "balancer") == "haproxy",
                    "instances": _median(points, "instances"),
                    "throughput": [p.value("throughput_rps") for p in ok],
                    "rps": _median(ok, "throughput_rps"), "p99": _median(ok, "p99_us"),
                    "server_cpu": _median(ok, "server_cpu_us_per_req"),
                    "lb_cpu": _median(ok, "lb_cpu_us_per_req"),
                    "lb_rss": _median(ok, "lb_rss_kb"), "failed": len(points) - len(ok)})
    return rows


def hop_sentences(rows: list[dict]) -> list[str]:
    sentences = []
    for arch in dict.fromkeys(r["arch"] for r in rows):
        direct = [r for r in rows if r["arch"] == arch and not r["behind"]
                  and not math.isnan(r["rps"])]
        behind = [r for r in rows if r["arch"] == arch and r["behind"]
                  and not math.isnan(r["rps"])]
        if not direct or not behind:
            continue
        d = direct[0]
        parts = []
        for b in behind:
            verdict = ranking.separated(b["throughput"], d["throughput"])
            compared = ("fewer than direct" if verdict < 0 else "more than direct"
                        if verdict > 0 else
                        "tied with direct within noise" if min(
                            len(b["throughput"]), len(d["throughput"])) >= ranking.MIN_REPS
                        else f"not ranked against direct (fewer than {ranking.MIN_REPS} "
                             f"repetitions)")
            parts.append(f"behind {b['strategy']} it answered {lessons.rps(b['rps'])} req/s "
                         f"({100 * b['rps'] / d['rps']:.0f}% of direct; {compared}) with p99 "
                         f"{lessons.us(b['p99'])}, and HAProxy spent {lessons.cpu_us(b['lb_cpu'])} of CPU "
                         f"per request beside the instances' {lessons.cpu_us(b['server_cpu'])}")
        sentences.append(f"{arch}, {d['instances']:.0f} instances: direct ({d['strategy']}) "
                         f"{lessons.rps(d['rps'])} req/s with p99 {lessons.us(d['p99'])} and "
                         f"{lessons.cpu_us(d['server_cpu'])} of the instances' CPU per request; "
                         + "; ".join(parts) + ".")
    if sentences:
        sentences.append("The balancer is one more process that reads and writes every byte "
                         "twice (client to HAProxy, HAProxy to instance): its CPU per request "
                         "is the price of the hop, paid on the servers' side.")
    return sentences


def _table(head: list[str], rows: list[list]) -> str:
    header = "".join(f"<th>{esc(cell)}</th>" for cell in head)
    body = "".join("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{header}</tr>{body}</table>"


def hop_table(rows: list[dict]) -> str:
    return _table(["architecture", "workload", "clients reach the instances", "connections",
                   "req/s", "p99", "instances' CPU/req", "HAProxy CPU/req", "HAProxy RSS"],
                  [[r["arch"], r["workload"], r["strategy"], r["connections"],
                    lessons.rps(r["rps"]), lessons.us(r["p99"]), lessons.cpu_us(r["server_cpu"]),
                    lessons.cpu_us(r["lb_cpu"]) if r["behind"] else "",
                    _mib(r["lb_rss"]) if r["behind"] else ""] for r in rows])


# --------------------------------------------------------------------------- failover

def failover_rows(run: Run, workloads: list[str], texts: dict) -> list[dict]:
    rows = []
    for w in workloads:
        for arch in run.architectures:
            for c in run.connections(w):
                points = run.points_at(w, arch, c)
                ok = [p for p in points if p.ok]
                if not points:
                    continue
                notes = [texts.get((p.arch, p.workload, str(p.connections), str(p.rep)), {})
                         for p in ok]
                never = sum(1 for n in notes if n.get("recovery_note"))
                unrevived = sum(1 for n in notes if n.get("revived_note"))
                rows.append({
                    "workload": w, "arch": arch, "connections": c,
                    "strategy": strategy(texts, points[0]), "reps": len(ok),
                    "failed": _median(ok, "failed_after_kill"),
                    "before": _median(ok, "rps_before_kill"),
                    "recovery": _median(ok, "recovery_s"), "never": never,
                    "revived": _median(ok, "revived_serving_s"), "unrevived": unrevived,
                    "kill": _median(ok, "kill_s"), "restart": _median(ok, "restart_s"),
                    "point": ok[0] if ok else None})
    # The chapter's order: hardwired, fallback, spread, then the balancer.
    order = ["hardwired", "fallback", "spread", "HAProxy"]
    return sorted(rows, key=lambda r: (next((i for i, name in enumerate(order)
                                             if r["strategy"].startswith(name)), len(order)),
                                       r["workload"]))


def _never(r: dict) -> bool:
    """Most of its repetitions never came back to 90 % within the window."""
    return bool(r["never"]) and r["never"] * 2 >= r["reps"]


def _recovery_text(r: dict) -> str:
    if _never(r):
        return "never, within the window"
    return _seconds(r["recovery"]) + (f" ({r['never']} of {r['reps']} never)" if r["never"]
                                      else "")


def _revived_text(r: dict) -> str:
    if math.isnan(r["restart"]):
        return "no restart"
    if r["unrevived"] and r["unrevived"] * 2 >= r["reps"]:
        return "no client came back to it"
    return _seconds(r["revived"])


def failover_table(rows: list[dict]) -> str:
    return _table(["strategy", "architecture", "req/s before the kill",
                   "requests failed from the kill on", "back to 90 % after the kill",
                   "revived instance serving after its restart"],
                  [[r["strategy"], r["arch"], lessons.rps(r["before"]), lessons.rps(r["failed"]),
                    _recovery_text(r), _revived_text(r)] for r in rows])


def failover_sentences(rows: list[dict]) -> list[str]:
    rows = [r for r in rows if r["reps"]]
    if not rows:
        return []
    kill, restart = rows[0]["kill"], rows[0]["restart"]
    head = (f"One instance (127.0.0.2, the one hardwired clients use and fallback clients try "
            f"first) was killed with SIGKILL {kill:.2f} s into the window"
            + (f" and started again {restart - kill:.2f} s later" if not math.isnan(restart)
               else "") + ".")
    sentences = [head]
    for arch in dict.fromkeys(r["arch"] for r in rows):
        parts = []
        for r in (r for r in rows if r["arch"] == arch):
            recovered = _recovery_text(r)
            parts.append(f"{r['strategy']}: {lessons.rps(r['failed'])} requests failed from "
                         f"the kill on, and throughput was "
                         + (f"back to 90 % of the {lessons.rps(r['before'])} req/s before it "
                            f"after {recovered}" if not recovered.startswith("never")
                            else f"never back to 90 % of the {lessons.rps(r['before'])} req/s "
                                 f"before it within the window")
                         + (f", the revived instance serving {_seconds(r['revived'])} after its "
                            f"restart" if not math.isnan(r["revived"]) else
                            ", and no client came back to the revived instance"
                            if r["unrevived"] else ""))
        sentences.append(f"With {arch}: " + "; ".join(parts) + ".")
    hardwired = [r for r in rows if r["strategy"].startswith("hardwired")]
    others = [r for r in rows if not r["strategy"].startswith("hardwired")]
    if hardwired and others:
        down = [r for r in hardwired if not math.isnan(r["recovery"])]
        survivors = [r for r in others if not _never(r)]
        argument = ("So a client that knows one address is down for as long as that machine "
                    "is" + (f": the hardwired clients were back only "
                            f"{min(r['recovery'] for r in down):.2f} s or more after the kill, "
                            f"once the instance was restarted" if down else
                            ": the hardwired clients never came back within the window"))
        if survivors:
            slowest = max(survivors, key=lambda r: r["recovery"])
            argument += ("; clients that know another address, or a balancer that does, "
                         + (f"recovered within {slowest['recovery']:.2f} s (the slowest: "
                            f"{slowest['strategy']} with {slowest['arch']})"
                            if slowest["recovery"] > 0 else
                            "showed no dip at the timeline's resolution"))
        stuck = [r for r in others if _never(r)]
        if stuck:
            argument += ("; but " + ", ".join(f"{r['strategy']} with {r['arch']}"
                                              for r in stuck)
                         + " never came back to 90 % of the rate before the kill within the "
                           "window (see its timeline: a busy machine lowers the rate after it, "
                           "too)")
        sentences.append(argument + ".")
    return sentences


def failover_chart(run: Run, rows: list[dict], path: Path) -> Path:
    """A column per strategy: answered (top) and failed (bottom) requests per second in each
    timeline slice, against the seconds since the kill, one colour per architecture."""
    import charts
    from matplotlib.figure import Figure
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    figure = Figure(figsize=(5.2 * len(workloads) + 2.0, 6.4), dpi=charts.DPI)
    grid = figure.subplots(2, len(workloads), squeeze=False, sharex="col")
    for column, w in enumerate(workloads):
        answered, failed = grid[0][column], grid[1][column]
        title = ""
        for r in (r for r in rows if r["workload"] == w and r["point"] is not None):
            point = r["point"]
            entries = lessons.timeline(run, point)
            kill = point.value("kill_s")
            if not entries or math.isnan(kill):
                continue
            title = r["strategy"]
            slice_s = (point.value("timeline_ms") or 100) / 1000
            xs = [e["t"] + slice_s / 2 - kill for e in entries]
            per_second = [e.get("duration_s") or slice_s for e in entries]
            lessons._line(answered, r["arch"], xs, [e["ok"] / d for e, d in
                                                    zip(entries, per_second)], markersize=3)
            lessons._line(failed, r["arch"], xs, [e["errors"] / d for e, d in
                                                  zip(entries, per_second)], markersize=3)
            restart = point.value("restart_s")
            for ax in (answered, failed):
                if not math.isnan(restart):
                    ax.axvline(restart - kill, color="#2a7a2a", linestyle=":", linewidth=1)
        for ax in (answered, failed):
            ax.axvline(0, color="#aa0000", linestyle="--", linewidth=1)
            ax.grid(True, alpha=0.3)
        answered.set(title=title or w, ylabel="answered requests/s")
        answered.title.set_fontsize(9)
        failed.set(xlabel="seconds since the kill (red); restart (green)",
                   ylabel="failed requests/s")
    return lessons._finish(figure, list(grid[0]), path,
                           "Failover: one instance killed, per 100 ms timeline slice")


# --------------------------------------------------------------------------- the section

def section_html(run: Run, draw: bool = True) -> str:
    """The report's Deployment section; "" for a run without deployment points."""
    steady, failover = deployment_workloads(run)
    if not steady and not failover:
        return ""
    texts = _texts(run)
    parts = ["<h2 id=\"deployment\">Deployment</h2><p>Several instances of an architecture, "
             "each an archbench-server on a loopback address of its own, reached directly or "
             "through HAProxy; and what the clients saw when one instance was killed "
             "(docs/deployment.md). Figures are medians over the repetitions; every sentence "
             "is computed from this run.</p>"]
    if steady:
        rows = sorted(hop_rows(run, steady, texts), key=lambda r: (r["arch"], r["behind"]))
        parts.append("<h3 id=\"deployment-hop\">Direct or behind HAProxy</h3>")
        parts.append(f"<p>{esc(' '.join(hop_sentences(rows)))}</p>")
        parts.append(hop_table(rows))
    if failover:
        rows = failover_rows(run, failover, texts)
        parts.append("<h3 id=\"deployment-failover\">Failover</h3>")
        if draw and any(r["point"] is not None for r in rows):
            chart = failover_chart(run, rows, run.path / "plots" / "deployment-failover.png")
            parts.append(f"<figure><img src=\"{esc(chart.relative_to(run.path).as_posix())}\" "
                         f"alt=\"Failover timelines per strategy\"></figure>")
        parts.append(f"<p>{esc(' '.join(failover_sentences(rows)))}</p>")
        parts.append(failover_table(rows))
        parts.append("<p class=\"small\">Failed: the timeline's errors from the kill's slice "
                     "on. Back to 90 %: from the kill to the first slice that answered 90 % of "
                     "the rate before it (at the timeline's resolution). Revived instance "
                     "serving: from its restart to its first client connection (direct) or "
                     "the first connection HAProxy forwarded to it.</p>")
    return "\n".join(parts)
