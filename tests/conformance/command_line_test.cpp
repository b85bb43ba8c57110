// archbench-server's command line as DESIGN.md fixes it: --list, --help, and one-line errors
// with exit code 2.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <sstream>

#include "servers/registry.hpp"
#include "tests/support/server_process.hpp"

using namespace archbench;
using namespace archbench::testing;

namespace {

std::size_t line_count(const std::string& text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

void expect_usage_error(const std::vector<std::string>& args, const std::string& mentions) {
    const CommandResult result = run_server_command(args);
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_EQ(line_count(result.err), 1u) << result.err;
    EXPECT_NE(result.err.find(mentions), std::string::npos) << result.err;
    EXPECT_EQ(result.out, "");
}

}  // namespace

TEST(CommandLine, ListPrintsEveryRegisteredArchitectureWithItsDescription) {
    const CommandResult result = run_server_command({"--list"});
    ASSERT_EQ(result.exit_code, 0);
    std::string expected;
    for (const Architecture* architecture : all_architectures())
        expected += std::string(architecture->name) + "\t" + std::string(architecture->description) + "\n";
    EXPECT_EQ(result.out, expected);
}

TEST(CommandLine, ListIncludesSingle) {
    EXPECT_NE(run_server_command({"--list"}).out.find("single\t"), std::string::npos);
}

TEST(CommandLine, HelpExitsZeroAndNamesEveryFlag) {
    const CommandResult result = run_server_command({"--help"});
    EXPECT_EQ(result.exit_code, 0);
    for (const char* flag : {"--arch", "--host", "--port", "--threads", "--processes", "--work-us",
                             "--sleep-us", "--reply-bytes", "--max-request", "--idle-timeout",
                             "--max-connections", "--list", "--help"})
        EXPECT_NE(result.out.find(flag), std::string::npos) << flag;
}

TEST(CommandLine, UnknownArchitectureIsAOneLineErrorWithExit2) {
    expect_usage_error({"--arch", "no-such-thing"}, "no-such-thing");
}

TEST(CommandLine, MissingArchitectureIsAOneLineErrorWithExit2) {
    expect_usage_error({}, "--arch");
}

TEST(CommandLine, UnknownFlagIsAOneLineErrorWithExit2) {
    expect_usage_error({"--arch", "single", "--frobnicate"}, "--frobnicate");
}

TEST(CommandLine, NonNumericPortIsAOneLineErrorWithExit2) {
    expect_usage_error({"--arch", "single", "--port", "http"}, "--port");
}

TEST(CommandLine, PortOutOfRangeIsAOneLineErrorWithExit2) {
    expect_usage_error({"--arch", "single", "--port", "70000"}, "--port");
}

TEST(CommandLine, NegativeKnobIsAOneLineErrorWithExit2) {
    expect_usage_error({"--arch", "single", "--work-us", "-5"}, "--work-us");
}

TEST(CommandLine, ZeroThreadsIsAOneLineErrorWithExit2) {
    expect_usage_error({"--arch", "single", "--threads", "0"}, "--threads");
}

TEST(CommandLine, FlagWithoutItsValueIsAOneLineErrorWithExit2) {
    expect_usage_error({"--arch", "single", "--reply-bytes"}, "--reply-bytes");
}

TEST(CommandLine, NegativeIdleTimeoutIsAOneLineErrorWithExit2) {
    expect_usage_error({"--arch", "single", "--idle-timeout", "-1"}, "--idle-timeout");
}

TEST(CommandLine, NonNumericIdleTimeoutIsAOneLineErrorWithExit2) {
    expect_usage_error({"--arch", "single", "--idle-timeout", "soon"}, "--idle-timeout");
}

TEST(CommandLine, IdleTimeoutBeyondADayIsAOneLineErrorWithExit2) {
    expect_usage_error({"--arch", "single", "--idle-timeout", "1e9"}, "--idle-timeout");
}

TEST(CommandLine, NegativeMaxConnectionsIsAOneLineErrorWithExit2) {
    expect_usage_error({"--arch", "threaded", "--max-connections", "-3"}, "--max-connections");
}

TEST(CommandLine, NonNumericMaxConnectionsIsAOneLineErrorWithExit2) {
    expect_usage_error({"--arch", "threaded", "--max-connections", "many"}, "--max-connections");
}

TEST(CommandLine, BusyPortIsAOneLineErrorWithExit1) {
    ServerProcess first({"--arch", "single"});
    const CommandResult second =
        run_server_command({"--arch", "single", "--port", std::to_string(first.port())});
    EXPECT_EQ(second.exit_code, 1);
    EXPECT_EQ(line_count(second.err), 1u) << second.err;
    EXPECT_NE(second.err.find("cannot listen on 127.0.0.1:" + std::to_string(first.port())),
              std::string::npos)
        << second.err;
}

TEST(CommandLine, NonNumericHostIsRefused) {
    const CommandResult result = run_server_command({"--arch", "single", "--host", "example.org", "--port", "0"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("not a numeric"), std::string::npos) << result.err;
}
