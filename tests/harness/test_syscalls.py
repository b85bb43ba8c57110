"""System calls, faults and run-queue wait per point (harness/perfcount.py): counted for the
whole server, children forked during the window included, and left empty, with a note, where
this machine cannot count."""
from __future__ import annotations

import math
import os
import unittest

from support import TempDir, read_meta, read_points, run_bench, write_experiment

import perfcount

COUNTING, WHY_NOT = perfcount.probe()

CHURN = """
    name = "syscalls"
    architectures = ["forked"]
    connections = [4]
    duration_s = 1.0
    warmup_s = 0.3
    [[workloads]]
    name = "one-per-connection"
    session = 1
"""


def number(cell: str) -> float:
    return float(cell) if cell else math.nan


class SyscallCounting(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    @unittest.skipIf(COUNTING is None, f"perf cannot count here: {WHY_NOT}")
    def test_forked_server_under_churn_makes_the_calls_it_must(self):
        # One connection per request: the parent accepts and forks once per request, and the
        # child (forked during the window) reads the question, writes the answer, reads EOF and
        # closes. Every one of those must be counted, the child's included.
        experiment = write_experiment(self.tmp.path, CHURN)
        result = run_bench(experiment, self.tmp.path / "results", timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr + result.stdout)
        [row] = read_points(self.tmp.path / "results" / "latest")
        self.assertEqual(row["status"], "ok", row["reason"])
        per_request = {kind: number(row[f"syscalls_{kind}_per_req"])
                       for kind in perfcount.KIND_NAMES}
        # The connections open and close at the window's edges too, so allow 10 %.
        self.assertAlmostEqual(per_request["spawn"], 1.0, delta=0.1)   # the parent's clone
        self.assertAlmostEqual(per_request["accept"], 1.0, delta=0.1)  # the parent's accept
        self.assertAlmostEqual(per_request["write"], 1.0, delta=0.1)   # the child's only write
        self.assertGreaterEqual(per_request["read"], 1.9)              # question, then EOF
        self.assertGreaterEqual(per_request["close"], 1.0)
        total = number(row["syscalls_per_req"])
        self.assertAlmostEqual(sum(per_request.values()), total, delta=1e-4 * total)  # cells keep 6 digits
        self.assertGreater(number(row["load_syscalls_per_req"]), 1.0)
        self.assertGreaterEqual(number(row["runqueue_us_per_req"]), 0.0)
        self.assertGreater(number(row["faults_per_req"]), 1.0)  # every fork copies on write
        raw = self.tmp.path / "results" / "latest" / "raw"
        self.assertTrue(list(raw.glob("*.syscalls.json")))

    def test_counting_unavailable_gives_empty_columns_and_one_note(self):
        experiment = write_experiment(self.tmp.path, CHURN)
        environment = dict(os.environ, ARCHBENCH_PERF="/nonexistent/perf")
        result = run_bench(experiment, self.tmp.path / "results", timeout=120, env=environment)
        self.assertEqual(result.returncode, 0, result.stderr + result.stdout)
        run = self.tmp.path / "results" / "latest"
        [row] = read_points(run)
        self.assertEqual(row["status"], "ok", row["reason"])
        self.assertEqual(row["syscalls_per_req"], "")
        self.assertEqual(row["load_syscalls_per_req"], "")
        self.assertEqual(result.stdout.count("not counted"), 1, result.stdout)
        meta = read_meta(run)
        self.assertFalse(meta["syscall_counting"]["available"])
        self.assertIn("/nonexistent/perf", meta["syscall_counting"]["why_not"])


if __name__ == "__main__":
    unittest.main()
