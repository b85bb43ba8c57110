"""The noise sentinel: is the machine the same at this point as at the others?

Two measures per point, both about the cores the server and the load generator were given:
- machine_slowdown: just before and just after the point, a fixed piece of CPU work (about
  4 ms, its size calibrated once per run) is timed on each of those cores, and the slowest of
  these timings is divided by the run's calibrated time on that core. 1.0 is the quiet machine;
  2.0 means another process held the core half of the time (or the CPU ran at half speed).
- foreign_cpu_share: over the measured window, the CPU time that other processes used on those
  cores (steal included), from /proc/stat's per-CPU counters less what the server (its exact
  accounting) and the load generator (its own report) used, as a share of the time the cores
  were there: 0.0 is nobody else, 0.5 is half a core's time per core taken from the benchmark.

A point is disturbed when machine_slowdown > SLOWDOWN_LIMIT or foreign_cpu_share >
FOREIGN_LIMIT (see their comments); the harness then measures it again, at most twice.
"""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass

# A core that gives the sentinel's work less than 2/3 of its speed: on a time-shared core that
# is another runnable process for a third of the time, which no benchmark figure survives;
# timing jitter of a quiet core stays below 1.2 here.
SLOWDOWN_LIMIT = 1.5
# Other processes (and the hypervisor's steal) took more than 10 % of the cores' time while
# the point was measured: the server or the load generator lost that much of its CPU.
FOREIGN_LIMIT = 0.10
TARGET_S = 0.004          # the sentinel's work on a quiet core
CALIBRATION_ROUNDS = 9    # per core, each timed as a point's sentinel is; the median is the reference
TRIES = 2                 # a point's sentinel: the faster of two timings per core


def _work(iterations: int) -> int:
    """A fixed piece of CPU work, the same every time: integer arithmetic in the interpreter,
    no memory beyond a few objects, no system call."""
    x = 0
    for i in range(iterations):
        x = (x * 31 + i) & 0xFFFFFFFF
    return x


def _timed_on(cpu: int, iterations: int) -> float:
    """Wall-clock seconds of the work on `cpu` (the calling thread is pinned there for it)."""
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        time.sleep(0)  # let the scheduler move this thread before the clock starts
        start = time.perf_counter()
        _work(iterations)
        return time.perf_counter() - start
    finally:
        os.sched_setaffinity(0, allowed)


@dataclass
class Calibration:
    iterations: int
    reference_s: dict[int, float]  # per CPU: the work's typical time at calibration (calibrate)

    def as_meta(self) -> dict:
        return {"iterations": self.iterations,
                "reference_ms": {str(c): round(t * 1e3, 4) for c, t in self.reference_s.items()},
                "slowdown_limit": SLOWDOWN_LIMIT, "foreign_limit": FOREIGN_LIMIT}


def calibrate(cpus: list[int]) -> Calibration:
    """Sizes the work to about TARGET_S on the first CPU, then takes each CPU's typical time."""
    iterations = 20_000
    while True:
        took = min(_timed_on(cpus[0], iterations) for _ in range(3))
        if took >= TARGET_S / 4 or iterations > 10**8:
            break
        iterations *= 4
    iterations = max(1, int(iterations * TARGET_S / max(took, 1e-6)))
    # Each round is timed exactly as a point's sentinel is (the faster of TRIES), and the
    # reference is the median round: the same estimator, so that a quiet machine reads 1.0 at
    # a point. (The fastest of many timings, as this took before, is an outlier of its own: a
    # quiet machine here then read 1.3, close to the limit, and half the points of a quiet run
    # were called disturbed.)
    typical = {cpu: statistics.median(_timed(cpu, iterations) for _ in range(CALIBRATION_ROUNDS))
               for cpu in sorted(set(cpus))}
    # One reference for every core, the fastest core's: the cores of one machine are alike,
    # and a core that another process held through the whole calibration would otherwise set
    # a slow reference and hide the same load later.
    reference = min(typical.values())
    return Calibration(iterations, {cpu: reference for cpu in typical})


def _timed(cpu: int, iterations: int) -> float:
    """The sentinel's timing on one core: the faster of TRIES (one timer interrupt or one
    wake-up of a daemon is not a disturbance)."""
    return min(_timed_on(cpu, iterations) for _ in range(TRIES))


def slowdown(calibration: Calibration, cpus: list[int]) -> float:
    """The largest ratio, over `cpus`, of the work's time now (_timed) to its calibrated time."""
    worst = 0.0
    for cpu in sorted(set(cpus)):
        worst = max(worst, _timed(cpu, calibration.iterations) / calibration.reference_s[cpu])
    return worst


# --------------------------------------------------------------------------- /proc/stat

def cpu_times() -> dict[int, tuple[float, float]]:
    """Per CPU: (busy seconds, all seconds) since boot, from /proc/stat. Busy is everything but
    idle and iowait: user, nice, system, irq, softirq, steal (guest time is inside user)."""
    ticks = os.sysconf("SC_CLK_TCK")
    result = {}
    with open("/proc/stat", encoding="ascii") as f:
        for line in f:
            name, *fields = line.split()
            if not name.startswith("cpu") or name == "cpu":
                continue
            values = [int(v) for v in fields[:8]] + [0] * (8 - len(fields[:8]))
            user, nice, system, idle, iowait, irq, softirq, steal = values
            busy = user + nice + system + irq + softirq + steal
            result[int(name[3:])] = (busy / ticks, (busy + idle + iowait) / ticks)
    return result


def busy_seconds(start: dict, end: dict, cpus: list[int]) -> tuple[float, float]:
    """(busy, elapsed) CPU seconds summed over `cpus` between two cpu_times() readings."""
    busy = sum(end[c][0] - start[c][0] for c in set(cpus) if c in start and c in end)
    total = sum(end[c][1] - start[c][1] for c in set(cpus) if c in start and c in end)
    return busy, total


def foreign_share(start: dict, end: dict, cpus: list[int], ours_s: float) -> float:
    """The share of the cores' time that others used: (busy - ours) / elapsed, at least 0.
    /proc/stat counts in clock ticks (10 ms), so a share below about 0.02 is resolution."""
    busy, total = busy_seconds(start, end, cpus)
    if total <= 0:
        return 0.0
    return max(0.0, busy - ours_s) / total


def is_disturbed(machine_slowdown: float | None, foreign_cpu_share: float | None) -> bool:
    return bool((machine_slowdown or 0) > SLOWDOWN_LIMIT
                or (foreign_cpu_share or 0) > FOREIGN_LIMIT)
