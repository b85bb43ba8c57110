#!/usr/bin/env python3
"""archbench's harness: runs an experiment (harness/experiments/*.toml) point by point and
writes a run folder under results/. `make bench` runs it; docs/experiments.md describes the
results layout.

    harness/bench.py [--experiment FILE] [--quick] [--arch a,b] [--workload w] [--connections 1,64]
                     [--repetitions N] [--seed N] [--no-sentinel]

Every point is measured `repetitions` times in rounds (run_order: a seeded shuffle per round,
seed and order in meta.json); the noise sentinel (sentinel.py) times the machine around each
point, and a disturbed point is measured again (MAX_RETRIES, RETRY_BUDGET). The closing table
names a best architecture only where the repetitions separate it (ranking.py).
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import crosscheck  # noqa: E402
import experiment as experiments  # noqa: E402
import deployment  # noqa: E402
import hosts  # noqa: E402
import ranking  # noqa: E402
import results  # noqa: E402
import sentinel  # noqa: E402
import perfcount  # noqa: E402
from point import Binaries, Placement, PointSpec, run_point  # noqa: E402

MAX_RETRIES = 2     # a disturbed point is measured again at most this many times,
RETRY_BUDGET = 0.2  # and the run retries at most this share of its points (the time budget)

REPO = Path(__file__).resolve().parent.parent


def parse_cpus(text: str) -> list[int]:
    cpus = []
    for part in str(text).split(","):
        part = part.strip()
        if "-" in part:
            low, high = part.split("-", 1)
            cpus.extend(range(int(low), int(high) + 1))
        elif part:
            cpus.append(int(part))
    return cpus


def resolve_placement(experiment: experiments.Experiment, allowed: list[int] | None = None,
                      roles: tuple[str, ...] = ("server", "load")) -> tuple[Placement, list[str]]:
    """Separate cores for server and load generator. On 2 cores: server on the first, load
    generator on the second; on more, the server gets the first half. For another host
    (hosts.py): `allowed` its CPUs, `roles` what runs there; a host with one role gives it every
    CPU unless the experiment names them."""
    notes = []
    allowed = sorted(allowed or os.sched_getaffinity(0))
    config = experiment.placement
    if len(roles) == 1:
        server_cpus = load_cpus = allowed
    elif len(allowed) == 1:
        server_cpus = load_cpus = allowed
        notes.append("only one CPU: server and load generator share it, so the load generator "
                     "competes with the server")
    else:
        half = (len(allowed) + 1) // 2
        server_cpus, load_cpus = allowed[:half], allowed[half:]
    try:
        if config.get("server_cpus", "auto") != "auto" and "server" in roles:
            server_cpus = parse_cpus(config["server_cpus"])
        if config.get("load_cpus", "auto") != "auto" and "load" in roles:
            load_cpus = parse_cpus(config["load_cpus"])
    except ValueError:
        raise experiments.ExperimentError("placement CPUs must look like '0', '0-3' or '0,2'") from None
    server_cpus, load_cpus = [server_cpus if "server" in roles else [],
                              load_cpus if "load" in roles else []]
    for cpu in server_cpus + load_cpus:
        if cpu not in allowed:
            raise experiments.ExperimentError(f"CPU {cpu} is not available (allowed: {allowed})")
    if set(server_cpus) & set(load_cpus) and len(allowed) > 1:
        notes.append("server and load generator share CPUs by the experiment's placement")

    load_threads = config.get("load_threads", "auto")
    placement = Placement(
        server_cpus=server_cpus, load_cpus=load_cpus,
        load_threads=len(load_cpus) if load_threads == "auto" else int(load_threads))
    return placement, notes


def raise_open_file_limit(needed: int) -> str:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if hard != resource.RLIM_INFINITY and hard < needed:
        return (f"open-file limit is {hard}, below the {needed} that "
                f"{needed - 64} connections need: those points will show connect errors")
    return ""


def known_architectures(server: Path) -> list[str]:
    try:
        out = subprocess.run([str(server), "--list"], capture_output=True, text=True, timeout=10)
    except OSError as error:
        raise experiments.ExperimentError(f"cannot run {server}: {error.strerror} "
                                          f"(build it first: make)") from None
    if out.returncode != 0:
        raise experiments.ExperimentError(f"{server} --list failed: {out.stderr.strip()}")
    return [line.split("\t", 1)[0] for line in out.stdout.splitlines() if line.strip()]


def architecture_families(server: Path) -> dict[str, str]:
    """{architecture: family} of every registered architecture, in the registry's order, from
    `archbench-server --list-families`; recorded in meta.json so that the charts colour and
    group a run's architectures offline. {} from a server that cannot tell (an older build)."""
    try:
        out = subprocess.run([str(server), "--list-families"], capture_output=True, text=True,
                             timeout=10)
    except OSError:
        return {}
    if out.returncode != 0:
        return {}
    pairs = (line.split("\t", 1) for line in out.stdout.splitlines() if "\t" in line)
    return {name.strip(): family.strip() for name, family in pairs if name.strip()}


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def disturbance(row: dict) -> str:
    """What disturbed a point (a run across hosts has no machine_slowdown: hosts.py)."""
    slowdown = row.get("machine_slowdown")
    return (f"slowdown {slowdown:.2f}, " if slowdown is not None else "") + \
        f"foreign CPU {(row.get('foreign_cpu_share') or 0):.0%}"


def describe(row: dict) -> str:
    if row["status"] != "ok":
        return f"FAILED: {row['reason']}"
    text = (f"{row['throughput_rps']:>10,.0f} rps  p50 {row['p50_us']:>8,.0f} us  "
            f"p99 {row['p99_us']:>9,.0f} us")
    if row.get("server_cpu_us_per_req") is not None:
        text += f"  cpu/req {row['server_cpu_us_per_req']:6.1f} us"
    if row["errors"]:
        text += f"  errors {row['errors']} (timeouts {row['timeouts']})"
    if row.get("loadgen_saturated"):
        text += "  [load generator saturated]"
    if row.get("disturbed"):
        text += f"  [disturbed: {disturbance(row)}]"
    text += deployment.describe(row)
    if row.get("reason"):
        text += f"  ({row['reason']})"
    return text


def run_order(experiment: experiments.Experiment, seed: int) -> list[PointSpec]:
    """A blocked, shuffled order: round r measures every (architecture, workload, connections)
    once, in an order drawn from random.Random(seed), before round r + 1 begins; so a slow
    drift of the machine falls on every architecture alike. The same seed, the same order."""
    cells = [(arch, workload, connections) for workload in experiment.workloads
             for connections in experiments.point_connections(experiment, workload)
             for arch in experiment.architectures]
    generator = random.Random(seed)
    specs = []
    for rep in range(1, experiment.repetitions + 1):
        shuffled = cells[:]
        generator.shuffle(shuffled)
        specs += [PointSpec(arch, workload, connections, rep)
                  for arch, workload, connections in shuffled]
    return specs


def summary_lines(rows: list[dict]) -> list[str]:
    """Per workload and connection count: the best architecture by throughput where the
    repetitions separate it from the next (ranking.py), else every architecture tied with it;
    a point whose requests failed or timed out is never named, but listed with its count."""
    if not any(r["status"] == "ok" for r in rows):
        return ["no point succeeded"]
    lines = ["best architecture by throughput (median over repetitions; "
             f"ranked only where the repetitions separate them: {ranking.RULE})"]
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    keys = sorted({(r["workload"], r["connections"]) for r in rows},
                  key=lambda k: (workloads.index(k[0]), k[1]))
    for workload, connections in keys:
        by_arch: dict[str, list[dict]] = {}
        for r in rows:
            if r["workload"] == workload and r["connections"] == connections:
                by_arch.setdefault(r["arch"], []).append(r)
        why_not = {arch: ranking.eligible(points) or ranking.too_few(points)
                   for arch, points in by_arch.items()}
        groups = {arch: [p["throughput_rps"] for p in points]
                  for arch, points in by_arch.items() if not why_not[arch]}
        best = ranking.leaders(groups, higher_is_better=True)
        excluded = [f"{arch} ({why})" for arch, why in why_not.items() if why]
        if best:
            values = sorted(v for arch in best for v in groups[arch])
            text = (f"{ranking.tied_text(best)}  ({values[0]:,.0f} to {values[-1]:,.0f} rps)"
                    if len(best) > 1 else
                    f"{best[0]}  {min(groups[best[0]]):,.0f} to {max(groups[best[0]]):,.0f} rps")
        else:
            text = "none ranked"
        lines.append(f"  {workload:<12} c={connections:<5} {text}")
        if excluded:
            lines.append(f"  {'':<12} {'':<7} not ranked: " + ", ".join(excluded))
    disturbed = [r for r in rows if r.get("disturbed")]
    retried = sum(int(r.get("retries") or 0) for r in rows)
    lines.append(f"noise sentinel: {retried} re-measurement(s) of disturbed points; "
                 f"{len(disturbed)} point(s) still disturbed (retried at most {MAX_RETRIES} times, "
                 f"within a budget of {RETRY_BUDGET:.0%} of the points)"
                 + (": " + ", ".join(f"{r['arch']} {r['workload']} c={r['connections']} "
                                      f"rep {r['rep']}" for r in disturbed[:10])
                    if disturbed else ""))
    return lines


def print_summary(rows: list[dict]) -> None:
    print()
    for line in summary_lines(rows):
        print(line)


def prepare_hosts(run_hosts: hosts.Hosts, binaries: Binaries, experiment, run: Path,
                  meta: dict, watch_noise: bool) -> None:
    """Copies the build to every host of [hosts] and checks it runs there (hosts.py)."""
    print(f"hosts: server on {run_hosts.server.name}, load on "
          f"{', '.join(h.name for h in run_hosts.load)}: copying the programs", flush=True)
    notes = run_hosts.prepare(binaries, experiment, resolve_placement, meta["git"],
                              watch_noise=watch_noise)
    for host in run_hosts.all:
        if host.placement:
            print(f"  {host.name}: " + ", ".join(
                f"{role} on CPUs "
                f"{getattr(host.placement, hosts.PLACEMENT_ROLES[role] + '_cpus')}"
                for role in sorted(host.roles)))
    for note in notes:
        print(f"note: {note}")
    meta.update(hosts=run_hosts.as_meta(), notes=meta["notes"] + notes)
    results.write_meta(run, meta)


def interrupt(signum, frame):
    """SIGTERM is handled as Ctrl-C: stop, clean up, leave the results readable."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="harness/bench.py",
        description="Run an archbench experiment and write results/<UTC timestamp>-<host>/.")
    parser.add_argument("--experiment", type=Path,
                        default=REPO / "harness" / "experiments" / "default.toml")
    parser.add_argument("--quick", action="store_true",
                        help="apply the experiment's [quick] overrides")
    parser.add_argument("--arch", help="comma-separated architectures (default: the experiment's)")
    parser.add_argument("--workload", help="comma-separated workload names")
    parser.add_argument("--connections", help="comma-separated connection counts")
    parser.add_argument("--repetitions", type=int, help="override the experiment's repetitions")
    parser.add_argument("--seed", type=int,
                        help="seed of the run order (default: the experiment's seed, else a "
                             "new one; meta.json records it)")
    parser.add_argument("--no-sentinel", action="store_true",
                        help="skip the noise sentinel (no machine_slowdown, no retries)")
    parser.add_argument("--results", type=Path, default=REPO / "results",
                        help="where run folders go (default: results/)")
    parser.add_argument("--build", type=Path, default=REPO / "build",
                        help="the CMake build folder with bin/ (default: build/)")
    parser.add_argument("--server-binary", type=Path, help="default: BUILD/bin/archbench-server")
    parser.add_argument("--load-binary", type=Path, help="default: BUILD/bin/archbench-load")

    def usage_error(message: str) -> None:
        print(f"bench: {message}", file=sys.stderr)
        sys.exit(2)

    parser.error = usage_error  # one line and exit 2, as every archbench tool
    args = parser.parse_args(argv)
    if args.repetitions is not None and args.repetitions < 1:
        usage_error("--repetitions must be at least 1")

    binaries = Binaries(server=args.server_binary or args.build / "bin" / "archbench-server",
                        load=args.load_binary or args.build / "bin" / "archbench-load")
    try:
        experiment = experiments.load(args.experiment, quick=args.quick)
        # nginx (harness/nginx.py) where named, never among "every architecture".
        known = known_architectures(binaries.server)
        experiment = experiments.apply_filters(
            experiment, known + ([crosscheck.NGINX] if experiment.architectures or args.arch
                                 else []), args.arch, args.workload, args.connections)
        for problem in crosscheck.problems(experiment):
            raise experiments.ExperimentError(f"{args.experiment}: {problem}")
        if args.repetitions:
            experiment.repetitions = args.repetitions
        placement, notes = resolve_placement(experiment)
        if not experiment.hosts:  # (across hosts, [hosts] places the instances: hosts.py)
            notes += deployment.placement_notes(experiment, placement)
    except experiments.ExperimentError as error:
        usage_error(str(error))
    if not binaries.load.exists():
        usage_error(f"no load generator at {binaries.load} (build it first: make)")

    counting, counting_note = perfcount.probe()
    if counting_note:
        notes.append(f"system calls, faults and run-queue wait not counted: {counting_note}")

    signal.signal(signal.SIGTERM, interrupt)
    limit_note = raise_open_file_limit(max(max(experiments.point_connections(experiment, w))
                                           for w in experiment.workloads) + 64 +
                                       max(w.idle for w in experiment.workloads))
    notes += [limit_note] if limit_note else []

    seed = args.seed if args.seed is not None else experiment.seed
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    specs = run_order(experiment, seed)
    calibration = None
    if not args.no_sentinel and not experiment.hosts:  # (it times this machine's cores)
        calibration = sentinel.calibrate(sorted(set(placement.server_cpus)
                                                | set(placement.load_cpus)))
    run = results.create_run_folder(args.results)
    started = time.time()
    meta = results.machine_meta(args.build, REPO)
    meta.update(experiment=experiment.as_run(), experiment_file=str(args.experiment),
                quick=args.quick, placement=placement.as_meta(), notes=notes,
                syscall_counting={"available": counting is not None, "why_not": counting_note,
                                  "tracepoints": list(counting.syscalls) if counting else []},
                open_file_limit=resource.getrlimit(resource.RLIMIT_NOFILE)[0],
                binaries={"server": str(binaries.server), "load": str(binaries.load)},
                families=architecture_families(binaries.server),
                start_time=results.iso_time(started), end_time=None, interrupted=False,
                points_planned=len(specs), points_done=0, seed=seed,
                order=[[spec.arch, spec.workload.name, spec.connections, spec.rep]
                       for spec in specs],
                sentinel=calibration.as_meta() if calibration else None)
    results.write_meta(run, meta)

    print(f"archbench: {experiment.name}: {len(experiment.architectures)} architectures x "
          f"{len(experiment.workloads)} workloads x {len(experiment.connections)} connection "
          f"counts x {experiment.repetitions} = {len(specs)} points; " +
          (f"server on CPUs {placement.server_cpus}, load generator on {placement.load_cpus}"
           if not experiment.hosts else "across hosts ([hosts]; their CPUs below)"))
    for note in notes:
        print(f"note: {note}")
    print(f"results: {run}")

    csv = results.PointsCsv(run / "points.csv")
    rows: list[dict] = []
    retries_left = max(MAX_RETRIES, int(RETRY_BUDGET * len(specs)))
    interrupted = False
    run_hosts = hosts.Hosts(experiment.hosts, run.name) if experiment.hosts else None

    def measure(spec: PointSpec) -> dict:
        if run_hosts:
            return hosts.run_point(run_hosts, binaries, spec, experiment, run / "raw",
                                   watch_noise=not args.no_sentinel)
        return run_point(binaries, spec, experiment, placement, run / "raw", calibration,
                         counting)
    hold = perfcount.TracepointHold(counting if not run_hosts else None)
    try:
        if run_hosts:
            prepare_hosts(run_hosts, binaries, experiment, run, meta, not args.no_sentinel)
        for index, spec in enumerate(specs, 1):
            row = measure(spec)
            retries = 0
            while row.get("disturbed") and retries < MAX_RETRIES and retries_left > 0:
                retries += 1
                retries_left -= 1
                print(f"  disturbed ({disturbance(row)}): measuring again", flush=True)
                row = measure(spec)
            row["retries"] = retries
            row["round"] = spec.rep
            rows.append(row)
            csv.write(row)
            elapsed = time.time() - started
            eta = elapsed / index * (len(specs) - index)
            print(f"[{index:>{len(str(len(specs)))}}/{len(specs)}] {spec.arch:<16} "
                  f"{spec.workload.name:<10} c={spec.connections:<5} rep {spec.rep}: "
                  f"{describe(row)}  ETA {format_duration(eta)}", flush=True)
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: every server and load generator stopped; what was measured is "
              "kept", flush=True)
    finally:
        hold.close()
        if run_hosts:
            run_hosts.close()  # every host's run folder and ssh connection
        csv.close()
        meta.update(end_time=results.iso_time(time.time()), interrupted=interrupted,
                    points_done=len(rows))
        results.write_meta(run, meta)

    print_summary(rows)
    failed = sum(1 for r in rows if r["status"] != "ok")
    print(f"\n{len(rows)} points ({failed} failed) in {format_duration(time.time() - started)}: "
          f"{run}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
