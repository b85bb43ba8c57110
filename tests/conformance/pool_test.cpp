// What the pooled architectures (a fixed number of workers, started up front) promise beyond the
// common contract: at exit, one stderr line that tells how many connections each worker
// accepted (every architecture with the reports_worker_connections trait); and for preforked,
// that a worker which dies is replaced.
#include <gtest/gtest.h>

#include <csignal>
#include <numeric>
#include <sstream>
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

// The numbers of the "worker_connections N0 N1 ..." line in `text`; empty when there is none.
std::vector<std::uint64_t> worker_connections(const std::string& text) {
    const std::size_t start = text.find("worker_connections ");
    if (start == std::string::npos) return {};
    std::istringstream line(text.substr(start, text.find('\n', start) - start));
    std::string label;
    line >> label;
    std::vector<std::uint64_t> counts;
    for (std::uint64_t count; line >> count;) counts.push_back(count);
    return counts;
}

void ask_once(std::uint16_t port) {
    Client client(port);
    client.send(zen::kAphorisms[0].question);
    ASSERT_EQ(client.read_answer(), zen::kAphorisms[0].answer);
}

class Pool : public ArchitectureTest {
protected:
    ServerProcess start(unsigned workers) {
        const std::string count = std::to_string(workers);
        return ServerProcess({"--arch", std::string(GetParam()->name), "--threads", count,
                              "--processes", count});
    }
};

}  // namespace

TEST_P(Pool, ReportsTheConnectionsOfEachWorkerAtExit) {
    ServerProcess server = start(3);
    for (int i = 0; i < 12; ++i) ask_once(server.port());
    ASSERT_EQ(server.stop(SIGTERM, 2s), std::optional<int>(0)) << server.stderr_text();
    const std::vector<std::uint64_t> counts = worker_connections(server.stderr_text());
    ASSERT_EQ(counts.size(), 3u) << server.stderr_text();
    EXPECT_EQ(std::accumulate(counts.begin(), counts.end(), std::uint64_t{0}), 12u);
}

INSTANTIATE_TEST_SUITE_P(PooledArchitectures, Pool,
                         ::testing::ValuesIn(architectures_where(
                             [](const Architecture& a) { return a.traits.reports_worker_connections; },
                             "a pool that reports its workers' connections (reports_worker_connections)")));

TEST(Preforked, WorkerThatDiesIsReapedAndReplaced) {
    ServerProcess server({"--arch", "preforked", "--processes", "2"});
    ask_once(server.port());  // the listening line comes before the workers: wait for one
    std::vector<pid_t> workers;
    for (int i = 0; i < 100 && workers.size() != 2; ++i) {
        workers = server.live_children();
        std::this_thread::sleep_for(10ms);
    }
    ASSERT_EQ(workers.size(), 2u);
    const pid_t killed = workers[0];
    kill(killed, SIGKILL);
    for (int i = 0; i < 100; ++i) {
        std::this_thread::sleep_for(20ms);
        workers = server.live_children();
        if (workers.size() == 2 && workers[0] != killed && workers[1] != killed) break;
    }
    EXPECT_EQ(workers.size(), 2u);
    EXPECT_NE(workers[0], killed);
    EXPECT_NE(workers[1], killed);
    EXPECT_EQ(server.zombie_children(), 0);
    // Both workers serve: two clients at once, each with a worker of its own.
    Client first(server.port());
    Client second(server.port());
    first.send(zen::kAphorisms[0].question);
    second.send(zen::kAphorisms[1].question);
    EXPECT_EQ(second.read_answer(), zen::kAphorisms[1].answer);
    EXPECT_EQ(first.read_answer(), zen::kAphorisms[0].answer);
    EXPECT_NE(server.stderr_text().find("died; starting another"), std::string::npos);
}
