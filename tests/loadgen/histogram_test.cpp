// LatencyHistogram against the truth: exact sorted values.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "loadgen/histogram.hpp"

using archbench::load::LatencyHistogram;

namespace {

// The nearest-rank percentile of sorted values, with the rank worked out in integers: p given
// in hundredths of a percent (9999 = 99.99%).
std::uint64_t exact_percentile(const std::vector<std::uint64_t>& sorted, std::uint64_t hundredths) {
    const std::uint64_t n = sorted.size();
    const std::uint64_t rank = std::max<std::uint64_t>(1, (hundredths * n + 9999) / 10000);
    return sorted[rank - 1];
}

// Latencies as a server gives them: mostly tens of microseconds, a long tail up to seconds.
std::vector<std::uint64_t> latencies_ns(std::size_t count, unsigned seed) {
    std::mt19937_64 random(seed);
    std::lognormal_distribution<double> body(std::log(40'000.0), 0.6);
    std::uniform_real_distribution<double> tail_exponent(3, 10.8);  // 1 us .. 60 s
    std::vector<std::uint64_t> values;
    for (std::size_t i = 0; i < count; ++i)
        values.push_back(i % 50 == 0 ? static_cast<std::uint64_t>(std::pow(10.0, tail_exponent(random)))
                                     : static_cast<std::uint64_t>(body(random)));
    return values;
}

double relative_error(std::uint64_t reported, std::uint64_t exact) {
    return std::abs(static_cast<double>(reported) - static_cast<double>(exact)) / static_cast<double>(exact);
}

}  // namespace

TEST(LatencyHistogram, PercentilesAreWithinATenthOfAPercentOfTheExactSortedValues) {
    std::vector<std::uint64_t> values = latencies_ns(200'000, 1);
    LatencyHistogram histogram;
    for (std::uint64_t value : values) histogram.record(value);
    std::sort(values.begin(), values.end());

    for (std::uint64_t hundredths : {1, 1000, 2500, 5000, 7500, 9000, 9500, 9900, 9950, 9990, 9999}) {
        const std::uint64_t exact = exact_percentile(values, hundredths);
        const std::uint64_t reported = histogram.value_at_percentile(static_cast<double>(hundredths) / 100);
        EXPECT_LE(relative_error(reported, exact), 0.001) << "p" << hundredths / 100.0 << ": " << reported
                                                          << " vs exact " << exact;
        EXPECT_GE(reported, exact) << "a percentile is never reported below the truth";
    }
    EXPECT_EQ(histogram.min(), values.front());
    EXPECT_EQ(histogram.max(), values.back());
    EXPECT_EQ(histogram.value_at_percentile(100), values.back());
    EXPECT_EQ(histogram.count(), values.size());
}

TEST(LatencyHistogram, EveryValueFromOneMicrosecondToSixtySecondsKeepsThreeSignificantDigits) {
    for (double value = 1'000; value <= 60e9; value *= 1.0137) {
        LatencyHistogram histogram;
        const auto exact = static_cast<std::uint64_t>(value);
        histogram.record(exact);
        histogram.record(exact + 1'000'000'000'000);  // so that max does not clamp the answer
        const std::uint64_t counter = LatencyHistogram::index_of(exact);
        EXPECT_LE(relative_error(LatencyHistogram::highest_value_at(counter), exact), 1.0 / 1024) << exact;
        EXPECT_LE(LatencyHistogram::lowest_value_at(counter), exact);
        EXPECT_GE(LatencyHistogram::highest_value_at(counter), exact);
        EXPECT_LE(relative_error(histogram.value_at_percentile(50), exact), 0.001) << exact;
    }
}

TEST(LatencyHistogram, ValuesBelow2048NanosecondsAreExact) {
    LatencyHistogram histogram;
    for (std::uint64_t value = 0; value < 2048; ++value) histogram.record(value);
    for (std::uint64_t value = 1; value < 2048; ++value)
        EXPECT_EQ(histogram.value_at_percentile(100.0 * static_cast<double>(value + 1) / 2048), value);
}

TEST(LatencyHistogram, MergingTwoHistogramsEqualsRecordingEverythingInOne) {
    const std::vector<std::uint64_t> first = latencies_ns(50'000, 2);
    const std::vector<std::uint64_t> second = latencies_ns(70'000, 3);
    LatencyHistogram a, b, together;
    for (std::uint64_t value : first) a.record(value), together.record(value);
    for (std::uint64_t value : second) b.record(value), together.record(value);
    a.merge(b);

    EXPECT_EQ(a.count(), together.count());
    EXPECT_EQ(a.min(), together.min());
    EXPECT_EQ(a.max(), together.max());
    EXPECT_DOUBLE_EQ(a.mean(), together.mean());
    for (std::size_t i = 0; i < a.counter_count(); ++i) ASSERT_EQ(a.count_at(i), together.count_at(i)) << i;
    for (double p : {50.0, 90.0, 99.0, 99.9, 99.99})
        EXPECT_EQ(a.value_at_percentile(p), together.value_at_percentile(p)) << p;
}

TEST(LatencyHistogram, NonzeroBucketsRebuildTheSamePercentiles) {
    LatencyHistogram histogram;
    for (std::uint64_t value : latencies_ns(20'000, 4)) histogram.record(value);
    const std::vector<LatencyHistogram::Bucket> buckets = histogram.nonzero_buckets();
    EXPECT_LT(buckets.size(), 20'000u);
    LatencyHistogram rebuilt;
    rebuilt.add_buckets(buckets);
    EXPECT_EQ(rebuilt.count(), histogram.count());
    for (double p : {50.0, 99.0}) {
        const std::size_t counter = LatencyHistogram::index_of(histogram.value_at_percentile(p));
        EXPECT_EQ(LatencyHistogram::index_of(rebuilt.value_at_percentile(p)), counter) << p;
    }
}

TEST(LatencyHistogram, ValuesBeyondTheRangeAreCountedAndMaxStaysExact) {
    LatencyHistogram histogram;
    const std::uint64_t two_hours_ns = 7'200'000'000'000;
    histogram.record(two_hours_ns);
    histogram.record(1'000);
    EXPECT_EQ(histogram.count(), 2u);
    EXPECT_EQ(histogram.max(), two_hours_ns);
    EXPECT_EQ(histogram.value_at_percentile(50), 1'000u);
}

TEST(LatencyHistogram, ResetEmptiesIt) {
    LatencyHistogram histogram;
    for (std::uint64_t value : latencies_ns(1'000, 5)) histogram.record(value);
    histogram.reset();
    EXPECT_EQ(histogram.count(), 0u);
    EXPECT_EQ(histogram.value_at_percentile(99), 0u);
    EXPECT_TRUE(histogram.nonzero_buckets().empty());
    for (std::size_t i = 0; i < histogram.counter_count(); ++i) ASSERT_EQ(histogram.count_at(i), 0u);
    histogram.record(5'000);
    EXPECT_EQ(histogram.min(), 5'000u);
    EXPECT_EQ(histogram.max(), 5'000u);
}

TEST(LatencyHistogram, AnEmptyHistogramReportsZeros) {
    const LatencyHistogram histogram;
    EXPECT_EQ(histogram.count(), 0u);
    EXPECT_EQ(histogram.min(), 0u);
    EXPECT_EQ(histogram.max(), 0u);
    EXPECT_EQ(histogram.mean(), 0.0);
    EXPECT_EQ(histogram.value_at_percentile(50), 0u);
}
