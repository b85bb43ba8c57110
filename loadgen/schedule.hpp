// The open loop's fixed schedule, and how a thread waits so as to keep it.
//
// Request g of the whole run (g = 0, 1, 2, ...) is due at start + g / rate and goes to
// connection g mod c. Each connection thus sends rate/c requests per second on its own fixed
// schedule, the c schedules are staggered by 1/rate, and the load as a whole is evenly spaced.
// Request k of connection j is request g = k c + j, so the schedule needs no storage: a
// connection only counts how many of its requests came due and how many it has issued. A request
// whose connection is busy (its pipeline full, or reconnecting) waits for it, and its latency
// still counts from its scheduled time: that is what frees the open loop of coordinated omission.
#pragma once

#include <sys/epoll.h>

#include <climits>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "loadgen/options.hpp"

namespace archbench::load {

// --rate-steps (options.hpp's RateStep): the rate changes during the run (an overload, then a
// recovery). Step i runs at `rate` requests/s for `seconds`; the last one's rate holds after its
// seconds are over. "RATE:SECONDS,RATE:SECONDS,..." (both above 0); throws std::invalid_argument
// naming the problem.
std::vector<RateStep> parse_rate_steps(const std::string& text);

// The steps of a whole run from its start: the warm-up at the first step's rate (or at --rate),
// then the steps as asked.
std::vector<RateStep> run_rate_steps(const LoadOptions& options);

class OpenLoopSchedule {
public:
    // `slots`: this thread's connections (their numbers in the run, ascending). `end`: the first
    // request of the run not to be sent (-n), or UINT64_MAX.
    OpenLoopSchedule(double rate, unsigned connections, std::int64_t start_ns,
                     std::vector<unsigned> slots, std::uint64_t end);
    // A rate that changes: the steps in turn from `start_ns`. Request g is then due within the
    // step its time falls in, evenly spaced at that step's rate (the step's first request is the
    // first one due at or after the step's start).
    OpenLoopSchedule(const std::vector<RateStep>& steps, unsigned connections, std::int64_t start_ns,
                     std::vector<unsigned> slots, std::uint64_t end);

    std::int64_t due_ns(std::uint64_t request) const {
        std::size_t s = segments_.size() - 1;
        while (request < segments_[s].first_request) --s;  // a handful of steps at most
        const Segment& segment = segments_[s];
        return segment.start_ns +
               static_cast<std::int64_t>(static_cast<double>(request - segment.first_request) * segment.interval_ns);
    }
    std::int64_t due_ns(unsigned slot, std::uint64_t k) const {
        return due_ns(k * connections_ + slot);
    }
    // The first request of the run due at or after `time_ns`.
    std::uint64_t first_due_at(std::int64_t time_ns) const;

    // This thread's next request: when it is due (INT64_MAX once the schedule is over), and which
    // of the thread's connections it goes to (an index into `slots`).
    std::int64_t next_due_ns() const { return next_ < end_ ? due_ns(next_) : INT64_MAX; }
    std::size_t next_connection() const { return local_; }
    bool over() const { return next_ >= end_; }
    void advance();

private:
    struct Segment {
        std::uint64_t first_request;
        std::int64_t start_ns;
        double interval_ns;
    };
    std::vector<Segment> segments_;  // the first starts at request 0
    unsigned connections_;
    std::int64_t start_ns_;
    std::vector<unsigned> slots_;
    std::uint64_t end_;
    std::uint64_t round_ = 0;  // k: how many times this thread's connections have all had a turn
    std::size_t local_ = 0;    // whose turn it is
    std::uint64_t next_;       // g of that turn
};

// How a thread waits for events until a deadline at most. A sleeping thread wakes up late
// (a few microseconds on bare metal, tens in a virtual machine, more on a busy one), so a
// `precise` wait (the open loop's next send) sleeps, in epoll_pwait2 with a nanosecond timeout,
// only until a spin window before the deadline, and then polls without sleeping. The window
// learns how late this machine wakes: it grows by half after a wake-up that came too late and
// shrinks by 1/64 after one on time, so it settles where about 4 wake-ups in 100 are late.
struct Wait {
    int events;
    bool polled;           // it did not sleep: its time is spent polling, not working
    std::int64_t woken_ns; // the clock when it returned
};

class Pacer {
public:
    static constexpr std::int64_t kFirstSpinWindowNs = 50'000;
    static constexpr std::int64_t kLeastSpinWindowNs = 5'000;
    static constexpr std::int64_t kMostSpinWindowNs = 250'000;

    Wait wait(int epoll_fd, std::span<epoll_event> events, std::int64_t now_ns, std::int64_t deadline_ns,
              bool precise);
    std::int64_t spin_window_ns() const { return spin_window_ns_; }

private:
    std::int64_t spin_window_ns_ = kFirstSpinWindowNs;
};

// Cuts the calling thread's timer slack from the default 50 us to 1 ns, so that its timed
// sleeps end when asked.
void use_precise_timers();

}  // namespace archbench::load
