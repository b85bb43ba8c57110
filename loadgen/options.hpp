// What a run of archbench-load is asked to do: its command line as values (main.cpp parses it,
// DESIGN.md fixes it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/zen.hpp"

namespace archbench::load {

// --rate-steps: `rate` requests/s for `seconds`, in turn (schedule.hpp).
struct RateStep {
    double rate;
    double seconds;
};

// --hosts-policy: how the connections use the addresses of --host (engine.cpp).
enum class HostsPolicy {
    first,     // every connection to the first address (a client hardwired to one instance)
    spread,    // connection i to address i mod n (clients of a round-robin DNS name)
    fallback,  // each starts on the first and moves to the next when a connect fails or it is lost
};

inline const char* hosts_policy_name(HostsPolicy policy) {
    switch (policy) {
    case HostsPolicy::first: return "first";
    case HostsPolicy::spread: return "spread";
    case HostsPolicy::fallback: return "fallback";
    }
    return "first";
}

struct LoadOptions {
    std::string host = "127.0.0.1";  // --host as given: one address or name, or several, comma-separated
    std::vector<std::string> hosts = {"127.0.0.1"};  // --host split at its commas, in the given order
    HostsPolicy hosts_policy = HostsPolicy::first;
    std::uint16_t port = 1060;
    unsigned connections = 0;     // -c
    unsigned threads = 1;         // -t (never more than connections)
    double duration_s = 0;        // -d: measured seconds after the warm-up; 0: no time limit
    double warmup_s = 0;          // --warmup: load runs, nothing is recorded
    std::uint64_t requests = 0;   // -n: measured requests to issue; 0: no count
    double rate = 0;              // --rate: requests per second in total (open loop); 0: closed loop
    std::vector<RateStep> rate_steps;  // --rate-steps: from the end of the warm-up (rate: the first)
    unsigned idle = 0;            // --idle: extra connections that connect and stay silent
    unsigned session = 0;         // --session: questions per connection before reconnecting; 0: persistent
    unsigned pipeline = 1;        // --pipeline: questions in flight per connection
    unsigned timeout_ms = 2000;   // --timeout-ms: an answer later than this is a timeout
    std::size_t reply_bytes = 0;  // --reply-bytes: answers are expected padded to this length
    unsigned timeline_ms = 1000;  // --timeline-ms: the timeline's slice
    std::optional<std::int64_t> start_at;  // --start-at: the warm-up's start, ns since the Unix epoch (CLOCK_REALTIME)
    zen::Protocol protocol = zen::Protocol::zen;  // --protocol
    std::string path = "/beautiful";              // --path: what HTTP requests GET
    std::string json_path;        // --json
    std::string hgrm_path;        // --hgrm

    bool open_loop() const { return rate > 0; }
};

}  // namespace archbench::load
