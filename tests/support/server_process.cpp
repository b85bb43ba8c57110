#include "tests/support/server_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/time_scale.hpp"

namespace archbench::testing {

const char* server_binary() { return ARCHBENCH_SERVER_BINARY; }

namespace {

using Clock = std::chrono::steady_clock;

std::vector<char*> argv_of(const std::string& binary, const std::vector<std::string>& args) {
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    return argv;
}

std::string make_temp_file() {
    char path[] = "/tmp/archbench-test-XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    close(fd);
    return path;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// Waits for `pid` to exit until `deadline`; its wait status, or nothing.
std::optional<int> wait_until(pid_t pid, Clock::time_point deadline) {
    for (;;) {
        int status = 0;
        const pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid) return status;
        if (Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(2ms);
    }
}

// What a sanitizer wrote into a program's stderr (ASan, LSan, TSan, UBSan), from its first line
// on; empty when there is none. Reports of the servers the tests start land in files, not in the
// test's output, so the test support looks for them and fails the test.
std::string sanitizer_report(const std::string& text) {
    std::size_t start = std::min(text.find("Sanitizer"), text.find("runtime error: "));
    if (start == std::string::npos) return {};
    start = text.rfind('\n', start);
    return text.substr(start == std::string::npos ? 0 : start + 1);
}

// Calls visit(pid, fields) for every process in /proc, where `fields` reads its /proc/PID/stat
// from the third field (the state) on: after the command name, which is in parentheses and may
// hold spaces.
template <typename Visit>
void for_each_process(Visit visit) {
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string stat = read_file(entry.path() / "stat");
        const std::size_t end_of_name = stat.rfind(')');
        if (end_of_name == std::string::npos) continue;
        std::istringstream fields(stat.substr(end_of_name + 2));
        visit(static_cast<pid_t>(std::stoi(stat)), fields);
    }
}

// Each process whose parent is `parent`, with its state letter.
std::vector<std::pair<pid_t, std::string>> children_of(pid_t parent) {
    std::vector<std::pair<pid_t, std::string>> children;
    for_each_process([&](pid_t pid, std::istringstream& fields) {
        std::string state;
        pid_t parent_pid = 0;
        fields >> state >> parent_pid;
        if (parent_pid == parent) children.emplace_back(pid, state);
    });
    return children;
}

// The processes of the server's session: the server, every child it forked, and an external
// architecture's program and its children (in a process group of their own).
std::vector<pid_t> session_members(pid_t session, bool with_zombies) {
    std::vector<pid_t> members;
    for_each_process([&](pid_t pid, std::istringstream& fields) {
        std::string state;
        pid_t parent = 0, process_group = 0, session_id = 0;
        fields >> state >> parent >> process_group >> session_id;
        if (session_id == session && (with_zombies || state != "Z")) members.push_back(pid);
    });
    return members;
}

}  // namespace

ServerProcess::ServerProcess(std::vector<std::string> args, std::chrono::milliseconds startup,
                             unsigned long open_file_limit)
    : stderr_path_(make_temp_file()) {
    if (std::find(args.begin(), args.end(), "--port") == args.end()) {
        args.push_back("--port");
        args.push_back("0");
    }
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    const std::string binary = server_binary();
    const std::vector<char*> argv = argv_of(binary, args);
    pid_ = fork();
    if (pid_ == 0) {
        setsid();  // a session of its own: its id is pid_, in every process the server starts
        dup2(out[1], STDOUT_FILENO);
        const int err = open(stderr_path_.c_str(), O_WRONLY | O_TRUNC);
        dup2(err, STDERR_FILENO);
        if (open_file_limit > 0) {
            const rlimit limit{open_file_limit, open_file_limit};
            if (setrlimit(RLIMIT_NOFILE, &limit) != 0) _exit(126);
        }
        execv(argv[0], argv.data());
        _exit(127);
    }
    close(out[1]);

    const auto deadline = Clock::now() + scaled(startup);
    std::string text;
    while (text.find('\n') == std::string::npos && Clock::now() < deadline) {
        pollfd readable{out[0], POLLIN, 0};
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (poll(&readable, 1, static_cast<int>(std::max<long>(1, left.count()))) <= 0) continue;
        char buffer[256];
        const ssize_t n = read(out[0], buffer, sizeof buffer);
        if (n <= 0) break;
        text.append(buffer, static_cast<std::size_t>(n));
    }
    close(out[0]);
    listening_line_ = text.substr(0, text.find('\n'));
    const std::string prefix = "listening on ";
    const std::size_t colon = listening_line_.rfind(':');
    if (listening_line_.rfind(prefix, 0) != 0 || colon == std::string::npos) {
        kill(-pid_, SIGKILL);
        wait_until(pid_, Clock::now() + 2s);
        reaped_ = true;
        throw std::runtime_error("server did not print 'listening on HOST:PORT' (got '" + text +
                                 "', stderr: " + read_file(stderr_path_) + ")");
    }
    port_ = static_cast<std::uint16_t>(std::stoi(listening_line_.substr(colon + 1)));
}

ServerProcess::~ServerProcess() {
#ifdef ARCHBENCH_SANITIZED
    // An instrumented server looks for leaks as it exits: stop it the ordinary way first, so that
    // every test checks that the server leaked nothing, not only the tests of SIGTERM.
    if (pid_ > 0 && !reaped_) {
        kill(pid_, SIGTERM);
        reaped_ = wait_until(pid_, Clock::now() + scaled(2s)).has_value();
    }
#endif
    if (pid_ > 0) {
        kill(-pid_, SIGKILL);
        for (pid_t member : session_members(pid_, false)) kill(member, SIGKILL);
        if (!reaped_) wait_until(pid_, Clock::now() + 5s);
    }
    if (const std::string report = sanitizer_report(stderr_text()); !report.empty())
        ADD_FAILURE() << "archbench-server (pid " << pid_ << ") wrote a sanitizer report:\n" << report;
    unlink(stderr_path_.c_str());
}

std::optional<int> ServerProcess::stop(int signal, std::chrono::milliseconds limit) {
    kill(pid_, signal);
    const std::optional<int> status = wait_until(pid_, Clock::now() + scaled(limit));
    if (!status) return std::nullopt;
    reaped_ = true;
    if (!WIFEXITED(*status)) return std::nullopt;
    return WEXITSTATUS(*status);
}

bool ServerProcess::running() {
    if (reaped_) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) reaped_ = true;
    return !reaped_;
}

bool ServerProcess::group_has_processes() const {
    return !session_members(pid_, true).empty();
}

double ServerProcess::cpu_seconds() const {
    double ticks = 0;
    for_each_process([&](pid_t, std::istringstream& fields) {
        std::string field;
        for (int index = 3; index <= 17 && fields >> field; ++index) {
            if (index == 6 && std::stoi(field) != pid_) return;  // another session
            if (index >= 14) ticks += std::stod(field);           // utime stime cutime cstime
        }
    });
    return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int ServerProcess::open_descriptors() const {
    int count = 0;
    for (pid_t pid : session_members(pid_, false)) {
        std::error_code error;  // a process may exit while its entries are counted
        const std::string folder = "/proc/" + std::to_string(pid) + "/fd";
        for (std::filesystem::directory_iterator it(folder, error), end; !error && it != end;
             it.increment(error))
            ++count;
    }
    return count;
}

long ServerProcess::resident_kib() const {
    long pages = 0;
    for (pid_t pid : session_members(pid_, false)) {
        std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
        long size = 0, resident = 0;
        if (statm >> size >> resident) pages += resident;
    }
    return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

int ServerProcess::zombie_children() const {
    int zombies = 0;
    for (const auto& [pid, state] : children_of(pid_)) zombies += state == "Z";
    return zombies;
}

std::vector<pid_t> ServerProcess::live_children() const {
    std::vector<pid_t> live;
    for (const auto& [pid, state] : children_of(pid_))
        if (state != "Z") live.push_back(pid);
    return live;
}

std::string ServerProcess::stderr_text() const { return read_file(stderr_path_); }

CommandResult run_server_command(const std::vector<std::string>& args,
                                 std::chrono::milliseconds limit) {
    return run_command(server_binary(), args, limit);
}

CommandResult run_command(const std::string& binary, const std::vector<std::string>& args,
                          std::chrono::milliseconds limit) {
    const std::string out_path = make_temp_file();
    const std::string err_path = make_temp_file();
    const std::vector<char*> argv = argv_of(binary, args);
    const auto started = Clock::now();
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(open(out_path.c_str(), O_WRONLY | O_TRUNC), STDOUT_FILENO);
        dup2(open(err_path.c_str(), O_WRONLY | O_TRUNC), STDERR_FILENO);
        execv(argv[0], argv.data());
        _exit(127);
    }
    CommandResult result;
    const std::optional<int> status = wait_until(pid, Clock::now() + scaled(limit));
    result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    if (!status) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
    } else if (WIFEXITED(*status)) {
        result.exit_code = WEXITSTATUS(*status);
    }
    result.out = read_file(out_path);
    result.err = read_file(err_path);
    unlink(out_path.c_str());
    unlink(err_path.c_str());
    if (const std::string report = sanitizer_report(result.err); !report.empty())
        ADD_FAILURE() << binary << " wrote a sanitizer report:\n" << report;
    return result;
}

}  // namespace archbench::testing
