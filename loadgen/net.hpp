// The little the load generator needs to know about addresses and descriptors.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

namespace archbench::load {

struct Address {
    sockaddr_storage storage{};
    socklen_t length = 0;
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// A numeric IPv4 or IPv6 address, or a host name, and a port. A name is resolved once, here,
// with getaddrinfo (so /etc/hosts and DNS answer as for any client); its first IPv4 address is
// taken (the servers bind IPv4), or its first address if it has none. Throws
// std::invalid_argument naming the problem when it does not resolve.
Address resolve_address(const std::string& host, std::uint16_t port);

// The numeric form of an address, without the port: "127.0.0.2", "::1".
std::string numeric_host(const Address& address);

// Raises this process's soft limit on open descriptors to the hard limit (one connection is one
// descriptor) and returns the limit now in force.
std::uint64_t raise_open_file_limit();

}  // namespace archbench::load
