// The open loop's schedule and the way connections and -n are shared out over threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "loadgen/engine.hpp"
#include "loadgen/schedule.hpp"

using namespace archbench::load;

TEST(OpenLoopSchedule, RequestGIsDueAtGOverTheRate) {
    const OpenLoopSchedule schedule(4000, 8, 1'000'000, {0, 1, 2, 3, 4, 5, 6, 7}, UINT64_MAX);
    EXPECT_EQ(schedule.due_ns(0), 1'000'000);
    EXPECT_EQ(schedule.due_ns(1), 1'250'000);
    EXPECT_EQ(schedule.due_ns(4000), 1'001'000'000);
    EXPECT_EQ(schedule.due_ns(3, 2), schedule.due_ns(2 * 8 + 3)) << "request k of connection j is k c + j";
}

TEST(OpenLoopSchedule, AThreadSeesItsConnectionsTurnsInTimeOrder) {
    // Connections 1 and 4 of 5: requests 1, 4, 6, 9, 11, 14, ...
    OpenLoopSchedule schedule(1000, 5, 0, {1, 4}, UINT64_MAX);
    const std::uint64_t expected[] = {1, 4, 6, 9, 11, 14};
    const std::size_t connection[] = {0, 1, 0, 1, 0, 1};
    for (int i = 0; i < 6; ++i) {
        EXPECT_EQ(schedule.next_due_ns(), schedule.due_ns(expected[i]));
        EXPECT_EQ(schedule.next_connection(), connection[i]);
        schedule.advance();
    }
}

TEST(OpenLoopSchedule, EndsBeforeTheFirstRequestNotToSend) {
    OpenLoopSchedule schedule(1000, 2, 0, {0}, 5);  // requests 0, 2, 4 are this thread's
    int turns = 0;
    for (; !schedule.over(); schedule.advance()) ++turns;
    EXPECT_EQ(turns, 3);
    EXPECT_EQ(schedule.next_due_ns(), INT64_MAX);
}

TEST(OpenLoopSchedule, FirstDueAtFindsTheFirstRequestAtOrAfterATime) {
    const OpenLoopSchedule schedule(3000, 4, 17, {}, 0);  // a third of a millisecond apart
    for (std::int64_t t : {0LL, 17LL, 18LL, 333'350LL, 1'000'000'017LL, 2'500'000'000LL}) {
        const std::uint64_t first = schedule.first_due_at(t);
        EXPECT_GE(schedule.due_ns(first), t);
        if (first > 0) {
            EXPECT_LT(schedule.due_ns(first - 1), t);
        }
    }
}

TEST(PlanThreads, EveryConnectionGetsAThreadWhenThreadsDoNotDivideConnections) {
    LoadOptions options;
    options.connections = 7;
    options.threads = 3;
    const std::vector<ThreadPlan> plans = plan_threads(options, UINT64_MAX);
    ASSERT_EQ(plans.size(), 3u);
    std::set<unsigned> slots;
    for (const ThreadPlan& plan : plans) {
        EXPECT_GE(plan.slots.size(), 2u);
        EXPECT_LE(plan.slots.size(), 3u);
        slots.insert(plan.slots.begin(), plan.slots.end());
    }
    EXPECT_EQ(slots, (std::set<unsigned>{0, 1, 2, 3, 4, 5, 6}));
}

TEST(PlanThreads, NeverMoreThreadsThanConnections) {
    LoadOptions options;
    options.connections = 2;
    options.threads = 8;
    EXPECT_EQ(plan_threads(options, UINT64_MAX).size(), 2u);
}

TEST(PlanThreads, TheRequestCountIsSharedOutExactly) {
    LoadOptions options;
    options.connections = 5;
    options.threads = 3;
    options.requests = 1001;
    const std::vector<ThreadPlan> plans = plan_threads(options, UINT64_MAX);
    std::uint64_t total = 0;
    for (const ThreadPlan& plan : plans) total += plan.request_budget;
    EXPECT_EQ(total, 1001u);
}

TEST(OpenLoopScheduleSteps, EachStepSpacesItsRequestsAtItsOwnRate) {
    // 1000/s for 10 ms (requests 0..9 at 0, 1, ..., 9 ms), then 4000/s from 10 ms.
    const OpenLoopSchedule schedule(std::vector<RateStep>{{1000, 0.010}, {4000, 1}}, 1, 0, {0}, UINT64_MAX);
    EXPECT_EQ(schedule.due_ns(9), 9'000'000);
    EXPECT_EQ(schedule.due_ns(10), 10'000'000);
    EXPECT_EQ(schedule.due_ns(14), 11'000'000);
    EXPECT_EQ(schedule.first_due_at(10'000'001), 11u);
}

TEST(OpenLoopScheduleSteps, TheLastRateHoldsAfterItsSeconds) {
    const OpenLoopSchedule schedule(std::vector<RateStep>{{1000, 0.002}, {2000, 0.001}}, 1, 0, {0}, UINT64_MAX);
    EXPECT_EQ(schedule.due_ns(2), 2'000'000);
    EXPECT_EQ(schedule.due_ns(2 + 2000), 1'002'000'000);
}

TEST(RateStepsText, ParsesRateColonSecondsPairs) {
    const std::vector<RateStep> steps = parse_rate_steps("20000:3,5000:4.5");
    ASSERT_EQ(steps.size(), 2u);
    EXPECT_EQ(steps[1].rate, 5000);
    EXPECT_EQ(steps[1].seconds, 4.5);
}

TEST(RateStepsText, RejectsAnythingElseNamingTheStep) {
    for (const char* bad : {"", "1000", "1000:", ":3", "0:3", "1000:0", "1000:3,", "x:1", "1000:2s"})
        EXPECT_THROW(parse_rate_steps(bad), std::invalid_argument) << bad;
}
