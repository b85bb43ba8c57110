// For pooled architectures (prethreaded, preforked, epoll-reuseport, asio-pool): starting the
// worker threads, and counting how evenly the workers shared the clients. Stevens' Figure 30.2
// showed that some designs hand most connections to a few workers; the harness records this
// line and the report draws it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <new>
#include <span>
#include <utility>

namespace archbench {

class StopSignal;

// An anonymous shared mapping of `bytes` (throws std::runtime_error), and its end.
void* map_shared_memory(std::size_t bytes);
void unmap_shared_memory(void* memory, std::size_t bytes);

// `count` objects of type T in an anonymous shared mapping: threads share them as any memory,
// and children forked after it was made share them with their parent. Lock-free atomics work
// across processes, since they are plain instructions on the shared page.
template <typename T>
class SharedMemory {
public:
    template <typename... Args>
    explicit SharedMemory(std::size_t count, const Args&... args)
        : objects_(static_cast<T*>(map_shared_memory(count * sizeof(T)))), count_(count) {
        for (std::size_t i = 0; i < count_; ++i) new (&objects_[i]) T(args...);
    }
    ~SharedMemory() {
        for (std::size_t i = 0; i < count_; ++i) objects_[i].~T();
        unmap_shared_memory(objects_, count_ * sizeof(T));
    }
    SharedMemory(const SharedMemory&) = delete;
    SharedMemory& operator=(const SharedMemory&) = delete;

    T& operator*() { return objects_[0]; }  // the first, for a mapping of one
    T* operator->() { return objects_; }
    T& operator[](std::size_t i) { return objects_[i]; }
    const T& operator[](std::size_t i) const { return objects_[i]; }
    std::size_t size() const { return count_; }

private:
    T* objects_;  // the mapping is page-aligned, so each object is aligned as it asks
    std::size_t count_;
};

// Prints one line to stderr at exit: "worker_connections N0 N1 ...", the number of connections
// each worker accepted, in worker order.
void report_worker_connections(std::span<const std::uint64_t> connections_per_worker);

// One counter of accepted connections per worker, in shared memory: children forked after it
// was made count in it, and their parent can then report what they counted.
class ConnectionCounters {
public:
    explicit ConnectionCounters(std::size_t workers) : slots_(workers) {}

    std::atomic<std::uint64_t>& operator[](std::size_t worker) { return slots_[worker].accepted; }
    void report() const;  // report_worker_connections() of every worker

private:
    // A cache line each: a worker's count does not slow the workers beside it.
    struct alignas(64) Slot {
        std::atomic<std::uint64_t> accepted{0};
    };
    static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

    SharedMemory<Slot> slots_;
};

// Runs worker(0) ... worker(count - 1), each on a thread of its own, and returns once all of
// them have returned. A worker that throws, or a thread that cannot start, requests `stop`, so
// that the others end too; the first such error is then rethrown here.
void run_worker_threads(unsigned count, StopSignal& stop,
                        const std::function<void(unsigned worker)>& worker);

}  // namespace archbench
