"""plots/report.py on synthetic run folders: every chart file, the report, the sentences."""
import re
import unittest

from support import TempDir, make_run, run_script

KINDS = ["throughput", "latency", "spectrum", "cpu", "memory", "errors"]


class ReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.path = make_run(cls.tmp.path, connections=(1, 16, 1024), reps=2,
                            workloads=("persistent", "churn"))
        cls.out = run_script("report.py", cls.path)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_report_exits_zero_and_prints_where_the_report_is(self):
        self.assertEqual(self.out.returncode, 0, self.out.stderr)
        self.assertIn(f"report: {self.path / 'report.html'}", self.out.stdout)
        self.assertIn("points failed", self.out.stdout)

    def test_every_chart_file_is_produced_and_non_trivial(self):
        for workload in ("persistent", "churn"):
            for kind in KINDS:
                png = self.path / "plots" / f"{workload}-{kind}.png"
                self.assertTrue(png.is_file(), png)
                self.assertGreater(png.stat().st_size, 15_000, png)
                self.assertEqual(png.read_bytes()[:8], b"\x89PNG\r\n\x1a\n")
            self.assertTrue((self.path / "plots" / f"{workload}-throughput.svg").is_file())

    def test_report_shows_every_chart_with_its_words(self):
        html = (self.path / "report.html").read_text(encoding="utf-8")
        sources = re.findall(r'<img src="([^"]+)"', html)
        # book_model's five architectures fall in three families: an overview and three family
        # charts per workload and kind.
        families = ["one-client-at-a-time", "a-thread-or-process-per-client", "one-event-loop"]
        self.assertEqual(sorted(sources), sorted(
            f"plots/{w}-{k}{suffix}.png" for w in ("persistent", "churn") for k in KINDS
            for suffix in [""] + [f"-{f}" for f in families]))
        for source in sources:
            self.assertTrue((self.path / source).is_file(), source)
        overviews = [s for s in sources if not any(s.endswith(f"-{f}.png") for f in families)]
        self.assertEqual(html.count("What to look for."), len(overviews))
        self.assertEqual(html.count("This run.</b> "), len(overviews))

    def test_report_has_machine_experiment_summary_and_failures(self):
        html = (self.path / "report.html").read_text(encoding="utf-8")
        for text in ("Synthetic CPU 9000", "6.1.0-test", "0123456789abcdef", "-O3 -DNDEBUG",
                     "a synthetic run for tests", "Summary", "FD_SETSIZE",
                     'class="failed"', "Failed points"):
            self.assertIn(text, html)
        self.assertNotIn("http://", html.replace("http://www.w3.org", ""))
        self.assertNotIn("https://", html)  # works offline: nothing fetched


if __name__ == "__main__":
    unittest.main()
