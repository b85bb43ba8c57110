// forked: one process per connection (Stevens' serv01, socketserver.ForkingMixIn, inetd's
// "nowait" services).
//
// How it works: the parent accepts and forks; the child closes the listening socket, runs the
// same blocking conversation as `single` (serve_client_blocking) and exits when the client
// leaves. The parent reaps each child as it exits: SIGCHLD arrives as a readable signalfd
// beside the listening socket, so no child is left a zombie while the server runs. (The parent's
// loop is run_process_per_client(), servers/common/children.hpp, shared with inetd, whose child
// execs a fresh program instead.)
// Good at: isolation. A child that crashes takes only its own client down, and each child can
// use its own core without sharing memory or locks.
// Where it breaks: a fork per connection is the most expensive way to start a worker (page
// tables, a process to schedule and reap), so short connections pay more for the fork than for
// the service: Stevens measured it as the costliest design of chapter 30. Unbounded, a flood
// of clients would fork until the machine runs out of processes: hence a default
// --max-connections of 4096, which the parent keeps, since it accepts: a client beyond it is
// closed before any fork, and a child's place is given back when the child is reaped.
#include "servers/common/architecture.hpp"
#include "servers/common/children.hpp"
#include "servers/common/linger.hpp"
#include "servers/common/net.hpp"

namespace archbench {

static void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    run_process_per_client(listen_fd, options, stop, [&](int client_fd) {
        serve_client_blocking(client_fd, options);
        finish_lingering_closes();  // a refused client's socket lingers on a thread _exit would end
    });
}

extern const Architecture forked_architecture{
    .name = "forked",
    .description = "one process per connection: the parent accepts and reaps, a child serves",
    .traits = {.concurrent = true,
               .process_based = true,
               .connection_limit = 0,
               .default_max_connections = 4096,
               .family = Family::per_client},
    .serve = serve,
};

}  // namespace archbench
