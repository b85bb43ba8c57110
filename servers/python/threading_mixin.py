"""py-threading-mixin: a thread per client, by socketserver.ThreadingMixIn (the book's
SocketServer threading example; Stevens' serv06).

How it works: serve_forever() accepts each client and ThreadingMixIn.process_request() starts
a new thread that runs the handler (blocking.serve_client) and closes the socket when it
returns. server_close() joins every thread, so a stop ends them all: their sockets are shut
down by the stop, which wakes each one from its recv() or sendall().
Good at: any number of clients at once, each with plain blocking code; a client that sleeps
(--sleep-us) or never reads blocks its own thread only, since a blocking call releases the GIL.
Where it breaks: a thread is started and ended for every connection (short sessions pay it
every time), each costs a stack, and the GIL lets one of them run Python at a time, so the
design gets no more than one core for its interpreter work however many clients there are.
--max-connections (4096 unless told) keeps a flood of clients from exhausting threads.
"""

from __future__ import annotations

import socket
import socketserver
import threading

import mixins
import serving


class Handler(mixins.ZenHandler):
    server: "Server"

    def handle(self) -> None:
        if not self.server.limit.admit():
            return  # beyond --max-connections: closed at once
        try:
            super().handle()
        finally:
            self.server.limit.release()


class Server(socketserver.ThreadingMixIn, mixins.ZenServer):
    daemon_threads = False
    # socketserver's block_on_close keeps a list of every client's thread and sweeps all of it
    # for ended ones at each new client: O(clients) per accept, seconds for a flood of 2000.
    # So the threads are kept in a set instead, each taking itself out as it ends.
    block_on_close = False

    def __init__(self, listener: socket.socket, options: serving.Options,
                 stop: serving.StopSignal) -> None:
        super().__init__(listener, options, stop, Handler)
        self.limit = serving.ConnectionLimit(options.max_connections)
        self._client_threads: set[threading.Thread] = set()
        self._clients_lock = threading.Lock()

    def process_request_thread(self, request: socket.socket, client_address: object) -> None:
        with self._clients_lock:
            self._client_threads.add(threading.current_thread())
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._clients_lock:
                self._client_threads.discard(threading.current_thread())

    def server_close(self) -> None:
        """Joins every client's thread: the stop has shut their sockets down."""
        super().server_close()
        with self._clients_lock:
            threads = list(self._client_threads)
        for thread in threads:
            thread.join()


def serve(listener: socket.socket, options: serving.Options, stop: serving.StopSignal) -> None:
    server = Server(listener, options, stop)
    mixins.serve_until_stopped(server)
    server.server_close()


if __name__ == "__main__":
    serving.main(serve, "py-threading-mixin")
