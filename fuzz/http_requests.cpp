// Fuzz target: the server's side of HTTP, zen::Conversation built with Protocol::http (and the
// http::RequestParser inside it), fed arbitrary bytes in arbitrary chunks, with arbitrary
// --max-request and --reply-bytes.
//
// Input (fuzz_input.hpp): knob16 % 2048 is --max-request (0: the default, 1024), knob8 is
// --reply-bytes (0: unpadded); the stream is what a client sends. Feeding stops where the
// conversation says close_after, as a server closes the connection there.
//
// Invariants, beyond "never crashes, overflows or invokes undefined behaviour":
//  - the output is a sequence of whole responses that the client's http::ResponseReader frames,
//    each exactly the bytes the rules give for its status, body and Connection header;
//  - each status goes with its body: 200 with an aphorism's answer, 404 with the unknown answer,
//    400, 405 and 431 with theirs, every body padded to --reply-bytes;
//  - only the last response may close the connection (and then it does: close_after), and every
//    refusal (400, 405, 431) closes it; 431 only once --max-request bytes arrived;
//  - no more responses than line feeds in the input;
//  - the same output and status whatever the chunks: the whole stream in one read gives them too.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_input.hpp"
#include "protocol/http.hpp"
#include "protocol/zen.hpp"

using namespace archbench;

namespace {

struct Outcome {
    std::string output;
    zen::FrameStatus status = zen::FrameStatus::ok;
};

template <typename ForEachChunk>
Outcome converse(const zen::Workload& workload, ForEachChunk&& for_each_chunk) {
    zen::Conversation conversation(workload);
    Outcome outcome;
    for_each_chunk([&](std::string_view chunk) {
        outcome.status = conversation.on_input(chunk, outcome.output);
        return outcome.status == zen::FrameStatus::ok;
    });
    return outcome;
}

bool body_fits_status(int status, std::string_view body, std::size_t reply_bytes) {
    const auto is = [&](std::string_view answer) { return body == zen::padded(answer, reply_bytes); };
    switch (status) {
    case 200:
        return std::any_of(zen::kAphorisms.begin(), zen::kAphorisms.end(),
                           [&](const zen::Aphorism& aphorism) { return is(aphorism.answer); });
    case 404: return is(zen::kUnknownAnswer);
    case 400: return is(zen::kBadRequestAnswer);
    case 405: return is(zen::kMethodNotAllowedAnswer);
    case 431: return is(zen::kTooLongAnswer);
    default: return false;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::optional<fuzz::ChunkedInput> input = fuzz::read_input(data, size);
    if (!input) return 0;
    zen::Workload workload;  // no work, no sleep: only the framing and the answers
    workload.protocol = zen::Protocol::http;
    workload.max_request = input->knob16 % 2048 == 0 ? zen::kDefaultMaxRequest : input->knob16 % 2048;
    workload.reply_bytes = input->knob8;

    const Outcome chunked = converse(workload, [&](auto&& on_chunk) { input->for_each_chunk(on_chunk); });
    const Outcome whole = converse(workload, [&](auto&& on_chunk) { on_chunk(input->stream); });
    FUZZ_CHECK(chunked.output == whole.output);
    FUZZ_CHECK(chunked.status == whole.status);

    // Whole responses, each exactly as the rules write it, each status with its body.
    http::ResponseReader reader(zen::longest_body(workload.reply_bytes));
    std::string rewritten;
    std::vector<int> statuses;
    std::vector<bool> closes;
    const bool framed = reader.feed(chunked.output, [&](const http::Response& response) {
        FUZZ_CHECK(body_fits_status(response.status, response.body, workload.reply_bytes));
        http::append_response_head(rewritten, static_cast<http::Status>(response.status), response.body.size(),
                                   response.close);
        rewritten.append(response.body);
        statuses.push_back(response.status);
        closes.push_back(response.close);
    });
    FUZZ_CHECK(framed && !reader.mid_response());
    FUZZ_CHECK(rewritten == chunked.output);

    const bool closed = chunked.status == zen::FrameStatus::close_after;
    for (std::size_t i = 0; i + 1 < statuses.size(); ++i) {
        FUZZ_CHECK(!closes[i]);
        FUZZ_CHECK(statuses[i] == 200 || statuses[i] == 404);
    }
    if (!statuses.empty()) {
        FUZZ_CHECK(closes.back() == closed);
        if (statuses.back() != 200 && statuses.back() != 404) FUZZ_CHECK(closed);
        if (statuses.back() == 431) FUZZ_CHECK(input->stream.size() >= workload.max_request);
    } else {
        FUZZ_CHECK(!closed);
    }
    const auto line_feeds = static_cast<std::size_t>(std::count(input->stream.begin(), input->stream.end(), '\n'));
    FUZZ_CHECK(statuses.size() <= line_feeds + (closed ? 1 : 0));
    return 0;
}
