// A whole run: the threads started, joined, and what they measured added up and judged.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "loadgen/idle.hpp"
#include "loadgen/net.hpp"
#include "loadgen/options.hpp"
#include "loadgen/stats.hpp"

namespace archbench::load {

// A thread busier than this measured itself, not the server.
inline constexpr double kSaturatedBusyShare = 0.90;

struct ThreadUsage {
    unsigned connections;
    double cpu_util;   // CPU time / measured time, 1.0 = one core all the time
    double busy_util;  // the same without the open loop's polling for its next send
};

struct RunResult {
    LoadOptions options;  // as run: threads never more than connections
    Measurements total;   // all threads together
    std::vector<ThreadUsage> threads;
    double duration_s = 0;
    double start_late_s = 0;  // --start-at: how late the load began (0 on time, and without it)
    bool interrupted = false;
    IdleReport idle;      // --idle: what became of the silent connections
    std::vector<std::string> addresses;  // --host's addresses as resolved, numeric, in its order

    double throughput_rps() const { return duration_s > 0 ? static_cast<double>(total.ok) / duration_s : 0; }
    double cpu_us_per_request() const;   // all its CPU, per request answered or failed
    double busy_us_per_request() const;  // the same without the open loop's polling
    // Some thread was busy more than 90% of the time: the figures describe archbench-load.
    bool saturated() const;
    // Open loop: at the end more requests waited for a connection than there are connections,
    // so the queue was growing: the connections could not carry the rate.
    bool rate_not_kept() const;
    std::vector<std::string> warnings() const;
};

// Each of `hosts` resolved (net.hpp), in order. Throws std::invalid_argument naming the first
// that does not resolve.
std::vector<Address> resolve_addresses(const std::vector<std::string>& hosts, std::uint16_t port);

// Runs the load the options describe against `addresses` (options.hosts resolved, in order);
// setting `stop` ends it early (the figures then cover the time until then). Throws
// std::runtime_error when the system refuses what a run needs.
RunResult run_load(const LoadOptions& options, const std::vector<Address>& addresses,
                   const std::atomic<bool>& stop);

}  // namespace archbench::load
