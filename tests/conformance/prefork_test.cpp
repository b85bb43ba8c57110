// What the event loops that run in several processes on one inherited listening socket
// (epoll-prefork: family event_loops, process_based) promise beyond the common contract: a new
// connection wakes one of them, not all (EPOLLEXCLUSIVE); the connections spread over the
// children; and a child that dies is replaced, its places under --max-connections given back.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "protocol/zen.hpp"
#include "tests/support/architecture_test.hpp"
#include "tests/support/architectures.hpp"
#include "tests/support/client.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/time_scale.hpp"

using namespace archbench;
using namespace archbench::testing;

namespace {

std::vector<const Architecture*> process_event_loops() {
    return architectures_where(
        [](const Architecture& a) {
            return a.traits.family == Family::event_loops && a.traits.process_based;
        },
        "several event loops in processes of their own");
}

// How often a process went to sleep and was woken (voluntary context switches).
long wake_ups(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("voluntary_ctxt_switches:", 0) == 0) return std::stol(line.substr(24));
    return 0;
}

long wake_ups_of(const std::vector<pid_t>& pids) {
    long total = 0;
    for (pid_t pid : pids) total += wake_ups(pid);
    return total;
}

std::vector<pid_t> wait_for_children(const ServerProcess& server, std::size_t count) {
    std::vector<pid_t> children;
    for (int i = 0; i < 200 && children.size() != count; ++i) {
        children = server.live_children();
        std::this_thread::sleep_for(10ms);
    }
    return children;
}

void ask_once(std::uint16_t port) {
    Client client(port);
    client.send(zen::kAphorisms[0].question);
    ASSERT_EQ(client.read_answer(), zen::kAphorisms[0].answer);
}

// The numbers of the "worker_connections N0 N1 ..." line in `text`.
std::vector<std::uint64_t> worker_connections(const std::string& text) {
    const std::size_t start = text.find("worker_connections ");
    if (start == std::string::npos) return {};
    std::istringstream line(text.substr(start + 19, text.find('\n', start) - start - 19));
    std::vector<std::uint64_t> counts;
    for (std::uint64_t count; line >> count;) counts.push_back(count);
    return counts;
}

class ProcessEventLoops : public ArchitectureTest {};

}  // namespace

TEST(ProcessEventLoopSelection, FindsEpollPrefork) {
    ASSERT_FALSE(process_event_loops().empty()) << "no architecture is a process-based event loop";
}

TEST_P(ProcessEventLoops, ANewConnectionWakesOneChildNotEvery) {
    constexpr int kChildren = 16;
    constexpr int kConnections = 40;
    ServerProcess server = start({"--processes", std::to_string(kChildren)});
    ask_once(server.port());
    const std::vector<pid_t> children = wait_for_children(server, kChildren);
    ASSERT_EQ(children.size(), static_cast<std::size_t>(kChildren));
    std::this_thread::sleep_for(100ms);  // every child asleep in epoll_wait()
    const long before = wake_ups_of(children);
    for (int i = 0; i < kConnections; ++i) ask_once(server.port());
    std::this_thread::sleep_for(100ms);
    // Serving a connection wakes its child at most three times (the connection, the question,
    // the EOF). Without EPOLLEXCLUSIVE every child's epoll_wait() is woken by each connection
    // (measured here: 13 to 17 wake-ups per connection with 16 children without it).
    const double per_connection =
        static_cast<double>(wake_ups_of(children) - before) / kConnections;
    EXPECT_LE(per_connection, 3.5) << "the children woke " << per_connection
                                   << " times per connection";
}

TEST_P(ProcessEventLoops, ClientArrivingWhileOneChildIsBusyIsServedByAnother) {
    // Each request sleeps 400 ms. The second client's answer comes 400 ms after its question
    // when another child serves it, 700 ms when it waits behind the first client's request.
    ServerProcess server = start({"--processes", "2", "--sleep-us", "400000"});
    ASSERT_EQ(wait_for_children(server, 2).size(), 2u);
    Client first(server.port());
    first.send(zen::kAphorisms[0].question);
    std::this_thread::sleep_for(100ms);  // its child accepted it and sleeps
    Client second(server.port());
    const auto asked = std::chrono::steady_clock::now();
    second.send(zen::kAphorisms[1].question);
    EXPECT_EQ(second.read_answer(), zen::kAphorisms[1].answer);
    EXPECT_LT(std::chrono::steady_clock::now() - asked, scaled(600ms));
    EXPECT_EQ(first.read_answer(), zen::kAphorisms[0].answer);
    ASSERT_EQ(server.stop(SIGTERM, scaled(2000ms)), std::optional<int>(0)) << server.stderr_text();
    EXPECT_EQ(worker_connections(server.stderr_text()), (std::vector<std::uint64_t>{1, 1}))
        << server.stderr_text();
}

TEST_P(ProcessEventLoops, ChildThatDiesIsReplacedAndItsPlacesGivenBack) {
    ServerProcess server = start({"--processes", "1", "--max-connections", "1"});
    Client holder(server.port());  // takes the only place
    holder.send(zen::kAphorisms[0].question);
    ASSERT_EQ(holder.read_answer(), zen::kAphorisms[0].answer);
    const std::vector<pid_t> children = wait_for_children(server, 1);
    ASSERT_EQ(children.size(), 1u);
    kill(children[0], SIGKILL);
    EXPECT_TRUE(holder.closed_by_server());
    std::vector<pid_t> now;
    for (int i = 0; i < 200 && (now.size() != 1 || now[0] == children[0]); ++i) {
        std::this_thread::sleep_for(10ms);
        now = server.live_children();
    }
    ASSERT_EQ(now.size(), 1u);
    EXPECT_NE(now[0], children[0]);
    EXPECT_EQ(server.zombie_children(), 0);
    ask_once(server.port());  // the dead child's place is free again
    EXPECT_NE(server.stderr_text().find("died; starting another"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(ProcessEventLoopArchitectures, ProcessEventLoops,
                         ::testing::ValuesIn(process_event_loops()));
