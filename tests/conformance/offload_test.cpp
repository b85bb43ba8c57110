// What the architectures that offload the work from their I/O (family `offloaded`: epoll-offload,
// seda) promise beyond the common contract: a blocking request ties up one worker, not the
// threads that do the I/O, so it stalls no other client, and the workers wait on their blocking
// calls together. And seda's own promise: at exit, the peak length of each of its queues.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
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
using std::chrono::steady_clock;

namespace {

std::vector<const Architecture*> offloaded() {
    return architectures_where(
        [](const Architecture& a) { return a.traits.family == Family::offloaded; },
        "an event loop with offloaded work or stages");
}

class Offloaded : public ArchitectureTest {};

// The threads of process `pid`, from /proc/PID/status.
int thread_count(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
    return -1;
}

}  // namespace

TEST_P(Offloaded, BlockingRequestDoesNotStallOtherClients) {
    // The first client's eight pipelined questions block for 4 s in all. The second client's one
    // question blocks for 0.5 s: it is answered after about that, not after the first's 4 s, as
    // a one-thread event loop would (event_loop_test.cpp: BlockingRequestStallsEveryClient).
    ServerProcess server = start({"--sleep-us", "500000", "--threads", "4"});
    Client first(server.port());
    Client second(server.port());
    std::string eight;
    for (int i = 0; i < 8; ++i) eight += zen::kAphorisms[0].question;
    first.send(eight);
    std::this_thread::sleep_for(50ms);
    const auto sent = steady_clock::now();
    second.send(zen::kAphorisms[1].question);
    EXPECT_EQ(second.read_answer(10s), zen::kAphorisms[1].answer);
    EXPECT_LT(steady_clock::now() - sent, 2500ms);  // not scaled: the stall it rules out is 4 s
    EXPECT_EQ(first.read_answers(8, 10s).size(), 8u);
}

TEST_P(Offloaded, BlockingRequestsOfManyClientsWaitTogether) {
    // Eight clients ask at once, each with a 0.4 s back-end call, and there are eight workers:
    // the calls overlap, and all are answered in well under the 3.2 s they would take in turn.
    ServerProcess server = start({"--sleep-us", "400000", "--threads", "8"});
    std::vector<Client> clients;
    for (int i = 0; i < 8; ++i) clients.emplace_back(server.port());
    const auto sent = steady_clock::now();
    for (Client& client : clients) client.send(zen::kAphorisms[2].question);
    for (Client& client : clients) EXPECT_EQ(client.read_answer(10s), zen::kAphorisms[2].answer);
    EXPECT_LT(steady_clock::now() - sent, 2000ms);  // not scaled: in turn, it would be 3.2 s
}

TEST_P(Offloaded, WorkPoolIsSizedForBlockingCallsNotForTheCores) {
    // Without --threads, 32 workers (Traits::default_threads), whatever the cores; with it, that many.
    ServerProcess server = start();
    int threads = 0;
    for (int i = 0; i < 200 && threads < 33; ++i, std::this_thread::sleep_for(10ms))
        threads = thread_count(server.pid());
    EXPECT_GE(threads, 33);  // the workers and the loop, at least
    ServerProcess few = start({"--threads", "2"});
    std::this_thread::sleep_for(200ms);
    EXPECT_LT(thread_count(few.pid()), 12);
}

INSTANTIATE_TEST_SUITE_P(OffloadedArchitectures, Offloaded, ::testing::ValuesIn(offloaded()));

TEST(Seda, ReportsThePeakLengthOfEachQueueAtExit) {
    // One worker and three clients that ask at once: two of them wait in the work queue, so
    // its peak is 2 or more (one alone, taken at once by the idle worker, would make it 1).
    ServerProcess server({"--arch", "seda", "--threads", "1", "--sleep-us", "200000"});
    std::vector<Client> clients;
    for (int i = 0; i < 3; ++i) clients.emplace_back(server.port());
    for (Client& client : clients) client.send(zen::kAphorisms[0].question);
    for (Client& client : clients) EXPECT_EQ(client.read_answer(10s), zen::kAphorisms[0].answer);
    ASSERT_EQ(server.stop(SIGTERM, scaled(2s)), std::optional<int>(0)) << server.stderr_text();
    const std::string text = server.stderr_text();
    const std::size_t line = text.find("queue_peaks read=");
    ASSERT_NE(line, std::string::npos) << text;
    const std::size_t work = text.find(" work=", line), write = text.find(" write=", line);
    ASSERT_NE(work, std::string::npos) << text;
    ASSERT_NE(write, std::string::npos) << text;
    EXPECT_GE(std::atoi(text.c_str() + work + 6), 2) << text;
    EXPECT_GE(std::atoi(text.c_str() + line + 17), 1) << text;  // every client passed through
    EXPECT_GE(std::atoi(text.c_str() + write + 7), 1) << text;
}
