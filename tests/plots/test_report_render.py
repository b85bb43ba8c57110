"""report.html in headless Chromium (Debian's chromium): it renders, and every image loads."""
import shutil
import unittest

from support import TempDir, make_run, run_script

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@unittest.skipUnless(CHROMIUM, "needs chromium (make deps installs it)")
class ReportRenderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.path = make_run(cls.tmp.path, archs=("single", "threaded", "select", "epoll"),
                            connections=(1, 64, 1024), reps=2)
        out = run_script("report.py", cls.path)
        assert out.returncode == 0, out.stderr

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_report_renders_with_every_image_loaded(self):
        screenshot = self.tmp.path / "report.png"
        out = run_script("check_report.py", self.path, "--screenshot", screenshot)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("renders with all 24 images", out.stdout)
        self.assertGreater(screenshot.stat().st_size, 50_000)

    def test_hiding_a_family_in_the_chooser_shows_fewer_rows_and_the_table_sorts(self):
        # single, threaded, select, epoll: three families, two of them one event loop's. Rows:
        # the summary table's four and the failed points' four (single and select at 1024,
        # two repetitions each); select and epoll leave four. Charts: 6 kinds x 3 families.
        out = run_script("check_report.py", self.path, "--hide-family", "one-event-loop")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("hiding family one-event-loop: table rows 8 -> 4, family charts 18 -> 12; "
                      "sorted by a heading: descending", out.stdout)

    def test_a_missing_image_is_caught(self):
        copy = self.tmp.path / "broken"
        shutil.copytree(self.path, copy)
        (copy / "plots" / "persistent-memory.png").unlink()
        out = run_script("check_report.py", copy)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("23 of 24 images loaded; broken: plots/persistent-memory.png", out.stderr)


if __name__ == "__main__":
    unittest.main()
