// preforked: N processes, forked up front, all blocking in accept() on one listening socket that
// they inherited (Stevens' serv02, Apache's prefork MPM).
//
// How it works: serve() forks --processes N children and never accepts itself. Each child runs
// the loop of `single` on the listening socket it inherited across fork(): accept a client,
// serve it until it leaves, accept the next; the kernel hands each new connection to one child
// asleep in accept(). The parent only waits: for a stop, or for SIGCHLD (run_process_pool(),
// servers/common/children.hpp, shared with epoll-prefork). A child that dies while the server
// runs (a crash, an out-of-memory kill, a kill -9) is reaped at once and replaced by a new child
// in its place, so that the pool keeps its N workers, as Apache's parent does. On stop the
// parent sends every child SIGTERM and reaps it. The children count their connections in memory shared with the parent (an anonymous
// shared mapping made before the first fork), and the parent reports the counts at exit.
// Good at: fork() is paid N times at start, not once per client as in `forked`, yet each worker
// is still a process of its own: a crash takes down one client and one worker, which is
// replaced, and no memory or lock is shared by accident.
// Where it breaks: as prethreaded, N workers serve N clients at once, and client N+1 waits in
// the backlog until one leaves. A process costs more than a thread (its own page tables and
// heap, and a switch between address spaces), so N cannot grow as far. A child that crashes at
// once, again and again, is replaced just as fast: Apache slows its respawns down; this does not.
// --max-connections counts accepted clients over every child, in one ConnectionLimit in the
// shared mapping (its counter is a lock-free atomic, which works across processes): N children
// never hold more than N, so only a limit below N changes anything. Each child also marks there
// whether it holds a place, so that the parent gives back the place of a child that died serving.
#include <unistd.h>


#include "servers/common/architecture.hpp"
#include "servers/common/children.hpp"
#include "servers/common/limits.hpp"
#include "servers/common/net.hpp"
#include "servers/common/workers.hpp"

namespace archbench {

namespace {

// What the children share with their parent, mapped before the first fork().
struct Shared {
    explicit Shared(const ServerOptions& options)
        : limit(1, options.max_connections),
          holds_place(options.processes),
          accepted(options.processes) {}

    SharedMemory<ConnectionLimit> limit;          // one: --max-connections, over every child
    // Per worker: it holds a place in `limit`. Set after admit() and cleared before release(),
    // so that a child killed in between leaks a place rather than have it given back twice.
    SharedMemory<std::atomic<bool>> holds_place;
    ConnectionCounters accepted;                  // per worker: clients served
};

// A child's whole life: the loop of `single`, until the parent's SIGTERM ends it.
[[noreturn]] void child(int listen_fd, const ServerOptions& options, StopSignal& stop,
                        Shared& shared, unsigned worker) {
    ConnectionLimit& limit = *shared.limit;
    for (;;) {
        // `stop` is the child's copy of the parent's: it is never requested in here.
        Socket client(accept_client(listen_fd, stop));
        if (!client) _exit(0);  // forked while the stop was being requested
        if (!limit.admit()) continue;  // beyond --max-connections: closed at once
        shared.holds_place[worker] = true;
        ++shared.accepted[worker];
        serve_client_blocking(client.fd(), options);
        shared.holds_place[worker] = false;
        limit.release();
    }
}

void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    Shared shared(options);  // before fork(): the children share it
    run_process_pool(
        "preforked", options.processes, stop,
        [&](unsigned worker) { child(listen_fd, options, stop, shared, worker); },
        [&](unsigned worker) {
            // It died serving a client: the place it could not give back, the parent does.
            if (shared.holds_place[worker].exchange(false)) shared.limit->release();
        });
    shared.accepted.report();
}

}  // namespace

extern const Architecture preforked_architecture{
    .name = "preforked",
    .description = "a pool of --processes children, each blocking in accept() on one socket",
    .traits = {.concurrent = true,
               .process_based = true,
               .connection_limit = 0,
               .one_client_per_worker = true,
               .family = Family::worker_pool,
               .reports_worker_connections = true},
    .serve = serve,
};

}  // namespace archbench
