"""What each chart shows, in words, computed from the run: which architecture leads at the
lowest and the highest connection count and by how much, where the tails are, what failed.
Standard library only. Every function returns a list of sentences."""
from __future__ import annotations

import math
import statistics

import run_data
from run_data import Run, ranking as rank

# What to look for in each chart: the same for every run.
LOOK_FOR = {
    "throughput": "Requests answered per second, the median over repetitions with the spread "
                  "as a band. Look for where each line stops rising (the architecture is "
                  "saturated) and for lines that fall as connections grow.",
    "latency": "Median and 99th-percentile latency on log scales. A line that climbs in step "
               "with the connections means requests wait in a queue; a p99 far above the p50 "
               "means some clients are starved while others are served.",
    "spectrum": "Latency at every percentile, from each point's HdrHistogram; the further right, "
                "the rarer the request. A flat line is a server that treats every request "
                "alike; a line that bends up at 99% or 99.9% has a tail of unlucky clients.",
    "cpu": "Server CPU time (user + system, every process and thread) per request answered, "
           "Stevens' measure of what an architecture costs, and the context switches it makes "
           "per request. Lower is cheaper.",
    "memory": "Peak resident memory of the server's processes. A process or a thread per "
              "connection makes memory grow with the connections; an event loop stays flat.",
    "errors": "Every request that was not answered correctly, by point: connect errors, resets, "
              "early EOF, wrong answers, timeouts. Starvation (one client at a time) shows as "
              "timeouts, a descriptor limit such as select's FD_SETSIZE as connect errors or a "
              "failed point; failed points are the crosses in the strip.",
}

MAX_LISTED = 6


# --------------------------------------------------------------------------- formatting

def fmt_rps(value: float) -> str:
    return f"{value:,.0f} req/s"


def fmt_us(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.3g} s"
    if value >= 1e3:
        return f"{value / 1e3:.3g} ms"
    return f"{value:.3g} µs"


def fmt_mib(kb: float) -> str:
    return f"{kb / 1024:,.1f} MiB"


def fmt_ratio(ratio: float) -> str:
    return f"{ratio:.2f}×" if ratio < 10 else f"{ratio:.0f}×"


def connections_text(count: int) -> str:
    return f"{count} connection{'s' if count != 1 else ''}"


def listing(items: list[str]) -> str:
    if len(items) > MAX_LISTED:
        items = items[:MAX_LISTED] + [f"{len(items) - MAX_LISTED} more"]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# --------------------------------------------------------------------------- ranking

def ranking(run: Run, workload: str, metric: str, connections: int,
            higher_is_better: bool) -> list[tuple[str, float]]:
    """(architecture, median) of the architectures that may be ranked at that point (no
    request failed or timed out there), best median first. The order of medians alone claims
    nothing: see leaders()."""
    groups, _ = run_data.rankable(run, workload, metric, connections)
    return [(arch, statistics.median(groups[arch]))
            for arch in rank.order(groups, higher_is_better)]


def leaders(run: Run, workload: str, metric: str, connections: int,
            higher_is_better: bool) -> list[str]:
    """The best architecture, or every one tied with it within noise (harness/ranking.py)."""
    groups, _ = run_data.rankable(run, workload, metric, connections)
    return rank.leaders(groups, higher_is_better)


def trailers(run: Run, workload: str, metric: str, connections: int,
             higher_is_better: bool) -> list[str]:
    groups, _ = run_data.rankable(run, workload, metric, connections)
    return rank.trailers(groups, higher_is_better)


def winner(run: Run, workload: str, connections: int) -> list[str]:
    """The architecture with the highest throughput at that point, or all those tied with it
    within noise; [] when none may be ranked."""
    return leaders(run, workload, "throughput_rps", connections, True)


def _failed_at(run: Run, workload: str, connections: int) -> list[str]:
    return [arch for arch in run.architectures
            if connections in run_data.series(run, workload, arch, "status",
                                              [connections]).failed]


def _ends(run: Run, workload: str) -> list[int]:
    counts = run.connections(workload)
    return sorted({counts[0], counts[-1]}) if counts else []


def _failed_note(run: Run, workload: str, connections: int) -> str:
    failed = _failed_at(run, workload, connections)
    text = f" ({listing(failed)} failed there.)" if failed else ""
    _, excluded = run_data.rankable(run, workload, "throughput_rps", connections)
    starved = [f"{arch}: {why}" for arch, why in excluded.items()
               if arch not in failed and not why.endswith("needed to rank")]
    unknown = [arch for arch, why in excluded.items() if why.endswith("needed to rank")]
    if starved:
        text += (f" Not ranked, because requests failed there: {listing(starved)}; their "
                 f"figures are of answered requests only.")
    if unknown:
        text += (f" Not ranked, with fewer than {rank.MIN_REPS} repetitions measured: "
                 f"{listing(unknown)}.")
    return text


def _range_text(run: Run, workload: str, metric: str, count: int, names: list[str],
                fmt) -> str:
    values = [v for arch in names for v in run_data.values_at(run, workload, arch, metric, count)]
    low, high = min(values), max(values)
    return fmt(low) if low == high else f"{fmt(low)} to {fmt(high)}"


def _leader_phrase(names: list[str], best: str, tied: str) -> str:
    """'epoll is the fastest' or 'the fastest are tied within noise: a, b and c'."""
    if len(names) == 1:
        return f"{names[0]} {best}"
    return f"{tied} {rank.tied_text(names)}"


# --------------------------------------------------------------------------- per chart

def throughput(run: Run, workload: str) -> list[str]:
    sentences = []
    for count in _ends(run, workload):
        ranked = ranking(run, workload, "throughput_rps", count, True)
        where = f"At {connections_text(count)}"
        if not ranked:
            sentences.append(f"{where} no architecture can be ranked."
                             + _failed_note(run, workload, count))
            continue
        top = leaders(run, workload, "throughput_rps", count, True)
        rate = _range_text(run, workload, "throughput_rps", count, top, fmt_rps)
        if len(top) == 1:
            text = f"{where}, {top[0]} leads with {rate}"
            if len(ranked) > 1:
                second, second_value = ranked[1]
                best_value = ranked[0][1]
                text += (f", {_times(best_value, second_value)} the next, {second}, in every "
                         f"repetition")
        else:
            text = f"{where} the fastest are {rank.tied_text(top)} ({rate})"
        bottom = trailers(run, workload, "throughput_rps", count, True)
        if len(ranked) > len(top) and not set(bottom) & set(top):
            slow_rate = _range_text(run, workload, "throughput_rps", count, bottom, fmt_rps)
            text += ("; the slowest " + (f"is {bottom[0]}" if len(bottom) == 1 else
                                        f"are {rank.tied_text(bottom)}") + f" ({slow_rate})")
        sentences.append(text + "." + _failed_note(run, workload, count))
    peaks = []
    for arch in run.architectures:
        line = run_data.series(run, workload, arch, "throughput_rps")
        measured = [(v, c) for v, c in zip(line.median, line.connections) if not math.isnan(v)]
        if len(measured) > 1:
            value, count = max(measured)
            if count != line.connections[-1] and measured[-1][0] < 0.8 * value:
                peaks.append(f"{arch} (peak {fmt_rps(value)} at {count}, "
                             f"{fmt_rps(measured[-1][0])} at {measured[-1][1]})")
    if peaks:
        sentences.append(f"Throughput falls after its peak for {listing(peaks)}.")
    saturated = sorted({(arch, c) for arch in run.architectures
                        for c in run_data.series(run, workload, arch, "throughput_rps").saturated},
                       key=lambda item: (item[1], item[0]))
    if saturated:
        sentences.append("The load generator was the bottleneck (ringed) for "
                         + listing([f"{a} at {c}" for a, c in saturated])
                         + ": there the figure is a lower bound on what the server can do.")
    return sentences


def _times(high: float, low: float) -> str:
    return fmt_ratio(high / low) if low > 0 else "infinitely"


def latency(run: Run, workload: str, floor_us: float = math.nan) -> list[str]:
    """floor_us: the TCP loopback round trip from `make microbench` (NaN when not measured).
    Points where requests failed or timed out are left out of the words (their percentiles are
    of the answered requests only, which hides the starved clients), and named as such."""
    sentences = []
    for count in _ends(run, workload):
        ranked = ranking(run, workload, "p99_us", count, False)
        where = f"At {connections_text(count)}"
        if not ranked:
            sentences.append(f"{where} no latency can be ranked." + _failed_note(run, workload,
                                                                                 count))
            continue
        top = leaders(run, workload, "p99_us", count, False)
        p99 = _range_text(run, workload, "p99_us", count, top, fmt_us)
        if len(top) == 1:
            text = f"{where} the lowest p99 is {top[0]}'s, {p99}"
            p50 = run_data.series(run, workload, top[0], "p50_us", [count]).median[0]
            if not math.isnan(p50):
                text += f" (p50 {fmt_us(p50)})"
        else:
            text = f"{where} the lowest p99s are {rank.tied_text(top)} ({p99})"
        bottom = trailers(run, workload, "p99_us", count, False)
        if len(ranked) > len(top) and not set(bottom) & set(top):
            worst = _range_text(run, workload, "p99_us", count, bottom, fmt_us)
            text += ("; the highest is " + (f"{bottom[0]}'s" if len(bottom) == 1 else
                                           rank.tied_text(bottom)) + f", {worst}")
            best_value, worst_value = ranked[0][1], ranked[-1][1]
            if best_value > 0 and len(bottom) == 1:
                text += f", {fmt_ratio(worst_value / best_value)} as long"
        sentences.append(text + "." + _failed_note(run, workload, count))
    lowest = lowest_p50(run, workload)
    if not math.isnan(floor_us) and floor_us > 0 and lowest:
        value, where = lowest
        sentences.append(f"One TCP loopback round trip, {fmt_us(floor_us)} (make microbench), "
                         f"is the floor under these latencies (the dashed line): the lowest "
                         f"p50 here, {fmt_us(value)} ({where}), is {fmt_ratio(value / floor_us)} "
                         f"it.")
    return sentences


def lowest_p50(run: Run, workload: str | None = None) -> tuple[float, str] | None:
    """(µs, 'epoll at 4 connections') of the lowest median p50 of a workload (of every
    workload, named too, when workload is None); None when nothing was measured."""
    lowest = None
    for name in [workload] if workload else run.workloads:
        for arch in run.architectures:
            line = run_data.series(run, name, arch, "p50_us")
            for count, value in zip(line.connections, line.median):
                if not math.isnan(value) and (lowest is None or value < lowest[0]):
                    where = f"{arch} at {connections_text(count)}"
                    lowest = (value, where if workload else f"{where}, workload {name}")
    return lowest


def spectrum(run: Run, workload: str, counts: list[int]) -> list[str]:
    sentences = []
    for count in counts:
        tails = []
        for arch in run.architectures:
            p50 = run_data.series(run, workload, arch, "p50_us", [count]).median[0]
            tail = run_data.series(run, workload, arch, "p99_9_us", [count]).median[0]
            if not math.isnan(p50) and not math.isnan(tail) and p50 > 0:
                tails.append((tail / p50, arch, p50, tail))
        if not tails:
            continue
        tails.sort()
        flat = tails[0]
        text = (f"At {connections_text(count)} the flattest tail is {flat[1]}'s "
                f"(p99.9 {fmt_ratio(flat[0])} its p50)")
        if len(tails) > 1:
            steep = tails[-1]
            text += (f", the steepest {steep[1]}'s: p99.9 {fmt_us(steep[3])} against a p50 of "
                     f"{fmt_us(steep[2])}, {fmt_ratio(steep[0])}")
        sentences.append(text + ".")
    missing = [f"{arch} at {count}" for count in counts for arch in run.architectures
               if run.points_at(workload, arch, count)
               and run_data.spectrum(run, workload, arch, count)[1] == []]
    if missing:
        sentences.append(f"No histogram for {listing(missing)} (failed, or no .hgrm in raw/).")
    return sentences


def cpu(run: Run, workload: str) -> list[str]:
    sentences = []
    for count in _ends(run, workload):
        ranked = ranking(run, workload, "server_cpu_us_per_req", count, False)
        if not ranked:
            continue
        cheap = leaders(run, workload, "server_cpu_us_per_req", count, False)
        cost = _range_text(run, workload, "server_cpu_us_per_req", count, cheap,
                           lambda v: f"{v:.3g} µs")
        text = f"At {connections_text(count)} the cheapest server per request " + (
            f"is {cheap[0]} ({cost} of CPU)" if len(cheap) == 1 else
            f"is not one architecture but {rank.tied_text(cheap)} ({cost} of CPU)")
        dear = trailers(run, workload, "server_cpu_us_per_req", count, False)
        if len(ranked) > len(cheap) and not set(dear) & set(cheap):
            dear_cost = _range_text(run, workload, "server_cpu_us_per_req", count, dear,
                                    lambda v: f"{v:.3g} µs")
            text += ", the dearest " + (dear[0] if len(dear) == 1 else rank.tied_text(dear)) \
                + f" ({dear_cost})"
        switches = ranking(run, workload, "ctx_switches_per_req", count, False)
        if len(switches) > 1:
            text += (f"; context switches per request range from {switches[0][1]:.2g} "
                     f"({switches[0][0]}) to {switches[-1][1]:.2g} ({switches[-1][0]})")
        sentences.append(text + ".")
    if not sentences:
        sentences.append("No server cost was measured in this workload.")
    return sentences


def memory(run: Run, workload: str) -> list[str]:
    counts = _ends(run, workload)
    sentences = []
    if counts:
        ranked = ranking(run, workload, "server_rss_kb", counts[-1], False)
        if ranked:
            text = f"At {connections_text(counts[-1])} {ranked[-1][0]} needs the most memory, " \
                   f"{fmt_mib(ranked[-1][1])}"
            if len(ranked) > 1:
                text += f", and {ranked[0][0]} the least, {fmt_mib(ranked[0][1])}"
            sentences.append(text + ".")
    growth = []
    for arch in run.architectures:
        line = run_data.series(run, workload, arch, "server_rss_kb")
        measured = [(c, v) for c, v in zip(line.connections, line.median) if not math.isnan(v)]
        if len(measured) > 1 and measured[0][1] > 0:
            growth.append((measured[-1][1] / measured[0][1], arch, measured[0], measured[-1]))
    if growth:
        ratio, arch, first, last = max(growth)
        if ratio >= 1.5:
            sentences.append(f"{arch}'s memory grows the most with the connections: "
                             f"{fmt_mib(first[1])} at {first[0]}, {fmt_mib(last[1])} at "
                             f"{last[0]} ({fmt_ratio(ratio)}).")
        else:
            sentences.append("No architecture's memory grows by half or more with the "
                             "connections.")
    return sentences or ["No memory was measured in this workload."]


def errors(run: Run, workload: str) -> list[str]:
    with_errors = []
    for arch in run.architectures:
        errors_line = run_data.series(run, workload, arch, "errors")
        timeouts_line = run_data.series(run, workload, arch, "timeouts")
        for count, value, timeouts in zip(errors_line.connections, errors_line.median,
                                          timeouts_line.median):
            if not math.isnan(value) and value > 0:
                text = f"{arch} at {count} ({value:,.0f}"
                if not math.isnan(timeouts) and timeouts > 0:
                    text += f", {timeouts:,.0f} of them timeouts"
                with_errors.append(text + ")")
    failed = []
    for point in run_data.failures(run, workload):
        failed.append(f"{point.arch} at {point.connections} (rep {point.rep}: "
                      f"{point.reason or 'no reason recorded'})")
    sentences = []
    if with_errors:
        sentences.append(f"Errors (median per point): {listing(with_errors)}.")
    if failed:
        sentences.append(f"Failed points, with no figures: {listing(failed)}.")
    if not sentences:
        sentences.append("No errors and no failed points: every request was answered "
                         "correctly.")
    return sentences


def for_chart(kind: str, run: Run, workload: str, spectrum_counts: list[int],
              floor_us: float = math.nan) -> list[str]:
    if kind == "spectrum":
        return spectrum(run, workload, spectrum_counts)
    if kind == "latency":
        return latency(run, workload, floor_us)
    return {"throughput": throughput, "latency": latency, "cpu": cpu, "memory": memory,
            "errors": errors}[kind](run, workload)
