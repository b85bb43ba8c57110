"""What a hand-written event loop needs (servers/common/nonblocking.hpp, in Python): accepting
without blocking, and one client's non-blocking conversation.

The contract with a loop is small: wait for readability while wants_read(), for writability
while wants_write(), call on_readable() / on_writable() when the socket is ready, and drop the
Connection (close()) once either returns CLOSED. A live connection always wants one or the
other, so a loop never forgets a client. The Acceptor closes at once a client beyond
--max-connections, and pauses out of descriptors instead of spinning.
"""

from __future__ import annotations

import enum
import errno
import socket
import time

import linger
import serving
import zen

ACCEPT_PAUSE_S = 0.1
_FOR_ONE_CLIENT = {errno.EINTR, errno.ECONNABORTED, errno.EPROTO}


class Status(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


class Acceptor:
    """The listening side of an event loop, made non-blocking: accepting "every waiting
    client" ends with BlockingIOError instead of blocking the loop."""

    def __init__(self, listener: socket.socket, limit: serving.ConnectionLimit) -> None:
        listener.setblocking(False)
        self.listener, self._limit = listener, limit
        self._resume_at = 0.0
        self._told_of_pause = False

    def accept_next(self) -> socket.socket | None:
        """The next waiting client (non-blocking, TCP_NODELAY, admitted), or None.

        Out of descriptors the client stays in the backlog and the listener stays readable, so
        a loop that kept watching it would spin at 100% CPU: the acceptor pauses instead, and
        the loop stops watching the listener while paused().
        """
        while True:
            try:
                client = self.listener.accept()[0]
            except BlockingIOError:
                return None  # nobody is waiting
            except OSError as error:
                if error.errno in _FOR_ONE_CLIENT:
                    continue
                if not self._told_of_pause:  # EMFILE, ENFILE, ENOBUFS, ENOMEM, ...
                    serving.log(f"accept: {error.strerror}; not accepting for "
                                f"{ACCEPT_PAUSE_S * 1000:.0f} ms at a time until it passes")
                self._told_of_pause = True
                self._resume_at = time.monotonic() + ACCEPT_PAUSE_S
                return None
            self._told_of_pause = False
            if not self._limit.admit():
                client.close()  # beyond --max-connections: closed at once
                continue
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return client

    def paused(self) -> bool:
        return time.monotonic() < self._resume_at

    def wait_timeout_s(self) -> float | None:
        """How long a loop may wait for readiness: until the pause ends, or None."""
        left = self._resume_at - time.monotonic()
        return left if left > 0 else None


class Connection:
    """One client of an event loop: the non-blocking form of blocking.serve_client().

    It reads what has arrived, lets the Conversation answer, and writes what the socket takes
    now; the rest waits in its output buffer for the next writability. While more than
    OUTPUT_BOUND bytes wait, it stops reading: a client that never reads costs bounded memory.
    """

    def __init__(self, sock: socket.socket, options: serving.Options,
                 limit: serving.ConnectionLimit) -> None:
        self.sock, self._limit = sock, limit
        self._conversation = zen.new_conversation(options.workload)
        self._idle = serving.IdleClock(options.idle_timeout_s)
        self._read_size = options.read_size()
        self._output = bytearray()
        self._input_ended = False  # EOF or an over-long question: send what is left, close
        # An over-long question, or an HTTP answer that closes: the socket lingers once dropped.
        self._refused = False

    def wants_read(self) -> bool:
        return not self._input_ended and len(self._output) < serving.OUTPUT_BOUND

    def wants_write(self) -> bool:
        return bool(self._output)

    def idle_expired(self, now: float) -> bool:
        return self._idle.expired(now)

    def on_readable(self) -> Status:
        try:
            data = self.sock.recv(self._read_size)
        except (BlockingIOError, InterruptedError):
            return Status.OPEN
        except OSError:
            return Status.CLOSED  # a reset
        if not data:
            self._input_ended = True  # a goodbye, or EOF mid-question
        else:
            # --work-us and --sleep-us are spent in here, on the loop's only thread.
            answers, status = self._conversation.on_input(data)
            self._output += answers
            if status is not zen.FrameStatus.OK:
                self._input_ended = self._refused = True
            self._idle.questions_answered(self._conversation.questions_answered)
        # Most answers fit into the socket's send buffer at once: write now.
        return self.on_writable()

    def on_writable(self) -> Status:
        while self._output:
            try:
                sent = self.sock.send(self._output)
            except (BlockingIOError, InterruptedError):
                return Status.OPEN  # wait to write
            except OSError:
                return Status.CLOSED  # EPIPE, ECONNRESET: the client is gone
            del self._output[:sent]
        if not self._input_ended:
            return Status.OPEN
        if not self._refused:
            linger.discard_unread_input(self.sock)  # so that the close is not a reset
        return Status.CLOSED

    def close(self) -> None:
        """Once the loop is done with the socket: a refused client's socket lingers."""
        self._limit.release()
        if self._refused and self.sock.fileno() >= 0 and not self._output:
            linger.close_lingering(self.sock)
        else:
            self.sock.close()
