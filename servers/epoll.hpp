// The event loop of epoll.cpp, for the architectures that run several of them (epoll-reuseport:
// one per thread, each on a listening socket of its own).
#pragma once

#include <atomic>
#include <cstdint>

#include "servers/architecture.hpp"
#include "servers/limits.hpp"
#include "servers/net.hpp"

namespace archbench {

// A new epoll set. Throws std::runtime_error when the kernel refuses one (out of descriptors).
Socket new_epoll_set();

// Serves the clients accepted on `listen_fd` on the calling thread until `stop` is requested,
// counting each one in `accepted` when given. `limit` is --max-connections, which several loops
// may share. Throws std::runtime_error when epoll fails. It waits on `epoll` when given, else on
// a new epoll set: several loops that accept at once make theirs first, lest the first to accept
// use up the descriptors before the last has its set.
void run_epoll_loop(int listen_fd, const ServerOptions& options, StopSignal& stop,
                    ConnectionLimit& limit, std::atomic<std::uint64_t>* accepted = nullptr,
                    Socket epoll = {});

}  // namespace archbench
