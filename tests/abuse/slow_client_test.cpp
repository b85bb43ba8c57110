// A slowloris: one client trickles a byte every 100 ms of a question that never ends. A
// concurrent server keeps answering everyone else at once; `single` honestly cannot.
#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "tests/abuse/abuse.hpp"

using namespace archbench;
using namespace archbench::testing;

namespace {

// Connects, then sends one byte of a question every `period` on a thread of its own, until
// destroyed, the server closes, or 100 bytes (far below --max-request: the question never ends).
class Trickler {
public:
    explicit Trickler(std::uint16_t port, milliseconds period = milliseconds(100))
        : client_(std::in_place, port), thread_([this, period] {
              for (int i = 0; i < 100 && !done_; ++i) {
                  if (client_->send_until_refused("x", period) != 1) return;
                  ++sent_;
                  std::this_thread::sleep_for(period);
              }
          }) {}
    ~Trickler() { leave(); }

    int bytes_sent() const { return sent_; }
    void leave() {  // stops trickling and closes the connection
        done_ = true;
        if (thread_.joinable()) thread_.join();
        client_.reset();
    }

private:
    std::optional<Client> client_;
    std::atomic<bool> done_{false};
    std::atomic<int> sent_{0};
    std::thread thread_;
};

class SlowClientConcurrent : public Abuse {};
class SlowClientSerial : public Abuse {};

}  // namespace

TEST_P(SlowClientConcurrent, OthersAreAnsweredWithin250msWhileOneTricklesAQuestion) {
    // Five clients come one after another while the trickler trickles (for 10 s). Each must be
    // answered (a server stuck on the trickler answers none within 2 s), and typically at once:
    // the median of the five within 250 ms. The median, not the slowest: one client held up by a
    // stall of the machine (ctest -j2 can run a flood of 2,000 connections beside this test, and
    // py-forking-mixin forks an interpreter per client; one of five took 475 ms so in CI) is not
    // the trickler's doing.
    ServerProcess server = start({}, 2);  // a pool: a worker for the trickler, one for the rest
    Trickler trickler(server.port());
    std::this_thread::sleep_for(milliseconds(150));
    std::vector<double> took;
    for (int probe = 0; probe < 5; ++probe) {
        const auto asked = steady_clock::now();
        Client other(server.port());
        other.send(kSimple);
        EXPECT_EQ(other.read_answer(milliseconds(2000)), "Complex.") << "probe " << probe;
        took.push_back(seconds_since(asked));
        std::this_thread::sleep_for(milliseconds(100));
    }
    std::sort(took.begin(), took.end());
    EXPECT_LT(took[2], scaled_seconds(0.250))
        << "the five clients took " << took[0] * 1000 << " to " << took[4] * 1000
        << " ms, the median " << took[2] * 1000 << " ms";
    EXPECT_GE(trickler.bytes_sent(), 6) << "the trickler was not trickling all along";
    EXPECT_TRUE(server.running());
}

TEST_P(SlowClientSerial, OtherClientWaitsUntilTheTricklerLeaves) {
    // One client at a time: the server is stuck in the trickler's question, which is the lesson.
    ServerProcess server = start();
    Trickler trickler(server.port());
    std::this_thread::sleep_for(milliseconds(150));
    Client waiting(server.port());
    waiting.send(kSimple);
    EXPECT_TRUE(waiting.silent_for(milliseconds(500)));
    EXPECT_GE(trickler.bytes_sent(), 5);
    trickler.leave();
    EXPECT_EQ(waiting.read_answer(milliseconds(2000)), "Complex.");
}

INSTANTIATE_TEST_SUITE_P(Abuse, SlowClientConcurrent,
                         ::testing::ValuesIn(architectures_where(
                             [](const Architecture& a) { return a.traits.concurrent; },
                             "concurrent")));
INSTANTIATE_TEST_SUITE_P(Abuse, SlowClientSerial,
                         ::testing::ValuesIn(architectures_where(
                             [](const Architecture& a) { return !a.traits.concurrent; },
                             "serial (one client at a time)")));
