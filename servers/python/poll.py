"""py-poll: one thread serves every client, waiting on all their sockets at once with poll()
(the book's hand-written srv_async.py; Stevens' tcpservpoll01.c; poll.cpp in Python).

How it works: every socket is non-blocking. Each turn of the loop lists which sockets it waits
on and for what (POLLIN to read, POLLOUT to write) and poll() returns once some of them are
ready; the stop shuts the listening socket down, which makes it readable and ends the loop. A ready socket gets one read, or as many writes as it takes now (nonblocking.Connection),
so no client ever makes the loop wait for it. select.poll() keeps its list between calls, so
where poll.cpp rebuilds its pollfd array every turn, this loop re-registers only the sockets
whose interest changed: the kernel is still handed the whole list on every call.
Good at: many mostly idle clients on one thread, with no locks and no GIL contention at all
(one thread never waits for the GIL); a client costs a buffer and a dictionary entry.
Where it breaks: one thread, one core, and every byte of every request goes through the
interpreter: Python's per-event cost, not the kernel's, is the limit. A slow request
(--work-us, --sleep-us) stalls every other client while it runs, and each turn costs time in
proportion to all the descriptors, ready or not, which is what epoll removes.
"""

from __future__ import annotations

import math
import select
import socket
import time

import serving
from nonblocking import Acceptor, Connection, Status

_GONE = select.POLLERR | select.POLLHUP | select.POLLNVAL


def events_wanted(connection: Connection) -> int:
    return ((select.POLLIN if connection.wants_read() else 0)
            | (select.POLLOUT if connection.wants_write() else 0))


class PollLoop:
    def __init__(self, listener: socket.socket, options: serving.Options) -> None:
        self.listener, self.options = listener, options
        self.limit = serving.ConnectionLimit(options.max_connections)
        self.acceptor = Acceptor(listener, self.limit)
        self.waiting = select.poll()
        self.wanted: dict[int, int] = {}  # what poll() waits for, per descriptor
        self.connections: dict[int, Connection] = {}
        self.listening = False
        # --idle-timeout: every connection is looked at once a sweep, at least every 100 ms.
        self.sweep_s = min(options.idle_timeout_s, 0.1)
        self.next_sweep = time.monotonic() + self.sweep_s

    def run(self, stop: serving.StopSignal) -> None:
        while True:
            self.close_idle_connections()
            self.watch_listener(not self.acceptor.paused())  # not while out of descriptors
            for fd, connection in self.connections.items():
                if (events := events_wanted(connection)) != self.wanted[fd]:
                    self.waiting.modify(fd, events)
                    self.wanted[fd] = events
            timeout = self.wait_timeout_s()
            for fd, revents in self.waiting.poll(None if timeout is None
                                                 else math.ceil(timeout * 1000)):
                if fd != self.listener.fileno():
                    self.serve_ready(fd, revents)
                elif stop.requested():
                    return  # the stop shut the listener down
                else:
                    self.accept_clients()

    def serve_ready(self, fd: int, revents: int) -> None:
        if (connection := self.connections.get(fd)) is None:
            return
        # Errors and hang-ups (a reset) are reported whether asked for or not.
        status = Status.CLOSED if revents & _GONE else Status.OPEN
        if status is Status.OPEN and revents & select.POLLIN:
            status = connection.on_readable()
        if status is Status.OPEN and revents & select.POLLOUT:
            status = connection.on_writable()
        if status is Status.CLOSED:
            self.drop(fd)

    def accept_clients(self) -> None:
        while (client := self.acceptor.accept_next()) is not None:
            fd = client.fileno()
            self.connections[fd] = Connection(client, self.options, self.limit)
            self.wanted[fd] = select.POLLIN
            self.waiting.register(fd, select.POLLIN)

    def drop(self, fd: int) -> None:
        self.waiting.unregister(fd)
        del self.wanted[fd]
        self.connections.pop(fd).close()

    def watch_listener(self, watch: bool) -> None:
        if watch != self.listening:
            self.listening = watch
            if watch:
                self.waiting.register(self.listener, select.POLLIN)
            else:
                self.waiting.unregister(self.listener)

    def close_idle_connections(self) -> None:
        if not self.sweep_s or time.monotonic() < self.next_sweep:
            return
        now = time.monotonic()
        self.next_sweep = now + self.sweep_s
        for fd in [fd for fd, c in self.connections.items() if c.idle_expired(now)]:
            self.drop(fd)

    def wait_timeout_s(self) -> float | None:
        """Until the acceptor's pause ends or the next sweep is due; None: no limit."""
        timeout = self.acceptor.wait_timeout_s()
        if self.sweep_s:
            until_sweep = max(0.0, self.next_sweep - time.monotonic())
            timeout = until_sweep if timeout is None else min(timeout, until_sweep)
        return timeout

    def close_all(self) -> None:
        for connection in self.connections.values():
            connection.sock.close()


def serve(listener: socket.socket, options: serving.Options, stop: serving.StopSignal) -> None:
    loop = PollLoop(listener, options)
    try:
        with stop.shutdown_on_stop(listener):
            loop.run(stop)
    finally:
        loop.close_all()


if __name__ == "__main__":
    serving.main(serve, "py-poll")
