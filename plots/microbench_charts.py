#!/usr/bin/env python3
"""The microbenchmarks' charts, one per mechanism (matplotlib, headless): readiness cost
against the descriptors watched, worker start cost, the loopback floor, and our own hot paths.
The report draws them into RUN/plots/microbench-*.png from RUN/microbench/*.json. Without a
run folder, this draws them on their own:

    plots/microbench_charts.py DIR     (DIR/*.json -> DIR/plots/microbench-*.png, and the words)

`make microbench` does one or the other.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import charts  # noqa: E402  (sets the Agg backend)
from cli import usage_parser  # noqa: E402
import microbench  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator  # noqa: E402
from microbench import Microbench, fmt_ns  # noqa: E402
from run_data import arch_colour  # noqa: E402

# The wait calls in the colours of the architectures built on them.
READINESS_STYLE = {"select": (arch_colour("select"), "P", "-"),
                   "poll": (arch_colour("poll"), "X", "-"),
                   "epoll_wait": (arch_colour("epoll"), "o", "-"),
                   "epoll_ctl add + del": (arch_colour("epoll"), "s", "--")}
WORKER_COLOURS = {"fork + exit + wait": arch_colour("forked"),
                  "fork with 64 MiB touched": "#8b1a1a",
                  "thread create + join": arch_colour("threaded"),
                  "hand a descriptor to a pool thread": arch_colour("prethreaded")}
LOOPBACK_COLOURS = {"TCP loopback": "#555555", "Unix socketpair": "#999999"}
PROGRAM_COLOURS = {"protocol": "#2c7fb8", "loadgen": "#e6550d"}
SKIPPED_COLOUR = "#aa0000"


def _title(figure: Figure, bench: Microbench, what: str, subtitle: str | None) -> None:
    figure.suptitle(f"{what}\n{subtitle or bench.context_line()} · median of "
                    f"{_repetitions(bench)} repetitions", fontsize=11, y=0.995)


def _repetitions(bench: Microbench) -> int:
    return max((r.repetitions for results in bench.programs.values() for r in results),
               default=1)


def _log_if_spread(ax, values: list[float], ratio: float = 20.0, axis: str = "y") -> bool:
    values = [v for v in values if v > 0 and not math.isnan(v)]
    if values and max(values) / min(values) > ratio:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
        return True
    return False


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center",
            color=SKIPPED_COLOUR, fontsize=11)


def readiness_figure(bench: Microbench, subtitle: str | None = None) -> Figure:
    """ns per wait call against N descriptors, log-log; a skipped point is a gap, named at the
    foot of the chart; FD_SETSIZE as a dotted vertical line."""
    figure = Figure(figsize=(8.6, 5.0), dpi=charts.DPI)
    ax = figure.subplots()
    lines = microbench.readiness_lines(bench)
    counts = sorted({n for xs, _ in lines.values() for n in xs})
    for label, (xs, ys) in lines.items():
        colour, marker, style = READINESS_STYLE.get(label, ("#444444", "o", "-"))
        ax.plot(xs, ys, color=colour, marker=marker, linestyle=style, linewidth=1.8,
                markersize=6, label=label + (" (register, per connection)"
                                             if style == "--" else " (per wait)"), zorder=3)
    skipped = microbench.skipped(bench, microbench.READINESS_WAITS)
    for index, (label, result) in enumerate(skipped):
        n = result.args.get("idle", 0) + 1
        colour = READINESS_STYLE.get(label, ("#444444",))[0]
        ax.plot([n], [0.04 + 0.06 * index], transform=ax.get_xaxis_transform(),
                marker=charts.FAILED_MARKER, color=colour, markersize=9, linestyle="none",
                zorder=4)
        ax.annotate(f"{label}: not measured", (n, 0.04 + 0.06 * index),
                    xycoords=ax.get_xaxis_transform(), xytext=(-8, 0),
                    textcoords="offset points", ha="right", va="center", fontsize=8,
                    color=SKIPPED_COLOUR)
    if counts:
        ax.axvline(microbench.FD_SETSIZE, color="#888888", linestyle=":", linewidth=1.2)
        ax.annotate(f"FD_SETSIZE = {microbench.FD_SETSIZE}: select's limit",
                    (microbench.FD_SETSIZE, 0.5), xycoords=ax.get_xaxis_transform(),
                    xytext=(4, 0), textcoords="offset points", ha="left", va="center",
                    rotation=90, fontsize=8, color="#666666")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(counts))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlim(counts[0] / 1.5, max(counts[-1], microbench.FD_SETSIZE) * 1.4)
    if any(not math.isnan(y) for _, ys in lines.values() for y in ys):
        ax.set_yscale("log")
    else:
        _no_data(ax, "no readiness benchmark measured")
    ax.set_xlabel("descriptors watched, N (one ready, N - 1 idle; log scale)")
    ax.set_ylabel("time per call (ns, log scale)")
    ax.grid(True, which="major", alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    if skipped:
        handles.append(Line2D([], [], linestyle="none", marker=charts.FAILED_MARKER,
                              color="#444444", markersize=8, label="not measured: a gap"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9,
              frameon=False, borderaxespad=0)
    _title(figure, bench, "Readiness cost: one wait call with one ready descriptor among N",
           subtitle)
    return figure


def _bars(ax, rows: list[tuple[str, float]], colours: dict[str, str], unit_ns: float,
          unit: str, horizontal: bool = False) -> None:
    """Bars with their figures written on them; a log axis when they span more than 20x."""
    labels = [label for label, _ in rows]
    values = [ns / unit_ns for _, ns in rows]
    colour = [colours.get(label, "#777777") for label in labels]
    if horizontal:
        positions = list(range(len(rows)))[::-1]
        ax.barh(positions, values, color=colour, zorder=3)
        ax.set_yticks(positions, labels, fontsize=9)
        log = _log_if_spread(ax, values, axis="x")
        ax.set_xlabel(f"{unit}" + (" (log scale)" if log else ""))
        ax.grid(True, axis="x", which="major", alpha=0.3)
        for y, value, (_, ns) in zip(positions, values, rows):
            ax.annotate(fmt_ns(ns), (value, y), xytext=(4, 0), textcoords="offset points",
                        ha="left", va="center", fontsize=8)
        if values and not log:
            ax.set_xlim(0, max(values) * 1.2)
        elif values:
            ax.set_xlim(min(values) / 2, max(values) * 4)
        return
    ax.bar(labels, values, color=colour, zorder=3, width=0.6)
    ax.set_xticks(range(len(labels)), [label.replace(" ", "\n", 1) if len(label) > 16
                                       else label for label in labels], fontsize=9)
    log = _log_if_spread(ax, values)
    ax.set_ylabel(unit + (" (log scale)" if log else ""))
    ax.grid(True, axis="y", which="major", alpha=0.3)
    for x, value, (_, ns) in zip(range(len(rows)), values, rows):
        ax.annotate(fmt_ns(ns), (x, value), xytext=(0, 3), textcoords="offset points",
                    ha="center", va="bottom", fontsize=9)
    if values and not log:
        ax.set_ylim(0, max(values) * 1.15)
    elif values:
        ax.set_ylim(min(values) / 2, max(values) * 3)


def workers_figure(bench: Microbench, subtitle: str | None = None) -> Figure:
    figure = Figure(figsize=(8.6, 5.0), dpi=charts.DPI)
    ax = figure.subplots()
    rows = microbench.bars(bench, microbench.WORKERS)
    _bars(ax, rows, WORKER_COLOURS, 1e3, "real time per worker (µs)")
    if not rows:
        _no_data(ax, "no worker benchmark measured")
    _title(figure, bench, "Worker start cost: a process, a thread, or a pool thread per client",
           subtitle)
    return figure


def loopback_figure(bench: Microbench, subtitle: str | None = None) -> Figure:
    figure = Figure(figsize=(6.0, 4.6), dpi=charts.DPI)
    ax = figure.subplots()
    rows = microbench.bars(bench, microbench.LOOPBACK)
    _bars(ax, rows, LOOPBACK_COLOURS, 1e3, "real time per round trip (µs)")
    if not rows:
        _no_data(ax, "no loopback benchmark measured")
    _title(figure, bench, "The loopback floor: one small round trip", subtitle)
    return figure


def hotpaths_figure(bench: Microbench, subtitle: str | None = None) -> Figure:
    rows = microbench.hotpath_bars(bench)
    figure = Figure(figsize=(9.0, 1.6 + 0.32 * max(len(rows), 3)), dpi=charts.DPI)
    ax = figure.subplots()
    colours = {label: PROGRAM_COLOURS.get(program, "#777777") for program, label, _ in rows}
    _bars(ax, [(label, ns) for _, label, ns in rows], colours, 1.0,
          "ns per request (per call where marked)", horizontal=True)
    if not rows:
        _no_data(ax, "no protocol or loadgen benchmark measured")
    _title(figure, bench, "Our own hot paths: protocol module and load generator (CPU time)",
           subtitle)
    return figure


FIGURES = {"readiness": readiness_figure, "workers": workers_figure,
           "loopback": loopback_figure, "hotpaths": hotpaths_figure}


def draw(bench: Microbench, out: Path, subtitle: str | None = None,
         svg: bool = False) -> dict[str, list[Path]]:
    """Every chart that has data into out/microbench-<chart>.png (and .svg): chart -> files."""
    drawn = {}
    for chart in microbench.CHARTS:
        if bench.has_chart(chart):
            drawn[chart] = charts.save(FIGURES[chart](bench, subtitle), out,
                                       f"microbench-{chart}", svg=svg)
    return drawn


def main(argv: list[str] | None = None) -> int:
    parser = usage_parser("plots/microbench_charts.py",
                          "Draw DIR/plots/microbench-*.png from DIR/*.json.")
    parser.add_argument("folder", type=Path, help="a folder of Google Benchmark JSON files")
    parser.add_argument("--svg", action="store_true", help="write SVG too")
    args = parser.parse_args(argv)
    try:
        bench = microbench.load(args.folder)
    except microbench.MicrobenchError as error:
        parser.error(str(error))
    if bench is None:
        parser.error(f"{args.folder}: no Google Benchmark JSON (*.json) there")
    drawn = draw(bench, args.folder / "plots", svg=args.svg)
    for chart, files in drawn.items():
        print(f"{microbench.CHART_TITLES[chart]}: {files[0]}")
        for sentence in microbench.for_chart(chart, bench):
            print(f"  {sentence}")
    print(f"microbenchmark charts: {args.folder / 'plots'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
