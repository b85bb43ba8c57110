// archbench-server --stdio (DESIGN.md: serve one client on descriptors 0 and 1, for inetd), and
// what inetd promises beyond the common contract: each client is served by a fresh program,
// exec'd with --stdio and the workload flags, on the client's socket as its stdin and stdout.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "protocol/zen.hpp"
#include "tests/support/client.hpp"
#include "tests/support/server_process.hpp"
#include "tests/support/time_scale.hpp"

using namespace archbench;
using namespace archbench::testing;

namespace {

using Clock = std::chrono::steady_clock;

// archbench-server --stdio ARGS... with `in` as its descriptor 0 and `out` as 1.
class StdioServer {
public:
    StdioServer(int in, int out, std::vector<std::string> args) {
        args.insert(args.begin(), {server_binary(), "--stdio"});
        pid_ = fork();
        if (pid_ == 0) {
            dup2(in, STDIN_FILENO);
            dup2(out, STDOUT_FILENO);
            std::vector<char*> argv;
            for (std::string& arg : args) argv.push_back(arg.data());
            argv.push_back(nullptr);
            execv(argv[0], argv.data());
            _exit(127);
        }
    }
    ~StdioServer() {
        if (pid_ > 0 && !exit_status_) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }

    // Its exit code once it exits within `limit`; nothing if it is still running (or was killed).
    std::optional<int> exit_code(std::chrono::milliseconds limit) {
        const auto deadline = Clock::now() + scaled(limit);
        while (!exit_status_ && Clock::now() < deadline) {
            int status = 0;
            if (waitpid(pid_, &status, WNOHANG) == pid_) exit_status_ = status;
            else std::this_thread::sleep_for(10ms);
        }
        if (!exit_status_ || !WIFEXITED(*exit_status_)) return std::nullopt;
        return WEXITSTATUS(*exit_status_);
    }

private:
    pid_t pid_ = -1;
    std::optional<int> exit_status_;
};

// A connected pair of sockets: [0] for the test, [1] for the server's descriptors 0 and 1.
struct SocketPair {
    SocketPair() { socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds); }
    ~SocketPair() {
        close(fds[0]);
        close(fds[1]);
    }
    int fds[2] = {-1, -1};
};

void write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t written = write(fd, bytes.data(), bytes.size());
        ASSERT_GT(written, 0);
        bytes.remove_prefix(static_cast<std::size_t>(written));
    }
}

// Everything `fd` delivers until `count` bytes, EOF, or `limit`.
std::string read_up_to(int fd, std::size_t count, std::chrono::milliseconds limit = 5s) {
    std::string got;
    const auto deadline = Clock::now() + scaled(limit);
    while (got.size() < count && Clock::now() < deadline) {
        pollfd readable{fd, POLLIN, 0};
        if (poll(&readable, 1, 10) <= 0) continue;
        char buffer[4096];
        const ssize_t received = read(fd, buffer, sizeof buffer);
        if (received <= 0) break;
        got.append(buffer, static_cast<std::size_t>(received));
    }
    return got;
}

std::string file_text(const std::string& path) {
    std::ifstream file(path);
    return std::string(std::istreambuf_iterator<char>(file), {});
}

}  // namespace

TEST(CommandLine, HelpNamesStdio) {
    EXPECT_NE(run_server_command({"--help"}).out.find("--stdio"), std::string::npos);
}

TEST(Stdio, ServesOneClientOnDescriptorsZeroAndOneAndExitsWhenItLeaves) {
    SocketPair pair;
    StdioServer server(pair.fds[1], pair.fds[1], {});
    write_all(pair.fds[0], "Beautiful is better than?Simple is better than?");
    EXPECT_EQ(read_up_to(pair.fds[0], 13), "Ugly.Complex.");
    shutdown(pair.fds[0], SHUT_WR);
    EXPECT_EQ(server.exit_code(2s), std::optional<int>(0));
}

TEST(Stdio, ServesQuestionsFromAPipeAndAnswersIntoAnother) {
    int questions[2], answers[2];
    ASSERT_EQ(pipe2(questions, O_CLOEXEC), 0);
    ASSERT_EQ(pipe2(answers, O_CLOEXEC), 0);
    StdioServer server(questions[0], answers[1], {});
    close(questions[0]);
    close(answers[1]);
    write_all(questions[1], "Explicit is better than?\nFlat is better than?\n");
    close(questions[1]);  // EOF between questions: a goodbye
    EXPECT_EQ(read_up_to(answers[0], 100), "Implicit.Error: unknown aphorism.");
    close(answers[0]);
    EXPECT_EQ(server.exit_code(2s), std::optional<int>(0));
}

TEST(Stdio, HonoursTheWorkloadFlagsAndClosesAfterAnOverlongQuestion) {
    SocketPair pair;
    StdioServer server(pair.fds[1], pair.fds[1], {"--reply-bytes", "40", "--max-request", "10"});
    write_all(pair.fds[0], "Beautiful is better than?");
    EXPECT_EQ(read_up_to(pair.fds[0], 1000), zen::padded(zen::kTooLongAnswer, 40));  // then EOF
    EXPECT_EQ(server.exit_code(3s), std::optional<int>(0));
}

TEST(Stdio, SleepUsDelaysTheAnswer) {
    SocketPair pair;
    StdioServer server(pair.fds[1], pair.fds[1], {"--sleep-us", "200000"});
    const auto asked = Clock::now();
    write_all(pair.fds[0], "Simple is better than?");
    EXPECT_EQ(read_up_to(pair.fds[0], 8), "Complex.");
    EXPECT_GE(Clock::now() - asked, 200ms);
}

TEST(Stdio, IdleTimeoutLetsASilentClientGo) {
    SocketPair pair;
    StdioServer server(pair.fds[1], pair.fds[1], {"--idle-timeout", "0.2"});
    EXPECT_EQ(server.exit_code(2s), std::optional<int>(0));
    EXPECT_EQ(read_up_to(pair.fds[0], 1, 1s), "");  // closed without a word
}

TEST(Inetd, EachClientIsServedByAFreshProgramOnItsSocketAsStdinAndStdout) {
    ServerProcess server({"--arch", "inetd", "--reply-bytes", "30"});
    Client client(server.port(), 30);
    client.send(zen::kAphorisms[0].question);
    ASSERT_EQ(client.read_answer(), zen::padded("Ugly.", 30));  // the flag reached the program
    const std::vector<pid_t> children = server.live_children();
    ASSERT_EQ(children.size(), 1u);
    const std::string proc = "/proc/" + std::to_string(children[0]);
    std::string command = file_text(proc + "/cmdline");
    std::replace(command.begin(), command.end(), '\0', ' ');
    EXPECT_NE(command.find("--stdio"), std::string::npos) << command;
    EXPECT_NE(command.find("--reply-bytes=30"), std::string::npos) << command;
    char in[256] = {}, out[256] = {};
    ASSERT_GT(readlink((proc + "/fd/0").c_str(), in, sizeof in - 1), 0);
    ASSERT_GT(readlink((proc + "/fd/1").c_str(), out, sizeof out - 1), 0);
    EXPECT_EQ(std::string(in).rfind("socket:", 0), 0u) << in;
    EXPECT_EQ(std::string(in), std::string(out));
    client.shutdown_write();
    EXPECT_TRUE(client.closed_by_server());
}
