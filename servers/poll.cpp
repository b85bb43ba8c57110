// poll: one thread serves every client, waiting on all their sockets at once with poll() (the
// book's hand-written srv_async.py, Stevens' tcpservpoll01.c).
//
// How it works: as select.cpp, with an array of pollfd entries in place of the two fd_sets.
// Every socket is non-blocking. Each turn of the loop writes into the array which sockets it
// waits on and for what (POLLIN to read, POLLOUT to write), and poll() returns once some of them
// are ready, having filled in each entry's revents. A ready socket gets one read, or as many
// writes as it takes now (Connection, shared with select.cpp and epoll.cpp), so no client ever
// makes the loop wait for it.
// Good at: what select is good at (many mostly idle clients on one thread, no locks, a client
// costs a buffer), without FD_SETSIZE: an entry holds a descriptor of any size, so the only
// limit is the process's open-file limit. Portable to every Unix.
// Where it breaks: each turn still costs time in proportion to all the descriptors, ready or
// not: the array is rebuilt, copied into the kernel and back, and scanned, which is what epoll
// removes. And there is one thread: one core at most, and a slow request (--work-us,
// --sleep-us) stalls every other client while it runs.
#include <poll.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "servers/common/architecture.hpp"
#include "servers/common/nonblocking.hpp"

namespace archbench {

using Connections = std::unordered_map<int, Connection>;

static void accept_clients(Acceptor& acceptor, Connections& connections,
                           const ServerOptions& options) {
    while (AcceptedClient client = acceptor.accept_next()) {
        const int fd = client.socket.fd();
        connections.try_emplace(fd, std::move(client), options);
    }
}

static short events_wanted(const Connection& connection) {
    return static_cast<short>((connection.wants_read() ? POLLIN : 0) |
                              (connection.wants_write() ? POLLOUT : 0));
}

static void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    ConnectionLimit limit(options.max_connections);
    Acceptor acceptor(listen_fd, limit);
    IdleSweep idle_sweep(options.idle_timeout);
    Connections connections;
    std::vector<pollfd> waiting;  // keeps its capacity from turn to turn
    for (;;) {
        close_idle_connections(idle_sweep, connections);  // --idle-timeout
        // poll() remembers nothing either: every turn lists again what to wait for, on every
        // socket. A negative descriptor is skipped by poll(), which keeps the listener's place.
        waiting.clear();
        waiting.push_back({stop.fd(), POLLIN, 0});
        waiting.push_back({acceptor.paused() ? -1 : listen_fd, POLLIN, 0});
        for (const auto& [fd, connection] : connections)
            waiting.push_back({fd, events_wanted(connection), 0});

        if (poll(waiting.data(), waiting.size(),
                 idle_sweep.wait_timeout_ms(acceptor.wait_timeout_ms())) < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
        }
        if (waiting[0].revents & POLLIN) return;  // dropping `connections` closes them all

        // Every connection is looked at, ready or not; its entry, listed in the same order,
        // says what it is ready for. Errors and hang-ups are reported whether asked for or not.
        auto entry = waiting.begin() + 2;
        for (auto it = connections.begin(); it != connections.end(); ++entry) {
            Connection& connection = it->second;
            Connection::Status status = Connection::Status::open;
            if (entry->revents & (POLLERR | POLLHUP)) status = Connection::Status::closed;  // reset
            if (status == Connection::Status::open && (entry->revents & POLLIN))
                status = connection.on_readable();
            if (status == Connection::Status::open && (entry->revents & POLLOUT))
                status = connection.on_writable();
            it = status == Connection::Status::closed ? connections.erase(it) : std::next(it);
        }
        if (waiting[1].revents & POLLIN) accept_clients(acceptor, connections, options);
    }
}

extern const Architecture poll_architecture{
    .name = "poll",
    .description = "one thread, poll() over non-blocking sockets (the book's srv_async)",
    .traits = {.concurrent = true,
               .process_based = false,
               .connection_limit = 0,
               .family = Family::event_loop,
               .one_io_thread = true,
               .blocking_stalls_every_client = true},
    .serve = serve,
};

}  // namespace archbench
