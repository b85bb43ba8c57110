"""The words under the charts and the summary table name what the data says."""
import unittest

from support import TempDir, make_run

import report
import run_data
import summary


def only(value_by_arch):
    """A model from one throughput per point (None: failed); latency, CPU and memory follow
    from it: p99 = 1e6 / throughput µs, CPU = 1e4 / throughput µs, RSS = throughput KiB."""
    def model(arch, workload, connections, rep):
        throughput = value_by_arch[(arch, connections)]
        if throughput is None:
            return {"status": "failed", "reason": "server died", "throughput_rps": 0}
        return {"status": "ok", "throughput_rps": throughput, "p50_us": 1e5 / throughput,
                "p99_us": 1e6 / throughput, "p99_9_us": 2e6 / throughput, "requests_ok": 10,
                "errors": 0, "timeouts": 0, "server_cpu_us_per_req": 1e4 / throughput,
                "server_rss_kb": throughput}
    return model


class SentencesTest(unittest.TestCase):
    """The words under the charts name what the data says."""

    def setUp(self):
        self.tmp = TempDir()
        values = {("single", 1): 1000.0, ("threaded", 1): 800.0, ("epoll", 1): 500.0,
                  ("single", 1024): None, ("threaded", 1024): 3000.0, ("epoll", 1024): 6000.0}
        self.data = run_data.load_run(make_run(self.tmp.path, archs=("single", "threaded",
                                                                     "epoll"),
                                               connections=(1, 1024), reps=3, hgrm=False,
                                               model=only(values)))

    def tearDown(self):
        self.tmp.cleanup()

    def test_winner_at_lowest_and_highest_connections(self):
        self.assertEqual(summary.winner(self.data, "persistent", 1), ["single"])
        self.assertEqual(summary.winner(self.data, "persistent", 1024), ["epoll"])

    def test_throughput_sentences_name_the_winner_and_by_how_much(self):
        first, second = summary.throughput(self.data, "persistent")[:2]
        self.assertTrue(first.startswith("At 1 connection, single leads with 1,000 req/s, "
                                         "1.25× the next, threaded, in every repetition"), first)
        self.assertIn("the slowest is epoll (500 req/s)", first)
        self.assertTrue(second.startswith("At 1024 connections, epoll leads with 6,000 req/s, "
                                          "2.00× the next, threaded"), second)
        self.assertIn("single failed there", second)

    def test_latency_sentences_name_the_lowest_and_highest_p99(self):
        first, second = summary.latency(self.data, "persistent")
        self.assertIn("the lowest p99 is single's, 1 ms", first)
        self.assertIn("the highest is epoll's, 2 ms, 2.00× as long", first)
        self.assertIn("the lowest p99 is epoll's", second)

    def test_cpu_and_memory_sentences(self):
        cpu = " ".join(summary.cpu(self.data, "persistent"))
        self.assertIn("At 1024 connections the cheapest server per request is epoll", cpu)
        memory = " ".join(summary.memory(self.data, "persistent"))
        self.assertIn("epoll needs the most memory", memory)

    def test_failures_are_named_with_their_reason(self):
        words = " ".join(summary.errors(self.data, "persistent"))
        self.assertIn("single at 1024 (rep 1: server died)", words)

    def test_summary_table_bolds_the_winner_and_marks_the_failure(self):
        table = report.summary_table(self.data, "persistent")
        self.assertRegex(table, r'epoll</td><td class="name small">one event loop</td><td>500<br>.*'
                         r'<td class="best">6,000')
        self.assertIn('class="failed" title="server died">failed', table)


if __name__ == "__main__":
    unittest.main()
