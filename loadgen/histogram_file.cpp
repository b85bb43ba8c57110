#include "loadgen/histogram_file.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace archbench::load {

namespace {

constexpr const char* kMagic = "archbench-histogram";
constexpr int kVersion = 1;

void write_one(std::FILE* out, const char* name, const LatencyHistogram& histogram) {
    std::fprintf(out, "histogram %s count %llu sum %llu min %llu max %llu\n", name,
                 static_cast<unsigned long long>(histogram.count()), static_cast<unsigned long long>(histogram.sum()),
                 static_cast<unsigned long long>(histogram.min()), static_cast<unsigned long long>(histogram.max()));
    for (const LatencyHistogram::Bucket& bucket : histogram.nonzero_buckets())
        std::fprintf(out, "%llu %llu\n", static_cast<unsigned long long>(LatencyHistogram::lowest_value_at(bucket.index)),
                     static_cast<unsigned long long>(bucket.count));
    std::fprintf(out, "end\n");
}

// Reads the file line by line and says where a problem is.
class Reader {
public:
    explicit Reader(const std::string& path) : path_(path), in_(path) {
        if (!in_) throw std::invalid_argument("--merge-histograms: cannot read '" + path + "'");
    }

    // The next line that is not a comment, as words; false at the end of the file.
    bool next(std::vector<std::string>& words) {
        std::string line;
        while (std::getline(in_, line)) {
            ++line_number_;
            if (line.empty() || line[0] == '#') continue;
            words.clear();
            std::istringstream fields(line);
            for (std::string word; fields >> word;) words.push_back(word);
            return true;
        }
        return false;
    }
    [[noreturn]] void fail(const std::string& problem) const {
        throw std::invalid_argument("--merge-histograms: '" + path_ + "' line " + std::to_string(line_number_) +
                                    ": " + problem);
    }
    [[noreturn]] void fail_at_end(const std::string& problem) const {
        throw std::invalid_argument("--merge-histograms: '" + path_ + "': " + problem);
    }
    std::uint64_t number(const std::string& word) const {
        if (word.empty() || word.find_first_not_of("0123456789") != std::string::npos || word.size() > 19)
            fail("'" + word + "' is not a whole number");
        return std::stoull(word);
    }

private:
    std::string path_;
    std::ifstream in_;
    std::size_t line_number_ = 0;
};

// After its `histogram` line: the counters up to `end`, added exactly.
void read_one(Reader& reader, const std::vector<std::string>& head, LatencyHistogram& histogram) {
    if (head.size() != 10 || head[2] != "count" || head[4] != "sum" || head[6] != "min" || head[8] != "max")
        reader.fail("expected 'histogram NAME count N sum S min A max B'");
    const std::uint64_t count = reader.number(head[3]), sum = reader.number(head[5]);
    const std::uint64_t min = reader.number(head[7]), max = reader.number(head[9]);
    std::vector<LatencyHistogram::Bucket> buckets;
    std::uint64_t counted = 0;
    std::vector<std::string> words;
    for (;;) {
        if (!reader.next(words)) reader.fail_at_end("histogram " + head[1] + " has no 'end' (the file is cut short)");
        if (words.size() == 1 && words[0] == "end") break;
        if (words.size() != 2) reader.fail("expected 'VALUE COUNT' or 'end'");
        const std::uint64_t value = reader.number(words[0]), in_counter = reader.number(words[1]);
        const std::size_t index = LatencyHistogram::index_of(value);
        if (value > LatencyHistogram::kHighestTrackable || LatencyHistogram::lowest_value_at(index) != value)
            reader.fail(std::to_string(value) + " is not the lowest value of a counter of this layout");
        if (!buckets.empty() && index <= buckets.back().index) reader.fail("counters out of order");
        buckets.push_back({static_cast<std::uint32_t>(index), in_counter});
        counted += in_counter;
    }
    if (counted != count)
        reader.fail_at_end("histogram " + head[1] + " says count " + std::to_string(count) + " but its counters hold " +
                           std::to_string(counted));
    const auto counter_of = [](std::uint64_t value) {
        return LatencyHistogram::index_of(std::min(value, LatencyHistogram::kHighestTrackable));
    };
    if (count > 0 && (min > max || counter_of(min) != buckets.front().index || counter_of(max) != buckets.back().index))
        reader.fail_at_end("histogram " + head[1] + ": min and max do not fit its counters");
    histogram.add_exact(buckets, sum, min, max);
}

}  // namespace

void write_histogram_file(std::FILE* out, const LatencyHistogram& latency, const LatencyHistogram* service) {
    std::fprintf(out, "%s %d\nlayout sub_bucket_bits %d highest_bit %d\n", kMagic, kVersion,
                 LatencyHistogram::kSubBucketBits, LatencyHistogram::kHighestBit);
    write_one(out, "latency", latency);
    if (service != nullptr) write_one(out, "service", *service);
}

HistogramSet read_histogram_file(const std::string& path) {
    Reader reader(path);
    std::vector<std::string> words;
    if (!reader.next(words) || words.size() != 2 || words[0] != kMagic)
        reader.fail("not a histogram file of archbench-load (it begins with 'archbench-histogram 1')");
    if (words[1] != std::to_string(kVersion)) reader.fail("version " + words[1] + ", not " + std::to_string(kVersion));
    const std::vector<std::string> layout = {"layout", "sub_bucket_bits", std::to_string(LatencyHistogram::kSubBucketBits),
                                             "highest_bit", std::to_string(LatencyHistogram::kHighestBit)};
    if (!reader.next(words) || words != layout) reader.fail("another histogram layout than this archbench-load's");
    HistogramSet set;
    bool has_latency = false;
    while (reader.next(words)) {
        if (words.size() < 2 || words[0] != "histogram") reader.fail("expected 'histogram NAME ...'");
        if (words[1] == "latency" && !has_latency) {
            read_one(reader, words, set.latency);
            has_latency = true;
        } else if (words[1] == "service" && !set.service) {
            read_one(reader, words, set.service.emplace());
        } else {
            reader.fail("unexpected histogram '" + words[1] + "' (latency, then service, once each)");
        }
    }
    if (!has_latency) reader.fail_at_end("no latency histogram");
    return set;
}

HistogramSet merge_histogram_files(const std::vector<std::string>& paths) {
    HistogramSet merged;
    for (std::size_t i = 0; i < paths.size(); ++i) {
        const HistogramSet one = read_histogram_file(paths[i]);
        if (i > 0 && one.service.has_value() != merged.service.has_value())
            throw std::invalid_argument("--merge-histograms: '" + paths[i] + "' " +
                                        (one.service ? "has a" : "has no") + " service-time histogram, but '" +
                                        paths[0] + "' " + (merged.service ? "has one" : "has none") +
                                        " (an open loop's file and a closed loop's do not merge)");
        merged.latency.merge(one.latency);
        if (one.service) {
            if (!merged.service) merged.service.emplace();
            merged.service->merge(*one.service);
        }
    }
    return merged;
}

}  // namespace archbench::load
