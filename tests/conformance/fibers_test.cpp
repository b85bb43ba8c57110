// What the user-level-thread architectures (family user_threads: fibers) promise beyond the
// common contract: thread-per-client code whose clients share a few kernel threads, and the
// price of it: a request that blocks its kernel thread stalls every fiber on that thread, so
// with --threads 1 every client (the lesson of Capriccio).
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "protocol/zen.hpp"
#include "tests/support/architecture_test.hpp"
#include "tests/support/architectures.hpp"
#include "tests/support/client.hpp"
#include "tests/support/server_process.hpp"

using namespace archbench;
using namespace archbench::testing;

namespace {

std::vector<const Architecture*> user_threads() {
    return architectures_where(
        [](const Architecture& a) { return a.traits.family == Family::user_threads; },
        "user-level threads");
}

// The kernel threads of a process, from /proc/PID/status.
int kernel_threads(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
    return -1;
}

class UserThreads : public ArchitectureTest {};

}  // namespace

TEST(UserThreadSelection, FindsFibers) {
    ASSERT_FALSE(user_threads().empty()) << "no architecture of the user_threads family";
}

TEST_P(UserThreads, ThreeHundredClientsAtOnceShareTwoKernelThreads) {
    ServerProcess server = start({"--threads", "2"});
    std::vector<Client> clients;
    for (int i = 0; i < 300; ++i) clients.emplace_back(server.port());
    for (Client& client : clients) client.send(zen::kAphorisms[2].question);
    for (Client& client : clients) ASSERT_EQ(client.read_answer(), zen::kAphorisms[2].answer);
    // Two schedulers, main() and its signal watcher, the lingering thread: none per client.
    EXPECT_LE(kernel_threads(server.pid()), 6);  // (and what a sanitizer adds)
}

TEST_P(UserThreads, WithOneKernelThreadABlockingRequestStallsEveryClient) {
    // --sleep-us blocks the kernel thread under the fiber that asked, and every fiber on it: the
    // second client waits for the first one's request, then for its own.
    ServerProcess server = start({"--threads", "1", "--sleep-us", "300000"});
    Client first(server.port());
    Client second(server.port());
    first.send(zen::kAphorisms[0].question);
    std::this_thread::sleep_for(50ms);
    const auto sent = std::chrono::steady_clock::now();
    second.send(zen::kAphorisms[1].question);
    EXPECT_EQ(second.read_answer(), zen::kAphorisms[1].answer);
    EXPECT_GE(std::chrono::steady_clock::now() - sent, 500ms);
    EXPECT_EQ(first.read_answer(), zen::kAphorisms[0].answer);
}

TEST_P(UserThreads, OnTwoKernelThreadsABlockingRequestStallsOnlyTheFibersOfItsThread) {
    // Clients are dealt out round robin: the first and the second land on different threads.
    ServerProcess server = start({"--threads", "2", "--sleep-us", "300000"});
    Client first(server.port());
    Client second(server.port());
    first.send(zen::kAphorisms[0].question);
    std::this_thread::sleep_for(50ms);
    const auto sent = std::chrono::steady_clock::now();
    second.send(zen::kAphorisms[1].question);
    EXPECT_EQ(second.read_answer(), zen::kAphorisms[1].answer);
    EXPECT_LT(std::chrono::steady_clock::now() - sent, 500ms);
    EXPECT_EQ(first.read_answer(), zen::kAphorisms[0].answer);
}

INSTANTIATE_TEST_SUITE_P(UserThreadArchitectures, UserThreads, ::testing::ValuesIn(user_threads()));
