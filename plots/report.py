#!/usr/bin/env python3
"""Draws a run's charts into RUN/plots/ and writes RUN/report.html, which works offline: the
charts, a summary table, what to look for under each chart and what this run shows (computed
from the data), the failed points, and the machine and experiment. When RUN/microbench/ holds
`make microbench` results, the report also explains why: a chart per mechanism, and the TCP
loopback round trip as the floor on the latency charts.

    plots/report.py RUN [--spectrum-at 1,64,1024] [--svg]

`make bench` runs it on the new run; `make plots RUN=results/<id>` redraws.
"""
from __future__ import annotations

import html
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import charts  # noqa: E402
import chooser  # noqa: E402
import crosscheck_section  # noqa: E402
import families  # noqa: E402
import languages  # noqa: E402
import lessons  # noqa: E402
import deployment_report  # noqa: E402
from cli import usage_parser  # noqa: E402
import microbench  # noqa: E402
import microbench_charts  # noqa: E402
import run_data  # noqa: E402
import sentinel  # noqa: E402  (harness/, on the path that run_data set)
import summary  # noqa: E402
import syscalls  # noqa: E402
import workers  # noqa: E402
from microbench import Microbench  # noqa: E402
from run_data import Run  # noqa: E402

CHART_TITLES = {
    "throughput": "Throughput",
    "latency": "Latency (p50 and p99)",
    "spectrum": "Latency by percentile",
    "cpu": "CPU and context switches per request",
    "memory": "Memory",
    "errors": "Errors and timeouts",
    "workers": "Connections per worker",
    "syscalls": "System calls and run-queue wait per request",
}
# Charts also written as SVG with --svg (or always: these are the ones put on slides).
SVG_ALWAYS = {"throughput", "latency"}
# Charts of several panels: their family charts take a row each.
WIDE_CHARTS = {"latency", "spectrum", "cpu", "errors"}


@dataclass
class Chart:
    kind: str
    workload: str   # "" for the microbenchmarks' charts
    png: Path       # relative to the run folder
    svg: Path | None
    look_for: str
    shows: list[str]
    family: str = ""  # a family's small multiple; "" for the overview (each family's best)
    members: list[str] | None = None  # a family chart's architectures


def draw_charts(run: Run, spectrum_at: list[int] | None = None, svg: bool = False,
                out: Path | None = None, bench: Microbench | None = None) -> list[Chart]:
    """Every chart of every workload into out (default RUN/plots/), then the microbenchmarks'
    charts when bench (RUN/microbench/) is given; returns them in order."""
    out = out or run.path / "plots"
    floor_us = bench.tcp_round_trip_us() if bench else math.nan
    out.mkdir(parents=True, exist_ok=True)
    for old in list(out.glob("*.png")) + list(out.glob("*.svg")):
        old.unlink()  # a redraw leaves no chart of a workload that is gone
    layers = [charts.Layer(run)]
    drawn = []
    for workload in run.workloads:
        counts = charts.spectrum_counts(run.connections(workload), spectrum_at)
        figures = {
            "throughput": lambda: charts.throughput_figure(layers, workload),
            "latency": lambda: charts.latency_figure(
                layers, workload, None if math.isnan(floor_us) else floor_us),
            "spectrum": lambda: charts.spectrum_figure(layers, workload, counts),
            "cpu": lambda: charts.cpu_figure(layers, workload),
            "memory": lambda: charts.memory_figure(layers, workload),
            "errors": lambda: charts.errors_figure(layers, workload),
        }
        for kind, make in figures.items():
            stem = f"{run_data.safe_name(workload)}-{kind}"
            # The overview: one line per family, its best member (charts.overview_layers).
            layers[:] = charts.overview_layers([charts.Layer(run)], workload, kind)
            files = charts.save(make(), out, stem, svg=svg or kind in SVG_ALWAYS)
            drawn.append(Chart(
                kind=kind, workload=workload, png=files[0].relative_to(run.path),
                svg=files[1].relative_to(run.path) if len(files) > 1 else None,
                look_for=summary.LOOK_FOR[kind],
                shows=summary.for_chart(kind, run, workload, counts, floor_us)))
            drawn += draw_family_charts(run, out, workload, kind, layers, make, svg)
        layers[:] = [charts.Layer(run)]
        if workers.has_data(run, workload):  # pooled architectures reported their workers
            files = charts.save(workers.workers_figure(run, workload), out,
                                f"{run_data.safe_name(workload)}-workers", svg=svg)
            drawn.append(Chart(
                kind="workers", workload=workload, png=files[0].relative_to(run.path),
                svg=files[1].relative_to(run.path) if len(files) > 1 else None,
                look_for=workers.LOOK_FOR, shows=workers.sentences(run, workload)))
        if syscalls.has_data(run, workload):  # perf counted the server's system calls
            files = charts.save(syscalls.syscalls_figure(run, workload), out,
                                f"{run_data.safe_name(workload)}-syscalls", svg=svg)
            drawn.append(Chart(
                kind="syscalls", workload=workload, png=files[0].relative_to(run.path),
                svg=files[1].relative_to(run.path) if len(files) > 1 else None,
                look_for=syscalls.LOOK_FOR,
                shows=syscalls.sentences(run, workload) + syscalls.counting_cost(run)))
    if bench:
        lowest = summary.lowest_p50(run)
        for chart, files in microbench_charts.draw(bench, out, svg=svg).items():
            drawn.append(Chart(
                kind=chart, workload="", png=files[0].relative_to(run.path),
                svg=files[1].relative_to(run.path) if len(files) > 1 else None,
                look_for=microbench.LOOK_FOR[chart],
                shows=microbench.for_chart(chart, bench, lowest)))
    return drawn


def draw_family_charts(run: Run, out: Path, workload: str, kind: str, layers: list,
                       make, svg: bool) -> list[Chart]:
    """The small multiples of one chart kind: one chart per family with all of its members,
    plots/<workload>-<kind>-<family>.png; `make` draws the figure from `layers`, which are
    swapped in place for each family."""
    drawn = []
    for family, members in run.families.items():
        layers[:] = charts.family_layers([charts.Layer(run)], family)
        stem = f"{run_data.safe_name(workload)}-{kind}-{families.slug(family)}"
        files = charts.save(make(), out, stem, svg=svg)
        drawn.append(Chart(kind=kind, workload=workload, png=files[0].relative_to(run.path),
                           svg=files[1].relative_to(run.path) if len(files) > 1 else None,
                           look_for="", shows=[], family=family, members=members))
    return drawn


def load_microbench(run: Run) -> tuple[Microbench | None, str]:
    """RUN/microbench/ as `make microbench` wrote it, or None; and what is wrong with it, if
    anything (the report is written all the same)."""
    try:
        return microbench.load(run.path / "microbench"), ""
    except microbench.MicrobenchError as error:
        return None, f"The microbenchmarks are left out: {error}"


# --------------------------------------------------------------------------- HTML

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 1320px; padding: 1em 2em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 2px solid #ddd; }
h3 { margin-top: 1.6em; }
.sub { color: #555; margin-top: 0; }
.warn { background: #fff4e5; border-left: 4px solid #e69500; padding: 0.5em 1em; }
figure { margin: 1em 0 2em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { max-width: 60em; }
figcaption .look { color: #555; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0 1em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; vertical-align: top; }
th { background: #f4f4f4; } td.name, th.name { text-align: left; }
td.best { font-weight: bold; background: #eef8ee; } td.tied { background: #f3f8f3; }
dl.reading dt { font-weight: bold; margin-top: 0.4em; } dl.reading dd { margin-left: 1.5em; }
td.failed { color: #b00; background: #fbeaea; text-align: center; }
.small { font-size: 0.8em; color: #666; } .err { color: #b35c00; font-size: 0.8em; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.4em;
          border-radius: 2px; vertical-align: baseline; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.meta dt { font-weight: bold; } dl.meta dd { margin: 0; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
nav a { margin-right: 1em; }
"""


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def arch_cell(arch: str) -> str:
    return (f'<td class="name"><span class="swatch" style="background:'
            f'{run_data.arch_colour(arch)}"></span>{esc(arch)}</td>')


def summary_table(run: Run, workload: str) -> str:
    """Median throughput (and p99 under it) per architecture and connection count. The best of
    a column is bold only where its repetitions separate it from every other (ranking.py);
    where they do not, every architecture tied with it is shaded as tied. Failed points are
    red with their reason; failed or timed-out requests are counted in the cell, and such a
    point is never bold."""
    counts = run.connections(workload)
    best = {c: summary.winner(run, workload, c) for c in counts}
    rows = ["<table class=\"sortable\"><tr><th class=\"name\">architecture</th>"
            "<th class=\"name\">family</th>" +
            "".join(f"<th>{c} conn.</th>" for c in counts) + "</tr>"]
    for arch in run.architectures:
        throughput = run_data.series(run, workload, arch, "throughput_rps", counts)
        p99 = run_data.series(run, workload, arch, "p99_us", counts)
        cells = []
        for i, count in enumerate(counts):
            points = run.points_at(workload, arch, count)
            if not points:
                cells.append('<td class="small">not run</td>')
                continue
            if count in throughput.failed:
                reasons = "; ".join(sorted({p.reason for p in points if p.reason}))
                cells.append(f'<td class="failed" title="{esc(reasons)}">failed</td>')
                continue
            text = f"{throughput.median[i]:,.0f}"
            failure = run_data.failure_text(run, workload, arch, count)
            if not math.isnan(p99.median[i]):
                text += (f'<br><span class="small">p99 {esc(summary.fmt_us(p99.median[i]))}'
                         + (" of answered requests" if failure else "") + "</span>")
            if failure:
                text += f'<br><span class="err">⚠ {esc(failure)}</span>'
            if count in throughput.partial:
                text += '<br><span class="err">some reps failed</span>'
            disturbed = sum(1 for p in points if p.disturbed)
            if disturbed:
                text += f'<br><span class="err">{disturbed} rep(s) disturbed</span>'
            css = ""
            if arch in best[count]:
                css = ' class="best"' if len(best[count]) == 1 else ' class="tied"'
            cells.append(f"<td{css}>{text}</td>")
        rows.append(f"<tr{chooser.row_attributes(arch)}>{arch_cell(arch)}"
                    f"{chooser.family_cell(arch)}{''.join(cells)}</tr>")
    rows.append("</table>")
    return "\n".join(rows)


READING = [
    ("A repetition", "each point (architecture, workload, connections) is measured several "
     "times, with a fresh server each time, in interleaved rounds: round 1 measures every point "
     "once in a shuffled order, then round 2, and so on (the order and its seed are in "
     "meta.json). A slow drift of the machine thus falls on every architecture alike."),
    ("The band", "every line is the median of the repetitions; the shaded band around it runs "
     "from the lowest to the highest repetition. A wide band is a noisy point."),
    ("Tied within noise", "an architecture is called faster, lower or cheaper than another only "
     "where the repetitions separate them: " + run_data.ranking.RULE + " Where several "
     "architectures are tied with the best, the words name them all and the summary table "
     "shades them all; a bold cell is a best that the data separates from every other."),
    ("Disturbed", "before and after each point a fixed piece of CPU work is timed on the "
     "server's and the load generator's cores (machine_slowdown: its time over the run's "
     "calibrated time), and /proc/stat tells how much CPU other processes used on those cores "
     "during the window (foreign_cpu_share). A point with a slowdown above "
     f"{sentinel.SLOWDOWN_LIMIT} or a foreign share above {sentinel.FOREIGN_LIMIT:.0%} is "
     "disturbed: it is measured again, at most twice, and marked in points.csv and in the "
     "summary table if it stays disturbed."),
    ("Failed requests", "a point where requests failed or timed out is never ranked: its cell "
     "counts them (\"63 of 64 clients starved: 63 timeouts\"), and its percentiles are of "
     "the answered requests only, which leaves the starved clients out."),
]


def reading_html() -> str:
    items = "".join(f"<dt>{esc(term)}</dt><dd>{esc(text)}</dd>" for term, text in READING)
    return (f"<h2 id=\"reading\">How to read the figures</h2><dl class=\"reading\">{items}"
            f"</dl>")


def disturbed_note(run: Run) -> str:
    """How many points the noise sentinel found disturbed, and which: never hidden."""
    if not run.meta.get("sentinel"):
        return "No noise sentinel in this run (older harness, or --no-sentinel)."
    disturbed = run_data.disturbed(run)
    retried = sum(int(p.values.get("retries", 0)) for p in run.points
                  if not math.isnan(p.values.get("retries", math.nan)))
    text = (f"Noise sentinel: {retried} re-measurement(s) of disturbed points; "
            f"{len(disturbed)} of {len(run.points)} points stayed disturbed")
    if disturbed:
        text += ": " + summary.listing([f"{p.arch} {p.workload} at {p.connections} (rep {p.rep})"
                                        for p in disturbed])
    return text + "."


def failures_table(run: Run) -> str:
    failed = run_data.failures(run)
    if not failed:
        return "<p>No point failed.</p>"
    rows = ["<table class=\"sortable\"><tr><th class=\"name\">workload</th>"
            "<th class=\"name\">architecture</th>"
            "<th>connections</th><th>rep</th><th class=\"name\">reason</th></tr>"]
    for p in failed:
        rows.append(f"<tr{chooser.row_attributes(p.arch)}><td class=\"name\">{esc(p.workload)}"
                    f"</td>{arch_cell(p.arch)}"
                    f"<td>{p.connections}</td><td>{p.rep}</td>"
                    f"<td class=\"name\">{esc(p.reason or 'no reason recorded')}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def metadata(run: Run) -> str:
    meta = run.meta
    if not meta:
        return '<p class="warn">meta.json is missing or unreadable: machine and experiment ' \
               'unknown.</p>'
    machine, build, git = meta.get("machine", {}), meta.get("build", {}), meta.get("git", {})
    experiment = meta.get("experiment", {})
    memory = machine.get("memory_kb")
    items = [
        ("CPU", machine.get("cpu_model")),
        ("cores", f"{machine.get('cores', '?')} (allowed: {machine.get('cpus_allowed', '?')})"),
        ("memory", f"{memory / 1048576:.1f} GiB" if memory else None),
        ("kernel / OS", f"{machine.get('kernel', '?')} / {machine.get('os', '?')}"),
        ("host", machine.get("hostname")),
        ("compiler", f"{build.get('compiler_version') or build.get('compiler', '?')}"),
        ("build", f"{build.get('build_type', '?')} {build.get('cxx_flags', '')}"),
        ("git revision", f"{git.get('revision', '?')}" + (" (uncommitted changes)"
                                                          if git.get("dirty") else "")),
        ("experiment", f"{experiment.get('name', '?')}: {experiment.get('description', '')}"),
        ("points", f"{len(run.points)} measured" + (f" of {meta['points_planned']} planned"
                                                     if meta.get("points_planned") else "")),
        ("duration per point", f"{experiment.get('duration_s', '?')} s measured after "
                               f"{experiment.get('warmup_s', '?')} s of warm-up, "
                               f"{experiment.get('repetitions', '?')} repetition(s)"),
        ("placement", json.dumps(meta.get("placement"))),
        ("started / ended", f"{meta.get('start_time', '?')} / {meta.get('end_time') or '?'}"),
    ]
    for workload in run.workloads:
        items.append((f"workload {workload}", run.workload_description(workload) or "?"))
    text = ['<dl class="meta">']
    for key, value in items:
        if value not in (None, ""):
            text.append(f"<dt>{esc(key)}</dt><dd>{esc(value)}</dd>")
    text.append("</dl>")
    text.append("<details><summary>meta.json as recorded</summary><pre>"
                f"{esc(json.dumps(meta, indent=2))}</pre></details>")
    return "\n".join(text)


def warnings(run: Run) -> list[str]:
    meta = run.meta
    notes = []
    if meta.get("interrupted"):
        notes.append("This run was interrupted: only the points measured before it are shown.")
    elif meta.get("points_planned") and len(run.points) < meta["points_planned"]:
        notes.append(f"Only {len(run.points)} of {meta['points_planned']} planned points are "
                     f"in points.csv (still running, or stopped).")
    if meta.get("quick"):
        notes.append("A quick run (make bench QUICK=1): short points, few connection counts.")
    notes += [str(n) for n in meta.get("notes", []) if n]
    failed = len(run_data.failures(run))
    if failed:
        notes.append(f"{failed} of {len(run.points)} points failed; they are gaps in the lines, "
                     f"crosses in the red strips under the charts, and listed below.")
    if run.points and failed == len(run.points):
        notes.append("Every point failed: there is nothing to draw but the failures.")
    return notes


def families_html(run: Run) -> str:
    """How the charts are grouped (the families and their members, coloured as in the charts),
    and the chooser that filters them."""
    groups = run.families
    items = "".join(
        f"<li><b>{esc(family)}</b>: " + ", ".join(
            f'<span class="swatch" style="background:{run_data.arch_colour(a)}"></span>{esc(a)}'
            for a in members) + "</li>" for family, members in groups.items())
    return ("<h2 id=\"families\">Families</h2><p>Every architecture belongs to one family "
            "(declared in the registry). Colour follows the family: one hue per family, a "
            "shade and a marker per member, the same in every chart. Each chart comes twice: an "
            "<b>overview</b> with one line per family, its best member on that chart's measure "
            "(the member the repetitions rank best at the most connection counts; members "
            "they cannot separate from it are named in its legend as tied), and <b>one small "
            "chart per family</b> with all of its members, under it.</p>"
            f"<ul>{items}</ul>" + chooser.chooser_html(groups, run_data.arch_colour))


def family_multiples(drawn: list[Chart], overview: Chart) -> str:
    entries = [(c.family, c.members or [], c.png.as_posix(),
                f"{CHART_TITLES[c.kind]}, workload {c.workload}, family {c.family}")
               for c in drawn if c.family and c.kind == overview.kind
               and c.workload == overview.workload]
    if not entries:
        return ""
    return chooser.multiples_html(entries, wide=overview.kind in WIDE_CHARTS)


def figure_html(chart: Chart, anchor: str, title: str, alt: str) -> str:
    links = f' <a class="small" href="{esc(chart.svg.as_posix())}">SVG</a>' if chart.svg else ""
    return (f"<figure id=\"{esc(anchor)}\"><h3>{esc(title)}{links}</h3>"
            f"<img src=\"{esc(chart.png.as_posix())}\" alt=\"{esc(alt)}\">"
            f"<figcaption><p class=\"look\"><b>What to look for.</b> {esc(chart.look_for)}</p>"
            f"<p><b>This run.</b> {esc(' '.join(chart.shows))}</p></figcaption></figure>")


def mechanisms_html(bench: Microbench, drawn: list[Chart]) -> str:
    """The "Why" section: one chart per mechanism, from RUN/microbench/."""
    library = bench.context.get("library_build_type")
    parts = ["<h2 id=\"mechanisms\">Why: the mechanisms</h2>",
             f"<p>The charts above show what happens; the microbenchmarks in "
             f"<code>microbench/</code> (<code>make microbench</code>, Google Benchmark) show "
             f"why. Each figure is the median of its repetitions: CPU time per call, or real "
             f"time where a benchmark waits for another process or thread. Measured on "
             f"{esc(bench.context_line())}; results in <code>microbench/</code> of this run."
             + (" Google Benchmark's library was built in debug mode (as Debian ships it), "
                "which it warns may affect timings." if library == "debug" else "") + "</p>"]
    for chart in (c for c in drawn if not c.workload):
        title = microbench.CHART_TITLES[chart.kind]
        parts.append(figure_html(chart, f"mechanisms-{chart.kind}", title, title))
    return "\n".join(parts)


def render_html(run: Run, drawn: list[Chart], bench: Microbench | None = None,
                notes: list[str] | None = None, lessons_html: str = "") -> str:
    title = f"archbench run {run.name}"
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>{esc(title)}</title><style>{STYLE}{chooser.CSS}</style></head><body>",
             f"<h1>{esc(title)}</h1>",
             f"<p class=\"sub\">{esc(run.machine_line())} · "
             f"{len(run.architectures)} architectures · {len(run.workloads)} workloads · "
             f"{len(run.points)} points · generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}</p>"]
    parts += [f'<p class="warn">{esc(note)}</p>' for note in warnings(run) + (notes or [])
              if note]
    if not run.points:
        parts.append("<p class=\"warn\">points.csv has no points yet.</p>")
    nav = " ".join(f'<a href="#{esc(run_data.safe_name(w))}">{esc(w)}</a>' for w in run.workloads)
    why = ' <a href="#mechanisms">why: the mechanisms</a>' if bench else ""
    if 'id="crosscheck"' in lessons_html:
        why += ' <a href="#crosscheck">archbench-load against wrk</a>'
    parts.append(f"<nav>Workloads: {nav}{why} <a href=\"#failures\">failed points</a> "
                 f"<a href=\"#machine\">machine and experiment</a></nav>")
    parts.append(families_html(run))

    parts.append(lessons_html)
    parts.append(languages.section_html(run))
    parts.append(f'<p class="warn">{esc(disturbed_note(run))}</p>')
    parts.append("<h2 id=\"summary\">Summary</h2><p>Median throughput in requests per second "
                 "(p99 latency under it) for each architecture and connection count; the best "
                 "of each column in bold where the repetitions separate it from every other, "
                 "the architectures tied within noise with the best shaded where they do not "
                 "(see <a href=\"#reading\">how to read the figures</a>). Hover over a failed "
                 "cell for its reason.</p>")
    parts.append(lessons.slo_summary_html(run))
    for workload in run.workloads:
        description = run.workload_description(workload)
        parts.append(f"<h3>{esc(workload)}" + (f" <span class=\"small\">({esc(description)})"
                                                 f"</span>" if description else "") + "</h3>")
        parts.append(summary_table(run, workload))

    for workload in run.workloads:
        anchor = run_data.safe_name(workload)
        description = run.workload_description(workload)
        parts.append(f"<h2 id=\"{esc(anchor)}\">Workload {esc(workload)}</h2>"
                     + (f"<p class=\"sub\">{esc(description)}</p>" if description else ""))
        for chart in (c for c in drawn if c.workload == workload and not c.family):
            parts.append(figure_html(chart, f"{anchor}-{chart.kind}",
                                     f"{CHART_TITLES[chart.kind]} — {workload}",
                                     f"{CHART_TITLES[chart.kind]}, workload {workload}"))
            parts.append(family_multiples(drawn, chart))

    if bench:
        parts.append(mechanisms_html(bench, drawn))
    parts.append(reading_html())
    parts.append("<h2 id=\"failures\">Failed points</h2>")
    parts.append(failures_table(run))
    parts.append("<h2 id=\"machine\">Machine and experiment</h2>")
    parts.append(metadata(run))
    parts.append(chooser.SCRIPT)
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(run: Run, spectrum_at: list[int] | None = None, svg: bool = False) -> Path:
    bench, problem = load_microbench(run)
    drawn = draw_charts(run, spectrum_at, svg, bench=bench)
    path = run.path / "report.html"
    tmp = path.with_suffix(".html.tmp")
    lessons_html = lessons.section_html(lessons.find_lessons(run)) + \
        deployment_report.section_html(run) + crosscheck_section.section_html(run)
    tmp.write_text(render_html(run, drawn, bench, [problem], lessons_html), encoding="utf-8")
    tmp.replace(path)
    return path


def parse_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--spectrum-at takes comma-separated connection counts, not '{text}'") \
            from None
    if not counts or any(c < 1 for c in counts):
        raise ValueError(f"--spectrum-at takes positive connection counts, not '{text}'")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = usage_parser("plots/report.py", "Draw RUN/plots/*.png and write RUN/report.html.")
    parser.add_argument("run", type=Path, help="a run folder, e.g. results/latest")
    parser.add_argument("--spectrum-at", metavar="N,N", default=None,
                        help="connection counts for the percentile spectra (default: the "
                             "lowest, a middle one and the highest)")
    parser.add_argument("--svg", action="store_true", help="write every chart as SVG too "
                        "(throughput and latency always are)")
    args = parser.parse_args(argv)
    try:
        spectrum_at = parse_counts(args.spectrum_at) if args.spectrum_at else None
        run = run_data.load_run(args.run)
    except (ValueError, run_data.RunError) as error:
        parser.error(str(error))
    path = write_report(run, spectrum_at, args.svg)
    failed = len(run_data.failures(run))
    print(f"report: {path}" + (f"  ({failed} of {len(run.points)} points failed; see the report)"
                               if failed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
