"""Families of architectures: which family each architecture of a run belongs to, its colour
and marker, and the member of each family that the overview charts draw. Standard library only.

Every architecture declares its family where it is registered (servers/registry.cpp, the
`family` trait); `archbench-server --list-families` prints them and the harness records them in
meta.json as `families` {architecture: family}, in the registry's order. A run's families come
from there, so that an architecture added tomorrow is grouped and coloured without a change
here; FALLBACK_FAMILIES only serves run folders written before meta.json held them.

Colour follows the family: one hue per family (FAMILY_HUES), and a shade and a marker per member,
picked by the member's position in its family as the registry lists it. The shade sequence does
not depend on how many members a family has, so a member appended to the registry changes no
other member's colour, and a run of a few architectures colours them as a full run does.
"""
from __future__ import annotations

import colorsys
import math
import sys
import zlib
from pathlib import Path

# The families in the order the report shows them (servers/common/architecture.hpp's Family
# enum), each with its hue: the blocking designs in warm colours, the event loops in cool ones.
FAMILY_HUES = {
    "one client at a time": "#505050",
    "a thread or process per client": "#d62728",
    "pools of blocking workers": "#e6730e",
    "one event loop": "#1f6fb4",
    "several event loops": "#2a9d2a",
    "event loop with offloaded work or stages": "#119aa8",
    "user-level threads": "#8a5cc2",
    "Python": "#a88406",
    "other languages": "#c2378a",
}
UNKNOWN_FAMILY = "family not recorded"
UNKNOWN_HUE = "#7a6a4f"
# Hues for families not listed above (a family added to the enum later), by a stable hash.
SPARE_HUES = ["#6b8e23", "#8b4513", "#4b0082", "#2f4f4f", "#b03060"]

# For run folders written before meta.json recorded the families: the registry as it was then.
FALLBACK_FAMILIES = {
    "single": "one client at a time",
    "threaded": "a thread or process per client",
    "forked": "a thread or process per client",
    "select": "one event loop",
    "epoll": "one event loop",
    "asio": "one event loop",
    "libevent": "one event loop",
    "poll": "one event loop",
    "prethreaded": "pools of blocking workers",
    "preforked": "pools of blocking workers",
    "epoll-reuseport": "several event loops",
    "asio-pool": "several event loops",
    "asio-coro": "one event loop",
    "io-uring": "one event loop",
}

# Member i of a family: its lightness and a small turn of the hue (alternating, so that
# neighbours in the registry differ most), and its marker.
SHADES = [(0.36, 0.0), (0.56, 0.02), (0.25, -0.02), (0.47, 0.035), (0.64, -0.035),
          (0.31, 0.02), (0.52, -0.045), (0.42, 0.045), (0.60, 0.01), (0.21, -0.01)]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "*", "p"]


class Families:
    """{architecture: family} and the members of each family in registry order."""

    def __init__(self, table: dict[str, str] | None = None):
        self.table: dict[str, str] = {}
        self.learn(table or {})

    def learn(self, table: dict[str, str]) -> None:
        """Adds the architectures not known yet (a later run's new ones go to the end of their
        family, as they do in the registry)."""
        for arch, family in table.items():
            if isinstance(arch, str) and isinstance(family, str) and arch and family:
                self.table.setdefault(arch, family)

    def family(self, arch: str) -> str:
        return self.table.get(arch) or FALLBACK_FAMILIES.get(arch) or UNKNOWN_FAMILY

    def position(self, arch: str) -> int:
        """The member's index in its family as the registry lists it; for a name the registry
        never listed, a stable hash of the name."""
        family = self.family(arch)
        members = [a for a, f in self.table.items() if f == family]
        if arch in members:
            return members.index(arch)
        fallback = [a for a, f in FALLBACK_FAMILIES.items() if f == family]
        if arch in fallback and not members:
            return fallback.index(arch)
        return len(members) + zlib.crc32(arch.encode()) % len(SHADES)

    def colour(self, arch: str) -> str:
        return shade(family_hue(self.family(arch)), self.position(arch))

    def marker(self, arch: str) -> str:
        return MARKERS[self.position(arch) % len(MARKERS)]

    def grouped(self, archs: list[str]) -> dict[str, list[str]]:
        """{family: its members among archs, in registry order}, the families in report
        order; families with no member among archs are left out."""
        groups: dict[str, list[str]] = {}
        for arch in sorted(archs, key=lambda a: (family_rank(self.family(a)),
                                                 self.position(a), a)):
            groups.setdefault(self.family(arch), []).append(arch)
        return groups


def family_rank(family: str) -> tuple[int, str]:
    names = list(FAMILY_HUES)
    return (names.index(family), "") if family in names else (len(names), family)


def family_hue(family: str) -> str:
    if family in FAMILY_HUES:
        return FAMILY_HUES[family]
    if family == UNKNOWN_FAMILY:
        return UNKNOWN_HUE
    return SPARE_HUES[zlib.crc32(family.encode()) % len(SPARE_HUES)]


def shade(hue: str, position: int) -> str:
    """Member `position`'s shade of a family's hue: a lightness and a small hue turn from
    SHADES (a one-member family still gets a shade near its hue)."""
    red, green, blue = (int(hue[i:i + 2], 16) / 255 for i in (1, 3, 5))
    h, lightness, saturation = colorsys.rgb_to_hls(red, green, blue)
    target, turn = SHADES[position % len(SHADES)]
    if position >= len(SHADES):
        turn += 0.015 * (position // len(SHADES))
    if saturation < 0.05:  # a grey: lightness alone tells the members apart
        target = 0.2 + 0.45 * (target - 0.22) / 0.42
    r, g, b = colorsys.hls_to_rgb((h + turn) % 1.0, target, min(1.0, saturation * 1.05))
    return "#" + "".join(f"{round(c * 255):02x}" for c in (r, g, b))


def slug(family: str) -> str:
    """A family name as part of a file name or an HTML id: 'one-event-loop'."""
    text = "".join(c.lower() if c.isalnum() else "-" for c in family)
    return "-".join(part for part in text.split("-") if part) or "family"


# --------------------------------------------------------------------------- the ranking rules

# The rule "A beats B only where the repetitions separate them; tied within noise otherwise"
# and "a point where requests failed is never best" are harness/ranking.py's, shared with the
# harness, the report's words and compare.
_HARNESS = str(Path(__file__).resolve().parents[1] / "harness")
if _HARNESS not in sys.path:
    sys.path.append(_HARNESS)
import ranking  # noqa: E402


def rankable_points(points):
    """A point's repetitions may be ranked only when every one succeeded and no request failed
    or timed out (ranking.eligible): those points, else None."""
    if not points or ranking.eligible([p.as_row() for p in points]):
        return None
    return points


def best_member(run, workload: str, members: list[str], metric: str,
                higher_is_better: bool) -> tuple[str | None, list[str]]:
    """(the member drawn for a family in an overview, the members tied with it).

    At each connection count the members that may be ranked there (rankable_values) are put
    through the ranking rules: the leaders are the best median and every member the repetitions
    do not separate from it. The member that leads at the most counts is drawn; members that
    lead at as many counts are tied with it (with one repetition nothing separates anyone, so
    every member that leads everywhere is tied). Among those, the better median rank over the
    counts picks the one drawn. When no member may be ranked anywhere (every point failed or
    lost requests), the first member with any figure is drawn, tied with nobody; (None, [])
    when no member has one."""
    wins = {m: 0 for m in members}
    rank_sum = {m: 0.0 for m in members}
    for count in run.connections(workload):
        groups = {}
        for member in members:
            points = rankable_points(run.points_at(workload, member, count))
            if points is None:
                continue
            values = [v for v in (p.value(metric) for p in points) if not math.isnan(v)]
            if values:
                groups[member] = values
        for member in ranking.leaders(groups, higher_is_better):
            wins[member] += 1
        ordered = ranking.order(groups, higher_is_better)
        for member in members:
            rank_sum[member] += ordered.index(member) if member in ordered else len(members)
    most = max(wins.values(), default=0)
    if most == 0:
        measured = [m for m in members if any(not math.isnan(p.value(metric))
                                              for p in run.points if p.arch == m
                                              and p.workload == workload)]
        return (measured[0] if measured else None), []
    top = [m for m in members if wins[m] == most]
    top.sort(key=lambda m: (rank_sum[m], members.index(m)))
    return top[0], top[1:]
