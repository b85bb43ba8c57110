// What the event-loop architectures (one thread, non-blocking sockets) promise beyond the common
// contract: a client that does not read costs bounded memory, and a blocking request stalls
// every client, which is the lesson they teach. Each check runs on every architecture whose
// traits promise it (one_io_thread, blocking_stalls_every_client): a new event loop declares
// them in its Architecture and is checked from then on.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "protocol/zen.hpp"
#include "tests/support/architecture_test.hpp"
#include "tests/support/client.hpp"
#include "tests/support/server_process.hpp"

using namespace archbench;
using namespace archbench::testing;

namespace {

// The server's resident memory, from /proc/PID/status.
long resident_kib(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

class OneIoThread : public ArchitectureTest {};
class BlockingStall : public ArchitectureTest {};

}  // namespace

TEST_P(OneIoThread, OutputWaitingForAClientThatDoesNotReadStaysBounded) {
    // 4000 questions padded to 100 kB are 400 MB of answers: the loop must stop reading from
    // this client while its answers wait, not answer them all into memory.
    ServerProcess server = start({"--reply-bytes", "100000"});
    Client hog(server.port(), 100000, 4096);
    std::string questions;
    for (int i = 0; i < 4000; ++i) questions += zen::kAphorisms[0].question;
    hog.send(questions);
    std::this_thread::sleep_for(500ms);
    EXPECT_LT(resident_kib(server.pid()), 64 * 1024);
    EXPECT_TRUE(server.running());
}

TEST_P(BlockingStall, BlockingRequestStallsEveryClient) {
    // --sleep-us blocks the loop's only thread: the second client waits for the first one's
    // request, then for its own (a thread per client would answer it after 300 ms).
    ServerProcess server = start({"--sleep-us", "300000"});
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

INSTANTIATE_TEST_SUITE_P(EventLoopArchitectures, OneIoThread,
                         ::testing::ValuesIn(architectures_where(
                             [](const Architecture& a) { return a.traits.one_io_thread; },
                             "serving every client's I/O on one thread (one_io_thread)")));
INSTANTIATE_TEST_SUITE_P(EventLoopArchitectures, BlockingStall,
                         ::testing::ValuesIn(architectures_where(
                             [](const Architecture& a) { return a.traits.blocking_stalls_every_client; },
                             "stalled whole by a blocking request (blocking_stalls_every_client)")));
