// epoll: one thread serves every client, as select.cpp does, but the kernel keeps the list of
// sockets to watch (Linux's answer to select's limits; nginx, Redis and libevent stand on it).
//
// How it works: every socket is non-blocking, and each client is the same Connection as in
// select.cpp. A socket is registered once with epoll_ctl(), and told again only when what it
// waits for changes (to read, to write, or both); epoll_wait() hands back just the ready ones.
// Level-triggered, not edge-triggered: a socket is reported for as long as it is ready, as
// select() reports it. That is what lets a Connection read once per turn (fair to the others)
// and stop reading while its output is over its bound, leaving input in the socket: the next
// epoll_wait() reports it again. Edge-triggered epoll reports only changes, so every wake-up
// would have to read until EAGAIN, or the server would have to remember by itself which
// sockets still hold input; it saves wake-ups, but would need a Connection of its own.
// Good at: a turn costs time in proportion to the ready sockets, not to all of them, and there
// is no FD_SETSIZE wall: tens of thousands of mostly idle clients on one thread.
// Where it breaks: still one thread: one core at most, and a slow request (--work-us,
// --sleep-us) stalls every other client while it runs. Each change of interest is a system
// call where select sets a bit. Linux only (BSDs have kqueue).
// The loop is run_epoll_loop() (servers/epoll.hpp): epoll-reuseport runs one of it per thread.
#include <sys/epoll.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "servers/epoll.hpp"
#include "servers/nonblocking.hpp"

namespace archbench {

struct Watched {
    Connection connection;
    std::uint32_t events;  // what epoll was last told to wait for on it
};

using Connections = std::unordered_map<int, Watched>;

static std::uint32_t events_wanted(const Connection& connection) {
    return (connection.wants_read() ? EPOLLIN : 0u) | (connection.wants_write() ? EPOLLOUT : 0u);
}

static bool watch(int epoll_fd, int operation, int fd, std::uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;  // not a pointer to the Connection: a number cannot dangle
    return epoll_ctl(epoll_fd, operation, fd, &event) == 0;
}

static void accept_clients(Acceptor& acceptor, Connections& connections, int epoll_fd,
                           const ServerOptions& options, std::atomic<std::uint64_t>* accepted) {
    while (AcceptedClient client = acceptor.accept_next()) {
        if (accepted) ++*accepted;
        const int fd = client.socket.fd();
        if (!watch(epoll_fd, EPOLL_CTL_ADD, fd, EPOLLIN)) {  // ENOMEM, or max_user_watches
            std::fprintf(stderr, "epoll_ctl: %s: connection closed\n", std::strerror(errno));
            continue;
        }
        connections.try_emplace(fd, Connection(std::move(client), options), EPOLLIN);
    }
}

Socket new_epoll_set() {
    Socket epoll(epoll_create1(EPOLL_CLOEXEC));
    if (!epoll) throw std::runtime_error(std::string("epoll: ") + std::strerror(errno));
    return epoll;
}

void run_epoll_loop(int listen_fd, const ServerOptions& options, StopSignal& stop,
                    ConnectionLimit& limit, std::atomic<std::uint64_t>* accepted, Socket epoll) {
    if (!epoll) epoll = new_epoll_set();
    if (!watch(epoll.fd(), EPOLL_CTL_ADD, stop.fd(), EPOLLIN))
        throw std::runtime_error(std::string("epoll: ") + std::strerror(errno));
    Acceptor acceptor(listen_fd, limit);
    IdleSweep idle_sweep(options.idle_timeout);
    bool watching_listener = false;
    Connections connections;
    std::array<epoll_event, 256> ready;
    for (;;) {
        // --idle-timeout. close() takes a socket out of epoll by itself.
        close_idle_connections(idle_sweep, connections, &Watched::connection);
        // epoll remembers: the listener is added or removed only when a pause begins or ends.
        if (watching_listener == acceptor.paused()) {
            watching_listener = !watching_listener;
            watch(epoll.fd(), watching_listener ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listen_fd, EPOLLIN);
        }

        const int count = epoll_wait(epoll.fd(), ready.data(), static_cast<int>(ready.size()),
                                     idle_sweep.wait_timeout_ms(acceptor.wait_timeout_ms()));
        if (count < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
        }

        // Only the ready sockets are looked at; the others cost nothing this turn.
        for (const epoll_event& event : std::span(ready.data(), static_cast<std::size_t>(count))) {
            const int fd = event.data.fd;
            if (fd == stop.fd()) return;  // dropping `connections` closes them all
            if (fd == listen_fd) {
                accept_clients(acceptor, connections, epoll.fd(), options, accepted);
                continue;
            }
            auto it = connections.find(fd);  // found: a socket leaves epoll only when it closes
            auto& [connection, events] = it->second;
            Connection::Status status = Connection::Status::open;
            if (event.events & (EPOLLERR | EPOLLHUP)) status = Connection::Status::closed;  // reset
            if (status == Connection::Status::open && (event.events & EPOLLIN))
                status = connection.on_readable();
            if (status == Connection::Status::open && (event.events & EPOLLOUT))
                status = connection.on_writable();
            // close() takes a socket out of epoll by itself; a socket that will linger stays
            // open, so it is taken out here, before erasing hands it on.
            if (status == Connection::Status::closed) {
                if (connection.lingers()) epoll_ctl(epoll.fd(), EPOLL_CTL_DEL, fd, nullptr);
                connections.erase(it);
                continue;
            }
            if (const std::uint32_t wanted = events_wanted(connection); wanted != events) {
                if (!watch(epoll.fd(), EPOLL_CTL_MOD, fd, wanted)) connections.erase(it);
                else events = wanted;
            }
        }
    }
}

static void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    ConnectionLimit limit(options.max_connections);
    run_epoll_loop(listen_fd, options, stop, limit);
}

extern const Architecture epoll_architecture{
    .name = "epoll",
    .description = "one thread, level-triggered epoll over non-blocking sockets",
    .traits = {.concurrent = true, .process_based = false, .connection_limit = 0},
    .serve = serve,
};

}  // namespace archbench
