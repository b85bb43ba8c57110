#include "servers/common/children.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <exception>
#include <map>
#include <csignal>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "servers/common/architecture.hpp"
#include "servers/common/limits.hpp"
#include "servers/common/stop.hpp"

namespace archbench {

namespace {
// Held while children are forked, reaped, and counted by live_children_usage(), so that a child
// is always in exactly one of two sums (reaped, or in `unreaped`).
ReapingMutex reaping_mutex;
std::set<pid_t> unreaped;  // every child fork_child() started that reap_exited() has not reaped
std::set<pid_t> programs;  // count_child()'s: counted with the children they reaped themselves

// The CPU seconds of the children `pid` has reaped itself (/proc/PID/stat's cutime and cstime).
double reaped_by(pid_t pid) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    const std::size_t end_of_name = text.rfind(')');
    if (end_of_name == std::string::npos) return 0;
    std::istringstream fields(text.substr(end_of_name + 2));
    std::string field;
    long long cutime = 0, cstime = 0;
    for (int number = 3; number <= 17 && fields >> field; ++number) {
        if (number == 16) cutime = std::stoll(field);
        if (number == 17) cstime = std::stoll(field);
    }
    return static_cast<double>(cutime + cstime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The third field of /proc/PID/schedstat: how many times the process's main thread was put on
// a CPU, which for a single-threaded worker is its voluntary plus involuntary switches.
long switches_of(pid_t pid) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/schedstat");
    long long run_ns = 0, wait_ns = 0, timeslices = 0;
    file >> run_ns >> wait_ns >> timeslices;
    return file ? static_cast<long>(timeslices) : 0;
}
// The live descendants of `pid`: its children, found through /proc/PID/task/TID/children (one
// file per thread), and theirs.
void add_descendants(pid_t pid, ChildrenUsage& usage);
}  // namespace

ReapingMutex::ReapingMutex() {
    pthread_mutexattr_t attributes;
    pthread_mutexattr_init(&attributes);
    pthread_mutexattr_setprotocol(&attributes, PTHREAD_PRIO_INHERIT);
    pthread_mutex_init(&mutex_, &attributes);
    pthread_mutexattr_destroy(&attributes);
}

ReapingMutex::~ReapingMutex() { pthread_mutex_destroy(&mutex_); }
void ReapingMutex::lock() { pthread_mutex_lock(&mutex_); }
void ReapingMutex::unlock() { pthread_mutex_unlock(&mutex_); }

std::unique_lock<ReapingMutex> hold_reaping() { return std::unique_lock(reaping_mutex); }

void count_child(pid_t pid) {
    unreaped.insert(pid);
    programs.insert(pid);
}

void forget_child(pid_t pid) {
    unreaped.erase(pid);
    programs.erase(pid);
}

namespace {
// Each descendant counts its own clock and what it reaped itself. Its children are read before
// its reaped sum, so that one that exits and is reaped meanwhile is counted twice (a figure the
// harness's cross-check against the cores' busy time can catch) rather than lost.
void add_descendants(pid_t pid, ChildrenUsage& usage) {
    std::error_code error;
    const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
    for (const auto& task : std::filesystem::directory_iterator(tasks, error)) {
        std::ifstream file(task.path() / "children");
        pid_t child = 0;
        while (file >> child) {
            clockid_t clock;
            timespec cpu{};
            if (clock_getcpuclockid(child, &clock) != 0 || clock_gettime(clock, &cpu) != 0) {
                ++usage.unreadable;
                continue;
            }
            add_descendants(child, usage);
            usage.cpu_s += static_cast<double>(cpu.tv_sec) + cpu.tv_nsec / 1e9 + reaped_by(child);
            usage.pids.push_back(child);
            ++usage.count;
        }
    }
}
}  // namespace

ChildrenUsage live_children_usage() {
    // The clock of a process (clock_getcpuclockid) counts every thread it ever ran, to the
    // nanosecond, and still answers for a zombie. One system call per child and no file: the
    // report is taken while the server is loaded, and a slow one would smear its instant. Only
    // an external program's tree is walked through /proc files (add_descendants), as its own
    // children can be found no other way.
    ChildrenUsage usage;
    for (const pid_t pid : unreaped) {
        clockid_t clock;
        timespec cpu{};
        if (clock_getcpuclockid(pid, &clock) != 0 || clock_gettime(clock, &cpu) != 0) {
            ++usage.unreadable;
            continue;
        }
        usage.cpu_s += static_cast<double>(cpu.tv_sec) + cpu.tv_nsec / 1e9;
        // A program (an external architecture) may fork children of its own and reap them
        // itself (py-forking-mixin): those the server never sees. The live ones count with
        // their clocks, the reaped ones with the program's (and their parents') reaped sums.
        if (programs.contains(pid)) {
            add_descendants(pid, usage);
            usage.cpu_s += reaped_by(pid);
        }
        usage.pids.push_back(pid);
        ++usage.count;
    }
    return usage;
}

long switches_of(const std::vector<pid_t>& children) {
    long total = 0;
    for (const pid_t pid : children) total += switches_of(pid);
    return total;
}

Socket sigchld_descriptor() {
    sigset_t sigchld;
    sigemptyset(&sigchld);
    sigaddset(&sigchld, SIGCHLD);
    Socket fd(signalfd(-1, &sigchld, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!fd) throw std::runtime_error(std::string("signalfd: ") + std::strerror(errno));
    return fd;
}

std::vector<pid_t> reap_exited(int sigchld_fd) {
    signalfd_siginfo info;
    while (read(sigchld_fd, &info, sizeof info) == sizeof info) {
    }
    std::vector<pid_t> exited;
    const auto held = hold_reaping();
    pid_t pid;
    while ((pid = waitpid(-1, nullptr, WNOHANG)) > 0) {
        exited.push_back(pid);
        unreaped.erase(pid);
    }
    return exited;
}

pid_t fork_child() {
    const pid_t parent = getpid();
    std::unique_lock held(reaping_mutex);  // the child's copy stays locked, and is never used
    const pid_t pid = fork();
    if (pid > 0) unreaped.insert(pid);
    if (pid != 0) return pid;
    restore_default_signals();
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(0);  // the parent died before the request above was made
    return 0;
}

void run_process_per_client(int listen_fd, const ServerOptions& options, StopSignal& stop,
                            const std::function<void(int client_fd)>& child) {
    set_nonblocking(listen_fd);  // poll() said readable, but the client may be gone by accept()
    const Socket sigchld = sigchld_descriptor();
    ConnectionLimit limit(options.max_connections);
    std::map<pid_t, Admission> children;  // each holds its client's place until it is reaped
    pollfd waiting[] = {{stop.fd(), POLLIN, 0}, {sigchld.fd(), POLLIN, 0}, {listen_fd, POLLIN, 0}};

    while (!stop.requested()) {
        if (poll(waiting, 3, -1) < 0) continue;  // EINTR
        if (waiting[1].revents)
            for (pid_t pid : reap_exited(sigchld.fd())) children.erase(pid);  // its place too
        if (!waiting[2].revents) continue;

        Socket client(accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
        if (!client) {
            if (errno == EMFILE || errno == ENFILE) {
                // Out of descriptors: the client stays in the backlog; do not spin on it.
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
            continue;
        }
        Admission admission(limit);
        if (!admission) continue;  // beyond --max-connections: closed at once, nothing forked
        const pid_t pid = fork_child();  // SIGTERM from the parent ends the child
        if (pid == 0) {
            for (int fd : {listen_fd, stop.fd(), sigchld.fd()}) close(fd);  // the parent's
            child(client.fd());
            _exit(0);
        }
        if (pid < 0)
            std::fprintf(stderr, "fork failed: %s: client closed\n", std::strerror(errno));
        else
            children.emplace(pid, std::move(admission));
        // The parent's copy of the client socket closes here; the child's stays open.
    }

    for (const auto& [pid, admission] : children) kill(pid, SIGTERM);
    for (const auto& [pid, admission] : children) waitpid(pid, nullptr, 0);
}

void run_process_pool(std::string_view name, unsigned processes, StopSignal& stop,
                      const std::function<void(unsigned worker)>& child,
                      const std::function<void(unsigned worker)>& died) {
    const Socket sigchld = sigchld_descriptor();
    std::map<pid_t, unsigned> children;  // pid -> worker number
    const int name_length = static_cast<int>(name.size());

    // The start gate: every child waits for end-of-file on it before it serves, which comes when
    // the parent has forked the whole pool and closed the writing end. Without it the first
    // children take clients while the parent still forks the rest, and on one core 64 busy
    // workers left the parent so little CPU that the harness counted 51 of the pool's 65
    // processes over a half-second point (a run of harness.test_run, not committed). A worker
    // started later, in a dead one's place, finds the gate open.
    int gate[2];
    if (pipe2(gate, O_CLOEXEC) != 0)
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    Socket gate_wait(gate[0]), gate_hold(gate[1]);

    auto start_worker = [&](unsigned worker) {
        const pid_t pid = fork_child();
        if (pid == 0) {
            close(stop.fd());  // the parent's descriptors; the listening socket is kept
            close(sigchld.fd());
            gate_hold.reset();  // else this child would hold its own gate shut
            char byte;
            while (read(gate_wait.fd(), &byte, 1) < 0 && errno == EINTR) {
            }
            gate_wait.reset();
            try {
                child(worker);
            } catch (const std::exception& error) {
                std::fprintf(stderr, "%.*s: worker %u: %s\n", name_length, name.data(), worker,
                             error.what());
            }
            _exit(1);
        }
        if (pid < 0)
            std::fprintf(stderr, "%.*s: fork failed: %s: worker %u not started\n", name_length,
                         name.data(), std::strerror(errno), worker);
        else
            children.emplace(pid, worker);
    };
    for (unsigned worker = 0; worker < processes; ++worker) start_worker(worker);
    gate_hold.reset();  // the whole pool is there: it may serve

    pollfd waiting[] = {{stop.fd(), POLLIN, 0}, {sigchld.fd(), POLLIN, 0}};
    while (!stop.requested()) {
        if (poll(waiting, 2, -1) < 0 || !waiting[1].revents) continue;  // EINTR, or a stop
        for (pid_t pid : reap_exited(sigchld.fd())) {
            const auto found = children.find(pid);
            if (found == children.end()) continue;
            const unsigned worker = found->second;
            children.erase(found);
            died(worker);
            if (stop.requested()) continue;  // Ctrl-C in a terminal reaches the children too
            std::fprintf(stderr, "%.*s: worker %u (pid %d) died; starting another\n", name_length,
                         name.data(), worker, static_cast<int>(pid));
            start_worker(worker);
        }
    }

    for (const auto& [pid, worker] : children) kill(pid, SIGTERM);
    for (const auto& [pid, worker] : children) waitpid(pid, nullptr, 0);
}

}  // namespace archbench
