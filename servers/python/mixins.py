"""What py-threading-mixin and py-forking-mixin share: the standard library's socketserver
(the book's SocketServer examples), set up to serve archbench's listening socket.

socketserver splits a server in two: a server class that owns the listening socket and runs
serve_forever() (a selector loop that accepts, then calls process_request()), and a handler
class whose handle() serves one client. A mix-in (ThreadingMixIn, ForkingMixIn) decides only
what process_request() does: start a thread, or fork a process, to run the handler. Here the
handler is blocking.serve_client(), shared with py-single and py-prethreaded, so the two
designs differ in the mix-in and in nothing else of interest.
"""

from __future__ import annotations

import socket
import socketserver
import threading

import blocking
import serving

POLL_INTERVAL_S = 0.1  # how often serve_forever() looks at its stop flag and reaps children


class ZenHandler(socketserver.BaseRequestHandler):
    server: "ZenServer"

    def handle(self) -> None:
        with self.server.stop.shutdown_on_stop(self.request):
            blocking.serve_client(self.request, self.server.options)


class ZenServer(socketserver.TCPServer):
    """A TCPServer on a socket that is already listening, with archbench's accept()."""

    def __init__(self, listener: socket.socket, options: serving.Options,
                 stop: serving.StopSignal, handler: type[ZenHandler]) -> None:
        super().__init__(listener.getsockname(), handler, bind_and_activate=False)
        self.socket.close()
        self.socket = listener
        self.options, self.stop = options, stop

    def get_request(self) -> tuple[socket.socket, object]:
        # socketserver's own accept() lets EMFILE through, its loop then finds the listener
        # readable again at once (the client stays in the backlog) and spins at 100% CPU. So out
        # of descriptors this pauses, as blocking.accept_client() does, before the next try.
        try:
            client, address = self.socket.accept()
        except OSError as error:
            if blocking.out_of_resources(error):
                self.stop.wait(self.out_of_resources_pause())
            raise
        self._pause = 0.0
        return blocking.configure(client), address

    _pause = 0.0

    def out_of_resources_pause(self) -> float:
        self._pause = min(max(2 * self._pause, 0.01), 0.1)
        return self._pause


def serve_until_stopped(server: ZenServer) -> None:
    """serve_forever() until the stop; shutdown() must come from another thread."""
    def shut_down_on_stop() -> None:
        server.stop.wait()
        server.shutdown()

    threading.Thread(target=shut_down_on_stop, name="stop", daemon=True).start()
    if not server.stop.requested():
        server.serve_forever(POLL_INTERVAL_S)
