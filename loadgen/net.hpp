// The little the load generator needs to know about addresses and descriptors.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace archbench::load {

struct Address {
    sockaddr_storage storage{};
    socklen_t length = 0;
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// A numeric IPv4 or IPv6 address and a port. Throws std::invalid_argument naming the problem.
Address parse_address(const std::string& host, std::uint16_t port);

// Raises this process's soft limit on open descriptors to the hard limit (one connection is one
// descriptor) and returns the limit now in force.
std::uint64_t raise_open_file_limit();

}  // namespace archbench::load
