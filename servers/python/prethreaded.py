"""py-prethreaded: N threads started up front, all blocking in accept() on one listening
socket (the book's srv_threaded.py; Stevens' serv07 without its mutex).

How it works: serve() starts --threads N workers and waits for them. Each worker runs the
loop of py-single: accept a client, serve it until it leaves, accept the next. The kernel hands
each new connection to one of the threads asleep in accept() on the shared socket, and lets
several call accept() at once, so no lock is taken around it. On stop, shutting the listening
socket down wakes every thread in accept(), and each client's socket is shut down too.
Good at: no thread is started per client, and a blocking request (--sleep-us) blocks only its
own worker: the GIL is released in every blocking call, so N sleeping workers cost nothing.
Where it breaks: N workers serve N clients and no more: client N+1 waits in the backlog until
a worker is free (the book's warning: N idle clients deny service to the rest). And the GIL
lets one thread run Python at a time: --work-us or plain interpreter work does not spread over
cores, however many workers there are, unlike prethreaded.cpp.
"""

from __future__ import annotations

import socket
import threading

import blocking
import serving


def worker(listener: socket.socket, options: serving.Options, stop: serving.StopSignal,
           limit: serving.ConnectionLimit, accepted: list[int], index: int) -> None:
    while (client := blocking.accept_client(listener, stop)) is not None:
        with client:
            if not limit.admit():
                continue  # beyond --max-connections: closed at once
            accepted[index] += 1  # only this worker writes its own slot
            try:
                with stop.shutdown_on_stop(client):
                    blocking.serve_client(client, options)
            finally:
                limit.release()


def serve(listener: socket.socket, options: serving.Options, stop: serving.StopSignal) -> None:
    limit = serving.ConnectionLimit(options.max_connections)  # one for all the workers
    accepted = [0] * options.threads
    workers = [threading.Thread(target=worker, name=f"worker-{index}",
                                args=(listener, options, stop, limit, accepted, index))
               for index in range(options.threads)]
    with stop.shutdown_on_stop(listener):  # wakes every worker blocked in accept()
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
    serving.log("worker_connections " + " ".join(map(str, accepted)))


if __name__ == "__main__":
    serving.main(serve, "py-prethreaded")
