#include "tests/support/client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "tests/support/time_scale.hpp"

namespace archbench::testing {

using Clock = std::chrono::steady_clock;

std::string request_for(std::string_view question, zen::Protocol protocol) {
    if (protocol == zen::Protocol::zen) return std::string(question);
    std::string_view path = "/unknown";
    for (const zen::Aphorism& aphorism : zen::kAphorisms)
        if (aphorism.question == question) path = aphorism.path;
    return "GET " + std::string(path) + " HTTP/1.1\r\nHost: test\r\n\r\n";
}

Client::Client(std::uint16_t port, std::size_t reply_bytes, int receive_buffer, zen::Protocol protocol)
    : protocol_(protocol), reader_(reply_bytes), http_reader_(zen::longest_body(reply_bytes)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (receive_buffer > 0)
        setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
        throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
}

Client::~Client() {
    if (fd_ >= 0) close(fd_);
}

Client::Client(Client&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      ended_(other.ended_),
      protocol_(other.protocol_),
      reader_(std::move(other.reader_)),
      http_reader_(std::move(other.http_reader_)),
      answers_(std::move(other.answers_)) {}

void Client::send(std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (sent < 0) throw std::runtime_error(std::string("send: ") + std::strerror(errno));
        bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
}

std::size_t Client::send_until_refused(std::string_view bytes,
                                       std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::size_t sent_in_all = 0;
    while (sent_in_all < bytes.size() && Clock::now() < deadline) {
        pollfd ready{fd_, static_cast<short>(POLLOUT | (ended_ ? 0 : POLLIN)), 0};
        if (poll(&ready, 1, 10) <= 0) continue;
        if (ready.revents & POLLIN) receive_until(Clock::now() + 10ms);  // answers, or the end
        if (ready.revents & (POLLOUT | POLLERR | POLLHUP)) {
            const ssize_t sent = ::send(fd_, bytes.data() + sent_in_all, bytes.size() - sent_in_all,
                                        MSG_NOSIGNAL | MSG_DONTWAIT);
            if (sent < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
                if (errno == EPIPE || errno == ECONNRESET) break;
                throw std::runtime_error(std::string("send: ") + std::strerror(errno));
            }
            sent_in_all += static_cast<std::size_t>(sent);
        }
    }
    return sent_in_all;
}

bool Client::receive_until(Clock::time_point deadline) {
    if (ended_) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd readable{fd_, POLLIN, 0};
    if (poll(&readable, 1, static_cast<int>(left.count())) <= 0) return Clock::now() < deadline;
    char buffer[64 * 1024];
    const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) {
        ended_ = true;
        return false;
    }
    const std::string_view bytes(buffer, static_cast<std::size_t>(n));
    if (protocol_ == zen::Protocol::http) {
        if (!http_reader_.feed(bytes, [this](const http::Response& response) { answers_.emplace_back(response.body); }))
            answers_.emplace_back("<response that cannot be framed>");
        return true;
    }
    const zen::FrameStatus status =
        reader_.feed(bytes, [this](std::string_view answer) { answers_.emplace_back(answer); });
    if (status == zen::FrameStatus::close_after) answers_.emplace_back("<answer too long>");
    return true;
}

std::vector<std::string> Client::read_answers(std::size_t count, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + scaled(timeout);
    while (answers_.size() < count && receive_until(deadline)) {
    }
    std::vector<std::string> answers;
    while (!answers_.empty() && answers.size() < count) {
        answers.push_back(std::move(answers_.front()));
        answers_.pop_front();
    }
    return answers;
}

std::string Client::read_answer(std::chrono::milliseconds timeout) {
    std::vector<std::string> answers = read_answers(1, timeout);
    return answers.empty() ? std::string() : answers.front();
}

bool Client::closed_by_server(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + scaled(timeout);
    while (receive_until(deadline)) {
    }
    return ended_;
}

bool Client::silent_for(std::chrono::milliseconds period) {
    const std::size_t before = answers_.size();
    const auto deadline = Clock::now() + period;
    while (receive_until(deadline)) {
    }
    return !ended_ && answers_.size() == before && !reader_.mid_answer() && !http_reader_.mid_response();
}

void Client::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

void Client::reset() {
    const linger abortive{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
    close(fd_);
    fd_ = -1;
    ended_ = true;
}

}  // namespace archbench::testing
