// What the registry knows of an architecture (after Redis' ae: one small interface, and main
// never knows which implementation it got). Each servers/<name>.cpp defines one Architecture.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "protocol/zen.hpp"
#include "servers/common/stop.hpp"

namespace archbench {

struct ExternalProgram;  // servers/common/external.hpp

struct ServerOptions {
    zen::Workload workload;
    unsigned threads = 1;    // pooled variants: worker threads
    unsigned processes = 1;  // pooled variants: worker processes
    // --idle-timeout: a client that does not complete a question within this long of connecting
    // or of its previous question is disconnected (trickling bytes do not extend it). 0: off.
    std::chrono::milliseconds idle_timeout{0};
    // --max-connections: clients beyond this many at once are closed as soon as they are
    // accepted, instead of exhausting threads, processes or descriptors. 0: no limit.
    std::size_t max_connections = 0;
};

// The family an architecture belongs to: the report colours and groups by it, and the tests choose
// suites by it and by the traits below. A new architecture joins one of these.
enum class Family {
    one_at_a_time,   // one client at a time (single)
    per_client,      // a thread or a process per client (threaded, forked)
    worker_pool,     // a pool of blocking workers started up front (prethreaded, preforked)
    event_loop,      // one event loop on one thread (select, poll, epoll, asio, ...)
    event_loops,     // several event loops, one per thread or process (epoll-reuseport, asio-pool)
    offloaded,       // an event loop that hands work to other threads, or stages joined by queues
    user_threads,    // thread-per-client code on user-level threads
    python,          // the book's designs in Python
    other_language,  // programs in another language
};

// The family's name as users see it (--list --verbose, the report's legends).
std::string_view family_name(Family family);

struct Traits {
    bool concurrent;            // serves several clients at once (false: one at a time)
    bool process_based;         // its workers are processes (their cost is counted as children)
    std::size_t connection_limit;  // clients beyond this many are refused (0: no limit of its own)
    // A pool of blocking workers started up front (prethreaded, preforked) serves one client per
    // worker: with --threads (or --processes) N, client N+1 is not refused but waits in the
    // listen backlog, as every client but one does for `single`, until a worker is free.
    // false: as many clients at once as the machine allows.
    bool one_client_per_worker = false;
    // Its workers bind listening sockets of their own to the same port (SO_REUSEPORT): main()
    // then makes the first listener with SO_REUSEPORT too, which only works before bind().
    bool reuse_port = false;
    // --max-connections when the command line does not say: a thread or a process per client
    // gets a limit, so that a flood of clients cannot exhaust them. 0: none.
    std::size_t default_max_connections = 0;
    // --threads when the command line does not say (0: the cores). A pool that waits on the
    // requests' blocking calls rather than computing (epoll-offload's, seda's work stage) is
    // sized for the calls it can wait on at once, as libuv's is, not for the cores.
    unsigned default_threads = 0;
    Family family = Family::event_loop;
    // Every client's I/O runs on one thread over non-blocking sockets: a client that does not
    // read its answers must cost bounded memory (the loop stops reading from it).
    bool one_io_thread = false;
    // A request's blocking call (--sleep-us) runs on the thread that serves every client, and so
    // stalls them all: the lesson of a one-thread event loop.
    bool blocking_stalls_every_client = false;
    // A pool of a fixed number of workers: at exit it prints one stderr line
    // "worker_connections N0 N1 ..." with the connections each worker accepted.
    bool reports_worker_connections = false;
};

struct Architecture {
    std::string_view name;
    std::string_view description;  // one line, shown by --list
    Traits traits;
    // Serves clients on `listen_fd` (a bound, listening, blocking socket) until `stop` is
    // requested, then ends every thread and process it started and returns. Throws
    // std::runtime_error only for a startup failure.
    void (*serve)(int listen_fd, const ServerOptions& options, StopSignal& stop);
    // Only for an architecture that needs what a kernel may refuse (io_uring): why it cannot run
    // here, or "" when it can. main() asks before it listens, so that a refused server never
    // claims to listen; the tests skip it with this reason. nullptr: it always runs.
    std::string (*unavailable_reason)() = nullptr;
    // An external architecture (a program of its own, servers/common/external.hpp): serve and
    // unavailable_reason are then nullptr, and the registry owns what this points to.
    const ExternalProgram* external = nullptr;
};

// The reason `architecture` cannot run on this machine, or "" when it can.
std::string unavailable_reason(const Architecture& architecture);

// architecture.serve(), or for an external architecture, its program run on `listen_fd`.
void serve_architecture(const Architecture& architecture, int listen_fd,
                        const ServerOptions& options, StopSignal& stop);

}  // namespace archbench
