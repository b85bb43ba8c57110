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
import time
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HARNESS = REPO / "harness"
BUILD = Path(os.environ.get("ARCHBENCH_BUILD", REPO / "build"))
SERVER = BUILD / "bin" / "archbench-server"
LOAD = BUILD / "bin" / "archbench-load"
PYTHON = sys.executable

sys.path.insert(0, str(HARNESS))

import procstat  # noqa: E402


def write_experiment(folder: Path, text: str) -> Path:
    path = folder / "experiment.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def bench_command(experiment: Path, results: Path, *extra: str) -> list[str]:
    return [PYTHON, str(HARNESS / "bench.py"), "--experiment", str(experiment),
            "--results", str(results), "--build", str(BUILD), *extra]


def run_bench(experiment: Path, results: Path, *extra: str, timeout: float = 240,
              env: dict | None = None):
    return subprocess.run(bench_command(experiment, results, *extra), capture_output=True,
                          text=True, timeout=timeout, env=env)


def read_points(run: Path) -> list[dict]:
    with open(run / "points.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def only_run_folder(results_dir: Path) -> Path:
    """The one run folder under results_dir (its `latest` link aside)."""
    runs = [p for p in results_dir.iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(runs) == 1, runs
    return runs[0]


def read_meta(run: Path) -> dict:
    return json.loads((run / "meta.json").read_text(encoding="utf-8"))


class TempDir:
    def __init__(self):
        self._dir = tempfile.TemporaryDirectory(prefix="archbench-harness-test-")
        self.path = Path(self._dir.name)

    def cleanup(self):
        self._dir.cleanup()


class HarnessTestCase(unittest.TestCase):
    """A test with a temporary folder of its own (self.tmp) and results/ in it (self.results)."""

    def setUp(self):
        self.tmp = TempDir()
        self.results = self.tmp.path / "results"

    def tearDown(self):
        self.tmp.cleanup()


def process_identity(pid: int) -> tuple[str, int] | None:
    """A process's name and start time (so that a reused pid is not taken for it), or None once
    it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.find("(") + 1:text.rfind(")")], int(text[text.rfind(")") + 2:].split()[19])


def child_processes(pid: int) -> list[int]:
    children = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                text = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            if int(text[text.rfind(")") + 2:].split()[1]) == pid:
                children.append(int(name))
    return children


def children_running(pid: int, wanted: dict[str, int],
                     timeout_s: float = 5.0) -> dict[int, tuple[str, int] | None]:
    """Waits until the children of `pid` include, by name (cut to 15 characters, as the kernel
    keeps it), at least wanted[name] processes of each name; returns {pid: identity} of its
    children then (or at the timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:
        started = {child: process_identity(child) for child in child_processes(pid)}
        names = [identity[0] for identity in started.values() if identity]
        if all(names.count(name) >= count for name, count in wanted.items()) or \
                time.monotonic() > deadline:
            return started


def names_of(started: dict[int, tuple[str, int] | None]) -> set[str]:
    return {identity[0] for identity in started.values() if identity}


def assert_all_gone(test, started: dict[int, tuple[str, int] | None]) -> None:
    """Each process of `started` ({pid: identity}) is gone (not even a zombie: the harness reaped
    it), and so is everything in the process group it was started in (a server's children)."""
    for pid, identity in started.items():
        deadline = time.monotonic() + 5
        while process_identity(pid) == identity and time.monotonic() < deadline:
            time.sleep(0.05)
        test.assertNotEqual(process_identity(pid), identity, f"{identity[0]} (pid {pid}) left")
        test.assertEqual(procstat.group_members(pid), [], f"process group {pid} left")
