// archbench-load's command line as DESIGN.md fixes it: --help, and bad usage as a one-line error
// naming the problem, with exit code 2, before any load is sent.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/support/load_process.hpp"

using namespace archbench::testing;

namespace {

void expect_usage_error(const std::vector<std::string>& args, const std::string& mentions) {
    const CommandResult result = run_command(load_binary(), args);
    EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
    EXPECT_EQ(result.err_lines(), 1u) << result.err;
    EXPECT_EQ(result.err.rfind("archbench-load: ", 0), 0u) << result.err;
    EXPECT_NE(result.err.find(mentions), std::string::npos) << result.err;
    EXPECT_EQ(result.out, "");
}

}  // namespace

TEST(LoadCommandLine, HelpExitsZeroAndNamesEveryFlag) {
    const CommandResult result = run_command(load_binary(), {"--help"});
    EXPECT_EQ(result.exit_code, 0);
    for (const char* flag : {"--host", "--hosts-policy", "--port", "-c", "-t", "-d", "--warmup", "-n", "--rate", "--rate-steps", "--idle", "--session",
                             "--pipeline", "--timeout-ms", "--reply-bytes", "--timeline-ms", "--json", "--hgrm", "--histogram", "--merge-histograms", "--start-at"})
        EXPECT_NE(result.out.find(flag), std::string::npos) << flag;
    EXPECT_NE(result.out.find("coordinated omission"), std::string::npos);
}

TEST(LoadCommandLine, NegativeIdleCountIsAUsageError) { expect_usage_error({"-c", "1", "--idle", "-5"}, "--idle"); }

TEST(LoadCommandLine, NonNumericIdleCountIsAUsageError) { expect_usage_error({"-c", "1", "--idle", "many"}, "--idle"); }

TEST(LoadCommandLine, IdleBeyondTheOpenFileLimitIsAUsageError) {
    expect_usage_error({"-c", "1", "--idle", "999999"}, "--idle");
}

TEST(LoadCommandLine, MalformedRateStepsAreAUsageError) {
    expect_usage_error({"-c", "1", "--rate-steps", "1000:2,fast:1"}, "--rate-steps");
}

TEST(LoadCommandLine, RateWithRateStepsIsAUsageError) {
    expect_usage_error({"-c", "1", "--rate", "10", "--rate-steps", "1000:2"}, "--rate-steps");
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

TEST(LoadCommandLine, HostNameThatDoesNotResolveIsAUsageError) {
    // .invalid never resolves (RFC 2606), with or without a network.
    expect_usage_error({"-c", "1", "--host", "no-such-host.invalid"}, "'no-such-host.invalid' does not resolve");
}

TEST(LoadCommandLine, OneUnresolvableHostOfSeveralIsAUsageError) {
    expect_usage_error({"-c", "1", "--host", "127.0.0.1,no-such-host.invalid"}, "no-such-host.invalid");
}

TEST(LoadCommandLine, EmptyHostInTheListIsAUsageError) {
    for (const char* hosts : {"127.0.0.1,,127.0.0.2", "127.0.0.1,", ",127.0.0.1", ""}) {
        SCOPED_TRACE(hosts);
        expect_usage_error({"-c", "1", "--host", hosts}, "--host: '" + std::string(hosts) + "' has an empty item");
    }
}

TEST(LoadCommandLine, UnknownHostsPolicyIsAUsageError) {
    expect_usage_error({"-c", "1", "--hosts-policy", "random"}, "--hosts-policy");
}

TEST(LoadCommandLine, UnwritableJsonFileIsAUsageErrorBeforeAnyLoad) {
    expect_usage_error({"-c", "1", "--json", "/nonexistent-dir/run.json"}, "/nonexistent-dir/run.json");
}

TEST(LoadCommandLine, MoreConnectionsThanDescriptorsIsAUsageError) {
    // One more connection than the hard open-file limit (which archbench-load raises its soft
    // limit to, and no further) allows descriptors, whatever this machine's limit is.
    rlimit limit{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
    ASSERT_NE(limit.rlim_max, RLIM_INFINITY);
    expect_usage_error({"-c", std::to_string(limit.rlim_max + 1)}, "open-file limit");
}

TEST(LoadCommandLine, EveryNumericFlagGivenABadValueSaysWhatItAccepts) {
    // Every numeric flag, given text and a value outside what it accepts: one line that names
    // the flag, says what it accepts ("must be ..."), and quotes what it got.
    const std::vector<std::pair<std::string, std::vector<std::string>>> flags = {
        {"--port", {"http", "0", "65536"}},      {"--connections", {"abc", "0", "-1"}},
        {"--threads", {"abc", "0", "1025"}},     {"--duration", {"abc", "0", "-1"}},
        {"--warmup", {"abc", "-1"}},             {"--requests", {"abc", "0"}},
        {"--rate", {"abc", "0", "-5"}},          {"--session", {"abc", "-1"}},
        {"--pipeline", {"abc", "0"}},            {"--timeout-ms", {"abc", "0"}},
        {"--reply-bytes", {"abc", "-1"}},        {"--idle", {"abc", "-1"}},
        {"--timeline-ms", {"abc", "0", "9", "60001", "2.5"}},
    };
    for (const auto& [flag, values] : flags)
        for (const std::string& value : values) {
            SCOPED_TRACE(flag + " " + value);
            const std::vector<std::string> args =
                flag == "--connections" ? std::vector<std::string>{flag, value}
                                        : std::vector<std::string>{"-c", "1", flag, value};
            const CommandResult result = run_command(load_binary(), args);
            EXPECT_EQ(result.exit_code, 2) << result.err;
            EXPECT_EQ(result.err_lines(), 1u) << result.err;
            EXPECT_NE(result.err.find(flag + ": must be "), std::string::npos) << result.err;
            EXPECT_NE(result.err.find("not '" + value + "'"), std::string::npos) << result.err;
        }
}
