// epoll-reuseport: N threads, each with an epoll loop and a listening socket of its own, all
// bound to the same address and port with SO_REUSEPORT (the modern multi-reactor: nginx's
// "listen ... reuseport", Envoy, seastar).
//
// How it works: each worker is the loop of epoll.cpp (run_epoll_loop), unchanged, on its own
// listener. main() made the first listener with SO_REUSEPORT (traits.reuse_port: it must be set
// before bind(), on every socket that shares the port); serve() binds N-1 more to the same
// address and port, and the kernel hands each new connection to one listener of the group,
// chosen by a hash of the client's address and port. Worker 0 serves main's listener: the
// kernel sends it its share like any other, and closing it instead would reset the clients
// already waiting in its backlog. A connection lives its whole life on the thread that accepted
// it, so the workers share nothing: no lock, no common accept queue, no thundering herd. (Only
// --max-connections is counted for the whole server, by one atomic operation per connection.)
// Good at: an event loop on every core with no shared state, so throughput grows with cores;
// each worker is as cheap per client as `epoll`.
// Where it breaks: the hash spreads connections, not work. A connection never moves, so a
// worker whose clients are busy (or stalled by --sleep-us) keeps its queue while another idles,
// and a few long connections may share one worker. A slow request stalls every client of its
// worker, as in `epoll`. The group is open to any process of the same user that binds the port
// with SO_REUSEPORT: it would take a share of the clients. And a listener that closes resets
// the connections still in its backlog (Linux 5.14 can move them: net.ipv4.tcp_migrate_req).
#include <vector>

#include "servers/common/architecture.hpp"
#include "servers/common/epoll_loop.hpp"
#include "servers/common/net.hpp"
#include "servers/common/workers.hpp"

namespace archbench {

static void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    std::vector<Socket> listeners;  // for workers 1 to N-1; worker 0 serves main's
    for (unsigned worker = 1; worker < options.threads; ++worker)
        listeners.push_back(listen_again(listen_fd));
    ConnectionLimit limit(options.max_connections);  // one for all the loops
    // Every epoll set is made before any worker accepts: a worker that accepted a flood of
    // clients first could otherwise leave another without a descriptor for its own.
    std::vector<Socket> epoll_sets;
    for (unsigned worker = 0; worker < options.threads; ++worker)
        epoll_sets.push_back(new_epoll_set());
    ConnectionCounters accepted(options.threads);
    run_worker_threads(options.threads, stop, [&](unsigned worker) {
        const int own_listener = worker == 0 ? listen_fd : listeners[worker - 1].fd();
        run_epoll_loop(own_listener, options, stop, limit,
                       {.accepted = &accepted[worker], .epoll = std::move(epoll_sets[worker])});
    });
    accepted.report();
}

extern const Architecture epoll_reuseport_architecture{
    .name = "epoll-reuseport",
    .description = "--threads epoll loops, each on its own SO_REUSEPORT listener of one port",
    .traits = {.concurrent = true,
               .process_based = false,
               .connection_limit = 0,
               .reuse_port = true,
               .family = Family::event_loops,
               .reports_worker_connections = true},
    .serve = serve,
};

}  // namespace archbench
