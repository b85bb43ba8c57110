"""One point: a fresh server pinned to its cores, one archbench-load run pinned to others, the
server's cost measured over the load generator's window, then the server stopped.

A point never raises for what a server does: a server that does not start, dies, hangs or will
not stop gives a row with status "failed" and the reason, and the run goes on.
"""
from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import procstat

STARTUP_TIMEOUT_S = 10.0
STOP_GRACE_S = 2.0
SAMPLE_INTERVAL_S = 0.25


@dataclass
class Binaries:
    server: Path
    load: Path


@dataclass
class Placement:
    server_cpus: list[int]
    load_cpus: list[int]
    load_threads: int

    def as_meta(self) -> dict:
        return self.__dict__.copy()


@dataclass
class PointSpec:
    arch: str
    workload: object  # experiment.Workload
    connections: int
    rep: int

    @property
    def label(self) -> str:
        return f"{self.arch}-{self.workload.name}-c{self.connections}-r{self.rep}"


def pool_size(experiment, arch: str, option: str, connections: int,
              placement: Placement) -> int:
    """--threads or --processes for one point: the experiment's [server] value, or its
    [server.arch.NAME] override: "auto" is one per server CPU, "connections" one per
    connection (a pool of blocking workers serves one client each), or a number."""
    value = experiment.server.get("arch", {}).get(arch, {}).get(
        option, experiment.server.get(option, "auto"))
    if value == "auto":
        return len(placement.server_cpus)
    if value == "connections":
        return connections
    return int(value)


class PointFailed(Exception):
    """A point that cannot be measured; the message is the row's reason."""


def _pinned(cpus: list[int]):
    def pin():
        os.sched_setaffinity(0, cpus)
    return pin


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _tail(path: Path, lines: int = 1) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    text = [line for line in text if not line.startswith("rusage ")]
    return " | ".join(text[-lines:])


def _exit_description(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class Server:
    """A running archbench-server in a process group of its own."""

    def __init__(self, binaries: Binaries, spec: PointSpec, experiment, placement: Placement,
                 stderr_path: Path):
        workload = spec.workload
        self.command = [str(binaries.server), "--arch", spec.arch, "--port", "0",
                        "--threads", str(pool_size(experiment, spec.arch, "threads",
                                                   spec.connections, placement)),
                        "--processes", str(pool_size(experiment, spec.arch, "processes",
                                                     spec.connections, placement)),
                        "--work-us", str(workload.work_us), "--sleep-us", str(workload.sleep_us),
                        "--reply-bytes", str(workload.reply_bytes)]
        self.stderr_path = stderr_path
        with open(stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
                start_new_session=True, preexec_fn=_pinned(placement.server_cpus))
        self.pgid = self.process.pid
        self.port = self._wait_for_listening_line()

    def _wait_for_listening_line(self) -> int:
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        text = b""
        try:
            while b"\n" not in text:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PointFailed(f"server did not print 'listening on' within "
                                      f"{STARTUP_TIMEOUT_S:.0f} s")
                if not selector.select(timeout=left):
                    continue
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    code = self.process.wait(timeout=STOP_GRACE_S)
                    raise PointFailed(f"server failed to start ({_exit_description(code)}): "
                                      f"{_tail(self.stderr_path)}")
                text += chunk
        finally:
            selector.close()
        line = text.split(b"\n", 1)[0].decode(errors="replace")
        if not line.startswith("listening on ") or ":" not in line:
            raise PointFailed(f"server printed '{line}' instead of 'listening on HOST:PORT'")
        return int(line.rsplit(":", 1)[1])

    def exit_code(self) -> int | None:
        return self.process.poll()

    def report_usage(self) -> None:
        """Asks the server for its "rusage" line (CPU and context switches, ended threads and
        reaped children included)."""
        try:
            os.kill(self.process.pid, signal.SIGUSR1)
        except ProcessLookupError:
            pass

    def rusage_reports(self, count: int, timeout_s: float = 2.0) -> list[dict[str, float]]:
        deadline = time.monotonic() + timeout_s
        while True:
            reports = procstat.parse_rusage_reports(
                self.stderr_path.read_text(encoding="utf-8", errors="replace"))
            if len(reports) >= count or time.monotonic() > deadline:
                return reports
            time.sleep(0.01)

    def stop(self) -> str:
        """SIGTERM, then SIGKILL of the whole group after the grace period. Returns a note on
        anything that went wrong, or ""."""
        note = ""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                note = f"server did not stop within {STOP_GRACE_S:.0f} s of SIGTERM; killed"
        left = [pid for pid in procstat.group_members(self.pgid)]
        if left and not note:
            note = f"server left {len(left)} process(es) behind; killed"
        _kill_group(self.process)
        if self.process.stdout:
            self.process.stdout.close()
        return note

    def kill(self) -> None:
        _kill_group(self.process)


class Sampler(threading.Thread):
    """Peaks of the server's memory, threads and processes, sampled while the load runs."""

    def __init__(self, pgid: int):
        super().__init__(daemon=True)
        self.pgid = pgid
        self.peak_rss_kb = 0
        self.peak_pss_kb = 0
        self.peak_threads = 0
        self.peak_processes = 0
        self._stop_event = threading.Event()

    def take(self, sample: procstat.GroupSample) -> None:
        self.peak_rss_kb = max(self.peak_rss_kb, sample.rss_kb)
        self.peak_pss_kb = max(self.peak_pss_kb, sample.pss_kb)
        self.peak_threads = max(self.peak_threads, sample.threads)
        self.peak_processes = max(self.peak_processes, sample.processes)

    def run(self) -> None:
        while not self._stop_event.wait(SAMPLE_INTERVAL_S):
            self.take(procstat.sample_group(self.pgid))

    def finish(self) -> None:
        self._stop_event.set()
        self.join()


def load_command(binaries: Binaries, spec: PointSpec, experiment, placement: Placement,
                 port: int, json_path: Path, hgrm_path: Path) -> list[str]:
    workload = spec.workload
    load = experiment.load
    pipeline = workload.pipeline if workload.pipeline is not None else load.get("pipeline", 1)
    command = [str(binaries.load), "--host", "127.0.0.1", "--port", str(port),
               "-c", str(spec.connections), "-t", str(min(placement.load_threads, spec.connections)),
               "-d", str(experiment.duration_s), "--warmup", str(experiment.warmup_s),
               "--session", str(workload.session), "--pipeline", str(pipeline),
               "--timeout-ms", str(load.get("timeout_ms", 1000)),
               "--reply-bytes", str(workload.reply_bytes),
               "--json", str(json_path), "--hgrm", str(hgrm_path)]
    if workload.rate:
        command += ["--rate", str(workload.rate)]
    return command


def run_point(binaries: Binaries, spec: PointSpec, experiment, placement: Placement,
              raw: Path) -> dict:
    """Measures one point; always returns a row (status "ok" or "failed" with a reason)."""
    workload = spec.workload
    row = {"arch": spec.arch, "workload": workload.name, "connections": spec.connections,
           "rep": spec.rep, "status": "failed", "duration_s": experiment.duration_s,
           "session": workload.session, "work_us": workload.work_us,
           "sleep_us": workload.sleep_us, "reply_bytes": workload.reply_bytes,
           "pipeline": workload.pipeline if workload.pipeline is not None
           else experiment.load.get("pipeline", 1), "rate": workload.rate}
    server = None
    load = None
    try:
        server = Server(binaries, spec, experiment, placement,
                        raw / f"{spec.label}.server.stderr")
        json_path = raw / f"{spec.label}.json"
        hgrm_path = raw / f"{spec.label}.hgrm"
        command = load_command(binaries, spec, experiment, placement, server.port,
                               json_path, hgrm_path)
        sampler = Sampler(server.pgid)
        sampler.start()
        with open(raw / f"{spec.label}.load.txt", "wb") as load_output:
            load = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=load_output,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=_pinned(placement.load_cpus))
            started = time.monotonic()
            _wait(load, server, started + experiment.warmup_s)
            server.report_usage()
            at_start = procstat.sample_group(server.pgid, memory=False)
            window_start = time.monotonic()
            limit = started + experiment.warmup_s + experiment.duration_s + \
                experiment.load.get("timeout_ms", 1000) / 1000 + experiment.point_timeout_s
            _wait(load, server, limit, until_load_exits=True)
            if load.poll() is None:
                raise PointFailed(f"load generator still running after {limit - started:.0f} s "
                                  f"(server hung?)")
            server.report_usage()
            at_end = procstat.sample_group(server.pgid)
            window_s = time.monotonic() - window_start
        sampler.take(at_end)
        sampler.finish()
        reports = server.rusage_reports(2)
        died = server.exit_code()
        stop_note = server.stop()
        workers = procstat.parse_worker_connections(
            server.stderr_path.read_text(encoding="utf-8", errors="replace"))
        if workers is not None:
            row["worker_connections"] = " ".join(str(n) for n in workers)

        if died is not None:
            raise PointFailed(f"server died during the run ({_exit_description(died)}): "
                              f"{_tail(server.stderr_path)}")
        if load.returncode == 2:
            raise PointFailed(f"load generator refused its command line: "
                              f"{_tail(raw / f'{spec.label}.load.txt')}")
        try:
            result = json.loads(json_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise PointFailed(f"load generator wrote no JSON ({_exit_description(load.returncode)}): "
                              f"{_tail(raw / f'{spec.label}.load.txt')}") from None
        _fill_from_load(row, result)
        requests = row["requests_ok"]
        cpu_user, cpu_sys = procstat.window_cpu(at_start, at_end, reports)
        row.update(server_user_s=cpu_user, server_sys_s=cpu_sys,
                   server_rss_kb=sampler.peak_rss_kb, server_pss_kb=sampler.peak_pss_kb,
                   server_threads=sampler.peak_threads, server_processes=sampler.peak_processes)
        if requests > 0:
            # The server's cost is measured over [end of warm-up, end of run], which holds the
            # load generator's measured window; the difference is a few milliseconds of slack
            # at the edges, against a window of seconds.
            row["server_cpu_us_per_req"] = (cpu_user + cpu_sys) * 1e6 / requests
            if len(reports) >= 2:
                switches = (procstat.rusage_switches(reports[-1]) - procstat.rusage_switches(reports[-2])
                            + sum(at_end.child_switches.values())
                            - sum(at_start.child_switches.values()))
                row["ctx_switches_per_req"] = switches / requests
        row["window_s"] = window_s
        notes = [stop_note] if stop_note else []
        if requests == 0:
            row["status"] = "failed"
            notes.insert(0, "no request succeeded (server hung or refused every connection)")
        else:
            row["status"] = "ok"
        row["reason"] = "; ".join(notes)
        return row
    except PointFailed as failure:
        row["status"] = "failed"
        row["reason"] = str(failure)
        return row
    finally:
        if load is not None and load.poll() is None:
            _kill_group(load)
        if server is not None:
            if server.exit_code() is None:
                server.stop()
            else:
                server.kill()


def _wait(load: subprocess.Popen, server: Server, until: float,
          until_load_exits: bool = False) -> None:
    """Sleeps until `until`, returning early if the load generator exits (and, unless waiting
    for that, if the server dies)."""
    while time.monotonic() < until:
        if load.poll() is not None:
            return
        if not until_load_exits and server.exit_code() is not None:
            return
        time.sleep(min(0.02, max(0.0, until - time.monotonic())))


def _fill_from_load(row: dict, result: dict) -> None:
    latency = result.get("latency_us", {})
    errors = result.get("errors", {})
    loadgen = result.get("loadgen", {})
    row.update(
        throughput_rps=result.get("throughput_rps"),
        p50_us=latency.get("p50"), p90_us=latency.get("p90"), p99_us=latency.get("p99"),
        p99_9_us=latency.get("p99_9"), p99_99_us=latency.get("p99_99"),
        max_us=latency.get("max"), mean_us=latency.get("mean"),
        requests_ok=int(result.get("requests_ok", 0)),
        errors=sum(int(v) for v in errors.values()),
        timeouts=int(errors.get("timeout", 0)),
        errors_connect=errors.get("connect", 0), errors_reset=errors.get("reset", 0),
        errors_eof=errors.get("eof", 0), errors_wrong_answer=errors.get("wrong_answer", 0),
        in_flight_at_end=result.get("in_flight_at_end"),
        loadgen_cpu_util=loadgen.get("cpu_util"),
        loadgen_saturated=bool(loadgen.get("saturated", False)),
    )
