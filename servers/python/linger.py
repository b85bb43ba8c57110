"""The lingering close after an over-long question, or an HTTP answer after which the server
closes (servers/common/linger.hpp, in Python).

Closing a socket whose client is still sending makes the kernel send a reset instead of a FIN,
and a reset throws away every answer byte not yet delivered: a large refusal, or any refusal to
a client that keeps sending, would be cut short. So the server shuts its write side down (the
client gets the whole refusal, then EOF), reads and discards what the client still sends, and
closes once the client closes, resets, stays quiet 200 ms, sent 1 MiB more, or after 2 s.

Where: one thread of its own per process, started on first use, waiting with a selector on
every lingering socket, so that no design waits for it (py-single is not held by an abuser).
The asyncio designs linger in their own loop instead; they have no blocking socket to give.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time

import serving

QUIET_PERIOD_S = 0.2
MOST_DISCARDED = 1 << 20
MOST_TIME_S = 2.0


class _Lingering:
    def __init__(self, now: float) -> None:
        self.quiet_until = now + QUIET_PERIOD_S
        self.give_up_at = now + MOST_TIME_S
        self.discarded = 0

    def deadline(self) -> float:
        return min(self.quiet_until, self.give_up_at)


class _Lingerer:
    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._selector.register(self._wake_read, selectors.EVENT_READ)
        self._lock = threading.Condition()
        self._sockets: dict[socket.socket, _Lingering] = {}
        threading.Thread(target=self._run, name="linger", daemon=True).start()

    def add(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        with self._lock:
            self._selector.register(sock, selectors.EVENT_READ)
            self._sockets[sock] = _Lingering(time.monotonic())
        self._wake_write.send(b"x")  # the thread may be waiting without a timeout

    def wait_until_none(self, limit_s: float) -> None:
        with self._lock:
            self._lock.wait_for(lambda: not self._sockets, limit_s)

    def _run(self) -> None:
        while True:
            with self._lock:
                deadlines = [lingering.deadline() for lingering in self._sockets.values()]
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            ready = self._selector.select(timeout)
            now = time.monotonic()
            with self._lock:
                for key, _ in ready:
                    if key.fileobj is self._wake_read:
                        self._wake_read.recv(4096)
                    elif not self._discard_input(key.fileobj, now):
                        self._close(key.fileobj)
                for sock in [s for s, lingering in self._sockets.items()
                             if now >= lingering.deadline()]:
                    self._close(sock)
                if not self._sockets:
                    self._lock.notify_all()

    def _discard_input(self, sock: socket.socket, now: float) -> bool:
        """Reads away what arrived. False once done with: EOF, a reset, or enough."""
        lingering = self._sockets[sock]
        while True:
            try:
                received = len(sock.recv(READ_SIZE))
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                return False  # a reset
            if received == 0:
                return False  # the client's goodbye: now the close is a FIN
            lingering.discarded += received
            lingering.quiet_until = now + QUIET_PERIOD_S
            if lingering.discarded >= MOST_DISCARDED:
                return False

    def _close(self, sock: socket.socket) -> None:
        self._selector.unregister(sock)
        del self._sockets[sock]
        sock.close()


READ_SIZE = serving.READ_BUFFER
_lingerer: _Lingerer | None = None
_lingerer_lock = threading.Lock()
_told = False


def _the_lingerer() -> _Lingerer | None:
    """The process's lingerer, started on first use; None when it cannot start now."""
    global _lingerer, _told
    with _lingerer_lock:
        if _lingerer is None:
            try:
                _lingerer = _Lingerer()
            except (OSError, RuntimeError) as error:  # out of descriptors or threads
                if not _told:
                    serving.log(f"lingering close: {error}; closing at once instead")
                _told = True
        return _lingerer


def discard_unread_input(sock: socket.socket) -> None:
    """Reads away, without blocking, what has arrived, so that a close is not a reset."""
    discarded = 0
    while discarded < MOST_DISCARDED:
        try:
            received = len(sock.recv(READ_SIZE, socket.MSG_DONTWAIT))
        except OSError:
            return
        if received == 0:
            return
        discarded += received


def close_lingering(sock: socket.socket) -> None:
    """Takes ``sock`` over: shuts its write side down at once, lingers as above, closes it."""
    try:
        sock.shutdown(socket.SHUT_WR)  # a FIN after the answers: the client reads them, then EOF
    except OSError:
        pass  # reset already: the lingerer finds it so at once (and is started all the same)
    lingerer = _the_lingerer()
    if lingerer is not None:
        try:
            lingerer.add(sock)
            return
        except OSError:
            pass
    discard_unread_input(sock)
    sock.close()


def finish_lingering_closes() -> None:
    """Waits (2 s at most) until every lingering socket of this process is closed: for a
    process that exits once its client is served (py-forking-mixin's child)."""
    with _lingerer_lock:
        lingerer = _lingerer
    if lingerer is not None:
        lingerer.wait_until_none(MOST_TIME_S)
