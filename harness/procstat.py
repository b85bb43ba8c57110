"""What a server costs, read from /proc: CPU, memory, threads, processes and context switches
of every process in the server's session (the harness starts each server in a session of its
own, so the session is the server, its threads, every child it forked, and an external
architecture's program with its own children, which run in a process group of their own).

CPU over a window is counted so that every process is counted exactly once, whether it is still
running, exited and unreaped, or reaped, and to the microsecond, from two of the server's own
"rusage" reports (asked for with SIGUSR1 at each end of the window). Each report is one
snapshot taken with the server's reaping held off (servers/common/stop.cpp): getrusage of
itself (ended threads included) and of its reaped children, plus the CPU clock of each child
not reaped yet (running or a zombie), one clock read per child so that the snapshot is short. A child is thus in exactly one sum at each end, whatever
the order of exits around the snapshot. (The harness once read the live children in /proc
itself, after the report: a child reaped between the two was in neither sum, which lost most of
`forked`'s CPU when its children all exited at the end of a window.)

A server whose reports lack the live children (an external program) or could not read one of
them, or whose snapshot took too long to stand for an instant, is counted from
/proc/PID/stat's tick totals instead (so is one whose report came long after the harness
asked for it: its window is not the one the harness measured the cores over), and the point says that its CPU is not exact
(cpu_accounting): such a figure is never written.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

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


def _group_stats(pgid: int) -> dict[int, list[str]]:
    """pid -> /proc/PID/stat fields, for every process of the session `pgid` (group_members):
    one read of each process's stat, which says its session."""
    members = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat_fields(int(name))
            if fields and _field(fields, 6) == pgid:
                members[int(name)] = fields
    return members


def group_members(pgid: int) -> list[int]:
    """Every process (zombies included) of the server whose pid, process group and session id is
    `pgid`: every process of its session (an external program's process group included)."""
    return list(_group_stats(pgid))


@dataclass
class GroupSample:
    cpu_user_s: float = 0.0
    cpu_sys_s: float = 0.0
    rss_kb: int = 0
    pss_kb: int = 0
    threads: int = 0
    processes: int = 0


def _pss_kb(pid: int) -> int:
    text = _read(f"/proc/{pid}/smaps_rollup") or ""
    match = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) if match else 0


def sample_group(pgid: int, memory: bool = True, pss: bool = True) -> GroupSample:
    """The session's CPU ticks, processes and threads; with `memory` its RSS, and with `pss` too
    its PSS (smaps_rollup walks each process's page tables: for 1,500 processes about 0.2 s of
    CPU, where the rest of a sample takes a fifth of that)."""
    sample = GroupSample()
    for pid, fields in _group_stats(pgid).items():
        sample.cpu_user_s += (_field(fields, 14) + _field(fields, 16)) / CLOCK_TICKS
        sample.cpu_sys_s += (_field(fields, 15) + _field(fields, 17)) / CLOCK_TICKS
        sample.processes += 1
        if fields[0] != "Z":
            sample.threads += _field(fields, 20)
            if memory:
                sample.rss_kb += _field(fields, 24) * PAGE_KB
                if pss:
                    sample.pss_kb += _pss_kb(pid)
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
    """(user, system) seconds of the server itself (ended threads included) and of its reaped
    children."""
    return (report["user_s"] + report["children_user_s"],
            report["sys_s"] + report["children_sys_s"])


def report_is_complete(report: dict[str, float]) -> bool:
    """True when the report counts every child of the server (see the module docstring)."""
    return "live_children_cpu_s" in report and not report.get("live_children_unreadable", 0)


# A snapshot that took longer than this (a starved report thread) stands for no one instant.
SNAPSHOT_LIMIT_S = 0.02


def cpu_accounting(reports: list[dict[str, float]], window_s: float = 1.0,
                   asked_at: list[float] | None = None) -> str:
    """"exact", or why the window's CPU is not (then window_cpu is an estimate). `asked_at`: the
    time.monotonic() instants at which the reports were asked for, one per report: a report
    taken long after stands for another window than the harness's readings of the cores."""
    if len(reports) < 2:
        return "no rusage report from the server: CPU from /proc ticks, children may be missing"
    if not all(report_is_complete(r) for r in reports[-2:]):
        return "the server's report does not count every child: CPU from /proc ticks"
    limit = max(SNAPSHOT_LIMIT_S, 0.02 * window_s)
    slowest = max(r.get("report_wall_s", 0) for r in reports[-2:])
    if slowest > limit:
        return f"the server's CPU snapshot took {slowest * 1e3:.0f} ms (a starved core)"
    if asked_at is not None and len(asked_at) >= 2:
        late = max(r.get("report_at_s", asked) - asked
                   for r, asked in zip(reports[-2:], asked_at[-2:]))
        if late > limit:
            return f"the server took its CPU snapshot {late * 1e3:.0f} ms after it was asked " \
                   f"(a starved core)"
    return "exact"


def window_cpu(start: GroupSample, end: GroupSample, reports: list[dict[str, float]],
               window_s: float = 1.0, asked_at: list[float] | None = None) -> tuple[float, float]:
    """(user, system) CPU seconds the whole server used between two samples, given the rusage
    reports it printed at each of them (see the module's docstring). The unreaped children's
    CPU clocks give no split into user and system time: theirs is split in the proportion of
    the group's tick counts in /proc (or counted as system time when those show nothing)."""
    if cpu_accounting(reports, window_s, asked_at) != "exact":
        return end.cpu_user_s - start.cpu_user_s, end.cpu_sys_s - start.cpu_sys_s
    (user0, sys0), (user1, sys1) = rusage_cpu(reports[-2]), rusage_cpu(reports[-1])
    live = reports[-1]["live_children_cpu_s"] - reports[-2]["live_children_cpu_s"]
    ticks_user, ticks_sys = end.cpu_user_s - start.cpu_user_s, end.cpu_sys_s - start.cpu_sys_s
    share = ticks_user / (ticks_user + ticks_sys) if ticks_user + ticks_sys > 0 else 0.0
    return user1 - user0 + live * share, sys1 - sys0 + live * (1 - share)


def rusage_switches(report: dict[str, float]) -> float:
    return (report["voluntary_switches"] + report["involuntary_switches"]
            + report["children_voluntary_switches"] + report["children_involuntary_switches"]
            + report.get("live_children_switches", 0))


WORKER_CONNECTIONS_LINE = re.compile(r"^worker_connections((?: \d+)*)\s*$", re.M)


def parse_worker_connections(stderr_text: str) -> list[int] | None:
    """The "worker_connections N0 N1 ..." line a pooled server prints at exit: how many
    connections each of its workers accepted. None for servers without workers."""
    match = WORKER_CONNECTIONS_LINE.search(stderr_text)
    return [int(n) for n in match.group(1).split()] if match else None
