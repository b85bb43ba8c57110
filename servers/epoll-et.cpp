// epoll-et: one thread serves every client, as epoll.cpp does, but with edge-triggered epoll
// (EPOLLET): the design that epoll.cpp explains it did not take (nginx registers its
// connections this way; epoll(7) describes both, and the pitfalls of this one).
//
// How it works: the same loop and the same Connection as epoll.cpp; only what it does with a
// client socket differs. A socket is registered once, for reading and writing, and never told
// again: no EPOLL_CTL_MOD when output backs up or drains. Edge-triggered epoll reports a socket
// only when it becomes ready, not for as long as it is ready, so input already waiting brings no
// new report: every wake-up reads until the socket is empty (EAGAIN). Two things stop reading
// early, and each time the server itself must remember that the socket still holds input
// (`may_hold_input`): output over its bound (the client does not read; the EPOLLOUT edge that
// comes when it does resumes reading), and kReadsPerVisit reads in one go, so that one client
// that sends without pause cannot starve the others (epoll(7)'s "possible pitfalls"): such a
// socket goes on the `unfinished` list, served again after the next turn without waiting.
// Good at: fewer system calls: no epoll_ctl per change of interest, and a socket that stays
// readable is not reported turn after turn. Like epoll: one thread, no FD_SETSIZE wall.
// Where it breaks: a forgotten "read until EAGAIN" is a client that hangs, silently, for ever:
// the bookkeeping level triggering does in the kernel is here the server's own, and a bug in it
// is a stall, not a wasted wake-up. Still one thread: one core at most, and a slow request
// (--work-us, --sleep-us) stalls every other client while it runs.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "servers/common/epoll_loop.hpp"
#include "servers/common/nonblocking.hpp"

namespace archbench {

namespace {

struct Watched {
    Connection connection;
    bool may_hold_input;  // an edge came, and no read has found the socket empty since
};

// Reads of one socket in a row before the others get their turn (16 kB each at most).
constexpr int kReadsPerVisit = 8;

class EdgeTriggered : public EpollClients {
public:
    EdgeTriggered(int epoll_fd, const ServerOptions& options) : epoll_fd_(epoll_fd), options_(options) {}

    void add(AcceptedClient client) override {
        const int fd = client.socket.fd();
        // Once, for both directions; input that has arrived already is reported as an edge.
        if (!epoll_watch(epoll_fd_, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLOUT | EPOLLET)) {
            std::fprintf(stderr, "epoll_ctl: %s: connection closed\n", std::strerror(errno));
            return;
        }
        connections_.try_emplace(fd, Connection(std::move(client), options_), false);
    }

    // Reported once per change: an EPOLLIN edge means new input, an EPOLLOUT edge room to write.
    void on_ready(const epoll_event& event) override {
        const int fd = event.data.fd;
        auto it = connections_.find(fd);  // found: a socket leaves epoll only when it closes
        auto& [connection, may_hold_input] = it->second;
        Connection::Status status = Connection::Status::open;
        if (event.events & (EPOLLERR | EPOLLHUP)) status = Connection::Status::closed;  // reset
        if (status == Connection::Status::open && (event.events & EPOLLOUT))
            status = connection.on_writable();
        if (event.events & EPOLLIN) may_hold_input = true;
        if (status == Connection::Status::open) status = read_what_waits(fd, it->second);
        finish(it, status);
    }

    void close_idle(IdleSweep& sweep) override {
        close_idle_connections(sweep, connections_, &Watched::connection);
    }

    // The sockets left with input after kReadsPerVisit reads: no edge will report them again.
    bool serve_unfinished() override {
        visiting_.swap(unfinished_);
        for (int fd : visiting_)
            if (auto it = connections_.find(fd); it != connections_.end())
                finish(it, read_what_waits(fd, it->second));  // a reused number: it reads nothing
        visiting_.clear();
        return !unfinished_.empty();
    }

private:
    using Connections = std::unordered_map<int, Watched>;

    // Until EAGAIN, or output over its bound (wants_read() is false; the EPOLLOUT edge resumes
    // it), or kReadsPerVisit reads (then it waits on the unfinished list).
    Connection::Status read_what_waits(int fd, Watched& watched) {
        auto& [connection, may_hold_input] = watched;
        for (int reads = 0; may_hold_input && connection.wants_read(); ++reads) {
            if (reads == kReadsPerVisit) {
                unfinished_.push_back(fd);
                break;
            }
            if (connection.on_readable() == Connection::Status::closed)
                return Connection::Status::closed;
            may_hold_input = !connection.read_blocked();
        }
        return Connection::Status::open;
    }

    // close() takes a socket out of epoll by itself; a socket that will linger stays open, so it
    // is taken out here, before erasing hands it on.
    void finish(Connections::iterator it, Connection::Status status) {
        if (status == Connection::Status::open) return;
        if (it->second.connection.lingers()) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->first, nullptr);
        connections_.erase(it);
    }

    int epoll_fd_;
    const ServerOptions& options_;
    Connections connections_;
    std::vector<int> unfinished_;  // sockets to read again after this turn
    std::vector<int> visiting_;    // the list being served, kept for its capacity
};

}  // namespace

static void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    ConnectionLimit limit(options.max_connections);
    run_epoll_loop_with(listen_fd, options, stop, limit, {},
                        [&](int epoll_fd) { return EdgeTriggered(epoll_fd, options); });
}

extern const Architecture epoll_et_architecture{
    .name = "epoll-et",
    .description = "one thread, edge-triggered epoll: each wake-up reads until EAGAIN",
    .traits = {.concurrent = true,
               .process_based = false,
               .connection_limit = 0,
               .family = Family::event_loop,
               .one_io_thread = true,
               .blocking_stalls_every_client = true},
    .serve = serve,
};

}  // namespace archbench
