#include "protocol/http.hpp"

#include <charconv>

namespace archbench::http {

namespace {

constexpr std::string_view kGet = "GET";
constexpr std::string_view kContentType = "Content-Type: text/plain\r\n";
constexpr std::string_view kAllow = "Allow: GET\r\n";
constexpr std::string_view kContentLength = "Content-Length: ";
constexpr std::string_view kConnectionClose = "Connection: close\r\n";
constexpr std::string_view kCrlf = "\r\n";

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Header names and Connection tokens compare case-insensitively (RFC 9110, sections 5.1 and 7.6.1).
bool same_name(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

std::string_view trimmed(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

// Whether a comma-separated header value (Connection's) holds `token`.
bool has_token(std::string_view value, std::string_view token) {
    while (!value.empty()) {
        const std::size_t comma = value.find(',');
        if (same_name(trimmed(value.substr(0, comma)), token)) return true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

// A line's control bytes: only tab may appear (a lone CR or a NUL is how request smuggling starts).
bool has_control_byte(std::string_view line) {
    for (const char c : line) {
        const auto byte = static_cast<unsigned char>(c);
        if ((byte < 0x20 && c != '\t') || byte == 0x7f) return true;
    }
    return false;
}

// The head's lines one by one, their line end (CRLF or LF) removed. The blank line ends it.
class Lines {
public:
    explicit Lines(std::string_view head) : rest_(head) {}
    bool next(std::string_view& line) {
        if (rest_.empty()) return false;
        const std::size_t lf = rest_.find('\n');
        line = rest_.substr(0, lf);
        rest_.remove_prefix(lf == std::string_view::npos ? rest_.size() : lf + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        return true;
    }

private:
    std::string_view rest_;
};

// A Content-Length value into `length`; false when it is not a whole number.
bool parse_length(std::string_view value, std::size_t& length) {
    if (value.empty()) return false;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), length);
    return error == std::errc() && end == value.data() + value.size();
}

void append_number(std::string& out, std::size_t number) {
    char digits[24];
    const auto [end, error] = std::to_chars(digits, digits + sizeof digits, number);
    out.append(digits, end);
}

std::size_t digit_count(std::size_t number) {
    std::size_t count = 1;
    while (number >= 10) {
        number /= 10;
        ++count;
    }
    return count;
}

}  // namespace

std::string_view reason(Status status) {
    switch (status) {
    case Status::ok: return "OK";
    case Status::bad_request: return "Bad Request";
    case Status::not_found: return "Not Found";
    case Status::method_not_allowed: return "Method Not Allowed";
    case Status::header_fields_too_large: return "Request Header Fields Too Large";
    }
    return "";
}

std::size_t head_length(std::string_view bytes, std::size_t limit) {
    const std::string_view window = bytes.substr(0, limit);
    for (std::size_t at = 0;;) {
        const std::size_t lf = window.find('\n', at);
        if (lf == std::string_view::npos) break;
        // A blank line follows: an empty one, or one holding only its CR.
        if (lf + 1 < window.size() && window[lf + 1] == '\n') return lf + 2;
        if (lf + 2 < window.size() && window[lf + 1] == '\r' && window[lf + 2] == '\n') return lf + 3;
        at = lf + 1;
    }
    return bytes.size() >= limit ? Gatherer::kTooLong : 0;
}

RequestHead parse_request_head(std::string_view head) {
    const RequestHead bad{Status::bad_request, {}, true};
    Lines lines(head);
    std::string_view line;
    if (!lines.next(line) || has_control_byte(line)) return bad;

    // METHOD SP TARGET SP VERSION: exactly three parts, none empty.
    const std::size_t first_space = line.find(' ');
    if (first_space == std::string_view::npos) return bad;
    const std::size_t second_space = line.find(' ', first_space + 1);
    if (second_space == std::string_view::npos) return bad;
    const std::string_view method = line.substr(0, first_space);
    const std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
    const std::string_view version = line.substr(second_space + 1);
    if (method.empty() || target.empty() || version.find(' ') != std::string_view::npos) return bad;
    const bool http_1_0 = version == "HTTP/1.0";
    if (!http_1_0 && version != "HTTP/1.1") return bad;

    bool close = false;
    bool keep_alive = false;
    bool announces_body = false;
    while (lines.next(line) && !line.empty()) {
        if (has_control_byte(line) || line.front() == ' ' || line.front() == '\t') return bad;
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) return bad;
        const std::string_view name = line.substr(0, colon);
        const std::string_view value = trimmed(line.substr(colon + 1));
        if (same_name(name, "Connection")) {
            close = close || has_token(value, "close");
            keep_alive = keep_alive || has_token(value, "keep-alive");
        } else if (same_name(name, "Content-Length")) {
            std::size_t length = 0;
            if (!parse_length(value, length)) return bad;
            announces_body = announces_body || length != 0;
        } else if (same_name(name, "Transfer-Encoding")) {
            announces_body = true;
        }
    }
    // The service takes no body: where one would end is nobody's business here, so it is refused.
    if (announces_body) return bad;
    if (method != kGet) return RequestHead{Status::method_not_allowed, {}, true};
    return RequestHead{Status::ok, target, close || (http_1_0 && !keep_alive)};
}

void append_response_head(std::string& out, Status status, std::size_t body_length, bool close) {
    out.append("HTTP/1.1 ");
    append_number(out, static_cast<std::size_t>(status));
    out.push_back(' ');
    out.append(reason(status));
    out.append(kCrlf);
    out.append(kContentType);
    if (status == Status::method_not_allowed) out.append(kAllow);
    out.append(kContentLength);
    append_number(out, body_length);
    out.append(kCrlf);
    if (close) out.append(kConnectionClose);
    out.append(kCrlf);
}

std::size_t longest_response_head(std::size_t body_length) {
    return std::string_view("HTTP/1.1 431 ").size() + reason(Status::header_fields_too_large).size() +
           kCrlf.size() + kContentType.size() + kAllow.size() + kContentLength.size() +
           digit_count(body_length) + kCrlf.size() + kConnectionClose.size() + kCrlf.size();
}

std::size_t ResponseReader::measure(std::string_view bytes) {
    const std::size_t head = head_length(bytes, kMaxHead);
    if (head == 0 || head == Gatherer::kTooLong) return head;
    Lines lines(bytes.substr(0, head));
    std::string_view line;
    lines.next(line);
    // HTTP/1.x SP 3DIGIT [SP reason]
    if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[7] < '0' || line[7] > '9' || line[8] != ' ' ||
        (line.size() > 12 && line[12] != ' '))
        return Gatherer::kTooLong;
    int status = 0;
    if (const auto [end, error] = std::from_chars(line.data() + 9, line.data() + 12, status);
        error != std::errc() || end != line.data() + 12 || status < 100)
        return Gatherer::kTooLong;

    bool has_length = false;
    std::size_t length = 0;
    bool close = false;
    while (lines.next(line) && !line.empty()) {
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) return Gatherer::kTooLong;
        const std::string_view name = line.substr(0, colon);
        const std::string_view value = trimmed(line.substr(colon + 1));
        if (same_name(name, "Content-Length")) {
            std::size_t this_length = 0;
            if (!parse_length(value, this_length) || (has_length && this_length != length))
                return Gatherer::kTooLong;
            has_length = true;
            length = this_length;
        } else if (same_name(name, "Transfer-Encoding")) {
            return Gatherer::kTooLong;  // chunked: not framed by Content-Length (docs/http.md)
        } else if (same_name(name, "Connection")) {
            close = close || has_token(value, "close");
        }
    }
    if (!has_length || length > max_body_) return Gatherer::kTooLong;
    parsed_ = Response{status, {}, close};
    head_length_ = head;
    return bytes.size() >= head + length ? head + length : 0;
}

}  // namespace archbench::http
