"""The charts, drawn with matplotlib (Debian's python3-matplotlib, headless).

Every chart draws one or more layers on the same axes: the report draws one run (solid lines),
the comparison two (A dashed, B solid). An architecture has the same colour and marker in every
chart (run_data.arch_colour). A line is the median over repetitions, the band around it their
min-max spread; a point that failed has no figures (NaN), so its line has a gap there and a
cross marks it in a row along the bottom of the chart. Legends sit outside the axes, so they
never cover data.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator  # noqa: E402

import families  # noqa: E402
import run_data  # noqa: E402
from run_data import Run, arch_colour, arch_marker  # noqa: E402

DPI = 100
PANEL_SIZE = (6.0, 4.6)       # inches per panel, legend extra
COMPACT_PANEL_SIZE = (4.8, 3.6)  # a family's small multiple
FAILED_MARKER = "X"
PARTIAL_MARKER = "x"
# 1/(1 - percentile) and its label, HdrHistogram's percentile axis.
PERCENTILE_TICKS = [(2, "50%"), (10, "90%"), (100, "99%"), (1000, "99.9%"),
                    (10000, "99.99%"), (100000, "99.999%")]


@dataclass
class Layer:
    """One run on the axes: its lines' style, and a label for the legend ('' for one run).
    `only`, when given, draws just those architectures (one family's members, or each family's
    best in an overview), `names` gives their legend text, `scope` what the chart holds."""
    run: Run
    linestyle: str = "-"
    label: str = ""
    only: list[str] | None = None
    names: dict[str, str] = field(default_factory=dict)
    scope: str = ""
    compact: bool = False  # a small multiple: smaller panels, a one-line title


def _architectures(layers: list[Layer]) -> list[str]:
    """The architectures drawn, in the run's order, or in `only`'s order when given."""
    names: list[str] = []
    for layer in layers:
        present = layer.run.architectures
        wanted = present if layer.only is None else [a for a in layer.only if a in present]
        names += [a for a in wanted if a not in names and a not in run_data.REFERENCE_LINES]
    return names


# The metric that picks a family's best member for an overview, per chart kind: (column,
# higher is better). The errors chart shows the members that serve the most.
OVERVIEW_METRIC = {"throughput": ("throughput_rps", True), "latency": ("p99_us", False),
                   "spectrum": ("p99_us", False), "cpu": ("server_cpu_us_per_req", False),
                   "memory": ("server_rss_kb", False), "errors": ("throughput_rps", True)}
MAX_TIED_NAMED = 4


def tied_text(tied: list[str]) -> str:
    if not tied:
        return ""
    named = tied[:MAX_TIED_NAMED] + ([f"{len(tied) - MAX_TIED_NAMED} more"]
                                     if len(tied) > MAX_TIED_NAMED else [])
    return "tied: " + (", ".join(named[:-1]) + " and " + named[-1] if len(named) > 1
                       else named[0])


def overview_layers(layers: list[Layer], workload: str, kind: str) -> list[Layer]:
    """The layers of an overview: per family, its best member by the chart's metric and the
    ranking rules (families.best_member), named in the legend with the members tied with it.
    The members are picked in the last layer's run (B of a comparison) and drawn in every
    layer, so that A and B show the same member."""
    metric, higher = OVERVIEW_METRIC[kind]
    chooser = layers[-1].run
    only, names = [], {}
    for family, members in chooser.families.items():
        best, tied = families.best_member(chooser, workload, members, metric, higher)
        if best is None:
            continue
        only.append(best)
        names[best] = f"{family}: {best}" + (f"\n  ({tied_text(tied)})" if tied else "")
    return [Layer(layer.run, layer.linestyle, layer.label, only=only, names=names,
                  scope="each family's best") for layer in layers]


def family_layers(layers: list[Layer], family: str) -> list[Layer]:
    """The layers of one family's chart: all of its members in either run."""
    members = [a for layer in layers for a in layer.run.families.get(family, [])]
    return [Layer(layer.run, layer.linestyle, layer.label, only=members,
                  scope=f"family: {family}", compact=True) for layer in layers]


def _connections(layers: list[Layer], workload: str) -> list[int]:
    return sorted({c for layer in layers for c in layer.run.connections(workload)})


def failure_rows(layers: list[Layer], workload: str) -> list[tuple[Layer, str, list, list]]:
    """(layer, arch, connection counts where every repetition failed, where some did), for each
    architecture with any failure. Failure is a point's status, the same for every metric."""
    rows = []
    for layer in layers:
        for arch in _architectures([layer]):
            line = run_data.series(layer.run, workload, arch, "throughput_rps")
            if line.failed or line.partial:
                rows.append((layer, arch, line.failed, line.partial))
    return rows


def _new_figure(panels: int, strip_rows: int = 0, compact: bool = False
                ) -> tuple[Figure, list, list]:
    """A row of `panels` axes; with strip_rows, a thin strip under each for the failed points,
    one row per architecture that has any, so that a failure never sits on a line's data."""
    size = COMPACT_PANEL_SIZE if compact else PANEL_SIZE
    width = size[0] * panels + 2.2
    if not strip_rows:
        figure = Figure(figsize=(width, size[1]), dpi=DPI)
        axes = list(figure.subplots(1, panels, squeeze=False)[0])
        return figure, axes, [None] * panels
    strip_height = 0.25 + 0.2 * strip_rows
    figure = Figure(figsize=(width, size[1] + strip_height), dpi=DPI)
    grid = figure.subplots(2, panels, squeeze=False, sharex="col",
                           gridspec_kw={"height_ratios": [size[1] - 0.6, strip_height],
                                        "wspace": 0.45 if compact else 0.2,
                                        "hspace": 0.06})
    return figure, list(grid[0]), list(grid[1])


def _title(figure: Figure, layers: list[Layer], workload: str, what: str) -> None:
    first = layers[0].run
    description = first.workload_description(workload)
    heading = f"{what} — workload '{workload}'" + (f" ({description})" if description else "")
    if layers[0].scope:
        heading = f"{what} — {layers[0].scope} — workload '{workload}'"
    if layers[0].compact:
        figure.suptitle(f"{layers[0].scope} — {what.split(' against')[0].lower()} — "
                        f"'{workload}'", fontsize=10, y=0.995)
        return
    if len(layers) == 1:
        machine = f"{first.machine_line()} · run {first.name}"
    else:
        machine = "  vs  ".join(
            f"{layer.label}: {layer.run.name} ({layer.run.machine_line()}, "
            f"{'dashed' if layer.linestyle != '-' else 'solid'})" for layer in layers)
    figure.suptitle(f"{heading}\n{machine}", fontsize=11, y=0.995)


def _connections_axis(ax, connections: list[int]) -> None:
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(connections))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    if connections:
        low, high = min(connections), max(connections)
        ax.set_xlim(low / 1.35, high * 1.35)
    ax.set_xlabel("connections (log scale)")
    ax.grid(True, which="major", alpha=0.3)


def draw_failures(strip, rows: list, connections: list[int]) -> None:
    """The strip under a chart: a cross where every repetition of a point failed, a small one
    where some did; one row per architecture (and run), named in its colour."""
    for index, (layer, arch, failed, partial) in enumerate(rows):
        colour = arch_colour(arch)
        for marker, where, size in ((FAILED_MARKER, failed, 10), (PARTIAL_MARKER, partial, 7)):
            if where:
                strip.plot(where, [index] * len(where), linestyle="none", marker=marker,
                           markersize=size, color=colour, markeredgecolor=colour,
                           markerfacecolor="white" if layer.linestyle != "-" and
                           marker == FAILED_MARKER else colour, markeredgewidth=1.2)
    strip.set_ylim(len(rows) - 0.4, -0.6)
    strip.yaxis.set_major_locator(FixedLocator(list(range(len(rows)))))
    strip.set_yticklabels([arch + (f" ({layer.label})" if layer.label else "")
                           for layer, arch, _, _ in rows], fontsize=8)
    for label, (_, arch, _, _) in zip(strip.get_yticklabels(), rows):
        label.set_color(arch_colour(arch))
    strip.set_ylabel("failed", rotation=0, ha="right", va="center", fontsize=9,
                     color="#aa0000")
    strip.set_facecolor("#fbf3f3")
    _connections_axis(strip, connections)


def draw_metric(ax, layers: list[Layer], workload: str, metric: str, scale: float = 1.0,
                band: bool = True, mark_saturated: bool = False, strip=None) -> dict:
    """One line per architecture and layer: the median over repetitions, a min-max band, a gap
    where a point failed (and a cross in the strip under the chart). Returns what the legend
    needs to explain."""
    connections = _connections(layers, workload)
    notes = {"failed": False, "partial": False, "saturated": False, "band": False}
    for layer in layers:
        for arch in _architectures([layer]):
            line = run_data.series(layer.run, workload, arch, metric, connections)
            y = [v * scale for v in line.median]
            if all(math.isnan(v) for v in y):
                continue
            colour = arch_colour(arch)
            ax.plot(connections, y, color=colour, linestyle=layer.linestyle,
                    marker=arch_marker(arch), markersize=5, linewidth=1.6,
                    markerfacecolor=colour if layer.linestyle == "-" else "white",
                    label=arch, zorder=3)
            if band and max(line.counts, default=0) > 1:
                ax.fill_between(connections, [v * scale for v in line.low],
                                [v * scale for v in line.high], color=colour, alpha=0.15,
                                linewidth=0, zorder=2)
                notes["band"] = True
            if mark_saturated and line.saturated:
                ax.plot(line.saturated, [line.at(c) * scale for c in line.saturated],
                        linestyle="none", marker="o", markersize=13, markerfacecolor="none",
                        markeredgecolor="#888888", markeredgewidth=1.2, zorder=4)
                notes["saturated"] = True
    notes["reference"] = draw_reference(ax, layers, workload, metric, connections, scale)
    _connections_axis(ax, connections)
    if strip is not None:
        rows = failure_rows(layers, workload)
        draw_failures(strip, rows, connections)
        ax.set_xlabel("")
        notes["failed"] = any(failed for _, _, failed, _ in rows)
        notes["partial"] = any(partial for _, _, _, partial in rows)
    return notes


REFERENCE_STYLE = {"color": "#222222", "linestyle": (0, (2, 2)), "linewidth": 1.8, "marker": "*",
                   "markersize": 8}


def draw_reference(ax, layers: list[Layer], workload: str, metric: str, connections: list[int],
                   scale: float = 1.0) -> list[str]:
    """The reference servers (run_data.REFERENCE_LINES: nginx) that measured this workload, as a
    black dotted line (median over repetitions) in every chart of it, family charts included;
    returns their legend labels."""
    drawn = []
    for layer in layers:
        for name, label in run_data.REFERENCE_LINES.items():
            if name not in layer.run.architectures:
                continue
            line = run_data.series(layer.run, workload, name, metric, connections)
            y = [v * scale for v in line.median]
            if all(math.isnan(v) for v in y):
                continue
            ax.plot(connections, y, zorder=3, label=label, gid=f"reference-{name}",
                    **{**REFERENCE_STYLE, "linestyle": REFERENCE_STYLE["linestyle"]
                       if layer.linestyle == "-" else (0, (1, 3))})
            if label not in drawn:
                drawn.append(label)
    return drawn


def legend(ax, layers: list[Layer], archs: list[str], notes: dict | None = None) -> None:
    """Architectures (colour and marker), then the runs' line styles, then the marks; outside
    the axes, on the right."""
    notes = notes or {}
    names = layers[0].names
    handles = [Line2D([], [], color=arch_colour(a), marker=arch_marker(a), markersize=6,
                      linewidth=1.6, label=names.get(a, a)) for a in archs]
    handles += [Line2D([], [], label=label, **REFERENCE_STYLE)
                for label in notes.get("reference") or []]
    if len(layers) > 1:
        handles += [Line2D([], [], color="black", linestyle=layer.linestyle, linewidth=1.6,
                           label=f"{layer.label}: {layer.run.name}") for layer in layers]
    if notes.get("band"):
        handles.append(Patch(color="#999999", alpha=0.35,
                                                label="min-max over repetitions"))
    if notes.get("failed"):
        handles.append(Line2D([], [], linestyle="none", marker=FAILED_MARKER, markersize=9,
                              color="#444444", label="point failed: no figure\n(strip below)"))
    if notes.get("partial"):
        handles.append(Line2D([], [], linestyle="none", marker=PARTIAL_MARKER, markersize=7,
                              color="#444444", label="some repetitions failed\n(median of "
                              "the others)"))
    if notes.get("floor"):
        handles.append(Line2D([], [], label=f"loopback round trip\n(TCP, {notes['floor']:.3g} µs; "
                              "make microbench)", **FLOOR_STYLE))
    if notes.get("floor_off_scale"):
        handles.append(Line2D([], [], linestyle="none", label=f"loopback round trip "
                              f"{notes['floor_off_scale']:.3g} µs:\noff this chart's scale"))
    if notes.get("saturated"):
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=11,
                              markerfacecolor="none", markeredgecolor="#888888",
                              label="load generator saturated"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9,
              frameon=False, borderaxespad=0)


def _merge(*notes: dict) -> dict:
    merged = {key: any(n.get(key) for n in notes)
              for key in ("failed", "partial", "saturated", "band")}
    merged["reference"] = list(dict.fromkeys(label for n in notes
                                             for label in n.get("reference") or []))
    return merged


def _auto_log(ax, layers: list[Layer], workload: str, metric: str, scale: float = 1.0,
              ratio: float = 20.0) -> None:
    """A log y axis when the figures span more than `ratio` (memory of 1 process against 1000),
    a linear one from zero otherwise."""
    values = [v * scale for layer in layers for arch in _architectures([layer])
              for v in run_data.series(layer.run, workload, arch, metric).median
              if not math.isnan(v) and v > 0]
    if values and max(values) / min(values) > ratio:
        ax.set_yscale("log")
        ax.set_ylabel(ax.get_ylabel() + " (log scale)" if "log" not in ax.get_ylabel()
                      else ax.get_ylabel())
    else:
        ax.set_ylim(bottom=0)


def _empty_note(ax, text: str = "no point of this workload succeeded") -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center",
            color="#aa0000", fontsize=11)


def _has_data(ax) -> bool:
    return any(not math.isnan(y) for line in ax.get_lines() for y in line.get_ydata())


# --------------------------------------------------------------------------- the charts

def _figure(layers: list[Layer], workload: str, panels: int):
    return _new_figure(panels, len(failure_rows(layers, workload)), layers[0].compact)


def throughput_figure(layers: list[Layer], workload: str) -> Figure:
    figure, (ax,), (strip,) = _figure(layers, workload, 1)
    notes = draw_metric(ax, layers, workload, "throughput_rps", mark_saturated=True, strip=strip)
    ax.set_ylabel("throughput (requests/s)")
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:,.0f}"))
    if not _has_data(ax):
        _empty_note(ax)
    _title(figure, layers, workload, "Throughput against connections")
    legend(ax, layers, _architectures(layers), notes)
    return figure


def latency_figure(layers: list[Layer], workload: str, floor_us: float | None = None) -> Figure:
    """p50 and p99 against connections. floor_us, the TCP loopback round trip measured by
    `make microbench`, is drawn as a dashed horizontal line where it fits the axis."""
    figure, axes, strips = _figure(layers, workload, 2)
    all_notes = []
    fits = []  # per panel with data: whether the floor was drawn there
    for ax, strip, metric, name in ((axes[0], strips[0], "p50_us", "median (p50)"),
                                    (axes[1], strips[1], "p99_us", "99th percentile (p99)")):
        all_notes.append(draw_metric(ax, layers, workload, metric, strip=strip))
        ax.set_ylabel(f"{name} latency (µs, log scale)")
        if _has_data(ax):
            ax.set_yscale("log")
            if floor_us and floor_us > 0:
                fits.append(draw_floor(ax, floor_us))
        else:
            _empty_note(ax)
        ax.set_title(name, fontsize=10)
    _title(figure, layers, workload, "Latency against connections")
    notes = _merge(*all_notes)
    notes["floor"] = floor_us if any(fits) else None
    notes["floor_off_scale"] = floor_us if fits and not any(fits) else None
    legend(axes[-1], layers, _architectures(layers), notes)
    return figure


FLOOR_STYLE = {"color": "#555555", "linestyle": (0, (6, 3)), "linewidth": 1.3}
FLOOR_DECADES = 2  # drawn when within two decades of the data, so that it never squashes it


def draw_floor(ax, floor_us: float) -> bool:
    """The loopback round trip as a dashed line across a log latency axis, when it lies within
    FLOOR_DECADES of the figures drawn there; True when drawn."""
    values = [y for line in ax.get_lines() for y in line.get_ydata()
              if not math.isnan(y) and y > 0]
    if not values or not (min(values) / 10 ** FLOOR_DECADES <= floor_us
                          <= max(values) * 10 ** FLOOR_DECADES):
        return False
    ax.axhline(floor_us, zorder=1, gid="loopback-floor", label="loopback round trip",
               **FLOOR_STYLE)
    ax.annotate("loopback round trip", (0.01, floor_us), xycoords=ax.get_yaxis_transform(),
                xytext=(0, 2), textcoords="offset points", ha="left", va="bottom",
                fontsize=8, color=FLOOR_STYLE["color"])
    return True


def cpu_figure(layers: list[Layer], workload: str) -> Figure:
    figure, axes, strips = _figure(layers, workload, 2)
    all_notes = []
    for ax, strip, metric, label in (
            (axes[0], strips[0], "server_cpu_us_per_req", "server CPU per request (µs)"),
            (axes[1], strips[1], "ctx_switches_per_req", "context switches per request")):
        all_notes.append(draw_metric(ax, layers, workload, metric, strip=strip))
        ax.set_ylabel(label)
        _auto_log(ax, layers, workload, metric, ratio=50.0)
        ax.set_title(label, fontsize=10)
        if not _has_data(ax):
            _empty_note(ax)
    _title(figure, layers, workload, "Server cost per request (user + system CPU, every "
                                     "process and thread)")
    legend(axes[-1], layers, _architectures(layers), _merge(*all_notes))
    return figure


def memory_figure(layers: list[Layer], workload: str) -> Figure:
    figure, (ax,), (strip,) = _figure(layers, workload, 1)
    notes = draw_metric(ax, layers, workload, "server_rss_kb", scale=1 / 1024, strip=strip)
    ax.set_ylabel("server memory, peak RSS (MiB)")
    _auto_log(ax, layers, workload, "server_rss_kb", scale=1 / 1024)
    if not _has_data(ax):
        _empty_note(ax)
    _title(figure, layers, workload, "Server memory (RSS of every process) against connections")
    legend(ax, layers, _architectures(layers), notes)
    return figure


def errors_figure(layers: list[Layer], workload: str) -> Figure:
    """Error counts on a symlog axis, where 0 (a measured zero) is at the bottom and 1 and
    10,000 are both readable. A failed point shows the errors its load generator counted, if
    any, and its cross in the strip."""
    figure, axes, strips = _figure(layers, workload, 2)
    all_notes = []
    for ax, strip, metric, label in ((axes[0], strips[0], "errors", "errors of every kind"),
                                     (axes[1], strips[1], "timeouts", "timeouts")):
        all_notes.append(draw_metric(ax, layers, workload, metric, strip=strip))
        ax.set_yscale("symlog", linthresh=1)
        top = max([v for line in ax.get_lines() for v in line.get_ydata()
                   if not math.isnan(v)] + [1])
        ax.set_ylim(-0.08, max(10, top * 3))
        ax.set_ylabel(f"{label} per point (count, symlog)")
        ax.set_title(f"{label} per point", fontsize=10)
    _title(figure, layers, workload, "Errors and timeouts (connect, reset, EOF, wrong answer, "
                                     "timeout)")
    legend(axes[-1], layers, _architectures(layers), _merge(*all_notes))
    return figure


def spectrum_counts(connections: list[int], wanted: list[int] | None = None) -> list[int]:
    """The connection counts whose spectra are drawn: those asked for that exist, else the
    lowest, the highest and one in the middle (on a log scale)."""
    if wanted:
        chosen = [c for c in wanted if c in connections]
        if chosen:
            return chosen
    if len(connections) <= 3:
        return list(connections)
    low, high = connections[0], connections[-1]
    centre = (math.log(low) + math.log(high)) / 2  # ties go to the higher count
    middle = min(connections[1:-1], key=lambda c: (round(abs(math.log(c) - centre), 9), -c))
    return [low, middle, high]


def spectrum_figure(layers: list[Layer], workload: str, counts: list[int]) -> Figure:
    """HdrHistogram's percentile plot: latency against 1/(1-percentile) on a log axis, from
    each point's .hgrm (the repetition with the median p99)."""
    figure, axes, _ = _new_figure(max(1, len(counts)), compact=layers[0].compact)
    archs = _architectures(layers)
    for ax, count in zip(axes, counts):
        top = 10.0
        missing = []
        for layer in layers:
            for arch in _architectures([layer]):
                _, curve = run_data.spectrum(layer.run, workload, arch, count)
                if not curve:
                    points = layer.run.points_at(workload, arch, count)
                    if points:
                        why = "failed" if all(not p.ok for p in points) else "no .hgrm"
                        missing.append(arch + (f" {layer.label}" if layer.label else "")
                                       + f" ({why})")
                    continue
                colour = arch_colour(arch)
                ax.plot([x for x, _ in curve], [v for _, v in curve], color=colour,
                        linestyle=layer.linestyle, linewidth=1.6, label=arch)
                top = max(top, curve[-1][0])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ticks = [(x, label) for x, label in PERCENTILE_TICKS if x <= max(top, 10000)]
        ax.xaxis.set_major_locator(FixedLocator([x for x, _ in ticks]))
        ax.xaxis.set_major_formatter(FuncFormatter(
            lambda x, _: dict(PERCENTILE_TICKS).get(int(round(x)), "")))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlim(1, max(top, 10000) * 1.1)
        ax.grid(True, which="major", alpha=0.3)
        ax.set_xlabel("percentile (log scale of 1/(1-percentile))")
        ax.set_ylabel("latency (µs, log scale)")
        ax.set_title(f"{count} connection{'s' if count != 1 else ''}", fontsize=10)
        if missing:
            ax.text(0.02, 0.97, "no histogram: " + ", ".join(missing),
                    transform=ax.transAxes, ha="left", va="top", fontsize=8, color="#aa0000",
                    wrap=True)
        if not any(True for _ in ax.get_lines()):
            _empty_note(ax, "no histogram at this connection count")
    _title(figure, layers, workload, "Latency by percentile (HdrHistogram)")
    legend(axes[-1], layers, archs)
    return figure


def save(figure: Figure, folder: Path, stem: str, svg: bool = False) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / f"{stem}.png"]
    figure.savefig(written[0], bbox_inches="tight", dpi=DPI)
    if svg:
        written.append(folder / f"{stem}.svg")
        figure.savefig(written[1], bbox_inches="tight")
    return written
