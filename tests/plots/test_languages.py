"""The report's "C++ and Python, the same designs" section: each Python design beside its C++
twin, in the run's own figures, with the ranking rule deciding "more", "less" or "tied"."""
import unittest

from support import TempDir, make_run

import languages
import run_data


def model(rates: dict, cpus: dict):
    def figures(arch, workload, connections, rep):
        return {"status": "ok", "requests_ok": 1000, "errors": 0, "timeouts": 0,
                "throughput_rps": rates[arch][rep - 1], "p99_us": 500.0,
                "server_cpu_us_per_req": cpus[arch][rep - 1], "server_rss_kb": 5000}
    return figures


class LanguagesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def run_of(self, rates, cpus):
        return run_data.load_run(make_run(
            self.tmp.path, archs=("threaded", "py-threading-mixin"), connections=(64,), reps=3,
            hgrm=False, model=model(rates, cpus), families={"py-threading-mixin": "Python"}))

    def test_python_design_is_set_beside_its_cpp_twin_with_the_interpreters_cost(self):
        run = self.run_of({"threaded": [50000, 52000, 51000], "py-threading-mixin": [9000, 9500, 9200]},
                          {"threaded": [10, 11, 10.5], "py-threading-mixin": [100, 105, 98]})
        said = " ".join(languages.sentences(run))
        self.assertIn("py-threading-mixin answered 9,200 req/s to threaded's 51,000", said)
        self.assertIn("threaded answers more", said)
        self.assertIn("100.0 us against 10.5 us", said)
        self.assertIn("C++ and Python", languages.section_html(run))

    def test_repetitions_that_overlap_are_called_tied_not_ranked(self):
        run = self.run_of({"threaded": [10000, 12000, 9000], "py-threading-mixin": [11000, 9500, 12500]},
                          {"threaded": [10, 11, 10.5], "py-threading-mixin": [10, 12, 11]})
        said = " ".join(languages.sentences(run))
        self.assertIn("tied within noise", said)
        self.assertNotIn("answers more", said)

    def test_no_pair_in_the_run_means_no_section(self):
        run = run_data.load_run(make_run(self.tmp.path, archs=("threaded", "epoll"),
                                         connections=(64,), reps=3, hgrm=False))
        self.assertEqual(languages.sentences(run), [])
        self.assertEqual(languages.section_html(run), "")


if __name__ == "__main__":
    unittest.main()
