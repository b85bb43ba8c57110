"""The lesson experiments (harness/experiments/*.toml): each file parses, its offered-load keys
are checked, and each runs on a tiny scale with real servers and the real load generator."""
import json
import unittest
from pathlib import Path

from support import (REPO, TempDir, only_run_folder as only_run, read_meta, read_points,
                     run_bench, write_experiment)

import experiment as experiments
import offered

EXPERIMENTS = REPO / "harness" / "experiments"
LESSONS = ["blocking-backend", "cpu-heavy", "idle-multitude", "latency-vs-load", "overload",
           "large-replies", "lessons-in-default"]


class LessonFilesTest(unittest.TestCase):
    def test_every_lesson_file_parses_in_full_and_quick(self):
        for name in LESSONS:
            with self.subTest(name):
                full = experiments.load(EXPERIMENTS / f"{name}.toml")
                quick = experiments.load(EXPERIMENTS / f"{name}.toml", quick=True)
                self.assertEqual(full.name, name)
                self.assertTrue(quick.workloads)
                self.assertLessEqual(quick.duration_s, full.duration_s)

    def test_blocking_backend_sleeps_a_millisecond_and_a_tenth(self):
        e = experiments.load(EXPERIMENTS / "blocking-backend.toml")
        self.assertEqual(sorted(w.sleep_us for w in e.workloads), [100, 1000])
        self.assertEqual(e.connections[0], 1)
        self.assertEqual(e.connections[-1], 256)

    def test_idle_multitude_holds_up_to_ten_thousand_beside_a_few_active(self):
        e = experiments.load(EXPERIMENTS / "idle-multitude.toml")
        self.assertEqual(max(w.idle for w in e.workloads), 10_000)
        self.assertLessEqual(max(e.connections), 16)

    def test_latency_vs_load_sweeps_beyond_capacity_under_an_slo(self):
        e = experiments.load(EXPERIMENTS / "latency-vs-load.toml")
        factors = [w.rate_x_capacity for w in e.workloads]
        self.assertLess(min(factors), 0.5)
        self.assertGreater(max(factors), 1.0)
        self.assertEqual(e.slo_us, 1000)

    def test_overload_offers_twice_the_capacity_then_half(self):
        e = experiments.load(EXPERIMENTS / "overload.toml")
        steps = e.workloads[0].rate_steps
        self.assertIn(2.0, [f for f, _ in steps])
        self.assertEqual(steps[-1][0], 0.5)

    def test_a_workload_may_have_its_own_connection_counts(self):
        e = experiments.load(EXPERIMENTS / "lessons-in-default.toml")
        idle = next(w for w in e.workloads if w.name == "idle-2000")
        self.assertEqual(experiments.point_connections(e, idle), [8])
        filtered = experiments.apply_filters(e, ["epoll"], connections="2")
        self.assertTrue(all(experiments.point_connections(filtered, w) == [2]
                            for w in filtered.workloads))

    def _bad(self, workload_lines: str, mentions: str):
        tmp = TempDir()
        try:
            path = write_experiment(tmp.path, f"""
                name = "bad"
                [[workloads]]
                name = "w"
                {workload_lines}
            """)
            with self.assertRaises(experiments.ExperimentError) as caught:
                experiments.load(path)
            self.assertIn(mentions, str(caught.exception))
        finally:
            tmp.cleanup()

    def test_negative_idle_is_an_error(self):
        self._bad("idle = -1", "idle")

    def test_two_ways_of_giving_a_rate_is_an_error(self):
        self._bad("rate = 100\n                rate_x_capacity = 0.5", "give one of")

    def test_malformed_rate_steps_are_an_error(self):
        self._bad("rate_steps = [[2.0]]", "rate_steps")
        self._bad("rate_steps = [[2.0, -1]]", "rate_steps")


class OfferedTest(unittest.TestCase):
    def test_relative_rates_become_absolute_flags(self):
        workload = experiments.Workload(name="w", rate_x_capacity=0.5)
        self.assertEqual(offered.rate_flags(workload, 20_000), (["--rate", "10000"], 10_000.0))
        steps = experiments.Workload(name="o", rate_steps=((2.0, 3), (0.5, 4)))
        self.assertEqual(offered.rate_flags(steps, 1000),
                         (["--rate-steps", "2000:3,500:4"], 2000.0))

    def test_without_a_capacity_the_probe_is_closed_loop(self):
        workload = experiments.Workload(name="w", rate_x_capacity=0.5)
        self.assertEqual(offered.rate_flags(workload, None), ([], None))

    def test_slo_verdict_needs_p99_within_no_errors_and_the_offer_answered(self):
        base = {"status": "ok", "offered_rps": 1000, "throughput_rps": 995, "p99_us": 800,
                "errors": 0}
        self.assertTrue(offered.slo_met(base, 1000))
        self.assertFalse(offered.slo_met({**base, "p99_us": 1200}, 1000))
        self.assertFalse(offered.slo_met({**base, "errors": 1}, 1000))
        self.assertFalse(offered.slo_met({**base, "throughput_rps": 500}, 1000))
        self.assertIsNone(offered.slo_met({**base, "offered_rps": None}, 1000))


class LessonRunsTest(unittest.TestCase):
    """Each lesson experiment, quick, on one architecture and two connections."""

    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def run_lesson(self, name: str, workload: str, arch: str = "epoll") -> tuple[list, Path]:
        results = self.tmp.path / name
        out = run_bench(EXPERIMENTS / f"{name}.toml", results, "--quick", "--arch", arch,
                        "--connections", "2", "--workload", workload)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        run = only_run(results)
        rows = read_points(run)
        self.assertTrue(rows)
        return rows, run

    def test_blocking_backend_runs_and_epoll_stays_under_its_cap(self):
        rows, _ = self.run_lesson("blocking-backend", "sleep-1ms")
        self.assertEqual(rows[0]["status"], "ok", rows[0]["reason"])
        self.assertLessEqual(float(rows[0]["throughput_rps"]), 1000 * 1.05)

    def test_cpu_heavy_runs(self):
        rows, _ = self.run_lesson("cpu-heavy", "work-100us")
        self.assertEqual(rows[0]["status"], "ok", rows[0]["reason"])

    def test_idle_multitude_records_the_idle_connections(self):
        rows, _ = self.run_lesson("idle-multitude", "idle-100")
        self.assertEqual(rows[0]["idle"], "100")
        self.assertEqual(rows[0]["idle_opened"], "100")
        self.assertEqual(rows[0]["idle_closed_by_server"], "0")

    def test_latency_vs_load_probes_the_capacity_and_offers_a_share_of_it(self):
        rows, _ = self.run_lesson("latency-vs-load", "load-50")
        row = rows[0]
        self.assertEqual(row["status"], "ok", row["reason"])
        self.assertAlmostEqual(float(row["offered_rps"]), 0.5 * float(row["capacity_rps"]),
                               delta=1)
        self.assertIn(row["slo_met"], ("true", "false"))

    def test_overload_runs_the_rate_steps_in_one_load_generator_run(self):
        rows, run = self.run_lesson("overload", "overload-2x")
        row = rows[0]
        self.assertEqual(row["status"], "ok", row["reason"])
        result = json.loads((run / "raw" / "epoll-overload-2x-c2-r1.json").read_text())
        capacity = float(row["capacity_rps"])
        self.assertEqual(result["config"]["rate_steps"][1][0], round(2 * capacity))
        self.assertGreaterEqual(len(result["timeline"]), 5)
        self.assertIn("rate_steps", json.dumps(read_meta(run)["experiment"]))

    def test_large_replies_run(self):
        rows, _ = self.run_lesson("large-replies", "reply-1m")
        self.assertEqual(rows[0]["status"], "ok", rows[0]["reason"])
        self.assertEqual(rows[0]["errors"], "0")


if __name__ == "__main__":
    unittest.main()
