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

Framer::Framer(char terminator, std::size_t max_frame, LineBreaks line_breaks)
    : terminator_(terminator),
      skip_line_breaks_(line_breaks == LineBreaks::skip),
      max_frame_(std::max<std::size_t>(max_frame, 1)) {}

Conversation::Conversation(const Workload& workload)
    : workload_(workload), framer_(kQuestionEnd, workload.max_request, Framer::LineBreaks::skip) {}

FrameStatus Conversation::on_input(std::string_view input, std::string& out) {
    const FrameStatus status = framer_.feed(input, [&](std::string_view question) {
        do_request_work(workload_);
        append_padded(out, answer_for(question), workload_.reply_bytes);
        ++questions_answered_;
    });
    if (status == FrameStatus::too_long) append_padded(out, kTooLongAnswer, workload_.reply_bytes);
    return status;
}

AnswerReader::AnswerReader(std::size_t reply_bytes)
    : framer_(kAnswerEnd, std::max({reply_bytes, kUnknownAnswer.size(), kTooLongAnswer.size()}),
              Framer::LineBreaks::keep) {}

}  // namespace archbench::zen
