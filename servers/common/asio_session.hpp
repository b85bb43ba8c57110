// What the Asio servers (asio.cpp, asio-pool.cpp, asio-coro.cpp) share: adopting main()'s
// listening socket, the pause after accept() fails, the watch on stop.fd(), the callback
// Session, and the IdleTimer of --idle-timeout. Each file then holds only what its architecture
// adds: which io_context a client's socket lives on, who runs it, and how one conversation's
// steps are chained.
#pragma once

#include <sys/socket.h>

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <array>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "protocol/zen.hpp"
#include "servers/common/architecture.hpp"
#include "servers/common/limits.hpp"
#include "servers/common/linger.hpp"
#include "servers/common/net.hpp"
#include "servers/common/stop.hpp"

namespace archbench::asio_session {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

// --idle-timeout for one client: closes its socket once its IdleClock has run out, which ends
// the read (or write) it waits in with operation_aborted, and so the session. The timer is armed
// once per timeout, not once per question: when it fires, it closes the socket if the clock ran
// out, and else waits again until the clock's new deadline. Off (timeout 0), there is no timer.
// It shares the timer with its own pending wait, so the wait never outlives what it touches.
class IdleTimer {
public:
    IdleTimer(tcp::socket& socket, std::chrono::milliseconds timeout) {
        if (timeout.count() == 0) return;
        watch_ = std::make_shared<Watch>(socket, timeout);
        wait(watch_);
    }
    ~IdleTimer() {
        if (!watch_) return;
        watch_->socket = nullptr;  // the client is gone: the wait must not touch its socket
        watch_->timer.cancel();
    }
    IdleTimer(const IdleTimer&) = delete;
    IdleTimer& operator=(const IdleTimer&) = delete;

    // After each read: restarts the clock if the conversation answered a question.
    void questions_answered(std::uint64_t answered) {
        if (watch_) watch_->clock.questions_answered(answered);
    }

private:
    struct Watch {
        Watch(tcp::socket& socket, std::chrono::milliseconds timeout)
            : socket(&socket), timer(socket.get_executor()), clock(timeout) {}
        tcp::socket* socket;
        asio::steady_timer timer;  // on the socket's io_context: no lock is needed
        IdleClock clock;
    };

    static void wait(const std::shared_ptr<Watch>& watch) {
        watch->timer.expires_at(watch->clock.deadline());
        watch->timer.async_wait([watch](error_code ec) {
            if (ec || watch->socket == nullptr) return;  // the client left first
            if (!watch->clock.expired()) return wait(watch);  // a question came meanwhile
            error_code ignored;
            watch->socket->close(ignored);
        });
    }

    std::shared_ptr<Watch> watch_;
};

// One client, written the way Asio's async_tcp_echo_server.cpp is: the session owns its buffers
// and chains do_read -> do_write -> do_read. Every pending operation holds a shared_ptr to it, so
// it lives exactly as long as something is pending on it: when a read fails (EOF, reset) nothing
// new is started and the session, with its socket, is let go.
class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket socket, const ServerOptions& options, Admission admission)
        : admission_(std::move(admission)),
          socket_(std::move(socket)),
          conversation_(options.workload),
          idle_timer_(socket_, options.idle_timeout),
          read_size_(bounded_read_size(options.workload, input_.size())) {}

    void start() { do_read(); }

private:
    void do_read() {
        auto self(shared_from_this());
        socket_.async_read_some(asio::buffer(input_.data(), read_size_),
                                [this, self](error_code ec, std::size_t length) {
            if (ec) return;  // EOF or reset: nothing more is pending, the session is let go
            // The workload (--work-us, --sleep-us) runs right here, on the thread of the
            // io_context that the socket belongs to.
            const zen::FrameStatus status = conversation_.on_input({input_.data(), length}, output_);
            idle_timer_.questions_answered(conversation_.questions_answered());
            if (output_.empty())
                do_read();  // only part of a question so far
            else
                do_write(status);
        });
    }

    // No read is started while a write is pending: a client that does not read its answers
    // stops being read from, so what is buffered for it stays bounded by one read's answers.
    void do_write(zen::FrameStatus status) {
        auto self(shared_from_this());
        asio::async_write(socket_, asio::buffer(output_),
                          [this, self, status](error_code ec, std::size_t /*length*/) {
                              if (ec) return;
                              // After an over-long question, the refusal is now sent.
                              if (status == zen::FrameStatus::close_after)
                                  return close_lingering(socket_.release(ec));
                              output_.clear();
                              do_read();
                          });
    }

    Admission admission_;  // declared first, so given back once the socket is closed
    tcp::socket socket_;
    zen::Conversation conversation_;
    IdleTimer idle_timer_;
    std::array<char, 16 * 1024> input_;
    // Bytes one read may take, so that its answers cannot pass about 1 MiB (bounded_read_size,
    // servers/common/net.hpp): 16 kB of questions padded by --reply-bytes 1000000 are 700 MB.
    std::size_t read_size_;
    std::string output_;  // the answers to one read's questions, kept whole until written
};

// main()'s listening socket, adopted by an acceptor. main() owns the descriptor and closes it:
// it is given back unclosed.
class BorrowedAcceptor : public tcp::acceptor {
public:
    BorrowedAcceptor(asio::io_context& io_context, int listen_fd)
        : tcp::acceptor(io_context, protocol_of(listen_fd), listen_fd) {}
    ~BorrowedAcceptor() {
        error_code ignored;
        release(ignored);
    }

private:
    // The socket's protocol (IPv4 or IPv6), which Asio must be told when it adopts it.
    static tcp protocol_of(int listen_fd) {
        int family = AF_INET;
        socklen_t length = sizeof family;
        getsockopt(listen_fd, SOL_SOCKET, SO_DOMAIN, &family, &length);
        return family == AF_INET6 ? tcp::v6() : tcp::v4();
    }
};

// accept() failed for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS): the client stays
// in the backlog, so the listening socket stays readable and accepting again at once would fail
// again at once, a busy loop. Pause instead, and let a closing session free a descriptor.
class AcceptRetry {
public:
    static constexpr std::chrono::milliseconds kPause{10};

    explicit AcceptRetry(asio::io_context& io_context) : timer_(io_context) {}

    // Completes `token` (a callback, or use_awaitable in a coroutine) once the pause is over.
    template <typename CompletionToken>
    auto after_pause(const error_code& accept_error, CompletionToken&& token) {
        if (!told_)  // a run of failures is logged once, not a hundred times a second
            std::fprintf(stderr, "accept: %s; retrying every %lld ms\n",
                         accept_error.message().c_str(), static_cast<long long>(kPause.count()));
        told_ = true;
        timer_.expires_after(kPause);
        return timer_.async_wait(std::forward<CompletionToken>(token));
    }
    void succeeded() { told_ = false; }

private:
    asio::steady_timer timer_;
    bool told_ = false;
};

// Calls `on_stop` on the io_context's thread once a stop is requested: stop.fd() is then
// readable. Stopping an io_context abandons every session at once: run() returns, and destroying
// the io_context destroys the pending handlers, which let the sessions and their sockets go.
class StopWatch {
public:
    template <typename OnStop>
    StopWatch(asio::io_context& io_context, StopSignal& stop, OnStop on_stop)
        : descriptor_(io_context, stop.fd()) {
        descriptor_.async_wait(asio::posix::stream_descriptor::wait_read, [on_stop](error_code ec) {
            if (!ec) on_stop();
        });
    }
    ~StopWatch() { descriptor_.release(); }  // the eventfd belongs to StopSignal

private:
    asio::posix::stream_descriptor descriptor_;
};

}  // namespace archbench::asio_session
