// Too many clients: a flood of 2000 connections opened at once, and a server run out of
// descriptors (prlimit --nofile=64) with 200 clients. The server must stay up, must not spin
// while it cannot accept, and must serve again once the clients leave.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <thread>
#include <vector>

#include "tests/abuse/abuse.hpp"
#include "tests/support/time_scale.hpp"

using namespace archbench;
using namespace archbench::testing;
using std::chrono::microseconds;

namespace {

// 2000 clients, or ARCHBENCH_FLOOD_CLIENTS: the Makefile's sanitizer runs ask for fewer, because
// an instrumented process holds about 28 MB of its own (AddressSanitizer's shadow and caches),
// and a process per client (forked, inetd, py-forking-mixin) at 2000 clients would ask for more
// memory than the machine has. Whatever the size, select's FD_SETSIZE is checked when it is
// passed.
const int kFlood = [] {
    const char* text = std::getenv("ARCHBENCH_FLOOD_CLIENTS");
    const int clients = text != nullptr ? std::atoi(text) : 0;
    return clients > 0 ? clients : 2000;
}();

// `count` sockets connecting to 127.0.0.1:port at once (non-blocking connects), closed when it
// goes.
class Flood {
public:
    Flood(std::uint16_t port, int count) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        for (int i = 0; i < count; ++i) {
            const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) break;
            fds_.push_back(fd);
            connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);  // EINPROGRESS
        }
    }
    ~Flood() { close_all(); }
    Flood(const Flood&) = delete;
    Flood& operator=(const Flood&) = delete;

    int size() const { return static_cast<int>(fds_.size()); }
    int fd(int index) const { return fds_[index]; }

    // How many have connected by `limit` (a connection in the listen backlog has, for the client).
    int connected(milliseconds limit) const {
        const auto deadline = steady_clock::now() + limit;
        std::vector<pollfd> waiting;
        for (int fd : fds_) waiting.push_back({fd, POLLOUT, 0});
        int done = 0;
        while (!waiting.empty() && steady_clock::now() < deadline) {
            if (poll(waiting.data(), waiting.size(), 50) <= 0) continue;
            std::erase_if(waiting, [&](const pollfd& entry) {
                if (entry.revents == 0) return false;
                int error = 0;
                socklen_t length = sizeof error;
                getsockopt(entry.fd, SOL_SOCKET, SO_ERROR, &error, &length);
                done += error == 0;
                return true;
            });
        }
        return done;
    }

    // How many the server has closed (EOF or reset) by `limit`, waiting until at least `expected`.
    int closed_by_server(int expected, milliseconds limit) const {
        const auto deadline = steady_clock::now() + limit;
        int closed = 0;
        do {
            closed = 0;
            for (int fd : fds_) {
                char byte;
                const ssize_t got = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
                closed += got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
            }
            if (closed >= expected) break;
            std::this_thread::sleep_for(milliseconds(50));
        } while (steady_clock::now() < deadline);
        return closed;
    }

    void close_all() {
        for (int fd : fds_) close(fd);
        fds_.clear();
    }

private:
    std::vector<int> fds_;
};

// Asks one question on a raw flood socket; the answer, or what came within `limit`.
std::string ask_on(int fd, std::string_view question, milliseconds limit) {
    const ssize_t sent = send(fd, question.data(), question.size(), MSG_NOSIGNAL);
    if (sent != static_cast<ssize_t>(question.size())) return "<send failed>";
    std::string answer;
    const auto deadline = steady_clock::now() + limit;
    while (answer.find('.') == std::string::npos && steady_clock::now() < deadline) {
        pollfd readable{fd, POLLIN, 0};
        if (poll(&readable, 1, 20) <= 0) continue;
        char buffer[256];
        const ssize_t got = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (got <= 0) break;
        answer.append(buffer, static_cast<std::size_t>(got));
    }
    return answer;
}

class FloodOfConnections : public Abuse {
protected:
    void SetUp() override {
        Abuse::SetUp();
        if (IsSkipped()) return;
        // The test's 2000 sockets and the server's 2000 (it inherits this limit).
        if (const unsigned long limit = raise_open_file_limit(); limit < 2ul * kFlood + 100)
            GTEST_SKIP() << "the open-file limit is " << limit << ", too low for " << kFlood
                         << " connections (raise the hard limit)";
    }
};

class DescriptorExhaustion : public Abuse {
protected:
    void SetUp() override {
        Abuse::SetUp();
        if (!IsSkipped()) raise_open_file_limit();  // the test's 200 clients
    }
};

}  // namespace

// What one new client costs this server at rest, from its connect to its answer (a thread, a
// fork, a fork and an exec, ...): the median of five, one after another.
static microseconds cost_of_a_new_client(std::uint16_t port) {
    std::vector<microseconds> costs;
    for (int i = 0; i < 5; ++i) {
        const auto started = steady_clock::now();
        if (!serves_a_new_client(port, 0, milliseconds(3000))) return milliseconds(3000);
        costs.push_back(std::chrono::duration_cast<microseconds>(steady_clock::now() - started));
    }
    std::sort(costs.begin(), costs.end());
    return costs[costs.size() / 2];
}

TEST_P(FloodOfConnections, TwoThousandAtOnceLeaveTheServerUpAndServing) {
    ServerProcess server = start();  // pools: their default workers; the rest wait in the backlog
    // A newcomer arriving behind the flood waits for the 2000 before it: at most 3 s, or, for a
    // design whose every new client costs a fork and an exec (inetd) or a fork of an interpreter
    // (py-forking-mixin), four times what the flood costs it at its measured price per client
    // at rest. Not over the machine's cores: one thread accepts and forks, one client after the
    // other, and the other core may be another test's (ctest -j2). Four, not two: the price
    // grows with the flood, as each fork copies a larger page table and ForkingMixIn calls
    // waitpid on every live child for each client it accepts (py-forking-mixin, 2.1 ms a
    // client at rest: its whole test took 6 s, and in one run of three the newcomer was not
    // served within 8.6 s).
    // Up and serving at the pace its design allows, never wedged.
    const microseconds per_client = cost_of_a_new_client(server.port());
    const milliseconds newcomer_limit = std::max(
        scaled(milliseconds(3000)), std::chrono::duration_cast<milliseconds>(4 * kFlood * per_client));
    Flood flood(server.port(), kFlood);
    ASSERT_EQ(flood.size(), kFlood);
    const Traits& traits = architecture().traits;
    const bool serves_all_at_once =
        traits.concurrent && !traits.one_client_per_worker && traits.connection_limit == 0;
    const int connected = flood.connected(milliseconds(3000));
    if (serves_all_at_once) {
        EXPECT_EQ(connected, kFlood);
    }

    // The first connection came first: every architecture has accepted it by now. It is
    // answered within the newcomer's bound: inetd's first child starts beside the flood's other
    // children, each a fork and an exec (under AddressSanitizer, 300 instrumented programs
    // starting at once once took it past 3 s).
    EXPECT_EQ(ask_on(flood.fd(0), kSimple, newcomer_limit), "Complex.");
    if (traits.connection_limit > 0 && kFlood > static_cast<int>(traits.connection_limit)) {
        // select: a descriptor at or beyond FD_SETSIZE is closed at once, and the rest served.
        const int beyond = kFlood - static_cast<int>(traits.connection_limit);
        const int closed = flood.closed_by_server(kFlood - FD_SETSIZE, milliseconds(3000));
        EXPECT_GE(closed, kFlood - FD_SETSIZE);
        EXPECT_LE(closed, beyond);
        EXPECT_NE(server.stderr_text().find("FD_SETSIZE"), std::string::npos)
            << server.stderr_text();
    }
    if (serves_all_at_once) {  // a newcomer is served among the flood
        EXPECT_TRUE(serves_a_new_client(server.port(), 0, newcomer_limit))
            << "one new client at rest cost " << per_client.count() << " us";
    }
    EXPECT_TRUE(server.running()) << server.stderr_text();

    flood.close_all();
    EXPECT_TRUE(serves_a_new_client(server.port(), 0, milliseconds(10000)));
    EXPECT_TRUE(server.running()) << server.stderr_text();
}

TEST_P(DescriptorExhaustion, AtTheOpenFileLimitTheServerWaitsWithoutSpinningThenServesAgain) {
    // 64 descriptors, 200 clients: a server that accepts them all runs out after ~55. The
    // clients beyond wait in the listen backlog (or, for a pool, for a worker: it gets one per
    // client, so that prethreaded's threads reach the limit too).
    constexpr int kClients = 200;
    ServerProcess server = start({}, kClients, 64);
    // What one client costs it at rest bounds the settling below: a design that forks an
    // interpreter per client (py-forking-mixin, 2 ms and more each, more on a loaded machine)
    // is still starting its 200 children seconds after they connected, and that is work, not spin.
    const microseconds per_client = cost_of_a_new_client(server.port());
    std::vector<Client> clients;
    for (int i = 0; i < kClients; ++i) {
        clients.emplace_back(server.port());
        clients.back().send(kBeautiful);
    }
    // Wait until every client that can be accepted is, and every worker has started: until three
    // 100 ms slices in a row find the server quiet, at most scaled(3 s) or four times what the 200
    // clients cost it at its price at rest, whichever is longer. Starting takes its time, several
    // times more in instrumented builds (under ThreadSanitizer prethreaded starting 200 threads
    // used 12% of a core 300 ms after the connects; inetd under AddressSanitizer starts a child
    // and execs an instrumented program per client, seconds of CPU for 200). A server that spins
    // is never quiet: after the wait the measured window, which is not scaled, catches it.
    std::this_thread::sleep_for(scaled(milliseconds(300)));
    const auto settle_until = steady_clock::now() +
        std::max<microseconds>(scaled(milliseconds(3000)), 4 * kClients * per_client);
    for (int quiet = 0; quiet < 3 && steady_clock::now() < settle_until;) {
        const double slice_before = server.cpu_seconds();
        const auto slice_from = steady_clock::now();
        std::this_thread::sleep_for(milliseconds(100));
        const bool still = (server.cpu_seconds() - slice_before) / seconds_since(slice_from) < 0.05;
        quiet = still ? quiet + 1 : 0;
    }

    const double cpu_before = server.cpu_seconds();
    const auto measured_from = steady_clock::now();
    std::this_thread::sleep_for(milliseconds(1000));
    const double cpu_share = (server.cpu_seconds() - cpu_before) / seconds_since(measured_from);
    EXPECT_LT(cpu_share, 0.10) << "the server used " << cpu_share * 100
                               << "% of a core while it could not accept: a busy loop";
    EXPECT_TRUE(server.running()) << server.stderr_text();
    // One process holding every client runs out, and says so; `single` holds one client, and a
    // process per client (forked, preforked) gives each its own descriptor table.
    if (architecture().traits.concurrent && !architecture().traits.process_based) {
        EXPECT_NE(server.stderr_text().find("Too many open files"), std::string::npos)
            << "the limit was never reached: " << server.stderr_text();
    }

    clients.clear();
    EXPECT_TRUE(serves_a_new_client(server.port(), 0, milliseconds(5000))) << server.stderr_text();
    EXPECT_TRUE(server.running());
}

INSTANTIATE_TEST_SUITE_P(Abuse, FloodOfConnections, ::testing::ValuesIn(every_architecture()));
INSTANTIATE_TEST_SUITE_P(Abuse, DescriptorExhaustion, ::testing::ValuesIn(every_architecture()));
