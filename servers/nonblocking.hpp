// What every event-loop server (select.cpp, epoll.cpp) shares: accepting without blocking, and
// one client's non-blocking conversation. An event-loop file then holds only what tells the
// architectures apart: how it waits until a socket is ready.
//
// The contract with a loop is small: wait for readability while wants_read(), for writability
// while wants_write(), call on_readable() / on_writable() when the socket is ready, and drop the
// Connection (which closes its socket) once either returns Status::closed. A live connection
// always wants one or the other, so a loop never forgets a client.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "protocol/zen.hpp"
#include "servers/net.hpp"

namespace archbench {

// The listening side of an event loop. The listener is made non-blocking, so that accepting
// "every waiting client" ends with EAGAIN instead of blocking the loop.
class Acceptor {
public:
    explicit Acceptor(int listen_fd);

    int fd() const { return listen_fd_; }

    // The next waiting client, non-blocking and with TCP_NODELAY; an empty Socket once none is
    // waiting, or when accept() failed for want of descriptors or memory. The client that
    // caused such a failure stays in the listen backlog, so the listener stays readable: a loop
    // that kept watching it would wake at once, fail again and spin at 100% CPU. Instead the
    // acceptor pauses, and the loop stops watching the listener until the pause is over
    // (connections already open close meanwhile and give descriptors back).
    Socket accept_next();

    bool paused() const { return std::chrono::steady_clock::now() < resume_at_; }
    // How long a loop may wait for readiness, in milliseconds: until the pause ends, or -1
    // (no limit) when there is none.
    int wait_timeout_ms() const;

private:
    int listen_fd_;
    std::chrono::steady_clock::time_point resume_at_{};
    bool told_of_pause_ = false;  // log a run of failures once, not ten times a second
};

// One client of an event loop: the non-blocking form of serve_client_blocking(). It reads what
// has arrived, lets the Conversation answer, and writes what the socket takes now; the rest
// waits in its output buffer for the next writability. After refusing an over-long question
// it hands its socket to close_lingering() (servers/linger.hpp) and fd() is then -1: a loop that
// registered the socket with epoll must forget it then, since the socket stays open.
class Connection {
public:
    enum class Status { open, closed };

    Connection(Socket socket, const zen::Workload& workload);

    int fd() const { return socket_.fd(); }
    bool wants_read() const { return !input_ended_ && unsent() < kOutputBound; }
    bool wants_write() const { return unsent() > 0; }

    Status on_readable();
    Status on_writable() { return flush(); }

private:
    std::size_t unsent() const { return output_.size() - sent_; }
    Status flush();

    Socket socket_;
    zen::Conversation conversation_;
    std::size_t read_size_;  // bytes one read may take: its answers cannot pass the bound much
    std::string output_;     // answers; output_[0, sent_) have been sent
    std::size_t sent_ = 0;
    bool input_ended_ = false;  // EOF or an over-long question: send what is left, then close
    bool refused_ = false;      // an over-long question: the socket lingers (servers/linger.hpp)
};

}  // namespace archbench
