#include "loadgen/connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace archbench::load {

ExpectedAnswers::ExpectedAnswers(std::size_t reply_bytes) : reply_bytes_(reply_bytes) {
    for (std::size_t i = 0; i < zen::kAphorisms.size(); ++i)
        answers_[i] = zen::padded(zen::kAphorisms[i].answer, reply_bytes);
}

static std::size_t longest_question() {
    std::size_t longest = 0;
    for (const zen::Aphorism& aphorism : zen::kAphorisms)
        longest = std::max(longest, aphorism.question.size());
    return longest;
}

Connection::Connection(unsigned slot, unsigned pipeline, const ExpectedAnswers& expected)
    : slot_(slot), expected_(&expected), reader_(expected.reply_bytes()), in_flight_(pipeline) {
    output_.reserve(pipeline * longest_question());
}

Connection::Connection(Connection&& other) noexcept
    : connect_started_ns(other.connect_started_ns),
      retry_at_ns(other.retry_at_ns),
      due(other.due),
      issued(other.issued),
      slot_(other.slot_),
      fd_(std::exchange(other.fd_, -1)),
      state_(other.state_),
      generation_(other.generation_),
      asked_(other.asked_),
      next_question_(other.next_question_),
      expected_(other.expected_),
      reader_(std::move(other.reader_)),
      in_flight_(std::move(other.in_flight_)),
      output_(std::move(other.output_)),
      output_sent_(other.output_sent_) {}

Connection::~Connection() { close(); }

Status Connection::connect_to(const Address& address) {
    close();
    fd_ = socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return Status::reset;  // out of descriptors: counted like a refused connect
    ++generation_;
    const int on = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    if (connect(fd_, address.get(), address.length) == 0) {
        state_ = State::open;
        return Status::ok;
    }
    if (errno == EINPROGRESS) {
        state_ = State::connecting;
        return Status::wait;
    }
    return Status::reset;
}

Status Connection::finish_connect() {
    int error = 0;
    socklen_t length = sizeof error;
    if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) return Status::reset;
    state_ = State::open;
    return Status::ok;
}

void Connection::close() {
    if (fd_ >= 0) ::close(fd_);  // also takes it out of the epoll set
    fd_ = -1;
    state_ = State::closed;
    asked_ = 0;
    in_flight_.clear();
    output_.clear();
    output_sent_ = 0;
    reader_ = zen::AnswerReader(expected_->reply_bytes());
}

void Connection::ask(std::int64_t origin_ns, std::int64_t now_ns) {
    const auto question = static_cast<std::uint8_t>(next_question_++ % zen::kAphorisms.size());
    if (output_sent_ > 0) {  // after a partial send: drop what went, so the buffer never grows
        output_.erase(0, output_sent_);
        output_sent_ = 0;
    }
    output_.append(zen::kAphorisms[question].question);
    in_flight_.push({origin_ns, now_ns, question});
    ++asked_;
}

Status Connection::flush() {
    while (output_sent_ < output_.size()) {
        const ssize_t sent =
            send(fd_, output_.data() + output_sent_, output_.size() - output_sent_, MSG_NOSIGNAL);
        if (sent > 0) {
            output_sent_ += static_cast<std::size_t>(sent);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return Status::wait;
        } else if (errno != EINTR) {
            return Status::reset;
        }
    }
    output_.clear();
    output_sent_ = 0;
    return Status::ok;
}

}  // namespace archbench::load
