// --idle N: connections that connect, say nothing, and stay open while the active ones are
// measured (the C10K experiment: how a server copes with a multitude of idle clients).
//
// They are opened before the measured load starts, at most kOpeningAtOnce connects in progress
// at a time (a listen backlog of a few hundred would otherwise drop SYNs and stall the opening
// behind the kernel's one-second SYN retry). A connect not done within --timeout-ms counts as
// failed. They follow --hosts-policy as the measured ones do: idle connection i goes to the first
// address (first, fallback) or to address i mod n (spread); under fallback a connect that fails
// is tried again on the next address, until every address has refused it. Then one thread of their own watches them (epoll, level-triggered): a hang-up or a
// reset is a connection the server closed, counted with the time of the first one. Anything
// the server sends is read and dropped. They are closed when the run ends.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

#include "loadgen/net.hpp"
#include "loadgen/options.hpp"

namespace archbench::load {

struct IdleReport {
    unsigned requested = 0;         // --idle N
    unsigned opened = 0;            // connected (the handshake completed)
    unsigned failed = 0;            // refused, reset or not connected within --timeout-ms
    unsigned closed_by_server = 0;  // of those opened: hung up or reset by the server
    std::optional<double> first_close_s;  // seconds from the start of the opening to the first close
    double open_s = 0;              // how long the opening took
    unsigned open_at_end() const { return opened - closed_by_server; }
};

class IdleConnections {
public:
    static constexpr unsigned kOpeningAtOnce = 128;

    IdleConnections() = default;
    ~IdleConnections();
    IdleConnections(const IdleConnections&) = delete;
    IdleConnections& operator=(const IdleConnections&) = delete;

    // Opens `count` connections (returns when each is open or has failed), then watches them
    // from a thread of its own. Throws std::runtime_error when the system refuses epoll.
    void open(const std::vector<Address>& addresses, HostsPolicy policy, unsigned count, unsigned timeout_ms);
    // Stops watching, closes them all, and says what happened to them.
    IdleReport finish();

private:
    void watch();
    void check(unsigned index, std::uint32_t events);  // an event on an open one

    std::vector<int> fds_;  // -1: failed or closed
    int epoll_fd_ = -1;
    std::int64_t started_ns_ = 0;
    IdleReport report_;
    std::atomic<bool> stop_{false};
    std::thread watcher_;
};

}  // namespace archbench::load
