// fibers: thread-per-connection code on user-level threads: each client is a fiber that runs the
// very blocking conversation of `threaded` (serve_client_blocking), and an event loop underneath
// turns each "would block" into a switch to another fiber (Capriccio, von Behren et al.,
// SOSP 2003, and their "Why Events Are a Bad Idea"; Go's goroutines over its netpoller).
//
// How it works: --threads kernel threads, each a Scheduler: an epoll set, a queue of ready
// fibers, and a loop that runs them in turn and, once none is ready, waits in epoll_wait().
// Sockets are non-blocking; when a fiber's read() or write() finds its socket not ready
// (EAGAIN), the conversation asks its Waiter, the Scheduler, to wait: the fiber is parked (a
// context switch, a few instructions) until epoll reports its socket. Each socket is registered
// once, edge-triggered for both directions; the edges a fiber has not looked at yet are kept in
// its `readable` and `writable` flags, so that none is lost while it runs. Thread 0 also
// accepts, and deals the clients out round robin (another thread's through a locked inbox and an
// eventfd): M fibers on N kernel threads, each fiber on one thread for life. --idle-timeout: a
// parked fiber's wait has a deadline, swept as in the event loops. Boost.Context, not
// Boost.Fiber: Boost.Fiber's schedulers sleep on a condition variable, and joining them to epoll
// takes a custom algorithm and a future per wait; over the bare switch (common/user_thread.hpp)
// the scheduler is the short loop below, which is the design this file is about.
// Good at: the code of `threaded` at a few kilobytes per client instead of a kernel thread, a
// switch without the kernel, and tens of thousands of clients on a few threads.
// Where it breaks: a fiber is never preempted, and the kernel knows nothing of fibers: a request
// that blocks its kernel thread (--sleep-us sleeps in the kernel, as a disk read or a blocking
// library would) stalls every fiber on that thread, and with --threads 1 every client: the
// lesson Capriccio learnt, which is why it (and Go) wrap every blocking call. --work-us likewise
// holds its thread. Stacks are fixed: 256 KiB reserved per client; a conversation that outgrew
// it would hit the guard page and end the whole server.
#include <sys/epoll.h>
#include <poll.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "servers/common/architecture.hpp"
#include "servers/common/epoll_loop.hpp"  // new_epoll_set()
#include "servers/common/nonblocking.hpp"
#include "servers/common/user_thread.hpp"
#include "servers/common/workers.hpp"

namespace archbench {

namespace {

constexpr std::size_t kStackBytes = 256 * 1024;
constexpr int kAcceptsPerTurn = 64;  // the listener is level-triggered: the rest come next turn
using Clock = IdleSweep::Clock;

class Scheduler;

// One client: its socket, and the user-level thread that converses with it.
struct Fiber {
    Fiber(Scheduler& scheduler, AcceptedClient accepted);

    AcceptedClient client;
    short waiting_for = 0;  // POLLIN or POLLOUT while parked, else 0
    bool readable = false;  // edges that epoll reported and the fiber has not looked at yet
    bool writable = false;
    bool wake_result = false;  // what its wait returns: ready (true), or give up (false)
    Clock::time_point deadline = Clock::time_point::max();
    UserThread thread;  // last: its body uses the members above
};

class Scheduler final : public Waiter {
public:
    Scheduler(const ServerOptions& options, StopSignal& stop)
        : options_(options), stop_(stop), epoll_(new_epoll_set()) {
        watch(stop.fd(), EPOLLIN, &stop_tag_);  // level-triggered, as are these two
        watch(inbox_.fd(), EPOLLIN, &inbox_tag_);
    }

    // From the accepting thread: a client for this Scheduler to run.
    void hand_over(AcceptedClient client) { inbox_.put(std::move(client)); }

    // The Waiter of every fiber on this thread: park the running one until its socket is ready.
    bool wait(int, short events, int timeout_ms) override {
        Fiber& fiber = *running_;
        if (std::exchange(events == POLLIN ? fiber.readable : fiber.writable, false)) return true;
        if (stopping_ || timeout_ms == 0) return false;
        fiber.waiting_for = events;
        fiber.deadline = timeout_ms < 0 ? Clock::time_point::max()
                                        : Clock::now() + std::chrono::milliseconds(timeout_ms);
        fiber.thread.suspend();  // to run(), which resumes it once wake() was called
        return fiber.wake_result;
    }

    // The body of every fiber: the conversation of `threaded`, unchanged.
    void converse(Fiber& fiber) {
        const int fd = fiber.client.socket.fd();
        try {
            serve_client_blocking(ClientStreams{fd, fd}, options_, *this);
        } catch (const std::exception& error) {  // out of memory: this client only
            std::fprintf(stderr, "fibers: %s: connection closed\n", error.what());
        }
        // Out before it closes: a lingering duplicate would keep it, and its events, alive.
        epoll_ctl(epoll_.fd(), EPOLL_CTL_DEL, fd, nullptr);
        fiber.client = {};
    }

    // The loop: run the ready fibers, then wait for sockets. `all`: the Schedulers; thread 0
    // accepts (listen_fd >= 0) and deals the clients out to them.
    void run(int listen_fd, ConnectionLimit& limit, std::span<const std::unique_ptr<Scheduler>> all) {
        std::optional<Acceptor> acceptor;
        if (listen_fd >= 0) acceptor.emplace(listen_fd, limit);
        bool watching_listener = false;
        std::size_t next = 0;  // the Scheduler that gets the next client
        IdleSweep idle_sweep(options_.idle_timeout);
        std::array<epoll_event, 256> ready;
        for (;;) {
            run_ready_fibers();
            if (stopping_ && fibers_.empty()) return;
            if (acceptor && watching_listener == (acceptor->paused() || stopping_)) {
                watching_listener = !watching_listener;
                if (watching_listener) watch(listen_fd, EPOLLIN, &listener_tag_);
                else epoll_ctl(epoll_.fd(), EPOLL_CTL_DEL, listen_fd, nullptr);
            }
            const int timeout_ms = idle_sweep.wait_timeout_ms(acceptor ? acceptor->wait_timeout_ms() : -1);
            const int count = epoll_wait(epoll_.fd(), ready.data(), static_cast<int>(ready.size()), timeout_ms);
            if (count < 0 && errno != EINTR)
                throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
            for (int i = 0; i < count; ++i) {
                void* const tag = ready[i].data.ptr;
                if (tag == &stop_tag_) {
                    stop_fibers();
                } else if (tag == &inbox_tag_) {
                    take_inbox();
                } else if (acceptor && tag == &listener_tag_) {
                    // A batch per turn: a flood must not wait for all its stacks to be made.
                    for (int batch = 0; batch < kAcceptsPerTurn; ++batch) {
                        AcceptedClient client = acceptor->accept_next();
                        if (!client) break;
                        Scheduler& chosen = *all[next++ % all.size()];
                        if (&chosen == this) start(std::move(client));
                        else chosen.hand_over(std::move(client));
                    }
                } else {
                    on_socket_event(*static_cast<Fiber*>(tag), ready[i].events);
                }
            }
            if (const auto now = Clock::now(); idle_sweep.due(now))  // --idle-timeout
                for (auto& [fiber, owned] : fibers_)
                    if (fiber->waiting_for != 0 && fiber->deadline <= now) wake(*fiber, false);
        }
    }

private:
    struct Tag {};

    void watch(int fd, std::uint32_t events, void* tag) {
        epoll_event event{.events = events, .data = {.ptr = tag}};
        if (epoll_ctl(epoll_.fd(), EPOLL_CTL_ADD, fd, &event) != 0)
            throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
    }

    void start(AcceptedClient client) {
        if (stopping_) return;  // closed
        try {
            auto fiber = std::make_unique<Fiber>(*this, std::move(client));
            epoll_event event{.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data = {.ptr = fiber.get()}};
            if (epoll_ctl(epoll_.fd(), EPOLL_CTL_ADD, fiber->client.socket.fd(), &event) != 0)
                throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
            ready_.push_back(fiber.get());
            fibers_.emplace(fiber.get(), std::move(fiber));
        } catch (const std::exception& error) {  // no memory for a stack, or epoll refused
            std::fprintf(stderr, "fibers: %s: connection closed\n", error.what());
        }
    }

    void take_inbox() {
        for (AcceptedClient& client : inbox_.take_all()) start(std::move(client));
    }

    void on_socket_event(Fiber& fiber, std::uint32_t events) {
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) fiber.readable = true;
        if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) fiber.writable = true;
        bool& edge = fiber.waiting_for == POLLIN ? fiber.readable : fiber.writable;
        if (fiber.waiting_for != 0 && std::exchange(edge, false)) wake(fiber, true);
    }

    void wake(Fiber& fiber, bool result) {
        fiber.waiting_for = 0;
        fiber.wake_result = result;
        ready_.push_back(&fiber);
    }

    void stop_fibers() {
        stopping_ = true;
        epoll_ctl(epoll_.fd(), EPOLL_CTL_DEL, stop_.fd(), nullptr);  // it stays readable
        for (auto& [fiber, owned] : fibers_)
            if (fiber->waiting_for != 0) wake(*fiber, false);
    }

    void run_ready_fibers() {
        while (!ready_.empty()) {
            Fiber* fiber = ready_.front();
            ready_.pop_front();
            running_ = fiber;
            fiber->thread.resume();  // until it waits again, or its client has gone
            running_ = nullptr;
            if (fiber->thread.finished()) fibers_.erase(fiber);
        }
    }

    const ServerOptions& options_;
    StopSignal& stop_;
    Socket epoll_;
    ClientInbox inbox_;  // clients handed over by the accepting thread
    Tag stop_tag_, inbox_tag_, listener_tag_;
    std::unordered_map<Fiber*, std::unique_ptr<Fiber>> fibers_;
    std::deque<Fiber*> ready_;
    Fiber* running_ = nullptr;
    bool stopping_ = false;
};

Fiber::Fiber(Scheduler& scheduler, AcceptedClient accepted)
    : client(std::move(accepted)), thread([this, &scheduler] { scheduler.converse(*this); }, kStackBytes) {}

void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    ConnectionLimit limit(options.max_connections);
    std::vector<std::unique_ptr<Scheduler>> schedulers;  // every epoll set made before any accept
    for (unsigned worker = 0; worker < options.threads; ++worker)
        schedulers.push_back(std::make_unique<Scheduler>(options, stop));
    run_worker_threads(options.threads, stop, [&](unsigned worker) {
        schedulers[worker]->run(worker == 0 ? listen_fd : -1, limit, schedulers);
    });
}

}  // namespace

extern const Architecture fibers_architecture{
    .name = "fibers",
    .description = "a fiber per connection running threaded's blocking code; --threads epoll schedulers",
    .traits = {.concurrent = true,
               .process_based = false,
               .connection_limit = 0,
               .family = Family::user_threads},
    .serve = serve,
};

}  // namespace archbench
