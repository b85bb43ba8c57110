// What the registry knows of an architecture (after Redis' ae: one small interface, and main
// never knows which implementation it got). Each servers/<name>.cpp defines one Architecture.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "protocol/zen.hpp"
#include "servers/stop.hpp"

namespace archbench {

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
};

// The reason `architecture` cannot run on this machine, or "" when it can.
inline std::string unavailable_reason(const Architecture& architecture) {
    return architecture.unavailable_reason != nullptr ? architecture.unavailable_reason() : "";
}

}  // namespace archbench
