// select: one thread serves every client, waiting on all their sockets at once with select()
// (the book's srv_asyncore.py, Stevens' tcpservselect01.c).
//
// How it works: every socket is non-blocking. Each turn of the loop writes into two fd_sets
// which sockets it waits to read from and which to write to, and select() returns once some of
// them are ready. A ready socket gets one read, or as many writes as it takes now (Connection,
// shared with epoll.cpp), so no client ever makes the loop wait for it: what a slow reader
// cannot take yet stays in its connection's output buffer until the socket is writable again.
// Good at: many mostly idle clients on one thread, with no locks and no thread stacks: a client
// costs a buffer, not a thread. Portable to every Unix (and, with care, to Windows).
// Where it breaks: each turn costs time in proportion to all the descriptors, ready or not: the
// sets are rebuilt, copied into the kernel and back, and scanned. FD_SETSIZE (1024) is a wall:
// a descriptor at or beyond it does not fit in an fd_set at all (FD_SET would write past its
// end), so a client that gets one is turned away. And there is one thread: one core at most,
// and a slow request (--work-us, --sleep-us) stalls every other client while it runs.
#include <sys/select.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "servers/common/architecture.hpp"
#include "servers/common/nonblocking.hpp"

namespace archbench {

// Descriptors below FD_SETSIZE that are not clients: stdin, stdout, stderr, the listener, the
// stop eventfd, and room for those a parent (a test runner, a harness) let the server inherit.
constexpr std::size_t kDescriptorsNotClients = 16;

using Connections = std::unordered_map<int, Connection>;

static void accept_clients(Acceptor& acceptor, Connections& connections,
                           const ServerOptions& options) {
    static std::size_t refused = 0;  // for the whole process: logs one refusal in a hundred
    while (AcceptedClient client = acceptor.accept_next()) {
        const int fd = client.socket.fd();
        if (fd >= FD_SETSIZE) {  // it cannot be waited for: close it now, and keep serving
            if (++refused % 100 == 1)
                std::fprintf(stderr, "select: descriptor %d is beyond FD_SETSIZE (%d): "
                             "connection closed (%zu so far)\n", fd, FD_SETSIZE, refused);
            continue;
        }
        connections.try_emplace(fd, std::move(client), options);
    }
}

static void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    if (listen_fd >= FD_SETSIZE || stop.fd() >= FD_SETSIZE)
        throw std::runtime_error("select: listener or stop descriptor beyond FD_SETSIZE");
    ConnectionLimit limit(options.max_connections);
    Acceptor acceptor(listen_fd, limit);
    IdleSweep idle_sweep(options.idle_timeout);
    Connections connections;
    for (;;) {
        close_idle_connections(idle_sweep, connections);  // --idle-timeout
        // select() remembers nothing: every turn says again what to wait for, on every socket.
        fd_set readable, writable;
        FD_ZERO(&readable);
        FD_ZERO(&writable);
        FD_SET(stop.fd(), &readable);
        int highest_fd = stop.fd();
        if (!acceptor.paused()) {
            FD_SET(listen_fd, &readable);
            highest_fd = std::max(highest_fd, listen_fd);
        }
        for (const auto& [fd, connection] : connections) {
            if (connection.wants_read()) FD_SET(fd, &readable);
            if (connection.wants_write()) FD_SET(fd, &writable);
            highest_fd = std::max(highest_fd, fd);
        }

        const int timeout_ms = idle_sweep.wait_timeout_ms(acceptor.wait_timeout_ms());
        timeval timeout{timeout_ms / 1000, timeout_ms % 1000 * 1000};
        if (select(highest_fd + 1, &readable, &writable, nullptr,
                   timeout_ms < 0 ? nullptr : &timeout) < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("select: ") + std::strerror(errno));
        }
        if (FD_ISSET(stop.fd(), &readable)) return;  // dropping `connections` closes them all

        // Every connection is looked at, ready or not: select() says only "some are ready".
        for (auto it = connections.begin(); it != connections.end();) {
            auto& [fd, connection] = *it;
            Connection::Status status = Connection::Status::open;
            if (FD_ISSET(fd, &readable)) status = connection.on_readable();
            if (status == Connection::Status::open && FD_ISSET(fd, &writable))
                status = connection.on_writable();
            it = status == Connection::Status::closed ? connections.erase(it) : std::next(it);
        }
        if (FD_ISSET(listen_fd, &readable)) accept_clients(acceptor, connections, options);
    }
}

extern const Architecture select_architecture{
    .name = "select",
    .description = "one thread, select() over non-blocking sockets (the book's asyncore server)",
    .traits = {.concurrent = true,
               .process_based = false,
               .connection_limit = FD_SETSIZE - kDescriptorsNotClients,
               .family = Family::event_loop,
               .one_io_thread = true,
               .blocking_stalls_every_client = true},
    .serve = serve,
};

}  // namespace archbench
