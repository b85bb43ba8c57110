// The Zen protocol: the one place that knows what a question is, what each one is answered
// and what work a request costs. Servers, the load generator and the tests all use it, so it
// holds no socket code: it turns bytes that arrived into questions, and questions into answers.
//
// A question is every byte up to and including the first '?'. An answer ends with '.'.
// The book's zen_utils.py looked a whole recv() buffer up as one string; here a connection's
// bytes are framed at every '?', so pipelined and split questions both work.
//
// The same service also speaks HTTP/1.1 (`--protocol http`, protocol/http.hpp): a GET for an
// aphorism's path (/beautiful) is answered with its answer as the body. The Workload says which
// protocol a Conversation speaks, so that no architecture knows: each one feeds bytes in and
// sends what comes out, and swapping the protocol swaps this module only (docs/http.md).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/http.hpp"

namespace archbench::zen {

inline constexpr char kQuestionEnd = '?';
inline constexpr char kAnswerEnd = '.';
inline constexpr char kPadding = '-';
inline constexpr std::size_t kDefaultMaxRequest = 1024;

struct Aphorism {
    std::string_view question;
    std::string_view answer;
    std::string_view path;  // the question in HTTP: GET /beautiful
};

inline constexpr std::array<Aphorism, 3> kAphorisms = {{
    {"Beautiful is better than?", "Ugly.", "/beautiful"},
    {"Explicit is better than?", "Implicit.", "/explicit"},
    {"Simple is better than?", "Complex.", "/simple"},
}};

inline constexpr std::string_view kUnknownAnswer = "Error: unknown aphorism.";
inline constexpr std::string_view kTooLongAnswer = "Error: request too long.";
// HTTP's refusals (each closes the connection): 400, 405, and 431, whose body is kTooLongAnswer.
inline constexpr std::string_view kBadRequestAnswer = "Error: bad request.";
inline constexpr std::string_view kMethodNotAllowedAnswer = "Error: method not allowed.";

// The answer to one complete question (its final '?' included), before padding.
std::string_view answer_for(std::string_view question);
// The answer to a GET of `path` (its target, exactly: /beautiful), before padding.
std::string_view answer_for_path(std::string_view path);

// The protocol the service speaks: Zen's questions and answers, or HTTP/1.1.
enum class Protocol : std::uint8_t { zen, http };
std::string_view protocol_name(Protocol protocol);
// The protocol named `name` ("zen", "http"), or nothing.
std::optional<Protocol> protocol_named(std::string_view name);

// Appends `answer` to `out`, padded to `reply_bytes` as DESIGN.md says: the answer without its
// final '.', then '-' filler, then '.'. An answer already that long is appended as it is.
void append_padded(std::string& out, std::string_view answer, std::size_t reply_bytes);

// The bytes a client must receive for `answer` under `reply_bytes` (used by clients and tests).
std::string padded(std::string_view answer, std::size_t reply_bytes);
// How long append_padded() makes `answer`.
inline std::size_t padded_size(std::string_view answer, std::size_t reply_bytes) {
    return std::max(answer.size(), reply_bytes);
}

// What every request costs the server, identical under every architecture.
struct Workload {
    unsigned work_us = 0;        // CPU burnt per request (thread CPU time, not wall time)
    unsigned sleep_us = 0;       // time blocked per request, as in a call to a back end
    std::size_t reply_bytes = 0; // answers padded to this many bytes (0: unpadded)
    std::size_t max_request = kDefaultMaxRequest;  // a question's bytes; in HTTP, a head's
    Protocol protocol = Protocol::zen;
};

// The most bytes one answer can take under `workload`, refusals and HTTP's head included.
std::size_t longest_answer(const Workload& workload);
// The longest body (Zen: the whole answer) a client must accept, padded to `reply_bytes`.
std::size_t longest_body(std::size_t reply_bytes);

// Burns `us` microseconds of this thread's CPU time: a compute-heavy request. Measured on the
// thread's CPU clock so that a preempted server still does exactly the work asked for.
void burn_cpu(unsigned us);

// Applies the per-request knobs: burn, then block. Called once per question, in the handler.
void do_request_work(const Workload& workload);

// A framed question on its way to its answer. Most architectures never see one: on_input()
// frames, works and answers in one call. One that runs the work apart from the I/O (epoll-offload,
// seda) frames with Conversation::take_requests() on its I/O thread, calls do_request_work() on a
// worker, and Conversation::answer() back where the answers are sent.
struct Request {
    std::string_view answer;  // before padding; static storage (kAphorisms), valid on any thread
    bool refusal = false;     // a refusal (Zen: the over-long question; HTTP: 400, 405, 431): no work
    bool closes = false;      // the connection closes after this answer: a refusal, HTTP's close
    http::Status status = http::Status::ok;  // HTTP: the response's status
};

// The work `request` costs: the workload's knobs, or nothing for a refusal. Thread-safe.
void do_request_work(const Workload& workload, const Request& request);

enum class FrameStatus {
    ok,           // every byte was consumed; feed the next bytes when they arrive
    // Send what was appended, then close: a Zen question reached the limit without its '?', or
    // an HTTP answer closes the connection (Connection: close, HTTP/1.0, 400, 405, 431). For a
    // client's reader: an answer too long to be one; the stream is out of step.
    close_after,
};

// Splits a byte stream into frames that end with `terminator`. Fed whatever bytes arrived, it
// calls `on_frame(std::string_view)` for each complete frame, terminator included. A frame that
// lies inside one read is passed as a view of that read (no copy); only a frame split across
// reads is gathered in `partial_`, whose storage is kept between frames: no heap allocation per
// frame once the connection has seen its longest one.
//
// A server skips line breaks before a question, so that questions typed into nc or telnet, one
// per line, are answered; inside a question every byte counts. A client keeps them: an answer
// that starts with a line break is a wrong answer.
class Framer {
public:
    enum class LineBreaks { skip, keep };
    Framer(char terminator, std::size_t max_frame, LineBreaks line_breaks);

    template <typename OnFrame>
    FrameStatus feed(std::string_view bytes, OnFrame&& on_frame);

    // True when bytes of an unfinished frame are held: EOF now would cut a frame in half.
    bool mid_frame() const { return !partial_.empty(); }

private:
    static bool is_separator(char c) { return c == '\n' || c == '\r'; }

    char terminator_;
    bool skip_line_breaks_;
    std::size_t max_frame_;
    std::string partial_;
};

template <typename OnFrame>
FrameStatus Framer::feed(std::string_view bytes, OnFrame&& on_frame) {
    while (!bytes.empty()) {
        if (partial_.empty() && skip_line_breaks_) {
            std::size_t start = 0;
            while (start < bytes.size() && is_separator(bytes[start])) ++start;
            bytes.remove_prefix(start);
            if (bytes.empty()) break;
        }
        const std::size_t limit = max_frame_ - partial_.size();  // bytes this frame may still take
        const std::size_t end = bytes.find(terminator_);
        if (end != std::string_view::npos && end < limit) {
            const std::string_view tail = bytes.substr(0, end + 1);
            if (partial_.empty()) {
                on_frame(tail);
            } else {
                partial_.append(tail);
                on_frame(std::string_view(partial_));
                partial_.clear();
            }
            bytes.remove_prefix(end + 1);
            continue;
        }
        if (bytes.size() >= limit) return FrameStatus::close_after;
        partial_.append(bytes);
        break;
    }
    return FrameStatus::ok;
}

// One client's conversation as a server sees it: bytes in, answers out. Every architecture
// feeds it what recv() returned and sends what it appended; this is Stevens' web_child().
class Conversation {
public:
    explicit Conversation(const Workload& workload);

    // Answers each complete question in `input` by appending its (padded) answer to `out`, doing
    // the workload's work per question. Returns close_after when a question outgrew max_request
    // (`out` then ends with the error answer) or, in HTTP, when an answer closes the connection:
    // the server sends `out` and closes. The bytes after that answer are never looked at.
    FrameStatus on_input(std::string_view input, std::string& out);

    // on_input() in parts, for an architecture that works elsewhere. Calls on_request(Request)
    // for each complete question in `input`, in order, the last one a refusal or a closing
    // answer when there is one (then returns close_after); the work and the answers are left to
    // the caller, who answers every request, in the order taken, with answer().
    template <typename OnRequest>
    FrameStatus take_requests(std::string_view input, OnRequest&& on_request);
    // Appends the (padded) answer of a request taken from this conversation to `out`.
    void answer(const Request& request, std::string& out);

    bool mid_question() const {
        return workload_.protocol == Protocol::http ? http_.mid_request() : framer_.mid_frame();
    }
    // How many questions have been answered so far: a server's idle clock restarts when it grows.
    std::uint64_t questions_answered() const { return questions_answered_; }

private:
    // The request an HTTP head asks for: its path's answer, or its refusal.
    static Request http_request(const http::RequestHead& head);

    Workload workload_;  // a copy (a few bytes): a temporary Workload must not dangle
    Framer framer_;             // Zen's framing
    http::RequestParser http_;  // HTTP's framing (one of the two is used)
    std::uint64_t questions_answered_ = 0;
};

template <typename OnRequest>
FrameStatus Conversation::take_requests(std::string_view input, OnRequest&& on_request) {
    if (workload_.protocol == Protocol::http) {
        const bool open = http_.feed(input, [&](const http::RequestHead& head) {
            on_request(http_request(head));
        });
        return open ? FrameStatus::ok : FrameStatus::close_after;
    }
    const FrameStatus status = framer_.feed(input, [&](std::string_view question) {
        on_request(Request{answer_for(question)});
    });
    if (status == FrameStatus::close_after) on_request(Request{kTooLongAnswer, true, true});
    return status;
}

// Reads answers out of a server's byte stream, for clients: frames at '.'.
class AnswerReader {
public:
    // `reply_bytes`: the padding the server was told to use, which bounds an answer's length.
    explicit AnswerReader(std::size_t reply_bytes = 0);

    template <typename OnAnswer>
    FrameStatus feed(std::string_view bytes, OnAnswer&& on_answer) {
        return framer_.feed(bytes, on_answer);
    }

    bool mid_answer() const { return framer_.mid_frame(); }

private:
    Framer framer_;
};

}  // namespace archbench::zen
