// HTTP/1.1 framing, the second protocol the Zen service speaks (`--protocol http`), as
// TechEmpower's plaintext test uses it: a GET per request, no body, keep-alive, pipelining.
// This file knows HTTP and nothing of the service: it cuts a byte stream into request heads and
// judges each (RequestParser), writes a response's head (append_response_head), and on the client
// side cuts a server's bytes into responses framed by Content-Length (ResponseReader). Which body
// a path gets is the service's business (zen.hpp's Conversation, which speaks either protocol).
//
// The rules, as docs/http.md gives them:
// - A request is a request line `METHOD SP TARGET SP VERSION`, header lines and a blank line, each
//   line ending with CRLF or a bare LF. CR and LF bytes before a request line are skipped.
// - The head may take at most max_head bytes; reaching that without the blank line: 431.
// - Malformed (not three parts, a version other than HTTP/1.0 and HTTP/1.1, a header line
//   without ':' or starting with a space or a tab, a control byte other than tab): 400. A body
//   announced (Content-Length other than 0, any Transfer-Encoding): 400. A method other than
//   GET: 405. Each of them closes the connection after its answer.
// - HTTP/1.1 keeps the connection open unless a `Connection` header holds the token `close`;
//   HTTP/1.0 closes it unless one holds `keep-alive` (and not `close`).
//
// Hand-written rather than taken from a library (llhttp, picohttpparser): the subset is small and
// fixed, the parser must refuse exactly what the Python and Go servers refuse, and the hot path
// must not copy a head that lies whole inside one read.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace archbench::http {

enum class Status : std::uint16_t {
    ok = 200,
    bad_request = 400,
    not_found = 404,
    method_not_allowed = 405,
    header_fields_too_large = 431,
};

// The reason phrase of a status line: "OK", "Not Found", ...
std::string_view reason(Status status);

// What the parser made of one request head.
struct RequestHead {
    // ok: a well-formed GET for `target`. Otherwise the refusal it gets (400, 405 or 431).
    Status verdict = Status::ok;
    std::string_view target;  // valid only during the on_head call
    bool close = false;       // the connection closes after the answer (always for a refusal)
};

// Gathers a message that may arrive in pieces, for both parsers. A message that lies whole in
// one read is handed on as a view of that read (no copy); only one split across reads is gathered
// in `partial_`, whose storage is kept between messages, and then only as many bytes as one
// message may take. `measure(view)` says how long the first message in `view` is: 0 while it is
// incomplete, kTooLong when it can never be complete within `limit` bytes. feed() calls
// on_message(view) for each complete message, and consumes from `bytes` what it took.
class Gatherer {
public:
    static constexpr std::size_t kTooLong = static_cast<std::size_t>(-1);
    enum class Outcome {
        more,      // every byte was taken; feed the next ones
        stopped,   // on_message returned false: the bytes after that message were left alone
        too_long,  // a message reached `limit` bytes without being complete
    };

    template <typename Measure, typename OnMessage>
    Outcome feed(std::string_view& bytes, std::size_t limit, Measure&& measure, OnMessage&& on_message);

    bool holding() const { return !partial_.empty(); }

private:
    std::string partial_;
};

template <typename Measure, typename OnMessage>
Gatherer::Outcome Gatherer::feed(std::string_view& bytes, std::size_t limit, Measure&& measure,
                                 OnMessage&& on_message) {
    while (!bytes.empty()) {
        std::size_t length;
        if (partial_.empty()) {
            length = measure(bytes);
            if (length == kTooLong) return Outcome::too_long;
            if (length == 0) {
                if (bytes.size() >= limit) return Outcome::too_long;
                partial_.assign(bytes);
                bytes = {};
                return Outcome::more;
            }
            const std::string_view message = bytes.substr(0, length);
            bytes.remove_prefix(length);  // first: on_message may look at what follows
            if (!on_message(message)) return Outcome::stopped;
            continue;
        }
        // Joined to what is held: no more than the limit, so that the copy stays bounded.
        const std::size_t held = partial_.size();
        const std::size_t taken = std::min(bytes.size(), limit - held);
        partial_.append(bytes.substr(0, taken));
        length = measure(std::string_view(partial_));
        if (length == kTooLong) return Outcome::too_long;
        if (length == 0) {
            bytes.remove_prefix(taken);
            return partial_.size() >= limit ? Outcome::too_long : Outcome::more;
        }
        bytes.remove_prefix(length - held);  // the held bytes alone were incomplete: length > held
        partial_.resize(length);
        const bool go_on = on_message(std::string_view(partial_));
        partial_.clear();
        if (!go_on) return Outcome::stopped;
    }
    return Outcome::more;
}

// The length of the head at the start of `bytes`, through its blank line, or 0 when the blank
// line has not arrived yet (within the first `limit` bytes; beyond them, Gatherer::kTooLong).
std::size_t head_length(std::string_view bytes, std::size_t limit);

// Judges one complete head (request line through the blank line).
RequestHead parse_request_head(std::string_view head);

// A server's side: bytes in, one RequestHead per request, in order.
class RequestParser {
public:
    explicit RequestParser(std::size_t max_head) : max_head_(std::max<std::size_t>(max_head, 1)) {}

    // Calls on_head(const RequestHead&) for each complete request in `bytes`, a refusal included
    // (431 when a head outgrows max_head). Returns false once a head closed the connection: the
    // bytes after it are never parsed, and every later feed() is ignored.
    template <typename OnHead>
    bool feed(std::string_view bytes, OnHead&& on_head);

    // True when part of a request is held: EOF now would cut it in half.
    bool mid_request() const { return gatherer_.holding(); }

private:
    std::size_t max_head_;
    Gatherer gatherer_;
    bool closed_ = false;
};

template <typename OnHead>
bool RequestParser::feed(std::string_view bytes, OnHead&& on_head) {
    if (closed_) return false;
    // Between requests only: inside a held, unfinished head every byte counts. (A head that
    // was held is complete when on_head runs, so the skipping after it is unconditional.)
    const auto skip_line_breaks = [&] {
        while (!bytes.empty() && (bytes.front() == '\r' || bytes.front() == '\n')) bytes.remove_prefix(1);
    };
    if (!gatherer_.holding()) skip_line_breaks();
    const Gatherer::Outcome outcome = gatherer_.feed(
        bytes, max_head_, [&](std::string_view view) { return head_length(view, max_head_); },
        [&](std::string_view head) {
            const RequestHead judged = parse_request_head(head);
            on_head(judged);
            if (judged.close) return false;
            skip_line_breaks();
            return true;
        });
    if (outcome == Gatherer::Outcome::too_long)
        on_head(RequestHead{Status::header_fields_too_large, {}, true});
    closed_ = outcome != Gatherer::Outcome::more;
    return !closed_;
}

// Appends a response's status line and headers, through the blank line, for a body of
// `body_length` bytes: Content-Type text/plain, Content-Length, Allow: GET for a 405, and
// Connection: close when the server closes after it. No Date or Server header.
void append_response_head(std::string& out, Status status, std::size_t body_length, bool close);

// The longest head append_response_head() writes for a body of `body_length` bytes.
std::size_t longest_response_head(std::size_t body_length);

// One response as a client reads it.
struct Response {
    int status = 0;          // the status line's code
    std::string_view body;   // exactly Content-Length bytes; valid only during on_response
    bool close = false;      // a `Connection: close` header: the server closes after it
};

// A client's side: frames responses by Content-Length. A response it cannot frame (a malformed
// status line or header, no Content-Length, `Transfer-Encoding: chunked` or any other, a head
// over kMaxHead bytes, a body over max_body) stops it: the stream is out of step, and the caller
// must drop the connection.
class ResponseReader {
public:
    static constexpr std::size_t kMaxHead = 8192;  // nginx's heads are a few hundred bytes
    explicit ResponseReader(std::size_t max_body) : max_body_(max_body) {}

    // Calls on_response(const Response&) for each complete response in `bytes`; false when the
    // stream cannot be framed any further (every later call then fails too).
    template <typename OnResponse>
    bool feed(std::string_view bytes, OnResponse&& on_response);

    bool mid_response() const { return gatherer_.holding(); }

private:
    // The length of the whole response at the start of `bytes` (0: incomplete; kTooLong:
    // unframeable), its head parsed into `parsed_`.
    std::size_t measure(std::string_view bytes);

    std::size_t max_body_;
    Gatherer gatherer_;
    Response parsed_;
    std::size_t head_length_ = 0;
    bool broken_ = false;
};

template <typename OnResponse>
bool ResponseReader::feed(std::string_view bytes, OnResponse&& on_response) {
    if (broken_) return false;
    const Gatherer::Outcome outcome = gatherer_.feed(
        bytes, kMaxHead + max_body_, [&](std::string_view view) { return measure(view); },
        [&](std::string_view message) {
            Response response = parsed_;
            response.body = message.substr(head_length_);
            on_response(response);
            return true;
        });
    broken_ = outcome != Gatherer::Outcome::more;
    return !broken_;
}

}  // namespace archbench::http
