// "No heap allocation per request on the hot path": counted, not assumed. Every operator new in
// this test binary goes through the counter below.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "protocol/zen.hpp"

namespace {
std::atomic<long> allocations{0};
}

void* operator new(std::size_t size) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace archbench::zen;

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

    const long before = allocations.load();
    for (int i = 0; i < 10000; ++i) {
        conversation.on_input(batch, output);
        conversation.on_input(rest, output);
        output.clear();
    }
    EXPECT_EQ(allocations.load() - before, 0);
}

TEST(ZenHotPath, PaddedAnswersDoNotAllocateOnceBuffersAreWarm) {
    Workload workload;
    workload.reply_bytes = 4096;
    Conversation conversation(workload);
    std::string output;
    conversation.on_input("Simple is better than?Simple is better than?", output);
    output.clear();

    const long before = allocations.load();
    for (int i = 0; i < 1000; ++i) {
        conversation.on_input("Simple is better than?Simple is better than?", output);
        output.clear();
    }
    EXPECT_EQ(allocations.load() - before, 0);
}

TEST(ZenHotPath, ReadingAnswersDoesNotAllocateOnceBuffersAreWarm) {
    AnswerReader reader;
    int answers = 0;
    auto count = [&](std::string_view) { ++answers; };
    reader.feed("Ugly.Impl", count);
    reader.feed("icit.", count);

    const long before = allocations.load();
    for (int i = 0; i < 10000; ++i) {
        reader.feed("Ugly.Impl", count);
        reader.feed("icit.", count);
    }
    EXPECT_EQ(allocations.load() - before, 0);
    EXPECT_EQ(answers, 2 * 10001);
}
