// asio-pool: Boost.Asio with one io_context per thread, connections handed out in turn (Asio's
// HTTP server2 and its io_context_pool). asio.cpp beside it is the same server on one thread.
//
// How it works: N threads each run an io_context of their own (--threads, default: the cores).
// One of them also runs the acceptor, and each accepted socket is created on the next
// io_context in turn, where its Session (servers/common/asio_session.hpp) lives from then on: every
// handler of a connection runs on the same thread, so sessions need no locks, exactly as on
// one thread. At exit it prints how many connections each io_context was handed
// ("worker_connections N0 N1 ...").
// Good at: every core serves clients, with asio.cpp's code almost unchanged; a connection's
// data stays in one core's caches.
// Where it breaks: round-robin ignores load. A thread stuck in a slow request (--work-us,
// --sleep-us) stalls every client dealt to it while other threads idle, and a few busy
// clients dealt to the same thread share one core. The accepting thread serves clients too.
#include <cstdint>
#include <thread>
#include <vector>

#include "servers/common/architecture.hpp"
#include "servers/common/asio_session.hpp"
#include "servers/common/workers.hpp"

namespace archbench {

using namespace asio_session;

namespace {  // this file's own types: other architectures may name theirs Server too

struct Worker {
    asio::io_context io_context;
    // run() would return as soon as this io_context has nothing to do: keep it running until
    // it is stopped.
    asio::executor_work_guard<asio::io_context::executor_type> keep_running =
        asio::make_work_guard(io_context);
    std::uint64_t connections = 0;  // handed to it (counted by the accepting thread only)
};

class IoContextPool {
public:
    explicit IoContextPool(std::size_t size) : workers_(size) {}

    Worker& acceptor_worker() { return workers_.front(); }
    Worker& next() {
        Worker& worker = workers_[next_];
        next_ = (next_ + 1) % workers_.size();
        return worker;
    }

    // Runs each io_context on a thread of its own until stop().
    void run() {
        std::vector<std::thread> threads;
        for (Worker& worker : workers_)
            threads.emplace_back([&worker] { worker.io_context.run(); });
        for (std::thread& thread : threads) thread.join();
    }
    void stop() {
        for (Worker& worker : workers_) worker.io_context.stop();
    }

    std::vector<std::uint64_t> connections_per_worker() const {
        std::vector<std::uint64_t> connections;
        for (const Worker& worker : workers_) connections.push_back(worker.connections);
        return connections;
    }

private:
    std::vector<Worker> workers_;
    std::size_t next_ = 0;
};

class Server {
public:
    Server(IoContextPool& pool, int listen_fd, const ServerOptions& options,
           ConnectionLimit& limit, StopSignal& stop)
        : pool_(pool),
          acceptor_(pool.acceptor_worker().io_context, listen_fd),
          accept_retry_(pool.acceptor_worker().io_context),
          stop_watch_(pool.acceptor_worker().io_context, stop, [&pool] { pool.stop(); }),
          options_(options),
          limit_(limit) {
        do_accept();
    }

private:
    void do_accept() {
        Worker& worker = pool_.next();  // the next client's socket is created on its io_context
        acceptor_.async_accept(worker.io_context, [this, &worker](error_code ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted) return;
            if (ec) {
                accept_retry_.after_pause(ec, [this](error_code ec) {
                    if (!ec) do_accept();
                });
                return;
            }
            accept_retry_.succeeded();
            // One limit for the whole server: sessions on every thread give their places back.
            Admission admission(limit_);
            if (!admission) return do_accept();  // beyond --max-connections: `socket` closes
            ++worker.connections;
            socket.set_option(tcp::no_delay(true), ec);
            std::make_shared<Session>(std::move(socket), options_, std::move(admission))->start();
            do_accept();
        });
    }

    IoContextPool& pool_;
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
    IoContextPool pool(options.threads);
    Server server(pool, listen_fd, options, limit, stop);
    pool.run();
    report_worker_connections(pool.connections_per_worker());
}

extern const Architecture asio_pool_architecture{
    .name = "asio-pool",
    .description = "Boost.Asio: one io_context per thread, connections dealt round-robin (server2)",
    .traits = {.concurrent = true,
               .process_based = false,
               .connection_limit = 0,
               .family = Family::event_loops,
               .reports_worker_connections = true},
    .serve = serve,
};

}  // namespace archbench
