// forked: one process per connection (Stevens' serv01, socketserver.ForkingMixIn, inetd's
// "nowait" services).
//
// How it works: the parent accepts and forks; the child closes the listening socket, runs the
// same blocking conversation as `single` (serve_client_blocking) and exits when the client
// leaves. The parent reaps each child as it exits: SIGCHLD arrives as a readable signalfd
// beside the listening socket, so no child is left a zombie while the server runs.
// Good at: isolation. A child that crashes takes only its own client down, and each child can
// use its own core without sharing memory or locks.
// Where it breaks: a fork per connection is the most expensive way to start a worker (page
// tables, a process to schedule and reap), so short connections pay more for the fork than for
// the service: Stevens measured it as the costliest design of chapter 30. Unbounded, a flood
// of clients would fork until the machine runs out of processes: hence a default
// --max-connections of 4096, which the parent keeps, since it accepts: a client beyond it is
// closed before any fork, and a child's place is given back when the child is reaped.
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <thread>

#include "servers/architecture.hpp"
#include "servers/children.hpp"
#include "servers/limits.hpp"
#include "servers/linger.hpp"
#include "servers/net.hpp"

namespace archbench {

namespace {

[[noreturn]] void child(int client_fd, const std::initializer_list<int> inherited,
                        const ServerOptions& options) {
    for (int fd : inherited) close(fd);  // above all the listening socket: it is the parent's
    serve_client_blocking(client_fd, options);
    finish_lingering_closes();  // a refused client's socket lingers on a thread _exit would end
    _exit(0);
}

void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    set_nonblocking(listen_fd);  // poll() said readable, but the client may be gone by accept()
    const Socket sigchld = sigchld_descriptor();
    ConnectionLimit limit(options.max_connections);
    std::map<pid_t, Admission> children;  // each holds its client's place until it is reaped
    pollfd waiting[] = {{stop.fd(), POLLIN, 0}, {sigchld.fd(), POLLIN, 0}, {listen_fd, POLLIN, 0}};

    while (!stop.requested()) {
        if (poll(waiting, 3, -1) < 0) continue;  // EINTR
        if (waiting[1].revents)
            for (pid_t pid : reap_exited(sigchld.fd())) children.erase(pid);  // its place too
        if (!waiting[2].revents) continue;

        Socket client(accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
        if (!client) {
            if (errno == EMFILE || errno == ENFILE) {
                // Out of descriptors: the client stays in the backlog; do not spin on it.
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
            continue;
        }
        Admission admission(limit);
        if (!admission) continue;  // beyond --max-connections: closed at once, nothing forked
        const pid_t pid = fork_child();  // SIGTERM from the parent ends the child
        if (pid == 0) child(client.fd(), {listen_fd, stop.fd(), sigchld.fd()}, options);
        if (pid < 0)
            std::fprintf(stderr, "forked: fork failed: %s\n", std::strerror(errno));
        else
            children.emplace(pid, std::move(admission));
        // The parent's copy of the client socket closes here; the child's stays open.
    }

    for (const auto& [pid, admission] : children) kill(pid, SIGTERM);
    for (const auto& [pid, admission] : children) waitpid(pid, nullptr, 0);
}

}  // namespace

extern const Architecture forked_architecture{
    .name = "forked",
    .description = "one process per connection: the parent accepts and reaps, a child serves",
    .traits = {.concurrent = true,
               .process_based = true,
               .connection_limit = 0,
               .default_max_connections = 4096},
    .serve = serve,
};

}  // namespace archbench
