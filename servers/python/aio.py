"""What the two asyncio designs share: running an event loop on archbench's listening socket
until the stop, accepting clients, the clients it must end then, and --max-connections.

Accepting is done here, not by loop.create_server() / asyncio.start_server(): in Python 3.11
their accept loop, out of descriptors, goes on calling accept() for the rest of its backlog in
the same turn, each failure logging and scheduling another restart of the listener, so at the
open-file limit it floods stderr and never settles. This loop watches the listener with
loop.add_reader() and accepts with py-poll's Acceptor, which pauses 100 ms out of descriptors;
each accepted socket then becomes a transport with loop.connect_accepted_socket(), which is
what create_server() does with it.

The loop's own descriptors (its epoll set and its self-pipe) are taken the moment this module
is imported, before asyncio is: importing asyncio takes a tenth of a second and more, and
archbench-server counts a server's descriptors from its "listening on" line, printed before
this program even starts, so descriptors that appeared later would look like a leak. A design
imports this module first.
"""

from __future__ import annotations

import selectors
import socket

_selector = selectors.DefaultSelector()  # the loop's, from the start
_self_pipe_places = socket.socketpair()  # given back just before the loop makes its self-pipe

import asyncio  # noqa: E402
from typing import Callable, Coroutine  # noqa: E402

import serving  # noqa: E402
from nonblocking import Acceptor  # noqa: E402


class Clients:
    """The transports of every client open now: ended at the stop, counted by the limit."""

    def __init__(self, options: serving.Options) -> None:
        self.limit = serving.ConnectionLimit(options.max_connections)
        self._open: set[asyncio.BaseTransport] = set()
        self._starting: set[asyncio.Task] = set()

    def start(self, coroutine: Coroutine[None, None, None]) -> None:
        """Runs ``coroutine`` as a task, held here: the loop keeps only a weak reference to a
        task, and one that nothing else holds may be collected halfway."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    def joined(self, transport: asyncio.WriteTransport) -> None:
        """A client the Acceptor admitted: leave() must follow."""
        transport.set_write_buffer_limits(high=serving.OUTPUT_BOUND)
        self._open.add(transport)

    def leave(self, transport: asyncio.BaseTransport) -> None:
        if transport in self._open:
            self._open.remove(transport)
            self.limit.release()

    def end_all(self) -> None:
        for transport in list(self._open):
            transport.abort()


# Turns one accepted, admitted socket into a served client (a transport and its protocol).
StartClient = Callable[[socket.socket, Clients], None]


def _one_line(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    serving.log(f"asyncio: {context.get('message')}: {context.get('exception')}")


async def _serve(listener: socket.socket, stop: serving.StopSignal, clients: Clients,
                 start_client: StartClient) -> None:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_one_line)
    acceptor = Acceptor(listener, clients.limit)

    def accept_clients() -> None:
        if stop.requested():  # the stop shut the listener down, which made it readable
            return stopped.set()
        while (client := acceptor.accept_next()) is not None:
            start_client(client, clients)
        if acceptor.paused():  # out of descriptors: stop watching the listener for a while
            loop.remove_reader(listener)
            loop.call_later(acceptor.wait_timeout_s() or 0, loop.add_reader, listener,
                            accept_clients)

    stopped = asyncio.Event()
    loop.add_reader(listener, accept_clients)
    with stop.shutdown_on_stop(listener):
        await stopped.wait()
    loop.remove_reader(listener)
    clients.end_all()
    await asyncio.sleep(0)  # lets the aborted transports call connection_lost()


def serve_on_loop(listener: socket.socket, options: serving.Options, stop: serving.StopSignal,
                  start_client: StartClient) -> None:
    """Runs a new event loop (on the calling thread) until the stop."""
    def make_loop() -> asyncio.AbstractEventLoop:
        for place in _self_pipe_places:
            place.close()
        return asyncio.SelectorEventLoop(_selector)

    with asyncio.Runner(loop_factory=make_loop) as runner:
        runner.run(_serve(listener, stop, Clients(options), start_client))
