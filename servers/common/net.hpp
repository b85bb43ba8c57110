// Socket helpers shared by every architecture: owning a descriptor, the listening socket, and
// the blocking calls that the blocking servers make the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace archbench {

namespace zen {
struct Workload;
}
class StopSignal;
struct ServerOptions;

// Output waiting for a client beyond this many bytes stops reading from it until it drains: a
// client that sends questions but never reads its answers costs a bounded amount of memory.
inline constexpr std::size_t kOutputBound = 1 << 20;

// How many bytes one read may take, at most `buffer_size`, so that the answers to it cannot
// pass kOutputBound by much: every server answers a whole read before it reads again. Without
// it, 16 kB of one-byte questions padded by --reply-bytes 1000000 would be 16 GB of answers.
std::size_t bounded_read_size(const zen::Workload& workload, std::size_t buffer_size);

// Owns one descriptor and closes it once.
class Socket {
public:
    Socket() = default;
    explicit Socket(int fd) : fd_(fd) {}
    ~Socket() { reset(); }
    Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Socket& operator=(Socket&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }

    int fd() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }
    void reset();
    explicit operator bool() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

struct Listener {
    Socket socket;
    std::string host;
    std::uint16_t port;  // the real port, also when 0 was asked for
};

// Binds and listens (SO_REUSEADDR, backlog SOMAXCONN) on a numeric IPv4 or IPv6 address.
// Throws std::runtime_error with a one-line reason. With `reuse_port`, SO_REUSEPORT is set
// before bind(), as it must be on every socket that is to share the port: listen_again() can
// then bind more listeners to it.
Listener listen_on(const std::string& host, std::uint16_t port, bool reuse_port = false);

// Another listening socket bound to the address and port of `listen_fd`, which listen_on() made
// with `reuse_port`. The kernel then hands each new connection to one of them, chosen by a hash
// of the client's address and port. Throws std::runtime_error.
Socket listen_again(int listen_fd);

void set_nonblocking(int fd);

// Blocking accept() of the next client. Returns -1 once `stop` is requested. Failures that
// concern one connection (ECONNABORTED, EINTR) are retried; running out of descriptors is logged
// and retried after a pause instead of spinning, by one thread of the process at a time.
int accept_client(int listen_fd, StopSignal& stop);

// Sends all of `bytes` on a blocking socket; false when the peer is gone.
bool send_all(int fd, std::string_view bytes);

// close() on a socket with unread input sends a reset, not a FIN, and a reset makes the kernel
// drop answer bytes not yet delivered. Reading away (without blocking) what has arrived lets the
// close be an orderly one whenever the client has stopped sending. (close_lingering(),
// servers/common/linger.hpp, also waits for what the client is still sending; this is its fallback.)
void discard_unread_input(int fd);

// How a blocking conversation waits for its client: in the kernel, in poll() (a thread or a
// process per client), or by parking a user-level thread until its event loop sees the socket
// ready (fibers.cpp, whose sockets are non-blocking).
class Waiter {
public:
    // Waits until `fd` is ready for `events` (POLLIN or POLLOUT), `timeout_ms` at most (-1: no
    // limit). False: the time ran out, or the server stops; the client is then let go.
    virtual bool wait(int fd, short events, int timeout_ms) = 0;

protected:
    ~Waiter() = default;
};

// The blocking servers' Waiter: poll().
class PollWaiter final : public Waiter {
public:
    bool wait(int fd, short events, int timeout_ms) override;
};

// The two directions of one client: one socket (in == out), or inetd's descriptors 0 and 1.
struct ClientStreams {
    int in;
    int out;
};

// Stevens' web_child(): serves one client on a blocking socket until it leaves, sends an
// over-long question (its socket then lingers, see servers/common/linger.hpp), or the socket is shut
// down. Shared by every blocking architecture, which all get --idle-timeout from it: with it,
// the client is also let go once it completes no question within the timeout (IdleClock),
// waiting for input in poll() rather than in read().
void serve_client_blocking(int fd, const ServerOptions& options);
// The same conversation on `client.in` and `client.out` (--stdio), waiting with `waiter`: where
// a read or a write finds a non-blocking descriptor not ready (EAGAIN), it waits and tries again.
void serve_client_blocking(ClientStreams client, const ServerOptions& options, Waiter& waiter);

}  // namespace archbench
