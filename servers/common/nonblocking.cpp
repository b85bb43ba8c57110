#include "servers/common/nonblocking.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "servers/common/linger.hpp"

namespace archbench {

using std::chrono::steady_clock;

constexpr auto kAcceptPause = std::chrono::milliseconds(100);

Acceptor::Acceptor(int listen_fd, ConnectionLimit& limit) : listen_fd_(listen_fd), limit_(limit) {
    set_nonblocking(listen_fd_);
}

AcceptedClient Acceptor::accept_next() {
    for (;;) {
        const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            told_of_pause_ = false;
            AcceptedClient client{Socket(fd), Admission(limit_)};
            if (!client.admission) continue;  // beyond --max-connections: closed at once
            const int on = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
            return client;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) return {};  // nobody is waiting
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;  // that one only
        // EMFILE, ENFILE (out of descriptors), ENOBUFS, ENOMEM, or anything unexpected.
        if (!told_of_pause_)
            std::fprintf(stderr, "accept: %s; not accepting for %lld ms at a time until it passes\n",
                         std::strerror(errno), static_cast<long long>(kAcceptPause.count()));
        told_of_pause_ = true;
        resume_at_ = steady_clock::now() + kAcceptPause;
        return {};
    }
}

int Acceptor::wait_timeout_ms() const {
    const auto left = resume_at_ - steady_clock::now();
    if (left <= steady_clock::duration::zero()) return -1;
    return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
}

ClientInbox::ClientInbox() : event_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (!event_fd_) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
}

void ClientInbox::put(AcceptedClient client) {
    {
        std::lock_guard lock(mutex_);
        clients_.push_back(std::move(client));
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = write(event_fd_.fd(), &one, sizeof one);
}

std::vector<AcceptedClient> ClientInbox::take_all() {
    std::uint64_t count;
    [[maybe_unused]] const ssize_t got = read(event_fd_.fd(), &count, sizeof count);
    std::vector<AcceptedClient> taken;
    std::lock_guard lock(mutex_);
    taken.swap(clients_);
    return taken;
}

// One input buffer per loop thread, not one per connection: a connection's unfinished question
// is kept by its Conversation, so nothing needs to stay here between reads.
thread_local std::array<char, 16 * 1024> input_buffer;

Connection::Connection(AcceptedClient client, const ServerOptions& options)
    : admission_(std::move(client.admission)),
      socket_(std::move(client.socket)),
      conversation_(options.workload),
      idle_(options.idle_timeout),
      read_size_(bounded_read_size(options.workload, input_buffer.size())) {}

Connection::Status Connection::on_readable() { return receive(nullptr); }

Connection::Status Connection::on_readable(Requests& requests) {
    requests.clear();
    return receive(&requests);
}

// One read: answered at once, or with `requests`, only framed into them.
Connection::Status Connection::receive(Requests* requests) {
    output_.erase(0, sent_);  // what was sent already must not make the buffer grow
    sent_ = 0;
    const ssize_t received = recv(fd(), input_buffer.data(), read_size_, 0);
    read_blocked_ = received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    if (received < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? Status::open
                                                                          : Status::closed;
    if (received == 0) {
        input_ended_ = true;  // a goodbye, or EOF mid-question: send what was answered, then close
    } else {
        const std::string_view input(input_buffer.data(), static_cast<std::size_t>(received));
        zen::FrameStatus status;
        if (requests == nullptr) {
            // The workload's --work-us and --sleep-us are spent in here, on the loop's thread.
            status = conversation_.on_input(input, output_);
            idle_.questions_answered(conversation_.questions_answered());
        } else {
            status = conversation_.take_requests(
                input, [&](const zen::Request& request) { requests->push_back(request); });
            awaiting_answers_ = !requests->empty();
        }
        if (status == zen::FrameStatus::close_after) input_ended_ = refused_ = true;
    }
    // Most answers fit into the socket's send buffer at once: write now rather than wait for
    // the loop to report writability.
    return flush();
}

Connection::Status Connection::on_answers(std::span<const zen::Request> requests) {
    output_.erase(0, sent_);
    sent_ = 0;
    for (const zen::Request& request : requests) conversation_.answer(request, output_);
    idle_.questions_answered(conversation_.questions_answered());
    awaiting_answers_ = false;
    return flush();
}

Connection::Status Connection::flush() {
    while (unsent() > 0) {
        const ssize_t sent = send(fd(), output_.data() + sent_, unsent(), MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::open;  // wait to write
            return Status::closed;  // EPIPE, ECONNRESET: the client is gone
        }
        sent_ += static_cast<std::size_t>(sent);
    }
    output_.clear();  // keeps its capacity: no allocation per answer once warm
    sent_ = 0;
    if (!input_ended_ || awaiting_answers_) return Status::open;
    // After a refusal the client may still be sending: a plain close would be a reset that
    // loses the answers still on their way, so the socket lingers once the loop drops this
    // Connection (see ~Connection).
    if (!refused_) discard_unread_input(fd());  // so that the close is not a reset
    return Status::closed;
}

Connection::~Connection() {
    // Handed on only now, after the loop is done with the socket (epoll has taken it out of its
    // set): from here on another thread may close it, and its number may be reused.
    if (lingers()) close_lingering(socket_.release());
}

}  // namespace archbench
