"""Shared by the harness tests: where the built programs are, and running bench.py on a small
experiment written to a temporary folder."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HARNESS = REPO / "harness"
BUILD = Path(os.environ.get("ARCHBENCH_BUILD", REPO / "build"))
SERVER = BUILD / "bin" / "archbench-server"
LOAD = BUILD / "bin" / "archbench-load"
PYTHON = sys.executable

sys.path.insert(0, str(HARNESS))


def write_experiment(folder: Path, text: str) -> Path:
    path = folder / "experiment.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def bench_command(experiment: Path, results: Path, *extra: str) -> list[str]:
    return [PYTHON, str(HARNESS / "bench.py"), "--experiment", str(experiment),
            "--results", str(results), "--build", str(BUILD), *extra]


def run_bench(experiment: Path, results: Path, *extra: str, timeout: float = 240):
    return subprocess.run(bench_command(experiment, results, *extra), capture_output=True,
                          text=True, timeout=timeout)


def read_points(run: Path) -> list[dict]:
    with open(run / "points.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def read_meta(run: Path) -> dict:
    return json.loads((run / "meta.json").read_text(encoding="utf-8"))


class TempDir:
    def __init__(self):
        self._dir = tempfile.TemporaryDirectory(prefix="archbench-harness-test-")
        self.path = Path(self._dir.name)

    def cleanup(self):
        self._dir.cleanup()
