"""Reading a run folder into the series the charts draw, without drawing anything."""
import json
import math
import os
import subprocess
import sys
import unittest
from pathlib import Path

from support import PLOTS, REPO, TempDir, make_run, write_hgrm

import run_data


def fixed(values):
    """A model whose figures are given per (arch, connections, rep); None: a failed point."""
    def model(arch, workload, connections, rep):
        figures = values.get((arch, connections, rep))
        if figures is None:
            return {"status": "failed", "reason": "server died", "throughput_rps": 0,
                    "p99_us": 0, "server_rss_kb": 0, "errors": 0}
        return {"status": "ok", "requests_ok": 100, "errors": 0, "timeouts": 0, **figures}
    return model


class SeriesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def test_failed_point_becomes_a_gap_not_a_zero_even_when_the_csv_says_zero(self):
        run = run_data.load_run(make_run(self.tmp.path, archs=("single",), connections=(1, 1024),
                                         reps=1, hgrm=False, model=fixed(
                                             {("single", 1, 1): {"throughput_rps": 500.0}})))
        line = run_data.series(run, "persistent", "single", "throughput_rps")
        self.assertEqual(line.connections, [1, 1024])
        self.assertEqual(line.median[0], 500.0)
        self.assertTrue(math.isnan(line.median[1]), line.median)
        self.assertTrue(math.isnan(line.low[1]) and math.isnan(line.high[1]))
        self.assertEqual(line.failed, [1024])
        for metric in ("p99_us", "server_rss_kb", "errors"):
            self.assertTrue(math.isnan(run_data.series(run, "persistent", "single",
                                                       metric).median[1]), metric)

    def test_median_and_min_max_spread_over_repetitions(self):
        run = run_data.load_run(make_run(self.tmp.path, archs=("epoll",), connections=(4,),
                                         reps=3, hgrm=False, model=fixed({
                                             ("epoll", 4, 1): {"throughput_rps": 90.0},
                                             ("epoll", 4, 2): {"throughput_rps": 110.0},
                                             ("epoll", 4, 3): {"throughput_rps": 100.0}})))
        line = run_data.series(run, "persistent", "epoll", "throughput_rps")
        self.assertEqual((line.median, line.low, line.high), ([100.0], [90.0], [110.0]))
        self.assertEqual(line.reps_at(4), 3)
        self.assertAlmostEqual(run_data.relative_spread(90.0, 100.0, 110.0), 0.2)

    def test_a_failed_repetition_leaves_the_median_of_the_others(self):
        run = run_data.load_run(make_run(self.tmp.path, archs=("epoll",), connections=(4,),
                                         reps=3, hgrm=False, model=fixed({
                                             ("epoll", 4, 1): {"throughput_rps": 80.0},
                                             ("epoll", 4, 3): {"throughput_rps": 120.0}})))
        line = run_data.series(run, "persistent", "epoll", "throughput_rps")
        self.assertEqual(line.median, [100.0])
        self.assertEqual(line.low, [80.0])
        self.assertEqual(line.partial, [4])
        self.assertEqual(line.failed, [])

    def test_errors_counted_by_a_failed_point_are_kept(self):
        run = run_data.load_run(make_run(self.tmp.path, archs=("single",), connections=(1024,),
                                         reps=1, hgrm=False))  # book_model: 3000 timeouts
        self.assertEqual(run_data.series(run, "persistent", "single", "timeouts").median,
                         [3000.0])
        self.assertTrue(math.isnan(run_data.series(run, "persistent", "single",
                                                   "throughput_rps").median[0]))

    def test_missing_points_csv_is_not_a_run(self):
        with self.assertRaisesRegex(run_data.RunError, "no points.csv"):
            run_data.load_run(self.tmp.path)
        with self.assertRaisesRegex(run_data.RunError, "no such run folder"):
            run_data.load_run(self.tmp.path / "nothing")

    def test_missing_meta_json_is_tolerated(self):
        path = make_run(self.tmp.path, archs=("epoll",), connections=(1,), reps=1, hgrm=False)
        (path / "meta.json").unlink()
        run = run_data.load_run(path)
        self.assertEqual(run.meta, {})
        self.assertEqual(run.architectures, ["epoll"])


class HgrmTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def test_percentile_rows_are_read_and_header_and_footer_skipped(self):
        path = self.tmp.path / "x.hgrm"
        write_hgrm(path, p50_us=100.0, p99_us=1000.0)
        rows = run_data.read_hgrm(path)
        self.assertGreater(len(rows), 20)
        self.assertEqual(rows[0][0], 0.0)
        self.assertEqual(rows[-1][0], 1.0)  # the "inf" row
        self.assertEqual([r[1] for r in rows], sorted(r[1] for r in rows))
        value_at_half = next(v for p, v in rows if p >= 0.5)
        self.assertAlmostEqual(value_at_half, 100.0, delta=1.0)

    def test_java_style_last_row_without_its_fourth_column(self):
        path = self.tmp.path / "java.hgrm"
        path.write_text("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"
                        "      12.000 0.000000000000          1           1.00\n"
                        "      50.000 0.500000000000         50           2.00\n"
                        "     900.000 1.000000000000        100\n"
                        "#[Mean    =       40.000, StdDeviation   =       10.000]\n")
        self.assertEqual(run_data.read_hgrm(path), [(0.0, 12.0), (0.5, 50.0), (1.0, 900.0)])

    def test_spectrum_in_milliseconds_is_scaled_to_microseconds(self):
        rows = [(0.0, 0.05), (0.5, 0.1), (0.99, 1.0)]
        self.assertEqual(run_data.hgrm_unit_scale(rows, p50_us=100.0), 1000.0)
        self.assertEqual(run_data.hgrm_unit_scale([(0.5, 100.0)], p50_us=104.0), 1.0)

    def test_spectrum_drops_the_infinite_row_and_uses_x_equal_one_over_one_minus_p(self):
        run = run_data.load_run(make_run(self.tmp.path, archs=("epoll",), connections=(1,),
                                         reps=1))
        rep, curve = run_data.spectrum(run, "persistent", "epoll", 1)
        self.assertEqual(rep, 1)
        self.assertTrue(all(math.isfinite(x) for x, _ in curve))
        self.assertEqual(curve[0][0], 1.0)
        self.assertIn(2.0, [x for x, _ in curve])


def registered_families() -> dict[str, str]:
    """{architecture: family} for every architecture the built archbench-server registers
    (--list-families), external ones included, in the registry's order."""
    server = Path(os.environ.get("ARCHBENCH_BUILD", REPO / "build")) / "bin" / "archbench-server"
    listed = subprocess.run([str(server), "--list-families"], capture_output=True, text=True,
                            timeout=30, check=True)
    return dict(line.split("\t", 1) for line in listed.stdout.splitlines() if line)


class ColoursTest(unittest.TestCase):
    """One colour and marker per architecture, the same in every chart, every run and every
    process, for every architecture the registry holds (not a list kept here). Colour follows
    the family, which a run's meta.json records as the registry gives it."""

    @classmethod
    def setUpClass(cls):
        cls.families = registered_families()
        cls.registered = list(cls.families)
        run_data.FAMILIES.learn(cls.families)

    def styles(self, names):
        return {name: (run_data.arch_colour(name), run_data.arch_marker(name)) for name in names}

    def test_the_registry_lists_the_architectures(self):
        self.assertIn("epoll", self.registered)
        self.assertEqual(len(self.registered), len(set(self.registered)), self.registered)

    def test_every_registered_architecture_is_drawn_unlike_any_other(self):
        styles = self.styles(self.registered)
        for name, (colour, _) in styles.items():
            self.assertRegex(colour, r"^#[0-9a-f]{6}$", name)
        by_style = {}
        for name, style in styles.items():
            by_style.setdefault(style, []).append(name)
        self.assertEqual([names for names in by_style.values() if len(names) > 1], [],
                         "architectures drawn with the same colour and marker")

    def test_every_registered_architecture_keeps_its_style_in_another_process(self):
        # Another interpreter, with another string-hash seed: a style must not depend on hash().
        names = self.registered + ["my-arch"]
        script = ("import json, sys, run_data; data = json.load(sys.stdin); "
                  "run_data.FAMILIES.learn(data['families']); "
                  "print(json.dumps({n: [run_data.arch_colour(n), run_data.arch_marker(n)] "
                  "for n in data['names']}))")
        environment = dict(os.environ, PYTHONHASHSEED="12345")
        other = subprocess.run([sys.executable, "-c", script],
                               input=json.dumps({"families": self.families, "names": names}),
                               capture_output=True, text=True, timeout=60, check=True,
                               cwd=str(PLOTS), env=environment)
        self.assertEqual({name: tuple(style) for name, style in json.loads(other.stdout).items()},
                         self.styles(names))

    def test_unknown_architecture_gets_the_same_colour_every_time(self):
        self.assertEqual(run_data.arch_colour("my-arch"), run_data.arch_colour("my-arch"))
        self.assertRegex(run_data.arch_colour("my-arch"), r"^#[0-9a-f]{6}$")


if __name__ == "__main__":
    unittest.main()
