#include "servers/common/stop.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdint>
#include <stdexcept>

#include "servers/common/children.hpp"

namespace archbench {

StopSignal::StopSignal() : event_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (event_fd_ < 0) throw std::runtime_error("eventfd failed");
}

StopSignal::~StopSignal() { close(event_fd_); }

void StopSignal::request() {
    std::lock_guard lock(mutex_);
    if (requested_.exchange(true, std::memory_order_acq_rel)) return;
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t written = write(event_fd_, &one, sizeof one);
    for (int fd : watched_) shutdown(fd, SHUT_RDWR);
}

void StopSignal::watch(int fd) {
    std::lock_guard lock(mutex_);
    watched_.push_back(fd);
    if (requested()) shutdown(fd, SHUT_RDWR);
}

void StopSignal::unwatch(int fd) {
    std::lock_guard lock(mutex_);
    auto it = std::find(watched_.begin(), watched_.end(), fd);
    if (it != watched_.end()) {
        *it = watched_.back();
        watched_.pop_back();
    }
}

static sigset_t server_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGUSR1);
    return set;
}

void block_server_signals() {
    const sigset_t set = server_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
}

static double seconds(const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; }

// One consistent snapshot of the whole server: no child is reaped while it is taken, so each
// child is in exactly one of children_* (reaped) and live_children_* (not yet), whatever the
// order in which children exit around it. report_at_s is when the snapshot began (CLOCK_MONOTONIC,
// which the harness reads too: a report that came long after it was asked stands for a later
// instant than the harness's own readings), report_wall_s how long it took: one clock read per
// child, short, so that the instant it stands for is sharp even on a loaded core.
static void report_resource_usage() {
    timespec began{}, ended{};
    clock_gettime(CLOCK_MONOTONIC, &began);
    rusage self{}, children{};
    ChildrenUsage live;
    {
        const auto reaping_held = hold_reaping();
        getrusage(RUSAGE_SELF, &self);
        getrusage(RUSAGE_CHILDREN, &children);
        live = live_children_usage();
    }
    clock_gettime(CLOCK_MONOTONIC, &ended);
    const long live_switches = switches_of(live.pids);
    const double took = static_cast<double>(ended.tv_sec - began.tv_sec) +
                        (ended.tv_nsec - began.tv_nsec) / 1e9;
    std::fprintf(stderr,
                 "rusage user_s=%.6f sys_s=%.6f voluntary_switches=%ld involuntary_switches=%ld "
                 "max_rss_kb=%ld children_user_s=%.6f children_sys_s=%.6f "
                 "children_voluntary_switches=%ld children_involuntary_switches=%ld "
                 "live_children=%d live_children_unreadable=%d live_children_cpu_s=%.9f "
                 "live_children_switches=%ld report_at_s=%.6f report_wall_s=%.6f\n",
                 seconds(self.ru_utime), seconds(self.ru_stime), self.ru_nvcsw, self.ru_nivcsw,
                 self.ru_maxrss, seconds(children.ru_utime), seconds(children.ru_stime),
                 children.ru_nvcsw, children.ru_nivcsw, live.count, live.unreadable, live.cpu_s,
                 live_switches, static_cast<double>(began.tv_sec) + began.tv_nsec / 1e9, took);
}

int wait_for_stop_signal() {
    const sched_param lowest_real_time{sched_get_priority_min(SCHED_FIFO)};
    pthread_setschedparam(pthread_self(), SCHED_FIFO, &lowest_real_time);  // refused: time-shared
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    for (;;) {
        int signal = 0;
        if (sigwait(&set, &signal) != 0) continue;
        if (signal != SIGUSR1) return signal;
        report_resource_usage();
    }
}

void restore_default_signals() {
    const sigset_t set = server_signals();
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

}  // namespace archbench
