"""py-asyncio-coroutines: one event loop, and a coroutine per client that reads and writes
through asyncio streams (the book's srv_asyncio2.py; asio-coro.cpp in Python).

How it works: the loop accepts every client (aio.py) and starts serve_client() for it as a
task, on the two streams asyncio.open_connection() makes of its socket. The coroutine reads
like the blocking py-single: read, answer, write, again; but each ``await`` hands the thread
back to the loop, which runs whichever client is ready next.
``await writer.drain()`` waits while more than 1 MiB of answers wait to be sent, so a client
that never reads is simply not read from (the StreamReader stops reading at its own limit) and
costs bounded memory; each read is bounded as in blocking.serve_client().
Good at: the readability of blocking code with the footprint of an event loop: a client costs
a task and two stream objects, not a thread; --idle-timeout is one ``asyncio.timeout_at``.
Where it breaks: as py-asyncio-callbacks, one thread and one core, and a slow request stalls
every client (time.sleep() blocks the loop); and a coroutine, its task and its streams cost
more interpreter work per request than a Protocol's plain method calls.
"""

from __future__ import annotations

import aio  # first: it takes the loop's descriptors before asyncio is imported

import asyncio
import socket

import linger
import serving
import zen


async def serve_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       options: serving.Options, clients: aio.Clients) -> None:
    clients.joined(writer.transport)
    conversation = zen.new_conversation(options.workload)
    idle = serving.IdleClock(options.idle_timeout_s)
    read_size = options.read_size()
    try:
        while True:
            # The deadline moves only when a question is answered: trickling does not help.
            async with asyncio.timeout_at(idle.deadline if idle.enabled() else None):
                data = await reader.read(read_size)
            if not data:
                break  # EOF: a goodbye, or mid-question
            answers, status = conversation.on_input(data)
            writer.write(answers)
            await writer.drain()
            if status is not zen.FrameStatus.OK:
                await linger_after_refusal(reader, writer)
                break
            idle.questions_answered(conversation.questions_answered)
        writer.close()  # sends what is buffered, then closes
    except (TimeoutError, OSError):
        writer.transport.abort()  # idle too long, or a reset
    finally:
        clients.leave(writer.transport)


async def linger_after_refusal(reader: asyncio.StreamReader,
                               writer: asyncio.StreamWriter) -> None:
    """The lingering close (linger.py): the refusal is sent whole, then a FIN; what the client
    still sends is discarded until it closes, goes quiet, sends too much or too long."""
    writer.write_eof()  # a FIN once the refusal has been sent
    while writer.transport.get_write_buffer_size():
        await asyncio.sleep(0.05)
    give_up_at = asyncio.get_running_loop().time() + linger.MOST_TIME_S
    discarded = 0
    while discarded < linger.MOST_DISCARDED:
        try:
            async with asyncio.timeout(linger.QUIET_PERIOD_S):
                async with asyncio.timeout_at(give_up_at):
                    data = await reader.read(serving.READ_BUFFER)
        except TimeoutError:
            return
        if not data:
            return
        discarded += len(data)


def serve(listener: socket.socket, options: serving.Options, stop: serving.StopSignal) -> None:
    async def open_streams(client: socket.socket, clients: aio.Clients) -> None:
        reader, writer = await asyncio.open_connection(sock=client)  # an accepted socket
        await serve_client(reader, writer, options, clients)

    def start_client(client: socket.socket, clients: aio.Clients) -> None:
        clients.start(open_streams(client, clients))

    aio.serve_on_loop(listener, options, stop, start_client)


if __name__ == "__main__":
    serving.main(serve, "py-asyncio-coroutines")
