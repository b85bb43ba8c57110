#include "servers/common/external.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <regex>
#include <stdexcept>
#include <thread>
#include <utility>

#include <toml++/toml.h>

#include "servers/common/children.hpp"
#include "servers/common/net.hpp"

namespace archbench {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr std::array<std::string_view, 8> kProgramFlags = {
    "threads", "processes", "work-us", "sleep-us", "reply-bytes", "max-request", "idle-timeout",
    "max-connections"};

constexpr std::array<std::pair<std::string_view, Family>, 9> kFamilies = {{
    {"one_at_a_time", Family::one_at_a_time}, {"per_client", Family::per_client},
    {"worker_pool", Family::worker_pool}, {"event_loop", Family::event_loop},
    {"event_loops", Family::event_loops}, {"offloaded", Family::offloaded},
    {"user_threads", Family::user_threads}, {"python", Family::python},
    {"other_language", Family::other_language},
}};

constexpr std::array<std::pair<std::string_view, bool Traits::*>, 6> kFlagTraits = {{
    {"concurrent", &Traits::concurrent},
    {"process_based", &Traits::process_based},
    {"one_client_per_worker", &Traits::one_client_per_worker},
    {"one_io_thread", &Traits::one_io_thread},
    {"blocking_stalls_every_client", &Traits::blocking_stalls_every_client},
    {"reports_worker_connections", &Traits::reports_worker_connections},
}};

constexpr std::array<std::pair<std::string_view, std::size_t Traits::*>, 2> kCountTraits = {{
    {"connection_limit", &Traits::connection_limit},
    {"default_max_connections", &Traits::default_max_connections},
}};

constexpr std::array<std::string_view, 5> kKeys = {"description", "family", "command",
                                                   "unsupported", "traits"};

template <typename Names>
std::string joined(const Names& names) {
    std::string text;
    for (const auto& name : names) {
        if (!text.empty()) text += ", ";
        if constexpr (requires { name.first; }) text += name.first;
        else text += name;
    }
    return text;
}

// A declaration's problem: thrown as one line that names the file.
class Declaration {
public:
    explicit Declaration(fs::path file) : file_(std::move(file)) {}
    [[noreturn]] void fail(const std::string& problem) const {
        throw std::runtime_error("external architecture " + file_.string() + ": " + problem);
    }
    const fs::path& file() const { return file_; }

private:
    fs::path file_;
};

std::string required_string(const toml::table& table, std::string_view key, const Declaration& at) {
    const toml::node* node = table.get(key);
    if (node == nullptr) at.fail("lacks the key '" + std::string(key) + "'");
    const std::optional<std::string> text = node->value_exact<std::string>();
    if (!text) at.fail("'" + std::string(key) + "' must be a string");
    return *text;
}

std::vector<std::string> required_strings(const toml::table& table, std::string_view key,
                                          const Declaration& at) {
    const toml::node* node = table.get(key);
    if (node == nullptr) at.fail("lacks the key '" + std::string(key) + "'");
    const toml::array* array = node->as_array();
    if (array == nullptr) at.fail("'" + std::string(key) + "' must be an array of strings");
    std::vector<std::string> strings;
    for (const toml::node& element : *array) {
        const std::optional<std::string> text = element.value_exact<std::string>();
        if (!text) at.fail("'" + std::string(key) + "' must be an array of strings");
        strings.push_back(*text);
    }
    return strings;
}

Traits read_traits(const toml::table& table, const Declaration& at) {
    Traits traits{};
    const toml::node* node = table.get("traits");
    if (node == nullptr) return traits;
    const toml::table* declared = node->as_table();
    if (declared == nullptr) at.fail("'traits' must be a table");
    for (const auto& [key, value] : *declared) {
        const std::string_view name = key.str();
        const auto flag = std::find_if(kFlagTraits.begin(), kFlagTraits.end(),
                                       [&](const auto& entry) { return entry.first == name; });
        const auto count = std::find_if(kCountTraits.begin(), kCountTraits.end(),
                                        [&](const auto& entry) { return entry.first == name; });
        if (flag != kFlagTraits.end()) {
            const std::optional<bool> on = value.value_exact<bool>();
            if (!on) at.fail("trait '" + std::string(name) + "' must be true or false");
            traits.*(flag->second) = *on;
        } else if (count != kCountTraits.end()) {
            const std::optional<std::int64_t> number = value.value_exact<std::int64_t>();
            if (!number || *number < 0)
                at.fail("trait '" + std::string(name) + "' must be a whole number, 0 or more");
            traits.*(count->second) = static_cast<std::size_t>(*number);
        } else {
            at.fail("unknown trait '" + std::string(name) + "' (known: " + joined(kFlagTraits) +
                    ", " + joined(kCountTraits) + ")");
        }
    }
    return traits;
}

// {dir} and {bin} filled in; any other {placeholder} is a mistake worth a loud error.
std::string substituted(std::string argument, const fs::path& dir, const fs::path& bin,
                        const Declaration& at) {
    for (const auto& [placeholder, value] : {std::pair{std::string("{dir}"), dir.string()},
                                             std::pair{std::string("{bin}"), bin.string()}})
        for (std::size_t at_index = argument.find(placeholder); at_index != std::string::npos;
             at_index = argument.find(placeholder, at_index + value.size()))
            argument.replace(at_index, placeholder.size(), value);
    static const std::regex kPlaceholder(R"(\{[a-z_]+\})");
    if (std::smatch unknown; std::regex_search(argument, unknown, kPlaceholder))
        at.fail("unknown placeholder " + unknown.str() + " in 'command' (known: {dir}, {bin})");
    return argument;
}

std::unique_ptr<ExternalProgram> load_declaration(const fs::path& file, const fs::path& bin,
                                                  std::span<const Architecture* const> taken) {
    const Declaration at(file);
    auto program = std::make_unique<ExternalProgram>();
    program->name = file.stem().string();
    program->declaration = file;
    static const std::regex kName("[a-z0-9][a-z0-9-]*");
    if (!std::regex_match(program->name, kName))
        at.fail("the file name must be the architecture's name: lower-case letters, digits, '-'");
    for (const Architecture* architecture : taken)
        if (architecture->name == program->name)
            at.fail("the name '" + program->name + "' is taken by a registered architecture");

    toml::table table;
    try {
        table = toml::parse_file(file.string());
    } catch (const toml::parse_error& error) {
        at.fail("line " + std::to_string(error.source().begin.line) + ": " +
                std::string(error.description()));
    }
    for (const auto& [key, value] : table)
        if (std::find(kKeys.begin(), kKeys.end(), key.str()) == kKeys.end())
            at.fail("unknown key '" + std::string(key.str()) + "' (known: " + joined(kKeys) + ")");

    program->description = required_string(table, "description", at);
    if (program->description.empty() ||
        program->description.find_first_of("\t\n\r") != std::string::npos)
        at.fail("'description' must be one line");

    const std::string family = required_string(table, "family", at);
    const auto known = std::find_if(kFamilies.begin(), kFamilies.end(),
                                    [&](const auto& entry) { return entry.first == family; });
    if (known == kFamilies.end())
        at.fail("unknown family '" + family + "' (known: " + joined(kFamilies) + ")");

    for (const std::string& argument : required_strings(table, "command", at))
        program->command.push_back(substituted(argument, file.parent_path(), bin, at));
    if (program->command.empty() || program->command.front().empty())
        at.fail("'command' must name a program");

    program->unsupported = required_strings(table, "unsupported", at);
    for (const std::string& flag : program->unsupported)
        if (std::find(kProgramFlags.begin(), kProgramFlags.end(), flag) == kProgramFlags.end())
            at.fail("unknown flag '" + flag + "' in 'unsupported' (known: " + joined(kProgramFlags) +
                    ")");

    program->traits = read_traits(table, at);
    program->traits.family = known->second;
    return program;
}

// In the child, between fork() and exec(): only async-signal-safe calls. The program starts as
// from a shell: default signal dispositions, nothing blocked, descriptors 0 to 3 and no other.
[[noreturn]] void exec_program(const std::vector<char*>& argv, int listen_fd, pid_t parent) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);  // archbench-server killed: the program is told to stop
    if (getppid() != parent) _exit(127);
    if (listen_fd == 3)
        fcntl(3, F_SETFD, 0);  // keep it across exec()
    else
        dup2(listen_fd, 3);
    if (const int null = open("/dev/null", O_RDONLY); null >= 0 && null != 0) dup2(null, 0);
    close_range(4, ~0U, 0);
    std::signal(SIGPIPE, SIG_DFL);
    sigset_t nothing;
    sigemptyset(&nothing);
    sigprocmask(SIG_SETMASK, &nothing, nullptr);
    execv(argv[0], argv.data());
    constexpr char kFailed[] = "archbench-server: exec of the external program failed\n";
    [[maybe_unused]] ssize_t written = write(STDERR_FILENO, kFailed, sizeof kFailed - 1);
    _exit(127);
}

std::string describe_exit(int status) {
    if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("killed by ") + strsignal(WTERMSIG(status));
    return "status " + std::to_string(status);
}

// The program's process group. archbench-server is the subreaper of the program's descendants:
// one the program leaves behind becomes archbench-server's child, so that it is reaped here
// (not left a zombie of an init that may never reap it) and its CPU time joins the rusage report.
class ProgramGroup {
public:
    explicit ProgramGroup(pid_t leader) : leader_(leader), sigchld_(sigchld_descriptor()) {}

    // Waits until the program has exited, or `stop_fd` (-1: none) is readable, or `limit`
    // (-1 ms: none) has passed. The program's wait status, once it exited.
    std::optional<int> wait(int stop_fd, std::chrono::milliseconds limit) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        for (;;) {
            reap();
            if (status_ || (stop_fd >= 0 && readable(stop_fd))) return status_;
            int timeout = -1;
            if (limit.count() >= 0) {
                const auto left = std::chrono::ceil<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now());
                if (left.count() <= 0) return status_;
                timeout = static_cast<int>(left.count());
            }
            std::array<pollfd, 2> ready = {{{sigchld_.fd(), POLLIN, 0}, {stop_fd, POLLIN, 0}}};
            poll(ready.data(), stop_fd >= 0 ? 2 : 1, timeout);
        }
    }
    void signal(int signal) const { kill(-leader_, signal); }
    // Whether any process of the group is left, once those that exited are reaped.
    bool has_processes() {
        reap();
        return kill(-leader_, 0) == 0;
    }
    void kill_and_reap() {
        signal(SIGKILL);
        int status = 0;
        for (pid_t done; (done = waitpid(-leader_, &status, 0)) > 0 || errno == EINTR;) {
            if (done == leader_) status_ = status;
            if (done > 0) {
                const auto held = hold_reaping();
                forget_child(done);
            }
        }
    }

private:
    static bool readable(int fd) {
        pollfd ready{fd, POLLIN, 0};
        return poll(&ready, 1, 0) > 0;
    }
    void reap() {
        signalfd_siginfo notice;
        while (read(sigchld_.fd(), &notice, sizeof notice) == sizeof notice) {
        }
        // With reaping held off, so that the server's resource report finds the program either
        // live (its clock, and its own reaped children) or reaped (RUSAGE_CHILDREN), never neither.
        const auto held = hold_reaping();
        int status = 0;
        for (pid_t done; (done = waitpid(-leader_, &status, WNOHANG)) > 0;) {
            if (done == leader_) status_ = status;
            forget_child(done);
        }
    }

    pid_t leader_;
    Socket sigchld_;
    std::optional<int> status_;
};

}  // namespace

std::span<const std::string_view> external_program_flags() { return kProgramFlags; }

std::vector<std::unique_ptr<ExternalProgram>> load_external_programs(
    const fs::path& folder, const fs::path& bin_folder, std::span<const Architecture* const> taken) {
    std::error_code error;
    fs::directory_iterator entries(folder, error);
    if (error)
        throw std::runtime_error("external architectures: cannot read " + folder.string() + ": " +
                                 error.message());
    std::vector<fs::path> files;
    for (const fs::directory_entry& entry : entries)
        if (entry.path().extension() == ".toml") files.push_back(fs::absolute(entry.path()));
    std::sort(files.begin(), files.end());
    std::vector<std::unique_ptr<ExternalProgram>> programs;
    for (const fs::path& file : files) programs.push_back(load_declaration(file, bin_folder, taken));
    return programs;
}

std::string external_unavailable_reason(const ExternalProgram& program) {
    const std::string& path = program.command.front();
    struct stat status{};
    if (stat(path.c_str(), &status) != 0)
        return path + ": " + std::strerror(errno) + " (not built or not installed; declared in " +
               program.declaration.string() + ")";
    if (!S_ISREG(status.st_mode) || access(path.c_str(), X_OK) != 0)
        return path + ": not an executable file (declared in " + program.declaration.string() + ")";
    return "";
}

void serve_external(const ExternalProgram& program, int listen_fd, const ServerOptions& options,
                    StopSignal& stop) {
    std::vector<std::string> args = program.command;
    const auto add = [&args](const char* flag, auto value) {
        args.insert(args.end(), {flag, std::to_string(value)});
    };
    args.insert(args.end(), {"--listen-fd", "3"});
    add("--threads", options.threads);
    add("--processes", options.processes);
    add("--work-us", options.workload.work_us);
    add("--sleep-us", options.workload.sleep_us);
    add("--reply-bytes", options.workload.reply_bytes);
    add("--max-request", options.workload.max_request);
    add("--idle-timeout-ms", options.idle_timeout.count());
    add("--max-connections", options.max_connections);
    args.insert(args.end(), {"--protocol", std::string(zen::protocol_name(options.workload.protocol))});
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);

    prctl(PR_SET_CHILD_SUBREAPER, 1);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) exec_program(argv, listen_fd, parent);
    setpgid(pid, pid);  // also here, so that the group exists before either side goes on
    {
        const auto held = hold_reaping();
        count_child(pid);  // its CPU joins the server's resource report (children.hpp)
    }
    ProgramGroup group(pid);

    if (const std::optional<int> status = group.wait(stop.fd(), std::chrono::milliseconds(-1))) {
        group.kill_and_reap();  // whatever it left behind
        throw std::runtime_error("the program exited on its own (" + describe_exit(*status) + ")");
    }

    // The program has 1.5 s to end everything it started; 1.8 s is what archbench-server waits,
    // so that it still exits within the 2 s every server is given.
    constexpr auto kStopLimit = 1800ms;
    const auto deadline = std::chrono::steady_clock::now() + kStopLimit;
    group.signal(SIGTERM);
    const std::optional<int> status = group.wait(-1, kStopLimit);
    if (!status) {
        group.kill_and_reap();
        throw std::runtime_error("the program did not stop within 1.8 s of SIGTERM; killed");
    }
    // Its children may still be on their way out: they get what is left of the time.
    bool left_behind = group.has_processes();
    while (left_behind && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(5ms);
        left_behind = group.has_processes();
    }
    if (left_behind) {
        group.kill_and_reap();
        throw std::runtime_error("the program left processes behind after SIGTERM; killed");
    }
    // Dying of the SIGTERM is a stop too: it may come before the program has set up its handler
    // (a test that stops a server at once), and the kernel then ends every thread of it.
    const bool stopped = (WIFEXITED(*status) && WEXITSTATUS(*status) == 0) ||
                         (WIFSIGNALED(*status) && WTERMSIG(*status) == SIGTERM);
    if (!stopped)
        throw std::runtime_error("the program ended with " + describe_exit(*status) +
                                 " on SIGTERM instead of exit code 0");
}

std::string unavailable_reason(const Architecture& architecture) {
    if (architecture.external != nullptr) return external_unavailable_reason(*architecture.external);
    return architecture.unavailable_reason != nullptr ? architecture.unavailable_reason() : "";
}

void serve_architecture(const Architecture& architecture, int listen_fd,
                        const ServerOptions& options, StopSignal& stop) {
    if (architecture.external != nullptr)
        serve_external(*architecture.external, listen_fd, options, stop);
    else
        architecture.serve(listen_fd, options, stop);
}

}  // namespace archbench
