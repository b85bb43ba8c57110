// How a server is told to stop. main() turns SIGTERM and SIGINT into StopSignal::request();
// each architecture waits for it in the way that suits its design:
//   - an event loop adds fd() to the descriptors it waits on;
//   - a blocking server lets a ShutdownOnStop guard shut its sockets down, which wakes a thread
//     blocked in accept() or recv() on them (Linux returns EINVAL and 0 respectively).
#pragma once

#include <atomic>
#include <mutex>
#include <vector>

namespace archbench {

class StopSignal {
public:
    StopSignal();
    ~StopSignal();
    StopSignal(const StopSignal&) = delete;
    StopSignal& operator=(const StopSignal&) = delete;

    void request();  // thread-safe and idempotent (not for use inside a signal handler)
    bool requested() const { return requested_.load(std::memory_order_acquire); }
    int fd() const { return event_fd_; }  // readable once a stop was requested

private:
    friend class ShutdownOnStop;
    void watch(int fd);
    void unwatch(int fd);

    std::atomic<bool> requested_{false};
    int event_fd_;
    std::mutex mutex_;
    std::vector<int> watched_;
};

// While it lives, `fd` is shut down (SHUT_RDWR) when a stop is requested, at once if one
// already was. Destroy it before closing `fd`, so that a reused descriptor number is never hit.
class ShutdownOnStop {
public:
    ShutdownOnStop(StopSignal& stop, int fd) : stop_(stop), fd_(fd) { stop_.watch(fd_); }
    ~ShutdownOnStop() { stop_.unwatch(fd_); }
    ShutdownOnStop(const ShutdownOnStop&) = delete;
    ShutdownOnStop& operator=(const ShutdownOnStop&) = delete;

private:
    StopSignal& stop_;
    int fd_;
};

// Signal plumbing for main() and for child processes.
// Blocks SIGTERM, SIGINT, SIGCHLD and SIGUSR1 in the calling thread and every thread it starts later
// (they are then taken with sigwait() or a signalfd), and ignores SIGPIPE: a client that hangs
// up must never kill the server.
void block_server_signals();
// Waits for SIGTERM or SIGINT and returns it. Meanwhile each SIGUSR1 prints one line to stderr,
// "rusage user_s=... voluntary_switches=... children_user_s=...": the CPU time and context
// switches of every thread the server ran, ended ones included, of the children it reaped, and
// (live_children_*) of those not reaped yet, all counted in one snapshot (see stop.cpp).
// The harness reads it at the start and end of a measurement, because /proc shows live threads
// only and a thread-per-connection server's threads live shorter than any sampling interval.
//
// The thread that waits here should do nothing else: it is raised, where the system allows it, to
// the lowest real-time priority (SCHED_FIFO 1), so that its snapshot is taken at once even on a
// core that 64 busy workers share, whose turn in the time-sharing scheduler could come a hundred
// milliseconds later and stand for a later instant than the harness's. It sleeps but for
// those few microseconds, and threads and children started by other threads do not inherit it.
// Where the priority is refused (no CAP_SYS_NICE, RLIMIT_RTPRIO 0), the harness sees a late
// snapshot from its instants and writes no CPU figure for the point.
int wait_for_stop_signal();
// In a forked child: the signals above unblocked again, so that SIGTERM ends the
// child. SIGPIPE stays ignored.
void restore_default_signals();

}  // namespace archbench
