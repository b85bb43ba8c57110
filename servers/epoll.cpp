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
// sockets still hold input; it saves wake-ups: that is epoll-et.cpp, whose diff against this
// file is exactly that difference.
// Good at: a turn costs time in proportion to the ready sockets, not to all of them, and there
// is no FD_SETSIZE wall: tens of thousands of mostly idle clients on one thread.
// Where it breaks: still one thread: one core at most, and a slow request (--work-us,
// --sleep-us) stalls every other client while it runs. Each change of interest is a system
// call where select sets a bit. Linux only (BSDs have kqueue).
// The loop (epoll_wait, stop, accept, --idle-timeout) is run_epoll_turns() in
// servers/common/epoll_loop.cpp; this file is what it does with a client socket. epoll-reuseport
// runs one such loop per thread, epoll-prefork one per process.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "servers/common/epoll_loop.hpp"
#include "servers/common/nonblocking.hpp"

namespace archbench {

namespace {

struct Watched {
    Connection connection;
    std::uint32_t events;  // what epoll was last told to wait for on it
};

std::uint32_t events_wanted(const Connection& connection) {
    return (connection.wants_read() ? EPOLLIN : 0u) | (connection.wants_write() ? EPOLLOUT : 0u);
}

class LevelTriggered : public EpollClients {
public:
    LevelTriggered(int epoll_fd, const ServerOptions& options) : epoll_fd_(epoll_fd), options_(options) {}

    void add(AcceptedClient client) override {
        const int fd = client.socket.fd();
        if (!epoll_watch(epoll_fd_, EPOLL_CTL_ADD, fd, EPOLLIN)) {  // ENOMEM, or max_user_watches
            std::fprintf(stderr, "epoll_ctl: %s: connection closed\n", std::strerror(errno));
            return;
        }
        connections_.try_emplace(fd, Connection(std::move(client), options_), EPOLLIN);
    }

    // Reported for as long as it is ready: one read per turn is fair to the others, and input
    // left in the socket is reported again at the next epoll_wait().
    void on_ready(const epoll_event& event) override {
        const int fd = event.data.fd;
        auto it = connections_.find(fd);  // found: a socket leaves epoll only when it closes
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
            if (connection.lingers()) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
            connections_.erase(it);
            return;
        }
        // Each change of interest is a system call: reading stops while output is over its bound.
        if (const std::uint32_t wanted = events_wanted(connection); wanted != events) {
            if (!epoll_watch(epoll_fd_, EPOLL_CTL_MOD, fd, wanted)) connections_.erase(it);
            else events = wanted;
        }
    }

    void close_idle(IdleSweep& sweep) override {
        close_idle_connections(sweep, connections_, &Watched::connection);
    }

private:
    int epoll_fd_;
    const ServerOptions& options_;
    std::unordered_map<int, Watched> connections_;
};

}  // namespace

void run_epoll_loop(int listen_fd, const ServerOptions& options, StopSignal& stop,
                    ConnectionLimit& limit, EpollLoopSettings settings) {
    run_epoll_loop_with(listen_fd, options, stop, limit, std::move(settings),
                        [&](int epoll_fd) { return LevelTriggered(epoll_fd, options); });
}

static void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    ConnectionLimit limit(options.max_connections);
    run_epoll_loop(listen_fd, options, stop, limit);
}

extern const Architecture epoll_architecture{
    .name = "epoll",
    .description = "one thread, level-triggered epoll over non-blocking sockets",
    .traits = {.concurrent = true,
               .process_based = false,
               .connection_limit = 0,
               .family = Family::event_loop,
               .one_io_thread = true,
               .blocking_stalls_every_client = true},
    .serve = serve,
};

}  // namespace archbench
