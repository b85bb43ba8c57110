// archbench-load's command line as DESIGN.md fixes it: --help, and bad usage as a one-line error
// naming the problem, with exit code 2, before any load is sent.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/support/load_process.hpp"

using namespace archbench::testing;

namespace {

std::size_t line_count(const std::string& text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

void expect_usage_error(const std::vector<std::string>& args, const std::string& mentions) {
    const CommandResult result = run_command(load_binary(), args);
    EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
    EXPECT_EQ(line_count(result.err), 1u) << result.err;
    EXPECT_EQ(result.err.rfind("archbench-load: ", 0), 0u) << result.err;
    EXPECT_NE(result.err.find(mentions), std::string::npos) << result.err;
    EXPECT_EQ(result.out, "");
}

}  // namespace

TEST(LoadCommandLine, HelpExitsZeroAndNamesEveryFlag) {
    const CommandResult result = run_command(load_binary(), {"--help"});
    EXPECT_EQ(result.exit_code, 0);
    for (const char* flag : {"--host", "--port", "-c", "-t", "-d", "--warmup", "-n", "--rate", "--session",
                             "--pipeline", "--timeout-ms", "--reply-bytes", "--json", "--hgrm"})
        EXPECT_NE(result.out.find(flag), std::string::npos) << flag;
    EXPECT_NE(result.out.find("coordinated omission"), std::string::npos);
}

TEST(LoadCommandLine, MissingConnectionCountIsAUsageError) { expect_usage_error({}, "-c"); }

TEST(LoadCommandLine, ZeroConnectionsIsAUsageError) { expect_usage_error({"-c", "0"}, "-c"); }

TEST(LoadCommandLine, UnknownFlagIsAUsageError) {
    expect_usage_error({"-c", "1", "--frobnicate"}, "--frobnicate");
}

TEST(LoadCommandLine, ZeroThreadsIsAUsageError) { expect_usage_error({"-c", "1", "-t", "0"}, "-t"); }

TEST(LoadCommandLine, NonPositiveDurationIsAUsageError) { expect_usage_error({"-c", "1", "-d", "-1"}, "-d"); }

TEST(LoadCommandLine, NonPositiveRateIsAUsageError) { expect_usage_error({"-c", "1", "--rate", "0"}, "--rate"); }

TEST(LoadCommandLine, ZeroPipelineIsAUsageError) {
    expect_usage_error({"-c", "1", "--pipeline", "0"}, "--pipeline");
}

TEST(LoadCommandLine, NegativeSessionIsAUsageError) {
    expect_usage_error({"-c", "1", "--session", "-3"}, "--session");
}

TEST(LoadCommandLine, NonNumericTimeoutIsAUsageError) {
    expect_usage_error({"-c", "1", "--timeout-ms", "soon"}, "--timeout-ms");
}

TEST(LoadCommandLine, PortOutOfRangeIsAUsageError) { expect_usage_error({"-c", "1", "--port", "70000"}, "--port"); }

TEST(LoadCommandLine, HostNameInsteadOfAddressIsAUsageError) {
    expect_usage_error({"-c", "1", "--host", "example.org"}, "--host");
}

TEST(LoadCommandLine, UnwritableJsonFileIsAUsageErrorBeforeAnyLoad) {
    expect_usage_error({"-c", "1", "--json", "/nonexistent-dir/run.json"}, "/nonexistent-dir/run.json");
}

TEST(LoadCommandLine, MoreConnectionsThanDescriptorsIsAUsageError) {
    expect_usage_error({"-c", "999999"}, "open-file limit");
}
