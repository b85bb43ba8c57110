"""Experiment files (TOML, harness/experiments/*.toml): what to run.

    name = "default"
    architectures = []            # empty: every architecture `archbench-server --list` prints
                                  # ("nginx" may be named too, in HTTP: harness/nginx.py)
    connections = [1, 4, 16, 64, 256, 1024]
    duration_s = 1.5              # measured window of each point
    warmup_s = 0.5                # run before it, excluded from every figure
    repetitions = 3               # each point measured this often, in interleaved rounds
    seed = 1                      # of the run order (optional: default a new one each run)
    protocol = "zen"              # or "http" (docs/http.md); a workload may override these three
    path = "/beautiful"           # what an HTTP load generator asks for
    load_generator = "archbench-load"  # or "wrk" (HTTP, persistent, closed loop)
    instances = 1                 # archbench-server instances per point (harness/deployment.py:
                                  #   127.0.0.2, 127.0.0.3, ... on one port; the workload keys
                                  #   instances, balancer, hosts_policy, balance, check_inter_ms,
                                  #   kill_at_s, restart_after_s and timeline_ms deploy them)

    [placement]                   # CPU placement; "auto": load generator and server on separate cores
    server_cpus = "auto"          # e.g. "0" or "0-7"
    load_cpus = "auto"
    load_threads = "auto"         # archbench-load -t; auto: one per load CPU

    [server]                      # options given to every server
    threads = "auto"              # --threads / --processes of pooled variants: "auto" (not given:
    processes = "auto"            #   the architecture's default, one per server CPU unless it
                                  #   declares another), "connections" (one per connection), or N
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
    count_syscalls = true         # count system calls with perf where possible (false: don't)

    [hosts]                       # optional: across machines over ssh (hosts.py; docs/hosts.md)
    server = "ssh://bench@10.0.0.5"
    load = ["ssh://bench@10.0.0.6", "ssh://bench@10.0.0.7"]
    instances = ["ssh://bench@10.0.0.8"]  # a deployment's instances, in turn (default: server)
    balancer = "local"            # where HAProxy runs (default: the server host)

    [haproxy]                     # the balancer of workloads with balancer = "haproxy"
    balance = "roundrobin"        #   or "leastconn"; check_inter_ms, cpus, binary: deployment.py

    [quick]                       # overrides applied by --quick (make bench QUICK=1)
    connections = [1, 64]
    duration_s = 0.5
"""
from __future__ import annotations

import copy
import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path

import deployment
import hosts

WORKLOAD_KEYS = {"name", "session", "work_us", "sleep_us", "reply_bytes", "pipeline", "rate",
                 "idle", "rate_x_capacity", "rate_steps",  # these three: offered.py
                 "connections",  # this workload's own connection counts (default: the experiment's)
                 "count_syscalls",
                 "protocol", "path", "load_generator"} | deployment.WORKLOAD_KEYS  # the three: crosscheck.py
TOP_KEYS = {"name", "description", "architectures", "connections", "duration_s", "warmup_s",
            "repetitions", "seed", "placement", "server", "load", "workloads", "quick", "point_timeout_s",
            "slo_us", "capacity_probe_s", "hosts", "protocol", "path",
            "load_generator"} | deployment.TOP_KEYS


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
    idle: int = 0                # silent connections held open beside the measured ones
    rate_x_capacity: float | None = None  # open loop at this multiple of the measured capacity
    rate_steps: list | None = None        # [[multiple of capacity, seconds], ...] (overload)
    connections: tuple | None = None      # its own connection counts; None: the experiment's
    # Count system calls, faults and run-queue wait with perf (harness/perfcount.py) where the
    # machine allows; false runs the same workload uncounted (to measure what counting costs).
    count_syscalls: bool = True
    # Deployment (harness/deployment.py): None everywhere is one server reached directly.
    instances: int | None = None          # None: the experiment's `instances`
    balancer: str | None = None           # "haproxy": the clients reach the instances through it
    hosts_policy: str | None = None       # archbench-load --hosts-policy (direct clients)
    balance: str | None = None            # HAProxy's algorithm; None: [haproxy] balance
    check_inter_ms: int | None = None     # HAProxy's health-check interval; None: [haproxy]'s
    kill_at_s: float | None = None        # SIGKILL the first instance this far into the window
    restart_after_s: float | None = None  # and start it again this long after the kill
    timeline_ms: int | None = None        # archbench-load --timeline-ms
    # zen or http, the path asked for, archbench-load or wrk (crosscheck.py); None: the
    # experiment's.
    protocol: str | None = None
    path: str | None = None
    load_generator: str | None = None


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
    seed: int | None = None
    slo_us: float = 1000.0         # the latency SLO (p99) of the open-loop verdicts
    capacity_probe_s: float = 1.0  # the closed-loop probe behind relative rates
    hosts: "hosts.HostsConfig | None" = None  # [hosts]: None runs everything here, as always
    instances: int = 1             # servers per point (harness/deployment.py)
    haproxy: dict = dataclasses.field(default_factory=dict)  # the [haproxy] table
    protocol: str = "zen"          # each workload's unless it says (crosscheck.py)
    path: str = "/beautiful"
    load_generator: str = "archbench-load"

    def as_run(self) -> dict:
        """The experiment as it is run (after --quick and filters), for meta.json."""
        return {
            "name": self.name, "description": self.description,
            "architectures": self.architectures,
            "workloads": [w.__dict__ for w in self.workloads],
            "connections": self.connections, "duration_s": self.duration_s,
            "warmup_s": self.warmup_s, "repetitions": self.repetitions,
            "placement": self.placement, "server": self.server, "load": self.load,
            "point_timeout_s": self.point_timeout_s, "seed": self.seed,
            "slo_us": self.slo_us, "capacity_probe_s": self.capacity_probe_s,
            **({"hosts": self.source["hosts"]} if self.hosts else {}),
            "instances": self.instances, "haproxy": self.haproxy,
            "protocol": self.protocol, "path": self.path, "load_generator": self.load_generator,
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
        _check_offered(path, raw)
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
        seed=data.get("seed"),
        slo_us=float(data.get("slo_us", 1000.0)),
        capacity_probe_s=float(data.get("capacity_probe_s", 1.0)),
        instances=data.get("instances", 1),
        haproxy=dict(data.get("haproxy", {})),
        protocol=data.get("protocol", "zen"),
        path=data.get("path", "/beautiful"),
        load_generator=data.get("load_generator", "archbench-load"),
    )
    if "hosts" in data:
        try:
            experiment.hosts = hosts.parse_config(data["hosts"])
        except ValueError as error:
            raise ExperimentError(f"{path}: {error}") from None
    if experiment.seed is not None and not isinstance(experiment.seed, int):
        raise ExperimentError(f"{path}: seed must be an integer")
    for key in ("threads", "processes"):
        values = [experiment.server.get(key, "auto")] + [
            table.get(key, "auto") for table in experiment.server.get("arch", {}).values()]
        for value in values:
            if value not in ("auto", "connections") and not (isinstance(value, int) and value > 0):
                raise ExperimentError(f"{path}: server {key} must be \"auto\", \"connections\" "
                                      f"or a positive integer, not {value!r}")
    if experiment.slo_us <= 0 or experiment.capacity_probe_s <= 0:
        raise ExperimentError(f"{path}: slo_us and capacity_probe_s must be above 0")
    if experiment.duration_s <= 0 or experiment.warmup_s < 0 or experiment.repetitions < 1:
        raise ExperimentError(f"{path}: duration_s > 0, warmup_s >= 0 and repetitions >= 1")
    problem = deployment.check(experiment)
    if problem:
        raise ExperimentError(f"{path}: {problem}")
    return experiment


def _check_offered(path: Path, raw: dict) -> None:
    """The offered-load keys: idle a count, rates above 0, rate_steps [[multiple, seconds], ...],
    and one way of giving a rate at most."""
    name = raw["name"]
    idle = raw.get("idle", 0)
    if not isinstance(idle, int) or isinstance(idle, bool) or idle < 0:
        raise ExperimentError(f"{path}: workload {name}: idle must be an integer >= 0")
    given = [key for key in ("rate", "rate_x_capacity", "rate_steps") if raw.get(key) is not None]
    if len(given) > 1:
        raise ExperimentError(f"{path}: workload {name}: give one of {', '.join(given)}")
    for key in ("rate", "rate_x_capacity"):
        value = raw.get(key)
        if value is not None and not (isinstance(value, (int, float)) and value > 0):
            raise ExperimentError(f"{path}: workload {name}: {key} must be a number above 0")
    steps = raw.get("rate_steps")
    if steps is not None and not (isinstance(steps, list) and steps and all(
            isinstance(s, list) and len(s) == 2 and all(
                isinstance(v, (int, float)) and v > 0 for v in s) for s in steps)):
        raise ExperimentError(f"{path}: workload {name}: rate_steps must be [[multiple of "
                              f"capacity, seconds], ...], every number above 0")
    if steps is not None:
        raw["rate_steps"] = tuple(tuple(step) for step in steps)  # Workload stays hashable
    if "connections" in raw:
        raw["connections"] = tuple(_positive_ints(raw["connections"],
                                                  f"{path}: workload {name}: connections"))


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def point_connections(experiment: Experiment, workload: Workload) -> list[int]:
    """The connection counts a workload is measured at: its own, or the experiment's."""
    return list(workload.connections or experiment.connections)


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
            # The command line's counts replace every workload's own too.
            experiment.workloads = [dataclasses.replace(w, connections=None)
                                    for w in experiment.workloads]
        except ValueError:
            raise ExperimentError(f"connections must be comma-separated positive integers, "
                                  f"not '{connections}'") from None
    return experiment
