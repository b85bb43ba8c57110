"""An experiment across machines: the server on one host, load generators on others, over ssh.

    [hosts]
    server = "ssh://bench@10.0.0.5"          # or "local" (the default): where the server runs
    load = ["ssh://bench@10.0.0.6", "ssh://bench@10.0.0.7:2222"]   # default ["local"]
    server_address = "10.0.0.5"              # what the load generators connect to (default:
                                             #   the server host's name; needed when it is local)
    server_bind = "10.0.0.5"                 # what the server binds (default: server_address
                                             #   when it is a numeric IPv4 address, else 0.0.0.0)
    identity_file = "~/.ssh/archbench"       # ssh -i (default: ssh's own choice)
    ssh_options = ["StrictHostKeyChecking=accept-new"]   # each passed as ssh -o
    remote_dir = "/tmp/archbench"            # each host's run folders go under it
    connect_timeout_s = 10                   # ssh ConnectTimeout (each set-up call: it and a margin)
    start_lead_s = 1.0                       # how far ahead the common start is set
    instances = ["ssh://bench@10.0.0.8", ...]   # a deployment's instances, in turn (default: the
                                             #   server host); each at its host's address, or
    instance_addresses = ["10.0.0.8", ...]   #   at its own entry here (one port serves them all)
    balancer = "ssh://bench@10.0.0.9"        # where HAProxy runs, or "local" (default: the
                                             #   server host)

How a run goes. Before the first point every host is prepared at once (Host.prepare): one ssh
master connection per host (ControlMaster, which every later ssh and scp of the run reuses),
the built archbench-server and archbench-load and the harness's modules (remote.py and what it
imports) copied with scp into a folder of this run's own, then
remote.py `facts` there: the machine (recorded in meta.json) and the SHA-256 of the copied
programs, which must equal this build's (so every host runs the same revision), on a host of
the same architecture; the programs must run there, and its clock is compared with ours. A
host that fails any of it gives one line, and every point of the run fails with that line.

One point (run_point): the server starts on its host under remote.py `server`, pinned; the
harness picks a common start a little in the future (start_lead_s) and gives every load host
its share of the connections (and of --rate and --idle) with `archbench-load --start-at` that
instant; remote.py on the server host takes the window's first reading when the warm-up ends
(on its own clock) and the last when the harness says every load generator is done. Each load
host's --histogram file comes back and `archbench-load --merge-histograms` merges them with the
same C++ histogram code (exact); throughput, requests and errors by kind are summed.

Every ssh call is bounded (BatchMode, ConnectTimeout, ServerAliveInterval, and a deadline on
this side); a session the harness ends, or loses, ends its job on the host (remote.py reads
end-of-file and kills what it started), so Ctrl-C leaves nothing behind on any host.

A deployment point (deployment.py: several instances, HAProxy, failover) runs across hosts in
run_deployment: each instance an archbench-server under remote.py `server` on its host (the
first on any free port, the others on that one), HAProxy under remote.py `balancer` on the
balancer host, the load hosts connecting to the instances' addresses or to HAProxy's. The
failover's kill and restart are lines to the first instance's job (`kill`, `restart`), and
the figures are summed with deployment.py's own functions, as on one machine.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import queue
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import deployment
import haproxy
import offered
import point
import procstat
import sentinel

HARNESS = Path(__file__).resolve().parent
ERROR_KINDS = ("connect", "reset", "eof", "wrong_answer", "timeout")
KEYS = {"server", "load", "server_address", "server_bind", "identity_file", "ssh_options",
        "remote_dir", "connect_timeout_s", "start_lead_s", "instances", "instance_addresses",
        "balancer"}
# What each role of a host runs on, of its placement's CPUs: a deployment's instances and its
# balancer run on the server CPUs of their hosts (deployment.balancer_cpus picks HAProxy's).
PLACEMENT_ROLES = {"server": "server", "load": "load", "instances": "server",
                   "balancer": "server"}
MIN_PYTHON = (3, 9)
# A host whose clock is further than this from the harness's: its load starts (or the server's
# window opens) that much apart from the others' (docs/hosts.md#clocks).
CLOCK_LIMIT_S = 0.01
# A master connection with no session for this long ends by itself (ssh ControlPersist).
CONTROL_PERSIST_S = 30
LOCAL = "local"


def host_side_modules() -> list[Path]:
    """What remote.py needs beside it on a host: the harness's modules, every one (remote.py
    imports point.py and others, and what they import changes as the harness grows; they are
    small, standard library only)."""
    return sorted(HARNESS.glob("*.py"))


class HostError(Exception):
    """A host that cannot do what the run needs; the message is one line naming it."""


# --------------------------------------------------------------------------- [hosts]

@dataclass(frozen=True)
class Destination:
    """ssh://[user@]host[:port]"""
    host: str
    user: str | None = None
    port: int | None = None

    URL = re.compile(r"^ssh://(?:([A-Za-z0-9._-]+)@)?([A-Za-z0-9._-]+)(?::(\d+))?/?$")

    @classmethod
    def parse(cls, text) -> "Destination | None":
        """None for "local"; ValueError for anything that is not an ssh:// URL."""
        if text == LOCAL:
            return None
        match = cls.URL.match(text) if isinstance(text, str) else None
        if not match or match.group(2).startswith("-"):
            raise ValueError(f"'{text}' is neither \"local\" nor ssh://[user@]host[:port]")
        port = int(match.group(3)) if match.group(3) else None
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"'{text}': port {port} is out of range")
        return cls(match.group(2), match.group(1), port)

    @property
    def url(self) -> str:
        return (f"ssh://{self.user + '@' if self.user else ''}{self.host}"
                f"{':' + str(self.port) if self.port else ''}")

    @property
    def login(self) -> str:
        return f"{self.user}@{self.host}" if self.user else self.host

    @property
    def label(self) -> str:
        """A file-name-safe name: root@127.0.0.2_2222"""
        return self.login + (f"_{self.port}" if self.port else "")


@dataclass
class HostsConfig:
    server: Destination | None
    load: list[Destination | None]
    server_address: str
    server_bind: str
    identity_file: str | None = None
    ssh_options: list[str] = field(default_factory=list)
    remote_dir: str = "/tmp/archbench"
    connect_timeout_s: float = 10.0
    start_lead_s: float = 1.0
    instances: list[Destination | None] | None = None  # None: the server host
    instance_addresses: list[str] | None = None  # None: each instance's host's address
    balancer: Destination | None = None
    balancer_on_server: bool = True  # no `balancer` key: HAProxy runs on the server host
    balancer_address: str = ""  # what the load generators connect to, when there is one

    def reached_at(self, destination: Destination | None) -> str:
        """The address the other hosts reach a host at: its name in the ssh URL, or for this
        machine server_address (parse_config makes sure that is this machine's then)."""
        return destination.host if destination is not None else self.server_address

    def bind_for(self, address: str) -> str:
        """What a program reached at `address` binds: server_bind on the server's address, else
        the address when it is numeric, else every address of its host."""
        if address == self.server_address:
            return self.server_bind
        return address if _is_ipv4(address) else "0.0.0.0"


def _is_ipv4(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv4Address)
    except ValueError:
        return False


def parse_config(table) -> HostsConfig:
    """The [hosts] table; ValueError with a one-line reason for anything wrong in it."""
    if not isinstance(table, dict):
        raise ValueError("[hosts] must be a table")
    unknown = set(table) - KEYS
    if unknown:
        raise ValueError(f"[hosts]: unknown keys {sorted(unknown)}")
    server = Destination.parse(table.get("server", LOCAL))
    load = _host_list(table, "load")
    address = table.get("server_address")
    if address is None:
        if server is not None:
            address = server.host
        elif any(load):
            raise ValueError("[hosts] server_address is needed when the server is local and a "
                             "load host is not: the address the load hosts reach this machine at")
        else:
            address = "127.0.0.1"
    bind = table.get("server_bind", address if _is_ipv4(str(address)) else "0.0.0.0")
    if not _is_ipv4(str(bind)):
        raise ValueError(f"[hosts] server_bind must be a numeric IPv4 address, not '{bind}'")
    options = table.get("ssh_options", [])
    if not isinstance(options, list) or not all(
            isinstance(o, str) and re.match(r"^[A-Za-z]+[ =]", o) for o in options):
        raise ValueError("[hosts] ssh_options must be a list of \"Option=value\" strings")
    numbers = {}
    for key, default in (("connect_timeout_s", 10.0), ("start_lead_s", 1.0)):
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(f"[hosts] {key} must be a number above 0")
        numbers[key] = float(value)
    remote_dir = table.get("remote_dir", "/tmp/archbench")
    if not isinstance(remote_dir, str) or not remote_dir.startswith("/"):
        raise ValueError("[hosts] remote_dir must be an absolute path")
    identity = table.get("identity_file")
    return HostsConfig(server, load, str(address), str(bind),
                       os.path.expanduser(identity) if identity else None, options,
                       remote_dir.rstrip("/") or "/", **numbers,
                       **_deployment_config(table, server, str(address)))


def _host_list(table, key: str) -> list[Destination | None]:
    hosts = table.get(key, [LOCAL])
    if isinstance(hosts, str):
        hosts = [hosts]
    if not isinstance(hosts, list) or not hosts:
        raise ValueError(f"[hosts] {key} must be a non-empty list of hosts")
    return [Destination.parse(text) for text in hosts]


def _deployment_config(table, server: Destination | None, server_address: str) -> dict:
    """The keys of a deployment across hosts: where its instances and its balancer run."""
    config: dict = {"instances": _host_list(table, "instances") if "instances" in table
                    else None}
    addresses = table.get("instance_addresses")
    if addresses is not None:
        if not isinstance(addresses, list) or not addresses or not all(
                isinstance(a, str) and a and not a.startswith("-") for a in addresses):
            raise ValueError("[hosts] instance_addresses must be a non-empty list of addresses")
        if len(set(addresses)) < len(addresses):
            raise ValueError("[hosts] instance_addresses names an address twice: the "
                             "instances share one port, so each needs an address of its own")
        config["instance_addresses"] = addresses
    elif server is not None and None in (config["instances"] or []):
        raise ValueError("[hosts] instance_addresses is needed for a local instance when the "
                         "server is not local: the addresses the other hosts reach it at")
    if "balancer" in table:
        if not isinstance(table["balancer"], str):
            raise ValueError("[hosts] balancer must be one host: \"local\" or "
                             "ssh://[user@]host[:port]")
        config["balancer"] = Destination.parse(table["balancer"])
        config["balancer_on_server"] = False
        if config["balancer"] is None and server is not None:
            raise ValueError("[hosts] balancer = \"local\" needs the server local too "
                             "(server_address is then the address the hosts reach this "
                             "machine at)")
    balancer = server if "balancer" not in table else config["balancer"]
    config["balancer_address"] = balancer.host if balancer is not None else server_address
    return config


# --------------------------------------------------------------------------- one host

def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


class Host:
    """One machine of the run: this one ("local"), or an ssh destination reached through one
    master connection of the run's own."""

    def __init__(self, destination: Destination | None, config: HostsConfig, control_dir: Path,
                 run_name: str):
        self.destination = destination
        self.config = config
        self.name = destination.url if destination else LOCAL
        self.roles: set[str] = set()
        self.facts: dict = {}
        self.clock: dict = {}
        self.failure = ""
        self.placement: point.Placement | None = None
        self.calibration: dict | None = None  # the noise sentinel's, on a server host
        self._connected = False
        self._control = control_dir / (destination.label if destination else LOCAL)
        if destination is None:
            self.folder = Path(tempfile.mkdtemp(prefix="archbench-local-"))
            self.python = sys.executable
            self.helper = str(HARNESS / "remote.py")
        else:
            self.folder = Path(config.remote_dir) / f"{run_name}-{destination.label}"
            self.python = "python3"
            self.helper = str(self.folder / "harness" / "remote.py")

    @property
    def is_local(self) -> bool:
        return self.destination is None

    # -- commands there

    def _ssh_options(self) -> list[str]:
        options = ["-o", "BatchMode=yes",
                   "-o", f"ConnectTimeout={int(self.config.connect_timeout_s + 0.999)}",
                   "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3",
                   "-o", f"ControlPath={self._control}"]
        if self.config.identity_file:
            options += ["-i", self.config.identity_file, "-o", "IdentitiesOnly=yes"]
        for option in self.config.ssh_options:
            options += ["-o", option]
        return options

    def argv(self, command: list[str]) -> list[str]:
        """The local command line that runs `command` on this host."""
        if self.is_local:
            return command
        port = ["-p", str(self.destination.port)] if self.destination.port else []
        return ["ssh", *self._ssh_options(), *port, "-T", self.destination.login,
                shlex.join(command)]

    def run(self, command: list[str], timeout: float | None = None) -> str:
        """Runs `command` there and returns its stdout; HostError with a one-line reason if it
        fails, cannot connect or outlasts the timeout."""
        timeout = timeout or self.config.connect_timeout_s + 20
        try:
            out = subprocess.run(self.argv(command), stdin=subprocess.DEVNULL,
                                 capture_output=True, text=True, timeout=timeout,
                                 start_new_session=True)
        except subprocess.TimeoutExpired:
            raise HostError(f"{shlex.join(command[:2])} took more than {timeout:.0f} s") from None
        except OSError as error:
            raise HostError(f"cannot run {self.argv(command)[0]}: {error.strerror}") from None
        if out.returncode != 0:
            why = _last_line(out.stderr) or f"exit code {out.returncode}"
            if out.returncode == 255 and not self.is_local:
                raise HostError(f"ssh failed: {why}")
            if out.returncode == 127:  # the shell's "not found", or the loader's missing library
                raise HostError(f"cannot run {Path(command[0]).name}: {why}")
            raise HostError(f"{Path(command[0]).name} failed: {why}")
        return out.stdout

    def answer(self, command: list[str], timeout: float | None = None) -> str:
        """The last line `command` prints there (what a login script prints before it is not
        the answer)."""
        return _last_line(self.run(command, timeout))

    def popen(self, command: list[str]) -> subprocess.Popen:
        """A job there with pipes to and from it, in a session of its own here (Ctrl-C reaches
        the harness only; the harness ends the job by closing its stdin)."""
        return subprocess.Popen(self.argv(command), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                bufsize=1, start_new_session=True)

    def job(self, kind: str, cpus: list[int], where: str, command: list[str],
            sentinel: bool = False) -> list[str]:
        """remote.py's command line for a server or load job (with the noise sentinel's
        calibration, when asked and made)."""
        timing = ["--sentinel", f"{self.calibration['iterations']}:"
                                f"{self.calibration['reference_s']:.9f}"] \
            if sentinel and self.calibration else []
        return [self.python, self.helper, kind, "--cpus", ",".join(map(str, cpus)), where,
                *timing, "--", *command]

    def calibrate(self) -> None:
        """The noise sentinel's calibration on the server's CPUs there (sentinel.py): one
        reference time for all of them, as on one machine."""
        cpus = ",".join(map(str, self.placement.server_cpus))
        try:
            made = json.loads(self.answer([self.python, self.helper, "calibrate", "--cpus", cpus],
                                          timeout=self.config.connect_timeout_s + 60))
            self.calibration = {"iterations": made["iterations"],
                                "reference_s": min(made["reference_s"].values())}
        except (HostError, ValueError, KeyError) as error:
            self.calibration = None
            self.failure = f"host {self.name}: the noise sentinel could not calibrate: {error}"

    def program(self, name: str, local: Path) -> str:
        return str(local) if self.is_local else str(self.folder / "bin" / name)

    # -- set-up and tear-down

    def _connect(self) -> None:
        """Opens the master connection every later ssh and scp to this host goes through.
        With ControlPersist, ssh goes to the background once it has logged in (so its exit
        status says whether it could) and ends by itself after CONTROL_PERSIST_S without a
        session: even a harness killed outright leaves no ssh behind for long. close() ends it
        at once."""
        port = ["-p", str(self.destination.port)] if self.destination.port else []
        log = self._control.with_name(self._control.name + ".log")
        timeout = self.config.connect_timeout_s + 5
        with open(log, "w+", encoding="utf-8", errors="replace") as stderr:
            try:
                out = subprocess.run(
                    ["ssh", *self._ssh_options(), *port, "-M", "-N",
                     "-o", f"ControlPersist={CONTROL_PERSIST_S}", self.destination.login],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                    timeout=timeout, start_new_session=True)
            except subprocess.TimeoutExpired:
                raise HostError(f"cannot connect within {timeout:.0f} s") from None
            stderr.seek(0)
            why = _last_line(stderr.read())
        if out.returncode != 0:
            raise HostError(f"cannot connect: {why or f'exit code {out.returncode}'}")
        self._connected = True

    def _copy(self, files: list[Path], folder: Path) -> None:
        port = ["-P", str(self.destination.port)] if self.destination.port else []
        command = ["scp", "-q", *self._ssh_options(), *port, *map(str, files),
                   f"{self.destination.login}:{shlex.quote(str(folder))}/"]
        try:
            out = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                                 text=True, timeout=self.config.connect_timeout_s + 60,
                                 start_new_session=True)
        except subprocess.TimeoutExpired:
            raise HostError("copying the programs took more than "
                            f"{self.config.connect_timeout_s + 60:.0f} s") from None
        if out.returncode != 0:
            raise HostError(f"scp failed: {_last_line(out.stderr)}")

    def prepare(self, binaries: point.Binaries, expected: dict, revision_file: Path) -> None:
        """Connects, copies, and checks that this host can run the build (sets self.failure
        instead of raising)."""
        try:
            self._prepare(binaries, expected, revision_file)
        except HostError as error:
            self.failure = f"host {self.name}: {error}"
        except (ValueError, KeyError, TypeError, OSError) as error:  # an answer not understood
            self.failure = f"host {self.name}: unexpected answer while preparing it: {error!r}"

    def _prepare(self, binaries: point.Binaries, expected: dict, revision_file: Path) -> None:
        programs = {"archbench-server": binaries.server, "archbench-load": binaries.load}
        if not self.is_local:
            self._connect()
            self.run(["mkdir", "-p", str(self.folder / "bin"), str(self.folder / "harness"),
                      str(self.folder / "points")])
            self._copy(list(programs.values()), self.folder / "bin")
            self._copy(host_side_modules() + [revision_file],
                       self.folder / "harness")
        paths = [self.program(name, local) for name, local in programs.items()]
        try:
            self.facts = json.loads(self.answer([self.python, self.helper, "facts", *paths]))
        except HostError as error:
            if str(error).startswith(f"cannot run {Path(self.python).name}"):
                raise HostError("python3 is not installed (Debian package python3)") from None
            raise
        except ValueError:
            raise HostError("remote.py facts printed no JSON") from None
        self.clock = self._clock_offset()
        sent = json.loads(revision_file.read_text(encoding="utf-8"))
        if self.is_local:
            self.facts["revision"] = sent  # (remote.py is not run from a copy here)
        elif self.facts.get("revision") != sent:
            raise HostError("its revision.json is not the one this run copied")
        python = tuple(int(part) for part in self.facts["python"].split(".")[:2])
        if python < MIN_PYTHON:
            raise HostError(f"python3 is {self.facts['python']}, at least "
                            f"{'.'.join(map(str, MIN_PYTHON))} is needed")
        if self.facts["arch"] != expected["arch"]:
            raise HostError(f"it is {self.facts['arch']}, the programs are built for "
                            f"{expected['arch']} here")
        for path, name in zip(paths, programs):
            if self.facts["sha256"].get(path) != expected["sha256"][name]:
                raise HostError(f"its {name} is not this build's (SHA-256 differs)")
        self.run([paths[0], "--list"])
        self.run([paths[1], "--help"])

    def _clock_offset(self, tries: int = 5) -> dict:
        """Its clock against ours, from the quickest of a few `date` round trips: the host read
        its clock somewhere inside the round trip, so the offset is known to within half of
        it (a check that NTP does its job, not a correction: each host keeps its own clock)."""
        best = None
        for _ in range(tries):
            sent = time.time()
            there = float(self.answer(["date", "+%s.%N"]))
            received = time.time()
            if best is None or received - sent < best[1]:
                best = (there - (sent + received) / 2, received - sent)
        return {"offset_s": round(best[0], 4), "uncertainty_s": round(best[1] / 2, 4)}

    def as_meta(self) -> dict:
        return {"host": self.name, "roles": sorted(self.roles), "folder": str(self.folder),
                "machine": self.facts.get("machine"), "arch": self.facts.get("arch"),
                "python": self.facts.get("python"), "clock": self.clock,
                "revision": self.facts.get("revision"),
                "placement": self.placement.as_meta() if self.placement else None,
                "sentinel": self.calibration,
                "failure": self.failure or None}

    def close(self) -> None:
        """Removes this run's folder on the host and ends the master connection."""
        if self.is_local:
            shutil.rmtree(self.folder, ignore_errors=True)
            return
        if not self._connected:
            return
        try:
            self.run(["rm", "-rf", str(self.folder)], timeout=10)
        except HostError:
            pass
        subprocess.run(["ssh", *self._ssh_options(), "-O", "exit", self.destination.login],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=10)


# --------------------------------------------------------------------------- the run's hosts

class Hosts:
    """Every host of a run; one Host per destination (a host named twice is one machine)."""

    def __init__(self, config: HostsConfig, run_name: str):
        self.config = config
        self._control_dir = Path(tempfile.mkdtemp(prefix="archbench-ssh-"))
        by_destination: dict = {}

        def host(destination, role):
            if destination not in by_destination:
                by_destination[destination] = Host(destination, config, self._control_dir,
                                                   run_name)
            by_destination[destination].roles.add(role)
            return by_destination[destination]
        self.server = host(config.server, "server")
        self.load = [host(destination, "load") for destination in config.load]
        # A deployment's instances (in turn) and its balancer: by default the server host.
        self.instances = [host(destination, "instances") for destination in config.instances] \
            if config.instances is not None else [self.server]
        self.balancer = self.server if config.balancer_on_server else \
            host(config.balancer, "balancer")
        self.all = list(by_destination.values())
        self._preparing: list[threading.Thread] = []

    @property
    def failure(self) -> str:
        return "; ".join(h.failure for h in self.all if h.failure)

    def prepare(self, binaries: point.Binaries, experiment, resolve_placement,
                revision: dict, watch_noise: bool = True) -> list[str]:
        """Prepares every host at once; returns notes for the run (a host that failed, a clock
        far off). resolve_placement(experiment, allowed CPUs, roles) is bench.py's rule: a
        host with both roles gets the one-machine split, a host with one role all its CPUs
        unless the experiment's placement names them."""
        expected = {"arch": os.uname().machine,
                    "sha256": {"archbench-server": _sha256(binaries.server),
                               "archbench-load": _sha256(binaries.load)}}
        revision_file = self._control_dir / "revision.json"
        revision_file.write_text(json.dumps({**revision, "sha256": expected["sha256"]}, indent=1),
                                 encoding="utf-8")
        self._preparing = [threading.Thread(target=h.prepare, daemon=True,
                                            args=(binaries, expected, revision_file))
                           for h in self.all]
        for thread in self._preparing:
            thread.start()
        for thread in self._preparing:
            thread.join()
        notes = [h.failure for h in self.all if h.failure]
        for h in self.all:
            if h.failure:
                continue
            try:
                h.placement = _placement(experiment, h.facts["machine"]["cpus_allowed"],
                                         h.roles, resolve_placement)
            except ValueError as error:
                h.failure = f"host {h.name}: {error}"
                notes.append(h.failure)
            if h is self.server and watch_noise and not h.failure:
                h.calibrate()
                if h.failure:
                    notes.append(h.failure)
            if abs(h.clock.get("offset_s", 0)) - h.clock.get("uncertainty_s", 0) > CLOCK_LIMIT_S:
                notes.append(f"host {h.name}: its clock is {h.clock['offset_s']:+.3f} s off "
                             f"this machine's: the hosts' starts will not line up (run NTP)")
        return notes

    def place_instances(self, count: int) -> list[tuple[Host, str]]:
        """(host, address) of each of `count` instances: the [hosts] instances in turn, each at
        its instance_addresses entry or its host's address; ValueError, one line, when two
        would share an address (one port serves them all: archbench-load --port)."""
        placed = []
        for index in range(count):
            host = self.instances[index % len(self.instances)]
            addresses = self.config.instance_addresses
            if addresses is not None and index >= len(addresses):
                raise ValueError(f"{count} instances, but [hosts] instance_addresses names "
                                 f"{len(addresses)}")
            placed.append((host, addresses[index] if addresses is not None
                           else self.config.reached_at(host.destination)))
        for index, (_, address) in enumerate(placed):
            first = [a for _, a in placed].index(address)
            if first != index:
                raise ValueError(
                    f"instances {first + 1} and {index + 1} would both be at {address}: one port "
                    f"serves every instance, so each needs an address of its own ([hosts] "
                    f"instances names {len(self.instances)} host(s) for {count} instances; "
                    f"add hosts or instance_addresses)")
        return placed

    def as_meta(self) -> dict:
        return {"server": self.server.name, "load": [h.name for h in self.load],
                "instances": [h.name for h in self.instances], "balancer": self.balancer.name,
                "server_address": self.config.server_address,
                "server_bind": self.config.server_bind, "start_lead_s": self.config.start_lead_s,
                "machines": [h.as_meta() for h in self.all]}

    def close(self) -> None:
        for thread in self._preparing:  # (Ctrl-C while preparing: each call is bounded)
            thread.join()
        for h in self.all:
            try:
                h.close()
            except (OSError, subprocess.SubprocessError):
                pass
        shutil.rmtree(self._control_dir, ignore_errors=True)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _placement(experiment, allowed: list[int], roles: set[str], resolve_placement):
    try:
        return resolve_placement(experiment, allowed,
                                 tuple(sorted({PLACEMENT_ROLES[role] for role in roles})))[0]
    except ValueError as error:  # experiment.ExperimentError: a CPU this host lacks
        raise ValueError(f"placement: {error}") from None


# --------------------------------------------------------------------------- one job there

class Job:
    """remote.py running on a host: JSON lines from it, commands to it. Closing it closes its
    stdin: the job there kills what it started and exits."""

    def __init__(self, host: Host, command: list[str]):
        self.host = host
        self.port: int | None = None  # a server job's, once it listens
        self.process = host.popen(command)
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def send(self, line: str) -> None:
        try:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    def event(self, timeout: float, what: str) -> dict:
        """The job's next JSON line; PointFailed if none comes within `timeout` or it ended."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise point.PointFailed(f"{what} on {self.host.name}: no answer within "
                                        f"{timeout:.0f} s") from None
            if line is None:
                code = self.process.wait(timeout=5)
                why = _last_line(self.process.stderr.read()) or f"exit code {code}"
                raise point.PointFailed(f"{what} on {self.host.name} ended: {why}")
            try:
                return json.loads(line)
            except ValueError:
                continue  # not ours (a login banner)

    def close(self) -> None:
        try:
            self.process.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            self.process.wait(timeout=point.STOP_GRACE_S + 5)
        except subprocess.TimeoutExpired:
            point._kill_group(self.process)


# --------------------------------------------------------------------------- one point

def shares(connections: int, hosts: int) -> list[int]:
    """Connections per load host: as even as they go, the first hosts taking the remainder."""
    return [connections // hosts + (1 if i < connections % hosts else 0) for i in range(hosts)]


def _with_flags(command: list[str], values: dict[str, str]) -> list[str]:
    """`command` with each flag's value replaced (appended when it is not there)."""
    command = list(command)
    for flag, value in values.items():
        if flag in command:
            command[command.index(flag) + 1] = value
        else:
            command += [flag, value]
    return command


def _scaled(command: list[str], share: float, idle: int | None = None) -> list[str]:
    """One host's part of the open-loop rate (its share of the connections), and its `idle`
    connections (the hosts' parts of --idle, which add up to it)."""
    values = {}
    if "--rate" in command:
        values["--rate"] = f"{float(command[command.index('--rate') + 1]) * share:g}"
    if "--rate-steps" in command:
        steps = command[command.index("--rate-steps") + 1].split(",")
        values["--rate-steps"] = ",".join(
            f"{max(float(rate) * share, 1.0):.0f}:{seconds}"
            for rate, seconds in (step.split(":") for step in steps))
    if "--idle" in command and idle is not None:
        values["--idle"] = str(idle)
    return _with_flags(command, values)


@dataclass
class LoadRun:
    host: Host
    index: int          # 1-based, in [hosts] load order
    connections: int
    job: Job | None = None
    result: dict | None = None


def _start_loads(hosts: Hosts, binaries: point.Binaries, spec, experiment, port: int,
                 start_at: float, capacity: float | None, label: str,
                 probe_s: float | None = None, address: str | None = None,
                 flags: list[str] = ()) -> list[LoadRun]:
    """Every load host's archbench-load, connecting to `address` (default: server_address),
    with `flags` (pairs of a flag and its value) beside the point's own."""
    runs = [LoadRun(h, i, c) for i, (h, c) in
            enumerate(zip(hosts.load, shares(spec.connections, len(hosts.load))), 1) if c > 0]
    idle = shares(spec.workload.idle, len(runs))
    for run, idle_part in zip(runs, idle):
        prefix = str(_points_folder(run.host) / f"{label}.load{run.index}")
        command = point.load_command(binaries, spec, experiment, run.host.placement, port,
                                     Path(prefix + ".json"), Path(prefix + ".hgrm"), capacity)
        command[0] = run.host.program("archbench-load", binaries.load)
        command = _with_flags(command, {
            **dict(zip(flags[::2], flags[1::2])),
            "--host": address or hosts.config.server_address, "-c": str(run.connections),
            "-t": str(min(run.host.placement.load_threads, run.connections)),
            "--histogram": prefix + ".histogram", "--start-at": f"{start_at:.3f}"})
        if probe_s is not None:  # the closed-loop capacity probe (offered.py)
            command = _with_flags(command, {"-d": str(probe_s), "--warmup": "0.3"})
        command = _scaled(command, run.connections / spec.connections, idle_part)
        run.job = Job(run.host, run.host.job("load", run.host.placement.load_cpus, prefix,
                                             command))
    return runs


def _finish_loads(runs: list[LoadRun], deadline: float) -> None:
    for run in runs:
        run.result = run.job.event(max(0.1, deadline - time.monotonic()),
                                   f"load generator {run.index}")
        run.job.close()


def _probe_capacity(hosts, binaries, spec, experiment, port, raw: Path) -> float:
    key = offered._key(spec)
    if key in offered._capacities:
        return offered._capacities[key]
    start_at = time.time() + hosts.config.start_lead_s
    runs = _start_loads(hosts, binaries, spec, experiment, port, start_at, None,
                        f"{spec.label}.capacity", probe_s=experiment.capacity_probe_s)
    try:
        _finish_loads(runs, time.monotonic() + hosts.config.start_lead_s +
                      experiment.capacity_probe_s + 0.3 + experiment.point_timeout_s)
    finally:
        for run in runs:
            run.job.close()
    capacity = 0.0
    for run in runs:
        try:
            capacity += float(json.loads(run.result["files"]["json"])["throughput_rps"])
        except (TypeError, ValueError, KeyError):
            pass
    (raw / f"{spec.label}.capacity.json").write_text(
        json.dumps({"throughput_rps": capacity, "hosts": len(runs)}), encoding="utf-8")
    if capacity > 0:
        offered._capacities[key] = capacity
    return capacity


def merged_result(results_by_host: list[dict], merged: dict) -> dict:
    """One load generator's JSON for the whole point: the merged latency (and service time),
    throughput, requests and errors by kind summed over the hosts, the busiest host's CPU."""
    def total(key):
        return sum(r.get(key) or 0 for r in results_by_host)
    timeline = []
    for entries in zip(*[r.get("timeline") or [] for r in results_by_host]):
        # Per-slice percentiles cannot be merged from the slices' summaries: left out.
        timeline.append({"t": entries[0].get("t"), "ok": sum(e.get("ok", 0) for e in entries),
                         "errors": sum(e.get("errors", 0) for e in entries)})
    addresses: dict[str, dict] = {}  # archbench-load's per-address counts, summed by address
    for r in results_by_host:
        for entry in r.get("hosts") or []:
            into = addresses.setdefault(entry.get("host"), {
                "host": entry.get("host"), "requests_ok": 0,
                "errors": {kind: 0 for kind in ERROR_KINDS}})
            into["requests_ok"] += entry.get("requests_ok") or 0
            for kind in ERROR_KINDS:
                into["errors"][kind] += (entry.get("errors") or {}).get(kind, 0)
    idle = [r.get("idle") or {} for r in results_by_host]
    first_closes = [i["first_close_s"] for i in idle if i.get("first_close_s") is not None]
    return {
        "merged_from_hosts": len(results_by_host),
        "requests_ok": total("requests_ok"),
        "throughput_rps": total("throughput_rps"),
        "errors": {kind: sum((r.get("errors") or {}).get(kind, 0) for r in results_by_host)
                   for kind in ERROR_KINDS},
        "latency_us": merged.get("latency_us", {}),
        **({"service_us": merged["service_us"]} if merged.get("service_us") else {}),
        "count": merged.get("count"),
        "duration_s": max(r.get("duration_s") or 0 for r in results_by_host),
        "in_flight_at_end": total("in_flight_at_end"),
        "start_late_s": max(r.get("start_late_s") or 0 for r in results_by_host),
        "loadgen": {"cpu_util": max((r.get("loadgen") or {}).get("cpu_util") or 0
                                    for r in results_by_host),
                    "cpu_s": sum((r.get("loadgen") or {}).get("cpu_s") or 0
                                 for r in results_by_host),
                    "saturated": any((r.get("loadgen") or {}).get("saturated")
                                     for r in results_by_host)},
        "timeline": timeline,
        "hosts": list(addresses.values()),
        "idle": {key: sum(i.get(key) or 0 for i in idle)
                 for key in ("requested", "opened", "failed", "closed_by_server")}
        | {"first_close_s": min(first_closes) if first_closes else None},
    }


def merge_histograms(load_binary: Path, files: list[Path], json_path: Path,
                     hgrm_path: Path) -> dict:
    """archbench-load --merge-histograms: the exact merge, by the load generator's own code."""
    command = [str(load_binary), "--merge-histograms", ",".join(map(str, files)),
               "--json", str(json_path), "--hgrm", str(hgrm_path)]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise point.PointFailed("merging the histograms took more than 60 s") from None
    if out.returncode != 0:
        raise point.PointFailed(f"archbench-load --merge-histograms failed: "
                                f"{_last_line(out.stderr) or out.returncode}")
    try:
        return json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise point.PointFailed("archbench-load --merge-histograms wrote no JSON") from None


def run_point(hosts: Hosts, binaries: point.Binaries, spec, experiment, raw: Path,
              watch_noise: bool = True) -> dict:
    """One point across hosts; always a row, as point.run_point. With watch_noise, the noise
    sentinel times the server's cores on its host before and after the point, and a point
    disturbed there is marked (the load hosts' cores are not timed)."""
    if deployment.applies(spec.workload, experiment):
        return run_deployment(hosts, binaries, spec, experiment, raw)
    row = point.base_row(spec, experiment)
    if hosts.failure:
        row["reason"] = hosts.failure
        return row
    server = None
    loads: list[LoadRun] = []
    try:
        server = _start_server(hosts, binaries, spec, experiment, raw)
        port = server.port
        capacity = None
        if offered.needs_capacity(spec.workload):
            capacity = _probe_capacity(hosts, binaries, spec, experiment, port, raw)
            if capacity <= 0:
                raise point.PointFailed("the closed-loop probe of its capacity answered nothing")
            row["capacity_rps"] = capacity
        row["offered_rps"] = offered.rate_flags(spec.workload, capacity)[1]
        start_at = time.time() + hosts.config.start_lead_s
        server.send(f"window {start_at + experiment.warmup_s:.6f}")
        loads = _start_loads(hosts, binaries, spec, experiment, port, start_at, capacity,
                             spec.label)
        deadline = time.monotonic() + hosts.config.start_lead_s + experiment.warmup_s + \
            experiment.duration_s + experiment.load.get("timeout_ms", 1000) / 1000 + \
            experiment.point_timeout_s
        _finish_loads(loads, deadline)
        server.send("end")
        measured = server.event(point.STOP_GRACE_S + 15, "server")
        server.close()
        (raw / f"{spec.label}.server.stderr").write_text(measured["stderr"], encoding="utf-8")
        late = _fill_from_loads(row, loads, binaries, spec, experiment, raw)
        _fill_server_cost(row, measured, hosts, loads, late)
        if watch_noise:
            row["machine_slowdown"] = measured.get("machine_slowdown")
            row["disturbed"] = sentinel.is_disturbed(row["machine_slowdown"],
                                                     row.get("foreign_cpu_share"))
        return row
    except point.PointFailed as failure:
        row["status"] = "failed"
        row["reason"] = str(failure)
        return row
    finally:
        for run in loads:
            if run.job is not None:
                run.job.close()
        if server is not None:
            server.close()


def _start_server(hosts: Hosts, binaries, spec, experiment, raw: Path, host: Host | None = None,
                  bind: str | None = None, port: int = 0, stem: str | None = None,
                  sentinel: bool = True) -> Job:
    """archbench-server under remote.py on `host` (default: the server host), binding `bind`
    (default: server_bind) and `port` (0: any); its stderr there is STEM.server.stderr (default
    stem: the point's label). The job, once the server listens (its port in job.port)."""
    host = host or hosts.server
    stem = stem or spec.label
    command = point.server_command(binaries, spec, experiment, host.placement,
                                   bind or hosts.config.server_bind, port)
    command[0] = host.program("archbench-server", binaries.server)
    stderr = _points_folder(host) / f"{stem}.server.stderr"
    job = Job(host, host.job("server", host.placement.server_cpus, str(stderr), command,
                             sentinel=sentinel))
    try:
        started = job.event(point.STARTUP_TIMEOUT_S + hosts.config.connect_timeout_s + 5,
                            "server")
        if started.get("event") == "failed":
            (raw / f"{stem}.server.stderr").write_text(started.get("stderr", ""),
                                                       encoding="utf-8")
            raise point.PointFailed(f"{started['reason']} (on {host.name})")
        job.port = int(started["port"])
        return job
    except BaseException:
        job.close()
        raise


def _points_folder(host: Host) -> Path:
    """Where a point's files go on the host, before they come back."""
    return host.folder if host.is_local else host.folder / "points"


def _fill_from_loads(row: dict, loads: list[LoadRun], binaries, spec, experiment,
                     raw: Path) -> list[str]:
    """Writes each load host's files and the merged ones into raw/ and fills the row's load
    figures; returns a note for each host that started late."""
    by_host = []
    histograms = []
    for run in loads:
        stem = raw / f"{spec.label}.load{run.index}"
        files = run.result.get("files") or {}
        for kind, text in files.items():
            if text is not None:
                Path(f"{stem}.{kind}").write_text(text, encoding="utf-8")
        if run.result.get("exit") == 2:
            raise point.PointFailed(f"load generator on {run.host.name} refused its command "
                                    f"line: {_last_line(files.get('txt') or '')}")
        try:
            by_host.append(json.loads(files["json"]))
        except (TypeError, ValueError):
            raise point.PointFailed(f"load generator on {run.host.name} wrote no JSON "
                                    f"(exit code {run.result.get('exit')}): "
                                    f"{_last_line(files.get('txt') or '')}") from None
        if files.get("histogram") is None:
            raise point.PointFailed(f"load generator on {run.host.name} wrote no --histogram")
        histograms.append(Path(f"{stem}.histogram"))
    merged = merge_histograms(binaries.load, histograms, raw / f"{spec.label}.merged.json",
                              raw / f"{spec.label}.hgrm")
    result = merged_result(by_host, merged)
    result["load_hosts"] = [{"load_host": run.host.name, "connections": run.connections,
                        "requests_ok": r.get("requests_ok"),
                        "throughput_rps": r.get("throughput_rps"), "errors": r.get("errors"),
                        "start_late_s": r.get("start_late_s")}
                       for run, r in zip(loads, by_host)]
    (raw / f"{spec.label}.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    point._fill_from_load(row, result)
    row.update(offered.idle_fields(result))
    row["slo_met"] = offered.slo_met(row, experiment.slo_us)
    row["start_late_s"] = result["start_late_s"]
    row["load_hosts"] = len(loads)
    return [f"load host {run.host.name} started {r['start_late_s'] * 1e3:.0f} ms late "
            f"(a longer start_lead_s?)" for run, r in zip(loads, by_host)
            if (r.get("start_late_s") or 0) > CLOCK_LIMIT_S]


def _fill_server_cost(row: dict, measured: dict, hosts: Hosts, loads: list[LoadRun],
                      notes: list[str]) -> None:
    """The server's cost over the window, from what remote.py read on its host, with the
    local point's own rules (procstat.py, point._cross_check)."""
    notes = ([measured["stop_note"]] if measured.get("stop_note") else []) + notes
    if measured.get("died") is not None:
        raise point.PointFailed(f"server died during the run "
                                f"({point._exit_description(measured['died'])}) on "
                                f"{hosts.server.name}: {_last_line(_no_rusage(measured['stderr']))}")
    workers = procstat.parse_worker_connections(measured["stderr"])
    if workers is not None:
        row["worker_connections"] = " ".join(str(n) for n in workers)
    peaks = measured["peaks"]
    row.update(server_rss_kb=peaks["rss_kb"], server_pss_kb=peaks["pss_kb"],
               server_threads=peaks["threads"], server_processes=peaks["processes"])
    window = measured.get("window")
    requests = row.get("requests_ok") or 0
    if window is None:
        raise point.PointFailed("the load ended before the measured window began")
    reports = procstat.parse_rusage_reports(measured["stderr"])
    at_start = procstat.GroupSample(**window["at_start"])
    at_end = procstat.GroupSample(**window["at_end"])
    window_s = window["window_s"]
    asked_at = window.get("asked_at")
    cpu_user, cpu_sys = procstat.window_cpu(at_start, at_end, reports, window_s, asked_at)
    row["cpu_accounting"] = procstat.cpu_accounting(reports, window_s, asked_at)
    # The cross-check and foreign CPU share on the server's host: its cores, less the server,
    # less the load generators that run on that host too.
    on_server_host = [run for run in loads if run.host is hosts.server]
    load_cpu_s = sum((json.loads(run.result["files"]["json"]).get("loadgen") or {})
                     .get("cpu_s") or 0 for run in on_server_host)
    placement = point.Placement(hosts.server.placement.server_cpus,
                                hosts.server.placement.load_cpus, 0)
    cores = [{int(cpu): tuple(times) for cpu, times in window[key].items()}
             for key in ("cores_at_start", "cores_at_end")]
    point._cross_check(row, placement, cores[0], cores[1], cpu_user + cpu_sys, load_cpu_s)
    if row["cpu_accounting"] == "exact":
        row.update(server_user_s=cpu_user, server_sys_s=cpu_sys)
        if requests > 0:
            row["server_cpu_us_per_req"] = (cpu_user + cpu_sys) * 1e6 / requests
            row["ctx_switches_per_req"] = (procstat.rusage_switches(reports[-1])
                                           - procstat.rusage_switches(reports[-2])) / requests
    else:
        notes.append(f"server CPU not written: {row['cpu_accounting']}")
    row["window_s"] = window_s
    if requests > 0:
        row["runqueue_us_per_req"] = window["runqueue_ns"] / 1e3 / requests
    if requests == 0:
        notes.insert(0, "no request succeeded (server hung or refused every connection)")
    row["status"] = "ok" if requests > 0 else "failed"
    row["reason"] = "; ".join(notes)


def _no_rusage(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("rusage "))


# --------------------------------------------------------------------------- a deployment

@dataclass
class InstanceLife:
    """One life of one instance of a deployment point on its host: a remote.py server job (a
    restart is a second life, born in the window)."""
    index: int          # 0-based: the instance's number less one
    host: Host
    address: str        # what the clients (or HAProxy) connect to
    job: Job
    stem: str           # raw/STEM.server.stderr
    born_wall: float | None = None
    result: dict | None = None


class _LoadsRunning:
    """The load jobs as deployment._sleep_until sees a load generator: running while any is."""

    def __init__(self, loads: list[LoadRun]):
        self.loads = loads

    def poll(self) -> int | None:
        running = any(run.job.process.poll() is None for run in self.loads)
        return None if running else 0


def run_deployment(hosts: Hosts, binaries: point.Binaries, spec, experiment, raw: Path) -> dict:
    """One deployment point (deployment.py) across hosts: each instance an archbench-server under
    remote.py on its host, HAProxy under remote.py on the balancer host, the load from the load
    hosts; the kill and the restart of the first instance through its job. Always a row."""
    the_plan = deployment.plan(spec.workload, experiment)
    row = deployment.base_row(spec, experiment, the_plan)
    lives: list[InstanceLife] = []
    balancer: Job | None = None
    loads: list[LoadRun] = []
    try:
        if hosts.failure:
            raise point.PointFailed(hosts.failure)
        try:
            placed = hosts.place_instances(the_plan.instances)
        except ValueError as error:
            raise point.PointFailed(str(error)) from None
        port = _start_instances(hosts, binaries, spec, experiment, raw, placed, lives)
        if the_plan.balancer:
            balancer = _start_balancer(hosts, spec, experiment, the_plan, lives, port, raw)
        start_at = time.time() + hosts.config.start_lead_s
        window_wall = start_at + experiment.warmup_s
        for job in [life.job for life in lives] + ([balancer] if balancer else []):
            job.send(f"window {window_wall:.6f}")
        loads = _start_loads(
            hosts, binaries, spec, experiment, balancer.port if balancer else port, start_at,
            None, spec.label, flags=deployment.load_flags(the_plan, start_at),
            address=hosts.config.balancer_address if balancer
            else ",".join(life.address for life in lives))
        row["offered_rps"] = offered.rate_flags(spec.workload, None)[1]
        events: list[dict] = []
        serving = _failover(hosts, binaries, spec, experiment, raw, the_plan, lives, balancer,
                            port, window_wall, events, loads)
        _finish_loads(loads, time.monotonic() + hosts.config.start_lead_s +
                      experiment.warmup_s + experiment.duration_s +
                      experiment.load.get("timeout_ms", 1000) / 1000 + experiment.point_timeout_s)
        seen = []  # when the revived instance served, as its host or HAProxy saw it
        for life in lives:
            if life.result is None:
                life.result = _end(life.job, f"instance {life.address}", seen)
            (raw / f"{life.stem}.server.stderr").write_text(life.result["stderr"],
                                                            encoding="utf-8")
        lb = _end(balancer, "haproxy", seen) if balancer else None
        if seen:
            serving["serving_wall"] = seen[0]
            events.append({"event": "serving", "instance": lives[0].address, "wall": seen[0]})
        for life in lives:
            if life.result.get("died") is not None and "killed_wall" not in life.result:
                raise point.PointFailed(
                    f"instance {life.address} died during the run "
                    f"({point._exit_description(life.result['died'])}) on {life.host.name}: "
                    f"{_last_line(_no_rusage(life.result['stderr']))}")
        if lb is not None and lb.get("died") is not None:
            raise point.PointFailed(f"haproxy died during the run on {hosts.balancer.name}: "
                                    f"{lb.get('stderr_tail')}")
        notes = _fill_from_loads(row, loads, binaries, spec, experiment, raw)
        result = json.loads((raw / f"{spec.label}.json").read_text(encoding="utf-8"))
        figures = [_life_figures(life, window_wall) for life in lives
                   if life.result.get("window")]
        row["window_s"] = max((f["window_s"] for f in figures), default=None)
        notes += deployment.instance_figures(row, figures, result,
                                             (lb or {}).get("servers") or {}, raw, spec)
        if lb is not None and lb.get("lb_cpu_s") is not None:
            deployment.balancer_figures(row, lb["lb_cpu_s"], lb["lb_rss_kb"])
        # The events in the load generators' window: the latest started late by start_late_s.
        notes += deployment.finish_row(row, the_plan, result, events, serving,
                                       window_wall + float(result.get("start_late_s") or 0),
                                       raw, spec)
        notes += [life.result["stop_note"] for life in lives if life.result.get("stop_note")]
        if row["requests_ok"] == 0:
            notes.insert(0, "no request succeeded (every instance hung or refused?)")
        row["status"] = "ok" if row["requests_ok"] > 0 else "failed"
        row["reason"] = "; ".join(notes)
        return row
    except point.PointFailed as failure:
        row["status"] = "failed"
        row["reason"] = str(failure)
        return row
    finally:  # (a revived instance's life shares the job of its first)
        for job in {id(j): j for j in [run.job for run in loads] + [life.job for life in lives]
                    + [balancer] if j is not None}.values():
            job.close()


def _start_instances(hosts: Hosts, binaries, spec, experiment, raw: Path,
                     placed: list[tuple[Host, str]], lives: list[InstanceLife]) -> int:
    """Starts every instance on its host (appending each to `lives` at once, so that an
    interrupted start leaves none behind), the first on any free port and the others on that
    one; a port taken on another host means another try. Returns the port."""
    for attempt in range(deployment.PORT_ATTEMPTS):
        port = 0
        try:
            for index, (host, address) in enumerate(placed):
                stem = f"{spec.label}.i{index + 1}"
                job = _start_server(hosts, binaries, spec, experiment, raw, host,
                                    hosts.config.bind_for(address), port, stem, sentinel=False)
                lives.append(InstanceLife(index, host, address, job, stem))
                port = job.port
            return port
        except point.PointFailed as failure:
            for life in lives:
                life.job.close()
            lives.clear()
            if "in use" not in str(failure) or attempt == deployment.PORT_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _start_balancer(hosts: Hosts, spec, experiment, the_plan, lives: list[InstanceLife],
                    port: int, raw: Path) -> Job:
    """HAProxy under remote.py on the balancer host, in front of the instances' addresses; its
    configuration (haproxy.py's, written there) comes back into raw/LABEL.haproxy.cfg."""
    host = hosts.balancer
    cpus = deployment.balancer_cpus(experiment, host.placement,
                                    host.facts["machine"]["cpus_allowed"])[0]
    settings = {"binary": experiment.haproxy.get("binary", "haproxy"),
                "bind": hosts.config.bind_for(hosts.config.balancer_address),
                "backends": [(f"i{life.index + 1}", life.address, port) for life in lives],
                "balance": the_plan.balance, "check_inter_ms": the_plan.check_inter_ms,
                "maxconn": spec.connections + spec.workload.idle + 64, "label": spec.label}
    job = Job(host, host.job("balancer", cpus, str(_points_folder(host)),
                             [json.dumps(settings)]))
    try:
        started = job.event(haproxy.STARTUP_TIMEOUT_S + hosts.config.connect_timeout_s + 5,
                            "haproxy")
        if started.get("event") == "failed":
            raise point.PointFailed(f"{started['reason']} (on {host.name})")
        job.port = int(started["port"])
        (raw / f"{spec.label}.haproxy.cfg").write_text(started["config"], encoding="utf-8")
        return job
    except BaseException:
        job.close()
        raise


def _failover(hosts: Hosts, binaries, spec, experiment, raw: Path, the_plan,
              lives: list[InstanceLife], balancer: Job | None, port: int, window_wall: float,
              events: list[dict], loads: list[LoadRun]) -> dict:
    """The kill (remote.py's `kill`: the first instance's window ends and its session is
    SIGKILLed on its host) and the restart (its `restart`: the same server started again there
    by the same job, on the same address and port), on time; then the revived instance is
    watched, on its host or by HAProxy, until the point ends. Returns {"restart_wall": ...}
    once restarted."""
    running = _LoadsRunning(loads)
    if the_plan.kill_at_s is None or \
            not deployment._sleep_until(window_wall + the_plan.kill_at_s, running):
        return {}
    victim = lives[0]
    victim.job.send("kill")
    victim.result = victim.job.event(point.STOP_GRACE_S + 15, f"instance {victim.address}")
    if "killed_wall" not in victim.result:
        raise point.PointFailed(f"instance {victim.address} on {victim.host.name} was not "
                                f"killed: its window had not begun")
    events.append({"event": "kill", "instance": victim.address,
                   "wall": victim.result["killed_wall"]})
    if the_plan.restart_after_s is None or not deployment._sleep_until(
            victim.result["killed_wall"] + the_plan.restart_after_s, running):
        return {}
    restarted = time.time()
    stem = f"{spec.label}.i1.restarted"
    victim.job.send(f"restart {_points_folder(victim.host) / f'{stem}.server.stderr'}")
    started = victim.job.event(point.STARTUP_TIMEOUT_S + 5, f"instance {victim.address}")
    if started.get("event") == "failed":
        (raw / f"{stem}.server.stderr").write_text(started.get("stderr", ""), encoding="utf-8")
        raise point.PointFailed(f"the restart of instance {victim.address} failed: "
                                f"{started['reason']} (on {victim.host.name})")
    lives.append(InstanceLife(0, victim.host, victim.address, victim.job, stem,
                              born_wall=restarted))
    events.append({"event": "restart", "instance": victim.address, "wall": restarted})
    events.append({"event": "listening", "instance": victim.address, "wall": time.time()})
    if balancer is not None:
        balancer.send("watch i1")
    elif _is_ipv4(victim.address):  # (its connections, in the kernel's table on its host)
        victim.job.send(f"watch {victim.address} {port}")
    return {"restart_wall": restarted}


def _end(job: Job, what: str, seen: list[float]) -> dict:
    """Ends an instance's or HAProxy's window and returns its result; a `serving` event that
    came before it (the revived instance's first client) goes into `seen`."""
    job.send("end")
    while True:
        event = job.event(point.STOP_GRACE_S + 15, what)
        if event.get("event") != "serving":
            return event
        seen.append(event["wall"])


def _life_figures(life: InstanceLife, window_wall: float) -> dict:
    """deployment.life_figures from what remote.py read on the instance's host."""
    measured = life.result
    window = measured["window"]
    born_s = life.born_wall - window_wall if life.born_wall is not None else None
    killed_s = measured["killed_wall"] - window_wall if "killed_wall" in measured else None
    reports = deployment.window_reports(procstat.parse_rusage_reports(measured["stderr"]),
                                        born_s)
    figures = deployment.life_figures(
        life.index, life.address, measured.get("pid"), born_s, killed_s,
        f"{life.stem}.server.stderr", window["window_s"],
        procstat.GroupSample(**window["at_start"]), procstat.GroupSample(**window["at_end"]),
        reports, window["asked_at"], measured["peaks"])
    return {**figures, "host": life.host.name, "window_s": window["window_s"]}
