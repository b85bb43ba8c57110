#!/usr/bin/env python3
"""archbench's harness: runs an experiment (harness/experiments/*.toml) point by point and
writes a run folder under results/. `make bench` runs it; see README for the results layout.

    harness/bench.py [--experiment FILE] [--quick] [--arch a,b] [--workload w] [--connections 1,64]
"""
from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import experiment as experiments  # noqa: E402
import results  # noqa: E402
from point import Binaries, Placement, PointSpec, run_point  # noqa: E402

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


def resolve_placement(experiment: experiments.Experiment) -> tuple[Placement, list[str]]:
    """Separate cores for server and load generator. On 2 cores: server on the first, load
    generator on the second; on more, the server gets the first half."""
    notes = []
    allowed = sorted(os.sched_getaffinity(0))
    config = experiment.placement
    if len(allowed) == 1:
        server_cpus = load_cpus = allowed
        notes.append("only one CPU: server and load generator share it, so the load generator "
                     "competes with the server")
    else:
        half = (len(allowed) + 1) // 2
        server_cpus, load_cpus = allowed[:half], allowed[half:]
    try:
        if config.get("server_cpus", "auto") != "auto":
            server_cpus = parse_cpus(config["server_cpus"])
        if config.get("load_cpus", "auto") != "auto":
            load_cpus = parse_cpus(config["load_cpus"])
    except ValueError:
        raise experiments.ExperimentError("placement CPUs must look like '0', '0-3' or '0,2'") from None
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


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


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
    if row.get("reason"):
        text += f"  ({row['reason']})"
    return text


def print_summary(rows: list[dict]) -> None:
    """Per workload and connection count: the best architecture by median throughput."""
    ok = [r for r in rows if r["status"] == "ok"]
    if not ok:
        print("no point succeeded")
        return
    print("\nbest architecture by throughput (median over repetitions):")
    print(f"  {'workload':<12} {'conns':>5}  {'architecture':<16} {'rps':>10} {'p99 us':>10}")
    keys = sorted({(r["workload"], r["connections"]) for r in ok},
                  key=lambda k: ([r["workload"] for r in rows].index(k[0]), k[1]))
    for workload, connections in keys:
        by_arch: dict[str, list[dict]] = {}
        for r in ok:
            if r["workload"] == workload and r["connections"] == connections:
                by_arch.setdefault(r["arch"], []).append(r)
        best_arch, best = max(
            ((arch, (statistics.median(x["throughput_rps"] for x in points),
                     statistics.median(x["p99_us"] for x in points)))
             for arch, points in by_arch.items()), key=lambda item: item[1][0])
        print(f"  {workload:<12} {connections:>5}  {best_arch:<16} {best[0]:>10,.0f} "
              f"{best[1]:>10,.0f}")


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
        experiment = experiments.apply_filters(
            experiment, known_architectures(binaries.server), args.arch, args.workload,
            args.connections)
        if args.repetitions:
            experiment.repetitions = args.repetitions
        placement, notes = resolve_placement(experiment)
    except experiments.ExperimentError as error:
        usage_error(str(error))
    if not binaries.load.exists():
        usage_error(f"no load generator at {binaries.load} (build it first: make)")

    signal.signal(signal.SIGTERM, interrupt)
    limit_note = raise_open_file_limit(max(experiment.connections) + 64)
    notes += [limit_note] if limit_note else []

    specs = [PointSpec(arch, workload, connections, rep)
             for workload in experiment.workloads
             for connections in experiment.connections
             for arch in experiment.architectures
             for rep in range(1, experiment.repetitions + 1)]
    run = results.create_run_folder(args.results)
    started = time.time()
    meta = results.machine_meta(args.build, REPO)
    meta.update(experiment=experiment.as_run(), experiment_file=str(args.experiment),
                quick=args.quick, placement=placement.as_meta(), notes=notes,
                open_file_limit=resource.getrlimit(resource.RLIMIT_NOFILE)[0],
                binaries={"server": str(binaries.server), "load": str(binaries.load)},
                start_time=results.iso_time(started), end_time=None, interrupted=False,
                points_planned=len(specs), points_done=0)
    results.write_meta(run, meta)

    print(f"archbench: {experiment.name}: {len(experiment.architectures)} architectures x "
          f"{len(experiment.workloads)} workloads x {len(experiment.connections)} connection "
          f"counts x {experiment.repetitions} = {len(specs)} points; server on CPUs "
          f"{placement.server_cpus}, load generator on {placement.load_cpus}")
    for note in notes:
        print(f"note: {note}")
    print(f"results: {run}")

    csv = results.PointsCsv(run / "points.csv")
    rows: list[dict] = []
    interrupted = False
    try:
        for index, spec in enumerate(specs, 1):
            row = run_point(binaries, spec, experiment, placement, run / "raw")
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
