// asio: Boost.Asio, one io_context, a session object per connection (the book's asyncio
// callback server, written the way Asio's own async_tcp_echo_server.cpp is).
//
// How it works: one thread runs an io_context. The server asks it to accept; each accepted
// socket gets a `Session` that owns its buffers and chains do_read -> do_write -> do_read.
// Every pending operation holds a shared_ptr to its session, so a session lives exactly as long
// as something is pending on it: when a read fails (EOF, reset) nothing new is started and the
// session, with its socket, is let go.
// Good at: many mostly-idle connections on one thread for the cost of a buffer each, with no
// locks; the reactor (epoll on Linux) is hidden behind a portable, composable interface.
// Where it breaks: one thread does all the work, so the server never uses a second core, and
// whatever a handler does in its own time (--work-us, and above all --sleep-us, a blocking
// call) stalls every other client. Asynchronous code is turned inside out: the logic of one
// conversation is spread over callbacks.
#include <sys/socket.h>

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <array>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "servers/architecture.hpp"

namespace archbench {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {  // this file's own types: other architectures may name theirs Server too

// After accept() fails for want of descriptors or memory, wait this long before trying again.
constexpr std::chrono::milliseconds kAcceptRetryPause{10};

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket socket, const zen::Workload& workload)
        : socket_(std::move(socket)), conversation_(workload) {}

    void start() { do_read(); }

private:
    void do_read() {
        auto self(shared_from_this());
        socket_.async_read_some(asio::buffer(input_), [this, self](error_code ec, std::size_t length) {
            if (ec) return;  // EOF or reset: nothing more is pending, the session is let go
            // The workload (--work-us, --sleep-us) runs right here, on the loop's only thread.
            const zen::FrameStatus status = conversation_.on_input({input_.data(), length}, output_);
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
                              // After an over-long question, the refusal is now sent: close.
                              if (ec || status == zen::FrameStatus::too_long) return;
                              output_.clear();
                              do_read();
                          });
    }

    tcp::socket socket_;
    zen::Conversation conversation_;
    std::array<char, 16 * 1024> input_;
    std::string output_;  // the answers to one read's questions, kept whole until written
};

// The listening socket's protocol (IPv4 or IPv6), which Asio must be told when it adopts it.
tcp protocol_of(int listen_fd) {
    int family = AF_INET;
    socklen_t length = sizeof family;
    getsockopt(listen_fd, SOL_SOCKET, SO_DOMAIN, &family, &length);
    return family == AF_INET6 ? tcp::v6() : tcp::v4();
}

class Server {
public:
    Server(asio::io_context& io_context, int listen_fd, const zen::Workload& workload,
           StopSignal& stop)
        : io_context_(io_context),
          acceptor_(io_context, protocol_of(listen_fd), listen_fd),
          accept_retry_(io_context),
          stop_watch_(io_context, stop.fd()),
          workload_(workload) {
        do_accept();
        wait_for_stop();
    }

    // main() owns the listening socket and StopSignal its eventfd: give them back unclosed.
    ~Server() {
        error_code ignored;
        acceptor_.release(ignored);
        stop_watch_.release();
    }

private:
    void do_accept() {
        acceptor_.async_accept([this](error_code ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted) return;
            if (ec) {
                pause_accepting(ec);
                return;
            }
            told_accept_error_ = false;
            socket.set_option(tcp::no_delay(true), ec);
            std::make_shared<Session>(std::move(socket), workload_)->start();
            do_accept();
        });
    }

    // accept() failed for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS): the client
    // stays in the backlog, so the listening socket stays readable and accepting again at once
    // would fail again at once, a busy loop. Pause, and let a closing session free a descriptor.
    void pause_accepting(const error_code& ec) {
        if (!told_accept_error_)
            std::fprintf(stderr, "accept: %s; retrying every %lld ms\n", ec.message().c_str(),
                         static_cast<long long>(kAcceptRetryPause.count()));
        told_accept_error_ = true;
        accept_retry_.expires_after(kAcceptRetryPause);
        accept_retry_.async_wait([this](error_code ec) {
            if (!ec) do_accept();
        });
    }

    // Stopping the io_context abandons every session at once: run() returns, and destroying
    // the io_context destroys the pending handlers, which let the sessions and sockets go.
    void wait_for_stop() {
        stop_watch_.async_wait(asio::posix::stream_descriptor::wait_read, [this](error_code ec) {
            if (!ec) io_context_.stop();
        });
    }

    asio::io_context& io_context_;
    tcp::acceptor acceptor_;
    asio::steady_timer accept_retry_;
    asio::posix::stream_descriptor stop_watch_;  // stop.fd(): readable once a stop is requested
    const zen::Workload& workload_;
    bool told_accept_error_ = false;
};

}  // namespace

static void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    asio::io_context io_context;  // declared first, destroyed last: it frees the sessions
    Server server(io_context, listen_fd, options.workload, stop);
    io_context.run();
}

extern const Architecture asio_architecture{
    .name = "asio",
    .description = "Boost.Asio: one io_context, asynchronous accept/read/write, a session per client",
    .traits = {.concurrent = true, .process_based = false, .connection_limit = 0},
    .serve = serve,
};

}  // namespace archbench
