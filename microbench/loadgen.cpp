// What the load generator costs per request, apart from the system calls: recording a latency
// (goal: under 10 ns), and the whole per-request path of a connection (ask a question, frame
// and check its answer, record latency, service time and the timeline) with no socket under it.
// Whatever this costs is taken from what the load generator can measure, so it must stay small
// beside the 2 to 10 us that a send(), a recv() and a share of an epoll_wait() cost.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "loadgen/connection.hpp"
#include "loadgen/histogram.hpp"
#include "loadgen/stats.hpp"

using namespace archbench::load;

namespace {

// Latencies as a server gives them: tens of microseconds, with a tail.
std::vector<std::uint64_t> sample_latencies() {
    std::mt19937_64 random(42);
    std::lognormal_distribution<double> latency(std::log(30'000.0), 0.8);
    std::vector<std::uint64_t> values(4096);
    for (std::uint64_t& value : values) value = static_cast<std::uint64_t>(latency(random));
    return values;
}

void BM_HistogramRecord(benchmark::State& state) {
    const std::vector<std::uint64_t> values = sample_latencies();
    LatencyHistogram histogram;
    std::size_t i = 0;
    for (auto _ : state) {
        histogram.record(values[i++ & 4095]);
    }
    benchmark::DoNotOptimize(histogram.count());
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HistogramRecord);

void BM_HistogramPercentile(benchmark::State& state) {
    LatencyHistogram histogram;
    for (std::uint64_t value : sample_latencies()) histogram.record(value);
    for (auto _ : state) benchmark::DoNotOptimize(histogram.value_at_percentile(99.9));
}
BENCHMARK(BM_HistogramPercentile);

void BM_HistogramMerge(benchmark::State& state) {
    LatencyHistogram a, b;
    for (std::uint64_t value : sample_latencies()) b.record(value);
    for (auto _ : state) a.merge(b);
    benchmark::DoNotOptimize(a.count());
}
BENCHMARK(BM_HistogramMerge);

// One connection's per-request work, `pipeline` requests per round: the questions are queued,
// the answers arrive in one read and are framed, matched and checked, and each latency is
// recorded (latency, service time, the current second of the timeline).
void BM_RequestPath(benchmark::State& state) {
    const auto pipeline = static_cast<unsigned>(state.range(0));
    const ExpectedAnswers expected(static_cast<std::size_t>(state.range(1)));
    Connection connection(0, pipeline, expected);
    Recorder recorder(0, INT64_MAX);
    std::string answers;
    for (unsigned i = 0; i < pipeline; ++i) answers += expected[i % 3];
    std::int64_t now = 0;
    for (auto _ : state) {
        now += 1'000;  // a microsecond per round: the benchmark never leaves the timeline's first second
        for (unsigned i = 0; i < pipeline; ++i) connection.ask(now, now);
        connection.discard_unsent();
        connection.take_answers(answers, [&](const Request& request, bool right) {
            if (right) recorder.answered(request.origin_ns, request.sent_ns, now + 25'000);
        });
        if (now > 900'000'000) now = 0;  // stays in the first second (no allocation there)
    }
    benchmark::DoNotOptimize(recorder.measurements().ok);
    state.SetItemsProcessed(state.iterations() * pipeline);
    state.counters["ns_per_request"] = benchmark::Counter(
        static_cast<double>(state.iterations() * pipeline), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_RequestPath)
    ->ArgNames({"pipeline", "reply_bytes"})
    ->Args({1, 0})
    ->Args({16, 0})
    ->Args({1, 1024});

}  // namespace

BENCHMARK_MAIN();
