"""System calls, page faults and CPU of a whole process tree over exactly the measured window,
counted by the kernel with `perf stat` (Debian's linux-perf).

How it counts, and why this way:
- Each measured process tree (the server; the load generator) is put in a perf_event cgroup of
  its own as it starts (the harness writes the new process into cgroup.procs before it execs),
  so that every thread and every child it forks later, during the window included, is in it.
  `perf stat -a -G CGROUP` counts the events of every task in the cgroup on every CPU. Attaching
  with `perf stat -p PID` instead would miss the children forked after it attached (a forked
  server's every client).
- The events are tracepoints (raw_syscalls:sys_enter for the total, syscalls:sys_enter_NAME
  for the kinds) and software events (page faults, task-clock): counters only, no sampling and
  no ring buffer, so counting costs a few percent at most (measured: `perfcount_overhead` in
  tests/harness and README) and works in virtual machines without hardware counters.
- perf starts before the point with its events disabled (`-D -1`) and is switched on and off
  over a control FIFO at the window's edges (`--control fifo:CTL,ACK`), so the counts cover the
  same window as the rest of the point's cost.
- Where counting is impossible (no perf, not root, no tracefs, no perf_event cgroup, a kernel
  that refuses), `probe()` returns the reason once and the run goes on with empty columns.
  ARCHBENCH_PERF names the perf binary (default: perf on PATH).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import procstat

TRACEFS_MOUNTS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
CGROUP_V1_MOUNT = "/sys/fs/cgroup/perf_event"
CGROUP_V2_MOUNT = "/sys/fs/cgroup"

# The kinds of call that explain these designs, and the system calls each one counts. Calls
# not listed are "other" (the total minus the listed ones), so the kinds always sum to the total.
KINDS: dict[str, tuple[str, ...]] = {
    "read": ("read", "readv", "pread64", "recvfrom", "recvmsg", "recvmmsg"),
    "write": ("write", "writev", "pwrite64", "sendto", "sendmsg", "sendmmsg"),
    "wait": ("select", "pselect6", "poll", "ppoll", "epoll_wait", "epoll_pwait",
             "epoll_pwait2", "io_uring_enter"),
    "epoll_ctl": ("epoll_ctl",),
    "accept": ("accept", "accept4"),
    "futex": ("futex",),
    "spawn": ("clone", "clone3", "fork", "vfork", "execve"),
    "close": ("close",),
    "memory": ("mmap", "munmap", "mprotect", "madvise", "mremap", "brk"),
}
KIND_NAMES = tuple(KINDS) + ("other",)
TOTAL_EVENT = "raw_syscalls:sys_enter"
SOFTWARE_EVENTS = ("minor-faults", "major-faults", "task-clock")
CONTROL_TIMEOUT_S = 2.0


def _tracefs() -> str | None:
    """A mounted tracefs, mounting it where it is not (root only)."""
    for path in TRACEFS_MOUNTS:
        if os.path.isdir(f"{path}/events/raw_syscalls"):
            return path
    if os.path.isdir(TRACEFS_MOUNTS[0]):
        subprocess.run(["mount", "-t", "tracefs", "nodev", TRACEFS_MOUNTS[0]],
                       capture_output=True, timeout=10)
        if os.path.isdir(f"{TRACEFS_MOUNTS[0]}/events/raw_syscalls"):
            return TRACEFS_MOUNTS[0]
    return None


def _perf_cgroup_root() -> str | None:
    """The root of a cgroup hierarchy that perf's -G can use: cgroup v2 where the machine runs
    it, else a v1 perf_event hierarchy (mounted here if the machine has none)."""
    if os.path.exists(f"{CGROUP_V2_MOUNT}/cgroup.controllers"):
        return CGROUP_V2_MOUNT
    if os.path.exists(f"{CGROUP_V1_MOUNT}/cgroup.procs"):
        return CGROUP_V1_MOUNT
    try:
        os.makedirs(CGROUP_V1_MOUNT, exist_ok=True)
    except OSError:
        return None
    subprocess.run(["mount", "-t", "cgroup", "-o", "perf_event", "none", CGROUP_V1_MOUNT],
                   capture_output=True, timeout=10)
    return CGROUP_V1_MOUNT if os.path.exists(f"{CGROUP_V1_MOUNT}/cgroup.procs") else None


@dataclass
class Counting:
    """What this machine lets the harness count: the perf binary, the cgroup root, and the
    system-call tracepoints that exist on this kernel."""
    perf: str
    cgroup_root: str
    syscalls: tuple[str, ...]  # names with a syscalls:sys_enter_NAME tracepoint

    def events(self) -> list[str]:
        return [TOTAL_EVENT] + [f"syscalls:sys_enter_{name}" for name in self.syscalls] + \
            list(SOFTWARE_EVENTS)


def probe() -> tuple[Counting | None, str]:
    """(Counting, "") where counting works here, else (None, why not) in one line."""
    perf = shutil.which(os.environ.get("ARCHBENCH_PERF", "perf"))
    if perf is None:
        return None, (f"no perf at {os.environ['ARCHBENCH_PERF']} (ARCHBENCH_PERF)"
                      if "ARCHBENCH_PERF" in os.environ
                      else "perf is not installed (Debian package linux-perf)")
    if os.geteuid() != 0:
        return None, "counting system calls needs root (perf -a on a cgroup and tracefs)"
    tracefs = _tracefs()
    if tracefs is None:
        return None, "no tracefs with raw_syscalls tracepoints (mount -t tracefs nodev /sys/kernel/tracing)"
    cgroup_root = _perf_cgroup_root()
    if cgroup_root is None:
        return None, "no perf_event cgroup hierarchy could be found or mounted"
    listed = [name for names in KINDS.values() for name in names]
    present = tuple(name for name in listed
                    if os.path.isdir(f"{tracefs}/events/syscalls/sys_enter_{name}"))
    counting = Counting(perf, cgroup_root, present)
    # One real count of a trivial command proves that the kernel and perf agree.
    check = subprocess.run([perf, "stat", "-x,", "-e", TOTAL_EVENT, "--", "true"],
                           capture_output=True, text=True, timeout=20)
    if check.returncode != 0 or "<not supported>" in check.stderr:
        line = (check.stderr.strip().splitlines() or ["perf stat failed"])[-1]
        return None, f"perf cannot count {TOTAL_EVENT}: {line}"
    return counting, ""


class TracepointHold:
    """Keeps the counted tracepoints registered for a whole run, so that a point's perf exits
    at once instead of in about 1.4 s.

    When the last perf event on a tracepoint closes, the kernel unregisters its probe and waits
    for an RCU grace period before it goes on (perf_trace_event_unreg); a point's perf closes
    one event per tracepoint and per CPU, and the last of each waited about 40 ms here: 38
    tracepoints, 1.4 s for one perf alone (strace), and 1.5 s of a 2.1 s point for its two
    (cProfile of a run). With the holder a perf exits in 5 ms. The holder is one `perf stat`
    whose events follow a `cat` that never runs: it reads the holder's pipe, which the harness
    keeps open for the run and closes at the end (or the kernel closes, when the harness dies),
    and then both exit. Its counts are thrown away; it counts nothing of a point."""

    def __init__(self, counting: "Counting | None"):
        self._perf: subprocess.Popen | None = None
        if counting is None:
            return
        self._perf = subprocess.Popen(
            [counting.perf, "stat", "-x,", "-o", os.devnull, "-e", ",".join(counting.events()),
             "--", "cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)

    def close(self) -> None:
        if self._perf is None:
            return
        self._perf.stdin.close()  # cat ends, and perf with it (taking the 1.4 s once)
        try:
            self._perf.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self._perf.pid, signal.SIGKILL)
            self._perf.wait()


class ProcessTreeCounter:
    """Counts one process tree (a cgroup of its own) over a window."""

    def __init__(self, counting: Counting, name: str):
        self.counting = counting
        self.name = name
        self.path = Path(counting.cgroup_root) / name
        self.path.mkdir(exist_ok=True)
        self._perf: subprocess.Popen | None = None
        self._folder = Path(tempfile.mkdtemp(prefix="archbench-perf-"))
        self.output = self._folder / "perf.csv"

    def join(self) -> None:
        """Puts the calling process in the cgroup: for preexec_fn, between fork and exec, so
        that the program and everything it starts is counted."""
        with open(self.path / "cgroup.procs", "w", encoding="ascii") as procs:
            procs.write(str(os.getpid()))

    def prepare(self) -> None:
        """Starts perf with its events disabled; start() switches them on."""
        control, ack = self._folder / "ctl", self._folder / "ack"
        os.mkfifo(control)
        os.mkfifo(ack)
        events = self.counting.events()
        command = [self.counting.perf, "stat", "-a", "-x,", "-D", "-1",
                   "--control", f"fifo:{control},{ack}", "-o", str(self.output),
                   "-e", ",".join(events), "-G", ",".join([self.name] * len(events))]
        self._perf = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      start_new_session=True)
        # Opening a FIFO blocks until the other side opens it: perf opens both once it runs.
        self._control = _open_fifo(control, os.O_WRONLY, self._perf)
        self._ack = _open_fifo(ack, os.O_RDONLY, self._perf)

    def _command(self, word: str) -> None:
        os.write(self._control, f"{word}\n".encode())
        deadline = time.monotonic() + CONTROL_TIMEOUT_S
        answer = b""
        while b"ack" not in answer:
            if time.monotonic() > deadline:
                raise RuntimeError(f"perf did not acknowledge '{word}'")
            try:
                answer += os.read(self._ack, 64)
            except BlockingIOError:
                time.sleep(0.001)

    def start(self) -> None:
        self._command("enable")

    def stop(self) -> dict[str, float]:
        """Ends the window; the counts: `syscalls` (the total), one per kind (summing to it),
        `calls` {name: count}, `minor_faults`, `major_faults`, `task_clock_s`."""
        self._command("disable")
        self._perf.send_signal(signal.SIGINT)
        try:
            self._perf.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._perf.kill()
            self._perf.wait()
        return parse(self.output.read_text(encoding="utf-8", errors="replace"))

    def close(self) -> None:
        """Stops perf if it still runs and removes the cgroup (once it is empty)."""
        if self._perf is not None and self._perf.poll() is None:
            self._perf.kill()
            self._perf.wait()
        for fd in (getattr(self, "_control", None), getattr(self, "_ack", None)):
            if fd is not None:
                os.close(fd)
        shutil.rmtree(self._folder, ignore_errors=True)
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:  # processes not yet gone
                time.sleep(0.02)


def _open_fifo(path: Path, flags: int, perf: subprocess.Popen) -> int:
    """Opens a FIFO without blocking forever when perf died before opening its side."""
    deadline = time.monotonic() + CONTROL_TIMEOUT_S * 5
    while True:
        try:
            return os.open(path, flags | os.O_NONBLOCK)
        except OSError:  # ENXIO: a write end with no reader yet
            if perf.poll() is not None or time.monotonic() > deadline:
                error = perf.stderr.read().decode(errors="replace").strip() if perf.stderr else ""
                raise RuntimeError(f"perf did not start: {error.splitlines()[-1] if error else 'timeout'}")
            time.sleep(0.005)


def parse(text: str) -> dict[str, float]:
    """perf stat -x, output: counts by event, then the kinds."""
    counts: dict[str, float] = {}
    for line in text.splitlines():
        fields = line.split(",")
        if len(fields) < 3 or line.startswith("#"):
            continue
        value, event = fields[0], fields[2]
        try:
            counts[event] = float(value)
        except ValueError:  # "<not counted>"
            counts[event] = float("nan")
    total = counts.get(TOTAL_EVENT, float("nan"))
    calls = {event.removeprefix("syscalls:sys_enter_"): count for event, count in counts.items()
             if event.startswith("syscalls:sys_enter_")}
    result: dict[str, float] = {"syscalls": total}
    listed = 0.0
    for kind, names in KINDS.items():
        result[kind] = sum(calls.get(name, 0.0) for name in names)
        listed += result[kind]
    result["other"] = total - listed
    result["calls"] = calls
    result["minor_faults"] = counts.get("minor-faults", float("nan"))
    result["major_faults"] = counts.get("major-faults", float("nan"))
    result["task_clock_s"] = counts.get("task-clock", float("nan")) / 1e3  # perf reports ms
    return result


def runqueue_by_thread(pgid: int) -> dict[int, int]:
    """TID -> nanoseconds it has waited, runnable, for a CPU (the second field of
    /proc/PID/task/TID/schedstat), for every live thread of the server whose session is `pgid`
    (procstat.group_members: an external program's own process group included)."""
    waits: dict[int, int] = {}
    for pid in procstat.group_members(pgid):
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/schedstat", encoding="ascii") as f:
                    waits[int(tid)] = int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return waits


class RunQueueWait:
    """Run-queue wait of a process group over a window. The kernel keeps it per thread only,
    and a thread that ends takes its figure with it, so the group is sampled during the window
    (as the harness samples memory) and each thread counts from its first sample (from zero if
    it was born in the window) to its last: a thread that ended between two samples loses at
    most one interval of its wait. Never negative."""

    def __init__(self, pgid: int):
        self.pgid = pgid
        self.first = runqueue_by_thread(pgid)
        self.last = dict(self.first)

    def sample(self) -> None:
        self.last.update(runqueue_by_thread(self.pgid))

    def total_ns(self) -> int:
        return sum(wait - self.first.get(tid, 0) for tid, wait in self.last.items())
