#include "loadgen/histogram.hpp"

#include <algorithm>
#include <cmath>

namespace archbench::load {

LatencyHistogram::LatencyHistogram() : counts_(kCounterCount, 0) {}

void LatencyHistogram::merge(const LatencyHistogram& other) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    sum_ += other.sum_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
}

void LatencyHistogram::add_buckets(std::span<const Bucket> buckets) {
    for (const Bucket& bucket : buckets) {
        counts_[bucket.index] += bucket.count;
        total_ += bucket.count;
        const std::uint64_t low = lowest_value_at(bucket.index);
        const std::uint64_t high = highest_value_at(bucket.index);
        sum_ += bucket.count * (low + (high - low) / 2);
        min_ = std::min(min_, low);
        max_ = std::max(max_, high);
    }
}

void LatencyHistogram::add_exact(std::span<const Bucket> buckets, std::uint64_t sum, std::uint64_t min,
                                 std::uint64_t max) {
    std::uint64_t added = 0;
    for (const Bucket& bucket : buckets) {
        counts_[bucket.index] += bucket.count;
        added += bucket.count;
    }
    if (added == 0) return;
    total_ += added;
    sum_ += sum;
    min_ = std::min(min_, min);
    max_ = std::max(max_, max);
}

std::vector<LatencyHistogram::Bucket> LatencyHistogram::nonzero_buckets() const {
    std::vector<Bucket> buckets;
    if (total_ == 0) return buckets;
    for (std::size_t i = index_of(min_); i <= index_of(std::min(max_, kHighestTrackable)); ++i)
        if (counts_[i] != 0) buckets.push_back({static_cast<std::uint32_t>(i), counts_[i]});
    return buckets;
}

void LatencyHistogram::reset() {
    if (total_ != 0)  // only the counters between min and max can be set
        std::fill(counts_.begin() + static_cast<long>(index_of(min_)),
                  counts_.begin() + static_cast<long>(index_of(std::min(max_, kHighestTrackable))) + 1,
                  0);
    total_ = sum_ = max_ = 0;
    min_ = UINT64_MAX;
}

std::uint64_t LatencyHistogram::lowest_value_at(std::size_t index) {
    if (index < kSubBucketCount) return index;
    const std::size_t shift = index / kSubBucketHalf - 1;
    const std::uint64_t sub_bucket = index - shift * kSubBucketHalf;  // 1024 .. 2047
    return sub_bucket << shift;
}

std::uint64_t LatencyHistogram::highest_value_at(std::size_t index) {
    if (index < kSubBucketCount) return index;
    const std::size_t shift = index / kSubBucketHalf - 1;
    return lowest_value_at(index) + (std::uint64_t{1} << shift) - 1;
}

std::uint64_t LatencyHistogram::reported_value_at(std::size_t index) const {
    return std::clamp(highest_value_at(index), min(), std::max(min(), max_));
}

double LatencyHistogram::stddev() const {
    if (total_ == 0) return 0;
    const double mean_value = mean();
    double squares = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
        if (counts_[i] == 0) continue;
        const double middle =
            (static_cast<double>(lowest_value_at(i)) + static_cast<double>(highest_value_at(i))) / 2;
        squares += static_cast<double>(counts_[i]) * (middle - mean_value) * (middle - mean_value);
    }
    return std::sqrt(squares / static_cast<double>(total_));
}

std::uint64_t LatencyHistogram::value_at_percentile(double percentile) const {
    if (total_ == 0) return 0;
    // Nearest rank. The tiny relative slack keeps 99.99% of 10,000 at rank 9,999 although
    // 99.99 / 100 x 10,000 comes out a hair above 9,999 in binary floating point.
    const double exact = std::clamp(percentile, 0.0, 100.0) / 100.0 * static_cast<double>(total_);
    const std::uint64_t rank =
        std::clamp<std::uint64_t>(static_cast<std::uint64_t>(std::ceil(exact * (1 - 1e-12))), 1, total_);
    std::uint64_t seen = 0;
    for (std::size_t i = index_of(min_); i < counts_.size(); ++i) {
        seen += counts_[i];
        if (seen >= rank) return reported_value_at(i);
    }
    return max_;
}

}  // namespace archbench::load
