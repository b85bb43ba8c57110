// Runs the real archbench-server binary for a test: in a session of its own, on port 0, and
// never outliving the test. The server's processes are those of its session: its own process
// group, and that of an external architecture's program (which runs in a group of its own). A test whose server (or command) wrote a sanitizer report fails.
// Limits are stretched by ARCHBENCH_TIME_SCALE in instrumented builds (time_scale.hpp).
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace archbench::testing {

using namespace std::chrono_literals;

const char* server_binary();

class ServerProcess {
public:
    // Starts `archbench-server ARGS... --port 0` (ARGS may give a --port of their own) and waits
    // for its "listening on" line.
    // Fails the test (throws) when the line does not come within `startup`. `open_file_limit`
    // > 0 runs it under that RLIMIT_NOFILE (soft and hard, as `prlimit --nofile=N`); 0: the
    // test's own limit, which it inherits.
    explicit ServerProcess(std::vector<std::string> args,
                           std::chrono::milliseconds startup = 10s,
                           unsigned long open_file_limit = 0);
    ~ServerProcess();  // kills whatever is left of the session
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    std::uint16_t port() const { return port_; }
    pid_t pid() const { return pid_; }
    const std::string& listening_line() const { return listening_line_; }

    // Sends `signal` and waits up to `limit` for the server to exit. Returns its exit code, or
    // nothing when it did not exit (or died of a signal) in time.
    std::optional<int> stop(int signal, std::chrono::milliseconds limit);
    bool running();
    // Whether any process of the server's session (its children and an external program's
    // included, zombies too) still exists.
    bool group_has_processes() const;
    // How many children of the server are zombies: exited, but not yet reaped by the server.
    int zombie_children() const;
    // The server's children that are alive (not zombies).
    std::vector<pid_t> live_children() const;
    // CPU seconds (user + system) of every process in the server's session and of the children
    // they reaped, from /proc: a pool's workers are counted while they live, forked ones once
    // reaped.
    double cpu_seconds() const;
    // Open descriptors (entries of /proc/PID/fd) of every process in the server's session.
    int open_descriptors() const;
    // Resident memory in KiB (VmRSS), summed over every process in the server's session.
    long resident_kib() const;
    std::string stderr_text() const;

private:
    pid_t pid_ = -1;
    bool reaped_ = false;
    std::uint16_t port_ = 0;
    std::string listening_line_;
    std::string stderr_path_;
};

struct CommandResult {
    int exit_code = -1;  // -1: did not exit in time (then it was killed)
    std::string out;
    std::string err;
    double seconds = 0;  // how long it ran

    // How many lines the program wrote to stderr (a usage error is exactly one).
    std::size_t err_lines() const {
        return static_cast<std::size_t>(std::count(err.begin(), err.end(), '\n'));
    }
};

// Runs `binary` with `args` to completion, killing it after `limit`.
CommandResult run_command(const std::string& binary, const std::vector<std::string>& args,
                          std::chrono::milliseconds limit = 10s);

// Runs archbench-server with `args` to completion (for command-line tests).
CommandResult run_server_command(const std::vector<std::string>& args,
                                 std::chrono::milliseconds limit = 10s);

}  // namespace archbench::testing
