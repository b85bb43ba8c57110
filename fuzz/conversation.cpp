// Fuzz target: the server's side of the protocol, zen::Conversation, fed arbitrary bytes in
// arbitrary chunks, with arbitrary --max-request and --reply-bytes.
//
// Input (fuzz_input.hpp): knob16 % 2048 is --max-request (0: the default, 1024), knob8 is
// --reply-bytes (0: unpadded); the stream is what a client sends. Feeding stops at
// "request too long", where a server closes the connection.
//
// Invariants, beyond "never crashes, overflows or invokes undefined behaviour":
//  - the output is a sequence of answers, each ending in '.', each one of the known answers
//    padded to --reply-bytes, and there are never more of them than '?' in the input (plus the
//    one "request too long");
//  - "request too long" comes only when a question reached --max-request bytes without its '?',
//    and only as the last answer;
//  - the output is exactly what DESIGN.md's rules give for the whole stream, whatever the
//    chunks: the model below applies them byte by byte, apart from the code under test.
#include <algorithm>
#include <string>
#include <string_view>

#include "fuzz/fuzz_input.hpp"
#include "protocol/zen.hpp"

using namespace archbench;

namespace {

std::string pad(std::string_view answer, std::size_t reply_bytes) {
    if (answer.size() >= reply_bytes) return std::string(answer);
    return std::string(answer.substr(0, answer.size() - 1)) +
           std::string(reply_bytes - answer.size(), '-') + ".";
}

struct Expected {
    std::string output;
    bool too_long = false;
    bool mid_question = false;
};

// DESIGN.md's rules, one byte at a time: line breaks before a question are skipped; a question
// ends at its first '?' and gets its answer; one that reaches max_request bytes without it gets
// the error, and the connection ends there.
Expected model(std::string_view stream, std::size_t max_request, std::size_t reply_bytes) {
    Expected expected;
    std::string question;
    for (const char c : stream) {
        if (question.empty() && (c == '\n' || c == '\r')) continue;
        question.push_back(c);
        if (c == '?') {
            std::string_view answer = zen::kUnknownAnswer;
            for (const zen::Aphorism& aphorism : zen::kAphorisms)
                if (aphorism.question == question) answer = aphorism.answer;
            expected.output += pad(answer, reply_bytes);
            question.clear();
        } else if (question.size() >= max_request) {
            expected.output += pad(zen::kTooLongAnswer, reply_bytes);
            expected.too_long = true;
            return expected;
        }
    }
    expected.mid_question = !question.empty();
    return expected;
}

bool is_known_answer(std::string_view answer, std::size_t reply_bytes) {
    for (const zen::Aphorism& aphorism : zen::kAphorisms)
        if (answer == pad(aphorism.answer, reply_bytes)) return true;
    return answer == pad(zen::kUnknownAnswer, reply_bytes) || answer == pad(zen::kTooLongAnswer, reply_bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::optional<fuzz::ChunkedInput> input = fuzz::read_input(data, size);
    if (!input) return 0;
    zen::Workload workload;  // no work, no sleep: only the framing and the answers
    workload.max_request = input->knob16 % 2048 == 0 ? zen::kDefaultMaxRequest : input->knob16 % 2048;
    workload.reply_bytes = input->knob8;

    zen::Conversation conversation(workload);
    std::string output;
    zen::FrameStatus status = zen::FrameStatus::ok;
    input->for_each_chunk([&](std::string_view chunk) {
        status = conversation.on_input(chunk, output);
        return status == zen::FrameStatus::ok;  // too long: the server closes the connection
    });

    // A sequence of known answers, each ending in '.', no more than the questions asked.
    std::size_t answers = 0;
    std::string_view rest = output;
    std::string_view last;
    while (!rest.empty()) {
        const std::size_t end = rest.find(zen::kAnswerEnd);
        FUZZ_CHECK(end != std::string_view::npos);
        last = rest.substr(0, end + 1);
        FUZZ_CHECK(is_known_answer(last, workload.reply_bytes));
        rest.remove_prefix(end + 1);
        ++answers;
    }
    const bool too_long = status == zen::FrameStatus::close_after;
    const auto questions = static_cast<std::size_t>(std::count(input->stream.begin(), input->stream.end(), '?'));
    FUZZ_CHECK(answers <= questions + (too_long ? 1 : 0));
    FUZZ_CHECK(too_long == (last == pad(zen::kTooLongAnswer, workload.reply_bytes)));
    if (too_long) FUZZ_CHECK(input->stream.size() >= workload.max_request);

    // Exactly the rules, whatever the chunks.
    const Expected expected = model(input->stream, workload.max_request, workload.reply_bytes);
    FUZZ_CHECK(output == expected.output);
    FUZZ_CHECK(too_long == expected.too_long);
    if (!too_long) FUZZ_CHECK(conversation.mid_question() == expected.mid_question);
    return 0;
}
