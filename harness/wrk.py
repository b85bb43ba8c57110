#!/usr/bin/env python3
"""wrk as the load generator of a point (`load_generator = "wrk"`, crosscheck.py): the field's
reference HTTP benchmark beside archbench-load, on the same pinned cores, against the same
server.

The point runs this file as its load generator, pinned to the load CPUs as archbench-load is:

    harness/wrk.py --json OUT --warmup S -- wrk -t T -c N -d D --latency --timeout S URL

It runs wrk once for the warm-up (its figures discarded, as archbench-load discards its own)
and once for the measured window, keeps wrk's text output on stdout (the point's load.txt), and
writes OUT in the shape of archbench-load's JSON, so that the row's columns are filled the same
way: throughput_rps (wrk's Requests/sec, less the non-2xx answers), latency_us p50, p90, p99
from --latency's distribution and mean and max from its Latency line (wrk prints no p99.9),
errors {connect, reset (read and write errors), eof 0, wrong_answer (non-2xx or 3xx
responses), timeout} and loadgen {cpu_s, cpu_util, saturated}: wrk's CPU from getrusage of its
process, over its threads' wall time.

What wrk measures differs from archbench-load in three ways (docs/experiments.md says so too):
- Closed loop with coordinated omission: each connection sends its next request when the last
  answer arrived, and latency is timed from that send, so a server that stalls delays the
  requests that would have measured the stall (wrk2 and archbench-load --rate time from the
  schedule instead). Its percentiles are service times, like archbench-load's closed loop.
- It does not check bodies: any complete response is a request done; only the status counts.
- Its -d and --timeout take whole seconds: the harness rounds both up (at least 1 s).
"""
from __future__ import annotations

import argparse
import json
import math
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

WRK_BINARY = "/usr/bin/wrk"
SATURATED_SHARE = 0.90  # as archbench-load's kSaturatedBusyShare
UNITS_US = {"us": 1.0, "ms": 1e3, "s": 1e6, "m": 60e6, "h": 3600e6}


def whole_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds - 1e-9))


def command(spec, experiment, placement, port: int, json_path: Path, path: str) -> list[str]:
    """The point's load command: this wrapper, then wrk's own command line."""
    binary = shutil.which(WRK_BINARY)
    if binary is None:
        from point import PointFailed  # at call time: point.py imports this module
        raise PointFailed(f"wrk is not installed ({WRK_BINARY}; Debian: apt-get install wrk)")
    threads = min(placement.load_threads, spec.connections)
    timeout_s = whole_seconds(experiment.load.get("timeout_ms", 1000) / 1000)
    return [sys.executable, str(Path(__file__).resolve()), "--json", str(json_path),
            "--warmup", str(experiment.warmup_s), "--",
            binary, "-t", str(threads), "-c", str(spec.connections),
            "-d", f"{whole_seconds(experiment.duration_s)}s", "--latency",
            "--timeout", f"{timeout_s}s", f"http://127.0.0.1:{port}{path}"]


def measuring_marker(json_path: Path) -> Path:
    """The file this wrapper creates the moment the measured run starts (after the warm-up)."""
    return json_path.with_name(json_path.name + ".measuring")


def wait_until_measuring(load: subprocess.Popen, json_path: Path, deadline: float) -> None:
    """Returns once the measured run has started (or the wrapper has exited, or the deadline
    passed), so that the server's window starts with wrk's and leaves its warm-up out: wrk's
    warm-up is a run of whole seconds, and starting the wrapper and wrk takes time of its own."""
    marker = measuring_marker(json_path)
    while not marker.exists() and load.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)


def _time_us(text: str) -> float | None:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    return float(match.group(1)) * UNITS_US[match.group(2)] if match else None


def parse(output: str) -> dict:
    """wrk's text output as archbench-load's JSON keys (module docstring). Raises ValueError
    when the output holds no result (wrk failed)."""
    done = re.search(r"^\s*(\d+) requests in ([\d.]+\w+),", output, re.M)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if not done or not rate:
        raise ValueError("no result in wrk's output")
    requests = int(done.group(1))
    duration_s = (_time_us(done.group(2)) or 0) / 1e6
    latency_line = re.search(r"^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)", output, re.M)
    percentiles = {int(p): _time_us(v) for p, v in
                   re.findall(r"^\s+(\d+)%\s+(\S+)$", output, re.M)}
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                        r"timeout (\d+)", output)
    connect, read, write, timeout = (int(n) for n in sockets.groups()) if sockets else (0,) * 4
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    wrong = int(non_2xx.group(1)) if non_2xx else 0
    ok = max(requests - wrong, 0)
    return {
        "tool": "wrk",
        "duration_s": duration_s,
        "requests_ok": ok,
        "requests_done": requests,
        "throughput_rps": float(rate.group(1)) * ok / requests if requests else 0.0,
        "errors": {"connect": connect, "reset": read + write, "eof": 0,
                   "wrong_answer": wrong, "timeout": timeout},
        "latency_us": {
            "mean": _time_us(latency_line.group(1)) if latency_line else None,
            "max": _time_us(latency_line.group(3)) if latency_line else None,
            "p50": percentiles.get(50), "p75": percentiles.get(75),
            "p90": percentiles.get(90), "p99": percentiles.get(99),
        },
    }


def _run(wrk: list[str], duration: str | None = None) -> tuple[str, int, float, float]:
    """Runs wrk (with -d replaced by `duration` when given): its output, exit code, CPU
    seconds and wall seconds."""
    if duration is not None:
        wrk = wrk[:]
        wrk[wrk.index("-d") + 1] = duration
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(wrk, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout + done.stderr, done.returncode, cpu, wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="harness/wrk.py",
                                     description="Run wrk for a point; write its figures as "
                                                 "archbench-load's JSON.")
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--warmup", type=float, default=0.0)
    parser.add_argument("wrk", nargs=argparse.REMAINDER, help="-- then wrk's command line")
    args = parser.parse_args(argv)
    wrk = args.wrk[1:] if args.wrk[:1] == ["--"] else args.wrk
    if not wrk or "-d" not in wrk:
        parser.error("give wrk's command line, with -d, after --")
    if args.warmup > 0:
        output, code, _, _ = _run(wrk, f"{whole_seconds(args.warmup)}s")
        print(f"# warm-up (discarded), exit code {code}:\n{output}", flush=True)
    measuring_marker(args.json).touch()
    output, code, cpu_s, wall_s = _run(wrk)
    print(output, flush=True)
    try:
        result = parse(output)
    except ValueError as error:
        print(f"wrk.py: {error} (exit code {code})", file=sys.stderr)
        return 1
    threads = int(wrk[wrk.index("-t") + 1]) if "-t" in wrk else 1
    utilisation = cpu_s / (wall_s * threads) if wall_s > 0 else 0.0
    result["loadgen"] = {"cpu_s": cpu_s, "cpu_util": utilisation,
                         "saturated": utilisation > SATURATED_SHARE}
    result["config"] = {"command": wrk}
    args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0 if result["requests_ok"] > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
