#include "loadgen/idle.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <string>

#include "loadgen/clock.hpp"

namespace archbench::load {

IdleConnections::~IdleConnections() { finish(); }

static bool connect_succeeded(int fd) {
    int error = 0;
    socklen_t length = sizeof error;
    return getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0;
}

void IdleConnections::open(const std::vector<Address>& addresses, HostsPolicy policy, unsigned count,
                           unsigned timeout_ms) {
    report_ = {};
    report_.requested = count;
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
    started_ns_ = now_ns();
    fds_.assign(count, -1);
    std::vector<std::int64_t> connect_started(count, 0);
    std::vector<bool> connecting(count, false);
    std::vector<std::size_t> address_of(count, 0), tries(count, 0);
    std::deque<unsigned> to_open;  // in order; one that fallback sends to its next address joins the end
    for (unsigned index = 0; index < count; ++index) {
        if (policy == HostsPolicy::spread) address_of[index] = index % addresses.size();
        to_open.push_back(index);
    }
    std::int64_t last_scan = started_ns_;
    const std::int64_t timeout_ns = static_cast<std::int64_t>(timeout_ms) * kNanosPerMilli;
    // A connect that failed: under fallback, again on the next address while one is left to try.
    const auto connect_failed = [&](unsigned index) {
        if (policy == HostsPolicy::fallback && ++tries[index] < addresses.size()) {
            address_of[index] = (address_of[index] + 1) % addresses.size();
            to_open.push_back(index);
        } else {
            ++report_.failed;
        }
    };

    // Opening: a window of connects in progress, each finished by epoll reporting it writable.
    unsigned pending = 0;
    std::array<epoll_event, 256> events;
    while (!to_open.empty() || pending > 0) {
        for (; !to_open.empty() && pending < kOpeningAtOnce; to_open.pop_front()) {
            const unsigned next = to_open.front();
            const Address& address = addresses[address_of[next]];
            const int fd = socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                ++report_.failed;
                continue;
            }
            if (connect(fd, address.get(), address.length) != 0 && errno != EINPROGRESS) {
                close(fd);
                connect_failed(next);
                continue;
            }
            epoll_event interest{};
            interest.events = EPOLLOUT;
            interest.data.u32 = next;
            epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &interest);
            fds_[next] = fd;
            connect_started[next] = now_ns();
            connecting[next] = true;
            ++pending;
        }
        const int ready = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 10);
        for (int i = 0; i < ready; ++i) {
            const unsigned index = events[i].data.u32;
            if (!connecting[index]) {  // an open one the server closed while others still open
                check(index, events[i].events);
                continue;
            }
            const int fd = fds_[index];
            connecting[index] = false;
            --pending;
            if (connect_succeeded(fd)) {
                ++report_.opened;
                epoll_event interest{};
                interest.events = EPOLLIN | EPOLLRDHUP;  // from now on: only the server's hang-up
                interest.data.u32 = index;
                epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &interest);
            } else {
                epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
                close(fd);
                fds_[index] = -1;
                connect_failed(index);
            }
        }
        // Connects that took too long fail; looked for every 100 ms (a scan of N is cheap).
        const std::int64_t now = now_ns();
        if (now - last_scan >= 100 * kNanosPerMilli) {
            last_scan = now;
            for (unsigned index = 0; index < count; ++index) {
                if (!connecting[index] || now - connect_started[index] < timeout_ns) continue;
                connecting[index] = false;
                epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fds_[index], nullptr);
                close(fds_[index]);
                fds_[index] = -1;
                connect_failed(index);
                --pending;
            }
        }
    }
    report_.open_s = static_cast<double>(now_ns() - started_ns_) / kNanosPerSecond;
    watcher_ = std::thread([this] { watch(); });
}

// A hang-up (EOF), a reset or an error is a close by the server. Bytes the server sends (an
// error message, say) are read and dropped; the connection stays counted as open.
void IdleConnections::check(unsigned index, std::uint32_t events) {
    const int fd = fds_[index];
    if (fd < 0) return;
    bool closed = (events & (EPOLLHUP | EPOLLERR)) != 0;
    std::array<char, 4096> sink;
    while (!closed) {
        const ssize_t got = recv(fd, sink.data(), sink.size(), 0);
        if (got > 0) continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (got < 0 && errno == EINTR) continue;
        closed = true;  // 0: EOF; any other error: reset
    }
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    fds_[index] = -1;
    ++report_.closed_by_server;
    if (!report_.first_close_s)
        report_.first_close_s = static_cast<double>(now_ns() - started_ns_) / kNanosPerSecond;
}

void IdleConnections::watch() {
    std::array<epoll_event, 256> events;
    while (!stop_.load(std::memory_order_relaxed)) {
        const int ready = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 20);
        for (int i = 0; i < ready; ++i) check(events[i].data.u32, events[i].events);
    }
}

IdleReport IdleConnections::finish() {
    stop_.store(true);
    if (watcher_.joinable()) watcher_.join();
    for (int& fd : fds_)
        if (fd >= 0) {
            close(fd);
            fd = -1;
        }
    if (epoll_fd_ >= 0) {
        close(epoll_fd_);
        epoll_fd_ = -1;
    }
    return report_;
}

}  // namespace archbench::load
