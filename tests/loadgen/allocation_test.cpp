// "No allocation per request": counted, not assumed. Every operator new in this test binary
// goes through tests/support/allocation_counter.hpp.
#include <gtest/gtest.h>

#include "tests/support/allocation_counter.hpp"

#include "loadgen/connection.hpp"
#include "loadgen/histogram.hpp"
#include "loadgen/stats.hpp"

using namespace archbench::load;

// The positive control: in this same harness, the allocations of a cold start are counted (a
// fresh connection's first answers, split across reads, grow the reader's buffer), so that the
// zeros below are the per-request path's, not a counter that sees nothing.
TEST(AllocationCounter, CountsTheAllocationsOfAConnectionsColdStart) {
    const long before = archbench::testing::allocations.load();
    const ExpectedAnswers expected(0);
    Connection connection(0, 3, expected);
    int right = 0;
    for (int i = 0; i < 3; ++i) connection.ask(0, 0);
    connection.discard_unsent();
    connection.take_answers("Ugly.Implicit.Comp", [&](const Request&, bool ok) { right += ok; });
    connection.take_answers("lex.", [&](const Request&, bool ok) { right += ok; });
    EXPECT_EQ(right, 3);
    EXPECT_GE(archbench::testing::allocations.load() - before, 1);
}

TEST(PerRequestPath, AskingCheckingAndRecordingDoNotAllocate) {
    const ExpectedAnswers expected(0);
    Connection connection(0, 3, expected);
    Recorder recorder(0, INT64_MAX);
    const std::string answers = "Ugly.Implicit.Comp";  // the last answer comes in two pieces
    const std::string rest = "lex.";
    auto one_round = [&](std::int64_t now) {
        for (int i = 0; i < 3; ++i) connection.ask(now, now);
        connection.discard_unsent();
        connection.take_answers(answers, [&](const Request& request, bool right) {
            if (right) recorder.answered(request.origin_ns, request.sent_ns, now + 30'000);
        });
        connection.take_answers(rest, [&](const Request& request, bool right) {
            if (right) recorder.answered(request.origin_ns, request.sent_ns, now + 30'000);
        });
    };
    one_round(0);  // warm: the answer reader's buffer for split answers reaches its size

    const long before = archbench::testing::allocations.load();
    for (std::int64_t i = 1; i <= 10'000; ++i) one_round(i * 1'000);  // within the first second
    EXPECT_EQ(archbench::testing::allocations.load() - before, 0);
    EXPECT_EQ(recorder.measurements().ok, 30'003u);
}

TEST(PerRequestPath, RecordingIntoAHistogramDoesNotAllocate) {
    LatencyHistogram histogram;
    const long before = archbench::testing::allocations.load();
    for (std::uint64_t value = 1; value < 100'000'000'000; value = value * 3 + 1) histogram.record(value);
    EXPECT_EQ(archbench::testing::allocations.load() - before, 0);
}
