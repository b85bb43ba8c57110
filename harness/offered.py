"""What a point offers the server: an idle multitude (--idle), and open-loop rates given as
multiples of the architecture's own capacity.

Workload keys (experiment.py):
    idle = 1000                 # archbench-load --idle: silent connections held open
    rate = 5000                 # absolute: requests/s in total (open loop)
    rate_x_capacity = 0.8       # relative: this multiple of the capacity, measured first
    rate_steps = [[2.0, 3], [0.5, 4]]   # overload: multiples of the capacity, for seconds each
                                        # (archbench-load --rate-steps); the last holds to the end

The capacity is the closed-loop throughput of the same architecture, workload knobs and
connection count, measured by a probe of `capacity_probe_s` seconds (top-level key, default 1)
against the point's own server before its load starts, and remembered for the rest of the run,
so that a sweep of rates measures it once per architecture. Relative rates make the sweep
land below and beyond every architecture's knee, whatever its speed; offered_rps in points.csv
is always absolute.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

DEFAULT_PROBE_S = 1.0
DEFAULT_SLO_US = 1000.0
# "Sustained": it answered at least this share of what was offered (the rest queued or failed).
SUSTAINED_SHARE = 0.9

_capacities: dict[tuple, float] = {}


def needs_capacity(workload) -> bool:
    return bool(getattr(workload, "rate_x_capacity", None) or getattr(workload, "rate_steps", None))


def _key(spec) -> tuple:
    w = spec.workload
    return (spec.arch, spec.connections, w.session, w.work_us, w.sleep_us, w.reply_bytes,
            w.pipeline, getattr(w, "idle", 0))


def measure_capacity(command: list[str], spec, probe_s: float, json_path: Path,
                     timeout_s: float, pin) -> float:
    """Runs the closed-loop probe (the point's load command without rates) once per key."""
    key = _key(spec)
    if key in _capacities:
        return _capacities[key]
    probe = [part for part in command]
    for flag in ("--json", "--hgrm", "-d", "--warmup"):
        if flag in probe:
            at = probe.index(flag)
            del probe[at:at + 2]
    probe += ["-d", str(probe_s), "--warmup", "0.3", "--json", str(json_path)]
    subprocess.run(probe, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=timeout_s, preexec_fn=pin)
    try:
        capacity = float(json.loads(json_path.read_text(encoding="utf-8"))["throughput_rps"])
    except (OSError, ValueError, KeyError, TypeError):
        capacity = 0.0
    if capacity > 0:
        _capacities[key] = capacity
    return capacity


def rate_flags(workload, capacity: float | None) -> tuple[list[str], float | None]:
    """archbench-load's open-loop flags and the offered rate (requests/s; for rate steps, the
    first step's, the overload)."""
    steps = getattr(workload, "rate_steps", None)
    relative = steps or getattr(workload, "rate_x_capacity", None)
    if relative and not capacity:
        return [], None  # the probe itself: closed loop
    if steps:
        absolute = [(factor * capacity, seconds) for factor, seconds in steps]
        text = ",".join(f"{max(rate, 1.0):.0f}:{seconds:g}" for rate, seconds in absolute)
        return ["--rate-steps", text], absolute[0][0]
    factor = getattr(workload, "rate_x_capacity", None)
    if factor:
        rate = max(factor * capacity, 1.0)
        return ["--rate", f"{rate:.0f}"], float(f"{rate:.0f}")
    if workload.rate:
        return ["--rate", str(workload.rate)], float(workload.rate)
    return [], None


def slo_met(row: dict, slo_us: float) -> bool | None:
    """An open-loop point met the SLO: p99 within it, no errors, and the offered rate answered
    (at least SUSTAINED_SHARE of it). None for closed-loop points."""
    offered = row.get("offered_rps")
    if not offered or row.get("status") != "ok":
        return None if not offered else False
    p99 = row.get("p99_us")
    return (p99 is not None and p99 <= slo_us and not row.get("errors")
            and (row.get("throughput_rps") or 0) >= SUSTAINED_SHARE * offered)


def idle_fields(result: dict) -> dict:
    idle = result.get("idle") or {}
    if not idle.get("requested"):
        return {}
    return {"idle_opened": idle.get("opened"), "idle_failed": idle.get("failed"),
            "idle_closed_by_server": idle.get("closed_by_server"),
            "idle_first_close_s": idle.get("first_close_s")}
