// External architectures (servers/common/external.hpp): declarations are checked loudly, flags a
// program cannot honour are refused, the program gets the listening socket and every flag, and
// archbench-server answers for the program's exit and for every process it leaves. Each test
// declares small shell-script programs in a folder of its own, given as ARCHBENCH_EXTERNAL_DIR.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "servers/registry.hpp"
#include "tests/support/architectures.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/time_scale.hpp"

using namespace archbench;
using namespace archbench::testing;
namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// The process group of `pid`, from /proc/PID/stat (its fifth field); 0 when it is gone.
pid_t process_group_of(pid_t pid) {
    const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
    const std::size_t end_of_name = stat.rfind(')');
    if (end_of_name == std::string::npos) return 0;
    std::istringstream fields(stat.substr(end_of_name + 2));
    std::string state;
    pid_t parent = 0, group = 0;
    fields >> state >> parent >> group;
    return group;
}

// Whether process group `group` still has a process, a second after it was killed at the latest
// (a killed process is a zombie until its parent, init for an orphan, reaps it).
bool group_exists(pid_t group) {
    for (int i = 0; i < 100 && kill(-group, 0) == 0; ++i) std::this_thread::sleep_for(10ms);
    return kill(-group, 0) == 0 || errno != ESRCH;
}

class External : public ::testing::Test {
protected:
    void SetUp() override {
        char pattern[] = "/tmp/archbench-external-XXXXXX";
        ASSERT_NE(mkdtemp(pattern), nullptr);
        folder_ = pattern;
        setenv("ARCHBENCH_EXTERNAL_DIR", folder_.c_str(), 1);  // for the servers started here
    }
    void TearDown() override {
        unsetenv("ARCHBENCH_EXTERNAL_DIR");
        fs::remove_all(folder_);
    }

    void write(const std::string& file, const std::string& text) {
        std::ofstream(folder_ / file) << text;
    }
    // NAME.toml declaring `command`, with `extra` lines (keys, then a [traits] table) after it.
    void declare(const std::string& name, const std::string& command,
                 const std::string& extra = "unsupported = []\n[traits]\nconcurrent = true\n") {
        write(name + ".toml", "description = \"" + name + " for a test\"\nfamily = \"other_language\"\n"
                              "command = " + command + "\n" + extra);
    }
    // A /bin/sh program NAME.sh in the folder, declared as NAME ({dir} in its command).
    void declare_script(const std::string& name, const std::string& body,
                        const std::string& extra = "unsupported = []\n[traits]\nconcurrent = true\n") {
        const fs::path path = folder_ / (name + ".sh");
        std::ofstream(path) << "#!/bin/sh\n" << body;
        fs::permissions(path, fs::perms::owner_all);
        declare(name, "[\"{dir}/" + name + ".sh\"]", extra);
    }
    // The file a script made with `announced()` moves into place once it is ready for SIGTERM.
    fs::path ready_file() const { return folder_ / "ready"; }
    std::string announced() const {
        return "touch " + ready_file().string() + ".new && mv " + ready_file().string() + ".new " +
               ready_file().string();
    }
    // Waits until the script has announced that its traps are set and its children started: a
    // SIGTERM sent before that could reach the shell before its trap (it would die of it) or a
    // child before the child's own trap, and the test would check a race, not the server.
    void wait_until_ready() const {
        const auto deadline = std::chrono::steady_clock::now() + scaled(2s);
        while (!fs::exists(ready_file()) && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(10ms);
        ASSERT_TRUE(fs::exists(ready_file())) << "the script never said it was ready";
    }
    // The program archbench-server started: its only live child.
    static pid_t program_of(const ServerProcess& server) {
        std::vector<pid_t> children = server.live_children();
        for (int i = 0; i < 100 && children.empty(); ++i) {
            std::this_thread::sleep_for(10ms);
            children = server.live_children();
        }
        return children.size() == 1 ? children.front() : -1;
    }

    fs::path folder_;
};

// Serves nothing; stops on SIGTERM (which the whole group gets) with exit 0.
constexpr const char* kWaitsForSigterm = "trap 'exit 0' TERM\nsleep 1000 &\nwait\n";

// The same, with `announce` run once the trap is set and the sleep started: a test that waits
// for what `announce` does (a file moved into place) cannot SIGTERM the script before it is
// ready, as it could while the shell forked its sleep (which then missed the group's SIGTERM
// and was left behind).
std::string waits_for_sigterm_after(const std::string& announce) {
    return "trap 'exit 0' TERM\nsleep 1000 &\n" + announce + "\nwait\n";
}

void expect_usage_error(const std::vector<std::string>& args, const std::string& mentions) {
    const CommandResult result = run_server_command(args);
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_EQ(result.err_lines(), 1u) << result.err;
    EXPECT_NE(result.err.find(mentions), std::string::npos) << result.err;
    EXPECT_EQ(result.out, "");
}

}  // namespace

TEST(ExternalExample, GoGoroutinesIsListedFromTheSourceTree) {
    const Architecture* go = find_architecture("go-goroutines");
    ASSERT_NE(go, nullptr);
    EXPECT_EQ(go->traits.family, Family::other_language);
    EXPECT_NE(go->external, nullptr);
    const CommandResult list = run_server_command({"--list"});
    EXPECT_NE(list.out.find("\ngo-goroutines\t"), std::string::npos) << list.out;
}

// The suites test every registered architecture in the ordinary build, the external programs
// included; in a sanitized build, every one built from this tree's C++ and no external program,
// whose code no sanitizer instruments (tests/support/architectures.cpp).
TEST(ExternalSelection, EveryArchitectureInTheOrdinaryBuildTheCppOnesUnderTheSanitizers) {
    const auto all = all_architectures();
    std::vector<const Architecture*> cpp;
    std::copy_if(all.begin(), all.end(), std::back_inserter(cpp),
                 [](const Architecture* each) { return each->external == nullptr; });
    ASSERT_LT(cpp.size(), all.size()) << "no external architecture is registered";
    const std::vector<const Architecture*> expected =
        kSanitizedBuild ? cpp : std::vector<const Architecture*>(all.begin(), all.end());
    EXPECT_EQ(every_architecture(), expected);
}

TEST_F(External, ListShowsADeclaredProgramAfterTheOthers) {
    declare_script("recorder", kWaitsForSigterm);
    const CommandResult result = run_server_command({"--list"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_TRUE(result.out.ends_with("\nrecorder\trecorder for a test\n")) << result.out;
}

TEST_F(External, DeclarationThatDoesNotParseFailsListAndEveryArchWithOneLine) {
    write("broken.toml", "description = \"unfinished\nfamily = \n");
    expect_usage_error({"--list"}, (folder_ / "broken.toml").string());
    expect_usage_error({"--arch", "single"}, (folder_ / "broken.toml").string());
}

TEST_F(External, DeclarationLackingAKeyIsALoudError) {
    write("keyless.toml", "description = \"no command\"\nfamily = \"python\"\nunsupported = []\n");
    expect_usage_error({"--list"}, "lacks the key 'command'");
}

TEST_F(External, UnknownFamilyIsALoudError) {
    write("odd.toml", "description = \"d\"\nfamily = \"martian\"\ncommand = [\"/bin/true\"]\n"
                      "unsupported = []\n");
    expect_usage_error({"--list"}, "unknown family 'martian'");
}

TEST_F(External, UnknownKeyOrTraitIsALoudError) {
    declare_script("typo", kWaitsForSigterm, "unsupported = []\n[traits]\nconcurent = true\n");
    expect_usage_error({"--list"}, "unknown trait 'concurent'");
}

TEST_F(External, DeclarationTakingARegisteredNameIsALoudError) {
    declare_script("epoll", kWaitsForSigterm);
    expect_usage_error({"--arch", "epoll"}, "'epoll' is taken");
}

TEST_F(External, UnsupportedFlagOnTheCommandLineIsAOneLineErrorWithExit2) {
    declare_script("poolless", waits_for_sigterm_after(announced()),
                   "unsupported = [\"threads\"]\n[traits]\nconcurrent = true\n");
    expect_usage_error({"--arch", "poolless", "--threads", "2", "--port", "0"}, "--threads");
    ServerProcess without_it({"--arch", "poolless"});  // not given: it starts
    ASSERT_NO_FATAL_FAILURE(wait_until_ready());
    EXPECT_EQ(without_it.stop(SIGTERM, 2s), std::optional<int>(0)) << without_it.stderr_text();
}

TEST_F(External, ProgramGetsTheListeningSocketAsDescriptor3AndEveryFlagWithItsValue) {
    const fs::path record = folder_ / "record.txt";
    declare_script("recorder",
                   "echo \"$@\" > " + record.string() + ".new\n"
                   "readlink /proc/$$/fd/3 >> " + record.string() + ".new\n"
                   "readlink /proc/$$/fd/0 >> " + record.string() + ".new\n"
                   + waits_for_sigterm_after("mv " + record.string() + ".new " + record.string()),
                   "unsupported = []\n[traits]\nconcurrent = true\ndefault_max_connections = 5\n");
    ServerProcess server({"--arch", "recorder", "--threads", "3", "--processes", "2", "--work-us",
                          "7", "--sleep-us", "11", "--reply-bytes", "64", "--max-request", "99",
                          "--idle-timeout", "1.5"});
    for (int i = 0; i < 200 && !fs::exists(record); ++i) std::this_thread::sleep_for(10ms);
    std::istringstream lines(read_text(record));
    std::string args, listener, input;
    std::getline(lines, args);
    std::getline(lines, listener);
    std::getline(lines, input);
    // --max-connections: the declared default, as for any architecture.
    EXPECT_EQ(args, "--listen-fd 3 --threads 3 --processes 2 --work-us 7 --sleep-us 11 "
                    "--reply-bytes 64 --max-request 99 --idle-timeout-ms 1500 --max-connections 5 "
                    "--protocol zen");
    EXPECT_TRUE(listener.starts_with("socket:")) << listener;
    EXPECT_EQ(input, "/dev/null");
    EXPECT_EQ(server.stop(SIGTERM, 2s), std::optional<int>(0)) << server.stderr_text();
}

TEST_F(External, ProgramIsToldTheProtocolItSpeaks) {
    const fs::path record = folder_ / "record.txt";
    declare_script("recorder", "echo \"$@\" > " + record.string() + ".new\n" +
                                   waits_for_sigterm_after("mv " + record.string() + ".new " + record.string()));
    ServerProcess server({"--arch", "recorder", "--protocol", "http"});
    for (int i = 0; i < 200 && !fs::exists(record); ++i) std::this_thread::sleep_for(10ms);
    const std::string args = read_text(record);
    EXPECT_TRUE(args.ends_with(" --protocol http\n")) << args;
    EXPECT_EQ(server.stop(SIGTERM, 2s), std::optional<int>(0)) << server.stderr_text();
}

TEST_F(External, ProgramRunsInAProcessGroupOfItsOwnThatSigtermLeavesEmpty) {
    declare_script("family", waits_for_sigterm_after(announced()));
    ServerProcess server({"--arch", "family"});
    ASSERT_NO_FATAL_FAILURE(wait_until_ready());
    const pid_t program = program_of(server);
    ASSERT_GT(program, 0);
    EXPECT_EQ(process_group_of(program), program);
    EXPECT_EQ(server.stop(SIGTERM, 2s), std::optional<int>(0)) << server.stderr_text();
    EXPECT_FALSE(group_exists(program)) << "the program's process group outlived the server";
    EXPECT_FALSE(server.group_has_processes());
}

TEST_F(External, ProgramThatIgnoresSigtermIsKilledWithItsGroupAndTheServerExits1) {
    declare_script("stubborn", "trap '' TERM\nsleep 1000 &\n" + announced() + "\nwhile :; do wait; done\n");
    ServerProcess server({"--arch", "stubborn"});
    ASSERT_NO_FATAL_FAILURE(wait_until_ready());
    const pid_t program = program_of(server);
    ASSERT_GT(program, 0);
    // The server waits 1.8 s for the program; the rest is room for a loaded machine.
    EXPECT_EQ(server.stop(SIGTERM, 5s), std::optional<int>(1)) << server.stderr_text();
    EXPECT_NE(server.stderr_text().find("did not stop within 1.8 s"), std::string::npos)
        << server.stderr_text();
    EXPECT_FALSE(group_exists(program));
}

TEST_F(External, ProgramLeavingAProcessBehindMakesTheServerExit1) {
    // Its child ignores SIGTERM and outlives the program, which exits 0. The child says when its
    // trap is set; the script announces itself once its own trap is set too.
    const std::string child_ready = (folder_ / "child-ready").string();
    declare_script("leaver", "(trap '' TERM; touch " + child_ready + "; exec sleep 1000) &\n"
                             "trap 'exit 0' TERM\n"
                             "while [ ! -e " + child_ready + " ]; do sleep 0.01; done\n" +
                             announced() + "\nwait\n");
    ServerProcess server({"--arch", "leaver"});
    ASSERT_NO_FATAL_FAILURE(wait_until_ready());
    const pid_t program = program_of(server);
    ASSERT_GT(program, 0);
    EXPECT_EQ(server.stop(SIGTERM, 5s), std::optional<int>(1)) << server.stderr_text();
    EXPECT_NE(server.stderr_text().find("left processes behind"), std::string::npos)
        << server.stderr_text();
    EXPECT_FALSE(group_exists(program));
}

TEST_F(External, ProgramExitingOnItsOwnMakesTheServerExit1) {
    declare_script("quitter", "exit 3\n");
    const CommandResult result = run_server_command({"--arch", "quitter", "--port", "0"});
    EXPECT_EQ(result.exit_code, 1) << result.err;
    EXPECT_NE(result.err.find("exited on its own (exit code 3)"), std::string::npos) << result.err;
}

TEST_F(External, MissingProgramIsUnavailableAndExits1BeforeListening) {
    declare("unbuilt", "[\"{dir}/never-built\"]");
    const CommandResult result = run_server_command({"--arch", "unbuilt", "--port", "0"});
    EXPECT_EQ(result.exit_code, 1) << result.err;
    EXPECT_EQ(result.out, "");  // no "listening on"
    EXPECT_NE(result.err.find("never-built"), std::string::npos) << result.err;
    EXPECT_EQ(result.err_lines(), 1u) << result.err;
}
