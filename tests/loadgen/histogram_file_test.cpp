// The histogram file (loadgen/histogram_file.hpp): what is written is read back exactly, and the
// merge of several files is exactly the histogram of all their values together.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "loadgen/histogram_file.hpp"

using namespace archbench::load;

namespace {

// A file in /tmp for the test's lifetime.
class TempFile {
public:
    TempFile() {
        char path[] = "/tmp/archbench-histogram-test-XXXXXX";
        const int fd = mkstemp(path);
        if (fd < 0) throw std::runtime_error("mkstemp failed");
        close(fd);
        path_ = path;
    }
    ~TempFile() { unlink(path_.c_str()); }
    const std::string& path() const { return path_; }
    void write(const LatencyHistogram& latency, const LatencyHistogram* service) const {
        std::FILE* out = std::fopen(path_.c_str(), "w");
        write_histogram_file(out, latency, service);
        std::fclose(out);
    }
    void write_text(const std::string& text) const { std::ofstream(path_) << text; }

private:
    std::string path_;
};

void expect_identical(const LatencyHistogram& a, const LatencyHistogram& b) {
    ASSERT_EQ(a.count(), b.count());
    EXPECT_EQ(a.sum(), b.sum());
    EXPECT_EQ(a.min(), b.min());
    EXPECT_EQ(a.max(), b.max());
    EXPECT_DOUBLE_EQ(a.mean(), b.mean());
    for (std::size_t i = 0; i < a.counter_count(); ++i) ASSERT_EQ(a.count_at(i), b.count_at(i)) << "counter " << i;
    for (double p = 0; p <= 100; p += 0.1) ASSERT_EQ(a.value_at_percentile(p), b.value_at_percentile(p)) << p;
    for (double p : {99.9, 99.99, 99.999, 100.0}) EXPECT_EQ(a.value_at_percentile(p), b.value_at_percentile(p)) << p;
}

// Two different sets of latencies: a narrow one of fast answers, and a wide, skewed one with a
// slow tail (one value beyond the top counter), as two load hosts might see.
std::vector<std::uint64_t> fast_values() {
    std::vector<std::uint64_t> values;
    std::mt19937_64 random(17);
    std::normal_distribution<double> around(40'000, 5'000);
    for (int i = 0; i < 30'000; ++i) values.push_back(static_cast<std::uint64_t>(std::max(1'000.0, around(random))));
    return values;
}
std::vector<std::uint64_t> slow_values() {
    std::vector<std::uint64_t> values;
    std::mt19937_64 random(4711);
    std::lognormal_distribution<double> skewed(12.0, 1.5);
    for (int i = 0; i < 7'001; ++i) values.push_back(static_cast<std::uint64_t>(skewed(random)));
    values.push_back(LatencyHistogram::kHighestTrackable + 12'345);
    values.push_back(0);
    return values;
}

LatencyHistogram histogram_of(const std::vector<std::uint64_t>& values) {
    LatencyHistogram histogram;
    for (std::uint64_t value : values) histogram.record(value);
    return histogram;
}

}  // namespace

TEST(HistogramFile, WhatIsWrittenIsReadBackExactly) {
    const LatencyHistogram latency = histogram_of(slow_values());
    const LatencyHistogram service = histogram_of(fast_values());
    TempFile file;
    file.write(latency, &service);
    const HistogramSet read = read_histogram_file(file.path());
    expect_identical(read.latency, latency);
    ASSERT_TRUE(read.service.has_value());
    expect_identical(*read.service, service);
}

TEST(HistogramFile, AClosedLoopFileHasNoServiceHistogram) {
    TempFile file;
    file.write(histogram_of(fast_values()), nullptr);
    EXPECT_FALSE(read_histogram_file(file.path()).service.has_value());
}

TEST(HistogramFile, AnEmptyHistogramRoundTrips) {
    TempFile file;
    file.write(LatencyHistogram(), nullptr);
    const HistogramSet read = read_histogram_file(file.path());
    EXPECT_EQ(read.latency.count(), 0u);
    EXPECT_EQ(read.latency.value_at_percentile(99), 0u);
}

TEST(HistogramFile, MergedPercentilesEqualThoseOfOneHistogramFedEveryValue) {
    const std::vector<std::uint64_t> fast = fast_values(), slow = slow_values();
    std::vector<std::uint64_t> every = fast;
    every.insert(every.end(), slow.begin(), slow.end());
    const LatencyHistogram all = histogram_of(every);

    TempFile fast_file, slow_file;
    fast_file.write(histogram_of(fast), nullptr);
    slow_file.write(histogram_of(slow), nullptr);
    const HistogramSet merged = merge_histogram_files({fast_file.path(), slow_file.path()});
    expect_identical(merged.latency, all);
    // Not a property of any average: p99 of the merge lies far from both files' own p99s' mean.
    EXPECT_NE(merged.latency.value_at_percentile(99),
              (histogram_of(fast).value_at_percentile(99) + histogram_of(slow).value_at_percentile(99)) / 2);
}

TEST(HistogramFile, ServiceHistogramsMergeExactlyToo) {
    const std::vector<std::uint64_t> fast = fast_values(), slow = slow_values();
    std::vector<std::uint64_t> every = slow;
    every.insert(every.end(), fast.begin(), fast.end());
    TempFile one, two;
    const LatencyHistogram fast_histogram = histogram_of(fast), slow_histogram = histogram_of(slow);
    one.write(slow_histogram, &fast_histogram);
    two.write(fast_histogram, &slow_histogram);
    const HistogramSet merged = merge_histogram_files({one.path(), two.path()});
    expect_identical(merged.latency, histogram_of(every));
    ASSERT_TRUE(merged.service.has_value());
    expect_identical(*merged.service, histogram_of(every));
}

TEST(HistogramFile, AnOpenLoopFileAndAClosedLoopFileDoNotMerge) {
    TempFile open_loop, closed_loop;
    const LatencyHistogram histogram = histogram_of(fast_values());
    open_loop.write(histogram, &histogram);
    closed_loop.write(histogram, nullptr);
    EXPECT_THROW(merge_histogram_files({open_loop.path(), closed_loop.path()}), std::invalid_argument);
}

TEST(HistogramFile, DamagedFilesAreRefusedWithTheLine) {
    const std::string head = "archbench-histogram 1\nlayout sub_bucket_bits 11 highest_bit 42\n";
    const std::vector<std::pair<std::string, std::string>> damaged = {
        {"", "not a histogram file"},
        {"archbench-histogram 2\n", "version 2"},
        {"archbench-histogram 1\nlayout sub_bucket_bits 8 highest_bit 42\n", "another histogram layout"},
        {head, "no latency histogram"},
        {head + "histogram latency count 2 sum 40000 min 20000 max 20000\n20000 2\n", "no 'end'"},
        {head + "histogram latency count 3 sum 40000 min 20000 max 20000\n20000 2\nend\n", "count 3"},
        {head + "histogram latency count 2 sum 40000 min 20000 max 20000\n20001 2\nend\n", "20001 is not the lowest"},
        {head + "histogram latency count 2 sum 40000 min 20000 max 20000\n20000 two\nend\n", "'two' is not a whole"},
        {head + "histogram latency count 2 sum 0 min 0 max 20000\n20992 1\n20000 1\nend\n", "out of order"},
        {head + "histogram latency count 1 sum 5 min 5 max 5\n20000 1\nend\n", "min and max do not fit"},
        {head + "histogram latency count 0 sum 0 min 0 max 0\nend\nhistogram latency count 0 sum 0 min 0 max 0\nend\n",
         "unexpected histogram 'latency'"},
    };
    for (const auto& [text, problem] : damaged) {
        SCOPED_TRACE(text);
        TempFile file;
        file.write_text(text);
        try {
            read_histogram_file(file.path());
            ADD_FAILURE() << "accepted";
        } catch (const std::invalid_argument& error) {
            EXPECT_NE(std::string(error.what()).find(problem), std::string::npos) << error.what();
            EXPECT_NE(std::string(error.what()).find(file.path()), std::string::npos) << error.what();
        }
    }
}
