"""What a server costs, read from /proc: CPU, memory, threads, processes and context switches
of every process in the server's process group (the harness starts each server in a session of
its own, so the group is the server, its threads and every child it forked).

CPU over a window is counted so that every process is counted exactly once, whether it is still
running, exited and unreaped, or reaped, and to the microsecond:
- the server itself and the children it reaped: its own "rusage" report (getrusage of itself,
  ended threads included, and of its reaped children), asked for with SIGUSR1;
- its live children (forked or preforked workers, and zombies): the nanosecond run time of each
  of their threads in /proc/PID/task/TID/schedstat, split into user and system time in the
  proportion of /proc/PID/stat's utime and stime.
A child reaped during the window leaves the second sum and joins the first, so its time is
neither lost nor counted twice. /proc/PID/stat alone is not enough: it counts in clock ticks
(10 ms), truncated per process, and 64 preforked workers that used 6 ms each would count as 0.
Its tick totals remain as the fallback when a server gives no report.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name, numbered from 3 (state)."""
    text = _read(f"/proc/{pid}/stat")
    if text is None:
        return None
    return text[text.rfind(")") + 2:].split()


def _field(fields: list[str], number: int) -> int:
    return int(fields[number - 3])


def group_members(pgid: int) -> list[int]:
    """Every process (zombies included) whose process group is `pgid`."""
    members = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat_fields(int(name))
            if fields and _field(fields, 5) == pgid:
                members.append(int(name))
    return members


@dataclass
class GroupSample:
    cpu_user_s: float = 0.0
    cpu_sys_s: float = 0.0
    rss_kb: int = 0
    pss_kb: int = 0
    threads: int = 0
    processes: int = 0
    # For the live processes other than the group leader, by pid (the leader's, ended threads
    # and reaped children included, come from its own "rusage" report): context switches, and
    # precise CPU seconds as (user, system).
    child_switches: dict[int, int] = field(default_factory=dict)
    child_cpu: dict[int, tuple[float, float]] = field(default_factory=dict)


def _task_files(pid: int, name: str) -> list[str]:
    """The text of /proc/PID/task/TID/NAME for each live thread of the process."""
    task_dir = f"/proc/{pid}/task"
    try:
        tasks = os.listdir(task_dir)
    except FileNotFoundError:
        return []
    return [text for tid in tasks if (text := _read(f"{task_dir}/{tid}/{name}"))]


def _switches(pid: int) -> int:
    total = 0
    for text in _task_files(pid, "status"):
        for key in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
            match = re.search(rf"^{key}:\s+(\d+)", text, re.M)
            if match:
                total += int(match.group(1))
    return total


def _run_time_s(pid: int) -> float:
    """The process's CPU time in seconds, to the nanosecond: the sum of its threads' run time."""
    return sum(int(text.split()[0]) for text in _task_files(pid, "schedstat")) / 1e9


def _pss_kb(pid: int) -> int:
    text = _read(f"/proc/{pid}/smaps_rollup") or ""
    match = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) if match else 0


def sample_group(pgid: int, memory: bool = True) -> GroupSample:
    sample = GroupSample()
    for pid in group_members(pgid):
        fields = _stat_fields(pid)
        if not fields:
            continue
        sample.cpu_user_s += (_field(fields, 14) + _field(fields, 16)) / CLOCK_TICKS
        sample.cpu_sys_s += (_field(fields, 15) + _field(fields, 17)) / CLOCK_TICKS
        sample.processes += 1
        if fields[0] != "Z":
            sample.threads += _field(fields, 20)
            if memory:
                sample.rss_kb += _field(fields, 24) * PAGE_KB
                sample.pss_kb += _pss_kb(pid)
        if pid != pgid:
            sample.child_switches[pid] = _switches(pid)
            user_ticks, sys_ticks = _field(fields, 14), _field(fields, 15)
            run_time = _run_time_s(pid)
            user_share = user_ticks / (user_ticks + sys_ticks) if user_ticks + sys_ticks else 0.0
            sample.child_cpu[pid] = (run_time * user_share, run_time * (1 - user_share))
    return sample


RUSAGE_LINE = re.compile(r"^rusage (.*)$", re.M)


def parse_rusage_reports(stderr_text: str) -> list[dict[str, float]]:
    """The "rusage key=value ..." lines archbench-server prints on SIGUSR1, in order."""
    reports = []
    for match in RUSAGE_LINE.finditer(stderr_text):
        report = {}
        for pair in match.group(1).split():
            key, _, value = pair.partition("=")
            report[key] = float(value)
        reports.append(report)
    return reports


def rusage_cpu(report: dict[str, float]) -> tuple[float, float]:
    """(user, system) seconds of the server, ended threads and reaped children included."""
    return (report["user_s"] + report["children_user_s"],
            report["sys_s"] + report["children_sys_s"])


def window_cpu(start: GroupSample, end: GroupSample, reports: list[dict[str, float]]
               ) -> tuple[float, float]:
    """(user, system) CPU seconds the whole server used between two samples, given the rusage
    reports it printed at each of them (see the module's docstring)."""
    if len(reports) < 2:
        return end.cpu_user_s - start.cpu_user_s, end.cpu_sys_s - start.cpu_sys_s
    (user0, sys0), (user1, sys1) = rusage_cpu(reports[-2]), rusage_cpu(reports[-1])
    user = user1 - user0 + sum(u for u, _ in end.child_cpu.values()) \
        - sum(u for u, _ in start.child_cpu.values())
    system = sys1 - sys0 + sum(s for _, s in end.child_cpu.values()) \
        - sum(s for _, s in start.child_cpu.values())
    return user, system


def rusage_switches(report: dict[str, float]) -> float:
    return (report["voluntary_switches"] + report["involuntary_switches"]
            + report["children_voluntary_switches"] + report["children_involuntary_switches"])


WORKER_CONNECTIONS_LINE = re.compile(r"^worker_connections((?: \d+)*)\s*$", re.M)


def parse_worker_connections(stderr_text: str) -> list[int] | None:
    """The "worker_connections N0 N1 ..." line a pooled server prints at exit: how many
    connections each of its workers accepted. None for servers without workers."""
    match = WORKER_CONNECTIONS_LINE.search(stderr_text)
    return [int(n) for n in match.group(1).split()] if match else None
