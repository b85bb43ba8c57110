// asio: Boost.Asio, one io_context, a session object per connection (the book's asyncio
// callback server, written the way Asio's own async_tcp_echo_server.cpp is).
//
// How it works: one thread runs an io_context. The server asks it to accept; each accepted
// socket gets a `Session` (servers/common/asio_session.hpp) that owns its buffers and chains do_read ->
// do_write -> do_read. Every pending operation holds a shared_ptr to its session, so a session
// lives exactly as long as something is pending on it: when a read fails (EOF, reset) nothing
// new is started and the session, with its socket, is let go.
// Good at: many mostly-idle connections on one thread for the cost of a buffer each, with no
// locks; the reactor (epoll on Linux) is hidden behind a portable, composable interface.
// Where it breaks: one thread does all the work, so the server never uses a second core, and
// whatever a handler does in its own time (--work-us, and above all --sleep-us, a blocking
// call) stalls every other client. Asynchronous code is turned inside out: the logic of one
// conversation is spread over callbacks.
#include "servers/common/architecture.hpp"
#include "servers/common/asio_session.hpp"

namespace archbench {

using namespace asio_session;

namespace {  // this file's own types: other architectures may name theirs Server too

class Server {
public:
    Server(asio::io_context& io_context, int listen_fd, const ServerOptions& options,
           ConnectionLimit& limit, StopSignal& stop)
        : acceptor_(io_context, listen_fd),
          accept_retry_(io_context),
          stop_watch_(io_context, stop, [&io_context] { io_context.stop(); }),
          options_(options),
          limit_(limit) {
        do_accept();
    }

private:
    void do_accept() {
        acceptor_.async_accept([this](error_code ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted) return;
            if (ec) {
                accept_retry_.after_pause(ec, [this](error_code ec) {
                    if (!ec) do_accept();
                });
                return;
            }
            accept_retry_.succeeded();
            Admission admission(limit_);
            if (!admission) return do_accept();  // beyond --max-connections: `socket` closes
            socket.set_option(tcp::no_delay(true), ec);
            std::make_shared<Session>(std::move(socket), options_, std::move(admission))->start();
            do_accept();
        });
    }

    BorrowedAcceptor acceptor_;
    AcceptRetry accept_retry_;
    StopWatch stop_watch_;
    const ServerOptions& options_;
    ConnectionLimit& limit_;
};

}  // namespace

static void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    ConnectionLimit limit(options.max_connections);  // outlives the sessions, which count in it
    // Declared before the server, destroyed after: destroying it frees the sessions.
    asio::io_context io_context;
    Server server(io_context, listen_fd, options, limit, stop);
    io_context.run();
}

extern const Architecture asio_architecture{
    .name = "asio",
    .description = "Boost.Asio: one io_context, asynchronous accept/read/write, a session per client",
    .traits = {.concurrent = true,
               .process_based = false,
               .connection_limit = 0,
               .family = Family::event_loop,
               .one_io_thread = true,
               .blocking_stalls_every_client = true},
    .serve = serve,
};

}  // namespace archbench
