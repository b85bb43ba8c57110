#!/usr/bin/env python3
"""The harness's side on another host: what harness/hosts.py runs there over ssh, one command
per job, from the run's folder on that host (beside procstat.py, sentinel.py, perfcount.py,
point.py and offered.py, copied with it). No daemon and no agent: each job is one ssh session,
and it ends with its session.

    remote.py facts FILE...                 this machine (CPU, cores, memory, kernel), the
                                            SHA-256 of each FILE and the revision.json copied
                                            beside this file, as one JSON line
    remote.py calibrate --cpus 0,1          the noise sentinel's calibration on those CPUs
    remote.py server --cpus 0,1 STDERR_FILE [--sentinel ITERATIONS:SECONDS] -- archbench-server ...
    remote.py load --cpus 2,3 PREFIX -- archbench-load ...    (it writes PREFIX.json, .hgrm, ...)
    remote.py balancer --cpus 0,1 FOLDER -- SETTINGS_JSON     haproxy in front of a deployment's
                                            instances (haproxy.py), its files in FOLDER

`server` starts the server pinned to its CPUs in a session of its own, exactly as the local
harness does (point.Server), and speaks JSON lines on stdout, one command a line on stdin:
    -> {"event": "listening", "port": P}
    <- window T      (wall-clock Unix seconds: when the measured window starts, on this host's
                      clock; the load generators' warm-up ends then)
    <- end           (every load generator has finished: the window ends now)
    <- kill          (a deployment's failover: the window ends now for this instance, which
                      is then SIGKILLed, its whole session, as a machine that dies)
    <- restart STDERR_FILE  (after kill: the same server again on the same port; it answers
                      "listening" again, its window starting at its birth, and is ended as
                      the first one was)
    <- watch ADDRESS PORT   (a revived instance: say when a client connection to it is
                      established, /proc/net/tcp polled as deployment.py does)
    -> {"event": "serving", "wall": T}   (after watch: the first client's wall-clock time)
    -> {"event": "result", ...}: the samples, the rusage reports' stderr, the stop note
                      (after kill, "killed_wall": when the SIGKILL was sent)
It reads the server's cost here, on its own host, with the same code as a local point: the
SIGUSR1 rusage reports, /proc samples of memory, threads and processes, /proc/stat's busy time of
the server's cores, and the run-queue wait of its threads.

`balancer` starts haproxy (haproxy.HAProxy, with the configuration haproxy.py writes, bound to
the address in SETTINGS_JSON) pinned to its CPUs, and speaks the same way:
    -> {"event": "listening", "port": P, "config": the configuration's text}
    <- window T      (its on-CPU time and memory are read from then)
    <- watch NAME    (say when haproxy forwards a connection to instance NAME again)
    <- end           -> {"event": "result", "lb_cpu_s", "lb_rss_kb", "servers", "died", ...}

`load` runs archbench-load pinned to its CPUs, waits for it, and prints its JSON, .hgrm,
--histogram file and output as one JSON line.

With --sentinel (a calibration from `calibrate`), the noise sentinel times the server's CPUs
just before the server starts and just after it stops, as a local point does (sentinel.py).

Whatever happens to the harness (Ctrl-C, a lost connection, a kill), its end of the ssh session
closes, this process reads end-of-file on stdin, and it kills what it started before it exits:
nothing is left behind on the host.
"""
from __future__ import annotations

import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path

import deployment
import haproxy
import perfcount
import point
import procstat
import results
import sentinel


def emit(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def stdin_lines() -> "queue.Queue[str | None]":
    """A queue of the lines the harness sends; None once its end of the session closed."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read():
        for line in sys.stdin:
            lines.put(line.strip())
        lines.put(None)
    threading.Thread(target=read, daemon=True).start()
    return lines


def next_line(lines: "queue.Queue[str | None]", watching: bool) -> str | None:
    """The harness's next line; "" after deployment.SERVING_POLL_S without one while something
    is watched (so that the watch is polled)."""
    try:
        return lines.get(timeout=deployment.SERVING_POLL_S if watching else None)
    except queue.Empty:
        return ""


def parse_cpus(text: str) -> list[int]:
    return [int(cpu) for cpu in text.split(",") if cpu]


def facts(files: list[str]) -> None:
    def sha256(path: str) -> str | None:
        try:
            return hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            return None
    revision = Path(__file__).with_name("revision.json")  # copied beside it by the harness
    emit({"machine": results.machine(), "arch": os.uname().machine,
          "python": sys.version.split()[0],
          "sha256": {path: sha256(path) for path in files},
          "revision": json.loads(revision.read_text()) if revision.exists() else None})


class CommandServer(point.Server):
    """point.Server started from a command line made by the harness on the other host."""

    def __init__(self, command: list[str], cpus: list[int], stderr_path: Path):
        self.command = command
        self.stderr_path = stderr_path
        self.asked_at: list[float] = []  # as point.Server's: when each report was asked for
        with open(stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
                start_new_session=True, preexec_fn=point._pinned(cpus))
        self.pgid = self.process.pid
        try:
            self.port = self._wait_for_listening_line()
        except BaseException:  # one that did not start (or hung before listening): none left
            self.kill()
            raise


def serve(cpus: list[int], stderr_path: Path, command: list[str],
          calibration: sentinel.Calibration | None) -> int:
    lines = stdin_lines()
    born = False  # a restarted life: its window starts at its birth
    while True:
        before = sentinel.slowdown(calibration, cpus) if calibration else None
        try:
            server = CommandServer(command, cpus, stderr_path)
        except point.PointFailed as failure:
            emit({"event": "failed", "reason": str(failure),
                  "stderr": stderr_path.read_text(encoding="utf-8", errors="replace")})
            return 0
        try:
            ended = serve_life(server, lines, born, calibration, cpus, before)
        finally:
            if server.exit_code() is None:
                server.stop()
            else:
                server.kill()
        line = lines.get() if ended == "kill" else ended
        if line is None or not line.startswith("restart "):
            return 0 if line == "end" else 1  # (None: the harness went away)
        # The same server again, on the port it had, its stderr in the file named.
        stderr_path = Path(line.split(maxsplit=1)[1])
        command = list(command)
        command[command.index("--port") + 1] = str(server.port)
        born = True


def serve_life(server: CommandServer, lines: "queue.Queue[str | None]", born: bool,
               calibration: sentinel.Calibration | None, cpus: list[int],
               before: float | None) -> str | None:
    """One server process from its start to the end of its window (`end`), its kill (`kill`)
    or the harness's going away (None): what ended it."""
    sampler = point.Sampler(server.pgid)
    sampler.start()
    emit({"event": "listening", "port": server.port})
    window = None  # what was read at the window's start
    watch = None   # a revived instance's address and port, until a client connects to it
    while True:
        if born and window is None:
            line = "window born"
        else:
            line = next_line(lines, watch is not None)
        if line is None:  # the harness went away: leave nothing behind
            sampler.finish()
            return None
        if line.startswith("window "):
            if not born:
                # The window opens at a wall-clock instant, read on this host's clock (the
                # load hosts end their warm-up then by theirs: docs/hosts.md#clocks).
                time.sleep(max(0.0, float(line.split()[1]) - time.time()))
                server.report_usage()
            cores_at_start = sentinel.cpu_times()  # at once, as at the end (point.py)
            window = {"at_start": procstat.GroupSample() if born else
                      procstat.sample_group(server.pgid, memory=False),
                      "cores_at_start": cores_at_start,
                      "runqueue": perfcount.RunQueueWait(server.pgid),
                      "started": time.monotonic()}
        elif line.startswith("watch "):
            _, address, port = line.split()
            watch = (address, int(port))
        elif line in ("end", "kill"):
            break
        if watch and deployment.established(*watch):
            emit({"event": "serving", "wall": time.time()})
            watch = None
    wanted = 1 if born else 2  # the rusage reports that bound its window
    if window is None:  # the load ended before the window began: an empty one
        emit({"event": "result", "window": None, **stop_and_report(server, sampler, wanted)})
        return line
    window["runqueue"].sample()
    server.report_usage()
    cores_at_end = sentinel.cpu_times()
    at_end = procstat.sample_group(server.pgid)
    window_s = time.monotonic() - window["started"]
    sampler.take(at_end)
    killed = {}
    if line == "kill":  # its report is in before the SIGKILL, as deployment.Life.kill
        server.rusage_reports(wanted)
        killed["killed_wall"] = time.time()
        server.kill()
    report = stop_and_report(server, sampler, wanted)
    after = sentinel.slowdown(calibration, cpus) if calibration else None
    emit({"event": "result",
          "window": {"at_start": asdict(window["at_start"]), "at_end": asdict(at_end),
                     "cores_at_start": window["cores_at_start"], "cores_at_end": cores_at_end,
                     "window_s": window_s, "runqueue_ns": window["runqueue"].total_ns(),
                     "asked_at": server.asked_at},  # this host's monotonic clock, as reports
          "machine_slowdown": max(before, after) if calibration else None, **killed, **report})
    return line


def stop_and_report(server: CommandServer, sampler: point.Sampler, wanted: int = 2) -> dict:
    sampler.finish()
    server.rusage_reports(wanted)  # waits (briefly) for the window's last report
    died = server.exit_code()
    note = server.stop()
    return {"died": died, "stop_note": note, "pid": server.pgid,
            "peaks": {"rss_kb": sampler.peak_rss_kb, "pss_kb": sampler.peak_pss_kb,
                      "threads": sampler.peak_threads, "processes": sampler.peak_processes},
            "stderr": server.stderr_path.read_text(encoding="utf-8", errors="replace")}


def balance(cpus: list[int], folder: Path, settings: dict) -> int:
    lines = stdin_lines()
    try:
        balancer = haproxy.HAProxy(
            settings["binary"], [tuple(backend) for backend in settings["backends"]],
            settings["balance"], settings["check_inter_ms"], settings["maxconn"], cpus, folder,
            settings["label"], bind=settings["bind"])
    except haproxy.HAProxyFailed as failure:
        emit({"event": "failed", "reason": str(failure)})
        return 0
    try:
        emit({"event": "listening", "port": balancer.port,
              "config": balancer.config_path.read_text(encoding="utf-8")})
        at_start = None  # its on-CPU seconds and a sampler of its memory, from the window on
        watch = None     # (instance name, connections forwarded to it when the watch began)
        while True:
            line = next_line(lines, watch is not None)
            if line is None:
                return 1
            if line.startswith("window "):
                time.sleep(max(0.0, float(line.split()[1]) - time.time()))
                at_start = (balancer.on_cpu_s(), point.Sampler(balancer.pgid))
                at_start[1].start()
            elif line.startswith("watch "):
                name = line.split()[1]
                watch = (name, balancer.forwarded(name))
            elif line == "end":
                break
            if watch and balancer.forwarded(watch[0], watch[1]) > watch[1]:
                emit({"event": "serving", "wall": time.time()})
                watch = None
        figures = {"lb_cpu_s": None, "lb_rss_kb": None}
        if at_start is not None:
            figures["lb_cpu_s"] = balancer.on_cpu_s() - at_start[0]
            at_start[1].take(balancer.sample())
            at_start[1].finish()
            figures["lb_rss_kb"] = at_start[1].peak_rss_kb
        try:
            servers = balancer.servers()
        except OSError:
            servers = {}
        emit({"event": "result", **figures, "servers": servers, "died": balancer.exit_code(),
              "stderr_tail": balancer.stderr_tail()})
        return 0
    finally:
        balancer.stop()


def run_load(cpus: list[int], prefix: str, command: list[str]) -> int:
    lines = stdin_lines()
    output_path = Path(prefix + ".txt")
    with open(output_path, "wb") as output:
        load = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=point._pinned(cpus))
    try:
        while load.poll() is None:
            try:
                if lines.get(timeout=0.02) is None:
                    return 1  # the harness went away
            except queue.Empty:
                pass
        files = {}
        for kind in ("json", "hgrm", "histogram", "txt"):
            path = Path(f"{prefix}.{kind}")
            files[kind] = path.read_text(encoding="utf-8", errors="replace") \
                if path.exists() else None
            path.unlink(missing_ok=True)
        emit({"event": "result", "exit": load.returncode, "files": files})
        return 0
    finally:
        if load.poll() is None:
            point._kill_group(load)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the end of the session is read on stdin
    # A SIGTERM ends this job as the end of its session does: through the `finally` clauses
    # that stop what it started.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))
    if argv[:1] == ["facts"]:
        facts(argv[1:])
        return 0
    if argv[:2] == ["calibrate", "--cpus"] and len(argv) == 3:
        calibration = sentinel.calibrate(parse_cpus(argv[2]))
        emit({"iterations": calibration.iterations, "reference_s": calibration.reference_s})
        return 0
    if argv[:2] == ["balancer", "--cpus"] and len(argv) == 6 and argv[4] == "--":
        return balance(parse_cpus(argv[2]), Path(argv[3]), json.loads(argv[5]))
    if "--" in argv and argv[:1] in (["server"], ["load"]) and argv[1:2] == ["--cpus"]:
        split = argv.index("--")
        options, command = argv[:split], argv[split + 1:]
        calibration = None
        if len(options) == 6 and options[4] == "--sentinel":
            iterations, seconds = options.pop().split(":")
            options.pop()
            calibration = sentinel.Calibration(
                int(iterations), {cpu: float(seconds) for cpu in parse_cpus(argv[2])})
        if len(options) == 4 and command:
            cpus, where = parse_cpus(options[2]), options[3]
            if options[0] == "server":
                return serve(cpus, Path(where), command, calibration)
            return run_load(cpus, where, command)
    print("usage: remote.py facts FILE... | calibrate --cpus LIST | server --cpus LIST STDERR "
          "[--sentinel N:SECONDS] -- COMMAND... | load --cpus LIST PREFIX -- COMMAND... | "
          "balancer --cpus LIST FOLDER -- SETTINGS_JSON",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
