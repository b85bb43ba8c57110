// The Zen protocol: the one place that knows what a question is, what each one is answered
// and what work a request costs. Servers, the load generator and the tests all use it, so it
// holds no socket code: it turns bytes that arrived into questions, and questions into answers.
//
// A question is every byte up to and including the first '?'. An answer ends with '.'.
// The book's zen_utils.py looked a whole recv() buffer up as one string; here a connection's
// bytes are framed at every '?', so pipelined and split questions both work.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace archbench::zen {

inline constexpr char kQuestionEnd = '?';
inline constexpr char kAnswerEnd = '.';
inline constexpr char kPadding = '-';
inline constexpr std::size_t kDefaultMaxRequest = 1024;

struct Aphorism {
    std::string_view question;
    std::string_view answer;
};

inline constexpr std::array<Aphorism, 3> kAphorisms = {{
    {"Beautiful is better than?", "Ugly."},
    {"Explicit is better than?", "Implicit."},
    {"Simple is better than?", "Complex."},
}};

inline constexpr std::string_view kUnknownAnswer = "Error: unknown aphorism.";
inline constexpr std::string_view kTooLongAnswer = "Error: request too long.";

// The answer to one complete question (its final '?' included), before padding.
std::string_view answer_for(std::string_view question);

// Appends `answer` to `out`, padded to `reply_bytes` as DESIGN.md says: the answer without its
// final '.', then '-' filler, then '.'. An answer already that long is appended as it is.
void append_padded(std::string& out, std::string_view answer, std::size_t reply_bytes);

// The bytes a client must receive for `answer` under `reply_bytes` (used by clients and tests).
std::string padded(std::string_view answer, std::size_t reply_bytes);

// What every request costs the server, identical under every architecture.
struct Workload {
    unsigned work_us = 0;        // CPU burnt per request (thread CPU time, not wall time)
    unsigned sleep_us = 0;       // time blocked per request, as in a call to a back end
    std::size_t reply_bytes = 0; // answers padded to this many bytes (0: unpadded)
    std::size_t max_request = kDefaultMaxRequest;
};

// Burns `us` microseconds of this thread's CPU time: a compute-heavy request. Measured on the
// thread's CPU clock so that a preempted server still does exactly the work asked for.
void burn_cpu(unsigned us);

// Applies the per-request knobs: burn, then block. Called once per question, in the handler.
void do_request_work(const Workload& workload);

enum class FrameStatus {
    ok,        // every byte was consumed; feed the next bytes when they arrive
    too_long,  // a question reached the limit without its terminator: answer, then close
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
        if (bytes.size() >= limit) return FrameStatus::too_long;
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
    // the workload's work per question. Returns too_long when a question outgrew max_request:
    // `out` then ends with the error answer, and the server sends it and closes the connection.
    FrameStatus on_input(std::string_view input, std::string& out);

    bool mid_question() const { return framer_.mid_frame(); }
    // How many questions have been answered so far: a server's idle clock restarts when it grows.
    std::uint64_t questions_answered() const { return questions_answered_; }

private:
    Workload workload_;  // a copy (a few bytes): a temporary Workload must not dangle
    Framer framer_;
    std::uint64_t questions_answered_ = 0;
};

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
