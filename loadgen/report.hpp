// What a run tells: a summary for people (stdout), everything for programs (--json), and the
// latency distribution in HdrHistogram's text format (--hgrm).
#pragma once

#include <cstdio>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "loadgen/histogram.hpp"
#include "loadgen/histogram_file.hpp"
#include "loadgen/run.hpp"

namespace archbench::load {

void print_summary(std::FILE* out, const RunResult& result);

// The keys DESIGN.md fixes (config, duration_s, requests_ok, throughput_rps, errors, latency_us,
// service_us, timeline, loadgen) and more: see docs/load-generator.md.
nlohmann::ordered_json to_json(const RunResult& result);

// --merge-histograms: {"files", "count", "latency_us": {min, mean, p50, ..., max, stddev, count},
// "service_us": the same, when the files had it}; and a summary of it for people.
nlohmann::ordered_json merged_histograms_json(const HistogramSet& merged, const std::vector<std::string>& files);
void print_merged_summary(std::FILE* out, const HistogramSet& merged, const std::vector<std::string>& files);

// HdrHistogram's outputPercentileDistribution(): the header, one line per percentile step
// (Value, Percentile, TotalCount, 1/(1-Percentile)), five steps per halving of the distance to
// 100%, and the #[Mean/Max/Buckets] footer. Values are written in milliseconds, as wrk2 and
// HdrHistogram's plotter expect, with six decimals so that nanoseconds survive.
void write_percentile_distribution(std::FILE* out, const LatencyHistogram& histogram);

}  // namespace archbench::load
