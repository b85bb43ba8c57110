// --idle-timeout and --max-connections, checked against the real archbench-server for every
// architecture in the registry: what a client that idles or trickles, and a client beyond the
// limit, get from each of them.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <csignal>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "protocol/zen.hpp"
#include "tests/support/architecture_test.hpp"
#include "tests/support/client.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/time_scale.hpp"

using namespace archbench;
using namespace archbench::testing;

namespace {

using std::chrono::steady_clock;

constexpr std::string_view kBeautiful = "Beautiful is better than?";
constexpr std::string_view kExplicit = "Explicit is better than?";
constexpr std::string_view kSimple = "Simple is better than?";

// The timeout the tests give, and how late past it a server may close an idle client: an event
// loop sweeps every 100 ms, and this machine may be busy with other builds and tests. The
// lateness grows with ARCHBENCH_TIME_SCALE (latest_close()); the timeout itself is the server's.
const std::string kIdleTimeoutFlag = "0.3";
constexpr double kIdleTimeoutSeconds = 0.3;
constexpr double kLatenessSeconds = 1.2;

double latest_close() { return kIdleTimeoutSeconds + scaled_seconds(kLatenessSeconds); }

double seconds_since(steady_clock::time_point start) {
    return std::chrono::duration<double>(steady_clock::now() - start).count();
}

// One byte of a question that never ends: a byte of "Beautiful is better than" (no '?').
// False once the server has reset the connection.
bool trickle(Client& client, std::size_t nth_byte) {
    constexpr std::string_view kNeverEnding = "Beautiful is better than";
    const char byte = kNeverEnding[nth_byte % kNeverEnding.size()];
    return send(client.fd(), &byte, 1, MSG_NOSIGNAL) == 1;
}

// Trickles a byte every 100 ms until the server closes the connection, at most `limit`
// seconds. True when it was closed.
bool trickle_until_closed(Client& client, double limit) {
    const auto start = steady_clock::now();
    for (std::size_t i = 0; seconds_since(start) < scaled_seconds(limit); ++i)
        if (!trickle(client, i) || client.closed_by_server(100ms)) return true;
    return false;
}

// A new client asks one question, again and again until it is answered or `limit` passes: a
// client's place under --max-connections is given back once the server has noticed it left,
// which may be a moment after the client saw its connection close.
bool new_client_is_served_within(std::uint16_t port, std::chrono::milliseconds limit) {
    const auto deadline = steady_clock::now() + limit;
    while (steady_clock::now() < deadline) {
        Client client(port);
        client.send(kExplicit);
        if (client.read_answer(500ms) == "Implicit.") return true;
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

class Limits : public ArchitectureTest {};

// --max-connections needs clients open at once: `single` never has more than one open, so any
// limit is met by construction and a client beyond it waits in the backlog, as every client
// but one always does there (SerialConformance). These run on the concurrent ones.
class ConcurrentLimits : public Limits {};

// The stderr line a server prints once it listens, which states its limits.
std::string startup_line(const ServerProcess& server) {
    std::string text;
    for (int i = 0; i < 100; ++i) {
        text = server.stderr_text();
        if (const std::size_t end = text.find(")\n"); end != std::string::npos)
            return text.substr(0, end + 1);
        std::this_thread::sleep_for(10ms);
    }
    return text;
}

}  // namespace

TEST_P(Limits, IdleClientIsDisconnectedAfterTheIdleTimeout) {
    ServerProcess server = start({"--idle-timeout", kIdleTimeoutFlag});
    const auto start_time = steady_clock::now();
    Client silent(server.port());
    EXPECT_TRUE(silent.closed_by_server(3s));
    const double waited = seconds_since(start_time);
    EXPECT_GE(waited, kIdleTimeoutSeconds - 0.01);  // not before its time
    EXPECT_LE(waited, latest_close());
}

TEST_P(Limits, TricklingClientIsDisconnectedAfterTheIdleTimeout) {
    // Each byte arrives well within the timeout, but no question is ever complete: the bytes
    // must not extend the deadline.
    ServerProcess server = start({"--idle-timeout", kIdleTimeoutFlag});
    const auto start_time = steady_clock::now();
    Client trickler(server.port());
    EXPECT_TRUE(trickle_until_closed(trickler, 3.0));
    const double waited = seconds_since(start_time);
    EXPECT_GE(waited, kIdleTimeoutSeconds - 0.01);
    EXPECT_LE(waited, latest_close());
}

TEST_P(Limits, ClientAskingInTimeIsNotDisconnected) {
    // A question every 100 ms for a second, more than three timeouts: each answered question
    // restarts the clock.
    ServerProcess server = start({"--idle-timeout", kIdleTimeoutFlag});
    Client client(server.port());
    int answered = 0;
    for (std::size_t i = 0; i < 10; ++i) {
        std::this_thread::sleep_for(100ms);
        client.send(zen::kAphorisms[i % 3].question);
        answered += client.read_answer() == zen::kAphorisms[i % 3].answer;
    }
    EXPECT_EQ(answered, 10);
}

TEST_P(Limits, WithIdleTimeoutEvenSingleServesTheNextClientAfterASlowOne) {
    // A pool gets one worker, so that the slow client takes the whole server, as it takes
    // `single`'s; the other architectures serve the next client at once anyway.
    ServerProcess server =
        start({"--idle-timeout", kIdleTimeoutFlag, "--threads", "1", "--processes", "1"});
    Client slow(server.port());
    ASSERT_TRUE(trickle(slow, 0));
    std::this_thread::sleep_for(50ms);  // accepted before the next one
    const auto start_time = steady_clock::now();
    Client next(server.port());
    next.send(kExplicit);
    std::string answer;
    for (std::size_t i = 1; answer.empty() && seconds_since(start_time) < scaled_seconds(3.0); ++i) {
        trickle(slow, i);  // without the timeout, this would hold `single` for ever
        answer = next.read_answer(100ms);
    }
    EXPECT_EQ(answer, "Implicit.");
    EXPECT_LE(seconds_since(start_time), latest_close());
}

TEST_P(ConcurrentLimits, ClientsBeyondMaxConnectionsAreClosedAtOnce) {
    // The pools of one client per worker get more workers than the limit, so that it is the
    // limit, not a busy pool, that turns the fourth client away; the multi-loop servers
    // (epoll-reuseport, asio-pool) get five loops, which share the one limit.
    ServerProcess server = start({"--max-connections", "3", "--threads", "5", "--processes", "5"});
    std::vector<Client> held;
    for (int i = 0; i < 3; ++i) {
        held.emplace_back(server.port());
        held.back().send(kSimple);
        ASSERT_EQ(held.back().read_answer(), "Complex.") << "client " << i + 1;
    }

    const auto start_time = steady_clock::now();
    Client fourth(server.port());
    fourth.send(kBeautiful);
    EXPECT_TRUE(fourth.closed_by_server(3s));
    EXPECT_LE(seconds_since(start_time), scaled_seconds(1.0));  // at once, not after some timeout
    EXPECT_TRUE(fourth.read_answers(1, 0ms).empty());  // and without an answer

    for (Client& client : held) {  // the three are still served
        client.send(kBeautiful);
        EXPECT_EQ(client.read_answer(), "Ugly.");
    }
    held.front().shutdown_write();  // one leaves: its place is given back
    EXPECT_TRUE(held.front().closed_by_server());
    EXPECT_TRUE(new_client_is_served_within(server.port(), 3s));
    EXPECT_TRUE(server.running());
}

INSTANTIATE_TEST_SUITE_P(EveryArchitecture, Limits, ::testing::ValuesIn(every_architecture()));
INSTANTIATE_TEST_SUITE_P(ConcurrentArchitectures, ConcurrentLimits,
                         ::testing::ValuesIn(architectures_where(
                             [](const Architecture& a) { return a.traits.concurrent; },
                             "concurrent")));

// A thread or a process per client gets a limit unless told otherwise, so that a flood of
// clients cannot exhaust threads or processes; the pools are bounded by their workers, and the
// event loops by descriptors alone. (4096 clients are not opened here: ClientsBeyondMaxConnections
// checks the behaviour with a small limit, and this that the default reaches the server.)
TEST(MaxConnections, ThreadAndProcessPerClientArchitecturesDefaultTo4096) {
    // By family, not by name (Python's and other languages' designs set their own).
    for (const Architecture* architecture : every_architecture()) {
        const Family family = architecture->traits.family;
        if (family == Family::per_client) {
            EXPECT_EQ(architecture->traits.default_max_connections, 4096u) << architecture->name;
        } else if (family != Family::python && family != Family::other_language) {
            EXPECT_EQ(architecture->traits.default_max_connections, 0u) << architecture->name;
        }
    }
}

TEST(MaxConnections, ServerTakesTheArchitecturesDefaultUnlessTold) {
    ServerProcess threaded({"--arch", "threaded"});
    EXPECT_NE(startup_line(threaded).find("(max-connections 4096,"), std::string::npos)
        << startup_line(threaded);
    ServerProcess told({"--arch", "threaded", "--max-connections", "3"});
    EXPECT_NE(startup_line(told).find("(max-connections 3,"), std::string::npos) << startup_line(told);
    ServerProcess unlimited({"--arch", "forked", "--max-connections", "0"});
    EXPECT_NE(startup_line(unlimited).find("(max-connections none,"), std::string::npos)
        << startup_line(unlimited);
    ServerProcess epoll({"--arch", "epoll"});
    EXPECT_NE(startup_line(epoll).find("(max-connections none,"), std::string::npos)
        << startup_line(epoll);
}

// preforked's children count in one limit that they share with their parent. A child killed
// while it serves a client cannot give its place back, so the parent does when it reaps it.
TEST(Preforked, PlaceOfAWorkerKilledWhileServingIsGivenBack) {
    ServerProcess server({"--arch", "preforked", "--processes", "2", "--max-connections", "1"});
    Client served(server.port());
    served.send(kSimple);
    ASSERT_EQ(served.read_answer(), "Complex.");  // it holds the one place
    std::vector<pid_t> workers;
    for (int i = 0; i < 100 && workers.size() != 2; ++i) {
        workers = server.live_children();
        std::this_thread::sleep_for(10ms);
    }
    ASSERT_EQ(workers.size(), 2u);
    for (pid_t worker : workers) kill(worker, SIGKILL);  // the one that serves it among them
    EXPECT_TRUE(served.closed_by_server());
    EXPECT_TRUE(new_client_is_served_within(server.port(), 3s));
}
