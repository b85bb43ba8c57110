"""plots/compare.py: B/A ratios per point, marked only where the repetitions separate the runs
(harness/ranking.py)."""
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

    def test_overlapping_repetitions_are_not_marked(self):
        cell = self.rows[("epoll", 1)].cells["throughput_rps"]
        self.assertAlmostEqual(cell.threshold, max(4 / 100, 4 / 101))  # (max - min) / median
        self.assertEqual(cell.mark, "")

    def test_repetitions_that_do_not_overlap_are_marked(self):
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


class CompareRuleTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def rows(self, table_a, table_b, reps=3):
        common = dict(archs=("epoll", "select"), connections=(1, 64), reps=reps, hgrm=False)
        a = run_data.load_run(make_run(self.tmp.path, "a", model=model_from(table_a), **common))
        b = run_data.load_run(make_run(self.tmp.path, "b", model=model_from(table_b), **common))
        return {(r.arch, r.connections): r for r in compare.compare_rows(a, b)}

    def test_two_runs_with_identical_data_mark_nothing(self):
        rows = self.rows(A, A)
        marks = [cell.mark for row in rows.values() for cell in row.cells.values()]
        self.assertEqual(set(marks), {""}, marks)
        self.assertEqual(compare.counts_by_metric(list(rows.values()))["throughput"]["better"], 0)

    def test_without_three_repetitions_nothing_is_marked(self):
        single = {k: v and tuple(values[:1] for values in v) for k, v in A.items()}
        changed = dict(single)
        changed[("epoll", 64)] = ((2000.0,), (500.0,), (8.0,))   # twice as fast, one rep each
        rows = self.rows(single, changed, reps=1)
        self.assertEqual(rows[("epoll", 64)].cells["throughput_rps"].mark, "")
        self.assertIn("fewer than 3 reps", rows[("epoll", 64)].note)

    def test_a_separated_change_smaller_than_the_minimum_effect_is_not_marked(self):
        changed = dict(A)
        changed[("select", 1)] = ((92.0, 92.0, 92.0), (60.0, 60.0, 60.0), (12.0, 12.0, 12.0))
        rows = self.rows(A, changed)  # +2 %, every rep above every rep of A
        self.assertEqual(rows[("select", 1)].cells["throughput_rps"].mark, "")

    def rows_with_disturbed_b(self, disturbed_reps: set[int]):
        def disturbed_b(arch, workload, connections, rep):
            figures = model_from(B)(arch, workload, connections, rep)
            figures["disturbed"] = arch == "epoll" and connections == 64 and rep in disturbed_reps
            return figures
        common = dict(archs=("epoll", "select"), connections=(1, 64), reps=3, hgrm=False)
        a = run_data.load_run(make_run(self.tmp.path, "a", model=model_from(A), **common))
        b = run_data.load_run(make_run(self.tmp.path, "b", model=disturbed_b, **common))
        return {(r.arch, r.connections): r for r in compare.compare_rows(a, b)}

    def test_a_change_with_fewer_than_two_undisturbed_reps_is_shown_but_not_counted(self):
        rows = self.rows_with_disturbed_b({1, 2})
        cell = rows[("epoll", 64)].cells["throughput_rps"]
        self.assertEqual(cell.mark, "~")
        self.assertEqual(compare.verdict(cell, True), "")
        self.assertIn("2 rep(s) disturbed in B", rows[("epoll", 64)].note)
        tally = compare.counts_by_metric(list(rows.values()))["throughput"]
        self.assertEqual((tally["better"], tally["disturbed"]), (0, 1))
        self.assertEqual(rows[("select", 1)].cells["throughput_rps"].mark, "*")  # undisturbed

    def test_a_change_that_two_undisturbed_reps_show_is_counted_beside_a_disturbed_one(self):
        rows = self.rows_with_disturbed_b({1})
        cell = rows[("epoll", 64)].cells["throughput_rps"]
        self.assertEqual(cell.mark, "*")
        self.assertEqual(compare.verdict(cell, True), "better")
        self.assertIn("1 rep(s) disturbed in B", rows[("epoll", 64)].note)

    def test_a_cpu_rise_that_every_repetition_shows_is_marked_worse(self):
        dearer = {k: v and (v[0], v[1], tuple(c + 5 for c in v[2])) for k, v in A.items()}
        rows = self.rows(A, dearer)  # work_us = 5 on every request
        for key in (("epoll", 1), ("epoll", 64), ("select", 1), ("select", 64)):
            cell = rows[key].cells["server_cpu_us_per_req"]
            self.assertEqual(cell.mark, "*", key)
            self.assertEqual(compare.verdict(cell, False), "worse")


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
        for kind in compare.COMPARE_CHARTS:  # the overview and the one family's chart
            for png in (folder / f"persistent-{kind}.png",
                        folder / f"persistent-{kind}-one-event-loop.png"):
                self.assertGreater(png.stat().st_size, 15_000, png)
        with open(folder / "compare.csv", newline="", encoding="utf-8") as f:
            rows = {(r["arch"], r["connections"]): r for r in csv.DictReader(f)}
        self.assertAlmostEqual(float(rows[("epoll", "64")]["throughput_ratio"]), 1.5)
        self.assertEqual(rows[("epoll", "64")]["throughput_mark"], "*")
        self.assertEqual(rows[("select", "64")]["throughput_ratio"], "")
        markdown = (folder / "compare.md").read_text(encoding="utf-8")
        self.assertIn("min-max ranges do not overlap", markdown)  # the rule heads the table
        self.assertIn("| epoll | 64 | 1.500* | 0.800* | 0.750* |", markdown)
        html = (folder / "compare.html").read_text(encoding="utf-8")
        self.assertIn("min-max ranges do not overlap", html)
        self.assertEqual(html.count("<img "), 2 * len(compare.COMPARE_CHARTS))
        self.assertIn('data-family="one-event-loop"', html)

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
