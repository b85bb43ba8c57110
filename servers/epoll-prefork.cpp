// epoll-prefork: N processes, forked up front, each running the epoll loop of epoll.cpp on the
// one listening socket they inherited (nginx's master and worker processes; SYMPED, the
// "symmetric multi-process event-driven" design of Pai, Druschel and Zwaenepoel's Flash paper).
//
// How it works: the parent forks --processes N children and never accepts itself; it only
// waits for a stop or for a child to die, replaces a dead child, and at exit reports how many
// connections each child accepted (run_process_pool(), shared with preforked). Each child runs
// run_epoll_loop() (epoll.cpp's level-triggered loop, unchanged) with an epoll set of its own
// that watches the shared listening socket with EPOLLEXCLUSIVE (Linux 4.5): a new connection
// wakes one child that waits in epoll_wait(), not all of them, which a plain registration would
// (the thundering herd: N wake-ups, one accept() that succeeds, N-1 that fail with EAGAIN). A
// connection lives its whole life in the child that accepted it. --max-connections counts over
// every child, in memory shared with the parent; each child admits clients through a part of it
// of its own, so that the places of a child that died are given back.
// Good at: an event loop on every core with no state shared between them but the listening
// socket, and the isolation of processes: a child that crashes takes its own clients down, and
// is replaced. Each child is as cheap per client as `epoll`.
// Where it breaks: EPOLLEXCLUSIVE wakes the first child in the socket's wait queue that waits,
// so an idle server hands most new connections to the same few children (Cloudflare measured
// nginx's busiest worker taking several times its share); only children busy serving pass the
// next connection on. A connection never moves: a child whose clients are busy, or stalled by a
// slow request (--sleep-us stalls every client of its child, as in `epoll`), keeps them while
// another idles.
#include <sys/epoll.h>

#include "servers/common/architecture.hpp"
#include "servers/common/children.hpp"
#include "servers/common/epoll_loop.hpp"
#include "servers/common/limits.hpp"
#include "servers/common/workers.hpp"

namespace archbench {

namespace {

// What the children share with their parent, mapped before the first fork().
struct Shared {
    explicit Shared(const ServerOptions& options)
        : limit(1, options.max_connections),
          worker_limits(options.processes, std::size_t{0}, &*limit),
          accepted(options.processes) {}

    SharedMemory<ConnectionLimit> limit;          // one: --max-connections, over every child
    SharedMemory<ConnectionLimit> worker_limits;  // per worker: its part of `limit`
    ConnectionCounters accepted;                  // per worker: clients accepted
};

void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    Shared shared(options);  // before fork(): the children share it
    run_process_pool(
        "epoll-prefork", options.processes, stop,
        [&](unsigned worker) {
            StopSignal never;  // the parent's SIGTERM ends the child
            run_epoll_loop(listen_fd, options, never, shared.worker_limits[worker],
                           {.accepted = &shared.accepted[worker], .epoll = {}, .exclusive_listener = true});
        },
        [&](unsigned worker) { shared.worker_limits[worker].release_every_place(); });
    shared.accepted.report();
}

}  // namespace

extern const Architecture epoll_prefork_architecture{
    .name = "epoll-prefork",
    .description = "--processes children, each an epoll loop on one inherited socket (EPOLLEXCLUSIVE)",
    .traits = {.concurrent = true,
               .process_based = true,
               .connection_limit = 0,
               .family = Family::event_loops,
               .reports_worker_connections = true},
    .serve = serve,
};

}  // namespace archbench
