"""The machinery the Python designs share (servers/python/serving.py), without sockets: the
flags archbench-server appends, and the two limits."""
import subprocess
import sys
import time
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "servers" / "python"))

import serving  # noqa: E402

APPENDED = ["--listen-fd", "3", "--threads", "4", "--processes", "2", "--work-us", "5",
            "--sleep-us", "6", "--reply-bytes", "7", "--max-request", "8",
            "--idle-timeout-ms", "250", "--max-connections", "9"]


class CommandLine(unittest.TestCase):
    def test_every_appended_flag_reaches_the_options(self):
        fd, options = serving.parse_options(APPENDED, "py-test")
        self.assertEqual(fd, 3)
        self.assertEqual((options.threads, options.processes), (4, 2))
        self.assertEqual((options.workload.work_us, options.workload.sleep_us,
                          options.workload.reply_bytes, options.workload.max_request),
                         (5, 6, 7, 8))
        self.assertEqual(options.idle_timeout_s, 0.25)
        self.assertEqual(options.max_connections, 9)

    def test_max_request_zero_means_the_default(self):
        argv = APPENDED.copy()
        argv[argv.index("--max-request") + 1] = "0"
        self.assertEqual(serving.parse_options(argv, "py-test")[1].workload.max_request, 1024)

    def run_design(self, argv: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(ROOT / "servers" / "python" / "single.py"),
                               *argv], capture_output=True, text=True, timeout=30)

    def test_bad_flag_is_a_one_line_error_with_exit_2(self):
        done = self.run_design(APPENDED + ["--bogus", "1"])
        self.assertEqual(done.returncode, 2)
        self.assertEqual(len(done.stderr.splitlines()), 1, done.stderr)
        self.assertIn("--bogus", done.stderr)

    def test_negative_count_is_a_one_line_error_with_exit_2(self):
        argv = APPENDED.copy()
        argv[argv.index("--work-us") + 1] = "-1"
        done = self.run_design(argv)
        self.assertEqual(done.returncode, 2)
        self.assertEqual(len(done.stderr.splitlines()), 1, done.stderr)

    def test_missing_flag_is_a_one_line_error_with_exit_2(self):
        done = self.run_design(APPENDED[2:])
        self.assertEqual(done.returncode, 2)
        self.assertIn("--listen-fd", done.stderr)
        self.assertEqual(len(done.stderr.splitlines()), 1, done.stderr)

    def test_descriptor_that_is_no_socket_is_a_one_line_error_with_exit_2(self):
        argv = APPENDED.copy()
        argv[1] = "999"
        done = self.run_design(argv)
        self.assertEqual(done.returncode, 2)
        self.assertEqual(len(done.stderr.splitlines()), 1, done.stderr)


class Limits(unittest.TestCase):
    def test_idle_clock_restarts_only_when_a_question_was_answered(self):
        clock = serving.IdleClock(0.05)
        first = clock.deadline
        time.sleep(0.01)
        clock.questions_answered(0)  # bytes of an unfinished question: no new deadline
        self.assertEqual(clock.deadline, first)
        clock.questions_answered(1)
        self.assertGreater(clock.deadline, first)

    def test_idle_clock_expires_at_its_deadline(self):
        clock = serving.IdleClock(0.02)
        self.assertFalse(clock.expired(time.monotonic()))
        self.assertTrue(clock.expired(time.monotonic() + 0.03))

    def test_idle_clock_off_never_expires(self):
        clock = serving.IdleClock(0)
        self.assertFalse(clock.enabled())
        self.assertIsNone(clock.remaining_s())
        self.assertFalse(clock.expired(time.monotonic() + 1e9))

    def test_connection_limit_admits_up_to_the_limit_and_again_after_a_release(self):
        limit = serving.ConnectionLimit(2)
        self.assertTrue(limit.admit())
        self.assertTrue(limit.admit())
        self.assertFalse(limit.admit())
        limit.release()
        self.assertTrue(limit.admit())

    def test_connection_limit_zero_admits_everyone(self):
        limit = serving.ConnectionLimit(0)
        self.assertTrue(all(limit.admit() for _ in range(10000)))


if __name__ == "__main__":
    unittest.main()
