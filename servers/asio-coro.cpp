// asio-coro: Boost.Asio with C++20 coroutines, one io_context on one thread (the book's asyncio
// coroutine server: `async def handle_conversation`, `await reader.read()`, `writer.write()`).
//
// How it works: the same loop as asio.cpp, but each step that would wait is a `co_await` on an
// asynchronous operation (use_awaitable). A client is one coroutine, `session`, written as a
// straight-line loop: read, answer, write, read again. While it waits, its frame (locals,
// buffers and all) sits on the heap and the thread runs other coroutines; `accept_loop` is one
// too, and co_spawn starts a session per client. Errors come back as values (redirect_error),
// and a session that is done simply returns, which frees its frame and closes its socket.
// Good at: the code reads like the blocking server (net.cpp's serve_client_blocking) yet serves
// thousands of clients on one thread; a coroutine frame is smaller than a thread's stack.
// Where it breaks: one thread, as asio.cpp: one core at most, and a slow request (--work-us,
// --sleep-us) stalls every client, because nothing can run until the coroutine next awaits.
// A function that waits must itself be a coroutine, all the way up ("function colouring").
#include "servers/common/architecture.hpp"
#include "servers/common/asio_session.hpp"

#if !defined(BOOST_ASIO_HAS_CO_AWAIT)
#error "asio-coro needs C++20 coroutines in Asio (GCC 10+ with -std=c++20)"
#endif

namespace archbench {

using namespace asio_session;
using asio::awaitable;
using asio::redirect_error;
using asio::use_awaitable;

namespace {

// `admission` is the client's place under --max-connections, given back when the coroutine ends.
awaitable<void> session(tcp::socket socket, const ServerOptions& options,
                        [[maybe_unused]] Admission admission) {
    zen::Conversation conversation(options.workload);
    IdleTimer idle_timer(socket, options.idle_timeout);  // closes the socket: the read then fails
    std::array<char, 16 * 1024> input;
    const std::size_t read_size = bounded_read_size(options.workload, input.size());  // as in Session
    std::string output;
    for (;;) {
        error_code ec;
        const std::size_t length = co_await socket.async_read_some(
            asio::buffer(input.data(), read_size), redirect_error(use_awaitable, ec));
        if (ec) co_return;  // EOF or reset
        // The workload (--work-us, --sleep-us) runs right here, on the loop's only thread.
        const zen::FrameStatus status = conversation.on_input({input.data(), length}, output);
        idle_timer.questions_answered(conversation.questions_answered());
        if (output.empty()) continue;  // only part of a question so far
        // Nothing is read until the answers are written: a client that does not read them
        // stops being read from.
        co_await asio::async_write(socket, asio::buffer(output), redirect_error(use_awaitable, ec));
        if (ec) co_return;
        if (status == zen::FrameStatus::close_after) {  // the refusal is sent: the socket lingers
            close_lingering(socket.release(ec));
            co_return;
        }
        output.clear();
    }
}

awaitable<void> accept_loop(BorrowedAcceptor& acceptor, AcceptRetry& accept_retry,
                            const ServerOptions& options, ConnectionLimit& limit) {
    for (;;) {
        error_code ec;
        tcp::socket socket = co_await acceptor.async_accept(redirect_error(use_awaitable, ec));
        if (ec == asio::error::operation_aborted) co_return;
        if (ec) {
            co_await accept_retry.after_pause(ec, redirect_error(use_awaitable, ec));
            continue;
        }
        accept_retry.succeeded();
        Admission admission(limit);
        if (!admission) continue;  // beyond --max-connections: the socket closes at once
        socket.set_option(tcp::no_delay(true), ec);
        co_spawn(acceptor.get_executor(), session(std::move(socket), options, std::move(admission)),
                 asio::detached);
    }
}

}  // namespace

static void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    ConnectionLimit limit(options.max_connections);  // outlives the sessions, which count in it
    // Declared before the rest, destroyed after: it frees the frames of the coroutines waiting.
    asio::io_context io_context;
    BorrowedAcceptor acceptor(io_context, listen_fd);
    AcceptRetry accept_retry(io_context);
    StopWatch stop_watch(io_context, stop, [&io_context] { io_context.stop(); });
    co_spawn(io_context, accept_loop(acceptor, accept_retry, options, limit), asio::detached);
    io_context.run();
}

extern const Architecture asio_coro_architecture{
    .name = "asio-coro",
    .description = "Boost.Asio with C++20 coroutines: one io_context, a coroutine per client",
    .traits = {.concurrent = true,
               .process_based = false,
               .connection_limit = 0,
               .family = Family::event_loop,
               .one_io_thread = true,
               .blocking_stalls_every_client = true},
    .serve = serve,
};

}  // namespace archbench
