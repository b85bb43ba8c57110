#include "servers/common/net.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "servers/common/architecture.hpp"
#include "servers/common/limits.hpp"
#include "servers/common/linger.hpp"

namespace archbench {

void Socket::reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
}

static std::runtime_error listen_error(const std::string& where, const char* what) {
    return std::runtime_error("cannot listen on " + where + ": " + what);
}

static std::uint16_t port_of(const sockaddr_storage& address) {
    return ntohs(address.ss_family == AF_INET
                     ? reinterpret_cast<const sockaddr_in&>(address).sin_port
                     : reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
}

static Socket bind_and_listen(const sockaddr_storage& address, socklen_t length, bool reuse_port,
                              const std::string& where) {
    Socket socket(::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!socket) throw listen_error(where, std::strerror(errno));
    const int on = 1;
    setsockopt(socket.fd(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    // Not for every server: SO_REUSEPORT lets any later socket of the same user bind this port
    // too and take a share of its clients, so a second server started on a busy port would
    // quietly split the load instead of failing with "Address already in use".
    if (reuse_port) setsockopt(socket.fd(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
    if (bind(socket.fd(), reinterpret_cast<const sockaddr*>(&address), length) != 0 ||
        listen(socket.fd(), SOMAXCONN) != 0)
        throw listen_error(where, std::strerror(errno));
    return socket;
}

Listener listen_on(const std::string& host, std::uint16_t port, bool reuse_port) {
    const std::string where = host + ":" + std::to_string(port);
    sockaddr_storage address{};
    socklen_t length = 0;
    if (auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
        inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        length = sizeof *v4;
    } else if (auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
               inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        length = sizeof *v6;
    } else {
        throw listen_error(where, "not a numeric IPv4 or IPv6 address");
    }

    Socket socket = bind_and_listen(address, length, reuse_port, where);
    getsockname(socket.fd(), reinterpret_cast<sockaddr*>(&address), &length);
    return Listener{std::move(socket), host, port_of(address)};
}

Socket listen_again(int listen_fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (getsockname(listen_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
        throw std::runtime_error(std::string("getsockname: ") + std::strerror(errno));
    return bind_and_listen(address, length, true,
                           "port " + std::to_string(port_of(address)) + " again");
}

void set_nonblocking(int fd) {
    const int flags = fcntl(fd, F_GETFL, 0);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static bool out_of_resources(int error) {
    return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

static int accept_and_configure(int listen_fd) {
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
        const int on = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    }
    return fd;
}

// Out of descriptors or memory, a pending client stays in the backlog until one is freed, and
// retrying at once would spin at 100% CPU. So one thread of the process at a time waits it out,
// retrying every 10 ms, the pause growing to 100 ms while it lasts; every other thread that runs
// out waits for the gate, asleep, and tries at once when it gets it (a descriptor may be free by
// then). Without the gate, a pool of 200 workers, each retrying every 100 ms, wakes about 1400
// times a second at the limit (prethreaded, 64 descriptors, 200 clients); with it, 10 times.
// Holding the gate in a blocking accept() once descriptors are back is harmless: the waiters get
// it in turn, as Stevens' serv07 workers take a lock around accept().
static int accept_when_resources_return(int listen_fd, StopSignal& stop) {
    static std::mutex gate;  // running out is a condition of the process (EMFILE), not of a socket
    const std::lock_guard lock(gate);
    std::chrono::milliseconds pause{10};
    while (!stop.requested()) {
        const int fd = accept_and_configure(listen_fd);
        if (fd >= 0 || !out_of_resources(errno)) return fd;
        std::this_thread::sleep_for(pause);
        pause = std::min(2 * pause, std::chrono::milliseconds(100));
    }
    return -1;
}

int accept_client(int listen_fd, StopSignal& stop) {
    bool told_out_of_resources = false;
    while (!stop.requested()) {
        int fd = accept_and_configure(listen_fd);
        if (fd < 0 && out_of_resources(errno)) {
            if (!told_out_of_resources)
                std::fprintf(stderr, "accept: %s; retrying every 10 to 100 ms\n",
                             std::strerror(errno));
            told_out_of_resources = true;
            fd = accept_when_resources_return(listen_fd, stop);
        }
        if (fd >= 0) return fd;
        // EINTR, ECONNABORTED and friends concern one attempt; EINVAL after a stop ends the loop.
    }
    return -1;
}

bool send_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t sent = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
}

void discard_unread_input(int fd) {
    constexpr std::size_t kMostDiscarded = 1 << 20;
    std::array<char, 16 * 1024> discarded_bytes;
    for (std::size_t discarded = 0; discarded < kMostDiscarded;) {
        const ssize_t received = recv(fd, discarded_bytes.data(), discarded_bytes.size(), MSG_DONTWAIT);
        if (received <= 0) return;
        discarded += static_cast<std::size_t>(received);
    }
}

// A socket shut down by a stop is readable (read() then returns 0).
bool PollWaiter::wait(int fd, short events, int timeout_ms) {
    for (;;) {
        pollfd ready{fd, events, 0};
        const int count = poll(&ready, 1, timeout_ms);
        if (count > 0) return true;
        if (count == 0) return false;  // the deadline passed
        if (errno != EINTR) return true;  // let read() or write() report what is wrong
    }
}

namespace {

bool would_block() { return errno == EAGAIN || errno == EWOULDBLOCK; }

// Writes all of `bytes`; false when the client is gone.
bool write_all(int fd, std::string_view bytes, Waiter& waiter) {
    while (!bytes.empty()) {
        const ssize_t written = write(fd, bytes.data(), bytes.size());  // SIGPIPE is ignored
        if (written < 0) {
            if (errno == EINTR) continue;
            if (would_block() && waiter.wait(fd, POLLOUT, -1)) continue;
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(written));
    }
    return true;
}

}  // namespace

// Each byte read can end at most one question (an HTTP request takes several), and each answer is
// at most zen::longest_answer() bytes long, so the answers to one read of this size add at most
// kOutputBound bytes to the output.
std::size_t bounded_read_size(const zen::Workload& workload, std::size_t buffer_size) {
    return std::clamp<std::size_t>(kOutputBound / zen::longest_answer(workload), 1, buffer_size);
}

void serve_client_blocking(int fd, const ServerOptions& options) {
    PollWaiter waiter;
    serve_client_blocking(ClientStreams{fd, fd}, options, waiter);
}

void serve_client_blocking(ClientStreams client, const ServerOptions& options, Waiter& waiter) {
    zen::Conversation conversation(options.workload);
    IdleClock idle(options.idle_timeout);
    std::array<char, 16 * 1024> input;
    // One read's answers are built whole before they are sent: the read is sized so that they
    // stay under about 1 MiB (16 kB of questions padded by --reply-bytes 1000000 would be 700 MB).
    const std::size_t read_size = bounded_read_size(options.workload, input.size());
    std::string output;
    for (;;) {
        // Only with --idle-timeout: without it, a request costs its read() and write() alone.
        if (idle.enabled() && !waiter.wait(client.in, POLLIN, idle.remaining_ms())) return;
        const ssize_t received = read(client.in, input.data(), read_size);
        if (received < 0 && errno == EINTR) continue;
        if (received < 0 && would_block()) {  // a non-blocking descriptor: wait, then read
            if (!waiter.wait(client.in, POLLIN, idle.remaining_ms())) return;
            continue;
        }
        if (received <= 0) return;  // EOF, reset, or shut down by a stop
        const zen::FrameStatus status =
            conversation.on_input({input.data(), static_cast<std::size_t>(received)}, output);
        if (!write_all(client.out, output, waiter)) return;
        output.clear();
        if (status == zen::FrameStatus::close_after) {
            // The caller closes its descriptor; a duplicate lingers on, so that the refusal
            // arrives whole.
            if (const int lingering = fcntl(client.in, F_DUPFD_CLOEXEC, 0); lingering >= 0)
                close_lingering(lingering);
            else
                discard_unread_input(client.in);  // out of descriptors: the best that can be done now
            return;
        }
        idle.questions_answered(conversation.questions_answered());
    }
}

}  // namespace archbench
