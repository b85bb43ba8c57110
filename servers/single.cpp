// single: one client at a time (the book's srv_single.py, Stevens' serv00 "iterative server").
//
// How it works: accept a client, serve it until it leaves, accept the next. Nothing runs
// concurrently, so there is nothing to lock and nothing to schedule.
// Good at: the lowest latency and CPU per request there is for one client; the baseline that
// every other architecture is measured against.
// Where it breaks: it serves one client at a time. Every other client waits in the listen
// backlog, so one slow or idle client starves them all, and throughput cannot grow with
// connections. The book: "easy to deny service". --idle-timeout bounds the damage: a client
// that completes no question within it is let go, and the next one is served. (With one client
// open at a time, any --max-connections is met by construction.)
#include "servers/common/architecture.hpp"
#include "servers/common/net.hpp"

namespace archbench {

static void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    ShutdownOnStop wake_accept(stop, listen_fd);
    for (;;) {
        Socket client(accept_client(listen_fd, stop));
        if (!client) return;
        ShutdownOnStop wake_recv(stop, client.fd());
        serve_client_blocking(client.fd(), options);
    }
}

extern const Architecture single_architecture{
    .name = "single",
    .description = "one client at a time: accept, serve until it leaves, accept the next",
    .traits = {.concurrent = false,
               .process_based = false,
               .connection_limit = 0,
               .family = Family::one_at_a_time},
    .serve = serve,
};

}  // namespace archbench
