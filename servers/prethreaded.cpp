// prethreaded: N threads, started up front, all blocking in accept() on one listening socket
// (the book's srv_threaded.py, Stevens' serv07 without its mutex, Apache's worker threads).
//
// How it works: serve() starts --threads N workers and waits for them. Each worker runs the loop
// of `single`: accept a client, serve it until it leaves (serve_client_blocking), accept the
// next. The kernel hands each new connection to one of the threads asleep in accept() on the
// shared socket: Linux wakes one waiter, not all of them (no "thundering herd"), and lets
// several threads call accept() at once, so no lock is taken around it (Stevens' serv07 locks a
// mutex because some kernels of his day did not). On stop, shutting the listening socket down
// wakes every thread in accept(), and each client socket is shut down as in threaded.cpp.
// Good at: no thread is created per client: the cost that `threaded` pays at every connection
// is paid N times at start, so short connections are cheap. A blocking request (--sleep-us)
// blocks only its own worker, and the kernel spreads the workers over every core.
// Where it breaks: N workers serve N clients at once, and no more: client N+1 is not refused
// but waits in the listen backlog until a worker is free, so N clients that connect and idle
// deny service to all the others (the book's warning). N must be sized for the clients, not
// for the cores, and every worker's stack is paid for whether it is busy or not.
// --max-connections counts accepted clients, over all workers (a ConnectionLimit they share):
// N workers never hold more than N, so only a limit below N changes anything; a client beyond it
// is accepted and closed at once, and its worker accepts the next.
#include "servers/common/architecture.hpp"
#include "servers/common/limits.hpp"
#include "servers/common/net.hpp"
#include "servers/common/workers.hpp"

namespace archbench {

static void worker(int listen_fd, const ServerOptions& options, StopSignal& stop,
                   ConnectionLimit& limit, std::atomic<std::uint64_t>& accepted) {
    for (;;) {
        Socket client(accept_client(listen_fd, stop));  // the same socket in every worker
        if (!client) return;
        Admission admission(limit);
        if (!admission) continue;  // beyond --max-connections: closed at once
        ++accepted;
        ShutdownOnStop wake_recv(stop, client.fd());
        serve_client_blocking(client.fd(), options);
    }
}

static void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    ShutdownOnStop wake_accept(stop, listen_fd);  // wakes every worker blocked in accept()
    ConnectionLimit limit(options.max_connections);  // one for all the workers
    ConnectionCounters accepted(options.threads);
    run_worker_threads(options.threads, stop, [&](unsigned index) {
        worker(listen_fd, options, stop, limit, accepted[index]);
    });
    accepted.report();
}

extern const Architecture prethreaded_architecture{
    .name = "prethreaded",
    .description = "a pool of --threads threads, each blocking in accept() on one socket",
    .traits = {.concurrent = true,
               .process_based = false,
               .connection_limit = 0,
               .one_client_per_worker = true,
               .family = Family::worker_pool,
               .reports_worker_connections = true},
    .serve = serve,
};

}  // namespace archbench
