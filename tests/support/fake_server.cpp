#include "tests/support/fake_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

#include "protocol/zen.hpp"

namespace archbench::testing {

namespace {

using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC, as timerfd below

constexpr std::uint64_t kListenTag = 0;
constexpr std::uint64_t kStopTag = 1;
constexpr std::uint64_t kTimerTag = 2;
constexpr std::uint64_t kFirstClientTag = 3;
constexpr std::string_view kWrongAnswer = "Wrong.";

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

struct Client {
    explicit Client(int socket) : fd(socket) {}
    int fd;
    zen::Framer framer{zen::kQuestionEnd, zen::kDefaultMaxRequest, zen::Framer::LineBreaks::skip};
    std::string output;
    bool ignoring = false;
    bool watching_output = false;
};

// An answer waiting for its time. Answers are due in the order their questions arrived (a fixed
// delay, and freezes that only push times later, keep that order), so one queue holds them all.
struct Pending {
    std::uint64_t client;
    std::int64_t due_ns;
    std::string_view answer;
    bool hang_up;
};

class Loop {
public:
    Loop(const FakeServerBehaviour& behaviour, int listen_fd, int stop_fd,
         std::atomic<std::uint64_t>& accepted, std::atomic<std::uint64_t>& most_open,
         std::atomic<std::uint64_t>& questions)
        : behaviour_(behaviour), listen_fd_(listen_fd), stop_fd_(stop_fd), accepted_(accepted),
          most_open_(most_open), questions_(questions) {}

    void run() {
        epoll_ = epoll_create1(EPOLL_CLOEXEC);
        timer_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        watch(listen_fd_, EPOLLIN, kListenTag);
        watch(stop_fd_, EPOLLIN, kStopTag);
        watch(timer_, EPOLLIN, kTimerTag);
        epoll_event events[64];
        for (;;) {
            arm_timer();
            const int ready = epoll_wait(epoll_, events, 64, -1);
            for (int i = 0; i < ready; ++i) {
                const std::uint64_t tag = events[i].data.u64;
                if (tag == kStopTag) return close_all();
                if (tag == kListenTag) accept_clients();
                if (tag == kTimerTag) {
                    std::uint64_t expirations;
                    [[maybe_unused]] ssize_t n = read(timer_, &expirations, sizeof expirations);
                }
                if (tag >= kFirstClientTag) on_client_event(tag, events[i].events);
            }
            deliver_due_answers();
        }
    }

private:
    void watch(int fd, std::uint32_t events, std::uint64_t tag) {
        epoll_event interest{};
        interest.events = events;
        interest.data.u64 = tag;
        epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &interest);
    }

    void arm_timer() {
        itimerspec when{};  // all zero: disarmed
        if (!pending_.empty()) {
            const std::int64_t due = std::max<std::int64_t>(pending_.front().due_ns, 1);
            when.it_value = {due / 1'000'000'000, due % 1'000'000'000};
        }
        timerfd_settime(timer_, TFD_TIMER_ABSTIME, &when, nullptr);
    }

    void accept_clients() {
        for (;;) {
            const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) return;
            const int on = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
            if (start_ns_ < 0) start_ns_ = now_ns();
            if (behaviour_.keep_at_most > 0 && clients_.size() >= behaviour_.keep_at_most) {
                close(fd);
                accepted_.fetch_add(1);
                continue;
            }
            const std::uint64_t tag = next_tag_++;
            clients_.emplace(tag, Client(fd));
            watch(fd, EPOLLIN, tag);
            accepted_.fetch_add(1);
            if (clients_.size() > most_open_.load()) most_open_.store(clients_.size());
        }
    }

    // When an answer to a question that arrived at `arrival_ns` may leave: after the delay, and
    // not inside a freeze.
    std::int64_t answer_time(std::int64_t arrival_ns) const {
        std::int64_t due = arrival_ns + std::chrono::nanoseconds(behaviour_.delay).count();
        const std::int64_t every = std::chrono::nanoseconds(behaviour_.freeze_every).count();
        const std::int64_t length = std::chrono::nanoseconds(behaviour_.freeze_for).count();
        if (every > 0) {
            const std::int64_t phase = (due - start_ns_) % every;
            if (phase < length) due += length - phase;
        }
        return due;
    }

    static bool every(unsigned n, std::uint64_t count) { return n > 0 && count % n == 0; }

    void on_client_event(std::uint64_t tag, std::uint32_t events) {
        auto found = clients_.find(tag);
        if (found == clients_.end()) return;
        Client& client = found->second;
        if (events & EPOLLOUT) flush(tag, client);
        if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
        char buffer[16 * 1024];
        const ssize_t received = recv(client.fd, buffer, sizeof buffer, 0);
        if (received < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (received <= 0) return drop(tag);
        const std::int64_t now = now_ns();
        bool reset = false;
        client.framer.feed({buffer, static_cast<std::size_t>(received)}, [&](std::string_view question) {
            const std::uint64_t number = questions_.fetch_add(1) + 1;
            if (reset || client.ignoring) return;
            if (every(behaviour_.reset_every, number)) {
                reset = true;
                return;
            }
            if (every(behaviour_.ignore_every, number)) {
                client.ignoring = true;
                return;
            }
            const std::string_view answer =
                every(behaviour_.wrong_every, number) ? kWrongAnswer : zen::answer_for(question);
            pending_.push_back({tag, answer_time(now), answer, every(behaviour_.hang_up_every, number)});
        });
        if (reset) {
            const linger abortive{1, 0};
            setsockopt(client.fd, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
            drop(tag);
        }
    }

    void deliver_due_answers() {
        const std::int64_t now = now_ns();
        while (!pending_.empty() && pending_.front().due_ns <= now) {
            const Pending pending = pending_.front();
            pending_.pop_front();
            auto found = clients_.find(pending.client);
            if (found == clients_.end()) continue;  // it left, or was hung up on
            Client& client = found->second;
            if (pending.hang_up) {
                client.output.append(pending.answer.substr(0, pending.answer.size() / 2));
                flush(pending.client, client);
                drop(pending.client);
                continue;
            }
            client.output.append(pending.answer);
            flush(pending.client, client);
        }
    }

    void flush(std::uint64_t tag, Client& client) {
        std::size_t sent_total = 0;
        while (sent_total < client.output.size()) {
            const ssize_t sent = send(client.fd, client.output.data() + sent_total,
                                      client.output.size() - sent_total, MSG_NOSIGNAL);
            if (sent <= 0) break;
            sent_total += static_cast<std::size_t>(sent);
        }
        client.output.erase(0, sent_total);
        const bool want_output = !client.output.empty();
        if (want_output != client.watching_output) {
            epoll_event interest{};
            interest.events = EPOLLIN | (want_output ? EPOLLOUT : 0u);
            interest.data.u64 = tag;
            epoll_ctl(epoll_, EPOLL_CTL_MOD, client.fd, &interest);
            client.watching_output = want_output;
        }
    }

    void drop(std::uint64_t tag) {
        auto found = clients_.find(tag);
        if (found == clients_.end()) return;
        close(found->second.fd);
        clients_.erase(found);
    }

    void close_all() {
        for (auto& [tag, client] : clients_) close(client.fd);
        clients_.clear();
        close(timer_);
        close(epoll_);
    }

    const FakeServerBehaviour& behaviour_;
    int listen_fd_;
    int stop_fd_;
    std::atomic<std::uint64_t>& accepted_;
    std::atomic<std::uint64_t>& most_open_;
    std::atomic<std::uint64_t>& questions_;
    // Freezes count from the first connection, not from the server's start, so that a load
    // generator slow to start (instrumented, or on a busy machine) still meets the whole first
    // freeze.
    std::int64_t start_ns_ = -1;
    int epoll_ = -1;
    int timer_ = -1;
    std::uint64_t next_tag_ = kFirstClientTag;
    std::unordered_map<std::uint64_t, Client> clients_;
    std::deque<Pending> pending_;
};

}  // namespace

FakeServer::FakeServer(FakeServerBehaviour behaviour) : behaviour_(behaviour) {
    rlimit limit{};  // a connection is a descriptor: allow as many as the system does
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(listen_fd_, SOMAXCONN) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
        throw std::runtime_error(std::string("fake server: ") + std::strerror(errno));
    port_ = ntohs(address.sin_port);
    stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    loop_ = std::thread([this] {
        Loop(behaviour_, listen_fd_, stop_fd_, accepted_, most_open_, questions_).run();
    });
}

FakeServer::~FakeServer() {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(stop_fd_, &one, sizeof one);
    loop_.join();
    close(stop_fd_);
    close(listen_fd_);
}

}  // namespace archbench::testing
