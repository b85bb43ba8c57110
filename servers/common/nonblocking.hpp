// What every event-loop server (select.cpp, epoll.cpp) shares: accepting without blocking, and
// one client's non-blocking conversation. An event-loop file then holds only what tells the
// architectures apart: how it waits until a socket is ready.
//
// The contract with a loop is small: wait for readability while wants_read(), for writability
// while wants_write(), call on_readable() / on_writable() when the socket is ready, and drop the
// Connection (which closes its socket) once either returns Status::closed. A live connection
// always wants one or the other, so a loop never forgets a client (but while its questions are
// worked elsewhere: see on_readable(Requests&)). The two limits come with
// them: the Acceptor closes at once a client beyond --max-connections, and a loop that calls
// close_idle_connections() every turn and waits no longer than its IdleSweep allows enforces
// --idle-timeout.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <span>
#include <mutex>
#include <string>
#include <vector>

#include "protocol/zen.hpp"
#include "servers/common/architecture.hpp"
#include "servers/common/limits.hpp"
#include "servers/common/net.hpp"

namespace archbench {

// A client that the Acceptor let in: its socket, and its place under --max-connections.
struct AcceptedClient {
    Socket socket;
    Admission admission;
    explicit operator bool() const { return static_cast<bool>(socket); }
};

// The listening side of an event loop. The listener is made non-blocking, so that accepting
// "every waiting client" ends with EAGAIN instead of blocking the loop.
class Acceptor {
public:
    // `limit`: --max-connections, for this loop or for all the loops of a server.
    Acceptor(int listen_fd, ConnectionLimit& limit);

    int fd() const { return listen_fd_; }

    // The next waiting client, non-blocking and with TCP_NODELAY; an empty one once none is
    // waiting, or when accept() failed for want of descriptors or memory. A client beyond
    // --max-connections is closed at once, and the next one accepted. The client that
    // caused such a failure stays in the listen backlog, so the listener stays readable: a loop
    // that kept watching it would wake at once, fail again and spin at 100% CPU. Instead the
    // acceptor pauses, and the loop stops watching the listener until the pause is over
    // (connections already open close meanwhile and give descriptors back).
    AcceptedClient accept_next();

    bool paused() const { return std::chrono::steady_clock::now() < resume_at_; }
    // How long a loop may wait for readiness, in milliseconds: until the pause ends, or -1
    // (no limit) when there is none.
    int wait_timeout_ms() const;

private:
    int listen_fd_;
    ConnectionLimit& limit_;
    std::chrono::steady_clock::time_point resume_at_{};
    bool told_of_pause_ = false;  // log a run of failures once, not ten times a second
};

// Clients that one thread accepted and hands to another thread's event loop (fibers.cpp): a
// locked list, and an eventfd that the loop watches, readable while clients wait in the list.
class ClientInbox {
public:
    ClientInbox();  // throws std::runtime_error when no eventfd can be had
    int fd() const { return event_fd_.fd(); }
    void put(AcceptedClient client);        // from any thread
    std::vector<AcceptedClient> take_all();  // from the loop, once fd() is readable

private:
    Socket event_fd_;
    std::mutex mutex_;
    std::vector<AcceptedClient> clients_;
};

// One client of an event loop: the non-blocking form of serve_client_blocking(). It reads what
// has arrived, lets the Conversation answer, and writes what the socket takes now; the rest
// waits in its output buffer for the next writability. After refusing an over-long question
// it hands its socket to close_lingering() (servers/common/linger.hpp) and fd() is then -1: a loop that
// registered the socket with epoll must forget it then, since the socket stays open.
class Connection {
public:
    enum class Status { open, closed };
    using Requests = std::vector<zen::Request>;

    Connection(AcceptedClient client, const ServerOptions& options);

    ~Connection();
    Connection(Connection&&) = default;
    Connection& operator=(Connection&&) = default;

    int fd() const { return socket_.fd(); }
    // Refused for an over-long question: dropping it hands the socket to the lingering close
    // (servers/common/linger.hpp). A loop that watches sockets by number (epoll) takes it out first.
    bool lingers() const { return refused_ && static_cast<bool>(socket_); }
    bool wants_read() const { return !input_ended_ && !awaiting_answers_ && unsent() < kOutputBound; }
    bool wants_write() const { return unsent() > 0; }
    // --idle-timeout: it completed no question in time, and the loop is to close it. A
    // connection whose questions are being worked elsewhere is not idle.
    bool idle_expired(IdleClock::Clock::time_point now) const {
        return !awaiting_answers_ && idle_.expired(now);
    }

    Status on_readable();
    Status on_writable() { return flush(); }
    // The last on_readable() found the socket empty (EAGAIN): an edge-triggered loop (epoll-et)
    // may then wait for the next edge; until it does, input may still wait in the socket.
    bool read_blocked() const { return read_blocked_; }

    // For an architecture that works elsewhere (epoll-offload, seda): reads as on_readable(), but
    // only frames, into `requests` (emptied first). When any came, it awaits their answers: it
    // neither reads nor closes until on_answers() gives them back, so that one read's questions
    // are worked by one worker, one after another, and answers leave in order.
    Status on_readable(Requests& requests);
    // The requests taken by on_readable(Requests&), worked: answers them and writes.
    Status on_answers(std::span<const zen::Request> requests);

private:
    std::size_t unsent() const { return output_.size() - sent_; }
    Status receive(Requests* requests);
    Status flush();

    Admission admission_;  // declared first, so given back once the socket is closed
    Socket socket_;
    zen::Conversation conversation_;
    IdleClock idle_;
    std::size_t read_size_;  // bytes one read may take: its answers cannot pass the bound much
    std::string output_;     // answers; output_[0, sent_) have been sent
    std::size_t sent_ = 0;
    bool input_ended_ = false;  // EOF or an over-long question: send what is left, then close
    bool refused_ = false;      // an over-long question: the socket lingers (servers/common/linger.hpp)
    bool awaiting_answers_ = false;  // its requests are being worked elsewhere
    bool read_blocked_ = false;  // the last read found nothing to read (EAGAIN)
};

// --idle-timeout for an event loop, called once a turn: when a sweep is due, closes (erases)
// every connection of `connections`, a map, whose idle clock ran out. `connection_of` finds the
// Connection in a map's value (epoll keeps it beside what it watches for); `before_close` is
// called with each one about to close (an epoll loop takes a socket that will linger out of its
// set there). Off, it returns without reading the clock.
template <typename Connections, typename ConnectionOf = std::identity,
          typename BeforeClose = decltype([](const Connection&) {})>
void close_idle_connections(IdleSweep& sweep, Connections& connections,
                            ConnectionOf connection_of = {}, BeforeClose before_close = {}) {
    if (!sweep.enabled()) return;
    const auto now = IdleSweep::Clock::now();
    if (!sweep.due(now)) return;
    std::erase_if(connections, [&](const auto& entry) {
        const Connection& connection = std::invoke(connection_of, entry.second);
        if (!connection.idle_expired(now)) return false;
        before_close(connection);
        return true;
    });
}

}  // namespace archbench
