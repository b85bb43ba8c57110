"""What every Python design shares, as servers/common/ does for the C++ ones.

archbench-server parses the user's flags, binds and listens, prints ``listening on``, then
starts a design (servers/external/py-*.toml) with the listening socket as descriptor 3 and
every knob appended: ``--listen-fd 3 --threads N ... --max-connections N --protocol zen|http``. This module reads
those flags (a bad one is a one-line error and exit 2), stops on SIGTERM or SIGINT, reports
resource use on SIGUSR1, and holds the two limits (--idle-timeout, --max-connections).

A design is one function ``serve(listener, options, stop)``, run by main() on a thread of its
own while the main thread waits for signals, exactly as servers/main.cpp runs an Architecture:
the signals are blocked in every thread but taken with sigwait() by the main one, so that no
blocking call anywhere is interrupted by them.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import signal
import socket
import sys
import threading
import time
from typing import Callable, NoReturn

import zen

# Answers waiting for a client beyond this many bytes stop reading from it (net.hpp's
# kOutputBound): a client that never reads its answers costs bounded memory.
OUTPUT_BOUND = 1 << 20
READ_BUFFER = 16 * 1024
# serve() is given this long to end its threads and processes after a stop: archbench-server's
# contract is an exit within 2 s, and the rest is the interpreter's own exit.
STOP_GRACE_S = 1.4
SERVER_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGUSR1}


@dataclasses.dataclass(frozen=True)
class Options:
    workload: zen.Workload
    threads: int
    processes: int
    idle_timeout_s: float  # 0: off
    max_connections: int  # 0: no limit

    def read_size(self) -> int:
        """Bytes one read may take, so that its answers stay within OUTPUT_BOUND."""
        return zen.bounded_read_size(self.workload, READ_BUFFER, OUTPUT_BOUND)


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")


def parse_options(argv: list[str], prog: str) -> tuple[int, Options]:
    """The descriptor to serve and the options, from the flags archbench-server appends."""
    parser = _OneLineParser(prog=prog, add_help=False)
    for name in ("listen-fd", "threads", "processes", "work-us", "sleep-us", "reply-bytes",
                 "max-request", "idle-timeout-ms", "max-connections"):
        parser.add_argument(f"--{name}", type=_count, required=True, metavar="N")
    # zen when not given: a program run by an archbench-server that did not append it yet.
    parser.add_argument("--protocol", choices=zen.PROTOCOLS, default="zen")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.processes < 1:
        parser.error("--threads and --processes must be at least 1")
    workload = zen.Workload(work_us=args.work_us, sleep_us=args.sleep_us,
                            reply_bytes=args.reply_bytes,
                            max_request=args.max_request or zen.DEFAULT_MAX_REQUEST,
                            protocol=args.protocol)
    return args.listen_fd, Options(workload, args.threads, args.processes,
                                   args.idle_timeout_ms / 1000, args.max_connections)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a count: {text!r}")
    return int(text)


class StopSignal:
    """How a design is told to stop (servers/common/stop.hpp).

    It holds no descriptor of its own: a design lets shutdown_on_stop() shut its sockets down
    when the stop comes. That wakes a thread blocked in accept() or recv() on them, and a loop
    that watches the listening socket finds it readable (accept() then fails: the loop looks at
    requested()). archbench-server counts a server's descriptors from the moment it prints
    "listening on", before this program has even started: one that opened descriptors of its
    own once started would look, to a test that takes the count then, like one that leaks.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._watched: set[socket.socket] = set()

    def requested(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)

    def request(self) -> None:
        with self._lock:
            self._event.set()
            watched = list(self._watched)
        for sock in watched:
            _shut_down(sock)

    def shutdown_on_stop(self, sock: socket.socket) -> "_Watch":
        """A context: while in it, ``sock`` is shut down when a stop is requested."""
        return _Watch(self, sock)

    def _watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._watched.add(sock)
            stopping = self._event.is_set()
        if stopping:
            _shut_down(sock)

    def _unwatch(self, sock: socket.socket) -> None:
        with self._lock:
            self._watched.discard(sock)


class _Watch:
    def __init__(self, stop: StopSignal, sock: socket.socket) -> None:
        self._stop, self._sock = stop, sock

    def __enter__(self) -> socket.socket:
        self._stop._watch(self._sock)
        return self._sock

    def __exit__(self, *exc: object) -> None:
        self._stop._unwatch(self._sock)


def _shut_down(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed or never connected


class IdleClock:
    """--idle-timeout for one client (servers/common/limits.hpp).

    The deadline is the timeout after the client was accepted or after its last complete
    question: bytes of an unfinished question do not move it, so a client that trickles a byte
    now and then is disconnected as surely as a silent one.
    """

    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._answered = 0
        self.deadline = time.monotonic() + timeout_s if timeout_s > 0 else float("inf")

    def enabled(self) -> bool:
        return self._timeout_s > 0

    def questions_answered(self, answered: int) -> None:
        """Restarts the clock if a question was answered since the last call."""
        if self.enabled() and answered != self._answered:
            self._answered = answered
            self.deadline = time.monotonic() + self._timeout_s

    def remaining_s(self) -> float | None:
        """Seconds left (0 once passed), or None when the timeout is off."""
        return max(0.0, self.deadline - time.monotonic()) if self.enabled() else None

    def expired(self, now: float) -> bool:
        return now >= self.deadline


class ConnectionLimit:
    """--max-connections for a whole server: a client is admitted while fewer are open."""

    def __init__(self, limit: int) -> None:
        self._limit = limit  # 0: no limit
        self._open = 0
        self._lock = threading.Lock()

    def admit(self) -> bool:
        """True: admitted, and release() must follow. False: over the limit, close it."""
        with self._lock:
            if self._limit and self._open >= self._limit:
                return False
            self._open += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._open -= 1


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def report_resource_usage() -> None:
    """The SIGUSR1 line the harness reads (servers/common/stop.cpp), same keys and format."""
    me, children = (resource.getrusage(who)
                    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    log(f"rusage user_s={me.ru_utime:.6f} sys_s={me.ru_stime:.6f} "
        f"voluntary_switches={me.ru_nvcsw} involuntary_switches={me.ru_nivcsw} "
        f"max_rss_kb={me.ru_maxrss} children_user_s={children.ru_utime:.6f} "
        f"children_sys_s={children.ru_stime:.6f} "
        f"children_voluntary_switches={children.ru_nvcsw} "
        f"children_involuntary_switches={children.ru_nivcsw}")


def restore_signals_in_children() -> None:
    """From now on, in each forked child: SIGTERM and SIGINT end it again (they were blocked
    for the parent's sigwait()), and so does the parent's death (prctl PR_SET_PDEATHSIG), so
    that a SIGKILLed server leaves no child behind. prctl() through ctypes, as the standard
    library has none; it is looked up here, once, not in every child."""
    try:
        import ctypes
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        prctl = None  # without it, the parent's SIGTERM at a stop still ends every child

    def in_child() -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SERVER_SIGNALS)
        if prctl is not None:
            prctl(1, int(signal.SIGTERM), 0, 0, 0)  # 1: PR_SET_PDEATHSIG

    os.register_at_fork(after_in_child=in_child)


Serve = Callable[[socket.socket, Options, StopSignal], None]


def main(serve: Serve, prog: str) -> NoReturn:
    """Runs ``serve`` on the listening socket archbench-server handed over, until a signal."""
    listen_fd, options = parse_options(sys.argv[1:], prog)
    try:
        listener = socket.socket(fileno=listen_fd)
    except OSError as error:
        log(f"{prog}: descriptor {listen_fd} is not a socket: {error.strerror}")
        sys.exit(2)
    listener.setblocking(True)
    # Blocked here, before any thread starts, so every thread inherits the mask and only the
    # main thread, in sigwait(), takes them.
    signal.pthread_sigmask(signal.SIG_BLOCK, SERVER_SIGNALS)
    stop = StopSignal()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            serve(listener, options, stop)
        except Exception as error:  # a startup failure: said in one line, exit 1
            failure.append(error)

    server = threading.Thread(target=run, name="serve")
    server.start()
    while server.is_alive():
        received = signal.sigtimedwait(SERVER_SIGNALS, 0.1)
        if received is None:
            continue
        if received.si_signo == signal.SIGUSR1:
            report_resource_usage()
            continue
        stop.request()
        server.join(STOP_GRACE_S)
        break
    if not failure and not stop.requested():
        failure.append(RuntimeError("stopped serving before it was told to"))
    if failure:
        log(f"{prog}: {failure[0]}")
    sys.stderr.flush()
    # Ends every thread left (a handler still in --sleep-us, the lingering thread) at once.
    os._exit(1 if failure else 0)
