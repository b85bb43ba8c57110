"""The microbenchmarks' results (Google Benchmark JSON, as `make microbench` writes them into
RUN/microbench/<program>.json) and what they say, in words. Standard library only, like
run_data.py and summary.py.

The end-to-end charts show what happens; these show why: what a wait call costs against the
number of descriptors, what a new worker costs, the loopback floor under every latency, and
what our own protocol module and load generator cost per request.

How a result is read:
- the median over repetitions: the aggregate row with aggregate_name "median" (never the mean);
  a benchmark run without repetitions has no aggregates, and then the median of its iteration
  rows is taken;
- its time is Google Benchmark's own measure: real time for a benchmark marked UseRealTime
  ("/real_time" in its name), CPU time otherwise;
- a benchmark that called SkipWithError (select with a descriptor at or above FD_SETSIZE) has
  only error rows: its figure is NaN, a gap in a line, never a zero.
"""
from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from summary import fmt_ratio, listing

NAN = math.nan
TIME_UNITS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
# Parts of a benchmark name that are options, not arguments: BM_X/idle:9/real_time.
NAME_OPTIONS = {"real_time", "manual_time", "process_time", "iterations", "repeats",
                "min_time", "min_warmup_time", "threads"}

# The programs, in the order of the report's section, and their charts.
CHARTS = ["readiness", "workers", "loopback", "hotpaths"]
CHART_TITLES = {
    "readiness": "Readiness: one wait call against the descriptors watched",
    "workers": "Worker start cost",
    "loopback": "The loopback floor",
    "hotpaths": "Our own hot paths: protocol module and load generator",
}
# The programs each chart reads (RUN/microbench/<program>.json).
CHART_PROGRAMS = {"readiness": ["readiness"], "workers": ["workers"], "loopback": ["loopback"],
                  "hotpaths": ["protocol", "loadgen"]}

READINESS_WAITS = [("BM_SelectWait", "select"), ("BM_PollWait", "poll"),
                   ("BM_EpollWait", "epoll_wait")]
EPOLL_REGISTER = "BM_EpollRegisterAndRemove"
FD_SETSIZE = 1024
WORKERS = [("BM_ForkExitWait", "fork + exit + wait"),
           ("BM_ForkExitWaitWith64MiBTouched", "fork with 64 MiB touched"),
           ("BM_ThreadCreateJoin", "thread create + join"),
           ("BM_HandDescriptorToPoolThread", "hand a descriptor to a pool thread")]
LOOPBACK = [("BM_TcpLoopbackRoundTrip", "TCP loopback"),
            ("BM_UnixSocketpairRoundTrip", "Unix socketpair")]
TCP_ROUND_TRIP = "BM_TcpLoopbackRoundTrip"

LOOK_FOR = {
    "readiness": "Nanoseconds per wait call with one ready descriptor among N, on log-log "
                 "axes. select and poll hand the kernel every descriptor on every call, so "
                 "their lines climb with N; epoll keeps the interest list in the kernel and "
                 "stays flat, paying instead once per connection to register and remove it "
                 "(dashed). select cannot watch a descriptor at or above FD_SETSIZE: a point "
                 "it could not measure is a gap.",
    "workers": "What it costs to get a worker for a new client (real time, from start until "
               "the worker is done or has taken the descriptor): a new process, a new "
               "thread, or a thread of a pool that is already waiting. Stevens measured that "
               "pools cut process-control CPU tenfold (UNP chapter 30).",
    "loopback": "One small round trip on one connection with blocking calls, over TCP on "
                "127.0.0.1 and over a Unix socketpair (real time). No server can answer "
                "faster than the TCP figure: it is the dashed line on the latency charts.",
    "hotpaths": "What our own code costs per request, without system calls: the protocol "
                "module (framing, answering, padding), recording a latency, and the load "
                "generator's whole per-request path. These must stay small beside the "
                "microseconds of a round trip, or we would be measuring ourselves.",
}


class MicrobenchError(Exception):
    """A JSON file that is not Google Benchmark output; the message says which and why."""


# --------------------------------------------------------------------------- reading

@dataclass
class Result:
    """One benchmark (one name with its arguments), the median over its repetitions."""
    name: str                  # run_name: "BM_SelectWait/idle:999"
    family: str                # "BM_SelectWait"
    args: dict[str, int]       # {"idle": 999}; unnamed arguments as "arg0", "arg1", ...
    ns: float                  # time per iteration in ns: real time or CPU time (see above)
    real_ns: float
    cpu_ns: float
    counters: dict[str, float] = field(default_factory=dict)
    repetitions: int = 0
    error: str = ""            # SkipWithError's message: no figures

    @property
    def ok(self) -> bool:
        return not self.error and not math.isnan(self.ns)

    def per_item_ns(self) -> float:
        """Nanoseconds per item (request, question, descriptor handed over): an ns_per_*
        counter where the benchmark has one (Google Benchmark writes an inverted rate in
        seconds per item, whatever its name says), else from items_per_second, else the time
        per iteration."""
        if not self.ok:
            return NAN
        for key, value in self.counters.items():
            if key.startswith("ns_per_") and value > 0:
                return value * 1e9
        rate = self.counters.get("items_per_second", NAN)
        if rate > 0:
            return 1e9 / rate
        return self.ns


@dataclass
class Microbench:
    """Every result of one `make microbench`, by program ("readiness", ...)."""
    path: Path
    programs: dict[str, list[Result]]
    context: dict  # Google Benchmark's context of the first program: host, CPUs, load, date

    def result(self, family: str, **args: int) -> Result | None:
        for results in self.programs.values():
            for result in results:
                if result.family == family and all(result.args.get(k) == v
                                                   for k, v in args.items()):
                    return result
        return None

    def ns(self, family: str, **args: int) -> float:
        """The median time per iteration in ns; NaN when missing or skipped with an error."""
        result = self.result(family, **args)
        return result.ns if result and result.ok else NAN

    def family(self, family: str) -> list[Result]:
        return [r for results in self.programs.values() for r in results if r.family == family]

    def has_chart(self, chart: str) -> bool:
        return any(self.programs.get(p) for p in CHART_PROGRAMS[chart])

    def tcp_round_trip_us(self) -> float:
        """The loopback floor under every latency in a run, in µs; NaN when not measured."""
        return self.ns(TCP_ROUND_TRIP) / 1e3

    def context_line(self) -> str:
        """'vm, 2 CPUs at 2445 MHz, load 1.2, 2026-11-25' for chart titles and the report."""
        c = self.context
        parts = [str(c.get("host_name") or "unknown host")]
        if c.get("num_cpus"):
            parts.append(f"{c['num_cpus']} CPUs" + (f" at {c['mhz_per_cpu']:.0f} MHz"
                                                    if c.get("mhz_per_cpu") else ""))
        if c.get("load_avg"):
            parts.append(f"load average {c['load_avg'][0]:.1f}")
        if c.get("date"):
            parts.append(str(c["date"])[:10])
        return ", ".join(parts)


def parse_name(run_name: str) -> tuple[str, dict[str, int]]:
    """'BM_SelectWait/idle:999/real_time' -> ('BM_SelectWait', {'idle': 999})."""
    family, *parts = run_name.split("/")
    args: dict[str, int] = {}
    unnamed = 0
    for part in parts:
        key, colon, value = part.partition(":")
        if key in NAME_OPTIONS:
            continue
        if not colon:
            key, value = f"arg{unnamed}", part
            unnamed += 1
        try:
            args[key] = int(value)
        except ValueError:
            continue
    return family, args


def _time_ns(row: dict, key: str) -> float:
    try:
        return float(row[key]) * TIME_UNITS.get(row.get("time_unit", "ns"), 1.0)
    except (KeyError, TypeError, ValueError):
        return NAN


# Keys of a benchmark row that are not user counters.
ROW_KEYS = {"name", "family_index", "per_family_instance_index", "run_name", "run_type",
            "repetitions", "repetition_index", "threads", "aggregate_name", "aggregate_unit",
            "iterations", "real_time", "cpu_time", "time_unit", "error_occurred",
            "error_message", "label", "big_o", "rms"}


def _counters(row: dict) -> dict[str, float]:
    return {k: float(v) for k, v in row.items()
            if k not in ROW_KEYS and isinstance(v, (int, float)) and not isinstance(v, bool)}


def _result(run_name: str, rows: list[dict]) -> Result:
    family, args = parse_name(run_name)
    real_time = "/real_time" in run_name or "/manual_time" in run_name
    errors = [r for r in rows if r.get("error_occurred")]
    medians = [r for r in rows if r.get("run_type") == "aggregate"
               and r.get("aggregate_name") == "median"]
    iterations = [r for r in rows if r.get("run_type", "iteration") == "iteration"
                  and not r.get("error_occurred")]
    repetitions = max((int(r.get("repetitions") or 1) for r in rows), default=1)
    if medians:
        row = medians[0]
        real_ns, cpu_ns, counters = _time_ns(row, "real_time"), _time_ns(row, "cpu_time"), \
            _counters(row)
    elif iterations:
        real_ns = statistics.median(_time_ns(r, "real_time") for r in iterations)
        cpu_ns = statistics.median(_time_ns(r, "cpu_time") for r in iterations)
        keys = set().union(*(_counters(r) for r in iterations))
        counters = {k: statistics.median(_counters(r)[k] for r in iterations
                                         if k in _counters(r)) for k in keys}
    else:
        message = errors[0].get("error_message") if errors else "no figures"
        return Result(run_name, family, args, NAN, NAN, NAN, {}, repetitions,
                      message or "skipped with an error")
    return Result(run_name, family, args, real_ns if real_time else cpu_ns, real_ns, cpu_ns,
                  counters, repetitions)


def read_program(path: Path) -> tuple[list[Result], dict]:
    """The results of one program's JSON, in the order it ran them, and its context."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        rows = document["benchmarks"]
        if not isinstance(rows, list):
            raise TypeError("'benchmarks' is not a list")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise MicrobenchError(f"{path}: not Google Benchmark JSON ({error})") from None
    by_name: dict[str, list[dict]] = {}
    for row in rows:
        if isinstance(row, dict) and row.get("run_name", row.get("name")):
            by_name.setdefault(row.get("run_name") or row["name"], []).append(row)
    context = document.get("context") if isinstance(document.get("context"), dict) else {}
    return [_result(name, group) for name, group in by_name.items()], context


def load(folder: Path | str) -> Microbench | None:
    """FOLDER/*.json (RUN/microbench/), or None when there is none. A file that is not
    Google Benchmark JSON is an error."""
    folder = Path(folder)
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        return None
    programs, context = {}, {}
    for path in files:
        programs[path.stem], program_context = read_program(path)
        context = context or program_context
    return Microbench(path=folder, programs=programs, context=context)


# --------------------------------------------------------------------------- the charts' data

def readiness_lines(bench: Microbench) -> dict[str, tuple[list[int], list[float]]]:
    """label -> (descriptors N, ns per call) for select, poll, epoll_wait and epoll's register
    + remove; NaN where a benchmark was skipped (select at or above FD_SETSIZE)."""
    lines = {}
    for family, label in READINESS_WAITS + [(EPOLL_REGISTER, "epoll_ctl add + del")]:
        results = sorted(bench.family(family), key=lambda r: r.args.get("idle", 0))
        if results:
            lines[label] = ([r.args.get("idle", 0) + 1 for r in results],
                            [r.ns for r in results])
    return lines


def skipped(bench: Microbench, families: list[tuple[str, str]]) -> list[tuple[str, Result]]:
    return [(label, r) for family, label in families for r in bench.family(family) if not r.ok]


def bars(bench: Microbench, families: list[tuple[str, str]]) -> list[tuple[str, float]]:
    """(label, ns) of each benchmark measured, in the order given."""
    return [(label, bench.ns(family)) for family, label in families
            if not math.isnan(bench.ns(family))]


def _with(args: dict[str, int], text: str) -> str:
    if args.get("reply_bytes"):
        text += f", {args['reply_bytes']}-byte replies"
    return text


# Hot-path benchmarks: how to name them, and whether their figure is per request or per call.
HOTPATH_LABELS = {
    "BM_ParseAndAnswer": lambda a: _with(a, f"protocol: parse + answer, "
                                            f"{a.get('pipeline', 1)} per read"),
    "BM_ParseSplitQuestion": lambda a: "protocol: a question split over two reads",
    "BM_ReadAnswers": lambda a: f"client: frame answers, {a.get('pipeline', 1)} per read",
    "BM_HistogramRecord": lambda a: "loadgen: record one latency",
    "BM_HistogramPercentile": lambda a: "loadgen: read a percentile (per call)",
    "BM_HistogramMerge": lambda a: "loadgen: merge two histograms (per call)",
    "BM_RequestPath": lambda a: _with(a, f"loadgen: request path, pipeline "
                                         f"{a.get('pipeline', 1)}"),
}


def hotpath_bars(bench: Microbench) -> list[tuple[str, str, float]]:
    """(program, label, ns per request or per call) of every protocol and loadgen result."""
    rows = []
    for program in CHART_PROGRAMS["hotpaths"]:
        for result in bench.programs.get(program, []):
            if not result.ok:
                continue
            name = HOTPATH_LABELS.get(result.family)
            label = name(result.args) if name else f"{program}: {result.name}"
            rows.append((program, label, result.per_item_ns()))
    return rows


# --------------------------------------------------------------------------- in words

def fmt_ns(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.3g} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.3g} µs"
    return f"{ns:.3g} ns"


def readiness(bench: Microbench) -> list[str]:
    lines = readiness_lines(bench)
    waits = {label: dict(zip(*lines[label])) for _, label in READINESS_WAITS if label in lines}
    counts = sorted({n for by_n in waits.values() for n in by_n})
    sentences = []
    for n in sorted({counts[0], counts[-1]}) if counts else []:
        measured = sorted((by_n[n], label) for label, by_n in waits.items()
                          if not math.isnan(by_n.get(n, NAN)))
        missing = [label for label, by_n in waits.items() if math.isnan(by_n.get(n, NAN))]
        why = {label: r.error for label, r in skipped(bench, READINESS_WAITS)
               if r.args.get("idle", 0) + 1 == n}
        if not measured:
            continue
        cheap_ns, cheap = measured[0]
        text = f"With {n} descriptor{'s' if n != 1 else ''} the cheapest wait is {cheap}'s, " \
               f"{fmt_ns(cheap_ns)} per call"
        others = [f"{label} {fmt_ratio(ns / cheap_ns)}" for ns, label in measured[1:]
                  if cheap_ns > 0]
        if others:
            text += f"; {listing(others)} as much"
        for label in missing:
            text += f" ({label} not measured: {why.get(label) or 'no figure'})"
        sentences.append(text + ".")
    register = [ns for ns in (lines.get("epoll_ctl add + del") or ([], []))[1]
                if not math.isnan(ns)]
    if register:
        cost = statistics.median(register)
        text = (f"epoll pays instead once per connection: registering and removing a "
                f"descriptor costs {fmt_ns(cost)}")
        poll = waits.get("poll", {})
        if counts and not math.isnan(poll.get(counts[-1], NAN)):
            text += (f"; select and poll pay at every wait, and one poll call over "
                     f"{counts[-1]} descriptors costs {fmt_ns(poll[counts[-1]])} "
                     f"({fmt_ratio(poll[counts[-1]] / cost)} the registration)")
        sentences.append(text + ".")
    return sentences or ["No readiness benchmark was measured."]


def workers(bench: Microbench) -> list[str]:
    measured = sorted((ns, label) for label, ns in bars(bench, WORKERS))
    if not measured:
        return ["No worker benchmark was measured."]
    cheap_ns, cheap = measured[0]
    text = f"The cheapest way to get a worker is to {cheap}, {fmt_ns(cheap_ns)}"
    others = [f"{label} {fmt_ratio(ns / cheap_ns)}" for ns, label in measured[1:]
              if cheap_ns > 0]
    sentences = [text + (f"; {listing(others)} as long" if others else "") + "."]
    fork, pool = bench.ns(WORKERS[0][0]), bench.ns(WORKERS[3][0])
    thread = bench.ns(WORKERS[2][0])
    if not math.isnan(fork) and not math.isnan(pool) and pool > 0:
        text = (f"A pool thread takes a client {fmt_ratio(fork / pool)} faster than a fork "
                f"per client")
        if not math.isnan(thread):
            text += f" and {fmt_ratio(thread / pool)} faster than a thread per client"
        sentences.append(text + " (Stevens: pools cut process-control CPU tenfold).")
    big = bench.ns(WORKERS[1][0])
    if not math.isnan(fork) and not math.isnan(big) and fork > 0:
        sentences.append(f"A process with 64 MiB touched forks in {fmt_ns(big)}, "
                         f"{fmt_ratio(big / fork)} the small one: fork copies page tables.")
    return sentences


def loopback(bench: Microbench, lowest_p50: tuple[float, str] | None = None) -> list[str]:
    """lowest_p50: (µs, 'epoll in persistent at 4 connections') from the run, if any."""
    tcp, unix = bench.ns(LOOPBACK[0][0]), bench.ns(LOOPBACK[1][0])
    sentences = []
    if not math.isnan(tcp) and not math.isnan(unix) and unix > 0:
        faster = "Unix socketpair" if unix < tcp else "TCP loopback"
        ratio = max(tcp, unix) / min(tcp, unix)
        sentences.append(f"A round trip takes {fmt_ns(tcp)} over TCP loopback and "
                         f"{fmt_ns(unix)} over a Unix socketpair: the {faster} is "
                         f"{fmt_ratio(ratio)} faster.")
    elif not math.isnan(tcp) or not math.isnan(unix):
        label, ns = ("TCP loopback", tcp) if not math.isnan(tcp) else ("Unix socketpair", unix)
        sentences.append(f"A round trip over {label} takes {fmt_ns(ns)}.")
    if not math.isnan(tcp) and lowest_p50 and tcp > 0:
        p50_us, where = lowest_p50
        sentences.append(f"No server can answer faster than the TCP round trip; the lowest "
                         f"median latency of this run, {fmt_ns(p50_us * 1e3)} ({where}), is "
                         f"{fmt_ratio(p50_us * 1e3 / tcp)} it.")
    return sentences or ["No loopback benchmark was measured."]


def hotpaths(bench: Microbench) -> list[str]:
    sentences = []
    parse = bench.result("BM_ParseAndAnswer", pipeline=1, reply_bytes=0)
    batch = bench.result("BM_ParseAndAnswer", pipeline=16, reply_bytes=0)
    if parse and parse.ok:
        text = f"The protocol module frames and answers a question in " \
               f"{fmt_ns(parse.per_item_ns())}"
        if batch and batch.ok:
            text += f", {fmt_ns(batch.per_item_ns())} each when 16 arrive in one read"
        sentences.append(text + ".")
    record = bench.result("BM_HistogramRecord")
    path = bench.result("BM_RequestPath", pipeline=1, reply_bytes=0)
    parts = []
    if record and record.ok:
        parts.append(f"records a latency in {fmt_ns(record.per_item_ns())} (goal: under "
                     f"10 ns, {'met' if record.per_item_ns() < 10 else 'missed'})")
    if path and path.ok:
        parts.append(f"spends {fmt_ns(path.per_item_ns())} per request on its whole "
                     f"request path")
    if parts:
        sentences.append(f"The load generator {listing(parts)}.")
    tcp = bench.ns(TCP_ROUND_TRIP)
    ours = [r.per_item_ns() for r in (parse, path) if r and r.ok]
    if ours and not math.isnan(tcp) and tcp > 0:
        sentences.append(f"Together that is {sum(ours) / tcp:.1%} of a TCP loopback round "
                         f"trip ({fmt_ns(tcp)}): the benchmarks measure the servers, not our "
                         f"own code.")
    return sentences or ["No protocol or loadgen benchmark was measured."]


def for_chart(chart: str, bench: Microbench,
              lowest_p50: tuple[float, str] | None = None) -> list[str]:
    if chart == "loopback":
        return loopback(bench, lowest_p50)
    return {"readiness": readiness, "workers": workers, "hotpaths": hotpaths}[chart](bench)
