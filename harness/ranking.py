"""When the data says that A beats B: the one rule every ranking of archbench uses (the
harness's closing table, the report's words and bold cells, `make compare`). Standard library
only, so that both the harness and plots/ import it.

The rule: A is better than B when every repetition of A is better than every repetition of B
(their min-max ranges over repetitions do not overlap), each has at least MIN_REPS
repetitions, and their medians differ by at least MIN_EFFECT. Otherwise they are "tied within
noise". With 3 repetitions each, two architectures that are in truth the same are split by
chance with probability 2 / C(6, 3) = 10 % (when their repetitions are exchangeable); the
interleaved order of the runs makes slow drifts of the machine hit both alike, and MIN_EFFECT
keeps differences too small to matter (and to survive a change of machine state) out.
"""
from __future__ import annotations

import statistics

MIN_REPS = 3
MIN_EFFECT = 0.05

RULE = (f"A is ranked above B only when every repetition of A is better than every repetition "
        f"of B (their min-max ranges do not overlap), both have at least {MIN_REPS} "
        f"repetitions, and their medians differ by at least {MIN_EFFECT:.0%}; otherwise they "
        f"are tied within noise.")


def separated(a: list[float], b: list[float], higher_is_better: bool = True) -> int:
    """+1 when a is better than b, -1 when b is better than a, 0 when they are tied within
    noise (or either has too few repetitions to tell)."""
    if len(a) < MIN_REPS or len(b) < MIN_REPS:
        return 0
    median_a, median_b = statistics.median(a), statistics.median(b)
    low, high = sorted((abs(median_a), abs(median_b)))
    if high == 0 or (high - low) / high < MIN_EFFECT:
        return 0
    if min(a) > max(b):
        return 1 if higher_is_better else -1
    if min(b) > max(a):
        return -1 if higher_is_better else 1
    return 0


def order(groups: dict[str, list[float]], higher_is_better: bool = True) -> list[str]:
    """The names with values, best median first (ties of medians kept in the given order)."""
    named = [(name, statistics.median(values)) for name, values in groups.items() if values]
    return [name for name, _ in sorted(named, key=lambda item: item[1],
                                       reverse=higher_is_better)]


def leaders(groups: dict[str, list[float]], higher_is_better: bool = True) -> list[str]:
    """The best median first, then every name not separated from it: one name when the best is
    clearly best, several when they are tied within noise, [] when nothing was measured."""
    ranked = order(groups, higher_is_better)
    if not ranked:
        return []
    top = ranked[0]
    return [top] + [name for name in ranked[1:]
                    if separated(groups[top], groups[name], higher_is_better) != 1]


def trailers(groups: dict[str, list[float]], higher_is_better: bool = True) -> list[str]:
    """The worst median first, then every name not separated from it."""
    return leaders(groups, not higher_is_better)


def tied_text(names: list[str]) -> str:
    """'epoll' or 'tied within noise: epoll, poll and select'."""
    if len(names) <= 1:
        return "".join(names)
    return "tied within noise: " + ", ".join(names[:-1]) + " and " + names[-1]


def too_few(values: list[float]) -> str:
    """'' or why a point's figures cannot be ranked: fewer than MIN_REPS repetitions measured
    them (a tie would be claimed where nothing is known)."""
    if len(values) >= MIN_REPS:
        return ""
    return f"{len(values)} repetition(s) measured it, {MIN_REPS} are needed to rank"


def eligible(points: list[dict]) -> str:
    """"" when a point (its repetitions, as dicts with status, errors, timeouts, connections)
    may be ranked, else why not: a point where requests failed or timed out is never called
    best, fastest or lowest, whatever its figures."""
    if not points:
        return "not measured"
    failed = sum(1 for p in points if p.get("status") != "ok")
    if failed:
        return f"{failed} of {len(points)} repetitions failed"
    return failure_text(points)


def failure_text(points: list[dict]) -> str:
    """'' or what went wrong in a point's requests, median over repetitions: '63 of 64 clients
    starved: 63 timeouts' where each client timed out at most once, else '126 timeouts' or
    '1,203 errors (900 timeouts)'."""
    errors = statistics.median(float(p.get("errors") or 0) for p in points)
    if errors <= 0:
        return ""
    timeouts = statistics.median(float(p.get("timeouts") or 0) for p in points)
    clients = int(points[0].get("connections") or 0)
    if timeouts == errors and 0 < timeouts <= clients:
        return f"{timeouts:,.0f} of {clients} clients starved: {timeouts:,.0f} timeouts"
    if timeouts == errors:
        return f"{timeouts:,.0f} timeouts"
    text = f"{errors:,.0f} errors"
    return text + (f" ({timeouts:,.0f} timeouts)" if timeouts else "")
