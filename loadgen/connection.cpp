#include "loadgen/connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace archbench::load {

ExpectedAnswers::ExpectedAnswers(std::size_t reply_bytes) : reply_bytes_(reply_bytes) {
    for (std::size_t i = 0; i < zen::kAphorisms.size(); ++i) {
        questions_[i] = zen::kAphorisms[i].question;
        answers_[i] = zen::padded(zen::kAphorisms[i].answer, reply_bytes);
    }
}

ExpectedAnswers::ExpectedAnswers(std::size_t reply_bytes, std::string_view path, std::string_view host_port)
    : protocol_(zen::Protocol::http), count_(1), reply_bytes_(reply_bytes) {
    questions_[0] = "GET " + std::string(path) + " HTTP/1.1\r\nHost: " + std::string(host_port) + "\r\n\r\n";
    const std::string_view answer = zen::answer_for_path(path);
    answers_[0] = zen::padded(answer, reply_bytes);
    statuses_[0] = static_cast<int>(answer == zen::kUnknownAnswer ? http::Status::not_found : http::Status::ok);
}

static std::size_t longest_question(const ExpectedAnswers& expected) {
    std::size_t longest = 0;
    for (std::size_t i = 0; i < expected.questions(); ++i)
        longest = std::max(longest, expected.question(i).size());
    return longest;
}

Connection::Connection(unsigned slot, unsigned pipeline, const ExpectedAnswers& expected)
    : slot_(slot),
      expected_(&expected),
      reader_(expected.reply_bytes()),
      http_reader_(zen::longest_body(expected.reply_bytes())),
      in_flight_(pipeline) {
    output_.reserve(pipeline * longest_question(expected));
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
      http_reader_(std::move(other.http_reader_)),
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
    http_reader_ = http::ResponseReader(zen::longest_body(expected_->reply_bytes()));
}

void Connection::ask(std::int64_t origin_ns, std::int64_t now_ns) {
    const auto question = static_cast<std::uint8_t>(next_question_++ % expected_->questions());
    if (output_sent_ > 0) {  // after a partial send: drop what went, so the buffer never grows
        output_.erase(0, output_sent_);
        output_sent_ = 0;
    }
    output_.append(expected_->question(question));
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
