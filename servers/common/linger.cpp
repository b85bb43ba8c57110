#include "servers/common/linger.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>

#include "servers/common/net.hpp"

namespace archbench {

namespace {

using Clock = std::chrono::steady_clock;

struct Lingering {
    Clock::time_point quiet_until;  // closed unless a byte arrives before then
    Clock::time_point give_up_at;   // closed then, whatever arrives
    std::size_t discarded = 0;

    Clock::time_point deadline() const { return std::min(quiet_until, give_up_at); }
};

// One thread and one epoll set for every lingering socket of the process. A socket is watched
// for input only: what it still has to send, the kernel sends by itself.
class Lingerer {
public:
    Lingerer()
        : epoll_(epoll_create1(EPOLL_CLOEXEC)), wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
        if (!epoll_ || !wake_ || !watch(wake_.fd()))
            throw std::runtime_error(std::string("lingering close: ") + std::strerror(errno));
        thread_ = std::thread([this] { run(); });  // std::system_error when out of threads
    }

    // At exit (a static's destructor, after serve() has returned): what still lingers is closed.
    ~Lingerer() {
        {
            std::lock_guard lock(mutex_);
            ending_ = true;
        }
        wake();
        thread_.join();
        for (const auto& [fd, lingering] : sockets_) close(fd);
    }
    Lingerer(const Lingerer&) = delete;
    Lingerer& operator=(const Lingerer&) = delete;

    // False when `fd` cannot be watched (the caller then closes it itself).
    bool add(int fd) {
        const auto now = Clock::now();
        std::lock_guard lock(mutex_);
        if (!watch(fd)) return false;
        sockets_[fd] = Lingering{now + kLingerQuietPeriod, now + kLingerMostTime};
        wake();  // the thread may be waiting without a timeout, or with a later one
        return true;
    }

    void wait_until_none(Clock::duration limit) {
        std::unique_lock lock(mutex_);
        none_left_.wait_for(lock, limit, [this] { return sockets_.empty(); });
    }

private:
    bool watch(int fd) {
        epoll_event event{};
        event.events = EPOLLIN;  // input, EOF, a reset
        event.data.fd = fd;
        return epoll_ctl(epoll_.fd(), EPOLL_CTL_ADD, fd, &event) == 0;
    }

    void wake() {
        const std::uint64_t one = 1;
        [[maybe_unused]] const ssize_t written = write(wake_.fd(), &one, sizeof one);
    }

    void run() {
        std::array<epoll_event, 64> ready;
        for (;;) {
            int timeout_ms = -1;
            {
                std::lock_guard lock(mutex_);
                if (ending_) return;
                timeout_ms = ms_until_next_deadline();
            }
            const int count = epoll_wait(epoll_.fd(), ready.data(), static_cast<int>(ready.size()),
                                         timeout_ms);
            const auto now = Clock::now();
            std::lock_guard lock(mutex_);
            for (int i = 0; i < count; ++i) {
                const int fd = ready[i].data.fd;
                if (fd == wake_.fd()) {
                    std::uint64_t wakes = 0;
                    [[maybe_unused]] const ssize_t read_bytes = read(fd, &wakes, sizeof wakes);
                    continue;
                }
                const auto it = sockets_.find(fd);
                if (it != sockets_.end() && !discard_input(fd, it->second, now)) close_socket(it);
            }
            for (auto it = sockets_.begin(); it != sockets_.end();)
                it = now >= it->second.deadline() ? close_socket(it) : std::next(it);
            if (sockets_.empty()) none_left_.notify_all();
        }
    }

    // Reads away what has arrived. False once the socket is done with: EOF, a reset, or enough.
    bool discard_input(int fd, Lingering& lingering, Clock::time_point now) {
        for (;;) {
            const ssize_t received =
                recv(fd, discarded_bytes_.data(), discarded_bytes_.size(), MSG_DONTWAIT);
            if (received == 0) return false;  // the client's goodbye: now the close is a FIN
            if (received < 0) {
                if (errno == EINTR) continue;
                return errno == EAGAIN || errno == EWOULDBLOCK;  // else a reset
            }
            lingering.discarded += static_cast<std::size_t>(received);
            lingering.quiet_until = now + kLingerQuietPeriod;
            if (lingering.discarded >= kLingerMostDiscarded) return false;
        }
    }

    std::unordered_map<int, Lingering>::iterator close_socket(
        std::unordered_map<int, Lingering>::iterator it) {
        epoll_ctl(epoll_.fd(), EPOLL_CTL_DEL, it->first, nullptr);
        close(it->first);
        return sockets_.erase(it);
    }

    int ms_until_next_deadline() const {
        if (sockets_.empty()) return -1;
        Clock::time_point next = Clock::time_point::max();
        for (const auto& [fd, lingering] : sockets_) next = std::min(next, lingering.deadline());
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now());
        return static_cast<int>(std::max<long long>(0, left.count()));
    }

    Socket epoll_;
    Socket wake_;  // an eventfd: a socket was added, or the process is ending
    std::mutex mutex_;
    std::condition_variable none_left_;
    std::unordered_map<int, Lingering> sockets_;  // by descriptor
    bool ending_ = false;
    std::array<char, 16 * 1024> discarded_bytes_;
    std::thread thread_;  // last: it starts once everything above exists
};

std::mutex lingerer_mutex;
std::unique_ptr<Lingerer> the_lingerer;  // destroyed at exit, which ends its thread

// The process's Lingerer, started on first use; nullptr when it cannot start (it is tried
// again next time: descriptors or threads may have been freed meanwhile). A process that forks
// after this has started must not linger in its children, which do not inherit the thread; no
// architecture does (their parents never refuse a client themselves).
Lingerer* lingerer() {
    std::lock_guard lock(lingerer_mutex);
    if (!the_lingerer) {
        try {
            the_lingerer = std::make_unique<Lingerer>();
        } catch (const std::exception& error) {
            static bool told = false;  // once: out of descriptors, every refusal would say it
            if (!told) std::fprintf(stderr, "%s; closing at once instead\n", error.what());
            told = true;
        }
    }
    return the_lingerer.get();
}

}  // namespace

void close_lingering(int fd) {
    shutdown(fd, SHUT_WR);  // a FIN after the answers: the client reads them all, then EOF
    if (Lingerer* lingering = lingerer(); lingering != nullptr && lingering->add(fd)) return;
    discard_unread_input(fd);  // what can be done at once: no reset for what has arrived
    close(fd);
}

void finish_lingering_closes() {
    Lingerer* lingering = nullptr;
    {
        std::lock_guard lock(lingerer_mutex);
        lingering = the_lingerer.get();
    }
    if (lingering != nullptr) lingering->wait_until_none(kLingerMostTime);
}

}  // namespace archbench
