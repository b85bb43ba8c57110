"""Deployment points end to end (harness/deployment.py, harness/haproxy.py): several real
instances on loopback addresses, the real haproxy in front of them, one instance killed with
SIGKILL in the middle of the window; and the failover figures computed from a timeline."""
import json
import signal
import subprocess
import unittest
from pathlib import Path

from support import (HarnessTestCase, assert_all_gone, bench_command, children_running,
                     names_of, read_meta, read_points, run_bench, write_experiment)
from test_run import only_run_folder

import deployment
import haproxy

TINY = """
    name = "tiny-deployment"
    architectures = ["epoll"]
    connections = [4]
    duration_s = {duration}
    warmup_s = 0.2
    repetitions = {repetitions}
    instances = 2
    [load]
    timeout_ms = 500
    [haproxy]
    {haproxy}
    [[workloads]]
    name = "{name}"
    {keys}
"""


def tiny(name: str, keys: str, duration: float = 1.0, repetitions: int = 1,
         haproxy_keys: str = "") -> str:
    return TINY.format(name=name, keys=keys, duration=duration, repetitions=repetitions,
                       haproxy=haproxy_keys)


def haproxy_missing() -> str:
    """Why haproxy cannot run here at all, or ""."""
    try:
        binary = haproxy.find_binary()
    except haproxy.HAProxyFailed as missing:
        return str(missing)
    out = subprocess.run([binary, "-v"], capture_output=True, text=True)
    return "" if out.returncode == 0 else f"{binary} -v failed: {out.stderr.strip()}"


def raw_json(run: Path, name: str):
    return json.loads((run / "raw" / name).read_text(encoding="utf-8"))


def running_with(text: str) -> list[int]:
    """The processes whose command line holds `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


class FailoverFiguresTest(unittest.TestCase):
    """deployment.failover_figures on timelines written by hand (100 ms slices)."""

    @staticmethod
    def timeline(oks, errors=None):
        errors = errors or [0] * len(oks)
        return [{"t": round(i * 0.1, 3), "duration_s": 0.1, "ok": ok, "errors": e}
                for i, (ok, e) in enumerate(zip(oks, errors))]

    def test_recovery_is_from_the_kill_to_the_first_slice_back_at_90_percent(self):
        figures = deployment.failover_figures(
            self.timeline([100, 100, 100, 40, 0, 95, 100], [0, 0, 0, 5, 7, 0, 0]), 0.1, 0.32)
        self.assertEqual(figures["failed_after_kill"], 12)
        self.assertAlmostEqual(figures["rps_before_kill"], 1000)
        self.assertAlmostEqual(figures["recovery_s"], 0.5 - 0.32)

    def test_a_rate_that_never_comes_back_has_no_recovery_and_says_why(self):
        figures = deployment.failover_figures(self.timeline([100, 100, 50, 50, 50]), 0.1, 0.2)
        self.assertNotIn("recovery_s", figures)
        self.assertIn("never came back to 90%", figures["recovery_note"])

    def test_no_dip_at_the_timelines_resolution_is_a_recovery_of_zero(self):
        figures = deployment.failover_figures(self.timeline([100, 100, 98, 99, 100]), 0.1, 0.25)
        self.assertEqual(figures["recovery_s"], 0.0)


class DeploymentExperimentTest(HarnessTestCase):
    def run_point(self, name: str, keys: str, **tiny_options) -> tuple[Path, dict]:
        """Runs a one-point experiment (tiny(name, keys, ...)); its run folder and its row."""
        experiment = write_experiment(self.tmp.path, tiny(name, keys, **tiny_options))
        out = run_bench(experiment, self.results)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        run = only_run_folder(self.results)
        return run, read_points(run)[0]

    def test_a_kill_time_outside_the_window_is_refused_before_anything_runs(self):
        experiment = write_experiment(self.tmp.path, tiny(
            "failover", 'hosts_policy = "fallback"\n    kill_at_s = 1.5'))
        out = run_bench(experiment, self.results)
        self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
        self.assertEqual(len(out.stderr.strip().splitlines()), 1, out.stderr)
        self.assertIn("kill_at_s = 1.5 is outside the measured window", out.stderr)
        self.assertFalse(self.results.exists(), "a run folder was made for a refused experiment")

    def test_a_restart_after_the_window_is_refused(self):
        experiment = write_experiment(self.tmp.path, tiny(
            "failover", 'hosts_policy = "first"\n    kill_at_s = 0.5\n    restart_after_s = 0.6'))
        out = run_bench(experiment, self.results)
        self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
        self.assertIn("restart_after_s = 0.6 puts the restart outside the measured window",
                      out.stderr)

    def test_instances_give_per_instance_raw_files_and_summed_figures(self):
        run, row = self.run_point("spread", 'hosts_policy = "spread"')
        self.assertTrue(any("2 instances" in note for note in read_meta(run)["notes"]))
        self.assertEqual(row["status"], "ok", row)
        self.assertEqual((row["instances"], row["balancer"], row["hosts_policy"]),
                         ("2", "direct", "spread"))
        label = "epoll-spread-c4-r1"
        instances = raw_json(run, f"{label}.instances.json")
        self.assertEqual([i["address"] for i in instances], ["127.0.0.2", "127.0.0.3"])
        for index, instance in enumerate(instances, 1):
            self.assertTrue((run / "raw" / f"{label}.i{index}.server.stderr").exists())
            self.assertGreater(instance["requests_ok"], 0, instance)  # spread reached both
            self.assertGreater(instance["user_s"] + instance["sys_s"], 0, instance)
        self.assertEqual(sum(i["requests_ok"] for i in instances), int(row["requests_ok"]))
        self.assertEqual(sum(i["peak_rss_kb"] for i in instances), int(row["server_rss_kb"]))
        self.assertEqual(sum(i["peak_processes"] for i in instances),
                         int(row["server_processes"]))
        self.assertAlmostEqual(sum(i["user_s"] for i in instances),
                               float(row["server_user_s"]), places=4)
        self.assertGreater(float(row["server_cpu_us_per_req"] or "nan"), 0, row["reason"])

    @unittest.skipIf(haproxy_missing(), haproxy_missing())
    def test_haproxy_is_started_serves_and_is_stopped(self):
        run, row = self.run_point("behind", 'balancer = "haproxy"',
                                  haproxy_keys='balance = "leastconn"')
        self.assertEqual(row["status"], "ok", row)
        self.assertGreater(int(row["requests_ok"]), 0)
        self.assertEqual((row["balancer"], row["balance"]), ("haproxy", "leastconn"))
        self.assertGreater(float(row["lb_cpu_us_per_req"] or "nan"), 0, row)
        self.assertGreater(int(row["lb_rss_kb"] or 0), 0, row)
        config = run / "raw" / "epoll-behind-c4-r1.haproxy.cfg"
        text = config.read_text(encoding="utf-8")
        for line in ("mode tcp", "balance leastconn", "nbthread 1", "127.0.0.2:", "127.0.0.3:"):
            self.assertIn(line, text)
        self.assertNotIn("daemon\n", text)
        forwarded = [i.get("connections_forwarded", 0)
                     for i in raw_json(run, "epoll-behind-c4-r1.instances.json")]
        self.assertEqual(sum(forwarded), 4, forwarded)  # the four persistent connections
        self.assertEqual(running_with(str(config)), [], "haproxy still running")

    def test_a_missing_haproxy_is_a_failed_point_with_the_reason(self):
        _, row = self.run_point("behind", 'balancer = "haproxy"',
                                haproxy_keys='binary = "/nonexistent/haproxy"')
        self.assertEqual(row["status"], "failed")
        self.assertIn("no haproxy program '/nonexistent/haproxy'", row["reason"])

    def test_a_failover_point_records_the_kill_in_its_timeline_and_a_recovery_time(self):
        # Each request blocks the server for 2 ms, so that the kill finds every connection's
        # request in flight (a kill between two requests fails nothing).
        run, row = self.run_point(
            "fallback", 'hosts_policy = "fallback"\n    sleep_us = 2000\n    kill_at_s = 0.5',
            duration=1.5)
        self.assertEqual(row["status"], "ok", row)
        kill = float(row["kill_s"])
        self.assertGreaterEqual(kill, 0.5)
        self.assertLess(kill, 0.8)
        events = raw_json(run, "epoll-fallback-c4-r1.events.json")
        self.assertEqual([e["event"] for e in events["events"]], ["kill"])
        self.assertAlmostEqual(events["events"][0]["t"], kill, places=4)
        result = raw_json(run, "epoll-fallback-c4-r1.json")
        self.assertEqual(result["config"]["timeline_ms"], 100)
        timeline = result["timeline"]
        kill_slice = int(kill // 0.1)
        # Every connection started on 127.0.0.2: their requests in flight failed at the kill
        # (at most one per connection), none before it.
        self.assertEqual(sum(e["errors"] for e in timeline[:kill_slice]), 0, timeline)
        self.assertIn(sum(e["errors"] for e in timeline[kill_slice:]), range(1, 5), timeline)
        self.assertEqual(int(row["failed_after_kill"]),
                         sum(e["errors"] for e in timeline[kill_slice:]))
        self.assertNotEqual(row["recovery_s"], "", row["recovery_note"])
        self.assertLess(float(row["recovery_s"]), 1.5 - kill)
        lives = raw_json(run, "epoll-fallback-c4-r1.instances.json")[0]["lives"]
        self.assertAlmostEqual(lives[0]["killed_s"], kill, places=1)

    def test_hardwired_clients_fail_until_the_restart_and_the_revived_instance_serves(self):
        run, row = self.run_point(
            "hardwired", 'hosts_policy = "first"\n    kill_at_s = 0.4\n    restart_after_s = 0.5',
            duration=1.6)
        self.assertEqual(row["status"], "ok", row)
        kill, restart = float(row["kill_s"]), float(row["restart_s"])
        self.assertGreaterEqual(restart - kill, 0.5)
        timeline = raw_json(run, "epoll-hardwired-c4-r1.json")["timeline"]
        # Between the kill and the restart nothing was answered: the one address was dead.
        dead = [e for e in timeline if e["t"] >= kill + 0.1 and e["t"] + 0.1 <= restart]
        self.assertTrue(dead)
        self.assertEqual(sum(e["ok"] for e in dead), 0, dead)
        self.assertGreater(sum(e["errors"] for e in dead), 0, dead)
        self.assertNotEqual(row["revived_serving_s"], "", row["revived_note"])
        if row["recovery_s"]:  # else the revived instance was too slow to reach 90 % again
            self.assertGreaterEqual(float(row["recovery_s"]), restart - kill - 0.1)
        lives = raw_json(run, "epoll-hardwired-c4-r1.instances.json")[0]["lives"]
        self.assertEqual(len(lives), 2)
        self.assertTrue((run / "raw" / "epoll-hardwired-c4-r1.i1.restarted.server.stderr")
                        .exists())

    @unittest.skipIf(haproxy_missing(), haproxy_missing())
    def test_interrupted_deployment_run_leaves_no_instance_or_haproxy_behind(self):
        experiment = write_experiment(self.tmp.path, tiny(
            "behind", 'balancer = "haproxy"\n    session = 5\n    kill_at_s = 0.5\n'
            '    restart_after_s = 0.5', duration=1.5, repetitions=20))
        harness = subprocess.Popen(bench_command(experiment, self.results),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        # Two instances at least (three while the killed one is revived), haproxy and the load
        # generator, their names cut to 15 characters.
        wanted = {"archbench-load": 1, "archbench-serve": 2, "haproxy": 1}
        try:
            started = children_running(harness.pid, wanted, timeout_s=60)
            self.assertLessEqual(set(wanted), names_of(started),
                                 "the harness runs instances, haproxy and the load generator")
            harness.send_signal(signal.SIGINT)
            output, _ = harness.communicate(timeout=30)
        finally:
            if harness.poll() is None:
                harness.kill()
                harness.wait()
        self.assertEqual(harness.returncode, 130, output)
        assert_all_gone(self, started)
        run = only_run_folder(self.results)
        self.assertEqual(running_with(str(run)), [], "a process of the run is still running")
        self.assertTrue(read_meta(run)["interrupted"])
