"""plots/report.py where things went wrong: every point failed, bad arguments."""
import unittest

from support import TempDir, make_run, run_script

KINDS = ["throughput", "latency", "spectrum", "cpu", "memory", "errors"]


class FailuresOnlyTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def test_a_run_where_every_point_failed_still_gets_a_report(self):
        def failed(arch, workload, connections, rep):
            return {"status": "failed", "reason": f"server failed to start ({arch})"}
        path = make_run(self.tmp.path, archs=("single", "select"), connections=(1, 64), reps=1,
                        model=failed)
        (path / "plots").mkdir()
        (path / "plots" / "gone-throughput.png").write_bytes(b"a workload no longer in the run")
        out = run_script("report.py", path)
        self.assertEqual(out.returncode, 0, out.stderr)
        for kind in KINDS:
            self.assertTrue((path / "plots" / f"persistent-{kind}.png").is_file(), kind)
        html = (path / "report.html").read_text(encoding="utf-8")
        self.assertIn("Every point failed", html)
        self.assertIn("server failed to start (select)", html)
        self.assertFalse((path / "plots" / "gone-throughput.png").exists())

    def test_bad_arguments_give_one_line_and_exit_2(self):
        for args in ([self.tmp.path / "nothing"], [self.tmp.path],
                     [make_run(self.tmp.path, archs=("epoll",), connections=(1,), reps=1),
                      "--spectrum-at", "x"]):
            out = run_script("report.py", *args)
            self.assertEqual(out.returncode, 2, (args, out.stderr))
            self.assertEqual(len(out.stderr.strip().splitlines()), 1, out.stderr)


if __name__ == "__main__":
    unittest.main()
