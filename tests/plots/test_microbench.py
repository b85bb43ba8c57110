"""The microbenchmarks in the report: Google Benchmark JSON (synthetic, in the real format, with
select skipped at 1000 descriptors) read as medians, drawn as a chart per mechanism, put into
words, and the TCP loopback round trip drawn as the floor on the latency charts."""
import math
import os
import re
import shutil
import subprocess
import unittest
from unittest import mock

from support import (MEAN_FACTOR, MICROBENCH_MEDIANS, REPO, TempDir, make_run, run_script,
                     write_microbench)

import charts
import microbench
import microbench_charts
import report
import run_data

CHARTS = ["readiness", "workers", "loopback", "hotpaths"]
ARCHS = ("single", "threaded", "select", "epoll")


def line_labelled(ax, text):
    return [line for line in ax.get_lines() if line.get_label().startswith(text)]


class MicrobenchDataTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.bench = microbench.load(write_microbench(cls.tmp.path / "microbench"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_the_median_is_picked_not_the_mean(self):
        self.assertAlmostEqual(self.bench.ns("BM_PollWait", idle=999), 15000)
        self.assertAlmostEqual(self.bench.ns("BM_EpollRegisterAndRemove", idle=0), 1200)
        self.assertNotAlmostEqual(self.bench.ns("BM_PollWait", idle=999), 15000 * MEAN_FACTOR)

    def test_real_time_where_the_benchmark_uses_it_cpu_time_otherwise(self):
        self.assertAlmostEqual(self.bench.ns("BM_ForkExitWait"), 100_000)
        self.assertAlmostEqual(self.bench.ns("BM_TcpLoopbackRoundTrip"), 20_000)
        self.assertAlmostEqual(self.bench.tcp_round_trip_us(), 20.0)
        self.assertAlmostEqual(self.bench.ns("BM_SelectWait", idle=9), 600)

    def test_counters_give_nanoseconds_per_request(self):
        # ns_per_request is written in seconds per request; 16 requests per iteration.
        parse = self.bench.result("BM_ParseAndAnswer", pipeline=16, reply_bytes=0)
        self.assertAlmostEqual(parse.per_item_ns(), 15)
        self.assertAlmostEqual(parse.ns, 15 * 16)
        self.assertAlmostEqual(self.bench.result("BM_HistogramRecord").per_item_ns(), 5)

    def test_select_skipped_with_an_error_has_no_figure(self):
        select = self.bench.result("BM_SelectWait", idle=999)
        self.assertFalse(select.ok)
        self.assertIn("FD_SETSIZE", select.error)
        self.assertTrue(math.isnan(self.bench.ns("BM_SelectWait", idle=999)))

    def test_select_at_1000_is_a_gap_in_the_readiness_chart_never_a_zero(self):
        ax = microbench_charts.readiness_figure(self.bench).axes[0]
        (select,) = line_labelled(ax, "select")
        y = dict(zip(select.get_xdata(), select.get_ydata()))
        self.assertEqual(sorted(y), [1, 10, 100, 1000])
        self.assertTrue(math.isnan(y[1000]), f"select at 1000 drawn at {y[1000]}")
        self.assertEqual(y[1], 300)
        self.assertNotIn(0.0, list(select.get_ydata()))
        self.assertEqual((ax.get_xscale(), ax.get_yscale()), ("log", "log"))

    def test_readiness_chart_draws_medians_for_every_mechanism(self):
        ax = microbench_charts.readiness_figure(self.bench).axes[0]
        expected = {"poll": "BM_PollWait", "epoll_wait": "BM_EpollWait",
                    "epoll_ctl add + del": "BM_EpollRegisterAndRemove"}
        for label, family in expected.items():
            (line,) = line_labelled(ax, label)
            medians = [MICROBENCH_MEDIANS["readiness"][f"{family}/idle:{idle}"]
                       for idle in (0, 9, 99, 999)]
            self.assertEqual(list(line.get_ydata()), medians, label)

    def test_worker_and_loopback_bars_are_the_medians(self):
        heights = sorted(p.get_height() for p in
                         microbench_charts.workers_figure(self.bench).axes[0].patches)
        self.assertEqual(heights, [5, 20, 100, 400])  # µs
        heights = sorted(p.get_height() for p in
                         microbench_charts.loopback_figure(self.bench).axes[0].patches)
        self.assertEqual(heights, [8, 20])

    def test_readiness_sentences_name_the_cheapest_wait_and_the_ratio(self):
        words = " ".join(microbench.readiness(self.bench))
        self.assertIn("With 1 descriptor the cheapest wait is select's, 300 ns", words)
        self.assertIn("With 1000 descriptors the cheapest wait is epoll_wait's, 500 ns per "
                      "call; poll 30× as much (select not measured: select cannot watch a "
                      "descriptor at or above FD_SETSIZE)", words)
        self.assertIn("registering and removing a descriptor costs 1.2 µs", words)

    def test_worker_sentences_name_the_pool_and_stevens_ratio(self):
        words = " ".join(microbench.workers(self.bench))
        self.assertIn("The cheapest way to get a worker is to hand a descriptor to a pool "
                      "thread, 5 µs", words)
        self.assertIn("20× faster than a fork per client and 4.00× faster than a thread",
                      words)
        self.assertIn("64 MiB touched forks in 400 µs, 4.00× the small one", words)

    def test_loopback_and_hot_path_sentences(self):
        words = " ".join(microbench.loopback(self.bench, (50.0, "epoll at 4 connections")))
        self.assertIn("20 µs over TCP loopback and 8 µs over a Unix socketpair: the Unix "
                      "socketpair is 2.50× faster", words)
        self.assertIn("50 µs (epoll at 4 connections), is 2.50× it", words)
        words = " ".join(microbench.hotpaths(self.bench))
        self.assertIn("answers a question in 40 ns, 15 ns each when 16 arrive", words)
        self.assertIn("records a latency in 5 ns (goal: under 10 ns, met)", words)
        self.assertIn("0.6% of a TCP loopback round trip", words)  # (40 + 80) / 20,000

    def test_no_folder_or_no_json_is_no_microbenchmarks(self):
        self.assertIsNone(microbench.load(self.tmp.path / "nowhere"))
        (self.tmp.path / "empty").mkdir()
        self.assertIsNone(microbench.load(self.tmp.path / "empty"))

    def test_a_file_that_is_not_google_benchmark_json_is_named(self):
        broken = self.tmp.path / "broken"
        broken.mkdir()
        (broken / "readiness.json").write_text("{not json", encoding="utf-8")
        with self.assertRaisesRegex(microbench.MicrobenchError, "readiness.json"):
            microbench.load(broken)


class LatencyFloorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.layers = [charts.Layer(run_data.load_run(
            make_run(cls.tmp.path, archs=ARCHS, connections=(1, 64), reps=1, hgrm=False)))]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def floors(self, figure):
        return [line for ax in figure.axes for line in ax.get_lines()
                if line.get_gid() == "loopback-floor"]

    def test_the_loopback_floor_is_a_dashed_line_on_both_latency_panels(self):
        floors = self.floors(charts.latency_figure(self.layers, "persistent", floor_us=20.0))
        self.assertEqual(len(floors), 2)
        for line in floors:
            self.assertEqual(list(line.get_ydata()), [20.0, 20.0])
            self.assertEqual(line.get_linestyle(), "--")

    def test_no_floor_without_microbenchmarks(self):
        self.assertEqual(self.floors(charts.latency_figure(self.layers, "persistent")), [])

    def test_a_floor_far_below_the_data_is_named_but_not_drawn(self):
        figure = charts.latency_figure(self.layers, "persistent", floor_us=0.001)
        self.assertEqual(self.floors(figure), [])
        legend = [t.get_text() for t in figure.axes[1].get_legend().get_texts()]
        self.assertTrue(any("off this chart's scale" in text for text in legend), legend)


class ReportWithMicrobenchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.with_data = make_run(cls.tmp.path, name="with", archs=ARCHS, connections=(1, 64),
                                 reps=1, hgrm=False)
        write_microbench(cls.with_data / "microbench")
        cls.without = make_run(cls.tmp.path, name="without", archs=ARCHS, connections=(1, 64),
                               reps=1, hgrm=False)
        for run in (cls.with_data, cls.without):
            out = run_script("report.py", run)
            assert out.returncode == 0, out.stderr

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def html(self, run):
        return (run / "report.html").read_text(encoding="utf-8")

    def test_every_microbench_chart_file_is_produced(self):
        for chart in CHARTS:
            png = self.with_data / "plots" / f"microbench-{chart}.png"
            self.assertTrue(png.is_file(), png)
            self.assertGreater(png.stat().st_size, 10_000, png)
            self.assertEqual(png.read_bytes()[:8], b"\x89PNG\r\n\x1a\n")

    def test_the_report_has_the_mechanisms_section_with_every_chart_and_its_words(self):
        html = self.html(self.with_data)
        self.assertIn('<h2 id="mechanisms">Why: the mechanisms</h2>', html)
        section = html[html.index('id="mechanisms"'):html.index('id="failures"')]
        self.assertEqual(re.findall(r'<img src="([^"]+)"', section),
                         [f"plots/microbench-{chart}.png" for chart in CHARTS])
        self.assertEqual(section.count("What to look for."), 4)
        self.assertEqual(section.count("This run.</b> "), 4)
        self.assertIn("poll 30× as much", section)
        self.assertIn('href="#mechanisms"', html)

    def test_the_latency_chart_words_name_the_loopback_floor(self):
        html = self.html(self.with_data)
        self.assertIn("One TCP loopback round trip, 20 µs (make microbench), is the floor", html)

    def latency_floors_drawn(self, run, bench):
        """The floor_us that the report gave each latency chart."""
        def not_saved(figure, folder, stem, svg=False):
            return [folder / f"{stem}.png"]
        with mock.patch.object(charts, "latency_figure", wraps=charts.latency_figure) as spy, \
                mock.patch.object(charts, "save", not_saved):
            report.draw_charts(run_data.load_run(run), out=run / "redrawn",
                               bench=bench)
        return [call.args[2] if len(call.args) > 2 else call.kwargs.get("floor_us")
                for call in spy.call_args_list]

    def test_the_report_draws_the_floor_on_latency_charts_only_with_microbenchmarks(self):
        bench = microbench.load(self.with_data / "microbench")
        # One latency chart per workload: the overview and one per family, each with the floor.
        drawn = self.latency_floors_drawn(self.with_data, bench)
        self.assertEqual(set(drawn), {20.0})
        self.assertGreater(len(drawn), 1)
        self.assertEqual(set(self.latency_floors_drawn(self.without, None)), {None})

    def test_without_microbenchmarks_the_report_has_no_section_and_no_floor(self):
        html = self.html(self.without)
        self.assertNotIn("Why: the mechanisms", html)
        self.assertNotIn("loopback", html)
        self.assertEqual(list((self.without / "plots").glob("microbench-*")), [])

    def test_a_broken_microbench_file_is_reported_and_the_report_still_written(self):
        broken = self.tmp.path / "broken"
        shutil.copytree(self.without, broken)
        (broken / "microbench").mkdir()
        (broken / "microbench" / "workers.json").write_text("[]", encoding="utf-8")
        out = run_script("report.py", broken)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("The microbenchmarks are left out", self.html(broken))


class WithoutARunTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def test_the_charts_are_drawn_beside_the_json_and_their_path_printed(self):
        folder = write_microbench(self.tmp.path / "microbench-20250101T000000Z",
                                  programs=("readiness", "loopback"))
        out = run_script("microbench_charts.py", folder)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(f"microbenchmark charts: {folder / 'plots'}", out.stdout)
        self.assertEqual(sorted(p.name for p in (folder / "plots").glob("*.png")),
                         ["microbench-loopback.png", "microbench-readiness.png"])
        self.assertIn("the cheapest wait is epoll_wait's", out.stdout)

    def test_a_folder_without_json_is_a_usage_error(self):
        out = run_script("microbench_charts.py", self.tmp.path)
        self.assertEqual(out.returncode, 2)
        self.assertIn("no Google Benchmark JSON", out.stderr)


@unittest.skipUnless(shutil.which("make"), "needs make")
class MakeMicrobenchTest(unittest.TestCase):
    """`make microbench RUN=<run>` with stand-in programs that write the synthetic JSON: the
    results land in RUN/microbench/ and the report is redrawn with them."""

    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def test_make_microbench_writes_into_the_run_and_redraws_its_report(self):
        run = make_run(self.tmp.path, archs=ARCHS, connections=(1, 64), reps=1, hgrm=False)
        canned = write_microbench(self.tmp.path / "canned")
        bin_dir = self.tmp.path / "build" / "bin"
        bin_dir.mkdir(parents=True)
        for program in ("readiness", "workers", "loopback", "protocol", "loadgen"):
            stand_in = bin_dir / f"microbench-{program}"
            stand_in.write_text(
                "#!/bin/sh\nfor arg; do case $arg in --benchmark_out=*) "
                f"cp {canned / program}.json \"${{arg#*=}}\";; esac; done\n", encoding="utf-8")
            stand_in.chmod(0o755)
        out = subprocess.run(["make", "-s", "-o", "build", f"BUILD={self.tmp.path / 'build'}",
                              "microbench", f"RUN={run}"], cwd=REPO, capture_output=True,
                             text=True, timeout=120, env=dict(os.environ, MPLBACKEND="Agg"))
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn(f"microbenchmarks: {run}/microbench", out.stdout)
        self.assertIn(f"report: {run}/report.html", out.stdout)
        self.assertEqual(len(list((run / "microbench").glob("*.json"))), 5)
        self.assertIn("Why: the mechanisms", (run / "report.html").read_text(encoding="utf-8"))


if __name__ == "__main__":
    unittest.main()
