"""What the blocking designs share (servers/common/net.cpp): accepting a client, and serving
one on a blocking socket until it leaves.

serve_client() is Stevens' web_child() and the book's zen_utils.handle_conversation(): recv,
answer, sendall, again. py-single, py-prethreaded and the two socketserver designs all call it,
so they differ only in who runs it: one thread, a pool, a thread or a process per client.
"""

from __future__ import annotations

import errno
import select
import socket
import threading
import time

import linger
import serving
import zen

_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
# Out of descriptors, one thread of the process at a time waits it out (see accept_client).
_accept_gate = threading.Lock()
_told_out_of_resources = False


def configure(client: socket.socket) -> socket.socket:
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return client


def out_of_resources(error: OSError) -> bool:
    """accept() failed for want of descriptors or memory: the client stays in the backlog."""
    global _told_out_of_resources
    if error.errno not in _OUT_OF_RESOURCES:
        return False
    if not _told_out_of_resources:
        serving.log(f"accept: {error.strerror}; retrying every 10 to 100 ms")
    _told_out_of_resources = True
    return True


def accept_client(listener: socket.socket, stop: serving.StopSignal) -> socket.socket | None:
    """The next client, blocking; None once a stop is requested.

    Out of descriptors, retrying at once would spin at 100% CPU, since the client that could
    not be accepted stays in the backlog. So one thread at a time retries every 10 ms, the
    pause growing to 100 ms, and the other threads of a pool wait for the gate asleep.
    """
    while not stop.requested():
        try:
            return configure(listener.accept()[0])
        except OSError as error:
            if not out_of_resources(error):
                continue  # ECONNABORTED concerns one client; EINVAL after a stop ends the loop
        with _accept_gate:
            pause = 0.01
            while not stop.requested():
                try:
                    return configure(listener.accept()[0])
                except OSError as error:
                    if error.errno not in _OUT_OF_RESOURCES:
                        break
                time.sleep(pause)
                pause = min(2 * pause, 0.1)
    return None


def _wait_for_input(client: socket.socket, idle: serving.IdleClock) -> bool:
    """--idle-timeout: waits until ``client`` has input (True) or the deadline passes."""
    waiting = select.poll()
    waiting.register(client, select.POLLIN)
    remaining = idle.remaining_s()
    return bool(waiting.poll(max(1, int(remaining * 1000 + 0.999))) if remaining else False)


def serve_client(client: socket.socket, options: serving.Options) -> None:
    """Serves one client until it leaves, sends an over-long question or gets an answer after
    which the server closes (HTTP: an error, Connection: close; its socket then lingers), its idle clock runs out, or its socket is shut down by a stop.

    One read's answers are built whole before they are sent: the read is sized so that they
    stay under about 1 MiB (16 kB of one-byte questions padded to 1 MB would be 16 GB).
    """
    conversation = zen.new_conversation(options.workload)
    idle = serving.IdleClock(options.idle_timeout_s)
    read_size = options.read_size()
    try:
        while True:
            if idle.enabled() and not _wait_for_input(client, idle):
                return
            data = client.recv(read_size)
            if not data:
                return  # EOF, or shut down by a stop
            answers, status = conversation.on_input(data)
            client.sendall(answers)
            if status is not zen.FrameStatus.OK:
                _linger_on(client)
                return
            idle.questions_answered(conversation.questions_answered)
    except OSError:
        return  # a reset, or a client that left before its answers


def _linger_on(client: socket.socket) -> None:
    # The caller closes ``client``; a duplicate lingers on, so that the refusal arrives whole.
    try:
        linger.close_lingering(client.dup())
    except OSError:
        linger.discard_unread_input(client)  # out of descriptors: the best that can be done
