"""py-single: one client at a time (the book's srv_single.py; Stevens' serv00, "iterative").

How it works: accept a client, serve it until it leaves (blocking.serve_client), accept the
next. Nothing runs concurrently, so there is nothing to lock and nothing to schedule: the loop
is single.cpp line for line, with the interpreter in between.
Good at: the least work per request a Python server can do for one client, and the baseline
the other Python designs are measured against; the GIL costs nothing when there is one thread.
Where it breaks: it serves one client at a time. Every other client waits in the listen
backlog, so one slow or idle client starves them all (the book: "easy to deny service"), and
every request pays the interpreter's cost, several times the C++ one's. --idle-timeout bounds
the damage: a client that completes no question within it is let go.
"""

from __future__ import annotations

import socket

import blocking
import serving


def serve(listener: socket.socket, options: serving.Options, stop: serving.StopSignal) -> None:
    with stop.shutdown_on_stop(listener):
        while (client := blocking.accept_client(listener, stop)) is not None:
            with client, stop.shutdown_on_stop(client):
                blocking.serve_client(client, options)


if __name__ == "__main__":
    serving.main(serve, "py-single")
