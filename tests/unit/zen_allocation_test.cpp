// "No heap allocation per request on the hot path": counted, not assumed. Every operator new in
// this test binary goes through tests/support/allocation_counter.hpp.
#include <gtest/gtest.h>

#include "tests/support/allocation_counter.hpp"

#include <string>

#include "protocol/zen.hpp"

using namespace archbench::zen;

// The positive control: in this same harness, the allocations of a cold start (a fresh
// conversation's output buffer growing to a 4 kB answer) are counted, so that the zeros below
// are the hot path's, not a counter that sees nothing.
TEST(AllocationCounter, CountsTheAllocationsOfAConversationsColdStart) {
    Workload workload;
    workload.reply_bytes = 4096;
    const long before = archbench::testing::allocations.load();
    Conversation conversation(workload);
    std::string output;
    conversation.on_input("Simple is better than?", output);
    EXPECT_EQ(output.size(), 4096u);
    EXPECT_GE(archbench::testing::allocations.load() - before, 1);
}

TEST(ZenHotPath, AnsweringDoesNotAllocateOnceBuffersAreWarm) {
    Workload workload;
    Conversation conversation(workload);
    std::string output;
    const std::string batch = "Simple is better than?Beautiful is bet";
    const std::string rest = "ter than?Explicit is better than?";
    // Warm-up: the output buffer and the partial-question buffer reach their working size.
    conversation.on_input(batch, output);
    conversation.on_input(rest, output);
    output.clear();

    const long before = archbench::testing::allocations.load();
    for (int i = 0; i < 10000; ++i) {
        conversation.on_input(batch, output);
        conversation.on_input(rest, output);
        output.clear();
    }
    EXPECT_EQ(archbench::testing::allocations.load() - before, 0);
}

TEST(ZenHotPath, PaddedAnswersDoNotAllocateOnceBuffersAreWarm) {
    Workload workload;
    workload.reply_bytes = 4096;
    Conversation conversation(workload);
    std::string output;
    conversation.on_input("Simple is better than?Simple is better than?", output);
    output.clear();

    const long before = archbench::testing::allocations.load();
    for (int i = 0; i < 1000; ++i) {
        conversation.on_input("Simple is better than?Simple is better than?", output);
        output.clear();
    }
    EXPECT_EQ(archbench::testing::allocations.load() - before, 0);
}

TEST(ZenHotPath, ReadingAnswersDoesNotAllocateOnceBuffersAreWarm) {
    AnswerReader reader;
    int answers = 0;
    auto count = [&](std::string_view) { ++answers; };
    reader.feed("Ugly.Impl", count);
    reader.feed("icit.", count);

    const long before = archbench::testing::allocations.load();
    for (int i = 0; i < 10000; ++i) {
        reader.feed("Ugly.Impl", count);
        reader.feed("icit.", count);
    }
    EXPECT_EQ(archbench::testing::allocations.load() - before, 0);
    EXPECT_EQ(answers, 2 * 10001);
}
