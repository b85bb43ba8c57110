// What the protocol module costs per request: framing a question out of the bytes that arrived,
// looking its answer up and appending it (padded or not) to the output. Every architecture pays
// this, so it is the floor under the server's CPU per request.
#include <benchmark/benchmark.h>

#include <string>

#include "protocol/zen.hpp"

using namespace archbench::zen;

namespace {

std::string batch_of(int questions) {
    std::string batch;
    for (int i = 0; i < questions; ++i) batch += kAphorisms[i % kAphorisms.size()].question;
    return batch;
}

// Arguments: questions per read, reply_bytes.
void BM_ParseAndAnswer(benchmark::State& state) {
    const int questions = static_cast<int>(state.range(0));
    Workload workload;
    workload.reply_bytes = static_cast<std::size_t>(state.range(1));
    const std::string input = batch_of(questions);
    Conversation conversation(workload);
    std::string output;
    for (auto _ : state) {
        conversation.on_input(input, output);
        benchmark::DoNotOptimize(output.data());
        output.clear();
    }
    state.SetItemsProcessed(state.iterations() * questions);
    state.SetBytesProcessed(state.iterations() * static_cast<long>(input.size()));
    state.counters["ns_per_request"] = benchmark::Counter(
        static_cast<double>(state.iterations() * questions),
        benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ParseAndAnswer)
    ->ArgNames({"pipeline", "reply_bytes"})
    ->Args({1, 0})
    ->Args({16, 0})
    ->Args({256, 0})
    ->Args({1, 1024})
    ->Args({16, 1024});

// A question that arrives in two reads: the slow path that gathers it in the partial buffer.
void BM_ParseSplitQuestion(benchmark::State& state) {
    Workload workload;
    Conversation conversation(workload);
    std::string output;
    for (auto _ : state) {
        conversation.on_input("Beautiful is bet", output);
        conversation.on_input("ter than?", output);
        benchmark::DoNotOptimize(output.data());
        output.clear();
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseSplitQuestion);

// The client's side: framing answers out of the server's stream.
void BM_ReadAnswers(benchmark::State& state) {
    const int answers = static_cast<int>(state.range(0));
    std::string stream;
    for (int i = 0; i < answers; ++i) stream += kAphorisms[i % kAphorisms.size()].answer;
    AnswerReader reader;
    long seen = 0;
    for (auto _ : state) {
        reader.feed(stream, [&](std::string_view answer) { seen += static_cast<long>(answer.size()); });
    }
    benchmark::DoNotOptimize(seen);
    state.SetItemsProcessed(state.iterations() * answers);
    state.SetBytesProcessed(state.iterations() * static_cast<long>(stream.size()));
}
BENCHMARK(BM_ReadAnswers)->ArgName("pipeline")->Arg(1)->Arg(16);

}  // namespace

BENCHMARK_MAIN();
