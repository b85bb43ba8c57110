"""Experiment files (TOML, harness/experiments/*.toml): what to run.

    name = "default"
    architectures = []            # empty: every architecture `archbench-server --list` prints
    connections = [1, 4, 16, 64, 256, 1024]
    duration_s = 1.5              # measured window of each point
    warmup_s = 0.5                # run before it, excluded from every figure
    repetitions = 1

    [placement]                   # CPU placement; "auto": load generator and server on separate cores
    server_cpus = "auto"          # e.g. "0" or "0-7"
    load_cpus = "auto"
    load_threads = "auto"         # archbench-load -t; auto: one per load CPU

    [server]                      # options given to every server
    threads = "auto"              # --threads / --processes of pooled variants: "auto" (one per
    processes = "auto"            #   server CPU), "connections" (one per connection), or N
    [server.arch.prethreaded]     # per-architecture overrides
    threads = "connections"

    [load]                        # options given to every load generator run
    timeout_ms = 1000
    pipeline = 1

    [[workloads]]                 # each: a name, a session length, and the server's knobs
    name = "persistent"
    session = 0
    work_us = 0
    sleep_us = 0
    reply_bytes = 0

    [quick]                       # overrides applied by --quick (make bench QUICK=1)
    connections = [1, 64]
    duration_s = 0.5
"""
from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass
from pathlib import Path

WORKLOAD_KEYS = {"name", "session", "work_us", "sleep_us", "reply_bytes", "pipeline", "rate"}
TOP_KEYS = {"name", "description", "architectures", "connections", "duration_s", "warmup_s",
            "repetitions", "placement", "server", "load", "workloads", "quick", "point_timeout_s"}


class ExperimentError(ValueError):
    """An experiment file or filter that cannot be run; the message says why, in one line."""


@dataclass(frozen=True)
class Workload:
    name: str
    session: int = 0
    work_us: int = 0
    sleep_us: int = 0
    reply_bytes: int = 0
    pipeline: int | None = None  # None: the experiment's [load] pipeline
    rate: float | None = None    # requests/s for an open-loop workload; None: closed loop


@dataclass
class Experiment:
    name: str
    description: str
    architectures: list[str]
    workloads: list[Workload]
    connections: list[int]
    duration_s: float
    warmup_s: float
    repetitions: int
    placement: dict
    server: dict
    load: dict
    point_timeout_s: float
    source: dict  # the file as read, for meta.json

    def as_run(self) -> dict:
        """The experiment as it is run (after --quick and filters), for meta.json."""
        return {
            "name": self.name, "description": self.description,
            "architectures": self.architectures,
            "workloads": [w.__dict__ for w in self.workloads],
            "connections": self.connections, "duration_s": self.duration_s,
            "warmup_s": self.warmup_s, "repetitions": self.repetitions,
            "placement": self.placement, "server": self.server, "load": self.load,
            "point_timeout_s": self.point_timeout_s,
        }


def _positive_ints(value, what: str) -> list[int]:
    if not isinstance(value, list) or not value or not all(
            isinstance(v, int) and v > 0 for v in value):
        raise ExperimentError(f"{what} must be a non-empty list of positive integers")
    return value


def load(path: Path, quick: bool = False) -> Experiment:
    try:
        with open(path, "rb") as f:
            source = tomllib.load(f)
    except FileNotFoundError:
        raise ExperimentError(f"no experiment file {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise ExperimentError(f"{path}: {error}") from None

    unknown = set(source) - TOP_KEYS
    if unknown:
        raise ExperimentError(f"{path}: unknown keys {sorted(unknown)}")
    data = copy.deepcopy(source)
    if quick:
        overrides = data.get("quick", {})
        for key, value in overrides.items():
            if key not in TOP_KEYS - {"quick"} and key != "workload_names":
                raise ExperimentError(f"{path}: unknown key quick.{key}")
        for key, value in overrides.items():
            if key != "workload_names":
                data[key] = value
        if "workload_names" in overrides:
            keep = set(overrides["workload_names"])
            data["workloads"] = [w for w in data.get("workloads", []) if w.get("name") in keep]

    workloads = []
    for raw in data.get("workloads", []):
        if not isinstance(raw, dict) or "name" not in raw:
            raise ExperimentError(f"{path}: every [[workloads]] entry needs a name")
        extra = set(raw) - WORKLOAD_KEYS
        if extra:
            raise ExperimentError(f"{path}: workload {raw['name']}: unknown keys {sorted(extra)}")
        workloads.append(Workload(**raw))
    if not workloads:
        raise ExperimentError(f"{path}: no workloads")

    experiment = Experiment(
        name=data.get("name", path.stem),
        description=data.get("description", ""),
        architectures=list(data.get("architectures", [])),
        workloads=workloads,
        connections=_positive_ints(data.get("connections", [1]), "connections"),
        duration_s=float(data.get("duration_s", 2.0)),
        warmup_s=float(data.get("warmup_s", 0.5)),
        repetitions=int(data.get("repetitions", 1)),
        placement=dict(data.get("placement", {})),
        server=dict(data.get("server", {})),
        load=dict(data.get("load", {})),
        point_timeout_s=float(data.get("point_timeout_s", 30.0)),
        source=source,
    )
    for key in ("threads", "processes"):
        values = [experiment.server.get(key, "auto")] + [
            table.get(key, "auto") for table in experiment.server.get("arch", {}).values()]
        for value in values:
            if value not in ("auto", "connections") and not (isinstance(value, int) and value > 0):
                raise ExperimentError(f"{path}: server {key} must be \"auto\", \"connections\" "
                                      f"or a positive integer, not {value!r}")
    if experiment.duration_s <= 0 or experiment.warmup_s < 0 or experiment.repetitions < 1:
        raise ExperimentError(f"{path}: duration_s > 0, warmup_s >= 0 and repetitions >= 1")
    return experiment


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def apply_filters(experiment: Experiment, known_architectures: list[str],
                  arch: str | None = None, workload: str | None = None,
                  connections: str | None = None) -> Experiment:
    """Resolves the architecture list against the server's --list and applies the command-line
    filters (comma-separated); an unknown name is an error, never silently nothing."""
    architectures = experiment.architectures or list(known_architectures)
    for name in architectures:
        if name not in known_architectures:
            raise ExperimentError(f"unknown architecture '{name}' "
                                  f"(known: {', '.join(known_architectures)})")
    if arch:
        wanted = _split(arch)
        for name in wanted:
            if name not in known_architectures:
                raise ExperimentError(f"unknown architecture '{name}' "
                                      f"(known: {', '.join(known_architectures)})")
        architectures = wanted
    experiment.architectures = architectures

    if workload:
        wanted = _split(workload)
        names = [w.name for w in experiment.workloads]
        for name in wanted:
            if name not in names:
                raise ExperimentError(f"unknown workload '{name}' (known: {', '.join(names)})")
        experiment.workloads = [w for w in experiment.workloads if w.name in wanted]

    if connections:
        try:
            experiment.connections = _positive_ints([int(c) for c in _split(connections)],
                                                    "connections")
        except ValueError:
            raise ExperimentError(f"connections must be comma-separated positive integers, "
                                  f"not '{connections}'") from None
    return experiment
