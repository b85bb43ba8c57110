"""harness/ranking.py, the one rule every ranking uses, and the report's words and table built
on it: A beats B only where their repetitions separate them; a point with timeouts is never
named best."""
import json
import unittest

from support import TempDir, make_run

import ranking
import report
import run_data
import summary


class SeparationRuleTest(unittest.TestCase):
    def test_overlapping_repetitions_are_tied(self):
        self.assertEqual(ranking.separated([100, 120, 110], [115, 130, 125]), 0)

    def test_repetitions_that_do_not_overlap_are_ordered(self):
        self.assertEqual(ranking.separated([200, 210, 205], [100, 110, 105]), 1)
        self.assertEqual(ranking.separated([100, 110, 105], [200, 210, 205]), -1)

    def test_lower_is_better_reverses_the_order(self):
        self.assertEqual(ranking.separated([10, 11, 12], [20, 21, 22], higher_is_better=False), 1)

    def test_fewer_than_three_repetitions_claim_nothing(self):
        self.assertEqual(ranking.separated([200, 210], [100, 110]), 0)

    def test_a_difference_below_the_minimum_effect_claims_nothing(self):
        self.assertEqual(ranking.separated([102, 102.5, 103], [100, 100.5, 101]), 0)

    def test_a_point_with_fewer_than_three_measured_repetitions_is_not_ranked_at_all(self):
        self.assertIn("3 are needed", ranking.too_few([650.0, 574.0]))
        self.assertEqual(ranking.too_few([1.0, 2.0, 3.0]), "")

    def test_leaders_name_every_architecture_tied_with_the_best(self):
        groups = {"epoll": [100, 104, 98], "poll": [101, 99, 103], "select": [97, 102, 100],
                  "single": [50, 52, 51]}
        self.assertEqual(sorted(ranking.leaders(groups)), ["epoll", "poll", "select"])
        self.assertEqual(ranking.trailers(groups), ["single"])
        self.assertEqual(ranking.tied_text(["a", "b", "c"]), "tied within noise: a, b and c")

    def test_a_clear_best_leads_alone(self):
        groups = {"epoll": [200, 204, 198], "poll": [101, 99, 103]}
        self.assertEqual(ranking.leaders(groups), ["epoll"])

    def test_timeouts_make_a_point_ineligible_and_are_counted(self):
        reps = [{"status": "ok", "errors": 63, "timeouts": 63, "connections": 64}] * 3
        self.assertEqual(ranking.eligible(reps), "63 of 64 clients starved: 63 timeouts")
        self.assertEqual(ranking.eligible([{"status": "ok", "errors": 0, "timeouts": 0,
                                            "connections": 64}] * 3), "")


def model(arch, workload, connections, rep):
    """single is starved at 64 (63 timeouts) with the lowest p99 and the highest throughput
    of what it answered; epoll and poll are tied; select is clearly slower."""
    wobble = {1: 0.99, 2: 1.0, 3: 1.01}[rep]
    throughput = {"single": 9000, "epoll": 5000, "poll": 5050, "select": 3000}[arch] * wobble
    timeouts = 63 if arch == "single" and connections == 64 else 0
    return {"status": "ok", "throughput_rps": throughput, "p50_us": 1e6 / throughput / 2,
            "p99_us": 1e6 / throughput, "requests_ok": 1000, "errors": timeouts,
            "timeouts": timeouts, "server_cpu_us_per_req": 1e5 / throughput,
            "server_rss_kb": 4096}


class ReportRankingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.data = run_data.load_run(make_run(cls.tmp.path, archs=("single", "epoll", "poll",
                                                                  "select"),
                                             connections=(1, 64), reps=3, hgrm=False,
                                             model=model))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_a_point_with_timeouts_is_never_named_best(self):
        self.assertEqual(summary.winner(self.data, "persistent", 1), ["single"])
        self.assertNotIn("single", summary.winner(self.data, "persistent", 64))
        sentences = (summary.throughput(self.data, "persistent")
                     + summary.latency(self.data, "persistent")
                     + summary.cpu(self.data, "persistent"))
        at_64 = [s for s in sentences if s.startswith("At 64 connections")]
        self.assertEqual(len(at_64), 3, sentences)
        for sentence in at_64:
            self.assertNotIn("single leads", sentence)
            self.assertNotIn("single's", sentence)
            self.assertNotIn("is single", sentence)
        self.assertIn("single: 63 of 64 clients starved: 63 timeouts", at_64[0])

    def test_tied_architectures_are_all_named_and_none_is_bold(self):
        self.assertEqual(sorted(summary.winner(self.data, "persistent", 64)), ["epoll", "poll"])
        words = " ".join(summary.throughput(self.data, "persistent"))
        self.assertIn("the fastest are tied within noise: poll and epoll", words)
        table = report.summary_table(self.data, "persistent")
        self.assertEqual(sum(1 for c in table.split("<td") if c.startswith(' class="tied"')), 2)
        self.assertIn("63 of 64 clients starved: 63 timeouts", table)
        self.assertIn("p99 111 µs of answered requests", table)
        self.assertNotIn('class="best">9,000<br><span class="small">p99 111 µs of', table)

    def test_disturbed_points_are_counted_named_and_shown_in_their_cell(self):
        def disturbed_model(arch, workload, connections, rep):
            figures = model(arch, workload, connections, rep)
            figures.update(disturbed=(arch == "epoll" and rep == 2), retries=2 if
                           arch == "epoll" and rep == 2 else 0, machine_slowdown=1.0,
                           foreign_cpu_share=0.0)
            return figures
        folder = make_run(self.tmp.path, "disturbed", archs=("epoll", "poll"), connections=(1,),
                          reps=3, hgrm=False, model=disturbed_model)
        meta_path = folder / "meta.json"
        meta = json.loads(meta_path.read_text())
        meta["sentinel"] = {"iterations": 1000, "reference_ms": {"0": 4.0}}
        meta_path.write_text(json.dumps(meta))
        data = run_data.load_run(folder)
        note = report.disturbed_note(data)
        self.assertIn("2 re-measurement(s)", note)
        self.assertIn("1 of 6 points stayed disturbed: epoll persistent at 1 (rep 2)", note)
        self.assertIn("1 rep(s) disturbed", report.summary_table(data, "persistent"))

    def test_report_explains_how_to_read_the_figures(self):
        page = report.reading_html()
        for term in ("A repetition", "The band", "Tied within noise", "Disturbed"):
            self.assertIn(term, page)


if __name__ == "__main__":
    unittest.main()
