// The event loop of epoll.cpp, shared by every architecture built on epoll: epoll-et (edge
// triggered), epoll-reuseport (one loop per thread, each on a listening socket of its own) and
// epoll-prefork (one loop per process, all on one inherited listening socket).
//
// The loop waits with epoll_wait(), stops when `stop` is requested, accepts every waiting client
// (pausing while descriptors run out, see Acceptor) and enforces --idle-timeout. What it does
// with a client socket, how it registers it and when it reads from it, is the EpollClients'
// part: that is where level-triggered epoll.cpp and edge-triggered epoll-et.cpp differ.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>

#include "servers/common/architecture.hpp"
#include "servers/common/limits.hpp"
#include "servers/common/net.hpp"
#include "servers/common/nonblocking.hpp"

namespace archbench {

// A new epoll set. Throws std::runtime_error when the kernel refuses one (out of descriptors).
Socket new_epoll_set();

// epoll_ctl() for `fd`, whose number is the event's data: a number cannot dangle, as a pointer
// to a Connection could. False when the kernel refuses (ENOMEM, max_user_watches).
bool epoll_watch(int epoll_fd, int operation, int fd, std::uint32_t events);

// The clients of one loop, and how their sockets are watched.
class EpollClients {
public:
    virtual ~EpollClients() = default;
    // A client just accepted: register its socket with epoll and keep its Connection.
    virtual void add(AcceptedClient client) = 0;
    // epoll reported this client socket.
    virtual void on_ready(const epoll_event& event) = 0;
    // --idle-timeout, once a turn (close_idle_connections()).
    virtual void close_idle(IdleSweep& sweep) = 0;
    // After each turn: serves the clients it left unfinished, which no event will report again
    // (edge-triggered sockets that still hold input). True while some are left: the loop then
    // looks at epoll without waiting, and comes back here.
    virtual bool serve_unfinished() { return false; }
};

struct EpollLoopSettings {
    std::atomic<std::uint64_t>* accepted = nullptr;  // counts each client accepted, when given
    // The set to wait on; empty: a new one. Several loops that accept at once make theirs first,
    // lest the first to accept use up the descriptors before the last has its set.
    Socket epoll;
    // EPOLLEXCLUSIVE on the listener, for loops in several processes that watch one listening
    // socket (epoll-prefork): a new connection wakes one of them, not every one.
    bool exclusive_listener = false;
};

// Serves the clients accepted on `listen_fd` on the calling thread until `stop` is requested.
// `limit` is --max-connections, which several loops may share. `make_clients` builds the
// EpollClients on the loop's epoll set. Throws std::runtime_error when epoll fails.
template <typename MakeClients>
void run_epoll_loop_with(int listen_fd, const ServerOptions& options, StopSignal& stop,
                         ConnectionLimit& limit, EpollLoopSettings settings,
                         MakeClients make_clients);

// The level-triggered loop of epoll.cpp, for epoll-reuseport and epoll-prefork.
void run_epoll_loop(int listen_fd, const ServerOptions& options, StopSignal& stop,
                    ConnectionLimit& limit, EpollLoopSettings settings = {});

// The loop itself, for any EpollClients (servers/common/epoll_loop.cpp).
void run_epoll_turns(int listen_fd, const ServerOptions& options, StopSignal& stop,
                     ConnectionLimit& limit, int epoll_fd, EpollClients& clients,
                     const EpollLoopSettings& settings);

template <typename MakeClients>
void run_epoll_loop_with(int listen_fd, const ServerOptions& options, StopSignal& stop,
                         ConnectionLimit& limit, EpollLoopSettings settings,
                         MakeClients make_clients) {
    Socket epoll = settings.epoll ? std::move(settings.epoll) : new_epoll_set();
    auto clients = make_clients(epoll.fd());
    run_epoll_turns(listen_fd, options, stop, limit, epoll.fd(), clients, settings);
}  // `clients` goes first, closing every connection, then the epoll set

}  // namespace archbench
