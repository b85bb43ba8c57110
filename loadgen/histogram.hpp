// LatencyHistogram: every latency of a run, kept to 3 significant digits in a fixed array of
// counters, so that recording costs a few nanoseconds and no allocation, and two histograms
// merge exactly (counters add up).
//
// Why our own: HdrHistogram is the standard for this, but Debian 12 packages no C or C++ build
// of it, and the project takes its dependencies from Debian. What we need of it fits on a page:
// the same log-linear layout, the same percentile rule, and its text output (report.cpp).
//
// Layout (HdrHistogram's, with 2048 sub-buckets): values are nanoseconds.
//   - 0 .. 2047 ns each have a counter of their own (exact);
//   - above that, each power of two [2^k, 2^(k+1)) is cut into 1024 equal counters, each
//     2^(k-10) ns wide.
// A counter's width is therefore at most 1/1024 of the values it holds: a value read back as the
// highest value of its counter is never below the truth and at most 0.098% above it. The top
// counter ends at 2^42 ns (73 minutes); longer values are counted there, and max stays exact.
// 33,792 counters of 8 bytes: 270 kB per histogram.
#pragma once

#include <bit>
#include <cstdint>
#include <span>
#include <vector>

namespace archbench::load {

class LatencyHistogram {
public:
    static constexpr int kSubBucketBits = 11;  // 2048 sub-buckets: 3 significant digits
    static constexpr std::uint64_t kSubBucketCount = 1u << kSubBucketBits;
    static constexpr std::uint64_t kSubBucketHalf = kSubBucketCount / 2;
    static constexpr int kHighestBit = 42;  // values up to 2^42 - 1 ns, about 73 minutes
    static constexpr std::uint64_t kHighestTrackable = (std::uint64_t{1} << kHighestBit) - 1;
    static constexpr std::size_t kCounterCount =
        (kHighestBit - kSubBucketBits + 2) * kSubBucketHalf;  // 2048 + 31 halves of 1024

    // A counter that is not empty, for keeping a histogram small (one second of the timeline).
    struct Bucket {
        std::uint32_t index;
        std::uint64_t count;
    };

    LatencyHistogram();

    void record(std::uint64_t value_ns) {
        const std::uint64_t tracked = value_ns < kHighestTrackable ? value_ns : kHighestTrackable;
        ++counts_[index_of(tracked)];
        ++total_;
        sum_ += value_ns;
        if (value_ns < min_) min_ = value_ns;
        if (value_ns > max_) max_ = value_ns;
    }

    // Adds every value of `other`: the result is exactly the histogram of both runs together.
    void merge(const LatencyHistogram& other);
    // Adds counters kept by nonzero_buckets(); min, max and mean then come from counters.
    void add_buckets(std::span<const Bucket> buckets);
    // Adds counters with the exact sum, min and max of the values they hold (a histogram written
    // out by histogram_file.hpp): the result is exactly as if those values had been recorded.
    void add_exact(std::span<const Bucket> buckets, std::uint64_t sum, std::uint64_t min, std::uint64_t max);
    std::vector<Bucket> nonzero_buckets() const;
    void reset();

    std::uint64_t count() const { return total_; }
    std::uint64_t min() const { return total_ ? min_ : 0; }
    std::uint64_t max() const { return max_; }
    std::uint64_t sum() const { return sum_; }  // of every value recorded, exact
    double mean() const { return total_ ? static_cast<double>(sum_) / static_cast<double>(total_) : 0; }
    double stddev() const;  // from the counters' middle values

    // The value below which `percentile` percent of the values lie: the nearest-rank value
    // (rank = ceil(p/100 x count), at least 1), read as the highest value of its counter and
    // kept within [min, max]. 0 for an empty histogram.
    std::uint64_t value_at_percentile(double percentile) const;

    // Counters in value order, for the percentile distribution (report.cpp).
    std::size_t counter_count() const { return counts_.size(); }
    std::uint64_t count_at(std::size_t index) const { return counts_[index]; }
    static std::uint64_t lowest_value_at(std::size_t index);
    static std::uint64_t highest_value_at(std::size_t index);
    // The value a percentile that ends in counter `index` is reported as: see above.
    std::uint64_t reported_value_at(std::size_t index) const;

    static std::size_t index_of(std::uint64_t value) {
        // Values below 2048 have shift 0 and are their own index; each doubling above that
        // shifts one more bit away and moves up by one half of the sub-buckets.
        const int bits = std::bit_width(value);
        const int shift = bits > kSubBucketBits ? bits - kSubBucketBits : 0;
        return static_cast<std::size_t>(shift) * kSubBucketHalf + (value >> shift);
    }

private:
    std::vector<std::uint64_t> counts_;
    std::uint64_t total_ = 0;
    std::uint64_t sum_ = 0;
    std::uint64_t min_ = UINT64_MAX;
    std::uint64_t max_ = 0;
};

}  // namespace archbench::load
