// What the abuse suites share: a fixture that runs the real archbench-server under one
// architecture, and the measurements they take of it (time to an answer, descriptors, memory).
// Every wait has a deadline and every loop a bound, so that a server that hangs fails a test
// instead of hanging the suite.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "protocol/zen.hpp"
#include "tests/support/architecture_test.hpp"
#include "tests/support/architectures.hpp"
#include "tests/support/client.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/time_scale.hpp"

namespace archbench::testing {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

inline constexpr std::string_view kBeautiful = "Beautiful is better than?";
inline constexpr std::string_view kExplicit = "Explicit is better than?";
inline constexpr std::string_view kSimple = "Simple is better than?";

// Suites choose their architectures by trait (tests/support/architectures.hpp); SetUp fails a
// placeholder and skips an architecture this machine refuses (ArchitectureTest).
class Abuse : public ArchitectureTest {
protected:
    // Starts the server with `extra` flags. A pool of blocking workers (one_client_per_worker)
    // gets `clients` workers: one for each client the test holds open at once. `open_file_limit`
    // > 0 runs it under that RLIMIT_NOFILE.
    ServerProcess start(std::vector<std::string> extra = {}, std::size_t clients = 2,
                        unsigned long open_file_limit = 0);

    // Starts the server for one client at a time with every client meeting the same worker: a
    // pool gets one worker (each of preforked's or epoll-prefork's processes would otherwise
    // start on its own first use what a test counts as the server's baseline, such as the
    // lingering thread's epoll set and eventfd).
    ServerProcess start_with_one_worker(std::vector<std::string> extra = {});
};

// Raises this process's soft RLIMIT_NOFILE to its hard limit (servers started later inherit
// it). Returns the new soft limit.
unsigned long raise_open_file_limit();

// A fresh client asks one question (in `protocol`); true when the right answer arrives within
// `timeout`. `reply_bytes`: the server's padding.
::testing::AssertionResult serves_a_new_client(std::uint16_t port, std::size_t reply_bytes = 0,
                                               milliseconds timeout = milliseconds(5000),
                                               zen::Protocol protocol = zen::Protocol::zen);

// The server's open descriptors (its children's included), once they are back to `baseline`
// or fewer, or as they are after `limit`: sockets of clients that have gone are closed a little
// after they go (a thread ends, a child exits, a lingering close ends).
int descriptors_settled_to(const ServerProcess& server, int baseline,
                           milliseconds limit = milliseconds(3000));

// The server's open descriptors once they stay the same for 100 ms (within `limit`).
int steady_descriptors(const ServerProcess& server, milliseconds limit = milliseconds(2000));

// Sends `bytes` on `fd` without ever reading from it, for at most `limit`; the bytes sent.
std::size_t send_without_reading(int fd, std::string_view bytes, milliseconds limit);

double seconds_since(steady_clock::time_point start);

}  // namespace archbench::testing
