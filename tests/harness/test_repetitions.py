"""Repetitions in interleaved, seeded rounds, and the noise sentinel: a point measured while
another process holds the server's core is marked disturbed, measured again, and reported."""
import os
import subprocess
import unittest

from support import PYTHON, TempDir, read_meta, read_points, run_bench, write_experiment

import bench
import experiment

ARCHS = ["single", "threaded", "epoll", "poll"]


def small_experiment(tmp, repetitions=3):
    path = write_experiment(tmp, f"""
        name = "order"
        architectures = {ARCHS!r}
        connections = [1, 8]
        repetitions = {repetitions}
        [[workloads]]
        name = "persistent"
        [[workloads]]
        name = "churn"
        session = 1
    """.replace("'", '"'))
    return experiment.load(path)


class RunOrderTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.experiment = small_experiment(self.tmp.path)

    def tearDown(self):
        self.tmp.cleanup()

    @staticmethod
    def keys(specs):
        return [(s.arch, s.workload.name, s.connections, s.rep) for s in specs]

    def test_each_round_measures_every_point_once_before_the_next_begins(self):
        specs = bench.run_order(self.experiment, seed=7)
        cells = len(ARCHS) * 2 * 2
        self.assertEqual(len(specs), 3 * cells)
        for round_number in (1, 2, 3):
            block = specs[(round_number - 1) * cells:round_number * cells]
            self.assertEqual({s.rep for s in block}, {round_number})
            self.assertEqual(len({(a, w, c) for a, w, c, _ in self.keys(block)}), cells)

    def test_the_rounds_are_shuffled_differently(self):
        specs = self.keys(bench.run_order(self.experiment, seed=7))
        cells = len(specs) // 3
        rounds = [[key[:3] for key in specs[i * cells:(i + 1) * cells]] for i in range(3)]
        self.assertNotEqual(rounds[0], rounds[1])
        natural = [(a, w.name, c) for w in self.experiment.workloads
                   for c in self.experiment.connections for a in ARCHS]
        self.assertNotEqual(rounds[0], natural)

    def test_the_same_seed_gives_the_same_order_and_another_seed_another(self):
        first = self.keys(bench.run_order(self.experiment, seed=7))
        self.assertEqual(first, self.keys(bench.run_order(self.experiment, seed=7)))
        self.assertNotEqual(first, self.keys(bench.run_order(self.experiment, seed=8)))


@unittest.skipUnless(len(os.sched_getaffinity(0)) >= 2, "needs two CPUs to pin a hog beside")
class DisturbedPointTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.results = self.tmp.path / "results"
        cpus = sorted(os.sched_getaffinity(0))
        self.server_cpu, self.load_cpu = cpus[0], cpus[1]
        # A busy process pinned to the server's core for the whole run: foreign load.
        self.hog = subprocess.Popen(
            [PYTHON, "-c", "while True: pass"],
            preexec_fn=lambda: os.sched_setaffinity(0, {self.server_cpu}))

    def tearDown(self):
        self.hog.kill()
        self.hog.wait()
        self.tmp.cleanup()

    def test_foreign_load_on_the_server_core_is_marked_retried_and_reported(self):
        path = write_experiment(self.tmp.path, f"""
            name = "hogged"
            architectures = ["epoll"]
            connections = [4]
            duration_s = 0.3
            warmup_s = 0.1
            repetitions = 1
            seed = 5
            [placement]
            server_cpus = "{self.server_cpu}"
            load_cpus = "{self.load_cpu}"
            [[workloads]]
            name = "persistent"
        """)
        out = run_bench(path, self.results)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        run = next(p for p in self.results.iterdir() if p.is_dir() and not p.is_symlink())
        row = read_points(run)[0]
        self.assertEqual(row["disturbed"], "true", row)
        self.assertEqual(row["retries"], "2", row)
        self.assertTrue(float(row["foreign_cpu_share"]) > 0.10
                        or float(row["machine_slowdown"]) > 1.5, row)
        self.assertIn("1 point(s) still disturbed", out.stdout)
        meta = read_meta(run)
        self.assertEqual(meta["seed"], 5)
        self.assertEqual(meta["order"], [["epoll", "persistent", 4, 1]])
        self.assertIn("reference_ms", meta["sentinel"])


if __name__ == "__main__":
    unittest.main()
