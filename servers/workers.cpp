#include "servers/workers.hpp"

#include <cstdio>
#include <string>

namespace archbench {

void report_worker_connections(std::span<const std::uint64_t> connections_per_worker) {
    std::string line = "worker_connections";
    for (std::uint64_t count : connections_per_worker) {
        line += ' ';
        line += std::to_string(count);
    }
    std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace archbench
