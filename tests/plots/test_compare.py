"""plots/compare.py: B/A ratios per point, marked against the run-to-run spread."""
import csv
import math
import subprocess
import unittest

from support import REPO, TempDir, make_run, run_script

import compare
import run_data

# Figures per (arch, connections): one tuple of repetitions for throughput, p99 and CPU.
A = {("epoll", 1): ((100.0, 102.0, 98.0), (50.0, 51.0, 49.0), (10.0, 10.0, 10.0)),
     ("epoll", 64): ((1000.0, 1010.0, 990.0), (500.0, 500.0, 500.0), (8.0, 8.2, 7.8)),
     ("select", 1): ((90.0, 90.0, 90.0), (60.0, 60.0, 60.0), (12.0, 12.0, 12.0)),
     ("select", 64): ((900.0, 900.0, 900.0), (600.0, 600.0, 600.0), (12.0, 12.0, 12.0))}
B = {("epoll", 1): ((101.0, 103.0, 99.0), (50.0, 50.0, 50.0), (10.0, 10.0, 10.0)),    # noise
     ("epoll", 64): ((1500.0, 1510.0, 1490.0), (400.0, 400.0, 400.0), (6.0, 6.0, 6.0)),  # faster
     ("select", 1): ((81.0, 81.0, 81.0), (72.0, 72.0, 72.0), (12.0, 12.0, 12.0)),    # slower
     ("select", 64): None}                                                            # failed


def model_from(table):
    def model(arch, workload, connections, rep):
        figures = table[(arch, connections)]
        if figures is None:
            return {"status": "failed", "reason": "server died", "throughput_rps": 0}
        throughput, p99, cpu = (values[rep - 1] for values in figures)
        return {"status": "ok", "throughput_rps": throughput, "p50_us": p99 / 3,
                "p99_us": p99, "server_cpu_us_per_req": cpu, "requests_ok": 100,
                "errors": 0, "timeouts": 0, "server_rss_kb": 4096}
    return model


class CompareRatiosTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        common = dict(archs=("epoll", "select"), connections=(1, 64), reps=3, hgrm=False)
        cls.a = run_data.load_run(make_run(cls.tmp.path, "run-a", model=model_from(A), **common))
        cls.b = run_data.load_run(make_run(cls.tmp.path, "run-b", model=model_from(B), **common))
        cls.rows = {(r.arch, r.connections): r for r in compare.compare_rows(cls.a, cls.b)}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_ratios_are_b_over_a_of_the_medians(self):
        row = self.rows[("epoll", 64)]
        self.assertAlmostEqual(row.cells["throughput_rps"].ratio, 1500.0 / 1000.0)
        self.assertAlmostEqual(row.cells["p99_us"].ratio, 400.0 / 500.0)
        self.assertAlmostEqual(row.cells["server_cpu_us_per_req"].ratio, 6.0 / 8.0)
        self.assertAlmostEqual(self.rows[("select", 1)].cells["throughput_rps"].ratio,
                               81.0 / 90.0)
        self.assertAlmostEqual(self.rows[("epoll", 1)].cells["throughput_rps"].ratio, 1.01)

    def test_a_difference_within_the_spread_is_not_marked(self):
        cell = self.rows[("epoll", 1)].cells["throughput_rps"]
        self.assertAlmostEqual(cell.threshold, max(4 / 100, 4 / 101))  # (max - min) / median
        self.assertEqual(cell.mark, "")

    def test_a_difference_beyond_the_spread_is_marked(self):
        self.assertEqual(self.rows[("epoll", 64)].cells["throughput_rps"].mark, "*")
        self.assertEqual(self.rows[("epoll", 64)].cells["p99_us"].mark, "*")
        self.assertEqual(self.rows[("select", 1)].cells["throughput_rps"].mark, "*")
        self.assertEqual(compare.verdict(self.rows[("select", 1)].cells["throughput_rps"], True),
                         "worse")
        self.assertEqual(compare.verdict(self.rows[("epoll", 64)].cells["p99_us"], False),
                         "better")

    def test_a_failed_point_has_no_ratio_and_says_so(self):
        row = self.rows[("select", 64)]
        self.assertTrue(math.isnan(row.cells["throughput_rps"].ratio))
        self.assertEqual(row.note, "failed in B")


class CompareWithoutRepetitionsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def test_without_repetitions_only_changes_over_ten_percent_are_flagged_unsure(self):
        single = {k: v and tuple(values[:1] for values in v) for k, v in A.items()}
        changed = dict(single)
        changed[("epoll", 1)] = ((105.0,), (50.0,), (10.0,))     # +5 %: not flagged
        changed[("epoll", 64)] = ((1200.0,), (500.0,), (8.0,))   # +20 %: flagged "?"
        common = dict(archs=("epoll", "select"), connections=(1, 64), reps=1, hgrm=False)
        a = run_data.load_run(make_run(self.tmp.path, "a", model=model_from(single), **common))
        b = run_data.load_run(make_run(self.tmp.path, "b", model=model_from(changed), **common))
        rows = {(r.arch, r.connections): r for r in compare.compare_rows(a, b)}
        self.assertEqual(rows[("epoll", 1)].cells["throughput_rps"].mark, "")
        self.assertEqual(rows[("epoll", 64)].cells["throughput_rps"].mark, "?")
        self.assertTrue(math.isnan(rows[("epoll", 64)].cells["throughput_rps"].threshold))


class CompareCommandTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def test_compare_writes_charts_table_and_page_and_prints_where(self):
        common = dict(archs=("epoll", "select"), connections=(1, 64), reps=3)
        a = make_run(self.tmp.path, "run-a", model=model_from(A), **common)
        b = make_run(self.tmp.path, "run-b", model=model_from(B), **common)
        out = run_script("compare.py", a, b)
        self.assertEqual(out.returncode, 0, out.stderr)
        folder = self.tmp.path / "compare-run-a-vs-run-b"
        self.assertIn(str(folder / "compare.html"), out.stdout)
        for kind in compare.COMPARE_CHARTS:
            png = folder / f"persistent-{kind}.png"
            self.assertGreater(png.stat().st_size, 15_000, png)
        with open(folder / "compare.csv", newline="", encoding="utf-8") as f:
            rows = {(r["arch"], r["connections"]): r for r in csv.DictReader(f)}
        self.assertAlmostEqual(float(rows[("epoll", "64")]["throughput_ratio"]), 1.5)
        self.assertEqual(rows[("epoll", "64")]["throughput_mark"], "*")
        self.assertEqual(rows[("select", "64")]["throughput_ratio"], "")
        markdown = (folder / "compare.md").read_text(encoding="utf-8")
        self.assertIn("larger relative spread", markdown)  # the rule heads the table
        self.assertIn("| epoll | 64 | 1.500* | 0.800* | 0.750* |", markdown)
        html = (folder / "compare.html").read_text(encoding="utf-8")
        self.assertIn("larger relative spread", html)
        self.assertEqual(html.count("<img "), len(compare.COMPARE_CHARTS))

    def test_a_missing_run_is_one_line_and_exit_2(self):
        run = make_run(self.tmp.path, "run-a", archs=("epoll",), connections=(1,), reps=1)
        out = run_script("compare.py", run, self.tmp.path / "nothing")
        self.assertEqual(out.returncode, 2)
        self.assertEqual(len(out.stderr.strip().splitlines()), 1, out.stderr)

    def test_make_compare_without_both_runs_is_one_line_and_exit_2(self):
        out = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(REPO), "compare",
                              "A=results/x"], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
        self.assertEqual(len(out.stderr.strip().splitlines()), 1, out.stderr)
        self.assertIn("make compare A=results/<a> B=results/<b>", out.stderr)


if __name__ == "__main__":
    unittest.main()
