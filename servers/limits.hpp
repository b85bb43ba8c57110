// The two limits every architecture enforces the same way: --idle-timeout and --max-connections.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace archbench {

// --idle-timeout for one client: its deadline is the timeout after it connected or after its
// last complete question. Bytes of an unfinished question do not move it, so a client that
// trickles a byte now and then is disconnected as surely as a silent one.
class IdleClock {
public:
    using Clock = std::chrono::steady_clock;

    explicit IdleClock(std::chrono::milliseconds timeout) : timeout_(timeout) { restart(); }

    bool enabled() const { return timeout_.count() > 0; }
    void restart() { deadline_ = Clock::now() + timeout_; }
    // Restarts the clock if the conversation answered a question since the last call.
    void questions_answered(std::uint64_t answered) {
        if (answered != answered_) {
            answered_ = answered;
            restart();
        }
    }
    bool expired(Clock::time_point now = Clock::now()) const { return enabled() && now >= deadline_; }
    Clock::time_point deadline() const { return deadline_; }
    // Milliseconds until the deadline (at least 1, rounded up), for poll() and epoll_wait();
    // -1 (wait without limit) when the timeout is off.
    int remaining_ms(Clock::time_point now = Clock::now()) const;

private:
    std::chrono::milliseconds timeout_;
    Clock::time_point deadline_;
    std::uint64_t answered_ = 0;
};

// --max-connections for a whole server: a client is admitted while fewer than the limit are
// open. Thread-safe; a process-based server keeps it in its parent, which accepts.
class ConnectionLimit {
public:
    explicit ConnectionLimit(std::size_t limit) : limit_(limit) {}

    // True: admitted, and release() must follow when it leaves. False: over the limit, close it.
    bool admit();
    void release() { open_.fetch_sub(1, std::memory_order_relaxed); }
    std::size_t open() const { return open_.load(std::memory_order_relaxed); }

private:
    std::size_t limit_;  // 0: no limit
    std::atomic<std::size_t> open_{0};
    std::atomic<std::uint64_t> refused_{0};
};

}  // namespace archbench
