"""A real OpenSSH server of the test's own, so that the harness's hosts are real ssh
destinations on this machine: one sshd (Debian's /usr/sbin/sshd) listening on 127.0.0.2,
127.0.0.3, ... each at a free port, with throwaway host and user keys made in a temporary
folder, started in the foreground (-D) and stopped by the test.

    with TestSshd(addresses=3) as sshd:
        sshd.urls            # ["ssh://root@127.0.0.2:40123", ...]
        sshd.hosts_toml()    # identity_file and ssh_options for an experiment's [hosts]

TestSshd.unavailable() says why sshd cannot run here at all (the one reason to skip);
TestSshd.for_test() starts one for a test class, or skips it with that reason.
"""
from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

SSHD = "/usr/sbin/sshd"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"


def _free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def _listening(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5) as connection:
            return connection.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    children = []
    for name in os.listdir("/proc"):
        try:
            text = Path(f"/proc/{name}/stat").read_text()
        except (OSError, ValueError):
            continue
        if name.isdigit() and int(text[text.rfind(")") + 2:].split()[1]) == pid:
            children.append(int(name))
    return children


class TestSshd:
    def __init__(self, addresses: int = 3):
        self.folder = Path(tempfile.mkdtemp(prefix="archbench-sshd-"))
        self.user = getpass.getuser()
        self.addresses = [f"127.0.0.{2 + i}" for i in range(addresses)]
        self.ports: list[int] = []
        self.process: subprocess.Popen | None = None
        self.identity = self.folder / "user_key"
        self.known_hosts = self.folder / "known_hosts"

    @staticmethod
    def unavailable() -> str:
        """Why no sshd can run here, or ""."""
        for program in (SSHD, SFTP_SERVER, shutil.which("ssh"), shutil.which("scp"),
                        shutil.which("ssh-keygen")):
            if not program or not os.access(program, os.X_OK):
                return f"{program or 'ssh, scp or ssh-keygen'} is not installed " \
                       "(Debian packages openssh-server and openssh-client)"
        return ""

    @classmethod
    def for_test(cls, addresses: int = 3) -> "TestSshd":
        """A started sshd for a test class (its setUpClass); unittest.SkipTest where none can
        run here (the one reason to skip)."""
        why = cls.unavailable()
        if why:
            raise unittest.SkipTest(why)
        sshd = cls(addresses=addresses)
        try:
            return sshd.start()
        except RuntimeError as error:
            raise unittest.SkipTest(str(error)) from None

    def _keygen(self, path: Path) -> str:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "archbench-test",
                        "-f", str(path)], check=True, capture_output=True, timeout=30)
        return (path.with_suffix(".pub")).read_text().strip()

    def start(self) -> "TestSshd":
        host_key = self.folder / "host_key"
        host_public = self._keygen(host_key)
        user_public = self._keygen(self.identity)
        (self.folder / "authorized_keys").write_text(user_public + "\n")
        self.ports = [_free_port(address) for address in self.addresses]
        self.known_hosts.write_text("".join(
            f"[{address}]:{port} {host_public}\n"
            for address, port in zip(self.addresses, self.ports)))
        config = self.folder / "sshd_config"
        config.write_text("".join(
            f"ListenAddress {address}:{port}\n"
            for address, port in zip(self.addresses, self.ports)) + f"""\
HostKey {host_key}
PidFile {self.folder / "sshd.pid"}
AuthorizedKeysFile {self.folder / "authorized_keys"}
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
MaxSessions 100
MaxStartups 100
Subsystem sftp {SFTP_SERVER}
# Debian's bash reads ~/.bashrc for a command run over ssh (its shell level 1); a heavy one (a
# version manager's `init`) then costs each session a second. The harness's ssh calls do not
# need it: SHLVL=1 makes bash count itself level 2, and skip it.
SetEnv SHLVL=1
""")
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation
        self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=open(self.folder / "sshd.log", "wb"),
                                        start_new_session=True)
        deadline = time.monotonic() + 20
        while not all(_listening(a, p) for a, p in zip(self.addresses, self.ports)):
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.folder / "sshd.log").read_text(errors="replace").strip()
                self.stop()
                raise RuntimeError(f"sshd did not start: {log.splitlines()[-1] if log else '?'}")
            time.sleep(0.05)
        return self

    @property
    def urls(self) -> list[str]:
        return [f"ssh://{self.user}@{address}:{port}"
                for address, port in zip(self.addresses, self.ports)]

    def hosts_toml(self) -> str:
        """The [hosts] lines that make ssh use the test's keys (not the user's own)."""
        return (f'identity_file = "{self.identity}"\n'
                f'ssh_options = ["UserKnownHostsFile={self.known_hosts}", '
                f'"StrictHostKeyChecking=yes", "GlobalKnownHostsFile=/dev/null"]\n')

    def stop(self) -> None:
        """Stops sshd (its sessions' processes end with their connections)."""
        if self.process is not None and self.process.poll() is None:
            for pid in _children(self.process.pid):  # each connection's sshd
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "TestSshd":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
