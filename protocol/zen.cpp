#include "protocol/zen.hpp"

#include <algorithm>
#include <ctime>
#include <thread>

namespace archbench::zen {

std::string_view answer_for(std::string_view question) {
    for (const Aphorism& aphorism : kAphorisms)
        if (aphorism.question == question) return aphorism.answer;
    return kUnknownAnswer;
}

std::string_view answer_for_path(std::string_view path) {
    for (const Aphorism& aphorism : kAphorisms)
        if (aphorism.path == path) return aphorism.answer;
    return kUnknownAnswer;
}

std::string_view protocol_name(Protocol protocol) {
    return protocol == Protocol::http ? "http" : "zen";
}

std::optional<Protocol> protocol_named(std::string_view name) {
    if (name == "zen") return Protocol::zen;
    if (name == "http") return Protocol::http;
    return std::nullopt;
}

std::size_t longest_body(std::size_t reply_bytes) {
    return std::max({reply_bytes, kUnknownAnswer.size(), kTooLongAnswer.size(),
                     kBadRequestAnswer.size(), kMethodNotAllowedAnswer.size()});
}

std::size_t longest_answer(const Workload& workload) {
    const std::size_t body = longest_body(workload.reply_bytes);
    return workload.protocol == Protocol::http ? http::longest_response_head(body) + body : body;
}

void append_padded(std::string& out, std::string_view answer, std::size_t reply_bytes) {
    if (answer.size() >= reply_bytes) {
        out.append(answer);
        return;
    }
    out.append(answer.substr(0, answer.size() - 1));
    out.append(reply_bytes - answer.size(), kPadding);
    out.push_back(kAnswerEnd);
}

std::string padded(std::string_view answer, std::size_t reply_bytes) {
    std::string out;
    append_padded(out, answer, reply_bytes);
    return out;
}

static long long thread_cpu_ns() {
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return now.tv_sec * 1'000'000'000LL + now.tv_nsec;
}

void burn_cpu(unsigned us) {
    if (us == 0) return;
    const long long until = thread_cpu_ns() + us * 1000LL;
    while (thread_cpu_ns() < until) {
    }
}

void do_request_work(const Workload& workload) {
    burn_cpu(workload.work_us);
    if (workload.sleep_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(workload.sleep_us));
}

void do_request_work(const Workload& workload, const Request& request) {
    if (!request.refusal) do_request_work(workload);
}

Framer::Framer(char terminator, std::size_t max_frame, LineBreaks line_breaks)
    : terminator_(terminator),
      skip_line_breaks_(line_breaks == LineBreaks::skip),
      max_frame_(std::max<std::size_t>(max_frame, 1)) {}

Conversation::Conversation(const Workload& workload)
    : workload_(workload),
      framer_(kQuestionEnd, workload.max_request, Framer::LineBreaks::skip),
      http_(workload.max_request) {}

Request Conversation::http_request(const http::RequestHead& head) {
    switch (head.verdict) {
    case http::Status::ok: {
        const std::string_view answer = answer_for_path(head.target);
        return Request{answer, false, head.close,
                       answer == kUnknownAnswer ? http::Status::not_found : http::Status::ok};
    }
    case http::Status::method_not_allowed:
        return Request{kMethodNotAllowedAnswer, true, true, head.verdict};
    case http::Status::header_fields_too_large: return Request{kTooLongAnswer, true, true, head.verdict};
    default: return Request{kBadRequestAnswer, true, true, http::Status::bad_request};
    }
}

FrameStatus Conversation::on_input(std::string_view input, std::string& out) {
    return take_requests(input, [&](const Request& request) {
        do_request_work(workload_, request);
        answer(request, out);
    });
}

void Conversation::answer(const Request& request, std::string& out) {
    if (workload_.protocol == Protocol::http)
        http::append_response_head(out, request.status,
                                   padded_size(request.answer, workload_.reply_bytes), request.closes);
    append_padded(out, request.answer, workload_.reply_bytes);
    if (!request.refusal) ++questions_answered_;
}

AnswerReader::AnswerReader(std::size_t reply_bytes)
    : framer_(kAnswerEnd, std::max({reply_bytes, kUnknownAnswer.size(), kTooLongAnswer.size()}),
              Framer::LineBreaks::keep) {}

}  // namespace archbench::zen
