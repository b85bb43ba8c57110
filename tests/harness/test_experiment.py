"""Experiment files and filters, without running anything."""
import unittest
from pathlib import Path

from support import REPO, TempDir, write_experiment

import bench
import experiment

KNOWN = ["single", "threaded", "epoll"]


class ExperimentFileTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def test_default_experiment_has_the_client_behaviours_the_lessons_and_reps(self):
        default = experiment.load(REPO / "harness" / "experiments" / "default.toml")
        self.assertEqual([(w.name, w.session) for w in default.workloads[:3]],
                         [("persistent", 0), ("book", 3), ("churn", 1)])
        self.assertEqual(default.connections, [1, 64, 1024])
        # The three lessons, reduced: a blocking back end, an idle multitude, latency against
        # load (at least two offered rates, so that the latency can be seen to rise).
        self.assertTrue(any(w.sleep_us >= 1000 for w in default.workloads))
        self.assertTrue(any(w.idle > 1024 for w in default.workloads))  # past FD_SETSIZE
        self.assertGreaterEqual(sum(1 for w in default.workloads if w.rate_x_capacity), 2)
        self.assertGreaterEqual(default.repetitions, 3)
        quick = experiment.load(REPO / "harness" / "experiments" / "default.toml", quick=True)
        self.assertGreaterEqual(quick.repetitions, 3)
        self.assertEqual(default.architectures, [])  # every architecture the server lists

    def test_quick_runs_fewer_architectures_with_fewer_shorter_points(self):
        path = REPO / "harness" / "experiments" / "default.toml"
        full, quick = experiment.load(path), experiment.load(path, quick=True)
        self.assertLess(quick.duration_s, full.duration_s)

        def cells(run):
            return sum(len(w.connections or run.connections) for w in run.workloads)
        self.assertLess(cells(quick), cells(full))
        self.assertGreaterEqual(len(quick.architectures), 8)  # several of every family's kind
        self.assertEqual(experiment.apply_filters(quick, quick.architectures).architectures,
                         quick.architectures)

    def test_empty_architecture_list_means_every_listed_one(self):
        path = write_experiment(self.tmp.path, """
            [[workloads]]
            name = "w"
        """)
        self.assertEqual(experiment.apply_filters(experiment.load(path), KNOWN).architectures, KNOWN)

    def test_filters_narrow_architectures_workloads_and_connections(self):
        path = REPO / "harness" / "experiments" / "default.toml"
        filtered = experiment.apply_filters(experiment.load(path), KNOWN, arch="epoll,single",
                                            workload="persistent", connections="1,64")
        self.assertEqual(filtered.architectures, ["epoll", "single"])
        self.assertEqual([w.name for w in filtered.workloads], ["persistent"])
        self.assertEqual(filtered.connections, [1, 64])

    def test_unknown_architecture_in_filter_is_an_error(self):
        path = REPO / "harness" / "experiments" / "default.toml"
        with self.assertRaisesRegex(experiment.ExperimentError, "unknown architecture 'nope'"):
            experiment.apply_filters(experiment.load(path), KNOWN, arch="nope")

    def test_unknown_workload_in_filter_is_an_error(self):
        path = REPO / "harness" / "experiments" / "default.toml"
        with self.assertRaisesRegex(experiment.ExperimentError, "unknown workload"):
            experiment.apply_filters(experiment.load(path), KNOWN, workload="nope")

    def test_unknown_key_in_file_is_an_error(self):
        path = write_experiment(self.tmp.path, """
            durations = 3
            [[workloads]]
            name = "w"
        """)
        with self.assertRaisesRegex(experiment.ExperimentError, "unknown keys"):
            experiment.load(path)

    def test_malformed_toml_is_an_error_naming_the_file(self):
        path = write_experiment(self.tmp.path, "connections = [1,\n")
        with self.assertRaisesRegex(experiment.ExperimentError, "experiment.toml"):
            experiment.load(path)

    def test_cpu_lists_are_parsed(self):
        self.assertEqual(bench.parse_cpus("0-2,5"), [0, 1, 2, 5])
        self.assertEqual(bench.parse_cpus("1"), [1])


class ServerReportsTest(unittest.TestCase):
    def test_worker_connections_line_is_parsed(self):
        import procstat
        text = "archbench-server: prethreaded on 127.0.0.1:1\nworker_connections 3 0 12\n"
        self.assertEqual(procstat.parse_worker_connections(text), [3, 0, 12])
        self.assertIsNone(procstat.parse_worker_connections("no such line\n"))

    def test_rusage_lines_are_parsed_in_order(self):
        import procstat
        text = ("rusage user_s=1.5 sys_s=0.5 voluntary_switches=10 involuntary_switches=2 "
                "max_rss_kb=1 children_user_s=0 children_sys_s=0 children_voluntary_switches=3 "
                "children_involuntary_switches=1\nrusage user_s=2 sys_s=1 voluntary_switches=20 "
                "involuntary_switches=4 max_rss_kb=1 children_user_s=0 children_sys_s=0 "
                "children_voluntary_switches=5 children_involuntary_switches=1\n")
        reports = procstat.parse_rusage_reports(text)
        self.assertEqual([r["user_s"] for r in reports], [1.5, 2.0])
        self.assertEqual(procstat.rusage_switches(reports[1]) - procstat.rusage_switches(reports[0]),
                         14)

    def test_a_report_taken_long_after_it_was_asked_is_not_exact(self):
        import procstat
        complete = {"live_children_cpu_s": 0.0, "live_children_unreadable": 0.0,
                    "report_wall_s": 0.001}
        reports = [dict(complete, report_at_s=100.002), dict(complete, report_at_s=101.003)]
        self.assertEqual(procstat.cpu_accounting(reports, 1.0, [100.0, 101.0]), "exact")
        late = [reports[0], dict(complete, report_at_s=101.090)]  # 90 ms after it was asked
        self.assertIn("90 ms after it was asked",
                      procstat.cpu_accounting(late, 1.0, [100.0, 101.0]))
        self.assertEqual(procstat.cpu_accounting(late, 1.0), "exact")  # no instants: not checked


class BenchCommandLineTest(unittest.TestCase):
    def test_bad_flag_is_one_line_and_exit_2(self):
        import subprocess
        from support import PYTHON, HARNESS
        out = subprocess.run([PYTHON, str(HARNESS / "bench.py"), "--no-such-flag"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 2)
        self.assertEqual(len(out.stderr.strip().splitlines()), 1, out.stderr)


if __name__ == "__main__":
    unittest.main()
