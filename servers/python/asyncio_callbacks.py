"""py-asyncio-callbacks: one event loop, and a Protocol object per client whose methods the
loop calls (the book's srv_asyncio1.py; Twisted's style; asio.cpp's callbacks).

How it works: the loop accepts every client (aio.py) and makes a ZenProtocol for it. The
loop calls data_received() with what arrived; the protocol answers it and hands the answers to
transport.write(), which sends what the socket takes and buffers the rest. When that buffer
passes 1 MiB the loop calls pause_writing(), and the protocol stops reading (pause_reading) and
keeps the rest of its input until resume_writing(): a client that never reads costs bounded
memory. Questions are answered a bounded read at a time, as blocking.serve_client() does.
Good at: many clients on one thread with no locks, and asyncio's selector loop does the
bookkeeping py-poll writes by hand; a protocol is plain code, no coroutine per client.
Where it breaks: one thread and one core, every event paid in the interpreter; a slow request
(--work-us, --sleep-us) stalls every client, since time.sleep() blocks the whole loop.
After an over-long question (or an HTTP answer after which the server closes) the protocol
lingers in the loop (linger.py's rules): it stops reading until the refusal is sent, shuts its
side down, then discards what still comes.
"""

from __future__ import annotations

import aio  # first: it takes the loop's descriptors before asyncio is imported

import asyncio
import socket

import linger
import serving
import zen

LINGER_CHECK_S = 0.05


class ZenProtocol(asyncio.Protocol):
    def __init__(self, options: serving.Options, clients: aio.Clients) -> None:
        self._options, self._clients = options, clients
        self._conversation = zen.new_conversation(options.workload)
        self._read_size = options.read_size()
        self._pending = bytearray()  # input not answered yet, while writing is paused
        self._writing_paused = self._input_ended = self._refused = False
        self._timer: asyncio.TimerHandle | None = None
        self._answered = 0
        self._discarded = 0
        self._quiet_until = self._give_up_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._clients.joined(transport)
        if self._options.idle_timeout_s:
            self._restart_timer(self._options.idle_timeout_s, transport.abort)  # --idle-timeout

    def connection_lost(self, exc: Exception | None) -> None:
        self._clients.leave(self._transport)
        if self._timer:
            self._timer.cancel()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            self._discard(len(data))
        else:
            self._pending += data
            self._answer_pending()

    def eof_received(self) -> bool:
        self._input_ended = True
        return bool(self._pending) and not self._refused  # True: still answering what came

    def pause_writing(self) -> None:
        self._writing_paused = True
        self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        if not self._refused:
            self._transport.resume_reading()
            self._answer_pending()

    def _answer_pending(self) -> None:
        while self._pending and not self._writing_paused:
            chunk = bytes(self._pending[:self._read_size])
            del self._pending[:self._read_size]
            answers, status = self._conversation.on_input(chunk)
            self._transport.write(answers)
            if status is not zen.FrameStatus.OK:
                return self._refuse()
            if self._conversation.questions_answered != self._answered and self._timer:
                self._answered = self._conversation.questions_answered
                self._restart_timer(self._options.idle_timeout_s, self._transport.abort)
        if self._input_ended and not self._pending:
            self._transport.close()  # sends what is buffered, then closes

    def _restart_timer(self, delay: float, callback) -> None:
        if self._timer:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(delay, callback)

    # The lingering close (linger.py): the refusal is sent whole, then a FIN, then what the
    # client still sends is discarded until it closes, goes quiet, sends too much or too long.
    def _refuse(self) -> None:
        self._refused = True
        self._pending.clear()
        self._transport.write_eof()  # a FIN once the refusal has been sent
        self._transport.pause_reading()
        self._restart_timer(0, self._linger)

    def _linger(self) -> None:
        now = asyncio.get_running_loop().time()
        if self._transport.get_write_buffer_size():  # still sending the refusal
            return self._restart_timer(LINGER_CHECK_S, self._linger)
        if not self._give_up_at:
            self._quiet_until = now + linger.QUIET_PERIOD_S
            self._give_up_at = now + linger.MOST_TIME_S
            if self._input_ended:
                return self._transport.close()
            self._transport.resume_reading()
        if now >= min(self._quiet_until, self._give_up_at):
            return self._transport.abort()
        self._restart_timer(min(self._quiet_until, self._give_up_at) - now, self._linger)

    def _discard(self, received: int) -> None:
        self._discarded += received
        self._quiet_until = asyncio.get_running_loop().time() + linger.QUIET_PERIOD_S
        if self._discarded >= linger.MOST_DISCARDED:
            self._transport.abort()


def serve(listener: socket.socket, options: serving.Options, stop: serving.StopSignal) -> None:
    def start_client(client: socket.socket, clients: aio.Clients) -> None:
        clients.start(asyncio.get_running_loop().connect_accepted_socket(
            lambda: ZenProtocol(options, clients), client))

    aio.serve_on_loop(listener, options, stop, start_client)


if __name__ == "__main__":
    serving.main(serve, "py-asyncio-callbacks")
