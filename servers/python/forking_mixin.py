"""py-forking-mixin: a process per client, by socketserver.ForkingMixIn (the book's
SocketServer forking example; Stevens' serv01, the classic Unix server).

How it works: serve_forever() accepts each client and ForkingMixIn.process_request() forks;
the child runs the handler (blocking.serve_client) and exits, the parent closes its copy of
the socket and goes back to accept(). The parent reaps exited children on every turn of its
loop (service_actions, at least every 0.1 s), so no zombie stays. On stop the parent sends
each child SIGTERM and server_close() waits for them all.
Good at: each client has a process, an interpreter and a GIL of its own: interpreter work and
--work-us spread over every core, which no threaded Python design can do, and a child that
crashes takes only its client with it.
Where it breaks: a fork() per connection, and a Python child is heavy: its reference counts
write to the pages it shares with the parent, so copy-on-write copies them one by one.
Children share nothing, so --max-connections (4096 unless told) is counted by the parent, from
the children it has not reaped yet.
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import socketserver
import sys

import linger
import mixins
import serving


class Handler(mixins.ZenHandler):
    def finish(self) -> None:
        # The child exits when this returns, which would end a lingering close with it.
        linger.finish_lingering_closes()


class Server(socketserver.ForkingMixIn, mixins.ZenServer):
    block_on_close = True  # server_close() waits for every child
    max_children = sys.maxsize  # not ForkingMixIn's 40: --max-connections is the limit here

    def process_request(self, request: socket.socket, client_address: object) -> None:
        self.collect_children()  # the children that left give their places back first
        limit = self.options.max_connections
        if limit and len(self.active_children or ()) >= limit:
            self.shutdown_request(request)  # beyond --max-connections: closed at once
            return
        super().process_request(request, client_address)

    def collect_children(self, *, blocking: bool = False) -> None:
        # socketserver's own asks each child in turn, one waitpid() per child per turn of the
        # loop: a flood of 2000 clients would cost millions of calls. waitpid(-1) asks only
        # for the children that have exited (every child of this process is a client's).
        while self.active_children:
            try:
                pid, _ = os.waitpid(-1, 0 if blocking else os.WNOHANG)
            except ChildProcessError:
                self.active_children.clear()
                return
            if pid == 0:
                return  # none has exited since
            self.active_children.discard(pid)

    def end_children(self) -> None:
        for pid in self.active_children or ():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass  # exited already, not reaped yet


def serve(listener: socket.socket, options: serving.Options, stop: serving.StopSignal) -> None:
    serving.restore_signals_in_children()
    server = Server(listener, options, stop, Handler)
    gc.freeze()  # the parent's objects out of the collector's reach: fewer pages copied per child
    mixins.serve_until_stopped(server)
    server.end_children()
    server.server_close()


if __name__ == "__main__":
    serving.main(serve, "py-forking-mixin")
