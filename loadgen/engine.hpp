// One thread of the load generator: its share of the connections, driven by one epoll loop.
//
// Closed loop: a connection sends its next question when an answer frees a place in its
// pipeline. Open loop: requests come due on the schedule (schedule.hpp) and each is sent on its
// connection as soon as that connection has a free place; until then it waits, its latency
// running from its scheduled time.
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

// When the run starts, and the window in which it measures (after the warm-up).
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

    Worker(const LoadOptions& options, const Address& address, const RunTimes& times, ThreadPlan plan);
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
    void on_answer(const Request& request, bool right, std::int64_t now);
    void fill_pipeline(Connection& connection, std::int64_t now);
    void fail_connection(Connection& connection, ErrorKind kind, std::int64_t now);
    void issue_due_requests(std::int64_t now);
    void check_connections(std::int64_t now);
    bool finished(std::int64_t now) const;
    // Whether a request of the measured window was sent and is still unanswered.
    bool measured_requests_pending() const;
    Measurements finish(std::int64_t now);

    const LoadOptions& options_;
    const Address& address_;
    const RunTimes times_;
    const std::int64_t timeout_ns_;
    ExpectedAnswers expected_;
    std::vector<Connection> connections_;
    std::optional<OpenLoopSchedule> schedule_;  // open loop only
    Pacer pacer_;
    Recorder recorder_;
    int epoll_fd_;

    std::uint64_t requests_left_;       // closed loop: -n share still to issue
    std::uint64_t in_flight_ = 0;       // requests sent and not yet answered, all connections
    std::uint64_t backlog_ = 0;         // open loop: requests due and not yet sent
    bool window_open_ = false;
    std::int64_t window_cpu_start_ns_ = 0;
    std::int64_t spin_ns_ = 0;

    std::array<epoll_event, 256> events_;
    std::vector<char> receive_buffer_;
};

}  // namespace archbench::load
