"""The report's section "archbench-load against wrk" (plots/crosscheck_section.py): the ratio of
each pair with its spread by round, both tools' percentiles, words from the run's own figures;
and, end to end, a tiny http-crosscheck run that gives that section."""
import json
import os
import subprocess
import tomllib
import unittest
from pathlib import Path

from support import PYTHON, REPO, TempDir, make_run

import crosscheck_section
import run_data

BUILD = Path(os.environ.get("ARCHBENCH_BUILD", REPO / "build"))
SERVER = BUILD / "bin" / "archbench-server"
LOAD = BUILD / "bin" / "archbench-load"


def model(rates: dict):
    """rates: {(arch, workload): [req/s per repetition]}."""
    def figures(arch, workload, connections, rep):
        rate = rates[(arch, workload)][rep - 1]
        return {"status": "ok", "requests_ok": int(rate), "errors": 0, "timeouts": 0,
                "throughput_rps": rate, "p50_us": 300.0 if workload == "wrk" else 320.0,
                "p90_us": 400.0, "p99_us": 900.0, "max_us": 5000.0, "round": rep,
                "loadgen_cpu_util": 0.5, "server_cores_busy": 0.99,
                "server_cpu_us_per_req": 10.0 if workload == "wrk" else 12.0}
    return figures


class SectionTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def run_of(self, rates: dict, tools: dict | None = None) -> run_data.Run:
        path = make_run(self.tmp.path, archs=("nginx", "epoll"),
                        workloads=("archbench-load", "wrk"), connections=(64,), reps=3,
                        hgrm=False, model=model(rates))
        meta = json.loads((path / "meta.json").read_text())
        meta["experiment"]["protocol"] = "http"
        for spec in meta["experiment"]["workloads"]:
            spec["load_generator"] = (tools or {}).get(spec["name"], spec["name"])
        (path / "meta.json").write_text(json.dumps(meta))
        return run_data.load_run(path)

    def test_each_server_gets_its_ratio_with_the_spread_of_the_rounds(self):
        run = self.run_of({("nginx", "archbench-load"): [98000, 100000, 99000],
                           ("nginx", "wrk"): [100000, 100000, 100000],
                           ("epoll", "archbench-load"): [80000, 81000, 82000],
                           ("epoll", "wrk"): [100000, 100000, 100000]})
        pairs = {p.server: p for p in crosscheck_section.pairs(run)}
        self.assertEqual(sorted(pairs), ["epoll", "nginx"])
        nginx = crosscheck_section.figures(run, pairs["nginx"])
        self.assertAlmostEqual(nginx.ratio, 0.99)
        self.assertEqual(sorted(nginx.ratios), [0.98, 0.99, 1.0])
        said = " ".join(crosscheck_section.sentences(run, pairs["nginx"], nginx))
        self.assertIn("a ratio of 0.990; over 3 rounds the ratio went from 0.980 to 1.000: "
                      "within the goal of 5%", said)
        epoll = crosscheck_section.figures(run, pairs["epoll"])
        said = " ".join(crosscheck_section.sentences(run, pairs["epoll"], epoll))
        self.assertIn("outside the goal of 5%", said)
        # The measured explanation: the server's core was busy under both tools, and it spent
        # more CPU per request under archbench-load.
        self.assertIn("12.0 us of server CPU per request against 10.0 us under wrk", said)

    def test_a_disturbed_pair_is_said_to_be_disturbed_not_explained_by_the_tools(self):
        rates = {(a, w): [80000 if w == "wrk" else 100000] * 3 for a in ("nginx", "epoll")
                 for w in ("archbench-load", "wrk")}
        run = self.run_of(rates)
        pair = crosscheck_section.pairs(run)[0]
        for p in run.points:
            p.disturbed = True
            p.values["foreign_cpu_share"] = 0.4
        said = " ".join(crosscheck_section.sentences(run, pair, crosscheck_section.figures(
            run, pair)))
        self.assertIn("6 of 6 points of this pair were disturbed (other processes took up "
                      "to 40 % of these cores' time", said)
        self.assertNotIn("was the limit", said)
        # Each tool's CPU per request (one load thread): 0.5 of a core over its requests/s.
        self.assertIn("archbench-load used 50 % of its core(s) (5.0 us per request), wrk 50 % "
                      "(6.2 us per request)", said)
        self.assertIn("wrk spent 1.25x archbench-load's CPU per request", said)

    def test_section_shows_both_tools_percentiles_side_by_side(self):
        run = self.run_of({(a, w): [1000, 1000, 1000] for a in ("nginx", "epoll")
                           for w in ("archbench-load", "wrk")})
        html = crosscheck_section.section_html(run)
        self.assertIn("archbench-load against wrk", html)
        self.assertIn("<td>320 / 300</td>", html)  # p50: archbench-load / wrk
        self.assertIn("coordinated omission", html)
        self.assertTrue((run.path / "plots" / "crosscheck.png").is_file())

    def test_nginx_is_a_reference_line_on_every_chart_of_its_workload_not_a_family(self):
        import charts
        run = self.run_of({(a, w): [1000, 1000, 1000] for a in ("nginx", "epoll")
                           for w in ("archbench-load", "wrk")})
        self.assertNotIn("nginx", [a for members in run.families.values() for a in members])
        for layers in (charts.overview_layers([charts.Layer(run)], "wrk", "throughput"),
                       charts.family_layers([charts.Layer(run)], "one event loop")):
            figure = charts.throughput_figure(layers, "wrk")
            ax = figure.axes[0]
            reference = [line for line in ax.get_lines() if line.get_gid() == "reference-nginx"]
            self.assertEqual(len(reference), 1)
            self.assertEqual(list(reference[0].get_ydata()), [1000])
            self.assertIn("nginx, 1 worker", [t.get_text() for t in ax.get_legend().get_texts()])

    def test_a_run_without_wrk_has_no_section(self):
        run = self.run_of({(a, w): [1000, 1000, 1000] for a in ("nginx", "epoll")
                           for w in ("archbench-load", "wrk")}, tools={"wrk": "archbench-load"})
        self.assertEqual(crosscheck_section.pairs(run), [])
        self.assertEqual(crosscheck_section.section_html(run, draw=False), "")


def http_mode_missing() -> str:
    """Why the tiny run cannot run here, or ""."""
    for binary in (SERVER, LOAD):
        if not binary.is_file():
            return f"{binary} is not built"
        usage = subprocess.run([str(binary), "--help"], capture_output=True, text=True)
        if "--protocol" not in usage.stdout + usage.stderr:
            return f"{binary.name} has no --protocol (HTTP mode) in this build"
    for tool in ("/usr/sbin/nginx", "/usr/bin/wrk"):
        if not Path(tool).is_file():
            return f"{tool} is not installed"
    return ""


class TinyCrosscheckRunTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def test_a_short_http_crosscheck_run_gives_the_report_section(self):
        why = http_mode_missing()
        if why:
            self.skipTest(why)
        source = (REPO / "harness" / "experiments" / "http-crosscheck.toml").read_text()
        self.assertEqual(tomllib.loads(source)["architectures"], ["nginx", "epoll"])
        experiment = self.tmp.path / "http-crosscheck.toml"
        experiment.write_text(source.replace("duration_s = 3", "duration_s = 1")
                              .replace("warmup_s = 1", "warmup_s = 0")
                              .replace("repetitions = 5", "repetitions = 1"))
        results = self.tmp.path / "results"
        out = subprocess.run([PYTHON, str(REPO / "harness" / "bench.py"), "--experiment",
                              str(experiment), "--results", str(results), "--build", str(BUILD),
                              "--no-sentinel"], capture_output=True, text=True, timeout=240)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        report = subprocess.run([PYTHON, str(REPO / "plots" / "report.py"),
                                 str(results / "latest")], capture_output=True, text=True,
                                timeout=240)
        self.assertEqual(report.returncode, 0, report.stdout + report.stderr)
        run = run_data.load_run(results / "latest")
        self.assertEqual({(p.arch, p.workload) for p in run.points if p.ok},
                         {(a, w) for a in ("nginx", "epoll") for w in ("archbench-load", "wrk")},
                         [p.reason for p in run.points])
        html = (results / "latest" / "report.html").read_text()
        self.assertIn("id=\"crosscheck\"", html)
        self.assertIn("<a href=\"#crosscheck\">", html)
        for pair in crosscheck_section.pairs(run):
            figures = crosscheck_section.figures(run, pair)
            self.assertIn(f"<td>{figures.ratio:.3f}</td>", html)


if __name__ == "__main__":
    unittest.main()
