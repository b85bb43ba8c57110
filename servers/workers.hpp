// For pooled architectures (prethreaded, preforked, epoll-reuseport, asio-pool): how evenly the
// workers shared the clients. Stevens' Figure 30.2 showed that some designs hand most
// connections to a few workers; the harness records this line and the report draws it.
#pragma once

#include <cstdint>
#include <span>

namespace archbench {

// Prints one line to stderr at exit: "worker_connections N0 N1 ...", the number of connections
// each worker accepted, in worker order.
void report_worker_connections(std::span<const std::uint64_t> connections_per_worker);

}  // namespace archbench
