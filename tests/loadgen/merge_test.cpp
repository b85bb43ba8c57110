// --histogram FILE and --merge-histograms, end to end: the files two real runs of archbench-load
// wrote are merged by the binary into one count and one set of percentiles, with no load.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/support/fake_server.hpp"
#include "tests/support/load_process.hpp"

using namespace archbench::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// Files of the test, removed at its end.
struct Paths {
    std::vector<std::string> paths;
    std::string add(const char* suffix) { return paths.emplace_back(temp_path(suffix)); }
    ~Paths() {
        for (const std::string& path : paths) unlink(path.c_str());
    }
};

void expect_usage_error(const std::vector<std::string>& args, const std::string& mentions) {
    const CommandResult result = run_command(load_binary(), args);
    EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
    EXPECT_EQ(result.err_lines(), 1u) << result.err;
    EXPECT_NE(result.err.find(mentions), std::string::npos) << result.err;
}

}  // namespace

TEST(MergeHistograms, TwoRunsMergeIntoTheirSumWithoutAnyLoad) {
    Paths files;
    const std::string fast = files.add(".hist");
    const std::string slow = files.add(".hist");
    FakeServer quick({.delay = 1ms}), slower({.delay = 8ms});
    const LoadRun one = run_load(at_port(quick.port(), {"-c", "2", "-d", "0.5", "--histogram", fast}));
    const LoadRun two = run_load(at_port(slower.port(), {"-c", "2", "-d", "0.5", "--histogram", slow}));
    ASSERT_EQ(one.command.exit_code, 0) << one.command.err;
    ASSERT_EQ(two.command.exit_code, 0) << two.command.err;
    EXPECT_EQ(slurp(fast).rfind("archbench-histogram 1\n", 0), 0u);
    EXPECT_EQ(slurp(fast).find("histogram service"), std::string::npos) << "a closed loop writes latency only";

    const std::string merged_json = files.add(".json");
    const std::string merged_hgrm = files.add(".hgrm");
    const std::string merged_file = files.add(".hist");
    const std::uint64_t served_before = quick.questions() + slower.questions();
    const CommandResult merge = run_command(load_binary(), {"--merge-histograms", fast + "," + slow, "--json", merged_json,
                                                           "--hgrm", merged_hgrm, "--histogram", merged_file});
    ASSERT_EQ(merge.exit_code, 0) << merge.err;
    EXPECT_EQ(quick.questions() + slower.questions(), served_before) << "no load";
    const json merged = json::parse(slurp(merged_json));
    const std::uint64_t count = one.json["requests_ok"].get<std::uint64_t>() + two.json["requests_ok"].get<std::uint64_t>();
    EXPECT_EQ(merged["count"], count);
    EXPECT_EQ(merged["latency_us"]["count"], count);
    EXPECT_EQ(merged["latency_us"]["min"], std::min(one.json["latency_us"]["min"], two.json["latency_us"]["min"]));
    EXPECT_EQ(merged["latency_us"]["max"], std::max(one.json["latency_us"]["max"], two.json["latency_us"]["max"]));
    EXPECT_FALSE(merged.contains("service_us"));
    // The fast run answered about 8 times as many: the merged median is the fast run's, or near it.
    EXPECT_LT(merged["latency_us"]["p50"].get<double>(), two.json["latency_us"]["p50"].get<double>());
    EXPECT_NE(slurp(merged_hgrm).find(std::to_string(count)), std::string::npos);
    EXPECT_NE(merge.out.find(std::to_string(count) + " latencies"), std::string::npos) << merge.out;
    // The merged file merges again: with itself, twice the count.
    const CommandResult again = run_command(load_binary(), {"--merge-histograms", merged_file + "," + merged_file});
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_NE(again.out.find(std::to_string(2 * count) + " latencies"), std::string::npos) << again.out;
}

TEST(MergeHistograms, AnOpenLoopRunWritesItsServiceTimesToo) {
    Paths files;
    const std::string file = files.add(".hist");
    FakeServer server;
    const LoadRun run = run_load(at_port(server.port(), {"-c", "2", "--rate", "1000", "-d", "0.5", "--histogram", file}));
    ASSERT_EQ(run.command.exit_code, 0) << run.command.err;
    const std::string merged_json = files.add(".json");
    ASSERT_EQ(run_command(load_binary(), {"--merge-histograms", file, "--json", merged_json}).exit_code, 0);
    const json merged = json::parse(slurp(merged_json));
    EXPECT_EQ(merged["service_us"]["count"], run.json["service_us"]["count"]);
    EXPECT_EQ(merged["service_us"]["p99"], run.json["service_us"]["p99"]);
    EXPECT_EQ(merged["latency_us"]["p99"], run.json["latency_us"]["p99"]);
}

TEST(MergeHistograms, BadInputIsAUsageError) {
    Paths files;
    const std::string not_histogram = files.add(".hist");
    std::ofstream(not_histogram) << "{\"count\": 3}\n";
    expect_usage_error({"--merge-histograms", "/nonexistent-dir/a.hist"}, "cannot read '/nonexistent-dir/a.hist'");
    expect_usage_error({"--merge-histograms", not_histogram}, "not a histogram file");
    expect_usage_error({"--merge-histograms", not_histogram + ","}, "empty item");
    expect_usage_error({"--merge-histograms", not_histogram, "-c", "4"}, "--connections has no use");
    expect_usage_error({"--merge-histograms", not_histogram, "--json", "x.json", "--hgrm", "x.json"}, "same file");
}
