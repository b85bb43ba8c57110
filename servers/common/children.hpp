// What the process-based architectures (forked, preforked) share: starting a child, hearing that
// children exited, and reaping them, so that none is left a zombie or an orphan.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <mutex>
#include <functional>
#include <string_view>
#include <vector>

#include "servers/common/net.hpp"
#include "servers/common/stop.hpp"

namespace archbench {

// SIGCHLD as a readable descriptor, to wait on beside the others (main() blocked SIGCHLD in
// every thread, so it waits there). Throws std::runtime_error.
Socket sigchld_descriptor();

// Reads the SIGCHLD notices that made `sigchld_fd` readable, then reaps every child that has
// exited (several exits may share one notice) and returns their pids.
std::vector<pid_t> reap_exited(int sigchld_fd);

// fork(), and in the child: SIGTERM ends it again (restore_default_signals), and it gets a
// SIGTERM of its own should the server die first (a SIGKILL leaves no time to end children), so
// that no worker outlives it. (Linux sends it when the thread that forked ends: call this from
// the thread that runs serve(), which lives as long as the server.) Returns as fork() does.
pid_t fork_child();

// What the children that fork_child() started and reap_exited() has not reaped yet (running,
// or zombies) have cost so far: CPU seconds to the nanosecond, their pids, and how many could
// not be read (then the sum is short). Call it with hold_reaping() held, so that no child
// moves to getrusage(RUSAGE_CHILDREN) while it counts.
// A process-based architecture forks with fork_child() and reaps with reap_exited() for its
// children to be counted.
struct ChildrenUsage {
    double cpu_s = 0;
    std::vector<pid_t> pids;
    int count = 0;
    int unreadable = 0;
};
ChildrenUsage live_children_usage();

// How many times the main threads of these children were put on a CPU (/proc/PID/schedstat):
// for single-threaded workers, their context switches. Read after the CPU snapshot, without
// holding reaping off (files are slow to read on a loaded core): a child reaped meanwhile
// loses its switches from this count, an undercount of a few switches at most.
long switches_of(const std::vector<pid_t>& children);

// The lock of the children's bookkeeping, with priority inheritance (PTHREAD_PRIO_INHERIT; a
// std::mutex has no such option). The resource report takes it from a real-time thread
// (stop.cpp), and the thread that forks holds it across fork(): preempted there among a
// thousand busy children, a plain mutex's holder kept the report waiting 136 to 240 ms
// (forked at 1,024 connections), and the harness rightly refused the figure. Here the holder
// runs at the waiter's priority until it lets go.
class ReapingMutex {
public:
    ReapingMutex();
    ~ReapingMutex();
    ReapingMutex(const ReapingMutex&) = delete;
    ReapingMutex& operator=(const ReapingMutex&) = delete;
    void lock();
    void unlock();

private:
    pthread_mutex_t mutex_;
};

// While the lock lives no child is reaped by reap_exited() (which takes it): the server's
// resource report holds it so that each child is counted once, reaped or not.
std::unique_lock<ReapingMutex> hold_reaping();

// For a child started some other way than fork_child() (an external architecture's program,
// servers/common/external.cpp), with hold_reaping() held: count it like the others until
// forget_child(), and with it the children it reaps itself (their CPU is in its /proc/PID/stat
// cutime and cstime, in clock ticks, until it is reaped in turn). Whoever reaps such a child
// calls forget_child(pid), with hold_reaping() held, in the same turn.
void count_child(pid_t pid);
void forget_child(pid_t pid);
// A process per client (forked, inetd): accepts on `listen_fd` until `stop`, and forks for each
// client a child that runs `child(client_fd)` without the parent's descriptors, then exits. The
// parent reaps each child as it exits (SIGCHLD as a signalfd beside the listening socket), keeps
// --max-connections (a client beyond it is closed before any fork, and a child's place is given
// back when it is reaped), and at stop sends every child SIGTERM and reaps it.
void run_process_per_client(int listen_fd, const ServerOptions& options, StopSignal& stop,
                            const std::function<void(int client_fd)>& child);

// A pool of `processes` children forked up front (preforked, epoll-prefork). Each child runs
// `child(worker)` for its whole life, without the parent's descriptors (its copy of `stop` is
// never requested; the parent's SIGTERM ends it), and exits should it return or throw. The
// parent waits for `stop`; a child that dies meanwhile (a crash, an out-of-memory kill, a
// kill -9) is reaped at once, `died(worker)` is called, and a new child takes its place, as
// Apache's and nginx's masters do. At stop, every child gets SIGTERM and is reaped.
// `name` prefixes the parent's log lines.
void run_process_pool(std::string_view name, unsigned processes, StopSignal& stop,
                      const std::function<void(unsigned worker)>& child,
                      const std::function<void(unsigned worker)>& died);

}  // namespace archbench
