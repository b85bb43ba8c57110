// threaded: one thread per connection (Stevens' serv06, Python's socketserver.ThreadingMixIn).
//
// How it works: the main thread accepts; each client gets a new thread that runs the same
// blocking conversation as `single` (serve_client_blocking) and ends when the client leaves.
// Good at: simple code that serves many clients at once; a client that blocks (--sleep-us)
// blocks only its own thread, and the kernel spreads the threads over every core.
// Where it breaks: a thread per client costs a stack, a creation and a context switch per
// request; with thousands of clients the scheduler, not the service, is the work. Unbounded, it
// lets clients "bring the server to its knees" by connecting and idling: hence a default
// --max-connections of 4096 (a client beyond it is accepted and closed at once, before any
// thread is made for it), and --idle-timeout to let idle clients go.
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <system_error>
#include <thread>

#include "servers/common/architecture.hpp"
#include "servers/common/limits.hpp"
#include "servers/common/net.hpp"

namespace archbench {

namespace {

// The client threads are detached; this counts the live ones so that serve() can wait for the
// last of them after a stop.
class LiveThreads {
public:
    void started() {
        std::lock_guard lock(mutex_);
        ++count_;
    }
    void finished() {
        std::lock_guard lock(mutex_);
        if (--count_ == 0) none_left_.notify_all();
    }
    void wait_until_none() {
        std::unique_lock lock(mutex_);
        none_left_.wait(lock, [this] { return count_ == 0; });
    }

private:
    std::mutex mutex_;
    std::condition_variable none_left_;
    int count_ = 0;
};

void client_thread(Admission admission, Socket client, const ServerOptions& options,
                   StopSignal& stop, LiveThreads& live) {
    {
        ShutdownOnStop wake_recv(stop, client.fd());
        serve_client_blocking(client.fd(), options);
    }
    client.reset();
    admission = Admission();  // the client's place under --max-connections, given back
    live.finished();  // the last touch of shared state: serve() may return after it
}

void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    ShutdownOnStop wake_accept(stop, listen_fd);
    ConnectionLimit limit(options.max_connections);
    LiveThreads live;
    for (;;) {
        Socket client(accept_client(listen_fd, stop));
        if (!client) break;
        Admission admission(limit);
        if (!admission) continue;  // beyond --max-connections: closed at once, no thread made
        live.started();
        try {
            std::thread(client_thread, std::move(admission), std::move(client), std::cref(options),
                        std::ref(stop), std::ref(live))
                .detach();
        } catch (const std::system_error& error) {
            // Out of threads (or memory for a stack): this client is refused, the rest go on.
            std::fprintf(stderr, "threaded: cannot start a thread: %s\n", error.what());
            live.finished();
        }
    }
    live.wait_until_none();
}

}  // namespace

extern const Architecture threaded_architecture{
    .name = "threaded",
    .description = "one thread per connection: accept, then a new thread serves the client",
    .traits = {.concurrent = true,
               .process_based = false,
               .connection_limit = 0,
               .default_max_connections = 4096,
               .family = Family::per_client},
    .serve = serve,
};

}  // namespace archbench
