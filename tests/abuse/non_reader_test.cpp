// A client that sends questions worth 1 GB of answers (--reply-bytes 1000000) and never reads
// one. A server may block in send() for that client alone (a thread or a process per client) or
// stop reading from it (an event loop), but must not buffer its answers without bound, and a
// concurrent server must go on answering others promptly.
#include <thread>

#include "tests/abuse/abuse.hpp"

using namespace archbench;
using namespace archbench::testing;

namespace {

constexpr std::size_t kReply = 1000000;
constexpr int kQuestions = 1000;  // 1 GB of answers
constexpr long kMemoryBoundKib = 100 * 1024;

class NonReader : public Abuse {};

}  // namespace

TEST_P(NonReader, ClientThatNeverReadsCostsBoundedMemoryAndStallsNoOneElse) {
    ServerProcess server = start({"--reply-bytes", std::to_string(kReply)}, 2);
    const long memory_at_start = server.resident_kib();
    Client hog(server.port(), kReply, 4096);
    std::string questions;
    for (int i = 0; i < kQuestions; ++i) questions += kSimple;
    EXPECT_EQ(send_without_reading(hog.fd(), questions, milliseconds(2000)), questions.size());

    long peak = 0;
    const auto sample = [&] { peak = std::max(peak, server.resident_kib()); };
    for (int i = 0; i < 5; ++i, std::this_thread::sleep_for(milliseconds(100))) sample();

    Client other(server.port(), kReply);
    const auto asked = steady_clock::now();
    other.send(kBeautiful);
    if (architecture().traits.concurrent) {
        EXPECT_EQ(other.read_answer(milliseconds(2000)), zen::padded("Ugly.", kReply));
        EXPECT_LT(seconds_since(asked), scaled_seconds(0.5))
            << "another client waited for the one that never reads";
    } else {
        EXPECT_TRUE(other.silent_for(milliseconds(300)));  // single: busy with the hog, honestly
    }
    for (int i = 0; i < 5; ++i, std::this_thread::sleep_for(milliseconds(100))) sample();
    EXPECT_LT(peak, kMemoryBoundKib) << "resident memory rose from " << memory_at_start
                                     << " KiB to " << peak << " KiB";
    EXPECT_TRUE(server.running()) << server.stderr_text();
}

INSTANTIATE_TEST_SUITE_P(Abuse, NonReader, ::testing::ValuesIn(every_architecture()));
