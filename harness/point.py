"""One point: a fresh server pinned to its cores, one archbench-load run pinned to others, the
server's cost measured over the load generator's window, then the server stopped.

A point never raises for what a server does: a server that does not start, dies, hangs or will
not stop gives a row with status "failed" and the reason, and the run goes on.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import selectors
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import crosscheck
import deployment
import offered
import perfcount
import procstat
import sentinel
import wrk

STARTUP_TIMEOUT_S = 10.0
STOP_GRACE_S = 2.0
SAMPLE_INTERVAL_S = 0.25
# The samplers of memory and run-queue wait read /proc for every process or thread of the
# server; for 1,500 of them one sample takes tens of milliseconds of the harness's CPU, on the
# cores being measured (a 2-core machine has no other). Each waits long enough after a sample
# that sampling takes at most this share of a core; the sample at the window's end is always
# taken, so a large server is sampled less often during the window, never not at all.
SAMPLER_CPU_SHARE = 0.02


def _sampled_every(interval_s: float, stop: threading.Event, sample,
                   first_cost_s: float = 0.0) -> None:
    """Calls sample() every interval_s until stop is set, waiting longer after a sample that
    took long (SAMPLER_CPU_SHARE); `first_cost_s`, what one sample cost before, sets the first
    wait the same way."""
    wait_s = max(interval_s, first_cost_s / SAMPLER_CPU_SHARE)
    while not stop.wait(wait_s):
        began = time.thread_time()
        sample()
        wait_s = max(interval_s, (time.thread_time() - began) / SAMPLER_CPU_SHARE)


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
              placement: Placement) -> int | None:
    """--threads or --processes for one point: the experiment's [server] value, or its
    [server.arch.NAME] override: "auto" (None: the flag is not given) is the architecture's own
    default, one per usable core, which under the harness's pinning is one per server CPU, or
    what the architecture declares (the 32 workers of epoll-offload's and seda's work pools,
    which wait on blocking calls rather than use cores); "connections" is one per connection (a
    pool of blocking workers serves one client each), or a number."""
    value = experiment.server.get("arch", {}).get(arch, {}).get(
        option, experiment.server.get(option, "auto"))
    if value == "auto":
        return None
    if value == "connections":
        return connections
    return int(value)


class PointFailed(Exception):
    """A point that cannot be measured; the message is the row's reason."""


def _pinned(cpus: list[int], counter: "perfcount.ProcessTreeCounter | None" = None):
    """Runs in the child between fork and exec: pins it, and puts it in its counter's cgroup."""
    def pin():
        os.sched_setaffinity(0, cpus)
        if counter is not None:
            counter.join()
    return pin


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL to the process group and session `process` leads (an external architecture's
    program runs in a group of its own, in the server's session)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for pid in procstat.group_members(process.pid):
        try:
            os.kill(pid, signal.SIGKILL)
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


def server_command(binaries: Binaries, spec: PointSpec, experiment, placement: Placement,
                   host: str = "127.0.0.1", port: int = 0) -> list[str]:
    workload = spec.workload
    protocol = crosscheck.setting(experiment, workload, "protocol")
    pools = [(flag, pool_size(experiment, spec.arch, flag[2:], spec.connections, placement))
             for flag in ("--threads", "--processes")]
    return [str(binaries.server), "--arch", spec.arch, "--host", host, "--port", str(port),
            *[word for flag, size in pools if size is not None for word in (flag, str(size))],
            "--work-us", str(workload.work_us), "--sleep-us", str(workload.sleep_us),
            "--reply-bytes", str(workload.reply_bytes),
            *(["--protocol", protocol] if protocol != "zen" else [])]  # zen: the default


class Server:
    """A running archbench-server in a process group of its own."""

    def __init__(self, binaries: Binaries, spec: PointSpec, experiment, placement: Placement,
                 stderr_path: Path, counter: "perfcount.ProcessTreeCounter | None" = None,
                 host: str = "127.0.0.1", port: int = 0):
        self.command = server_command(binaries, spec, experiment, placement, host, port)
        self.stderr_path = stderr_path
        self.asked_at: list[float] = []  # when each rusage report was asked for
        with open(stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
                start_new_session=True, preexec_fn=_pinned(placement.server_cpus, counter))
        self.pgid = self.process.pid
        try:
            self.port = self._wait_for_listening_line()
        except BaseException:  # a server that did not start, or Ctrl-C meanwhile: none left
            self.kill()
            raise

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
        reaped children included). The instant it was asked for is kept (asked_at)."""
        self.asked_at.append(time.monotonic())
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
    """Peaks of the server's memory, threads and processes, sampled while the load runs. Its
    samples leave out PSS, which costs the most to read (procstat.sample_group); the sample
    taken after the window (take()) has it. `first_cost_s`: what a sample of this server cost
    just before (see _sampled_every)."""

    def __init__(self, pgid: int, first_cost_s: float = 0.0):
        super().__init__(daemon=True)
        self.pgid = pgid
        self.first_cost_s = first_cost_s
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
        _sampled_every(SAMPLE_INTERVAL_S, self._stop_event,
                       lambda: self.take(procstat.sample_group(self.pgid, pss=False)),
                       self.first_cost_s)

    def finish(self) -> None:
        self._stop_event.set()
        self.join()


class WindowCounters:
    """System calls, faults and run-queue wait of the server and of the load generator over the
    measured window (harness/perfcount.py): each in a cgroup of its own from its first
    instruction, so that children forked during the window are counted. Inert when counting is
    unavailable (`counting` None) or the workload turns it off."""

    def __init__(self, counting: "perfcount.Counting | None", label: str):
        self.server = self.load = None
        self.error = ""
        if counting is None:
            return
        try:
            prefix = f"archbench-{os.getpid()}-{label}"
            self.server = perfcount.ProcessTreeCounter(counting, f"{prefix}-server")
            self.load = perfcount.ProcessTreeCounter(counting, f"{prefix}-load")
            self.server.prepare()
            self.load.prepare()
        except (OSError, RuntimeError) as error:
            self.error = f"system calls not counted: {error}"
            self.close()
            self.server = self.load = None

    def read_baseline(self, server_pgid: int) -> None:
        """The run-queue wait of the server's threads now: just before the window opens, as it
        costs a read per thread (for 1,500 threads tens of milliseconds, kept out of the window)."""
        began = time.thread_time()
        self.runqueue = perfcount.RunQueueWait(server_pgid)
        self._baseline_cost_s = time.thread_time() - began

    def start(self, server_pgid: int) -> None:
        """Opens the window: perf counts from here, and the run-queue sampler starts (after
        read_baseline())."""
        self._sampling = threading.Event()
        self._sampler = threading.Thread(target=self._sample_runqueue, daemon=True)
        self._sampler.start()
        try:
            if self.server is not None:
                self.server.start()
                self.load.start()
        except RuntimeError as error:
            self.error = f"system calls not counted: {error}"
            self.close()
            self.server = self.load = None

    def _sample_runqueue(self) -> None:
        _sampled_every(SAMPLE_INTERVAL_S, self._sampling, self.runqueue.sample,
                       self._baseline_cost_s)

    def stop_sampling(self) -> None:
        """Ends the run-queue sampler's thread (stop() does too)."""
        self._sampling.set()
        self._sampler.join()

    def stop(self) -> tuple[dict | None, dict | None, int]:
        """(server counts, load counts, run-queue nanoseconds of the server's threads)."""
        self.stop_sampling()
        self.runqueue.sample()
        runqueue = self.runqueue.total_ns()
        if self.server is None:
            return None, None, runqueue
        try:
            return self.server.stop(), self.load.stop(), runqueue
        except RuntimeError as error:
            self.error = f"system calls not counted: {error}"
            return None, None, runqueue

    def close(self) -> None:
        for counter in (self.server, self.load):
            if counter is not None:
                counter.close()


def _fill_from_counters(row: dict, server: dict | None, load: dict | None, runqueue_ns: int,
                        raw_path: Path, requests: float | None = None) -> None:
    """Per request: `requests`, the requests of the counted window (by default requests_ok)."""
    if requests is None:
        requests = row.get("requests_ok") or 0
    if requests <= 0:
        return
    row["runqueue_us_per_req"] = runqueue_ns / 1e3 / requests
    if server is None:
        return
    row["syscalls_per_req"] = server["syscalls"] / requests
    for kind in perfcount.KIND_NAMES:
        row[f"syscalls_{kind}_per_req"] = server[kind] / requests
    row["faults_per_req"] = (server["minor_faults"] + server["major_faults"]) / requests
    row["major_faults_per_req"] = server["major_faults"] / requests
    row["load_syscalls_per_req"] = load["syscalls"] / requests
    raw_path.write_text(json.dumps({"requests_ok": requests, "server": server, "load": load,
                                    "runqueue_ns": runqueue_ns}, indent=1), encoding="utf-8")


def load_command(binaries: Binaries, spec: PointSpec, experiment, placement: Placement,
                 port: int, json_path: Path, hgrm_path: Path,
                 capacity: float | None = None, host: str = "127.0.0.1") -> list[str]:
    workload = spec.workload
    protocol, path, tool = (crosscheck.setting(experiment, workload, key)
                            for key in crosscheck.KEYS)
    if tool == "wrk":
        return wrk.command(spec, experiment, placement, port, json_path, path)
    load = experiment.load
    pipeline = workload.pipeline if workload.pipeline is not None else load.get("pipeline", 1)
    command = [str(binaries.load), "--host", host, "--port", str(port),
               "-c", str(spec.connections), "-t", str(min(placement.load_threads, spec.connections)),
               "-d", str(experiment.duration_s), "--warmup", str(experiment.warmup_s),
               "--session", str(workload.session), "--pipeline", str(pipeline),
               "--timeout-ms", str(load.get("timeout_ms", 1000)),
               "--reply-bytes", str(workload.reply_bytes),
               "--json", str(json_path), "--hgrm", str(hgrm_path)]
    if workload.idle:
        command += ["--idle", str(workload.idle)]
    if protocol != "zen":
        command += ["--protocol", protocol, "--path", path]
    command += offered.rate_flags(workload, capacity)[0]
    return command


def run_point(binaries: Binaries, spec: PointSpec, experiment, placement: Placement,
              raw: Path, calibration: sentinel.Calibration | None = None,
              counting: "perfcount.Counting | None" = None) -> dict:
    """Measures one point; always returns a row (status "ok" or "failed" with a reason). With
    a calibration, the noise sentinel runs just before and just after it (see sentinel.py)."""
    sentinel_cpus = sorted(set(placement.server_cpus) | set(placement.load_cpus))
    before = sentinel.slowdown(calibration, sentinel_cpus) if calibration else None
    row = _measure(binaries, spec, experiment, placement, raw, counting)
    if calibration:
        after = sentinel.slowdown(calibration, sentinel_cpus)
        row["machine_slowdown"] = max(before, after)
        row["disturbed"] = sentinel.is_disturbed(row["machine_slowdown"],
                                                 row.get("foreign_cpu_share"))
    return row


def base_row(spec: PointSpec, experiment) -> dict:
    """A point's row before it is measured: what it is, status "failed" until it succeeds."""
    workload = spec.workload
    return {"arch": spec.arch, "workload": workload.name, "connections": spec.connections,
            "rep": spec.rep, "status": "failed", "duration_s": experiment.duration_s,
            "session": workload.session, "work_us": workload.work_us,
            "sleep_us": workload.sleep_us, "reply_bytes": workload.reply_bytes,
            "pipeline": workload.pipeline if workload.pipeline is not None
            else experiment.load.get("pipeline", 1), "rate": workload.rate,
            "idle": workload.idle,
            **{key: crosscheck.setting(experiment, workload, key) for key in crosscheck.KEYS}}


def _measure(binaries: Binaries, spec: PointSpec, experiment, placement: Placement,
             raw: Path, counting: "perfcount.Counting | None" = None) -> dict:
    if deployment.applies(spec.workload, experiment):  # several instances, a balancer, a kill
        return deployment.measure(binaries, spec, experiment, placement, raw)
    workload = spec.workload
    row = base_row(spec, experiment)
    # wrk's warm-up is a run of whole seconds (wrk.py), which the window must not overlap.
    warmup_s = wrk.whole_seconds(experiment.warmup_s) if row["load_generator"] == "wrk" \
        and experiment.warmup_s > 0 else experiment.warmup_s
    server = None
    load = None
    sampler = None
    counters = WindowCounters(counting if workload.count_syscalls else None, spec.label)
    try:
        if spec.arch == crosscheck.NGINX:
            import nginx  # here: nginx.NginxServer is a Server of this module
            server = nginx.NginxServer(spec, placement, raw / f"{spec.label}.server.stderr",
                                       counters.server)
        else:
            server = Server(binaries, spec, experiment, placement,
                            raw / f"{spec.label}.server.stderr", counters.server)
        json_path = raw / f"{spec.label}.json"
        hgrm_path = raw / f"{spec.label}.hgrm"
        capacity = None
        if offered.needs_capacity(workload):
            capacity = offered.measure_capacity(
                load_command(binaries, spec, experiment, placement, server.port, json_path,
                             hgrm_path), spec, experiment.capacity_probe_s,
                raw / f"{spec.label}.capacity.json", experiment.point_timeout_s,
                _pinned(placement.load_cpus))
            if capacity <= 0:
                raise PointFailed("the closed-loop probe of its capacity answered nothing")
            row["capacity_rps"] = capacity
        command = load_command(binaries, spec, experiment, placement, server.port,
                               json_path, hgrm_path, capacity)
        row["offered_rps"] = offered.rate_flags(workload, capacity)[1]
        with open(raw / f"{spec.label}.load.txt", "wb") as load_output:
            load = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=load_output,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=_pinned(placement.load_cpus, counters.load))
            started = time.monotonic()
            if workload.idle > 0 and row["load_generator"] != "wrk":
                # The warm-up starts once the idle connections are open (a forked server forks
                # for each): the window must not hold their opening.
                started = _wait_for_idle_opened(load, raw / f"{spec.label}.load.txt",
                                                started + STARTUP_TIMEOUT_S + workload.idle / 10)
            _wait(load, server, started + experiment.warmup_s)
            if row["load_generator"] == "wrk":  # the window starts with wrk's measured run
                wrk.wait_until_measuring(load, json_path, started + warmup_s + STARTUP_TIMEOUT_S)
            # What costs the harness most to read for a large server (/proc for each of its
            # processes and threads) is read just before the window, not in it: the group's
            # ticks (they only split the live children's CPU into user and system) and the
            # run-queue baseline.
            began = time.thread_time()
            at_start = procstat.sample_group(server.pgid, memory=False)
            sample_cost_s = time.thread_time() - began
            counters.read_baseline(server.pgid)
            # The cores are read at once after each report is asked for, at both ends alike, so
            # that the cores' window and the server's reports' are the same (sampling /proc in
            # between would shift the start on a loaded machine).
            with _sharp_edge():
                server.report_usage()
                cores_at_start = sentinel.cpu_times()
                harness_at_start = harness_cpu_s()
            counters.start(server.pgid)
            sampler = Sampler(server.pgid, sample_cost_s)
            sampler.start()
            # The window ends when the load generator's measured window does, not when it
            # exits: after its window it waits for the answers still in flight, up to its
            # timeout, and a server's CPU in that drain is not the cost of the requests counted
            # (with starved clients it was a quarter more than the window's).
            measured_s = wrk.whole_seconds(experiment.duration_s) \
                if row["load_generator"] == "wrk" else experiment.duration_s
            _wait(load, server, started + warmup_s + measured_s, until_load_exits=True)
            # The samplers' threads end first: one that holds the interpreter's lock while it
            # reads /proc, preempted among a thousand busy workers, would hold the edge below
            # up (a real-time thread still waits for that lock).
            sampler.finish()
            counters.stop_sampling()
            with _sharp_edge():
                server.report_usage()
                cores_at_end = sentinel.cpu_times()
                harness_window_s = harness_cpu_s() - harness_at_start
            counts = counters.stop()
            # The window of the server's reports and of the cores: from ask to ask.
            window_s = server.asked_at[-1] - server.asked_at[-2]
            at_end = procstat.sample_group(server.pgid)
            limit = started + warmup_s + wrk.whole_seconds(experiment.duration_s) + \
                experiment.load.get("timeout_ms", 1000) / 1000 + experiment.point_timeout_s
            _wait(load, server, limit, until_load_exits=True)
            if load.poll() is None:
                raise PointFailed(f"load generator still running after {limit - started:.0f} s "
                                  f"(server hung?)")
        sampler.take(at_end)  # its thread ended before the window's end
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
        row.update(offered.idle_fields(result))
        row["slo_met"] = offered.slo_met(row, experiment.slo_us)
        requests = row["requests_ok"]
        # The server's window and the load generator's differ by the time the harness takes to
        # open its window (for a server of 1,500 processes or threads, its reads of /proc): the
        # server's costs are divided by the requests answered in the server's window at the
        # load generator's measured rate. Equal windows give requests_ok itself.
        load_s = result.get("duration_s") or experiment.duration_s
        in_window = requests * window_s / load_s if load_s > 0 else requests
        cpu_user, cpu_sys = procstat.window_cpu(at_start, at_end, reports, window_s,
                                                server.asked_at)
        row["cpu_accounting"] = procstat.cpu_accounting(reports, window_s, server.asked_at)
        row.update(server_rss_kb=sampler.peak_rss_kb, server_pss_kb=sampler.peak_pss_kb,
                   server_threads=sampler.peak_threads, server_processes=sampler.peak_processes)
        _cross_check(row, placement, cores_at_start, cores_at_end, cpu_user + cpu_sys,
                     result.get("loadgen", {}).get("cpu_s"), harness_window_s)
        if row["cpu_accounting"] == "exact":  # else no figure: a low one would pass as true
            row.update(server_user_s=cpu_user, server_sys_s=cpu_sys)
        if requests > 0 and row["cpu_accounting"] == "exact":
            row["server_cpu_us_per_req"] = (cpu_user + cpu_sys) * 1e6 / in_window
            switches = procstat.rusage_switches(reports[-1]) - procstat.rusage_switches(reports[-2])
            row["ctx_switches_per_req"] = switches / in_window
        row["window_s"] = window_s
        _fill_from_counters(row, *counts, raw / f"{spec.label}.syscalls.json", in_window)
        notes = [note for note in (stop_note, counters.error) if note]
        if row["cpu_accounting"] != "exact":
            notes.append(f"server CPU not written: {row['cpu_accounting']}")
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
        if sampler is not None:
            sampler.finish()
        if load is not None and load.poll() is None:
            _kill_group(load)
        if server is not None:
            if server.exit_code() is None:
                server.stop()
            else:
                server.kill()
        counters.close()  # after the server, so that its cgroup is empty and can go


def tick_resolution(cpus: int, elapsed_s: float, tick_s: float = 0.01) -> float:
    """How far /proc/stat's busy time may honestly fall short of the truth over a window: it is
    sampled, one whole tick to whatever runs at each clock tick (10 ms at the least common HZ),
    so a core busy a fraction p of N ticks reads p*N give or take sqrt(N*p*(1-p)) <= sqrt(N)/2
    ticks. Three of those, plus two ticks for the window's edges, per core. A 0.3 s window on
    one core thus allows 0.10 s: the cross-check catches gross errors (a server counted twice,
    on cores it was not pinned to), not a few percent."""
    ticks = max(elapsed_s / max(cpus, 1), 0.0) / tick_s
    return cpus * tick_s * (2 + 1.5 * math.sqrt(ticks))


@contextlib.contextmanager
def _sharp_edge():
    """A window's edge (the server's report asked for, the cores read) at SCHED_FIFO 1, for the
    calling thread, where the system allows it, so that the harness is not preempted between
    the two by a core's thousand runnable workers (preforked at 1,024 connections). Held for
    well under a millisecond."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        raised = True
    except OSError:  # not root: time-shared, as before
        raised = False
    try:
        yield
    finally:
        if raised:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def harness_cpu_s() -> float:
    """The harness's own CPU time so far, every thread (the samplers included), not its children."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cross_check(row: dict, placement: Placement, cores_start: dict, cores_end: dict,
                 server_cpu_s: float, load_cpu_s: float | None,
                 harness_s: float | None = None) -> None:
    """The server's CPU against what its cores did: it cannot exceed their busy time (beyond
    /proc/stat's tick resolution), and what the cores did beyond the server's CPU and the load
    generator's is other processes' (foreign_cpu_share). A server CPU above its cores' busy
    time, or below zero, means the accounting is wrong: the point says so and keeps no figure.

    `harness_s`, the harness's own CPU over the window (its samplers of memory and run-queue
    wait read /proc, for 1,500 threads or processes a few percent of a core), is recorded as
    harness_cpu_share and, where the harness can run on the measured cores only (a 2-core
    machine), taken out of the foreign share: it is the instrument, the same in every run, not
    a neighbour's noise. Elsewhere the scheduler keeps it on the free cores and it is not in
    the foreign share to begin with."""
    busy, elapsed = sentinel.busy_seconds(cores_start, cores_end, placement.server_cpus)
    row["server_cores_busy"] = busy / elapsed if elapsed > 0 else None
    if row["cpu_accounting"] == "exact" and elapsed > 0:
        resolution = tick_resolution(len(placement.server_cpus), elapsed) + 0.05 * busy
        if server_cpu_s < -0.001 or server_cpu_s > busy + resolution:
            row["cpu_accounting"] = (f"cross-check failed: server CPU {server_cpu_s:.3f} s "
                                     f"against {busy:.3f} s busy on its cores")
    shared = set(placement.server_cpus) & set(placement.load_cpus)
    load_s = load_cpu_s or 0.0
    if shared:
        groups = [(sorted(set(placement.server_cpus) | set(placement.load_cpus)),
                   server_cpu_s + load_s)]
    else:
        groups = [(placement.server_cpus, server_cpu_s), (placement.load_cpus, load_s)]
    measured = set(placement.server_cpus) | set(placement.load_cpus)
    if harness_s is not None:
        _, elapsed_all = sentinel.busy_seconds(cores_start, cores_end, sorted(measured))
        row["harness_cpu_share"] = harness_s / elapsed_all if elapsed_all > 0 else None
        if os.sched_getaffinity(0) <= measured:
            groups = [(cpus, ours + harness_s * len(cpus) / len(measured)) for cpus, ours in groups]
    row["foreign_cpu_share"] = max(sentinel.foreign_share(cores_start, cores_end, cpus, ours)
                                   for cpus, ours in groups)


IDLE_OPENED_LINE = b"idle connections are open or failed; the load starts"


def _wait_for_idle_opened(load: subprocess.Popen, output: Path, deadline: float) -> float:
    """When archbench-load said that its idle connections are open (its stderr, in `output`):
    the start of its warm-up. Raises PointFailed past the deadline."""
    while IDLE_OPENED_LINE not in output.read_bytes():
        if load.poll() is not None:
            return time.monotonic()  # it ended early: the checks after the run say why
        if time.monotonic() > deadline:
            raise PointFailed("the load generator did not open its idle connections in time")
        time.sleep(0.005)
    return time.monotonic()


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
