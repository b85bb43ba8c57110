// The histogram file (--histogram FILE): a run's latency histogram, and in the open loop its
// service-time histogram, written out whole, so that the histograms of several load generators
// (several hosts, several runs) merge exactly: `archbench-load --merge-histograms F1,F2,...`
// reads them back into LatencyHistogram and adds them up, counter by counter. A merged
// percentile is then exactly the one a single histogram fed every value would give, which
// averaging the hosts' percentiles is not.
//
// The format: text, one record per line, fields separated by single spaces, values in
// nanoseconds. An example (a closed loop: no service histogram):
//
//     archbench-histogram 1
//     layout sub_bucket_bits 11 highest_bit 42
//     histogram latency count 3 sum 62500 min 20000 max 21500
//     20000 1
//     20992 1
//     21488 1
//     end
//
// (three latencies, 20, 21 and 21.5 us: 21,000 ns fell in the counter of 20,992 to 21,007 ns.)
//
//   - `archbench-histogram 1`: what the file is, and the version of this format.
//   - `layout ...`: LatencyHistogram's layout (histogram.hpp): 2^11 sub-buckets, values up to
//     2^42 ns. A file of another layout is refused, not misread.
//   - `histogram NAME count N sum S min A max B`: a histogram begins; NAME is `latency` or
//     `service`; N values whose exact sum is S ns, the least A, the greatest B (min, max and
//     the mean stay exact through the merge; with N 0, all are 0).
//   - `VALUE COUNT`, one line per counter that is not empty, in ascending order: COUNT values
//     fell in the counter whose lowest value is VALUE ns (it holds VALUE up to the next line's
//     possible VALUE; histogram.hpp says how wide each is). Their COUNTs add up to N.
//   - `end`: the histogram is complete (a file cut short is refused).
// Lines that begin with '#' are comments. HdrHistogram's own interval-log encoding would do the
// same job; it is compressed binary in base64, and no Debian package reads or writes it for C++.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "loadgen/histogram.hpp"

namespace archbench::load {

// Writes `latency`, and `service` when given, in the format above.
void write_histogram_file(std::FILE* out, const LatencyHistogram& latency, const LatencyHistogram* service);

// What one file, or the merge of several, holds.
struct HistogramSet {
    LatencyHistogram latency;
    std::optional<LatencyHistogram> service;  // only when every file merged had one
};

// Reads a file written by write_histogram_file(). Throws std::invalid_argument naming the file,
// the line and the problem.
HistogramSet read_histogram_file(const std::string& path);

// Reads every file and adds them up exactly. Files must agree on whether they hold a service
// histogram (an open-loop run's file and a closed loop's do not merge); throws
// std::invalid_argument otherwise, or for a file read_histogram_file() refuses.
HistogramSet merge_histogram_files(const std::vector<std::string>& paths);

}  // namespace archbench::load
