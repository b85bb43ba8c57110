// What a run tells: a summary for people (stdout), everything for programs (--json), and the
// latency distribution in HdrHistogram's text format (--hgrm).
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>

#include "loadgen/histogram.hpp"
#include "loadgen/run.hpp"

namespace archbench::load {

void print_summary(std::FILE* out, const RunResult& result);

// The keys DESIGN.md fixes (config, duration_s, requests_ok, throughput_rps, errors, latency_us,
// service_us, timeline, loadgen) and more: see README.
nlohmann::ordered_json to_json(const RunResult& result);

// HdrHistogram's outputPercentileDistribution(): the header, one line per percentile step
// (Value, Percentile, TotalCount, 1/(1-Percentile)), five steps per halving of the distance to
// 100%, and the #[Mean/Max/Buckets] footer. Values are written in milliseconds, as wrk2 and
// HdrHistogram's plotter expect, with six decimals so that nanoseconds survive.
void write_percentile_distribution(std::FILE* out, const LatencyHistogram& histogram);

}  // namespace archbench::load
