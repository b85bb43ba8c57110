"""The report's Deployment section (plots/deployment_report.py) from a tiny synthetic run: its
table, chart and sentences follow the points, so other figures give other words."""
import json
import unittest

from support import TempDir, make_run

import deployment_report
import report
import run_data

DIRECT = {"instances": 2, "balancer": "direct", "hosts_policy": "spread"}
BEHIND = {"instances": 2, "balancer": "haproxy", "balance": "roundrobin"}
FAILOVER = {
    "failover-hardwired": {**DIRECT, "hosts_policy": "first", "failed_after_kill": 3000,
                           "recovery_s": 1.1, "revived_serving_s": 0.05},
    "failover-fallback": {**DIRECT, "hosts_policy": "fallback", "failed_after_kill": 12,
                          "recovery_s": 0.1, "revived_note": "the revived instance got no "
                          "connection within the window"},
    "failover-haproxy": {**BEHIND, "failed_after_kill": 4, "recovery_s": 0.0,
                         "revived_serving_s": 0.25},
}


def model(never_recovers: bool = False, fallback_stuck: bool = False):
    def figures(arch, workload, connections, rep):
        row = {"status": "ok", "requests_ok": 30000, "errors": 0, "timeouts": 0,
               "p50_us": 300, "p99_us": 900 + rep, "server_cpu_us_per_req": 10.0,
               "throughput_rps": 20000 + 100 * rep}
        if workload == "direct":
            row.update(DIRECT)
        elif workload == "haproxy":
            row.update(BEHIND, throughput_rps=12000 + 100 * rep, p99_us=1500 + rep,
                       lb_cpu_us_per_req=25.0, lb_rss_kb=14336)
        else:
            row.update(FAILOVER[workload], kill_s=1.0, restart_s=2.0, rps_before_kill=10000,
                       timeline_ms=100, throughput_rps=9000)
            if (never_recovers and workload == "failover-hardwired") or (
                    fallback_stuck and workload == "failover-fallback"):
                row.update(recovery_s=None, revived_serving_s=None,
                           recovery_note="throughput never came back")
        return row
    return figures


def write_timelines(run, archs, workloads) -> None:
    """A 3 s timeline of 100 ms slices per failover point: 1,000 answered per slice, none
    between the kill (1 s) and 1.1 s, and errors there."""
    for arch in archs:
        for w in workloads:
            timeline = [{"t": round(i / 10, 1), "duration_s": 0.1,
                         "ok": 0 if 10 <= i < 11 else 1000, "errors": 5 if i == 10 else 0}
                        for i in range(30)]
            for rep in (1, 2, 3):
                (run / "raw" / f"{arch}-{w}-c16-r{rep}.json").write_text(
                    json.dumps({"config": {"timeline_ms": 100}, "timeline": timeline}))


class DeploymentSectionTest(unittest.TestCase):
    ARCHS = ("epoll", "threaded")
    WORKLOADS = ("direct", "haproxy", *FAILOVER)

    def setUp(self):
        self.tmp = TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def section(self, name: str, **variant) -> tuple[str, object]:
        path = make_run(self.tmp.path, name=name, archs=self.ARCHS, workloads=self.WORKLOADS,
                        connections=(16,), reps=3, model=model(**variant), hgrm=False)
        write_timelines(path, self.ARCHS, FAILOVER)
        run = run_data.load_run(path)
        return deployment_report.section_html(run), run

    def test_the_hop_is_told_with_the_runs_throughput_and_haproxys_cpu(self):
        text, _ = self.section("20250101T000000Z-a")
        self.assertIn("Direct or behind HAProxy", text)
        self.assertIn("epoll, 2 instances: direct (spread clients (round-robin DNS)) 20,200 "
                      "req/s", text)
        self.assertIn("behind HAProxy (roundrobin) it answered 12,200 req/s (60% of direct; "
                      "fewer than direct)", text)
        self.assertIn("HAProxy spent 25.0 us of CPU per request beside the instances&#x27; "
                      "10.0 us", text)
        self.assertIn("14.0 MiB", text)

    def test_failover_gives_a_chart_a_table_and_the_chapters_argument(self):
        text, run = self.section("20250101T000000Z-b")
        self.assertTrue((run.path / "plots" / "deployment-failover.png").stat().st_size > 0)
        self.assertIn('src="plots/deployment-failover.png"', text)
        self.assertIn("killed with SIGKILL 1.00 s into the window and started again 1.00 s later",
                      text)
        self.assertIn("hardwired clients (first): 3,000 requests failed from the kill on, and "
                      "throughput was back to 90 % of the 10,000 req/s before it after 1.10 s",
                      text)
        self.assertIn("fallback clients: 12 requests failed", text)
        self.assertIn("no client came back to the revived instance", text)
        self.assertIn("HAProxy (roundrobin): 4 requests failed from the kill on, and throughput "
                      "was back to 90 % of the 10,000 req/s before it after 0.00 s, the revived "
                      "instance serving 0.25 s after its restart", text)
        self.assertIn("the hardwired clients were back only 1.10 s or more after the kill", text)
        self.assertIn("recovered within 0.10 s (the slowest: fallback clients", text)
        self.assertIn("<td>no client came back to it</td>", text)

    def test_clients_that_never_recover_are_said_to_never_recover(self):
        text, _ = self.section("20250101T000000Z-c", never_recovers=True)
        self.assertIn("hardwired clients (first): 3,000 requests failed from the kill on, and "
                      "throughput was never back to 90 %", text)
        self.assertIn("the hardwired clients never came back within the window", text)
        self.assertIn("<td>never, within the window</td>", text)

    def test_a_fallback_that_never_recovers_is_named_beside_the_balancer(self):
        text, _ = self.section("20250101T000000Z-f", fallback_stuck=True)
        self.assertIn("clients that know another address, or a balancer that does, showed no "
                      "dip at the timeline&#x27;s resolution; but fallback clients with epoll, "
                      "fallback clients with threaded never came back to 90 %", text)

    def test_the_report_holds_the_section_and_a_run_without_deployment_has_none(self):
        _, run = self.section("20250101T000000Z-d")
        html = report.write_report(run).read_text(encoding="utf-8")
        self.assertIn('<h2 id="deployment">Deployment</h2>', html)
        plain = run_data.load_run(make_run(self.tmp.path, name="20250101T000000Z-e",
                                           archs=("epoll",), connections=(1,), hgrm=False))
        self.assertEqual(deployment_report.section_html(plain), "")
