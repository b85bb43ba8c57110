#include "servers/stop.hpp"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <stdexcept>

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
    return set;
}

void block_server_signals() {
    const sigset_t set = server_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
}

int wait_for_stop_signal() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int signal = 0;
    while (sigwait(&set, &signal) != 0) {
    }
    return signal;
}

void restore_default_signals() {
    const sigset_t set = server_signals();
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

}  // namespace archbench
