// For pooled architectures (prethreaded, preforked, epoll-reuseport, asio-pool): starting the
// worker threads, and counting how evenly the workers shared the clients. Stevens' Figure 30.2
// showed that some designs hand most connections to a few workers; the harness records this
// line and the report draws it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

namespace archbench {

class StopSignal;

// Prints one line to stderr at exit: "worker_connections N0 N1 ...", the number of connections
// each worker accepted, in worker order.
void report_worker_connections(std::span<const std::uint64_t> connections_per_worker);

// One counter of accepted connections per worker, in an anonymous shared mapping: threads share
// it as any memory, and children forked after it was made share it with their parent, which
// can then report what they counted. Lock-free atomics work across processes, since they are
// plain instructions on the shared page.
class ConnectionCounters {
public:
    explicit ConnectionCounters(std::size_t workers);
    ~ConnectionCounters();
    ConnectionCounters(const ConnectionCounters&) = delete;
    ConnectionCounters& operator=(const ConnectionCounters&) = delete;

    std::atomic<std::uint64_t>& operator[](std::size_t worker) { return slots_[worker].accepted; }
    void report() const;  // report_worker_connections() of every worker

private:
    // A cache line each: a worker's count does not slow the workers beside it.
    struct alignas(64) Slot {
        std::atomic<std::uint64_t> accepted{0};
    };
    static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

    Slot* slots_;
    std::size_t workers_;
};

// Runs worker(0) ... worker(count - 1), each on a thread of its own, and returns once all of
// them have returned. A worker that throws, or a thread that cannot start, requests `stop`, so
// that the others end too; the first such error is then rethrown here.
void run_worker_threads(unsigned count, StopSignal& stop,
                        const std::function<void(unsigned worker)>& worker);

}  // namespace archbench
