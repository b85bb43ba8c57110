// What a run of archbench-load is asked to do: its command line as values (main.cpp parses it,
// DESIGN.md fixes it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace archbench::load {

struct LoadOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 1060;
    unsigned connections = 0;     // -c
    unsigned threads = 1;         // -t (never more than connections)
    double duration_s = 0;        // -d: measured seconds after the warm-up; 0: no time limit
    double warmup_s = 0;          // --warmup: load runs, nothing is recorded
    std::uint64_t requests = 0;   // -n: measured requests to issue; 0: no count
    double rate = 0;              // --rate: requests per second in total (open loop); 0: closed loop
    unsigned session = 0;         // --session: questions per connection before reconnecting; 0: persistent
    unsigned pipeline = 1;        // --pipeline: questions in flight per connection
    unsigned timeout_ms = 2000;   // --timeout-ms: an answer later than this is a timeout
    std::size_t reply_bytes = 0;  // --reply-bytes: answers are expected padded to this length
    std::string json_path;        // --json
    std::string hgrm_path;        // --hgrm

    bool open_loop() const { return rate > 0; }
};

}  // namespace archbench::load
