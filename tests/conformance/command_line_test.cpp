// archbench-server's command line as DESIGN.md fixes it: --list, --help, and one-line errors
// with exit code 2.
#include <gtest/gtest.h>

#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "servers/registry.hpp"
#include "tests/support/architectures.hpp"
#include "tests/support/server_process.hpp"

using namespace archbench;
using namespace archbench::testing;

namespace {

void expect_usage_error(const std::vector<std::string>& args, const std::string& mentions) {
    const CommandResult result = run_server_command(args);
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_EQ(result.err_lines(), 1u) << result.err;
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
                             "--max-connections", "--protocol", "--list", "--help"})
        EXPECT_NE(result.out.find(flag), std::string::npos) << flag;
}

TEST(CommandLine, UnknownProtocolIsAOneLineErrorWithExit2) {
    expect_usage_error({"--arch", "epoll", "--protocol", "gopher"}, "--protocol");
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
    EXPECT_EQ(second.err_lines(), 1u) << second.err;
    EXPECT_NE(second.err.find("cannot listen on 127.0.0.1:" + std::to_string(first.port())),
              std::string::npos)
        << second.err;
}

TEST(CommandLine, NonNumericHostIsRefused) {
    const CommandResult result = run_server_command({"--arch", "single", "--host", "example.org", "--port", "0"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("not a numeric"), std::string::npos) << result.err;
}

// An architecture that needs what a kernel may refuse says so (Architecture::unavailable_reason)
// and its tests are skipped with the reason. Checked here against a probe of our own, so that a
// broken probe in the server cannot turn every test of io-uring into a skip: where this kernel
// sets up a ring, and is recent enough to cancel every operation at once (5.19, which stopping
// needs), io-uring must report itself available.
namespace {

std::string kernel_refuses_io_uring() {
    io_uring_params params{};
    const long fd = syscall(__NR_io_uring_setup, 4, &params);
    if (fd < 0) return std::string("io_uring_setup: ") + std::strerror(errno);
    close(static_cast<int>(fd));
    utsname system{};
    uname(&system);
    int major = 0, minor = 0;
    std::sscanf(system.release, "%d.%d", &major, &minor);
    if (major < 5 || (major == 5 && minor < 19))
        return std::string("Linux ") + system.release + " is older than 5.19";
    return "";
}

}  // namespace

TEST(Availability, IoUringIsAvailableWhereTheKernelAllowsIt) {
    const std::vector<const Architecture*> io_uring = architectures_named({"io-uring"});
    ASSERT_EQ(selection_error(io_uring[0]), "");
    if (const std::string refused = kernel_refuses_io_uring(); !refused.empty())
        GTEST_SKIP() << "this kernel refuses io_uring: " << refused;
    EXPECT_EQ(unavailable_reason(*io_uring[0]), "");
    ServerProcess server({"--arch", "io-uring"});  // and main() does not refuse it either
    EXPECT_TRUE(server.running());
}

TEST(CommandLine, EveryNumericFlagGivenABadValueSaysWhatItAccepts) {
    // Every whole-number flag, given text, a negative number and a value past its range: one
    // line that names the flag, says what it accepts, and quotes what it got (no 300-digit
    // range of a double, no bare "Could not convert").
    const std::vector<std::pair<std::string, std::vector<std::string>>> flags = {
        {"--port", {"http", "-1", "65536"}},        {"--threads", {"abc", "-1", "0"}},
        {"--processes", {"abc", "-1", "0"}},        {"--work-us", {"abc", "-5", "1e3"}},
        {"--sleep-us", {"abc", "-5", "99999999999"}}, {"--reply-bytes", {"abc", "-1", "2e9"}},
        {"--max-request", {"abc", "-1", "0"}},      {"--max-connections", {"abc", "-3", "1.5"}},
    };
    for (const auto& [flag, values] : flags)
        for (const std::string& value : values) {
            SCOPED_TRACE(flag + " " + value);
            const CommandResult result = run_server_command({"--arch", "single", flag, value});
            EXPECT_EQ(result.exit_code, 2) << result.err;
            EXPECT_EQ(result.err_lines(), 1u) << result.err;
            EXPECT_NE(result.err.find(flag + ": must be a whole number from "), std::string::npos)
                << result.err;
            EXPECT_NE(result.err.find("not '" + value + "'"), std::string::npos) << result.err;
        }
}
