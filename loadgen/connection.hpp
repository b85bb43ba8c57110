// One connection of the load generator: its socket, the questions it sent that await their
// answers (oldest first: the server answers in order), the bytes not yet taken by the kernel,
// and the reader that frames answers: at '.' in Zen, by Content-Length in HTTP (--protocol
// http). It does the I/O and checks answers; what to send and when is the engine's business
// (engine.cpp).
//
// Nothing here allocates once a connection exists: the in-flight ring and the output buffer are
// sized for the pipeline depth up front, and the answer reader keeps its buffer between answers.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sys/socket.h>
#include <cerrno>

#include "loadgen/net.hpp"
#include "protocol/zen.hpp"

namespace archbench::load {

// The outcome of an I/O step, carried through the per-request path (wrk's status enum).
enum class Status {
    ok,            // done; go on
    wait,          // the kernel is not ready; epoll will say when it is
    eof,           // the server closed the connection
    reset,         // the connection failed: refused, reset, or a send to a closed peer
    wrong_answer,  // the answers cannot be read any further: too long, or none was asked for
    closing,       // HTTP: an answer said `Connection: close`; the server closes after it
};

struct Request {
    std::int64_t origin_ns;  // when the client began waiting: the latency counts from here
    std::int64_t sent_ns;    // when it was handed to the kernel: the service time counts from here
    std::uint8_t question;   // which of the questions (ExpectedAnswers::question)
};

// What a connection asks, in turn, and the answer each question must get, padded as the server
// was told (--reply-bytes). Zen: the three aphorisms. HTTP: one request, `GET path HTTP/1.1`
// with a Host header, whose response must have the path's status (200, or 404 for a path the
// service does not know) and its answer as the body.
class ExpectedAnswers {
public:
    explicit ExpectedAnswers(std::size_t reply_bytes);
    // HTTP: GET `path` with `Host: host_port`.
    ExpectedAnswers(std::size_t reply_bytes, std::string_view path, std::string_view host_port);

    zen::Protocol protocol() const { return protocol_; }
    std::size_t questions() const { return count_; }
    std::string_view question(std::size_t question) const { return questions_[question]; }
    std::string_view operator[](std::size_t question) const { return answers_[question]; }
    int status(std::size_t question) const { return statuses_[question]; }  // HTTP
    std::size_t reply_bytes() const { return reply_bytes_; }

private:
    zen::Protocol protocol_ = zen::Protocol::zen;
    std::size_t count_ = zen::kAphorisms.size();
    std::array<std::string, zen::kAphorisms.size()> questions_;
    std::array<std::string, zen::kAphorisms.size()> answers_;
    std::array<int, zen::kAphorisms.size()> statuses_{};
    std::size_t reply_bytes_;
};

// The requests awaiting their answers, oldest first, in a ring of fixed capacity.
class InFlight {
public:
    explicit InFlight(std::size_t capacity) : ring_(capacity) {}
    bool empty() const { return size_ == 0; }
    bool full() const { return size_ == ring_.size(); }
    std::size_t size() const { return size_; }
    const Request& front() const { return ring_[head_]; }
    const Request& at(std::size_t i) const { return ring_[(head_ + i) % ring_.size()]; }
    void push(const Request& request) { ring_[(head_ + size_++) % ring_.size()] = request; }
    Request pop() {
        const Request request = ring_[head_];
        head_ = (head_ + 1) % ring_.size();
        --size_;
        return request;
    }
    void clear() { head_ = size_ = 0; }

private:
    std::vector<Request> ring_;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

class Connection {
public:
    enum class State { closed, connecting, open };

    Connection(unsigned slot, unsigned pipeline, const ExpectedAnswers& expected);
    Connection(Connection&&) noexcept;
    ~Connection();

    // Opening: a non-blocking connect with TCP_NODELAY. ok: open at once; wait: in progress
    // (finish_connect() once the socket is writable); reset: refused or failed.
    Status connect_to(const Address& address);
    Status finish_connect();
    void close();

    // Queues the next question (the aphorisms in turn) and remembers it as in flight.
    void ask(std::int64_t origin_ns, std::int64_t now_ns);
    // Hands queued bytes to the kernel: ok (all gone), wait (the rest when writable), reset.
    Status flush();
    // The queued bytes, and dropping them: for tests and benchmarks that play the network.
    std::string_view unsent() const { return std::string_view(output_).substr(output_sent_); }
    void discard_unsent() {
        output_.clear();
        output_sent_ = 0;
    }

    // Reads what arrived into `buffer` and takes the answers out of it (see take_answers).
    // `peer_closing`: epoll saw the peer hang up, so read on to the end of the stream.
    template <typename OnAnswer>
    Status receive(std::span<char> buffer, bool peer_closing, OnAnswer&& on_answer);
    // Frames answers out of `bytes` and matches each with the oldest request in flight:
    // on_answer(request, right) where `right` says whether it is the expected answer. A wrong
    // answer leaves the stream in step (answers end at '.'; an HTTP response is framed by its
    // Content-Length); an answer that cannot be framed (over-long; in HTTP a malformed head, no
    // Content-Length, a chunked body) or one that no question awaits does not, and returns
    // wrong_answer. An HTTP answer with `Connection: close` returns closing: the bytes after it
    // are not looked at.
    template <typename OnAnswer>
    Status take_answers(std::string_view bytes, OnAnswer&& on_answer);

    unsigned slot() const { return slot_; }  // the connection's number in the whole run, 0..c-1
    int fd() const { return fd_; }
    State state() const { return state_; }
    std::uint32_t generation() const { return generation_; }  // bumped by every new socket
    InFlight& in_flight() { return in_flight_; }
    const InFlight& in_flight() const { return in_flight_; }
    unsigned asked() const { return asked_; }  // questions asked on this socket (its session)

    // The engine's bookkeeping for this connection.
    std::int64_t connect_started_ns = 0;
    std::int64_t retry_at_ns = 0;  // closed: when to open it again
    std::uint64_t due = 0;         // open loop: requests of its schedule that came due
    std::uint64_t issued = 0;      // open loop: of those, sent or failed

private:
    unsigned slot_;
    int fd_ = -1;
    State state_ = State::closed;
    std::uint32_t generation_ = 0;
    unsigned asked_ = 0;
    std::uint64_t next_question_ = 0;
    const ExpectedAnswers* expected_;
    zen::AnswerReader reader_;
    http::ResponseReader http_reader_;
    InFlight in_flight_;
    std::string output_;
    std::size_t output_sent_ = 0;
};

template <typename OnAnswer>
Status Connection::take_answers(std::string_view bytes, OnAnswer&& on_answer) {
    Status status = Status::ok;
    const auto answered = [&](std::string_view answer, int code) {
        if (in_flight_.empty()) {
            status = Status::wrong_answer;
            return;
        }
        const Request request = in_flight_.pop();
        const bool right = answer == (*expected_)[request.question] &&
                           (expected_->protocol() == zen::Protocol::zen || code == expected_->status(request.question));
        on_answer(request, right);
    };
    if (expected_->protocol() == zen::Protocol::http) {
        const bool framed = http_reader_.feed(bytes, [&](const http::Response& response) {
            if (status != Status::ok) return;
            answered(response.body, response.status);
            if (status == Status::ok && response.close) status = Status::closing;
        });
        return framed || status != Status::ok ? status : Status::wrong_answer;
    }
    const zen::FrameStatus framing = reader_.feed(bytes, [&](std::string_view answer) {
        if (status == Status::ok) answered(answer, 0);
    });
    return framing == zen::FrameStatus::close_after ? Status::wrong_answer : status;
}

template <typename OnAnswer>
Status Connection::receive(std::span<char> buffer, bool peer_closing, OnAnswer&& on_answer) {
    for (;;) {
        const ssize_t received = recv(fd_, buffer.data(), buffer.size(), 0);
        if (received > 0) {
            const Status status =
                take_answers({buffer.data(), static_cast<std::size_t>(received)}, on_answer);
            if (status != Status::ok) return status;
            // Edge-triggered epoll raises a new event for every arrival, so a short read has
            // emptied the socket and needs no second recv() to hear EAGAIN; unless the hang-up
            // already arrived with the data, when only reading on finds it.
            if (static_cast<std::size_t>(received) < buffer.size() && !peer_closing) return status;
            continue;
        }
        if (received == 0) return Status::eof;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::ok;
        if (errno != EINTR) return Status::reset;
    }
}

}  // namespace archbench::load
