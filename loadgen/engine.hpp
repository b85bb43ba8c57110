// One thread of the load generator: its share of the connections, driven by one epoll loop.
//
// Closed loop: a connection sends its next question when an answer frees a place in its
// pipeline. Open loop: requests come due on the schedule (schedule.hpp) and each is sent on its
// connection as soon as that connection has a free place; until then it waits, its latency
// running from its scheduled time.
//
// Which address of --host a connection uses is the policy's (--hosts-policy): first, every
// connection on the first address; spread, connection i on address i mod n; fallback, every
// connection starts on the first and moves to the next (wrapping around) when a connect fails or
// its connection ends in an error. A connection that is refused waits kReconnectPauseNs before
// it tries again, so that a dead address costs a hundred attempts a second per connection, not a
// hot loop; under fallback it tries the next address at once, and pauses only when every address
// refused it in a row.
//
// Per request the thread makes no allocation and no system call but recv(), send() and its share
// of an epoll_wait(), and reads the clock once per event. Once every 10 ms it looks over its
// connections for answers overdue (--timeout-ms) and connections to reopen.
#pragma once

#include <sys/epoll.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <vector>

#include "loadgen/connection.hpp"
#include "loadgen/net.hpp"
#include "loadgen/options.hpp"
#include "loadgen/schedule.hpp"
#include "loadgen/stats.hpp"

namespace archbench::load {

// When the run starts (the warm-up's start: with --start-at the agreed time, on the monotonic
// clock), and the window in which it measures (after the warm-up).
struct RunTimes {
    std::int64_t start_ns;
    std::int64_t window_start_ns;
    std::int64_t window_end_ns;  // INT64_MAX when only -n ends the run
};

// One thread's share of the work.
struct ThreadPlan {
    std::vector<unsigned> slots;                // its connections' numbers in the run (0..c-1)
    std::uint64_t request_budget = UINT64_MAX;  // closed loop, -n: measured requests it issues
    std::uint64_t schedule_end = UINT64_MAX;    // open loop, -n: the first request not to send
};

// Connection j of c goes to thread j mod t: every connection has a thread, and the threads' shares
// differ by one at most. -n is shared out the same way.
std::vector<ThreadPlan> plan_threads(const LoadOptions& options, std::uint64_t schedule_end);

class Worker {
public:
    static constexpr std::int64_t kTickNs = 10'000'000;            // timeouts are checked this often
    static constexpr std::int64_t kReconnectPauseNs = 10'000'000;  // after a failed connect
    // --start-at: a start later than this (a wake-up's delay at most) is reported as late.
    static constexpr std::int64_t kStartToleranceNs = 1'000'000;

    Worker(const LoadOptions& options, const std::vector<Address>& addresses, const RunTimes& times,
           ThreadPlan plan);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // Runs until the window ends, the thread's -n share is done, or `stop` is set.
    Measurements run(const std::atomic<bool>& stop);

private:
    void open_connection(Connection& connection, std::int64_t now);
    void on_connected(Connection& connection, std::int64_t now);
    void on_connect_failed(Connection& connection, std::int64_t now);
    void on_event(Connection& connection, std::uint32_t events, std::int64_t now);
    void on_answer(const Request& request, bool right, std::size_t address, std::int64_t now);
    void fill_pipeline(Connection& connection, std::int64_t now);
    void fail_connection(Connection& connection, ErrorKind kind, std::int64_t now);
    void issue_due_requests(std::int64_t now);
    void check_connections(std::int64_t now);
    bool finished(std::int64_t now) const;
    bool ready_to_start(std::int64_t now) const;
    void start(std::int64_t now);
    std::size_t index_of(const Connection& connection) const {
        return static_cast<std::size_t>(&connection - connections_.data());
    }
    // Whether a request of the measured window was sent and is still unanswered.
    bool measured_requests_pending() const;
    Measurements finish(std::int64_t now);

    // Where a connection is sent (--hosts-policy), beside connections_ and indexed alike.
    struct Route {
        std::size_t address;          // into addresses_
        std::size_t refused_in_row;   // connects that failed since its last success
    };

    const LoadOptions& options_;
    const std::vector<Address>& addresses_;
    const RunTimes times_;
    const std::int64_t timeout_ns_;
    ExpectedAnswers expected_;
    std::vector<Connection> connections_;
    std::vector<Route> routes_;
    std::optional<OpenLoopSchedule> schedule_;  // open loop only
    Pacer pacer_;
    Recorder recorder_;
    int epoll_fd_;

    std::uint64_t requests_left_;       // closed loop: -n share still to issue
    std::uint64_t in_flight_ = 0;       // requests sent and not yet answered, all connections
    std::uint64_t backlog_ = 0;         // open loop: requests due and not yet sent
    bool started_ = false;           // the load began (before it: connections open, nothing is sent)
    std::int64_t started_ns_ = 0;    // when
    bool window_open_ = false;
    std::int64_t window_cpu_start_ns_ = 0;
    std::int64_t spin_ns_ = 0;

    std::array<epoll_event, 256> events_;
    std::vector<char> receive_buffer_;
};

}  // namespace archbench::load
