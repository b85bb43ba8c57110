// Readiness cost: what one wait call costs when one connection is ready among N idle ones, for
// select, poll and epoll, and what registering a descriptor with epoll costs. The C10K argument
// in one chart: select and poll hand the kernel every descriptor on every call (O(N)), epoll
// keeps the interest list in the kernel and returns only what is ready (O(ready)).
//
// Idle descriptors are eventfds that are never signalled; the ready one is a socketpair with one
// unread byte, so every wait returns at once and the time is the wait call itself.
#include <benchmark/benchmark.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <vector>

namespace {

class Descriptors {
public:
    explicit Descriptors(int idle) {
        for (int i = 0; i < idle; ++i) {
            const int fd = eventfd(0, EFD_NONBLOCK);
            if (fd < 0) throw std::runtime_error("eventfd failed (open-file limit?)");
            idle_.push_back(fd);
        }
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair_) != 0) throw std::runtime_error("socketpair");
        const char byte = 'x';
        if (write(pair_[1], &byte, 1) != 1) throw std::runtime_error("write");
    }
    ~Descriptors() {
        for (int fd : idle_) close(fd);
        close(pair_[0]);
        close(pair_[1]);
    }
    const std::vector<int>& idle() const { return idle_; }
    int ready() const { return pair_[0]; }
    int highest() const {
        int highest = ready();
        for (int fd : idle_) highest = std::max(highest, fd);
        return highest;
    }

private:
    std::vector<int> idle_;
    int pair_[2];
};

void set_counters(benchmark::State& state) {
    state.SetItemsProcessed(state.iterations());
    state.counters["descriptors"] = static_cast<double>(state.range(0) + 1);
    state.counters["ns_per_descriptor"] = benchmark::Counter(
        static_cast<double>(state.iterations() * (state.range(0) + 1)),
        benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_SelectWait(benchmark::State& state) {
    const Descriptors fds(static_cast<int>(state.range(0)));
    if (fds.highest() >= FD_SETSIZE) {
        state.SkipWithError("select cannot watch a descriptor at or above FD_SETSIZE");
        return;
    }
    const int nfds = fds.highest() + 1;
    for (auto _ : state) {
        // select() overwrites its sets, so a server rebuilds them before every call.
        fd_set readable;
        FD_ZERO(&readable);
        for (int fd : fds.idle()) FD_SET(fd, &readable);
        FD_SET(fds.ready(), &readable);
        benchmark::DoNotOptimize(select(nfds, &readable, nullptr, nullptr, nullptr));
    }
    set_counters(state);
}

void BM_PollWait(benchmark::State& state) {
    const Descriptors fds(static_cast<int>(state.range(0)));
    std::vector<pollfd> watched;
    for (int fd : fds.idle()) watched.push_back({fd, POLLIN, 0});
    watched.push_back({fds.ready(), POLLIN, 0});
    for (auto _ : state)
        benchmark::DoNotOptimize(poll(watched.data(), watched.size(), -1));
    set_counters(state);
}

void watch_input(int epoll, int fd);

// An epoll instance watching every idle descriptor for input.
int epoll_of_idle(const Descriptors& fds) {
    const int epoll = epoll_create1(0);
    for (int fd : fds.idle()) watch_input(epoll, fd);
    return epoll;
}

void watch_input(int epoll, int fd) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = fd;
    epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
}

void BM_EpollWait(benchmark::State& state) {
    const Descriptors fds(static_cast<int>(state.range(0)));
    const int epoll = epoll_of_idle(fds);
    watch_input(epoll, fds.ready());
    epoll_event ready[64];
    for (auto _ : state) benchmark::DoNotOptimize(epoll_wait(epoll, ready, 64, -1));
    set_counters(state);
    close(epoll);
}

// What epoll pays instead: one epoll_ctl to add a connection and one to remove it. select and
// poll pay nothing to register, and pay it all again on every wait.
void BM_EpollRegisterAndRemove(benchmark::State& state) {
    const Descriptors fds(static_cast<int>(state.range(0)));
    const int epoll = epoll_of_idle(fds);
    for (auto _ : state) {
        watch_input(epoll, fds.ready());
        epoll_ctl(epoll, EPOLL_CTL_DEL, fds.ready(), nullptr);
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["descriptors"] = static_cast<double>(state.range(0) + 1);
    close(epoll);
}

// N idle descriptors beside the ready one: 1, 10, 100, 1000 in all (select stops short of 1024).
#define IDLE_COUNTS ArgName("idle")->Arg(0)->Arg(9)->Arg(99)->Arg(999)
BENCHMARK(BM_SelectWait)->IDLE_COUNTS;
BENCHMARK(BM_PollWait)->IDLE_COUNTS;
BENCHMARK(BM_EpollWait)->IDLE_COUNTS;
BENCHMARK(BM_EpollRegisterAndRemove)->IDLE_COUNTS;

}  // namespace

BENCHMARK_MAIN();
