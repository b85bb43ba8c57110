// io-uring: one thread hands the kernel whole operations (accept, recv, send) through an
// io_uring and reacts as they complete (liburing). epoll.cpp is the readiness model ("which
// sockets are ready? then I call recv"); this is the completion model ("receive into this
// buffer and tell me when it is done"), as Windows' IOCP is.
//
// How it works: the server fills entries of a submission ring shared with the kernel, and one
// io_uring_submit_and_wait() submits the batch and waits for completions, which it reads from a
// second ring: one system call per turn of the loop, however many sockets it touched. A client
// has one operation in the ring at a time: a recv into its own buffer, then a send of the
// answers (resubmitted for the rest after a partial send), then the next recv. So at most one
// read's answers (a read is sized to keep them under 1 MiB) wait for a client, and a client is
// freed only once its operation has come back: the kernel never writes into freed memory, and a
// completion's user_data, the client's socket number, never names a client that is gone. An
// accept and a poll on stop.fd() are always in the ring too; on stop everything is cancelled,
// and sockets and ring are freed once every operation has come back. With --idle-timeout, a
// timeout in the ring also completes every IdleSweep period: the clients whose IdleClock ran
// out are then shut down, which ends the operation they have out (a recv returns 0), and they
// are freed as if they had left.
// Good at: few system calls under load, and no readiness round trip: the data is already in
// the buffer when the server hears of it. Files work the same way, which epoll cannot watch.
// Where it breaks: one thread, as epoll.cpp: one core at most, and a slow request (--work-us,
// --sleep-us) stalls every client. A waiting recv pins its 16 kB buffer, idle clients' too
// (provided-buffer rings would share a pool). Linux only, 5.19 or later here, and often refused
// (container runtimes' seccomp profiles, kernel.io_uring_disabled) for its record of security
// bugs: the server then says so instead of listening.
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "servers/common/architecture.hpp"
#include "servers/common/limits.hpp"
#include "servers/common/linger.hpp"
#include "servers/common/net.hpp"
#include "servers/common/nonblocking.hpp"

namespace archbench {

namespace {  // this file's own types: other architectures may name theirs Server too

constexpr unsigned kRingEntries = 256;  // submissions per batch; far more may be in flight
// After accept() fails for want of descriptors or memory, wait this long before trying again.
constexpr __kernel_timespec kAcceptRetryPause = {.tv_sec = 0, .tv_nsec = 10'000'000};

// A completion's user_data says what it belongs to: a descriptor (the listener, stop.fd() or a
// client's socket: a number, which cannot dangle as a pointer could) or one of these, which no
// descriptor number reaches.
constexpr std::uint64_t kAcceptPauseOver = std::uint64_t{1} << 32;
constexpr std::uint64_t kCancelEverything = kAcceptPauseOver + 1;
constexpr std::uint64_t kIdleSweep = kAcceptPauseOver + 2;

std::uint64_t tag(int fd) { return static_cast<std::uint64_t>(fd); }

std::string refusal(int error) {
    std::string reason = std::string("the kernel refuses io_uring (io_uring_setup: ") +
                         std::strerror(error) + ")";
    std::ifstream disabled("/proc/sys/kernel/io_uring_disabled");
    if (int level = 0; disabled >> level && level != 0)
        reason += "; kernel.io_uring_disabled is " + std::to_string(level);
    return reason;
}

class Ring {
public:
    struct Completion {
        std::uint64_t user_data;
        int result;  // what the system call would have returned, or -errno
    };

    Ring() {
        if (const int error = io_uring_queue_init(kRingEntries, &ring_, 0); error < 0)
            throw std::runtime_error(refusal(-error));
    }
    ~Ring() { io_uring_queue_exit(&ring_); }
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;

    // A submission entry for an io_uring_prep_*() to fill in, tagged with `user_data`. Each
    // submission comes back as exactly one completion; in_flight() counts those still out.
    io_uring_sqe* prepare(std::uint64_t user_data) {
        io_uring_sqe* entry = io_uring_get_sqe(&ring_);
        if (entry == nullptr) {  // the batch is full: hand it to the kernel, start the next
            io_uring_submit(&ring_);
            if ((entry = io_uring_get_sqe(&ring_)) == nullptr)
                throw std::runtime_error("io_uring: the submission queue does not drain");
        }
        io_uring_sqe_set_data64(entry, user_data);
        ++in_flight_;
        return entry;
    }

    // Submits what was prepared and waits until at least one completion has come.
    void submit_and_wait() {
        const int result = io_uring_submit_and_wait(&ring_, 1);
        if (result < 0 && result != -EINTR && result != -EBUSY)  // EBUSY: completions first
            throw std::runtime_error(std::string("io_uring_submit_and_wait: ") +
                                     std::strerror(-result));
    }

    std::optional<Completion> next_completion() {
        io_uring_cqe* entry = nullptr;
        if (io_uring_peek_cqe(&ring_, &entry) != 0) return std::nullopt;
        const Completion completion{io_uring_cqe_get_data64(entry), entry->res};
        io_uring_cqe_seen(&ring_, entry);
        --in_flight_;
        return completion;
    }

    std::size_t in_flight() const { return in_flight_; }

private:
    io_uring ring_;
    std::size_t in_flight_ = 0;
};

struct Client {
    Client(Socket socket, const ServerOptions& options, Admission admission)
        : admission(std::move(admission)),
          socket(std::move(socket)),
          conversation(options.workload),
          idle(options.idle_timeout) {}

    Admission admission;  // declared first, so given back once the socket is closed
    Socket socket;
    zen::Conversation conversation;
    IdleClock idle;
    std::array<char, 16 * 1024> input;  // the kernel writes into it while a recv is out
    std::string output;    // the answers to the last recv: while it holds any, a send is out
    std::size_t sent = 0;  // how much of output has been sent
    bool closing = false;  // after an over-long question: close once the refusal is sent
};

class Server {
public:
    Server(int listen_fd, const ServerOptions& options, StopSignal& stop)
        : listen_fd_(listen_fd),
          stop_fd_(stop.fd()),
          options_(options),
          read_size_(bounded_read_size(options.workload, sizeof(Client::input))),
          limit_(options.max_connections),
          idle_sweep_(options.idle_timeout) {}

    void run() {
        submit_accept();
        io_uring_prep_poll_add(ring_.prepare(tag(stop_fd_)), stop_fd_, POLLIN);
        if (idle_sweep_.enabled()) submit_idle_sweep();
        // After a stop, the loop goes on until every operation has come back.
        while (!stopping_ || ring_.in_flight() > 0) {
            ring_.submit_and_wait();
            while (const std::optional<Ring::Completion> done = ring_.next_completion())
                on_completion(done->user_data, done->result);
        }
    }  // then the clients' sockets are closed, and the ring last

private:
    void on_completion(std::uint64_t user_data, int result) {
        if (user_data == tag(stop_fd_)) return start_stopping();
        if (stopping_) return;  // cancelled, or done just before: nothing new is started
        if (user_data == tag(listen_fd_)) return on_accepted(result);
        if (user_data == kAcceptPauseOver) return submit_accept();
        if (user_data == kIdleSweep) return sweep_idle_clients();
        // Found: a client is erased only once its one operation has come back.
        const auto it = clients_.find(static_cast<int>(user_data));
        Client& client = it->second;
        const bool open =
            client.output.empty() ? on_received(client, result) : on_sent(client, result);
        if (!open) clients_.erase(it);  // closes the socket
    }

    void submit_accept() {
        io_uring_prep_accept(ring_.prepare(tag(listen_fd_)), listen_fd_, nullptr, nullptr,
                             SOCK_CLOEXEC);
    }
    void submit_idle_sweep() {
        io_uring_prep_timeout(ring_.prepare(kIdleSweep), &sweep_period_, 0, 0);
    }
    void submit_recv(Client& client) {
        const int fd = client.socket.fd();
        io_uring_prep_recv(ring_.prepare(tag(fd)), fd, client.input.data(), read_size_, 0);
    }
    void submit_send(Client& client) {
        const int fd = client.socket.fd();
        io_uring_prep_send(ring_.prepare(tag(fd)), fd, client.output.data() + client.sent,
                           client.output.size() - client.sent, MSG_NOSIGNAL);
    }

    void on_accepted(int result) {
        if (result >= 0) {
            told_accept_error_ = false;
            Socket socket(result);
            Admission admission(limit_);
            if (!admission) return submit_accept();  // beyond --max-connections: closed at once
            const int on = 1;
            setsockopt(result, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
            Client& client =
                clients_.try_emplace(result, std::move(socket), options_, std::move(admission))
                    .first->second;
            submit_recv(client);
            return submit_accept();
        }
        if (result == -ECONNABORTED || result == -EINTR || result == -EPROTO)
            return submit_accept();  // that one client only
        // EMFILE, ENFILE (out of descriptors), ENOBUFS, ENOMEM: the client stays in the backlog,
        // so accepting again at once would fail again at once, a busy loop. Wait on a timeout
        // in the ring, while closing clients give descriptors back.
        if (!told_accept_error_)
            std::fprintf(stderr, "accept: %s; retrying every %lld ms\n", std::strerror(-result),
                         static_cast<long long>(kAcceptRetryPause.tv_nsec / 1'000'000));
        told_accept_error_ = true;
        io_uring_prep_timeout(ring_.prepare(kAcceptPauseOver), &accept_pause_, 0, 0);
    }

    // Each returns whether the client stays open.
    bool on_received(Client& client, int result) {
        if (result <= 0) return false;  // EOF (a goodbye, or mid-question) or a reset: close
        // The workload (--work-us, --sleep-us) runs right here, on the loop's only thread.
        const zen::FrameStatus status = client.conversation.on_input(
            {client.input.data(), static_cast<std::size_t>(result)}, client.output);
        client.closing = status == zen::FrameStatus::close_after;
        client.idle.questions_answered(client.conversation.questions_answered());
        if (client.output.empty())
            submit_recv(client);  // only part of a question so far
        else
            submit_send(client);
        return true;
    }

    bool on_sent(Client& client, int result) {
        if (result < 0) return false;  // EPIPE, ECONNRESET: the client is gone
        client.sent += static_cast<std::size_t>(result);
        if (client.sent < client.output.size()) {
            submit_send(client);  // a partial send: the rest, once the socket takes it
            return true;
        }
        client.output.clear();  // keeps its capacity: no allocation per answer once warm
        client.sent = 0;
        if (client.closing) {  // the refusal is sent: the socket lingers (servers/common/linger.hpp)
            close_lingering(client.socket.release());
            return false;
        }
        submit_recv(client);
        return true;
    }

    // --idle-timeout: a client cannot be freed while its operation is out (the kernel may still
    // write into its buffer), so an expired one is shut down instead: its recv then completes
    // with 0 (its send with an error), and it is freed as a client that left.
    void sweep_idle_clients() {
        const auto now = IdleClock::Clock::now();
        for (auto& [fd, client] : clients_)
            if (client.idle.expired(now)) shutdown(fd, SHUT_RDWR);
        submit_idle_sweep();
    }

    // Every operation still out comes back, cancelled (-ECANCELED) or done; once none is out,
    // nothing in the kernel refers to a client's buffers any more, and they can be freed.
    void start_stopping() {
        stopping_ = true;
        io_uring_prep_cancel64(ring_.prepare(kCancelEverything), 0, IORING_ASYNC_CANCEL_ANY);
    }

    Ring ring_;  // declared first, destroyed last
    const int listen_fd_;
    const int stop_fd_;
    const ServerOptions& options_;
    const std::size_t read_size_;
    ConnectionLimit limit_;  // declared before `clients_`, which give their places back to it
    std::unordered_map<int, Client> clients_;  // by socket, the user_data of its operations
    IdleSweep idle_sweep_;
    __kernel_timespec sweep_period_ = {
        .tv_sec = idle_sweep_.period().count() / 1000,
        .tv_nsec = idle_sweep_.period().count() % 1000 * 1'000'000};
    __kernel_timespec accept_pause_ = kAcceptRetryPause;
    bool told_accept_error_ = false;
    bool stopping_ = false;
};

// A ring, and one that can cancel every operation at once (Linux 5.19), which stopping needs.
std::string io_uring_unavailable_reason() {
    try {
        Ring ring;
        io_uring_prep_cancel64(ring.prepare(kCancelEverything), 0, IORING_ASYNC_CANCEL_ANY);
        ring.submit_and_wait();
        const std::optional<Ring::Completion> done = ring.next_completion();
        if (done && done->result == -EINVAL)
            return "this kernel's io_uring cannot cancel all operations at once (needs Linux 5.19)";
        return "";
    } catch (const std::runtime_error& refused) {
        return refused.what();
    }
}

}  // namespace

static void serve(int listen_fd, const ServerOptions& options, StopSignal& stop) {
    Server server(listen_fd, options, stop);
    server.run();
}

extern const Architecture io_uring_architecture{
    .name = "io-uring",
    .description = "one thread, io_uring (liburing): accept, recv and send completed by the kernel",
    .traits = {.concurrent = true,
               .process_based = false,
               .connection_limit = 0,
               .family = Family::event_loop,
               .one_io_thread = true,
               .blocking_stalls_every_client = true},
    .serve = serve,
    .unavailable_reason = io_uring_unavailable_reason,
};

}  // namespace archbench
