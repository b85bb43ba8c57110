"""Every external program (the seven Python designs and go-goroutines), started by
archbench-server with --protocol http on a real socket, answers raw HTTP exchanges byte for
byte as servers/python/zen.py's HttpConversation does (tests/python/test_http.py holds its
rules): pipelined, split, Connection: close, HTTP/1.0, refusals, the head limit."""
import os
import signal
import socket
import subprocess
import sys
import time
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "servers" / "python"))

import zen  # noqa: E402

BUILD = Path(os.environ.get("ARCHBENCH_BUILD", ROOT / "build"))
SERVER = BUILD / "bin" / "archbench-server"
EXCHANGES = [
    [b"GET /beautiful HTTP/1.1\r\nHost: x\r\n\r\n"],
    [b"GET /simple HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\nGET /explicit HTTP/1.1\r\n\r\n"],
    [b"GET /simp", b"le HTTP/1.1\r\nHo", b"st: x\r\n\r\n"],
    [b"GET /beautiful HTTP/1.1\r\nConnection: close\r\n\r\nGET /simple HTTP/1.1\r\n\r\n"],
    [b"GET /beautiful HTTP/1.0\r\n\r\n"],
    [b"GET /beautiful HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /simple HTTP/1.0\r\n\r\n"],
    [b"POST /beautiful HTTP/1.1\r\n\r\n"],
    [b"GET /beautiful HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"],
    [b"GET /beautiful HTTP/1.1\r\nX: " + b"a" * 3000],
    [b"GARBAGE\r\n\r\n"],
    [b"\r\n\nGET /beautiful HTTP/1.1\nA: b\n\n"],
]


def programs() -> list[str]:
    names = sorted(p.stem for p in (ROOT / "servers" / "external").glob("*.toml"))
    return [n for n in names if n.startswith("py-") or (BUILD / "bin" / n).is_file()]


def expected(reads: list[bytes]) -> bytes:
    conversation, output = zen.HttpConversation(zen.Workload(protocol="http")), b""
    for data in reads:
        answers, status = conversation.on_input(data)
        output += answers
        if status is not zen.FrameStatus.OK:
            break
    return output


def exchange(port: int, reads: list[bytes]) -> bytes:
    """Sends each read (a pause between them, so that they arrive apart), then its FIN; all
    that came back until the server closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        for data in reads:
            client.sendall(data)
            time.sleep(0.05)
        client.shutdown(socket.SHUT_WR)
        output = b""
        while data := client.recv(65536):
            output += data
    return output


class ProgramsSpeakHttp(unittest.TestCase):
    def test_every_external_program_answers_as_the_protocol_module_does(self):
        if not SERVER.is_file():
            self.skipTest(f"{SERVER} is not built")
        usage = subprocess.run([str(SERVER), "--help"], capture_output=True, text=True)
        if "--protocol" not in usage.stdout + usage.stderr:
            self.skipTest("this archbench-server has no --protocol")
        for name in programs():
            with self.subTest(name):
                server = subprocess.Popen([str(SERVER), "--arch", name, "--port", "0",
                                           "--protocol", "http", "--threads", "2",
                                           "--processes", "2"], stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, start_new_session=True)
                try:
                    port = int(server.stdout.readline().decode().rsplit(":", 1)[1])
                    for reads in EXCHANGES:
                        self.assertEqual(exchange(port, reads), expected(reads), reads[0][:40])
                finally:
                    os.killpg(server.pid, signal.SIGTERM)
                    self.assertEqual(server.wait(timeout=10), 0)
                    server.stdout.close()


if __name__ == "__main__":
    unittest.main()
