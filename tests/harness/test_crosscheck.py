"""nginx and wrk in the harness (harness/nginx.py, harness/wrk.py, harness/crosscheck.py): the
real /usr/sbin/nginx started, serving, measured and stopped with nothing left behind; wrk's
figures in a row; archbench-load against nginx; the rules that keep an experiment runnable."""
import os
import socket
import subprocess
import unittest
from pathlib import Path

from support import LOAD, TempDir, read_meta, read_points, run_bench, write_experiment

import crosscheck
import experiment as experiments
import nginx
import point
import wrk

TINY = """
    name = "tiny-http"
    architectures = ["nginx"]
    connections = [4]
    duration_s = 1
    warmup_s = 0
    repetitions = 1
    protocol = "http"
    [placement]
    server_cpus = "0"
    load_cpus = "{load_cpu}"
    [[workloads]]
    name = "{tool}"
    load_generator = "{tool}"
    count_syscalls = false
"""


def tiny(tool: str) -> str:
    return TINY.format(tool=tool, load_cpu=1 if len(os.sched_getaffinity(0)) > 1 else 0)


def nginx_cannot_run() -> str:
    """Why nginx cannot be run here, or ""."""
    if not nginx.NGINX_BINARY.is_file():
        return f"{nginx.NGINX_BINARY} is not installed (Debian: nginx-light)"
    out = subprocess.run([str(nginx.NGINX_BINARY), "-v"], capture_output=True, text=True)
    return "" if out.returncode == 0 else f"nginx -v failed: {out.stderr.strip()}"


def processes_mentioning(text: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if text in Path(f"/proc/{name}/cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(name))
            except OSError:
                pass
    return found


def get(port: int, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while data := client.recv(4096):
            answer += data
    return answer


class Spec:
    def __init__(self, label: str, reply_bytes: int = 0):
        self.label = label
        self.workload = experiments.Workload(name="w", reply_bytes=reply_bytes)


class NeedsNginx(unittest.TestCase):
    """Skipped, with the reason, only where nginx cannot run; a temporary folder."""

    def setUp(self):
        why = nginx_cannot_run()
        if why:
            self.skipTest(why)
        self.tmp = TempDir()
        self.results = self.tmp.path / "results"
        self.placement = point.Placement(server_cpus=[0], load_cpus=[0], load_threads=1)

    def tearDown(self):
        self.tmp.cleanup()


class NginxServerTest(NeedsNginx):
    def test_nginx_is_started_serves_the_zen_answers_is_measured_and_stopped(self):
        server = nginx.NginxServer(Spec("n1", reply_bytes=12), self.placement,
                                   self.tmp.path / "n1.server.stderr")
        try:
            self.assertEqual(os.sched_getaffinity(server.process.pid), {0})
            beautiful = get(server.port, "/beautiful")
            self.assertTrue(beautiful.startswith(b"HTTP/1.1 200 OK\r\n"), beautiful)
            self.assertIn(b"Content-Type: text/plain\r\n", beautiful)
            self.assertTrue(beautiful.endswith(b"\r\n\r\nUgly-------."), beautiful)
            unknown = get(server.port, "/nope")
            self.assertTrue(unknown.startswith(b"HTTP/1.1 404 "), unknown)
            self.assertTrue(unknown.endswith(b"\r\n\r\nError: unknown aphorism."), unknown)
            server.report_usage()
            server.report_usage()
            reports = server.rusage_reports(2)
            self.assertEqual(len(reports), 2)
            self.assertGreater(reports[-1]["user_s"] + reports[-1]["sys_s"], 0)
            self.assertEqual(point.procstat.cpu_accounting(reports, 1.0, server.asked_at), "exact")
        finally:
            note = server.stop()
        self.assertEqual(note, "")
        self.assertIsNotNone(server.exit_code())
        self.assertEqual(processes_mentioning(str(server.folder)), [])
        config = (server.folder / "nginx.conf").read_text()
        for directive in ("daemon off;", "worker_processes 1;", "access_log off;",
                          "default_type text/plain;", f"listen 127.0.0.1:{server.port}"):
            self.assertIn(directive, config)

    def test_a_missing_nginx_is_a_failed_point_with_the_reason(self):
        kept = nginx.NGINX_BINARY
        nginx.NGINX_BINARY = self.tmp.path / "no-nginx"
        try:
            with self.assertRaisesRegex(point.PointFailed, "nginx is not installed"):
                nginx.NginxServer(Spec("n2"), self.placement, self.tmp.path / "n2.stderr")
        finally:
            nginx.NGINX_BINARY = kept


class HarnessPointsTest(NeedsNginx):
    def run_tiny(self, tool: str) -> tuple[dict, dict]:
        out = run_bench(write_experiment(self.tmp.path, tiny(tool)), self.results,
                        "--no-sentinel")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        run = self.results / "latest"
        self.assertEqual(processes_mentioning(str(run.resolve())), [])  # nginx stopped
        rows = read_points(run)
        self.assertEqual(len(rows), 1)
        return rows[0], read_meta(run)

    def assert_measured_as_a_server(self, row: dict) -> None:
        self.assertEqual(row["status"], "ok", row["reason"])
        self.assertEqual(row["arch"], "nginx")
        self.assertEqual(row["protocol"], "http")
        self.assertGreater(float(row["throughput_rps"]), 0)
        self.assertEqual(row["errors"], "0")
        self.assertGreater(float(row["server_cpu_us_per_req"]), 0)
        self.assertGreater(float(row["server_rss_kb"]), 0)
        self.assertEqual(row["server_processes"], "1")

    def test_a_wrk_point_against_nginx_gives_a_row_with_wrks_figures(self):
        if not Path(wrk.WRK_BINARY).is_file():
            self.skipTest(f"{wrk.WRK_BINARY} is not installed")
        row, meta = self.run_tiny("wrk")
        self.assert_measured_as_a_server(row)
        self.assertEqual(row["load_generator"], "wrk")
        for column in ("p50_us", "p90_us", "p99_us", "max_us", "loadgen_cpu_util"):
            self.assertGreater(float(row[column]), 0, column)
        self.assertLessEqual(float(row["p50_us"]), float(row["p99_us"]))
        self.assertEqual(meta["experiment"]["protocol"], "http")
        self.assertEqual(meta["experiment"]["workloads"][0]["load_generator"], "wrk")

    def test_archbench_load_against_nginx_checks_every_answer_and_finds_none_wrong(self):
        usage = subprocess.run([str(LOAD), "--help"], capture_output=True, text=True)
        if "--protocol" not in usage.stdout + usage.stderr:
            self.skipTest("this archbench-load has no --protocol http (the http-core change)")
        row, _ = self.run_tiny("archbench-load")
        self.assert_measured_as_a_server(row)
        self.assertEqual(row["errors_wrong_answer"], "0")
        self.assertEqual(row["load_generator"], "archbench-load")


WRK_OUTPUT = """Running 1s test @ http://127.0.0.1:8080/beautiful
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    52.01us   20.54us   1.11ms   93.11%
    Req/Sec    130.51k     5.05k  138.95k    72.73%
  Latency Distribution
     50%   48.00us
     75%   52.00us
     90%   60.00us
     99%    1.30ms
  142891 requests in 1.10s, 12.13MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 91
Requests/sec: 129891.37
Transfer/sec:     11.02MB
"""


class WrkOutputTest(unittest.TestCase):
    def test_wrks_output_becomes_archbench_loads_keys(self):
        result = wrk.parse(WRK_OUTPUT)
        self.assertEqual(result["requests_ok"], 142891 - 91)
        self.assertAlmostEqual(result["throughput_rps"], 129891.37 * (142891 - 91) / 142891)
        self.assertEqual(result["latency_us"]["p50"], 48.0)
        self.assertEqual(result["latency_us"]["p90"], 60.0)
        self.assertEqual(result["latency_us"]["p99"], 1300.0)
        self.assertEqual(result["latency_us"]["max"], 1110.0)
        self.assertEqual(result["errors"], {"connect": 1, "reset": 5, "eof": 0,
                                            "wrong_answer": 91, "timeout": 4})

    def test_output_without_a_result_is_an_error(self):
        with self.assertRaises(ValueError):
            wrk.parse("unable to connect to 127.0.0.1:1 Connection refused\n")

    def test_a_missing_wrk_is_a_failed_point_with_the_reason(self):
        kept = wrk.WRK_BINARY
        wrk.WRK_BINARY = "/nonexistent/wrk"
        try:
            with self.assertRaisesRegex(point.PointFailed, "wrk is not installed"):
                wrk.command(Spec("w"), None, None, 1, Path("/tmp/x.json"), "/beautiful")
        finally:
            wrk.WRK_BINARY = kept


class RulesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def problems(self, text: str) -> list[str]:
        loaded = experiments.load(write_experiment(self.tmp.path, text))
        loaded.architectures = loaded.architectures or ["epoll"]
        return crosscheck.problems(loaded)

    def test_nginx_needs_http(self):
        said = self.problems('architectures = ["nginx"]\n[[workloads]]\nname = "zen"\n')
        self.assertEqual(len(said), 1)
        self.assertIn("nginx answers HTTP only", said[0])

    def test_wrk_cannot_do_sessions_or_open_loop(self):
        said = self.problems('protocol = "http"\n[[workloads]]\nname = "w"\n'
                             'load_generator = "wrk"\nsession = 3\nrate = 1000\n')
        self.assertEqual(len(said), 1)
        self.assertIn("cannot do session, rate", said[0])

    def test_a_workload_overrides_the_experiments_protocol(self):
        loaded = experiments.load(write_experiment(
            self.tmp.path, 'protocol = "http"\npath = "/simple"\n[[workloads]]\nname = "a"\n'
            '[[workloads]]\nname = "b"\nprotocol = "zen"\n'))
        self.assertEqual([crosscheck.setting(loaded, w, "protocol") for w in loaded.workloads],
                         ["http", "zen"])
        self.assertEqual(crosscheck.setting(loaded, loaded.workloads[0], "path"), "/simple")
        self.assertEqual(crosscheck.problems(loaded), [])

    def test_an_unknown_protocol_stops_the_run_with_a_one_line_error(self):
        out = run_bench(write_experiment(self.tmp.path, 'architectures = ["epoll"]\n'
                                         'protocol = "gopher"\n[[workloads]]\nname = "a"\n'),
                        self.tmp.path / "results")
        self.assertEqual(out.returncode, 2)
        self.assertIn("protocol must be one of zen, http", out.stderr)


if __name__ == "__main__":
    unittest.main()
