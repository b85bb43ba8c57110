// leader-followers: a pool of --threads threads that take turns waiting on one epoll set
// (Schmidt, O'Ryan, Pyarali, Kircher and Buschmann, "Leader/Followers", PLoP 2000; the TAO
// ORB's thread-pool reactor).
//
// How it works: one thread at a time, the leader, waits in epoll_wait() for one event; the
// others, the followers, wait for the leadership (a mutex). When an event comes, the leader hands
// the leadership on and serves that connection itself: it reads, answers (doing the request's
// --work-us and --sleep-us on its own stack, as a blocking worker would) and writes, then re-arms
// the socket and queues up as a follower again. Sockets are registered one-shot: a socket
// reported once is disarmed until its thread re-arms it, so no two threads ever serve one client.
// The leader also accepts new clients (quick, non-blocking) and closes the idle ones: it alone
// touches the listener and the clock. At exit it prints how many connections each thread
// accepted as leader: "worker_connections N0 N1 ...".
// Good at: no hand-off between threads: the thread that saw the event serves it, with the data
// hot in its cache, and no queue or context switch comes between them (the pattern's point,
// against half-sync/half-async). A blocking request blocks one thread; the others keep leading.
// Where it breaks: --threads requests in progress at most, as in prethreaded (but idle clients
// cost no thread, only a slot in epoll); the leadership is one lock that every event passes
// through, and handing it on wakes a follower each time.
#include <sys/epoll.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "servers/common/epoll_loop.hpp"
#include "servers/common/nonblocking.hpp"
#include "servers/common/workers.hpp"

namespace archbench {

namespace {

struct Served {
    Connection connection;
    bool armed;  // waiting in epoll: no thread holds it, and the leader may close it if idle
};

class LeaderFollowers {
public:
    LeaderFollowers(int listen_fd, const ServerOptions& options, StopSignal& stop,
                    ConnectionLimit& limit)
        : listen_fd_(listen_fd), stop_(stop), options_(options), acceptor_(listen_fd, limit),
          idle_sweep_(options.idle_timeout) {
        // The stop signal stays readable (level-triggered): every leader in turn sees it.
        if (!watch(EPOLL_CTL_ADD, stop.fd(), EPOLLIN))
            throw std::runtime_error(std::string("epoll: ") + std::strerror(errno));
    }

    // One thread of the pool, until a stop.
    void run(std::atomic<std::uint64_t>& accepted) {
        for (;;) {
            epoll_event event{};
            {
                std::lock_guard leadership(leadership_);  // a follower until this is taken
                if (!lead(event, accepted)) return;
            }  // the leadership passes to the next follower; this thread serves its event
            serve_client(event.data.fd, event.events);
        }
    }

private:
    bool watch(int operation, int fd, std::uint32_t events) {
        epoll_event event{};
        event.events = events;
        event.data.fd = fd;
        return epoll_ctl(epoll_.fd(), operation, fd, &event) == 0;
    }

    // As the leader: waits until a client is ready, accepting new ones meanwhile. False: stop.
    bool lead(epoll_event& event, std::atomic<std::uint64_t>& accepted) {
        for (;;) {
            close_idle();
            if (watching_listener_ == acceptor_.paused()) {  // as in epoll.cpp
                watching_listener_ = !watching_listener_;
                watch(watching_listener_ ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listen_fd_, EPOLLIN);
            }
            const int count = epoll_wait(epoll_.fd(), &event, 1,
                                         idle_sweep_.wait_timeout_ms(acceptor_.wait_timeout_ms()));
            if (count < 0 && errno != EINTR)
                throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
            if (count <= 0) continue;
            if (event.data.fd == stop_.fd()) return false;
            if (event.data.fd != listen_fd_) {
                std::lock_guard lock(clients_mutex_);
                auto it = clients_.find(event.data.fd);
                if (it == clients_.end()) continue;  // not expected: a client leaves epoll first
                it->second.armed = false;  // one-shot: now this thread's
                return true;
            }
            while (AcceptedClient client = acceptor_.accept_next()) {
                ++accepted;
                const int fd = client.socket.fd();
                std::lock_guard lock(clients_mutex_);
                clients_.try_emplace(fd, Connection(std::move(client), options_), true);
                if (!watch(EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLONESHOT)) clients_.erase(fd);
            }
        }
    }

    // --idle-timeout, by the leader: only clients waiting in epoll, which no thread holds.
    void close_idle() {
        if (!idle_sweep_.enabled()) return;
        const auto now = IdleSweep::Clock::now();
        if (!idle_sweep_.due(now)) return;
        std::lock_guard lock(clients_mutex_);
        std::erase_if(clients_, [&](const auto& entry) {
            const Served& served = entry.second;
            if (!served.armed || !served.connection.idle_expired(now)) return false;
            forget(served.connection);
            return true;
        });
    }

    // A client the leader handed to this thread: served, then re-armed or closed.
    void serve_client(int fd, std::uint32_t ready) {
        Connection* connection;
        {
            std::lock_guard lock(clients_mutex_);
            connection = &clients_.at(fd).connection;  // stays put while others come and go
        }
        Connection::Status status = Connection::Status::open;
        if (ready & (EPOLLERR | EPOLLHUP)) status = Connection::Status::closed;  // reset
        if (status == Connection::Status::open && (ready & EPOLLIN))
            status = connection->on_readable();  // the request's work is done here
        if (status == Connection::Status::open && (ready & EPOLLOUT))
            status = connection->on_writable();
        const std::uint32_t wanted = (connection->wants_read() ? EPOLLIN : 0u) |
                                     (connection->wants_write() ? EPOLLOUT : 0u) | EPOLLONESHOT;
        // Re-armed under the lock: the leader must not find it idle and close it in between.
        std::lock_guard lock(clients_mutex_);
        Served& served = clients_.at(fd);
        if (status == Connection::Status::open && watch(EPOLL_CTL_MOD, fd, wanted)) {
            served.armed = true;
        } else {
            forget(served.connection);
            clients_.erase(fd);
        }
    }

    // Before a client is closed: a socket that will linger stays open, so epoll lets it go here.
    void forget(const Connection& connection) {
        if (connection.lingers()) epoll_ctl(epoll_.fd(), EPOLL_CTL_DEL, connection.fd(), nullptr);
    }

    Socket epoll_ = new_epoll_set();
    int listen_fd_;
    StopSignal& stop_;
    const ServerOptions& options_;
    std::mutex leadership_;
    Acceptor acceptor_;      // the leader's
    IdleSweep idle_sweep_;   // the leader's
    bool watching_listener_ = false;  // the leader's
    std::mutex clients_mutex_;  // guards the map, not the clients: each is one thread's at a time
    std::unordered_map<int, Served> clients_;  // node-based: a client does not move when others do
};

void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    ConnectionLimit limit(options.max_connections);
    LeaderFollowers pool(listen_fd, options, stop, limit);
    ConnectionCounters accepted(options.threads);
    run_worker_threads(options.threads, stop, [&](unsigned index) { pool.run(accepted[index]); });
    accepted.report();
}

}  // namespace

extern const Architecture leader_followers_architecture{
    .name = "leader-followers",
    .description = "a pool of --threads threads taking turns to wait on one epoll set and serving what they get",
    .traits = {.concurrent = true,
               .process_based = false,
               .connection_limit = 0,
               .family = Family::worker_pool,
               .reports_worker_connections = true},
    .serve = serve,
};

}  // namespace archbench
