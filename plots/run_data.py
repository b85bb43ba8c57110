"""Reading a run folder (results/<id>/: meta.json, points.csv, raw/*.hgrm) into what the charts,
the report and the comparison draw. Standard library only, so that the tables can be computed
without matplotlib.

The one rule that matters here: a failed point has no figures. Its cells become NaN, which
matplotlib draws as a gap, never as a zero, even when points.csv holds a 0 for it (a load
generator that got no answer reports 0 requests per second, which is not a measurement of the
server's throughput).
"""
from __future__ import annotations

import csv
import json
import math
import re
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

# The one rule for "A beats B" (harness/ranking.py, standard library only), shared with the
# harness's closing table.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "harness"))
import ranking  # noqa: E402

import families  # noqa: E402

NAN = math.nan

# Servers that are not archbench architectures, drawn on every chart of a workload that measured
# them as a reference line (charts.draw_reference), in no family: nginx (harness/nginx.py).
REFERENCE_LINES = {"nginx": "nginx, 1 worker"}
REFERENCE_FAMILY = "reference server (not an archbench architecture)"

# Text columns of points.csv; every other column is a number (or empty).
TEXT_COLUMNS = {"arch", "workload", "status", "reason", "loadgen_saturated", "worker_connections",
                "disturbed", "cpu_accounting", "protocol", "path", "load_generator"}

# Metrics that a failed point still measures: a load generator that got no answer still counted
# its connect errors and timeouts, and those are the story of that point.
COUNTED_EVEN_WHEN_FAILED = {"errors", "timeouts", "errors_connect", "errors_reset", "errors_eof",
                            "errors_wrong_answer"}


class RunError(Exception):
    """A folder that cannot be read as a run; the message says why, in one line."""


# --------------------------------------------------------------------------- colours

# Colour follows the family (families.py): one hue per family, a shade and a marker per member,
# the same in every chart and every run. The families come from the runs loaded (meta.json's
# `families`, the registry's order), so every chart of a process, the comparison's two runs
# included, colours an architecture alike.
FAMILIES = families.Families()


def arch_colour(arch: str) -> str:
    return FAMILIES.colour(arch)


def arch_marker(arch: str) -> str:
    return FAMILIES.marker(arch)


def arch_family(arch: str) -> str:
    return FAMILIES.family(arch)


# --------------------------------------------------------------------------- the run folder

@dataclass
class Point:
    """One row of points.csv: one architecture x workload x connections x repetition."""
    arch: str
    workload: str
    connections: int
    rep: int
    status: str
    reason: str
    saturated: bool
    values: dict[str, float]  # every numeric column; NaN where the cell is empty
    # A pooled server's connections per worker ("worker_connections"), empty for the others.
    workers: list[int] = field(default_factory=list)
    disturbed: bool = False  # the noise sentinel's verdict, after the harness's retries

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def as_row(self) -> dict:
        """What ranking.eligible() reads: status, errors, timeouts, connections."""
        return {"status": self.status, "connections": self.connections,
                "errors": self.values.get("errors", 0) if not math.isnan(
                    self.values.get("errors", NAN)) else 0,
                "timeouts": self.values.get("timeouts", 0) if not math.isnan(
                    self.values.get("timeouts", NAN)) else 0}

    def value(self, metric: str) -> float:
        """The figure as measured, or NaN: a failed point has none, except for the errors
        that the load generator still counted (a 0 there would draw a failure as a zero)."""
        value = self.values.get(metric, NAN)
        if not self.ok and (metric not in COUNTED_EVEN_WHEN_FAILED or not value > 0):
            return NAN
        return value


@dataclass
class Run:
    path: Path
    name: str
    meta: dict
    points: list[Point]

    @property
    def workloads(self) -> list[str]:
        return _in_order(p.workload for p in self.points)

    @property
    def architectures(self) -> list[str]:
        """In the experiment's order where it says, then in order of appearance."""
        listed = self.meta.get("experiment", {}).get("architectures") or []
        seen = _in_order(p.arch for p in self.points)
        return [a for a in listed if a in seen] + [a for a in seen if a not in listed]

    @property
    def families(self) -> dict[str, list[str]]:
        """{family: this run's architectures of it, in registry order}, families in the
        report's order (families.py)."""
        return FAMILIES.grouped([a for a in self.architectures if a not in REFERENCE_LINES])

    def connections(self, workload: str) -> list[int]:
        return sorted({p.connections for p in self.points if p.workload == workload})

    def points_at(self, workload: str, arch: str, connections: int) -> list[Point]:
        return [p for p in self.points if p.workload == workload and p.arch == arch
                and p.connections == connections]

    def machine_line(self) -> str:
        """'Intel Xeon ..., 2 cores, host' for chart titles."""
        machine = self.meta.get("machine", {})
        parts = [machine.get("cpu_model") or "unknown CPU"]
        if machine.get("cores"):
            parts.append(f"{machine['cores']} cores")
        if machine.get("hostname"):
            parts.append(machine["hostname"])
        return ", ".join(parts)

    def workload_description(self, workload: str) -> str:
        """'persistent connections' or '3 questions per connection, work 100 us'."""
        experiment = self.meta.get("experiment", {})
        for spec in experiment.get("workloads", []):
            if spec.get("name") == workload:
                inherited = {key: experiment.get(key) for key in ("protocol", "path",
                                                                  "load_generator")}
                return describe_workload({**inherited, **{k: v for k, v in spec.items()
                                                          if v is not None}})
        return ""

    def hgrm_path(self, point: Point) -> Path:
        return (self.path / "raw" /
                f"{point.arch}-{point.workload}-c{point.connections}-r{point.rep}.hgrm")


def describe_workload(spec: dict) -> str:
    session = int(spec.get("session") or 0)
    if session == 0:
        parts = ["persistent connections"]
    elif session == 1:
        parts = ["one request per connection"]
    else:
        parts = [f"{session} requests per connection"]
    for key, label in (("work_us", "CPU work {} us"), ("sleep_us", "sleep {} us"),
                       ("reply_bytes", "replies of {} bytes"), ("pipeline", "pipeline {}"),
                       ("rate", "open loop at {} req/s")):
        value = spec.get(key)
        if value and not (key == "pipeline" and int(value) == 1):
            parts.append(label.format(value))
    if spec.get("protocol") == "http":
        parts.append(f"HTTP GET {spec.get('path') or '/beautiful'}")
    if spec.get("load_generator") == "wrk":
        parts.append("load by wrk")
    return ", ".join(parts)


def _in_order(items) -> list:
    seen: dict = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


def _number(text: str) -> float:
    try:
        return float(text) if text not in ("", None) else NAN
    except ValueError:
        return NAN


def _int(text: str | None, default: int) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


def load_run(path: Path | str) -> Run:
    """Reads RUN/points.csv and RUN/meta.json. A missing or unreadable meta.json is tolerated
    (the report says so); a missing points.csv is not a run."""
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"{path}: no such run folder")
    csv_path = path / "points.csv"
    if not csv_path.is_file():
        raise RunError(f"{path}: no points.csv (not a run folder?)")
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            meta = {}
    except (OSError, ValueError):
        meta = {}
    points = []
    try:
        with open(csv_path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            for required in ("arch", "workload", "connections", "status"):
                if required not in (reader.fieldnames or []):
                    raise RunError(f"{csv_path}: no '{required}' column")
            for row in reader:
                try:
                    connections = int(row["connections"])
                except (TypeError, ValueError):
                    continue  # a torn last line of an interrupted run
                values = {key: _number(value) for key, value in row.items()
                          if key and key not in TEXT_COLUMNS}
                points.append(Point(
                    arch=row["arch"], workload=row["workload"], connections=connections,
                    rep=_int(row.get("rep"), 1),
                    status=(row.get("status") or "failed").strip(),
                    reason=(row.get("reason") or "").strip(),
                    saturated=(row.get("loadgen_saturated") or "").strip().lower()
                    in ("true", "1", "yes"),
                    values=values,
                    workers=[int(n) for n in (row.get("worker_connections") or "").split()
                             if n.isdigit()],
                    disturbed=(row.get("disturbed") or "").strip().lower() == "true"))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise RunError(f"{csv_path}: {error}") from None
    recorded = meta.get("families")
    FAMILIES.learn(recorded if isinstance(recorded, dict) else {})
    FAMILIES.learn({name: REFERENCE_FAMILY for name in REFERENCE_LINES})
    return Run(path=path, name=path.resolve().name, meta=meta, points=points)


# --------------------------------------------------------------------------- series

@dataclass
class Series:
    """One architecture's metric against connections, for one workload: the median over the
    repetitions that measured it and their min and max (the spread), NaN where nothing was
    measured. `failed` lists the connection counts where every repetition failed, `partial`
    those where some did, `saturated` those where the load generator was the bottleneck."""
    arch: str
    metric: str
    connections: list[int]
    median: list[float]
    low: list[float]
    high: list[float]
    counts: list[int] = field(default_factory=list)  # repetitions that measured it
    failed: list[int] = field(default_factory=list)
    partial: list[int] = field(default_factory=list)
    saturated: list[int] = field(default_factory=list)

    def at(self, connections: int) -> float:
        try:
            return self.median[self.connections.index(connections)]
        except ValueError:
            return NAN

    def spread_at(self, connections: int) -> tuple[float, float]:
        try:
            index = self.connections.index(connections)
        except ValueError:
            return NAN, NAN
        return self.low[index], self.high[index]

    def reps_at(self, connections: int) -> int:
        try:
            return self.counts[self.connections.index(connections)]
        except ValueError:
            return 0


def series(run: Run, workload: str, arch: str, metric: str,
           connections: list[int] | None = None) -> Series:
    """The data that feeds a line: see Series."""
    connections = connections if connections is not None else run.connections(workload)
    result = Series(arch=arch, metric=metric, connections=list(connections), median=[], low=[],
                    high=[])
    for count in connections:
        points = run.points_at(workload, arch, count)
        values = [v for v in (p.value(metric) for p in points) if not math.isnan(v)]
        if values:
            result.median.append(statistics.median(values))
            result.low.append(min(values))
            result.high.append(max(values))
        else:
            result.median.append(NAN)
            result.low.append(NAN)
            result.high.append(NAN)
        result.counts.append(len(values))
        failed = sum(1 for p in points if not p.ok)
        if points and failed == len(points):
            result.failed.append(count)
        elif failed:
            result.partial.append(count)
        if any(p.saturated for p in points if p.ok):
            result.saturated.append(count)
    return result


def values_at(run: Run, workload: str, arch: str, metric: str, connections: int) -> list[float]:
    """The metric of every repetition that measured it at one point."""
    return [v for v in (p.value(metric) for p in run.points_at(workload, arch, connections))
            if not math.isnan(v)]


def rankable(run: Run, workload: str, metric: str, connections: int
             ) -> tuple[dict[str, list[float]], dict[str, str]]:
    """({arch: repetitions' values} of the architectures that may be ranked at one point,
    {arch: why not} of those that may not: requests failed or timed out there, or fewer than
    ranking.MIN_REPS repetitions measured the metric)."""
    groups, excluded = {}, {}
    for arch in run.architectures:
        points = run.points_at(workload, arch, connections)
        if not points:
            continue
        values = values_at(run, workload, arch, metric, connections)
        why = ranking.eligible([p.as_row() for p in points]) or ranking.too_few(values)
        if why:
            excluded[arch] = why
        elif values:
            groups[arch] = values
    return groups, excluded


def failure_text(run: Run, workload: str, arch: str, connections: int) -> str:
    """'' or '63 of 64 clients starved: 63 timeouts' (median over repetitions)."""
    points = [p for p in run.points_at(workload, arch, connections) if p.ok]
    return ranking.failure_text([p.as_row() for p in points]) if points else ""


def disturbed(run: Run) -> list[Point]:
    return [p for p in run.points if p.disturbed]


def failures(run: Run, workload: str | None = None) -> list[Point]:
    return [p for p in run.points if not p.ok and (workload is None or p.workload == workload)]


def relative_spread(low: float, median: float, high: float) -> float:
    """(max - min) / median of the repetitions: 0.1 means the repetitions spread over 10 % of
    the median. NaN when unknown."""
    if any(math.isnan(x) for x in (low, median, high)) or median == 0:
        return NAN
    return (high - low) / abs(median)


# --------------------------------------------------------------------------- .hgrm files

def read_hgrm(path: Path) -> list[tuple[float, float]]:
    """(percentile as a fraction 0..1, value) rows of an HdrHistogram percentile distribution
    ("Value Percentile TotalCount 1/(1-Percentile)"), header and #[...] footer skipped. The last
    row, at percentile 1, has no finite 1/(1-P) ("inf" in the C library, missing in Java's)."""
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 3 or line.lstrip().startswith("#"):
                continue
            try:
                value, percentile = float(fields[0]), float(fields[1])
            except ValueError:
                continue  # the header line
            if percentile > 1.0:  # written in percent by some tools
                percentile /= 100.0
            rows.append((percentile, value))
    return rows


def hgrm_unit_scale(rows: list[tuple[float, float]], p50_us: float) -> float:
    """The factor that turns the file's values into microseconds: 1 normally; 1000 when the file
    is in milliseconds (HdrHistogram's tools often scale), found against points.csv's p50."""
    if not rows or math.isnan(p50_us) or p50_us <= 0:
        return 1.0
    median = next((value for percentile, value in rows if percentile >= 0.5), rows[-1][1])
    if median <= 0:
        return 1.0
    ratio = math.log10(p50_us / median)
    for scale in (1.0, 1000.0, 0.001):
        if abs(ratio - math.log10(scale)) < 0.75:
            return scale
    return 1.0


def spectrum(run: Run, workload: str, arch: str, connections: int):
    """The latency spectrum of the repetition whose p99 is the median among those that
    succeeded: (rep, [(x = 1/(1-P), latency us)]), or (None, []) when there is none."""
    points = [p for p in run.points_at(workload, arch, connections)
              if p.ok and run.hgrm_path(p).is_file()]
    if not points:
        return None, []
    points.sort(key=lambda p: (math.isnan(p.value("p99_us")), p.value("p99_us")))
    chosen = points[(len(points) - 1) // 2]
    try:
        rows = read_hgrm(run.hgrm_path(chosen))
    except OSError:
        return None, []
    scale = hgrm_unit_scale(rows, chosen.value("p50_us"))
    curve = [(1.0 / (1.0 - percentile), value * scale) for percentile, value in rows
             if percentile < 1.0]
    return chosen.rep, curve


def safe_name(text: str) -> str:
    """A workload name as part of a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text) or "_"
