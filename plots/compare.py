#!/usr/bin/env python3
"""Compares two runs: draws both on the same axes (A dashed, B solid) and writes a table of
B/A ratios for throughput, p99 latency and server CPU per request at every point, marking the
differences larger than the run-to-run spread.

    plots/compare.py A B [--out DIR]

Default DIR: compare-<A>-vs-<B>/ beside B (results/compare-...). It holds the charts,
compare.csv (every figure), compare.md (the ratios, to paste) and compare.html.

The rule for a mark, per point and metric (written at the head of compare.md and compare.html),
is the one every ranking of archbench uses (harness/ranking.py): B differs from A only where
every repetition of B is better (or every one worse) than every repetition of A, each run has
at least 3 repetitions there, and the medians differ by at least 5 %. Otherwise the cell is
not marked: the same within noise. A change at a point where either run has fewer than
MIN_CLEAN undisturbed repetitions (the noise sentinel: another process held the cores, or the
machine ran slower) is marked ~, not *: it may be the machine's, not the code's, and is not
counted as better or worse. With MIN_CLEAN undisturbed repetitions on each side, a disturbed one
does not decide the mark: the undisturbed ones are separated too (they lie within the ranges
that do not overlap), and the disturbed one fell on the same side.
"""
from __future__ import annotations

import csv
import math
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import charts  # noqa: E402
import chooser  # noqa: E402
import families  # noqa: E402
from cli import usage_parser  # noqa: E402
import report  # noqa: E402
import run_data  # noqa: E402
import summary  # noqa: E402
from report import esc  # noqa: E402
from run_data import NAN, Run  # noqa: E402

# (column in points.csv, short name in the tables, title in compare.html, higher is better)
METRICS = [("throughput_rps", "throughput", "throughput (req/s)", True),
           ("p99_us", "p99", "p99", False),
           ("server_cpu_us_per_req", "cpu_per_req", "CPU/request", False)]
FORMATS = {"throughput_rps": lambda v: f"{v:,.0f}", "p99_us": summary.fmt_us,
           "server_cpu_us_per_req": lambda v: f"{v:.3g} µs"}
COMPARE_CHARTS = ["throughput", "latency", "cpu", "memory", "errors"]

# Undisturbed repetitions each run needs at a point for a change there to count (see RULE).
MIN_CLEAN = 2
RULE = ("B/A is B's median over repetitions divided by A's. * marks a change that the "
        "repetitions show: " + run_data.ranking.RULE.replace("A is ranked above B", "B and A "
        "differ") + " Throughput: above 1 is better; p99 and CPU per request: below 1 is "
        f"better. ~ marks such a change at a point where either run has fewer than {MIN_CLEAN} "
        "undisturbed repetitions (other processes held the cores, or the machine ran slower): "
        "the machine's, perhaps, not the code's; it is not counted as better or worse. "
        "Unmarked ratios are the same within noise.")


@dataclass
class Cell:
    a: float
    b: float
    ratio: float
    threshold: float  # the run-to-run spread the ratio is held against; NaN when unknown
    mark: str         # "*", "~" (a change at a disturbed point) or ""

    @property
    def change(self) -> float:
        return abs(self.ratio - 1) if not math.isnan(self.ratio) else NAN


@dataclass
class Row:
    workload: str
    arch: str
    connections: int
    reps_a: int
    reps_b: int
    cells: dict[str, Cell] = field(default_factory=dict)
    note: str = ""


def compare_cell(values_a: list[float], values_b: list[float], higher_is_better: bool) -> Cell:
    """The ratio of medians B/A, marked "*" only when ranking.separated() splits the runs."""
    if not values_a or not values_b:
        return Cell(NAN, NAN, NAN, NAN, "")
    value_a, value_b = statistics.median(values_a), statistics.median(values_b)
    if value_a == 0:
        return Cell(value_a, value_b, NAN, NAN, "")
    spreads = [(max(v) - min(v)) / abs(statistics.median(v)) for v in (values_a, values_b)
               if len(v) >= 2 and statistics.median(v) != 0]
    threshold = max(spreads) if spreads else NAN
    mark = "*" if run_data.ranking.separated(values_b, values_a, higher_is_better) else ""
    return Cell(value_a, value_b, value_b / value_a, threshold, mark)


def _note(run_a: Run, run_b: Run, workload: str, arch: str, connections: int) -> str:
    notes = []
    for label, run in (("A", run_a), ("B", run_b)):
        points = run.points_at(workload, arch, connections)
        if not points:
            notes.append(f"not in {label}")
        elif all(not p.ok for p in points):
            notes.append(f"failed in {label}")
        elif any(not p.ok for p in points):
            notes.append(f"some reps failed in {label}")
        disturbed = sum(1 for p in points if p.disturbed)
        if disturbed:
            notes.append(f"{disturbed} rep(s) disturbed in {label}")
        if 0 < sum(1 for p in points if p.ok) < run_data.ranking.MIN_REPS:
            notes.append(f"fewer than {run_data.ranking.MIN_REPS} reps in {label}: no mark")
    return "; ".join(notes)


def compare_rows(run_a: Run, run_b: Run) -> list[Row]:
    """One row per workload x architecture x connections found in either run."""
    workloads = run_data._in_order(run_a.workloads + run_b.workloads)
    archs = run_data._in_order(run_a.architectures + run_b.architectures)
    rows = []
    for workload in workloads:
        counts = sorted(set(run_a.connections(workload)) | set(run_b.connections(workload)))
        for arch in archs:
            if not any(run.points_at(workload, arch, c) for run in (run_a, run_b)
                       for c in counts):
                continue
            for count in counts:
                reps = [sum(1 for p in run.points_at(workload, arch, count) if p.ok)
                        for run in (run_a, run_b)]
                row = Row(workload, arch, count, reps[0], reps[1],
                          note=_note(run_a, run_b, workload, arch, count))
                too_disturbed = any(
                    sum(1 for p in run.points_at(workload, arch, count)
                        if p.ok and not p.disturbed) < MIN_CLEAN for run in (run_a, run_b))
                for metric, _, _, higher in METRICS:
                    cell = compare_cell(
                        run_data.values_at(run_a, workload, arch, metric, count),
                        run_data.values_at(run_b, workload, arch, metric, count), higher)
                    if cell.mark and too_disturbed:
                        cell.mark = "~"
                    row.cells[metric] = cell
                rows.append(row)
    return rows


# --------------------------------------------------------------------------- writing

def _num(value: float, digits: int = 4) -> str:
    return "" if math.isnan(value) else f"{value:.{digits}g}"


def write_csv(rows: list[Row], path: Path) -> None:
    header = ["workload", "arch", "connections", "reps_a", "reps_b"]
    for _, name, _, _ in METRICS:
        header += [f"{name}_a", f"{name}_b", f"{name}_ratio", f"{name}_spread", f"{name}_mark"]
    header.append("note")
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in rows:
            cells = [row.workload, row.arch, row.connections, row.reps_a, row.reps_b]
            for metric, _, _, _ in METRICS:
                cell = row.cells[metric]
                cells += [_num(cell.a, 6), _num(cell.b, 6), _num(cell.ratio, 4),
                          _num(cell.threshold, 3), cell.mark]
            writer.writerow(cells + [row.note])


def ratio_text(cell: Cell) -> str:
    return "—" if math.isnan(cell.ratio) else f"{cell.ratio:.3f}{cell.mark}"


def write_markdown(rows: list[Row], run_a: Run, run_b: Run, path: Path) -> None:
    lines = ["# archbench comparison: B/A", "",
             f"- A: `{run_a.name}` ({run_a.machine_line()})",
             f"- B: `{run_b.name}` ({run_b.machine_line()})", "", RULE, ""]
    for workload in run_data._in_order(r.workload for r in rows):
        lines += [f"## {workload}", "",
                  "| architecture | connections | throughput B/A | p99 B/A | CPU/request B/A | "
                  "note |", "|---|---:|---:|---:|---:|---|"]
        for row in (r for r in rows if r.workload == workload):
            lines.append(f"| {row.arch} | {row.connections} | "
                         + " | ".join(ratio_text(row.cells[m]) for m, _, _, _ in METRICS)
                         + f" | {row.note} |")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def verdict(cell: Cell, higher_is_better: bool) -> str:
    """'better', 'worse' or '' for a cell marked *."""
    if cell.mark != "*" or math.isnan(cell.ratio):
        return ""
    return "better" if (cell.ratio > 1) == higher_is_better else "worse"


def counts_by_metric(rows: list[Row]) -> dict[str, dict[str, int]]:
    result = {}
    for metric, name, _, higher in METRICS:
        tally = {"better": 0, "worse": 0, "same": 0, "disturbed": 0}
        for row in rows:
            cell = row.cells[metric]
            if cell.mark == "*":
                tally[verdict(cell, higher)] += 1
            elif cell.mark == "~":
                tally["disturbed"] += 1
            elif not math.isnan(cell.ratio):
                tally["same"] += 1
        result[name] = tally
    return result


CSS_EXTRA = """
td.better { background: #e3f4e3; } td.worse { background: #fbe4e4; }
td.disturbed { background: #fff7dc; }
"""


def render_html(rows: list[Row], run_a: Run, run_b: Run, drawn: list) -> str:
    title = f"archbench comparison: {run_b.name} / {run_a.name}"
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>{esc(title)}</title><style>{report.STYLE}{chooser.CSS}{CSS_EXTRA}</style>"
             f"</head><body>",
             f"<h1>{esc(title)}</h1>",
             f"<p class=\"sub\">A (dashed): {esc(run_a.name)} — {esc(run_a.machine_line())}<br>"
             f"B (solid): {esc(run_b.name)} — {esc(run_b.machine_line())}</p>",
             f"<p><b>The rule.</b> {esc(RULE)}</p>",
             "<p>Each chart comes as an overview, one line per family (its best member in B, "
             "drawn in both runs), and one small chart per family under it.</p>",
             chooser.chooser_html(grouped(run_a, run_b), run_data.arch_colour)]
    tallies = counts_by_metric(rows)
    parts.append("<ul>" + "".join(
        f"<li>{esc(name)}: {t['better']} point(s) better in B, {t['worse']} worse, as the "
        f"repetitions show; {t['disturbed']} change(s) on disturbed points (~, not "
        f"counted); {t['same']} the same within noise</li>"
        for name, t in tallies.items()) + "</ul>")
    shared = [w for w in run_a.workloads if w in run_b.workloads]
    only = [w for w in run_data._in_order(run_a.workloads + run_b.workloads) if w not in shared]
    if only:
        parts.append(f"<p class=\"warn\">Only in one run (table only, no chart): "
                     f"{esc(', '.join(only))}</p>")
    for workload in run_data._in_order(r.workload for r in rows):
        parts.append(f"<h2 id=\"{esc(run_data.safe_name(workload))}\">Workload "
                     f"{esc(workload)}</h2>")
        parts.append("<table class=\"sortable\"><tr><th class=\"name\">architecture</th>"
                     "<th>conn.</th>" + "".join(
            f"<th>{esc(title)} A</th><th>{esc(title)} B</th><th>B/A</th>"
            for _, _, title, _ in METRICS) + "<th class=\"name\">note</th></tr>")
        for row in (r for r in rows if r.workload == workload):
            cells = []
            for metric, _, _, higher in METRICS:
                cell = row.cells[metric]
                css = verdict(cell, higher) or ("disturbed" if cell.mark == "~" else "")
                spread = (f"spread {cell.threshold:.1%}" if not math.isnan(cell.threshold)
                          else "spread unknown")
                shown = [("" if math.isnan(v) else FORMATS[metric](v)) for v in (cell.a, cell.b)]
                cells.append(f"<td>{esc(shown[0])}</td><td>{esc(shown[1])}</td>"
                             f"<td class=\"{css}\" title=\"{esc(spread)}\">"
                             f"{esc(ratio_text(cell))}</td>")
            parts.append(f"<tr{chooser.row_attributes(row.arch)}>{report.arch_cell(row.arch)}"
                         f"<td>{row.connections}</td>"
                         f"{''.join(cells)}<td class=\"name small\">{esc(row.note)}</td></tr>")
        parts.append("</table>")
        groups = grouped(run_a, run_b)
        for kind, png in ((k, p) for w, k, f, p in drawn if w == workload and not f):
            parts.append(f"<figure><h3>{esc(report.CHART_TITLES[kind])} — {esc(workload)}</h3>"
                         f"<img src=\"{esc(png)}\" alt=\"{esc(report.CHART_TITLES[kind])}, A "
                         f"against B\"></figure>")
            entries = [(f, groups.get(f, []), p, f"{report.CHART_TITLES[kind]}, family {f}, A "
                        f"against B") for w, k, f, p in drawn if w == workload and k == kind
                       and f]
            parts.append(chooser.multiples_html(entries, wide=kind in report.WIDE_CHARTS))
    parts.append(chooser.SCRIPT)
    parts.append("</body></html>\n")
    return "\n".join(parts)


def grouped(run_a: Run, run_b: Run) -> dict[str, list[str]]:
    """{family: its architectures in either run}, as the report groups them."""
    return run_data.FAMILIES.grouped(run_data._in_order(run_a.architectures
                                                        + run_b.architectures))


def draw(run_a: Run, run_b: Run, out: Path) -> list[tuple[str, str, str, str]]:
    """(workload, kind, family, file name) of each chart, for the workloads both runs have:
    per chart kind the overview (family "": each family's best member, picked in B, drawn in
    both runs) and one chart per family with all of its members, as the report draws them."""
    layers = [charts.Layer(run_a, linestyle="--", label="A"),
              charts.Layer(run_b, linestyle="-", label="B")]
    figures = {"throughput": charts.throughput_figure, "latency": charts.latency_figure,
               "cpu": charts.cpu_figure, "memory": charts.memory_figure,
               "errors": charts.errors_figure}
    drawn = []
    for workload in (w for w in run_a.workloads if w in run_b.workloads):
        for kind in COMPARE_CHARTS:
            stem = f"{run_data.safe_name(workload)}-{kind}"
            charts.save(figures[kind](charts.overview_layers(layers, workload, kind), workload),
                        out, stem)
            drawn.append((workload, kind, "", f"{stem}.png"))
            for family in grouped(run_a, run_b):
                name = f"{stem}-{families.slug(family)}"
                charts.save(figures[kind](charts.family_layers(layers, family), workload),
                            out, name)
                drawn.append((workload, kind, family, f"{name}.png"))
    return drawn


def compare(run_a: Run, run_b: Run, out: Path) -> list[Row]:
    out.mkdir(parents=True, exist_ok=True)
    rows = compare_rows(run_a, run_b)
    write_csv(rows, out / "compare.csv")
    write_markdown(rows, run_a, run_b, out / "compare.md")
    drawn = draw(run_a, run_b, out)
    (out / "compare.html").write_text(render_html(rows, run_a, run_b, drawn), encoding="utf-8")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = usage_parser("plots/compare.py", "Draw two runs on the same axes (A dashed, "
                                 "B solid) and write the B/A ratios.")
    parser.add_argument("a", type=Path, help="run A, the baseline (e.g. results/<id>)")
    parser.add_argument("b", type=Path, help="run B, compared with A")
    parser.add_argument("--out", type=Path, help="output folder (default: "
                        "compare-<A>-vs-<B>/ beside B)")
    args = parser.parse_args(argv)
    try:
        run_a, run_b = run_data.load_run(args.a), run_data.load_run(args.b)
    except run_data.RunError as error:
        parser.error(str(error))
    out = args.out or run_b.path.resolve().parent / f"compare-{run_a.name}-vs-{run_b.name}"
    rows = compare(run_a, run_b, out)
    for name, tally in counts_by_metric(rows).items():
        print(f"{name:<12} changes the repetitions show: {tally['better']} better in B, "
              f"{tally['worse']} worse; {tally['disturbed']} on disturbed points (~, not "
              f"counted); {tally['same']} the same within noise")
    print(f"compare: {out / 'compare.html'}  (table: {out / 'compare.csv'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
