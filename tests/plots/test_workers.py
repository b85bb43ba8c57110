"""The connections-per-worker chart of pooled architectures (Stevens' Figure 30.2)."""
import unittest

from support import TempDir, book_model, make_run

import report
import run_data
import workers

# Pooled servers' worker_connections by (arch, connections): preforked uneven, asio-pool even.
SHARES = {
    ("preforked", 4): "10 10 10 10", ("preforked", 64): "70 10 10 10",
    ("asio-pool", 4): "20 20", ("asio-pool", 64): "50 50",
}


def pooled_model(arch, workload, connections, rep):
    figures = book_model("epoll", workload, connections, rep)
    if (arch, connections) in SHARES:
        figures["worker_connections"] = SHARES[(arch, connections)]
    return figures


class WorkersChartTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def test_imbalance_is_the_busiest_worker_over_the_mean(self):
        self.assertEqual(workers.imbalance([70, 10, 10, 10]), 2.8)
        self.assertEqual(workers.imbalance([50, 50]), 1.0)
        self.assertNotEqual(workers.imbalance([0, 0]), workers.imbalance([0, 0]))  # NaN

    def test_counts_are_read_from_points_csv(self):
        run = run_data.load_run(make_run(self.tmp.path, archs=("preforked", "asio-pool", "epoll"),
                                         connections=(4, 64), reps=1, model=pooled_model))
        data = workers.pooled(run, "persistent")
        self.assertEqual(sorted(data), ["asio-pool", "preforked"])  # epoll has no workers
        self.assertEqual(data["preforked"][64], [70, 10, 10, 10])

    def test_report_draws_the_chart_and_names_the_least_even_pool(self):
        path = make_run(self.tmp.path, archs=("preforked", "asio-pool", "epoll"),
                        connections=(4, 64), reps=1, model=pooled_model)
        report.write_report(run_data.load_run(path))
        chart = path / "plots" / "persistent-workers.png"
        self.assertTrue(chart.exists())
        self.assertGreater(chart.stat().st_size, 15_000)
        html = (path / "report.html").read_text(encoding="utf-8")
        self.assertIn("Connections per worker", html)
        self.assertIn("least even: preforked (2.80)", html)
        self.assertIn("preforked at 64 connections: 4 workers, the busiest took 70 of 100", html)

    def test_no_chart_without_pooled_architectures(self):
        path = make_run(self.tmp.path, archs=("single", "epoll"), connections=(4, 64), reps=1)
        report.write_report(run_data.load_run(path))
        self.assertFalse((path / "plots" / "persistent-workers.png").exists())
        self.assertNotIn("Connections per worker", (path / "report.html").read_text())


if __name__ == "__main__":
    unittest.main()
