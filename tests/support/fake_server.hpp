// A Zen server whose behaviour is known, to test the load generator against: it runs in a thread
// of the test process as one epoll loop on 127.0.0.1 and a free port, and its answers can be
// delayed, frozen and spoiled on purpose. (archbench-server does only what the protocol says;
// this one also does what a broken or overloaded server does.)
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace archbench::testing {

struct FakeServerBehaviour {
    std::chrono::microseconds delay{0};         // each answer leaves this long after its question
    std::chrono::milliseconds freeze_every{0};  // from the first connection, once every this long ...
    std::chrono::milliseconds freeze_for{0};    // ... nothing is answered for this long
    unsigned wrong_every = 0;    // every Nth question (counted over all connections) is answered wrongly
    unsigned hang_up_every = 0;  // every Nth: half of its answer, then the connection is closed
    unsigned reset_every = 0;    // every Nth: the connection is reset instead of answered
    unsigned ignore_every = 0;   // every Nth: neither it nor any later question on its connection is answered
    unsigned keep_at_most = 0;   // with this many open, a new connection is closed at once (select's
                                 // FD_SETSIZE); 0: no limit
};

class FakeServer {
public:
    explicit FakeServer(FakeServerBehaviour behaviour = {});
    ~FakeServer();  // stops the loop and closes every connection
    FakeServer(const FakeServer&) = delete;
    FakeServer& operator=(const FakeServer&) = delete;

    std::uint16_t port() const { return port_; }
    std::uint64_t connections_accepted() const { return accepted_.load(); }
    std::uint64_t most_connections_open() const { return most_open_.load(); }
    std::uint64_t questions() const { return questions_.load(); }

private:
    void serve();

    FakeServerBehaviour behaviour_;
    int listen_fd_ = -1;
    int stop_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<std::uint64_t> accepted_{0};
    std::atomic<std::uint64_t> most_open_{0};
    std::atomic<std::uint64_t> questions_{0};
    std::thread loop_;
};

}  // namespace archbench::testing
