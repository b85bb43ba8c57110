// --start-at TIME: the connections are opened first, then nothing is sent until TIME (the wall
// clock), when the warm-up starts; start_late_s says how late that was. The bounds are loose
// and grow with ARCHBENCH_TIME_SCALE: what is checked is that the wait happens, not its accuracy
// on a busy machine.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <string>
#include <thread>

#include "tests/support/fake_server.hpp"
#include "tests/support/load_process.hpp"
#include "tests/support/time_scale.hpp"

using namespace archbench::testing;
using namespace std::chrono_literals;

namespace {

double wall_clock_s() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string unix_seconds(double seconds) {
    char text[64];
    std::snprintf(text, sizeof text, "%.3f", seconds);
    return text;
}

}  // namespace

TEST(StartAt, OpensTheConnectionsThenSendsNothingUntilTheTime) {
    FakeServer server;
    const double lead = scaled_seconds(1.5);
    const double start_at = wall_clock_s() + lead;
    auto load = std::async(std::launch::async, [&] {
        return run_load(at_port(server.port(), {"-c", "3", "-d", "0.3", "--start-at", unix_seconds(start_at)}));
    });
    // Half-way through the wait: connected, silent.
    std::this_thread::sleep_for(std::chrono::duration<double>(lead / 2));
    EXPECT_EQ(server.connections_accepted(), 3u);
    EXPECT_EQ(server.questions(), 0u);
    const LoadRun run = load.get();
    ASSERT_EQ(run.command.exit_code, 0) << run.command.out << run.command.err;
    EXPECT_GE(wall_clock_s(), start_at + 0.3) << "the measured 0.3 s came after the start";
    EXPECT_GT(server.questions(), 100u);
    EXPECT_GE(run.json["start_late_s"].get<double>(), 0.0);
    EXPECT_LT(run.json["start_late_s"].get<double>(), scaled_seconds(0.25)) << run.command.out;
    EXPECT_NEAR(run.json["config"]["start_at"].get<double>(), start_at, 0.001);
    EXPECT_EQ(server.connections_accepted(), 3u) << "the connections opened before the start were used";
}

TEST(StartAt, ATimeAlreadyPastStartsAtOnceAndSaysHowLate) {
    FakeServer server;
    const double start_at = wall_clock_s() - 2;
    const LoadRun run = run_load(
        at_port(server.port(), {"-c", "1", "--warmup", "1", "-d", "3", "--start-at", unix_seconds(start_at)}));
    ASSERT_EQ(run.command.exit_code, 0) << run.command.out << run.command.err;
    // The warm-up and the window stay where TIME puts them: of the 3 s window, 2 s are left.
    EXPECT_GE(run.json["start_late_s"].get<double>(), 2.0);
    EXPECT_LT(run.json["start_late_s"].get<double>(), 2.0 + scaled_seconds(1.0));
    EXPECT_LT(run.command.seconds, 2.0 + scaled_seconds(1.0));
    EXPECT_NE(run.command.out.find("warning: started 2."), std::string::npos) << run.command.out;
}

TEST(StartAt, WithoutItTheStartIsNeverLate) {
    FakeServer server;
    const LoadRun run = run_load(at_port(server.port(), {"-c", "1", "-d", "0.2"}));
    ASSERT_EQ(run.command.exit_code, 0) << run.command.err;
    EXPECT_EQ(run.json["start_late_s"], 0.0);
    EXPECT_TRUE(run.json["config"]["start_at"].is_null());
}

TEST(StartAt, BadTimesAreAUsageError) {
    const double now = wall_clock_s();
    for (const std::string& time : {std::string("soon"), std::string("1e9"), std::string("-5"), std::string(""),
                                    std::string("1."), std::string(".5"), std::string("1.5.2"),
                                    unix_seconds(now + 3700), unix_seconds(now - 3700)}) {
        SCOPED_TRACE(time);
        const CommandResult result = run_command(load_binary(), {"-c", "1", "--start-at", time});
        EXPECT_EQ(result.exit_code, 2) << result.err;
        EXPECT_EQ(result.err_lines(), 1u) << result.err;
        EXPECT_NE(result.err.find("--start-at: must be Unix seconds"), std::string::npos) << result.err;
        EXPECT_NE(result.err.find("not '" + time + "'"), std::string::npos) << result.err;
    }
}
