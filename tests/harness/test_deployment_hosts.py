"""A deployment across hosts ([hosts] instances and balancer: harness/hosts.py with
harness/deployment.py): instances, HAProxy and load generators each on an ssh host of their own,
every host a real ssh destination on this machine (the test's own sshd, tests/harness/sshd.py,
on 127.0.0.2 to 127.0.0.5), the real haproxy, one instance killed with SIGKILL on its host."""
import json
import os
import signal
import subprocess
import time
import unittest
from pathlib import Path

from sshd import TestSshd
from support import (HARNESS, TempDir, bench_command, only_run_folder as only_run, read_meta, read_points,
                     run_bench, write_experiment)
from test_deployment import haproxy_missing
from test_hosts import interrupt, left_under, processes_under

import deployment
import experiment as experiments


def experiment_text(hosts: str, workloads: str, remote_dir: Path, duration: float = 1.2,
                    repetitions: int = 1) -> str:
    return f"""
name = "deployment-hosts"
architectures = ["epoll"]
connections = [6]
duration_s = {duration}
warmup_s = 0.2
repetitions = {repetitions}
instances = 3
[placement]
server_cpus = "0"
load_cpus = "{1 if os.cpu_count() > 1 else 0}"
[load]
timeout_ms = 500
[hosts]
{hosts}
remote_dir = "{remote_dir}"
start_lead_s = 2.0
connect_timeout_s = 5
{workloads}
"""


# One run for the tests that read a point (the hosts are prepared once): three instances on
# three hosts; two of them behind HAProxy on a fourth host; and the first one killed and
# restarted on its host.
WORKLOADS = """
[[workloads]]
name = "spread"
hosts_policy = "spread"

[[workloads]]
name = "haproxy"
instances = 2
balancer = "haproxy"

[[workloads]]
name = "hardwired"
instances = 2
hosts_policy = "first"
kill_at_s = 0.3
restart_after_s = 0.4
"""


def raw_json(run: Path, name: str):
    return json.loads((run / "raw" / name).read_text(encoding="utf-8"))


class DeploymentHostsConfigTest(unittest.TestCase):
    def test_a_bad_instances_or_balancer_entry_is_one_line_and_exit_2(self):
        tmp = TempDir()
        self.addCleanup(tmp.cleanup)
        for entry, message in (("instances = []", "[hosts] instances must be a non-empty list"),
                               ('instances = ["10.0.0.7"]', "'10.0.0.7' is neither"),
                               ('balancer = ["ssh://10.0.0.9"]', "balancer must be one host"),
                               ('instance_addresses = ["10.0.0.7", "10.0.0.7"]',
                                "names an address twice")):
            experiment = write_experiment(tmp.path, experiment_text(
                f'server = "ssh://10.0.0.5"\nload = ["ssh://10.0.0.6"]\n{entry}',
                WORKLOADS, tmp.path / "remote"))
            out = run_bench(experiment, tmp.path / "results", "--no-sentinel", timeout=60)
            self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
            self.assertEqual(len(out.stderr.strip().splitlines()), 1, out.stderr)
            self.assertIn(message, out.stderr)
            self.assertFalse((tmp.path / "results").exists())


    def test_the_example_places_instances_balancer_and_load_on_hosts_of_their_own(self):
        example = experiments.load(HARNESS / "experiments" / "deployment-hosts.toml")
        config = example.hosts
        self.assertEqual(len(config.instances), example.instances)
        self.assertTrue(all(config.instances) and config.balancer and all(config.load))
        self.assertEqual(deployment.check(example), "")


class DeploymentAcrossHostsTest(unittest.TestCase):
    """127.0.0.2 to 127.0.0.4 run the instances (the first is the server host as well),
    127.0.0.5 the load generator and HAProxy."""

    @classmethod
    def setUpClass(cls):
        cls.sshd = TestSshd.for_test(addresses=4)
        cls.addClassCleanup(cls.sshd.stop)  # (even when the rest of setUpClass fails)
        cls.tmp = TempDir()
        cls.addClassCleanup(cls.tmp.cleanup)
        cls.remote = cls.tmp.path / "remote"
        one, two, three, four = cls.sshd.urls
        cls.hosts_toml = (f'server = "{one}"\ninstances = ["{one}", "{two}", "{three}"]\n'
                          f'load = ["{four}"]\nbalancer = "{four}"\n' + cls.sshd.hosts_toml())
        workloads = WORKLOADS if not haproxy_missing() else WORKLOADS.replace(
            'name = "haproxy"', 'name = "haproxy"\nhosts_policy = "spread"').replace(
            'balancer = "haproxy"\n', "")
        experiment = write_experiment(cls.tmp.path, experiment_text(
            cls.hosts_toml, workloads, cls.remote))
        cls.out = run_bench(experiment, cls.tmp.path / "results", "--no-sentinel",
                            "--seed", "1", timeout=180)
        cls.left = processes_under(cls.remote)
        cls.run_folder = only_run(cls.tmp.path / "results") if cls.out.returncode == 0 else None
        cls.rows = {r["workload"]: r for r in read_points(cls.run_folder)} if cls.run_folder else {}

    def row(self, workload: str) -> dict:
        self.assertEqual(self.out.returncode, 0, self.out.stdout + self.out.stderr)
        self.assertEqual(self.left, [], "processes left behind on the hosts")
        row = self.rows[workload]
        self.assertEqual(row["status"], "ok", row)
        return row

    def test_instances_on_three_hosts_each_serve_and_the_row_is_their_sum(self):
        one, two, three, _ = self.sshd.urls
        run, row = self.run_folder, self.row("spread")
        self.assertEqual((row["instances"], row["balancer"], row["hosts_policy"]),
                         ("3", "direct", "spread"))
        label = "epoll-spread-c6-r1"
        instances = raw_json(run, f"{label}.instances.json")
        self.assertEqual([i["address"] for i in instances],
                         ["127.0.0.2", "127.0.0.3", "127.0.0.4"])
        for index, (instance, url) in enumerate(zip(instances, (one, two, three)), 1):
            [life] = instance["lives"]
            self.assertEqual(life["host"], url)  # each ran on its own host, measured there
            self.assertGreater(instance["requests_ok"], 0, instance)
            self.assertGreater(instance["user_s"] + instance["sys_s"], 0, instance)
            self.assertIn("rusage ", (run / "raw" / f"{label}.i{index}.server.stderr").read_text())
        # The load host's own JSON counted each address's answers; the row is the sums.
        load_result = raw_json(run, f"{label}.load1.json")
        by_address = {h["host"]: h["requests_ok"] for h in load_result["hosts"]}
        self.assertEqual([i["requests_ok"] for i in instances],
                         [by_address[a] for a in ("127.0.0.2", "127.0.0.3", "127.0.0.4")])
        self.assertEqual(sum(i["requests_ok"] for i in instances), int(row["requests_ok"]))
        self.assertEqual(int(row["requests_ok"]), load_result["requests_ok"])
        self.assertEqual(sum(i["peak_rss_kb"] for i in instances), int(row["server_rss_kb"]))
        self.assertAlmostEqual(sum(i["user_s"] for i in instances), float(row["server_user_s"]),
                               places=4)
        self.assertAlmostEqual(sum(i["sys_s"] for i in instances), float(row["server_sys_s"]),
                               places=4)
        self.assertEqual(row["cpu_accounting"], "exact", row["reason"])
        self.assertGreater(float(row["server_cpu_us_per_req"]), 0)
        meta = read_meta(run)
        self.assertEqual(meta["hosts"]["instances"], [one, two, three])
        self.assertEqual(meta["experiment"]["hosts"]["instances"], [one, two, three])
        self.assertFalse(list(self.remote.glob("*")), "the hosts' run folders are removed")

    @unittest.skipIf(haproxy_missing(), haproxy_missing())
    def test_haproxy_on_its_own_host_forwards_to_instances_on_others(self):
        balancer = self.sshd.urls[3]
        run, row = self.run_folder, self.row("haproxy")
        self.assertGreater(int(row["requests_ok"]), 0)
        self.assertEqual(int(row["errors"]), 0, row)
        self.assertGreater(float(row["lb_cpu_us_per_req"] or "nan"), 0, row)
        self.assertGreater(int(row["lb_rss_kb"] or 0), 0, row)
        label = "epoll-haproxy-c6-r1"
        config = (run / "raw" / f"{label}.haproxy.cfg").read_text(encoding="utf-8")
        self.assertIn("bind 127.0.0.5:", config)  # the balancer host's address
        self.assertIn("server i1 127.0.0.2:", config)
        self.assertIn("server i2 127.0.0.3:", config)
        # The load generator knew one address, the balancer's; HAProxy sent the six persistent
        # connections to the two instances, and each served.
        self.assertEqual([h["host"] for h in raw_json(run, f"{label}.load1.json")["hosts"]],
                         ["127.0.0.5"])
        instances = raw_json(run, f"{label}.instances.json")
        self.assertEqual(sum(i["connections_forwarded"] for i in instances), 6, instances)
        for instance in instances:
            self.assertGreater(instance["connections_forwarded"], 0, instance)
            self.assertGreater(instance["user_s"] + instance["sys_s"], 0, instance)
        self.assertEqual(read_meta(run)["hosts"]["balancer"], balancer)

    def test_a_killed_remote_instance_fails_its_clients_until_it_is_restarted_there(self):
        one = self.sshd.urls[0]
        run, row = self.run_folder, self.row("hardwired")
        kill, restart = float(row["kill_s"]), float(row["restart_s"])
        self.assertGreaterEqual(restart - kill, 0.35)
        label = "epoll-hardwired-c6-r1"
        timeline = raw_json(run, f"{label}.json")["timeline"]
        self.assertEqual(sum(e["errors"] for e in timeline if e["t"] + 0.1 <= kill), 0,
                         timeline)
        # From the kill to the restart nothing was answered: the one address was dead.
        dead = [e for e in timeline if e["t"] >= kill + 0.1 and e["t"] + 0.1 <= restart]
        self.assertTrue(dead, timeline)
        self.assertEqual(sum(e["ok"] for e in dead), 0, dead)
        self.assertGreater(sum(e["errors"] for e in dead), 0, dead)
        self.assertGreater(int(row["failed_after_kill"]), 0)
        # After the restart, on its host, the revived instance served again.
        self.assertNotEqual(row["revived_serving_s"], "", row["revived_note"])
        after = [e for e in timeline if e["t"] >= restart + 0.1]
        self.assertGreater(sum(e["ok"] for e in after), 0, timeline)
        events = [e["event"] for e in raw_json(run, f"{label}.events.json")["events"]]
        self.assertEqual(events, ["kill", "restart", "listening", "serving"])
        lives = raw_json(run, f"{label}.instances.json")[0]["lives"]
        self.assertEqual(len(lives), 2)
        self.assertAlmostEqual(lives[0]["killed_s"], kill, places=1)
        self.assertEqual([life["host"] for life in lives], [one, one])
        self.assertTrue((run / "raw" / f"{label}.i1.restarted.server.stderr").exists())

    @unittest.skipIf(haproxy_missing(), haproxy_missing())
    def test_interrupted_deployment_run_leaves_no_process_on_any_host(self):
        tmp = TempDir()
        self.addCleanup(tmp.cleanup)
        remote, results = tmp.path / "remote", tmp.path / "results"
        one, two, _, four = self.sshd.urls  # (three hosts: fewer to prepare)
        experiment = write_experiment(tmp.path, experiment_text(
            f'server = "{one}"\ninstances = ["{one}", "{two}"]\nload = ["{four}"]\n'
            f'balancer = "{four}"\n' + self.sshd.hosts_toml(),
            '[[workloads]]\nname = "behind"\ninstances = 2\n'
            'balancer = "haproxy"\nsession = 5\nkill_at_s = 0.5\nrestart_after_s = 0.5',
            remote, duration=1.5, repetitions=20))
        harness = subprocess.Popen(bench_command(experiment, results, "--no-sentinel"),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            deadline = time.monotonic() + 90
            names: list[str] = []
            while time.monotonic() < deadline and harness.poll() is None:
                names = [Path(line.split()[0]).name for _, line in processes_under(remote)]
                if names.count("archbench-server") >= 2 and \
                        {"haproxy", "archbench-load"} <= set(names):
                    break
                time.sleep(0.05)
            self.assertGreaterEqual(names.count("archbench-server"), 2, names)
            self.assertLessEqual({"haproxy", "archbench-load"}, set(names),
                                 "instances, haproxy and a load generator run on the hosts")
            output = interrupt(harness)
        finally:
            if harness.poll() is None:
                harness.kill()
                harness.wait()
            left = left_under(remote)
            for pid, _ in left:  # (so that a failure leaves nothing running either)
                os.kill(pid, signal.SIGKILL)
        self.assertEqual((harness.returncode, left), (130, []), output)
        self.assertEqual(processes_under(self.sshd.identity), [])  # nor an ssh of the harness
        self.assertTrue(read_meta(only_run(results))["interrupted"])


if __name__ == "__main__":
    unittest.main()
