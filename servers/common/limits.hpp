// The two limits every architecture enforces the same way: --idle-timeout and --max-connections.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace archbench {

// --idle-timeout for one client: its deadline is the timeout after it was accepted or after its
// last complete question. Bytes of an unfinished question do not move it, so a client that
// trickles a byte now and then is disconnected as surely as a silent one. Off (timeout 0), it
// never reads the clock: a server pays nothing per request for it.
class IdleClock {
public:
    using Clock = std::chrono::steady_clock;

    explicit IdleClock(std::chrono::milliseconds timeout) : timeout_(timeout) {
        if (enabled()) restart();
    }

    bool enabled() const { return timeout_.count() > 0; }
    void restart() { deadline_ = Clock::now() + timeout_; }
    // Restarts the clock if the conversation answered a question since the last call.
    void questions_answered(std::uint64_t answered) {
        if (enabled() && answered != answered_) {
            answered_ = answered;
            restart();
        }
    }
    bool expired(Clock::time_point now = Clock::now()) const { return enabled() && now >= deadline_; }
    Clock::time_point deadline() const { return deadline_; }
    // Milliseconds until the deadline (at least 1, rounded up; 0 once it has passed), for poll()
    // and epoll_wait(); -1 (wait without limit) when the timeout is off.
    int remaining_ms(Clock::time_point now = Clock::now()) const;

private:
    std::chrono::milliseconds timeout_;
    Clock::time_point deadline_{};
    std::uint64_t answered_ = 0;
};

// --idle-timeout for a loop that serves many clients (an event loop, an io_uring): rather than a
// timer per client, it sweeps them all every period() and closes those whose IdleClock ran out,
// so a client is closed at most a period after its deadline. Off (timeout 0), it never sweeps.
class IdleSweep {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::chrono::milliseconds kLongestPeriod{100};

    explicit IdleSweep(std::chrono::milliseconds idle_timeout);

    bool enabled() const { return period_.count() > 0; }
    // The timeout itself, or kLongestPeriod if that is shorter.
    std::chrono::milliseconds period() const { return period_; }
    // True at most once a period: the loop then closes every client whose clock ran out.
    bool due(Clock::time_point now) {
        if (!enabled() || now < next_sweep_) return false;
        next_sweep_ = now + period_;
        return true;
    }
    // How long the loop may wait for its sockets: the shorter of `timeout_ms` (-1: no limit) and
    // the time until the next sweep. Off, `timeout_ms` without reading the clock.
    int wait_timeout_ms(int timeout_ms) const {
        return enabled() ? until_next_sweep_ms(timeout_ms) : timeout_ms;
    }

private:
    int until_next_sweep_ms(int timeout_ms) const;

    std::chrono::milliseconds period_;
    Clock::time_point next_sweep_{};
};

// --max-connections for a whole server: a client is admitted while fewer than the limit are
// open. Thread-safe, and lock-free: in memory shared with forked children (preforked), every
// process counts in the same one.
class ConnectionLimit {
public:
    explicit ConnectionLimit(std::size_t limit) : limit_(limit) {}
    // A part of `outer` (one worker's clients, in a pool of processes that share `outer`): a
    // client is admitted here only if `outer` admits it too, and released from both, so that
    // the parent can give back the places of a worker that died (release_every_place()).
    ConnectionLimit(std::size_t limit, ConnectionLimit* outer) : limit_(limit), outer_(outer) {}

    // True: admitted, and release() must follow when it leaves. False: over the limit, close it.
    bool admit();
    void release() {
        open_.fetch_sub(1, std::memory_order_relaxed);
        if (outer_ != nullptr) outer_->release();
    }
    // For a limit that nobody uses any more (its worker died): every place it held, given back.
    void release_every_place() {
        while (open() > 0) release();
    }
    std::size_t open() const { return open_.load(std::memory_order_relaxed); }

private:
    bool admit_here();

    std::size_t limit_;  // 0: no limit
    ConnectionLimit* outer_ = nullptr;
    std::atomic<std::size_t> open_{0};
    std::atomic<std::uint64_t> refused_{0};
};

// One client's place under a ConnectionLimit: taken when it is made, if there is room, and given
// back when it is destroyed. A server keeps it beside the client's socket (in its thread, its
// Connection, its Session, or its parent's table of children), so that every way a client can
// leave gives the place back.
class Admission {
public:
    Admission() = default;  // holds no place
    explicit Admission(ConnectionLimit& limit) : limit_(limit.admit() ? &limit : nullptr) {}
    ~Admission() {
        if (limit_ != nullptr) limit_->release();
    }
    Admission(Admission&& other) noexcept : limit_(std::exchange(other.limit_, nullptr)) {}
    Admission& operator=(Admission&& other) noexcept {
        std::swap(limit_, other.limit_);  // `other` gives back what this held, when it goes
        return *this;
    }

    // False: the limit was reached, and the client must be closed at once.
    explicit operator bool() const { return limit_ != nullptr; }

private:
    ConnectionLimit* limit_ = nullptr;
};

}  // namespace archbench
