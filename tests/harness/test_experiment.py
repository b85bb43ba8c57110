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

    def test_default_experiment_has_the_three_workloads_and_six_connection_counts(self):
        default = experiment.load(REPO / "harness" / "experiments" / "default.toml")
        self.assertEqual([(w.name, w.session) for w in default.workloads],
                         [("persistent", 0), ("book", 3), ("churn", 1)])
        self.assertEqual(default.connections, [1, 4, 16, 64, 256, 1024])
        self.assertEqual(default.architectures, [])  # every architecture the server lists

    def test_quick_keeps_every_architecture_with_fewer_shorter_points(self):
        path = REPO / "harness" / "experiments" / "default.toml"
        full, quick = experiment.load(path), experiment.load(path, quick=True)
        self.assertLess(quick.duration_s, full.duration_s)
        self.assertLess(len(quick.connections) * len(quick.workloads),
                        len(full.connections) * len(full.workloads))
        self.assertEqual(experiment.apply_filters(quick, KNOWN).architectures, KNOWN)

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
