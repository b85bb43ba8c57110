"""A run folder: results/<UTC timestamp>-<host>/ with meta.json, points.csv (written row by row,
so that it is readable at any moment), raw/ (each point's load generator JSON and .hgrm, the
server's stderr), and results/latest pointing at it."""
from __future__ import annotations

import csv
import json
import os
import platform
import re
import socket
import subprocess
import time
from pathlib import Path

# DESIGN.md's columns, in its order; the ones after them are ours.
COLUMNS = [
    "arch", "workload", "connections", "rep", "status", "throughput_rps", "p50_us", "p90_us",
    "p99_us", "p99_9_us", "max_us", "requests_ok", "errors", "timeouts", "server_cpu_us_per_req",
    "server_user_s", "server_sys_s", "server_rss_kb", "server_threads", "server_processes",
    "ctx_switches_per_req", "loadgen_cpu_util", "loadgen_saturated",
    # more columns
    "reason", "p99_99_us", "mean_us", "errors_connect", "errors_reset", "errors_eof",
    "errors_wrong_answer", "in_flight_at_end", "server_pss_kb", "duration_s", "session",
    "work_us", "sleep_us", "reply_bytes", "pipeline", "rate", "window_s",
    "worker_connections",
    "offered_rps", "slo_met", "capacity_rps", "idle", "idle_opened", "idle_failed",
    "idle_closed_by_server", "idle_first_close_s",
    # the noise sentinel (harness/sentinel.py) and the CPU cross-check
    "disturbed", "machine_slowdown", "foreign_cpu_share", "retries", "cpu_accounting",
    "server_cores_busy", "round", "harness_cpu_share",
    # why, per point (harness/perfcount.py; empty where perf cannot count here)
    "syscalls_per_req", "runqueue_us_per_req", "faults_per_req", "load_syscalls_per_req",
    "major_faults_per_req",
    "syscalls_read_per_req", "syscalls_write_per_req", "syscalls_wait_per_req",
    "syscalls_epoll_ctl_per_req", "syscalls_accept_per_req", "syscalls_futex_per_req",
    "syscalls_spawn_per_req", "syscalls_close_per_req", "syscalls_memory_per_req", "syscalls_other_per_req",
    # across hosts (harness/hosts.py): how many load hosts shared the point, the latest start
    "load_hosts", "start_late_s",
    # deployment points (harness/deployment.py): instances, the balancer, failover
    "instances", "balancer", "hosts_policy", "balance", "timeline_ms", "lb_cpu_us_per_req",
    "lb_cpu_s", "lb_rss_kb", "kill_s", "restart_s", "failed_after_kill", "rps_before_kill",
    "recovery_s", "recovery_note", "revived_serving_s", "revived_note",
    # the protocol spoken and the load generator (harness/crosscheck.py)
    "protocol", "path", "load_generator",
]


def utc_stamp(seconds: float | None = None) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(seconds))


def iso_time(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def create_run_folder(results_dir: Path) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"
    stamp = utc_stamp()
    run = results_dir / f"{stamp}-{host}"
    suffix = 1
    while run.exists():
        suffix += 1
        run = results_dir / f"{stamp}-{host}-{suffix}"
    (run / "raw").mkdir(parents=True)
    latest = results_dir / "latest"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(run.name)
    return run


class PointsCsv:
    """points.csv, flushed after every row."""

    def __init__(self, path: Path):
        self._file = open(path, "w", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._file, fieldnames=COLUMNS, extrasaction="ignore")
        self._writer.writeheader()
        self._file.flush()

    def write(self, row: dict) -> None:
        self._writer.writerow({key: _cell(row.get(key)) for key in COLUMNS})
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e15 else str(value)
    return value


def _first_line(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).splitlines()[0].strip()
    except (OSError, subprocess.SubprocessError, IndexError):
        return ""


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _memory_kb() -> int:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cmake_cache(build_dir: Path) -> dict[str, str]:
    cache = {}
    try:
        with open(build_dir / "CMakeCache.txt", encoding="utf-8") as f:
            for line in f:
                match = re.match(r"^([A-Za-z_]+):[A-Z]+=(.*)$", line.strip())
                if match:
                    cache[match.group(1)] = match.group(2)
    except OSError:
        pass
    return cache


def machine() -> dict:
    """This machine: CPU model, cores, memory, kernel (also read on every host of a run across
    machines, by harness/remote.py)."""
    return {
        "hostname": socket.gethostname(),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "cpus_allowed": sorted(os.sched_getaffinity(0)),
        "memory_kb": _memory_kb(),
        "kernel": platform.release(),
        "os": _first_line(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
    }


def machine_meta(build_dir: Path, repo: Path) -> dict:
    cache = _cmake_cache(build_dir)
    build_type = cache.get("CMAKE_BUILD_TYPE", "")
    compiler = cache.get("CMAKE_CXX_COMPILER", "c++")
    revision = _first_line(["git", "-C", str(repo), "rev-parse", "HEAD"])
    dirty = bool(subprocess.run(["git", "-C", str(repo), "status", "--porcelain"],
                                capture_output=True, text=True).stdout.strip()) if revision else None
    return {
        "machine": machine(),
        "build": {
            "compiler": compiler,
            "compiler_version": _first_line([compiler, "--version"]),
            "build_type": build_type,
            "cxx_flags": " ".join(filter(None, [
                cache.get("CMAKE_CXX_FLAGS", ""),
                cache.get(f"CMAKE_CXX_FLAGS_{build_type.upper()}", "") if build_type else ""])),
            "build_dir": str(build_dir),
        },
        "git": {"revision": revision, "dirty": dirty},
    }


def write_meta(run: Path, meta: dict) -> None:
    tmp = run / "meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    tmp.replace(run / "meta.json")
