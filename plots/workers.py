"""How evenly a pooled server's workers shared its clients: Stevens' Figure 30.2, which showed
that some designs hand most connections to a few of their children.

A pooled architecture (prethreaded, preforked, epoll-reuseport, asio-pool) prints, at exit,
how many connections each worker accepted; the harness keeps it in points.csv's
`worker_connections` column. This draws, per workload:
- left: each worker's share of the connections, workers sorted from the busiest, at the largest
  connection count the pools ran (x is the worker's rank as a fraction of the pool, so that
  pools of different sizes share one axis); an even pool is a flat line at 1/N;
- right: the imbalance, the busiest worker's connections over the mean, against connections.
"""
from __future__ import annotations

import statistics

from matplotlib.figure import Figure

from run_data import Run, arch_colour, arch_marker

LOOK_FOR = ("How the connections were shared among a pooled server's workers. A flat line on "
            "the left, and an imbalance near 1 on the right, is an even pool; a line that starts "
            "high and falls is a pool in which a few workers took most of the clients (a "
            "thundering herd won by whoever wakes first, or a hash that sends more to some "
            "listeners). A pool of one worker is trivially even; a worker that got no connection falls "
            "off the left chart's log axis.")


def pooled(run: Run, workload: str) -> dict[str, dict[int, list[int]]]:
    """arch -> connections -> connections per worker, from the first repetition that has them."""
    found: dict[str, dict[int, list[int]]] = {}
    for point in run.points:
        if point.workload == workload and point.ok and point.workers:
            found.setdefault(point.arch, {}).setdefault(point.connections, point.workers)
    return found


def has_data(run: Run, workload: str) -> bool:
    return bool(pooled(run, workload))


def imbalance(counts: list[int]) -> float:
    """The busiest worker's connections over the mean (1: perfectly even); NaN for no clients."""
    total = sum(counts)
    if not counts or total == 0:
        return float("nan")
    return max(counts) / (total / len(counts))


def workers_figure(run: Run, workload: str) -> Figure:
    data = pooled(run, workload)
    figure = Figure(figsize=(13, 4.6))
    shares_ax, imbalance_ax = figure.subplots(1, 2)
    largest = max(c for by_count in data.values() for c in by_count)
    for arch, by_count in data.items():
        style = {"color": arch_colour(arch), "marker": arch_marker(arch), "label": arch}
        count = max(c for c in by_count if c <= largest)
        counts = sorted(by_count[count], reverse=True)
        total = sum(counts) or 1
        rank = [(i + 0.5) / len(counts) for i in range(len(counts))]
        shares_ax.plot(rank, [100 * n / total for n in counts], markersize=3,
                       markevery=max(1, len(counts) // 20), **style)
        connections = sorted(by_count)
        imbalance_ax.plot(connections, [imbalance(by_count[c]) for c in connections], **style)
    shares_ax.set_xlabel("workers, busiest first (rank as a fraction of the pool)")
    shares_ax.set_ylabel("share of the connections (%)")
    shares_ax.set_title(f"each worker's share, at up to {largest} connections", fontsize=10)
    shares_ax.set_yscale("log")
    imbalance_ax.set_xscale("log")
    imbalance_ax.set_xlabel("connections (log scale)")
    imbalance_ax.set_ylabel("busiest worker / mean")
    imbalance_ax.set_title("imbalance", fontsize=10)
    imbalance_ax.axhline(1, color="#999", linestyle=":", linewidth=1)
    for ax in (shares_ax, imbalance_ax):
        ax.grid(True, alpha=0.3)
    imbalance_ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=9, frameon=False)
    figure.suptitle(f"Connections per worker — workload '{workload}'\n{run.machine_line()}",
                    fontsize=11)
    figure.subplots_adjust(top=0.8, wspace=0.25)
    return figure


def sentences(run: Run, workload: str) -> list[str]:
    data = pooled(run, workload)
    if not data:
        return []
    said = []
    for arch, by_count in sorted(data.items()):
        count = max(by_count)
        counts = by_count[count]
        said.append(f"{arch} at {count} connections: {len(counts)} workers, the busiest took "
                    f"{max(counts):,} of {sum(counts):,} connections "
                    f"({imbalance(counts):.1f}x the mean).")
    ratios = {arch: imbalance(by_count[max(by_count)]) for arch, by_count in data.items()
              if len(by_count[max(by_count)]) > 1}
    if len(ratios) > 1:
        even = min(ratios, key=ratios.get)
        uneven = max(ratios, key=ratios.get)
        said.append(f"Most even: {even} ({ratios[even]:.2f}); least even: {uneven} "
                    f"({ratios[uneven]:.2f}); the median pool's imbalance is "
                    f"{statistics.median(ratios.values()):.2f}.")
    return said
