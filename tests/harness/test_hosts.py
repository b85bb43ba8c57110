"""An experiment across hosts ([hosts], harness/hosts.py): the server on one ssh host and load
generators on two others, every host a real ssh destination on this machine (the test's own
sshd, tests/harness/sshd.py, on 127.0.0.2 to 127.0.0.4)."""
import json
import math
import os
import signal
import socket
import subprocess
import time
import unittest
from pathlib import Path

from sshd import TestSshd
from support import (HARNESS, LOAD, SERVER, TempDir, bench_command, only_run_folder as only_run,
                     read_meta, read_points, run_bench, write_experiment)

import experiment as experiments
import hosts

def experiment_text(server: str, load: list[str], extra: str, remote_dir: Path,
                    repetitions: int = 1, duration: float = 0.5, connections=(3,)) -> str:
    loads = ", ".join(f'"{url}"' for url in load)
    return f"""
name = "hosts"
architectures = ["epoll"]
connections = {list(connections)}
duration_s = {duration}
warmup_s = 0.2
repetitions = {repetitions}
[placement]
server_cpus = "0"
load_cpus = "{1 if os.cpu_count() > 1 else 0}"
[load]
timeout_ms = 1000
[hosts]
server = "{server}"
load = [{loads}]
remote_dir = "{remote_dir}"
start_lead_s = 2.0
connect_timeout_s = 5
{extra}
[[workloads]]
name = "persistent"
"""


def processes_under(folder: Path) -> list[tuple[int, str]]:
    """Processes whose command line names `folder` (what the harness started on the hosts, all
    of them this machine: remote.py, archbench-server, archbench-load run from there)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            line = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(folder) in line:
            found.append((int(name), line.strip()))
    return found


def interrupt(harness: subprocess.Popen) -> str:
    """Ctrl-C to a running bench.py (SIGINT); its output once it has ended."""
    harness.send_signal(signal.SIGINT)
    return harness.communicate(timeout=60)[0]


def left_under(folder: Path, grace_s: float = 10.0) -> list[tuple[int, str]]:
    """processes_under(folder) once they have had `grace_s` to end (the hosts' jobs end when
    they read the end of their ssh session)."""
    deadline = time.monotonic() + grace_s
    while processes_under(folder) and time.monotonic() < deadline:
        time.sleep(0.1)
    return processes_under(folder)


def read_latency_counters(path: Path) -> dict:
    """The latency histogram of an `archbench-load --histogram` file, read here in Python
    (loadgen/histogram_file.hpp gives the format): count, sum, min and max in ns, and the
    counters {lowest value of the counter in ns: values in it}."""
    histogram, counters = None, {}
    for line in path.read_text().splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "histogram":
            histogram = words[1]
            if histogram == "latency":
                fields = dict(zip(words[2::2], map(int, words[3::2])))
        elif words[0] == "end":
            histogram = None
        elif histogram == "latency" and words[0].isdigit():
            counters[int(words[0])] = counters.get(int(words[0]), 0) + int(words[1])
    return {**fields, "counters": counters}


def merged_by_hand(files: list[Path]) -> dict:
    """The hosts' latency counters added up here, counter by counter: one histogram fed every
    value of every host."""
    parts = [read_latency_counters(path) for path in files]
    counters: dict[int, int] = {}
    for part in parts:
        for value, count in part["counters"].items():
            counters[value] = counters.get(value, 0) + count
    return {"count": sum(p["count"] for p in parts), "sum": sum(p["sum"] for p in parts),
            "min": min(p["min"] for p in parts if p["count"]),
            "max": max(p["max"] for p in parts), "counters": dict(sorted(counters.items()))}


def rank_is_right(merged: dict, percentile: float, value_us: float) -> bool:
    """True when `value_us` lies in the counter at which the merged histogram's cumulative
    count reaches `percentile` (HdrHistogram's rule, the count rounded to the nearest or up):
    the percentile of one histogram fed every value, whatever value within its counter is
    reported."""
    value_ns = round(value_us * 1000)
    below = [v for v in merged["counters"] if v <= value_ns]
    if not below:
        return False
    bucket = max(below)
    before = sum(c for v, c in merged["counters"].items() if v < bucket)
    through = before + merged["counters"][bucket]
    wanted = percentile / 100 * merged["count"]
    targets = {max(1, int(wanted + 0.5)), max(1, math.ceil(wanted))}
    return any(before < target <= through for target in targets)


def nobody_listens() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.5", 0))
        return probe.getsockname()[1]  # closed again: connections to it are refused


class HostsConfigTest(unittest.TestCase):
    def test_server_address_is_the_server_hosts_name_unless_given(self):
        config = hosts.parse_config({"server": "ssh://bench@10.0.0.5:2222",
                                     "load": ["ssh://10.0.0.6"]})
        self.assertEqual((config.server.user, config.server.host, config.server.port),
                         ("bench", "10.0.0.5", 2222))
        self.assertEqual((config.server_address, config.server_bind), ("10.0.0.5", "10.0.0.5"))
        named = hosts.parse_config({"server": "ssh://server.lan", "load": ["ssh://10.0.0.6"]})
        self.assertEqual((named.server_address, named.server_bind), ("server.lan", "0.0.0.0"))

    def test_a_local_server_with_remote_load_needs_its_address(self):
        with self.assertRaisesRegex(ValueError, "server_address is needed"):
            hosts.parse_config({"load": ["ssh://10.0.0.6"]})

    def test_bad_entries_are_refused_with_the_reason(self):
        for table, message in (({"server": "10.0.0.5"}, "neither"),
                               ({"load": []}, "non-empty"),
                               ({"server": "ssh://h:70000"}, "out of range"),
                               ({"colour": "red"}, "unknown keys"),
                               ({"ssh_options": ["-oProxyCommand=x"]}, "Option=value"),
                               ({"start_lead_s": 0}, "above 0")):
            with self.assertRaisesRegex(ValueError, message, msg=table):
                hosts.parse_config(table)

    def test_the_two_hosts_example_names_a_server_host_and_two_load_hosts(self):
        example = experiments.load(HARNESS / "experiments" / "two-hosts.toml")
        self.assertIsNotNone(example.hosts.server)
        self.assertEqual(len(example.hosts.load), 2)
        self.assertTrue(all(example.hosts.load))

    def test_instances_and_balancer_default_to_the_server_host(self):
        config = hosts.parse_config({"server": "ssh://10.0.0.5", "load": ["ssh://10.0.0.6"]})
        run = hosts.Hosts(config, "run")
        try:
            self.assertEqual((run.instances, run.balancer), ([run.server], run.server))
            self.assertEqual(run.server.roles, {"server"})
            self.assertEqual(config.balancer_address, "10.0.0.5")
            self.assertEqual(run.place_instances(1), [(run.server, "10.0.0.5")])
        finally:
            run.close()

    def test_instances_take_their_hosts_in_turn_each_at_an_address_of_its_own(self):
        config = hosts.parse_config({
            "server": "ssh://10.0.0.5", "load": ["ssh://10.0.0.6"],
            "instances": ["ssh://10.0.0.7", "ssh://10.0.0.8"], "balancer": "ssh://10.0.0.9"})
        run = hosts.Hosts(config, "run")
        try:
            self.assertEqual([address for _, address in run.place_instances(2)],
                             ["10.0.0.7", "10.0.0.8"])
            self.assertEqual((run.balancer.name, config.balancer_address, config.bind_for(
                config.balancer_address)), ("ssh://10.0.0.9", "10.0.0.9", "10.0.0.9"))
            self.assertEqual(run.balancer.roles, {"balancer"})
            # Three instances on two hosts would share an address (one port serves them all).
            with self.assertRaisesRegex(ValueError, "instances 1 and 3 would both be at 10.0.0.7"):
                run.place_instances(3)
        finally:
            run.close()
        spread = hosts.parse_config({
            "server": "ssh://10.0.0.5", "load": ["ssh://10.0.0.6"],
            "instances": ["ssh://10.0.0.7"], "instance_addresses": ["10.0.1.1", "10.0.1.2"]})
        run = hosts.Hosts(spread, "run")
        try:
            self.assertEqual(run.place_instances(2), [(run.instances[0], "10.0.1.1"),
                                                      (run.instances[0], "10.0.1.2")])
            with self.assertRaisesRegex(ValueError, "3 instances, but .* names 2"):
                run.place_instances(3)
        finally:
            run.close()

    def test_bad_deployment_entries_are_refused_with_the_reason(self):
        remote = {"server": "ssh://10.0.0.5", "load": ["ssh://10.0.0.6"]}
        for table, message in (({"instances": []}, "instances must be a non-empty list"),
                               ({"instances": ["10.0.0.7"]}, "neither"),
                               ({**remote, "instances": ["local"]},
                                "instance_addresses is needed"),
                               ({"instance_addresses": "10.0.0.7"}, "non-empty list"),
                               ({"instance_addresses": ["10.0.0.7", "10.0.0.7"]},
                                "names an address twice"),
                               ({"balancer": ["ssh://10.0.0.9"]}, "balancer must be one host"),
                               ({"balancer": "ssh://h:0"}, "out of range"),
                               ({**remote, "balancer": "local"}, "needs the server local")):
            with self.assertRaisesRegex(ValueError, message, msg=table):
                hosts.parse_config(table)

    def test_connections_are_shared_as_evenly_as_they_go(self):
        self.assertEqual(hosts.shares(5, 2), [3, 2])
        self.assertEqual(hosts.shares(1, 2), [1, 0])
        self.assertEqual(sum(hosts.shares(1024, 3)), 1024)

    def test_each_host_offers_its_share_of_the_rate_and_the_idle_connections(self):
        command = ["archbench-load", "-c", "4", "--rate", "1000", "--idle", "100"]
        self.assertEqual(hosts._scaled(command, 0.25, 34),
                         ["archbench-load", "-c", "4", "--rate", "250", "--idle", "34"])
        self.assertEqual(sum(hosts.shares(100, 3)), 100)  # the hosts' idle parts

    def test_merged_result_sums_throughput_requests_and_errors_by_kind(self):
        one = {"requests_ok": 10, "throughput_rps": 20.0, "duration_s": 0.5,
               "errors": {"connect": 1, "timeout": 2}, "loadgen": {"cpu_util": 0.5},
               "hosts": [{"host": "10.0.0.5", "requests_ok": 10, "errors": {"timeout": 2}}]}
        two = {"requests_ok": 5, "throughput_rps": 10.0, "duration_s": 0.5,
               "errors": {"timeout": 1, "eof": 3}, "loadgen": {"cpu_util": 0.9,
                                                               "saturated": True},
               "hosts": [{"host": "10.0.0.5", "requests_ok": 5, "errors": {"timeout": 1}}]}
        merged = hosts.merged_result([one, two], {"count": 15, "latency_us": {"p50": 7}})
        self.assertEqual((merged["requests_ok"], merged["throughput_rps"]), (15, 30.0))
        self.assertEqual(merged["errors"], {"connect": 1, "reset": 0, "eof": 3,
                                            "wrong_answer": 0, "timeout": 3})
        self.assertEqual(merged["latency_us"], {"p50": 7})
        self.assertEqual(merged["hosts"], [{"host": "10.0.0.5", "requests_ok": 15, "errors": {
            "connect": 0, "reset": 0, "eof": 0, "wrong_answer": 0, "timeout": 3}}])
        self.assertEqual((merged["loadgen"]["cpu_util"], merged["loadgen"]["saturated"]),
                         (0.9, True))


class HostsRunTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sshd = TestSshd.for_test(addresses=3)

    @classmethod
    def tearDownClass(cls):
        cls.sshd.stop()

    def setUp(self):
        self.tmp = TempDir()
        self.results = self.tmp.path / "results"
        self.remote = self.tmp.path / "remote"

    def tearDown(self):
        left = processes_under(self.remote)
        for pid, _ in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.tmp.cleanup()
        self.assertEqual(left, [], "processes left behind on the hosts")

    def test_server_and_two_load_hosts_give_a_complete_run_folder_with_exact_merged_figures(self):
        server, load1, load2 = self.sshd.urls
        experiment = write_experiment(self.tmp.path, experiment_text(
            server, [load1, load2], self.sshd.hosts_toml(), self.remote))
        out = run_bench(experiment, self.results, timeout=240)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        run = only_run(self.results)
        [row] = read_points(run)
        self.assertEqual(row["status"], "ok", row)
        label = "epoll-persistent-c3-r1"
        raw = run / "raw"
        for suffix in (".json", ".hgrm", ".merged.json", ".server.stderr",
                       *[f".load{i}.{kind}" for i in (1, 2)
                         for kind in ("json", "hgrm", "histogram", "txt")]):
            self.assertTrue((raw / f"{label}{suffix}").is_file(), label + suffix)

        # Every host's machine in meta.json, and the same build on each.
        meta = read_meta(run)
        machines = {m["host"]: m for m in meta["hosts"]["machines"]}
        self.assertEqual(set(machines), {server, load1, load2})
        for machine in machines.values():
            self.assertIsNone(machine["failure"])
            for key in ("cpu_model", "cores", "memory_kb", "kernel"):
                self.assertTrue(machine["machine"][key], key)
            self.assertEqual(machine["arch"], os.uname().machine)
            self.assertEqual(machine["revision"]["revision"], meta["git"]["revision"])
        self.assertEqual(machines[server]["roles"], ["server"])
        # The noise sentinel was calibrated on the server's host and timed it around the point.
        self.assertGreater(machines[server]["sentinel"]["iterations"], 0)
        self.assertGreater(float(row["machine_slowdown"]), 0)
        self.assertEqual(meta["experiment"]["hosts"]["load"], [load1, load2])

        # The two hosts shared the connections (2 and 1); the merged throughput, requests and
        # errors are their sums.
        by_host = [json.loads((raw / f"{label}.load{i}.json").read_text()) for i in (1, 2)]
        self.assertEqual([h["config"]["connections"] for h in by_host], [2, 1])
        self.assertEqual(int(row["requests_ok"]), sum(h["requests_ok"] for h in by_host))
        self.assertAlmostEqual(float(row["throughput_rps"]),
                               sum(h["throughput_rps"] for h in by_host), delta=1)
        self.assertEqual(int(row["errors"]), sum(sum(h["errors"].values()) for h in by_host))

        # The merged percentiles are those of one histogram fed every value of both hosts: the
        # hosts' raw counters, added up here in Python, put each merged percentile in the
        # counter where the cumulative count reaches it; count, min, max and mean are exact.
        by_hand = merged_by_hand([raw / f"{label}.load{i}.histogram" for i in (1, 2)])
        written = json.loads((raw / f"{label}.merged.json").read_text())
        self.assertEqual(written["count"], by_hand["count"])
        self.assertEqual(sum(by_hand["counters"].values()), by_hand["count"])
        self.assertAlmostEqual(written["latency_us"]["min"], by_hand["min"] / 1000, delta=0.001)
        self.assertAlmostEqual(written["latency_us"]["max"], by_hand["max"] / 1000, delta=0.001)
        self.assertAlmostEqual(written["latency_us"]["mean"],
                               by_hand["sum"] / by_hand["count"] / 1000, delta=0.001)
        for key, percentile in (("p50", 50), ("p90", 90), ("p99", 99), ("p99_9", 99.9)):
            self.assertTrue(rank_is_right(by_hand, percentile, written["latency_us"][key]),
                            f"{key} {written['latency_us'][key]} us")
        # And the harness merged the right files: the tool merges them again to the same.
        again = self.tmp.path / "again.json"
        subprocess.run([str(LOAD), "--merge-histograms",
                        ",".join(str(raw / f"{label}.load{i}.histogram") for i in (1, 2)),
                        "--json", str(again), "--hgrm", str(self.tmp.path / "again.hgrm")],
                       check=True, capture_output=True, timeout=60)
        merged = json.loads(again.read_text())
        self.assertEqual(merged, json.loads((raw / f"{label}.merged.json").read_text()))
        self.assertEqual(merged["count"], sum(h["latency_us"]["count"] for h in by_host))
        # A host that measured nothing (on a loaded machine, one started too late for the short
        # window: its start_late_s says so) has no min or max and adds nothing to the merge.
        measured = [h["latency_us"] for h in by_host if h["latency_us"]["count"] > 0]
        self.assertTrue(measured, "no load host measured a request")
        self.assertEqual(merged["latency_us"]["max"], max(h["max"] for h in measured))
        self.assertEqual(merged["latency_us"]["min"], min(h["min"] for h in measured))
        for column, key in (("p50_us", "p50"), ("p99_us", "p99"), ("max_us", "max")):
            value = merged["latency_us"][key]  # points.csv keeps 6 significant digits
            self.assertAlmostEqual(float(row[column]), value, delta=abs(value) * 1e-5)

        # The server's cost, read on its host over the window.
        self.assertEqual(row["cpu_accounting"], "exact", row["reason"])
        self.assertGreater(float(row["server_cpu_us_per_req"]), 0)
        self.assertGreater(int(row["server_rss_kb"]), 0)
        self.assertIn("rusage ", (raw / f"{label}.server.stderr").read_text())
        self.assertFalse(list(self.remote.glob("*")), "the hosts' run folders are removed")

    def test_an_unreachable_host_fails_every_point_with_the_reason_in_bounded_time(self):
        refused = f"ssh://root@127.0.0.5:{nobody_listens()}"
        experiment = write_experiment(self.tmp.path, experiment_text(
            self.sshd.urls[0], [self.sshd.urls[1], refused], self.sshd.hosts_toml(),
            self.remote, connections=(1, 2)))
        started = time.monotonic()
        out = run_bench(experiment, self.results, "--no-sentinel", timeout=120)
        self.assertLess(time.monotonic() - started, 90)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        rows = read_points(only_run(self.results))
        self.assertEqual(len(rows), 2)
        for row in rows:
            self.assertEqual(row["status"], "failed")
            self.assertIn(f"host {refused}: cannot connect", row["reason"])
            self.assertIn("Connection refused", row["reason"])
            self.assertEqual(len(row["reason"].splitlines()), 1)
        self.assertIn(refused, out.stdout)

    def test_a_host_that_cannot_run_the_programs_fails_every_point_with_the_reason(self):
        # A server that runs here but not from its copy on the host, as one built against a
        # library the host lacks: the loader's message is the reason.
        wrapper = self.tmp.path / "archbench-server"
        wrapper.write_text(f"""#!/bin/sh
case "$0" in
  {self.remote}/*) echo "$0: error while loading shared libraries: libevent-2.1.so.7" >&2
                   exit 127 ;;
esac
exec "{SERVER}" "$@"
""")
        wrapper.chmod(0o755)
        experiment = write_experiment(self.tmp.path, experiment_text(
            self.sshd.urls[0], [self.sshd.urls[1]], self.sshd.hosts_toml(), self.remote))
        out = run_bench(experiment, self.results, "--no-sentinel", "--server-binary",
                        str(wrapper), timeout=120)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        [row] = read_points(only_run(self.results))
        self.assertEqual(row["status"], "failed")
        self.assertIn(f"host {self.sshd.urls[0]}: cannot run archbench-server", row["reason"])
        self.assertIn("libevent-2.1.so.7", row["reason"])

    def test_a_server_that_fails_on_its_host_gives_a_failed_point_and_the_run_goes_on(self):
        wrapper = self.tmp.path / "archbench-server"
        wrapper.write_text(f"""#!/bin/sh
if [ "$1" = "--list" ]; then
  "{SERVER}" --list; printf 'crash-at-start\\tdies before listening\\n'; exit 0
fi
[ "$2" = crash-at-start ] && {{ echo "out of luck" >&2; exit 3; }}
exec "{SERVER}" "$@"
""")
        wrapper.chmod(0o755)
        experiment = write_experiment(self.tmp.path, experiment_text(
            self.sshd.urls[0], [self.sshd.urls[1]], self.sshd.hosts_toml(), self.remote).replace(
                'architectures = ["epoll"]', 'architectures = ["crash-at-start", "epoll"]'))
        out = run_bench(experiment, self.results, "--no-sentinel", "--server-binary",
                        str(wrapper), timeout=120)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        rows = {r["arch"]: r for r in read_points(only_run(self.results))}
        self.assertEqual(rows["crash-at-start"]["status"], "failed")
        self.assertIn("failed to start (exit code 3): out of luck", rows["crash-at-start"]["reason"])
        self.assertIn(self.sshd.urls[0], rows["crash-at-start"]["reason"])
        self.assertEqual(rows["epoll"]["status"], "ok", rows["epoll"])

    def test_interrupted_run_leaves_no_process_behind_on_any_host(self):
        server, load1, load2 = self.sshd.urls
        experiment = write_experiment(self.tmp.path, experiment_text(
            server, [load1, load2], self.sshd.hosts_toml(), self.remote, repetitions=30,
            duration=1.5))
        harness = subprocess.Popen(bench_command(experiment, self.results, "--no-sentinel"),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            names = set()
            while time.monotonic() < deadline and harness.poll() is None:
                running = processes_under(self.remote)
                names = {Path(line.split()[0]).name for _, line in running}
                if {"archbench-server", "archbench-load"} <= names:
                    break
                time.sleep(0.05)
            self.assertLessEqual({"archbench-server", "archbench-load"}, names,
                                 "a server and load generators run on the hosts")
            output = interrupt(harness)
        finally:
            if harness.poll() is None:
                harness.kill()
                harness.wait()
        self.assertEqual(harness.returncode, 130, output)
        self.assertEqual(left_under(self.remote), [])
        # Nor an ssh connection of the harness's (they name the test's key).
        self.assertEqual(processes_under(self.sshd.identity), [])
        self.assertTrue(read_meta(only_run(self.results))["interrupted"])


if __name__ == "__main__":
    unittest.main()
