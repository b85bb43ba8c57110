"""Deployment points: several instances of an architecture, clients that know every address or a
load balancer in front of them, and one instance killed in the middle of the measured window.

The chapter's argument, made measurable on one machine. Each instance is an ordinary
archbench-server on a loopback address of its own (127.0.0.2, 127.0.0.3, ...; all of
127.0.0.0/8 is loopback on Linux), all on one port, as the machines of a real deployment would
be. A workload chooses how the clients reach them:

    direct, hosts_policy = "first"     every connection to the first address (a hardwired client)
    direct, hosts_policy = "spread"    connections dealt over the addresses (round-robin DNS)
    direct, hosts_policy = "fallback"  each connection moves to the next address when its own
                                       fails (a client given every address DNS returned)
    balancer = "haproxy"               the clients know one address, HAProxy's (haproxy.py),
                                       which forwards each connection to a live instance

and, for failover, `kill_at_s` SIGKILLs the first instance (the one hardwired clients use, the
one fallback clients start on) that far into the measured window, and `restart_after_s` starts
it again that long after. The load then runs with a timeline of 100 ms slices
(archbench-load --timeline-ms), and the point gets, beside the usual figures:

    failed_after_kill   requests that failed in the timeline from the kill's slice on
    recovery_s          from the kill until a slice answered RECOVERED_SHARE of the requests per
                        second before it (empty, with recovery_note, when none did)
    revived_serving_s   from the restart until the revived instance served again: for direct
                        clients, the first established client connection to its address in
                        /proc/net/tcp; behind HAProxy, the first connection haproxy forwarded to
                        it (its stats socket); both polled every SERVING_POLL_S

The timeline and the kill share one clock: archbench-load is started with --start-at (its
warm-up begins at that wall-clock instant, its window warmup_s later), and the kill and restart
are scheduled against that instant and recorded in the window's time (raw/LABEL.events.json).

Each instance is pinned to the server CPUs (on a machine with fewer CPUs than instances they
share them; meta.json's notes say so) and measured as point.py measures a server: the rusage
snapshots at each end of the window (asked for just before the SIGKILL for the killed one; a
revived instance counts from its birth, inside the window), /proc samples of memory, threads and
processes. raw/LABEL.instances.json holds each instance's figures; points.csv their sum (peak
memory: the instances' peaks added up). HAProxy is measured apart (lb_cpu_us_per_req, lb_rss_kb).
System calls are not counted in deployment points (perf counting follows one server).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import haproxy
import offered
import point
import procstat
import sentinel

TOP_KEYS = {"instances", "haproxy"}
WORKLOAD_KEYS = {"instances", "balancer", "hosts_policy", "balance", "check_inter_ms",
                 "kill_at_s", "restart_after_s", "timeline_ms"}
HAPROXY_KEYS = {"binary", "balance", "check_inter_ms", "cpus"}
POLICIES = ("first", "spread", "fallback")
MAX_INSTANCES = 250            # 127.0.0.2 ... 127.0.0.251
DEFAULT_CHECK_INTER_MS = 100
FAILOVER_TIMELINE_MS = 100     # the timeline's slice when an instance is killed
RECOVERED_SHARE = 0.9          # recovered: a slice answered this share of the rate before the kill
START_LEAD_S = 0.5             # archbench-load opens its connections before its --start-at
SERVING_POLL_S = 0.02
PORT_ATTEMPTS = 3


def address(index: int) -> str:
    """The loopback address of instance `index` (0-based): 127.0.0.2, 127.0.0.3, ..."""
    return f"127.0.0.{index + 2}"


@dataclass(frozen=True)
class Plan:
    """How one workload deploys its architecture."""
    instances: int
    balancer: str | None
    hosts_policy: str
    balance: str
    check_inter_ms: int
    kill_at_s: float | None
    restart_after_s: float | None
    timeline_ms: int

    @property
    def addresses(self) -> list[str]:
        return [address(i) for i in range(self.instances)]

    @property
    def strategy(self) -> str:
        """A short name for how the clients reach the instances."""
        return f"haproxy {self.balance}" if self.balancer else self.hosts_policy


def plan(workload, experiment) -> Plan:
    table = experiment.haproxy
    return Plan(
        instances=workload.instances or experiment.instances,
        balancer=workload.balancer,
        hosts_policy=workload.hosts_policy or "first",
        balance=workload.balance or table.get("balance", "roundrobin"),
        check_inter_ms=workload.check_inter_ms or table.get("check_inter_ms",
                                                            DEFAULT_CHECK_INTER_MS),
        kill_at_s=workload.kill_at_s, restart_after_s=workload.restart_after_s,
        timeline_ms=workload.timeline_ms or (FAILOVER_TIMELINE_MS if workload.kill_at_s
                                             is not None else 1000))


def applies(workload, experiment) -> bool:
    """Whether a point of this workload is a deployment point (else point.py's one server)."""
    return experiment.instances != 1 or any(getattr(workload, key) is not None
                                            for key in WORKLOAD_KEYS)


def _count(value, least: int = 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _seconds(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check(experiment) -> str:
    """Why the experiment's deployment keys cannot be run, in one line, or ""."""
    if not _count(experiment.instances) or experiment.instances > MAX_INSTANCES:
        return f"instances must be an integer from 1 to {MAX_INSTANCES}"
    table = experiment.haproxy
    unknown = set(table) - HAPROXY_KEYS
    if unknown:
        return f"unknown keys haproxy.{', haproxy.'.join(sorted(unknown))}"
    if table.get("balance", "roundrobin") not in haproxy.BALANCES:
        return f"haproxy balance must be one of {', '.join(haproxy.BALANCES)}"
    if not _count(table.get("check_inter_ms", DEFAULT_CHECK_INTER_MS)):
        return "haproxy check_inter_ms must be a positive integer"
    try:
        _parse_cpus(table.get("cpus", "auto"))
    except ValueError:
        return "haproxy cpus must be \"auto\" or look like '2', '2-3' or '2,5'"
    window = experiment.duration_s
    for w in experiment.workloads:
        name = f"workload {w.name}"
        if w.instances is not None and (not _count(w.instances) or w.instances > MAX_INSTANCES):
            return f"{name}: instances must be an integer from 1 to {MAX_INSTANCES}"
        if w.balancer not in (None, "haproxy"):
            return f"{name}: balancer must be \"haproxy\" (or absent: direct clients)"
        if w.hosts_policy is not None and w.hosts_policy not in POLICIES:
            return f"{name}: hosts_policy must be one of {', '.join(POLICIES)}"
        if w.hosts_policy is not None and w.balancer:
            return f"{name}: hosts_policy is for direct clients (behind haproxy they know one " \
                   f"address)"
        if w.balance is not None and w.balance not in haproxy.BALANCES:
            return f"{name}: balance must be one of {', '.join(haproxy.BALANCES)}"
        for key in ("check_inter_ms", "timeline_ms"):
            if getattr(w, key) is not None and not _count(getattr(w, key)):
                return f"{name}: {key} must be a positive integer"
        if applies(w, experiment) and (w.rate_x_capacity or w.rate_steps):
            return f"{name}: rates relative to capacity are not measured in deployment points"
        if w.restart_after_s is not None and w.kill_at_s is None:
            return f"{name}: restart_after_s needs kill_at_s"
        if w.kill_at_s is None:
            continue
        slice_s = plan(w, experiment).timeline_ms / 1000
        if not _seconds(w.kill_at_s) or not slice_s <= w.kill_at_s < window:
            return (f"{name}: kill_at_s = {w.kill_at_s} is outside the measured window (it "
                    f"must leave one timeline slice, {slice_s:g} s, before the kill and be "
                    f"below duration_s = {window:g} s)")
        if w.restart_after_s is not None and (not _seconds(w.restart_after_s)
                                              or w.restart_after_s <= 0
                                              or w.kill_at_s + w.restart_after_s >= window):
            return (f"{name}: restart_after_s = {w.restart_after_s} puts the restart outside "
                    f"the measured window (kill_at_s + restart_after_s must be below "
                    f"duration_s = {window:g} s)")
    return ""


def _parse_cpus(text) -> list[int] | None:
    """None for "auto", else the CPUs ("2", "2-3", "2,5"), as bench.parse_cpus reads them."""
    if text == "auto":
        return None
    from bench import parse_cpus  # noqa: PLC0415 (bench imports this module's importers)
    cpus = parse_cpus(str(text))
    if not cpus:
        raise ValueError(text)
    return cpus


def balancer_cpus(experiment, placement: point.Placement,
                  allowed: list[int] | None = None) -> tuple[list[int], str]:
    """HAProxy's CPUs and a note on them: [haproxy] cpus, or "auto": the CPUs (of `allowed`,
    by default this machine's) that neither the servers nor the load generator have, else
    (none left) the servers' own, shared."""
    given = _parse_cpus(experiment.haproxy.get("cpus", "auto"))
    if given:
        return given, f"haproxy on CPUs {given} (the experiment's [haproxy] cpus)"
    taken = set(placement.server_cpus) | set(placement.load_cpus)
    free = [cpu for cpu in sorted(allowed or os.sched_getaffinity(0)) if cpu not in taken]
    if free:
        return free, f"haproxy on CPUs {free} of its own"
    return list(placement.server_cpus), (f"haproxy shares the server CPUs "
                                          f"{placement.server_cpus} with the instances (no CPU "
                                          f"is left for it of its own)")


def placement_notes(experiment, placement: point.Placement) -> list[str]:
    """For meta.json's notes: where the instances and HAProxy run."""
    plans = [plan(w, experiment) for w in experiment.workloads if applies(w, experiment)]
    notes = []
    most = max((p.instances for p in plans), default=1)
    if most > 1:
        shared = most > len(placement.server_cpus)
        notes.append(f"deployment: up to {most} instances per point, on 127.0.0.2 to "
                     f"{address(most - 1)}, each pinned to the server CPUs "
                     f"{placement.server_cpus}" + (" (they share them)" if shared else ""))
    if any(p.balancer for p in plans):
        notes.append(balancer_cpus(experiment, placement)[1])
    return notes


# --------------------------------------------------------------------------- the timeline

def failover_figures(timeline: list[dict], slice_s: float, kill_s: float) -> dict:
    """From a timeline of `slice_s` slices and the kill's time in the window: requests failed
    from the kill's slice on, the rate before the kill (the mean over the whole slices before
    it), and recovery_s: from the kill to the start of the first slice that answered
    RECOVERED_SHARE of that rate; 0 when the kill's own slice and the next both did (no dip at
    this resolution); None, with a note, when none did."""
    if not timeline:
        return {"recovery_note": "the load generator wrote no timeline"}
    def length(entry: dict) -> float:
        return entry.get("duration_s") or slice_s

    before = [e["ok"] / length(e) for e in timeline if e["t"] + length(e) <= kill_s + 1e-9]
    after = [e for e in timeline if e["t"] + length(e) > kill_s + 1e-9]  # the kill's slice on
    figures = {"failed_after_kill": sum(int(e.get("errors", 0)) for e in after)}
    if not before:
        figures["recovery_note"] = "no timeline slice before the kill"
        return figures
    rate = sum(before) / len(before)
    figures["rps_before_kill"] = rate
    threshold = RECOVERED_SHARE * rate

    def back(entry: dict) -> bool:
        return entry["ok"] / length(entry) >= threshold

    if len(after) >= 2 and back(after[0]) and back(after[1]):
        figures["recovery_s"] = 0.0
        return figures
    for entry in after[1:]:
        if back(entry):
            figures["recovery_s"] = max(0.0, entry["t"] - kill_s)
            return figures
    figures["recovery_note"] = (f"throughput never came back to {RECOVERED_SHARE:.0%} of the "
                                f"{rate:,.0f} req/s before the kill within the window")
    return figures


# --------------------------------------------------------------------------- instances

def common_free_port(addresses: list[str]) -> int:
    """A port that is free on every address now (the instances bind it one after another)."""
    for _ in range(50):
        sockets = []
        try:
            first = socket.socket()
            sockets.append(first)
            first.bind((addresses[0], 0))
            port = first.getsockname()[1]
            for other in addresses[1:]:
                probe = socket.socket()
                sockets.append(probe)
                probe.bind((other, port))
            return port
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise point.PointFailed(f"no port free on all of {', '.join(addresses)}")


def window_reports(reports: list[dict], born_s: float | None) -> list[dict]:
    """The rusage reports that bound a life's window: a life born inside the window (a
    restart) counts from zero, its birth, to its one report at the end."""
    if born_s is not None and reports:
        return [{key: 0.0 for key in reports[0]}, reports[-1]]
    return reports


def sampler_peaks(sampler: point.Sampler) -> dict:
    return {"rss_kb": sampler.peak_rss_kb, "pss_kb": sampler.peak_pss_kb,
            "threads": sampler.peak_threads, "processes": sampler.peak_processes}


def life_figures(index: int, where: str, pid: int, born_s: float | None,
                 killed_s: float | None, stderr_name: str, window_s: float,
                 at_start: procstat.GroupSample, at_end: procstat.GroupSample,
                 reports: list[dict], asked_at: list[float], peaks: dict) -> dict:
    """One life's entry of raw/LABEL.instances.json: its CPU over its part of the window
    (procstat's rules, as a lone server's), its peaks, when it was born and killed."""
    accounting = procstat.cpu_accounting(reports, window_s, asked_at)
    user, system = procstat.window_cpu(at_start, at_end, reports, window_s, asked_at)
    figures = {"instance": index + 1, "address": where, "pid": pid, "started_s": born_s,
               "killed_s": killed_s, "stderr": stderr_name, "cpu_accounting": accounting,
               "user_s": user, "sys_s": system, "peak_rss_kb": peaks["rss_kb"],
               "peak_pss_kb": peaks["pss_kb"], "peak_threads": peaks["threads"],
               "peak_processes": peaks["processes"]}
    if accounting == "exact":
        figures["switches"] = (procstat.rusage_switches(reports[-1])
                               - procstat.rusage_switches(reports[-2]))
    return figures


class Life:
    """One server process of one instance: the first from before the window, a second one
    after a restart. Its CPU is counted from the window's start (or its birth, inside the
    window) to the window's end (or its kill)."""

    def __init__(self, index: int, server: point.Server, born_s: float | None = None):
        self.index = index
        self.server = server
        self.born_s = born_s        # window time of a restart; None: running before the window
        self.killed_s = None
        self.sampler = point.Sampler(server.pgid)
        self.sampler.start()
        self.at_start = procstat.GroupSample()  # a life born in the window starts from zero
        self.reports: list[dict] = []
        self.ended = False
        self.stopped = False

    def window_starts(self) -> None:
        self.server.report_usage()
        self.at_start = procstat.sample_group(self.server.pgid, memory=False)

    def window_ends(self) -> None:
        """Its report and sample at the end of its window (the point's end, or just before its
        kill); its CPU is then in self.figures()."""
        self.snapshot()
        self.sampler.finish()

    def snapshot(self) -> None:
        """The end of its window: its rusage report and a last sample."""
        self.server.report_usage()
        wanted = 1 if self.born_s is not None else 2
        self.reports = window_reports(self.server.rusage_reports(wanted), self.born_s)
        self.at_end = procstat.sample_group(self.server.pgid)
        self.sampler.take(self.at_end)
        self.ended = True

    def figures(self, window_s: float) -> dict:
        return life_figures(self.index, address(self.index), self.server.pgid, self.born_s,
                            self.killed_s, self.server.stderr_path.name, window_s,
                            self.at_start, self.at_end, self.reports, self.server.asked_at,
                            sampler_peaks(self.sampler))

    def stop(self) -> str:
        """Stops it as point.py stops a server (once); a note on anything that went wrong."""
        if self.stopped:
            return ""
        self.stopped = True
        self.sampler.finish()
        if self.server.exit_code() is None:
            return self.server.stop()
        self.server.kill()  # reaps it and anything left of its session
        return ""

    def kill(self) -> float:
        """SIGKILL to the instance's whole session (the machine it stands for is gone), just
        after its snapshot; returns the wall-clock time of the signal."""
        self.snapshot()
        self.stopped = True
        signalled = time.time()
        self.server.kill()
        self.sampler.finish()
        return signalled


def _start_server(binaries, spec, experiment, placement, raw: Path, index: int, port: int,
                  suffix: str = "") -> point.Server:
    return point.Server(binaries, spec, experiment, placement,
                        raw / f"{spec.label}.i{index + 1}{suffix}.server.stderr",
                        host=address(index), port=port)


def _start_instances(binaries, spec, experiment, placement, raw, lives: list[Life],
                     the_plan: Plan) -> int:
    """Starts every instance on one port (appending each to `lives` at once, so that an
    interrupted start leaves none behind); a port taken meanwhile means another port."""
    for attempt in range(PORT_ATTEMPTS):
        port = common_free_port(the_plan.addresses)
        try:
            for index in range(the_plan.instances):
                lives.append(Life(index, _start_server(binaries, spec, experiment, placement,
                                                       raw, index, port)))
            return port
        except point.PointFailed as failure:
            for life in lives:
                life.stop()
            lives.clear()
            if "in use" not in str(failure) or attempt == PORT_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def established(host: str, port: int) -> bool:
    """Whether a TCP connection to host:port is established (/proc/net/tcp, the kernel's table:
    local address as little-endian hex, state 01)."""
    wanted = "".join(f"{int(part):02X}" for part in reversed(host.split("."))) + f":{port:04X}"
    try:
        with open("/proc/net/tcp", encoding="ascii") as table:
            next(table)
            return any(fields[1] == wanted and fields[3] == "01"
                       for fields in (line.split() for line in table))
    except OSError:
        return False


def _sleep_until(wall: float, load: subprocess.Popen) -> bool:
    """Sleeps until time.time() reaches `wall`; False when the load generator exited first."""
    while (left := wall - time.time()) > 0:
        if load.poll() is not None:
            return False
        time.sleep(min(0.01, left))
    return True


# --------------------------------------------------------------------------- one point

def base_row(spec, experiment, the_plan: Plan) -> dict:
    """point.base_row with how the point deploys its architecture."""
    row = point.base_row(spec, experiment)
    row.update(instances=the_plan.instances, balancer=the_plan.balancer or "direct",
               hosts_policy="" if the_plan.balancer else the_plan.hosts_policy,
               balance=the_plan.balance if the_plan.balancer else "",
               timeline_ms=the_plan.timeline_ms)
    return row


def load_flags(the_plan: Plan, start_at: float) -> list[str]:
    """archbench-load's flags for a deployment: its timeline, its common start, and (direct
    clients) how connections use the instances' addresses."""
    flags = ["--timeline-ms", str(the_plan.timeline_ms)] if the_plan.timeline_ms != 1000 else []
    flags += ["--start-at", f"{start_at:.6f}"]  # (1000 ms: archbench-load's default)
    return flags + ([] if the_plan.balancer else ["--hosts-policy", the_plan.hosts_policy])


def finish_row(row: dict, the_plan: Plan, result: dict, events: list[dict], serving: dict,
               origin: float, raw: Path, spec) -> list[str]:
    """The failover columns and raw/LABEL.events.json, the events put in the load generator's
    window time (`origin`: the wall-clock instant its window opened); notes for the reason."""
    for event in events:
        event["t"] = event.pop("wall") - origin
    notes = _failover_row(row, the_plan, result, events, serving)
    (raw / f"{spec.label}.events.json").write_text(json.dumps(
        {"timeline_ms": the_plan.timeline_ms, "strategy": the_plan.strategy,
         "events": events}, indent=1) + "\n", encoding="utf-8")
    return notes


def balancer_figures(row: dict, lb_cpu_s: float, lb_rss_kb: int) -> None:
    row["lb_rss_kb"] = lb_rss_kb
    if row["requests_ok"] > 0:
        row["lb_cpu_us_per_req"] = lb_cpu_s * 1e6 / row["requests_ok"]
    row["lb_cpu_s"] = lb_cpu_s


def measure(binaries, spec, experiment, placement, raw: Path) -> dict:
    """Measures one deployment point; always returns a row, as point.run_point does."""
    the_plan = plan(spec.workload, experiment)
    row = base_row(spec, experiment, the_plan)
    lives: list[Life] = []
    balancer = None
    load = None
    try:
        port = _start_instances(binaries, spec, experiment, placement, raw, lives, the_plan)
        lb_cpus = balancer_cpus(experiment, placement)[0]
        if the_plan.balancer:
            balancer = haproxy.HAProxy(
                experiment.haproxy.get("binary", "haproxy"),
                [(f"i{i + 1}", address(i), port) for i in range(the_plan.instances)],
                the_plan.balance, the_plan.check_inter_ms,
                spec.connections + spec.workload.idle + 64, lb_cpus, raw, spec.label)
        json_path, hgrm_path = raw / f"{spec.label}.json", raw / f"{spec.label}.hgrm"
        command = point.load_command(
            binaries, spec, experiment, placement, balancer.port if balancer else port,
            json_path, hgrm_path,
            host="127.0.0.1" if balancer else ",".join(the_plan.addresses))
        start_at = time.time() + START_LEAD_S
        command += load_flags(the_plan, start_at)
        row["offered_rps"] = offered.rate_flags(spec.workload, None)[1]
        window_wall = start_at + experiment.warmup_s
        events: list[dict] = []
        with open(raw / f"{spec.label}.load.txt", "wb") as load_output:
            load = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=load_output,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=point._pinned(placement.load_cpus))
            _sleep_until(window_wall, load)
            for life in lives:
                life.window_starts()
            lb_start = (balancer.on_cpu_s(), point.Sampler(balancer.pgid)) if balancer else None
            if lb_start:
                lb_start[1].start()
            cores_at_start = sentinel.cpu_times()
            window_start = time.monotonic()
            serving = _failover(the_plan, binaries, spec, experiment, placement, raw, lives,
                                balancer, load, port, window_wall, events)
            limit = window_start + experiment.duration_s + \
                experiment.load.get("timeout_ms", 1000) / 1000 + experiment.point_timeout_s
            while load.poll() is None and time.monotonic() < limit:
                time.sleep(0.02)
            if load.poll() is None:
                raise point.PointFailed(f"load generator still running "
                                        f"{limit - window_start:.0f} s into its window "
                                        f"(an instance hung?)")
            for life in lives:
                if not life.ended:
                    life.window_ends()
            cores_at_end = sentinel.cpu_times()
            lb_cpu_s = balancer.on_cpu_s() - lb_start[0] if balancer else None
            if balancer:
                lb_start[1].take(balancer.sample())
                lb_start[1].finish()
            window_s = time.monotonic() - window_start
        try:
            servers_at_end = balancer.servers() if balancer else {}
        except OSError:
            servers_at_end = {}
        for life in lives:
            died = life.server.exit_code()
            if died is not None and life.killed_s is None:
                raise point.PointFailed(
                    f"instance {address(life.index)} died during the run "
                    f"({point._exit_description(died)}): {point._tail(life.server.stderr_path)}")
        if balancer and balancer.exit_code() is not None:
            raise point.PointFailed(f"haproxy died during the run: {balancer.stderr_tail()}")
        if load.returncode == 2:
            raise point.PointFailed(f"load generator refused its command line: "
                                    f"{point._tail(raw / f'{spec.label}.load.txt')}")
        try:
            result = json.loads(json_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise point.PointFailed(
                f"load generator wrote no JSON ({point._exit_description(load.returncode)}): "
                f"{point._tail(raw / f'{spec.label}.load.txt')}") from None
        point._fill_from_load(row, result)
        row["slo_met"] = offered.slo_met(row, experiment.slo_us)
        row["window_s"] = window_s
        notes = instance_figures(row, [life.figures(window_s) for life in lives if life.ended],
                                 result, servers_at_end, raw, spec)
        if balancer:
            balancer_figures(row, lb_cpu_s, lb_start[1].peak_rss_kb)
        _cross_check(row, placement, lb_cpus, cores_at_start, cores_at_end, lb_cpu_s,
                     result.get("loadgen", {}).get("cpu_s"))
        # The events in the load generator's window: it started late by start_late_s.
        notes += finish_row(row, the_plan, result, events, serving,
                            window_wall + float(result.get("start_late_s") or 0), raw, spec)
        stop_notes = [note for life in lives if (note := life.stop())]
        notes += stop_notes
        if row["requests_ok"] == 0:
            notes.insert(0, "no request succeeded (every instance hung or refused?)")
        row["status"] = "ok" if row["requests_ok"] > 0 else "failed"
        row["reason"] = "; ".join(notes)
        return row
    except (point.PointFailed, haproxy.HAProxyFailed) as failure:
        row["status"] = "failed"
        row["reason"] = str(failure)
        return row
    finally:
        if load is not None and load.poll() is None:
            point._kill_group(load)
        for life in lives:
            life.stop()
        if balancer is not None:
            balancer.stop()


def _failover(the_plan: Plan, binaries, spec, experiment, placement, raw, lives: list[Life],
              balancer, load, port: int, window_wall: float, events: list[dict]) -> dict:
    """The kill and the restart, on time; then, until the revived instance serves or the load
    ends, the watch for its first connection. Returns {"serving_wall": ...} when seen."""
    if the_plan.kill_at_s is None:
        return {}
    if not _sleep_until(window_wall + the_plan.kill_at_s, load):
        return {}
    victim = lives[0]
    killed = victim.kill()  # its CPU counted to this instant, from its own rusage snapshot
    victim.killed_s = killed - window_wall
    events.append({"event": "kill", "instance": address(0), "wall": killed})
    if the_plan.restart_after_s is None:
        return {}
    if not _sleep_until(killed + the_plan.restart_after_s, load):
        return {}
    restarted = time.time()
    server = _start_server(binaries, spec, experiment, placement, raw, 0, port, ".restarted")
    lives.append(Life(0, server, born_s=restarted - window_wall))
    listening = time.time()
    events.append({"event": "restart", "instance": address(0), "wall": restarted})
    events.append({"event": "listening", "instance": address(0), "wall": listening})
    forwarded = balancer.forwarded("i1") if balancer else None
    while load.poll() is None:
        if balancer:
            seen = balancer.forwarded("i1", forwarded) > forwarded
        else:
            seen = established(address(0), port)
        if seen:
            wall = time.time()
            events.append({"event": "serving", "instance": address(0), "wall": wall})
            return {"serving_wall": wall, "restart_wall": restarted}
        time.sleep(SERVING_POLL_S)
    return {"restart_wall": restarted}


def _failover_row(row: dict, the_plan: Plan, result: dict, events: list[dict],
                  serving: dict) -> list[str]:
    """The failover columns from the timeline and the events; notes for the row's reason."""
    kill = next((e for e in events if e["event"] == "kill"), None)
    if the_plan.kill_at_s is None:
        return []
    if kill is None:
        return ["the load generator ended before the kill"]
    row["kill_s"] = kill["t"]
    slice_s = (result.get("config", {}).get("timeline_ms") or the_plan.timeline_ms) / 1000
    figures = failover_figures(result.get("timeline") or [], slice_s, kill["t"])
    row.update(figures)
    restart = next((e for e in events if e["event"] == "restart"), None)
    if restart is not None:
        row["restart_s"] = restart["t"]
        if "serving_wall" in serving:
            row["revived_serving_s"] = serving["serving_wall"] - serving["restart_wall"]
        else:
            row["revived_note"] = "the revived instance got no connection within the window"
    return []


def instance_figures(row: dict, lives: list[dict], result: dict, lb_servers: dict, raw: Path,
                     spec) -> list[str]:
    """Per instance (raw/LABEL.instances.json) and summed (the row's server_* columns), from
    each life's life_figures(); notes for the row's reason."""
    hosts = {entry.get("host"): entry for entry in result.get("hosts") or []}
    instances: dict[str, dict] = {}
    for life in lives:
        entry = instances.setdefault(life["address"], {"address": life["address"],
                                                       "name": f"i{life['instance']}",
                                                       "lives": []})
        entry["lives"].append(life)
    accounting = "exact"
    user = system = switches = 0.0
    totals = {"peak_rss_kb": 0, "peak_pss_kb": 0, "peak_threads": 0, "peak_processes": 0}
    for host, entry in instances.items():
        for key in totals:  # one instance's lives do not overlap: its peak is their largest
            entry[key] = max(life[key] for life in entry["lives"])
            totals[key] += entry[key]
        entry["user_s"] = sum(life["user_s"] for life in entry["lives"])
        entry["sys_s"] = sum(life["sys_s"] for life in entry["lives"])
        user += entry["user_s"]
        system += entry["sys_s"]
        for life in entry["lives"]:
            if life["cpu_accounting"] != "exact" and accounting == "exact":
                accounting = f"{host}: {life['cpu_accounting']}"
            switches += life.get("switches", 0)
        if host in hosts:
            entry["requests_ok"] = hosts[host].get("requests_ok")
            entry["errors"] = hosts[host].get("errors")
        if entry["name"] in lb_servers:
            entry["connections_forwarded"] = int(lb_servers[entry["name"]].get("stot") or 0)
    (raw / f"{spec.label}.instances.json").write_text(
        json.dumps(list(instances.values()), indent=1) + "\n", encoding="utf-8")
    row.update(server_rss_kb=totals["peak_rss_kb"], server_pss_kb=totals["peak_pss_kb"],
               server_threads=totals["peak_threads"],
               server_processes=totals["peak_processes"], cpu_accounting=accounting,
               servers_cpu_s=user + system)
    requests = row["requests_ok"]
    notes = []
    if accounting == "exact":
        row.update(server_user_s=user, server_sys_s=system)
        if requests > 0:
            row["server_cpu_us_per_req"] = (user + system) * 1e6 / requests
            row["ctx_switches_per_req"] = switches / requests
    else:
        notes.append(f"server CPU not written: {accounting}")
    return notes


def _cross_check(row: dict, placement, lb_cpus: list[int], cores_start, cores_end,
                 lb_cpu_s: float | None, load_cpu_s: float | None) -> None:
    """point.py's check of the servers' CPU against their cores, with HAProxy's CPU counted as
    ours (not foreign) on the CPUs it shares."""
    servers = row.pop("servers_cpu_s", 0.0)
    lb = lb_cpu_s or 0.0
    on_servers = lb if set(lb_cpus) <= set(placement.server_cpus) else 0.0
    on_load = lb if not on_servers and set(lb_cpus) <= set(placement.load_cpus) else 0.0
    point._cross_check(row, placement, cores_start, cores_end, servers + on_servers,
                       (load_cpu_s or 0.0) + on_load)


def describe(row: dict) -> str:
    """What bench.py adds to a deployment point's line."""
    parts = []
    if row.get("lb_cpu_us_per_req") is not None:
        parts.append(f"haproxy cpu/req {row['lb_cpu_us_per_req']:.1f} us")
    if row.get("kill_s") is not None:
        parts.append(f"{row.get('failed_after_kill', 0):,} failed after the kill")
        recovery = row.get("recovery_s")
        parts.append(f"recovered in {recovery:.2f} s" if recovery is not None
                     else "not recovered")
    if row.get("revived_serving_s") is not None:
        parts.append(f"revived instance serving {row['revived_serving_s']:.2f} s after its "
                     f"restart")
    return ("  [" + "; ".join(parts) + "]") if parts else ""

