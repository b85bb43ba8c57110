// Fuzz target: the load generator's HTTP response checker, load::Connection::take_answers in
// HTTP mode (and the http::ResponseReader inside it), fed arbitrary server bytes in arbitrary
// chunks.
//
// Input (fuzz_input.hpp): knob16 % 1024 is --reply-bytes, 1 + knob8 % 16 the pipeline depth, and
// knob8's top bit picks --path: /beautiful, or /nope (which expects the 404). The stream is what
// a server sends. The connection asks its pipeline full up front; nothing more is asked.
//
// Invariants, beyond "never crashes, overflows or invokes undefined behaviour":
//  - every chunk is classified: ok, wrong_answer or closing, never anything else;
//  - each verdict goes to the oldest request in flight, and a request leaves the ring only with
//    a verdict;
//  - a verdict is "right" only for the response whose status and body are the expected ones:
//    checked against the same bytes framed by an http::ResponseReader of their own;
//  - the verdicts and where the connection gives up are the same whatever the chunks: the
//    whole stream in one read gives them too.
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_input.hpp"
#include "loadgen/connection.hpp"
#include "protocol/zen.hpp"

using namespace archbench;
using load::Status;

namespace {

struct Verdicts {
    std::vector<std::pair<std::int64_t, bool>> verdicts;  // origin, right
    Status status = Status::ok;
};

template <typename ForEachChunk>
Verdicts check(const load::ExpectedAnswers& expected, unsigned pipeline, ForEachChunk&& for_each_chunk) {
    load::Connection connection(0, pipeline, expected);
    for (std::int64_t clock = 0; !connection.in_flight().full(); ++clock) connection.ask(clock, clock);
    connection.discard_unsent();  // nothing is sent: the chunks play the server
    Verdicts result;
    for_each_chunk([&](std::string_view chunk) {
        const std::size_t before = connection.in_flight().size();
        const std::size_t verdicts_before = result.verdicts.size();
        result.status = connection.take_answers(chunk, [&](const load::Request& request, bool right) {
            FUZZ_CHECK(request.origin_ns == static_cast<std::int64_t>(result.verdicts.size()));  // oldest first
            result.verdicts.emplace_back(request.origin_ns, right);
        });
        FUZZ_CHECK(result.status == Status::ok || result.status == Status::wrong_answer ||
                   result.status == Status::closing);
        FUZZ_CHECK(before - connection.in_flight().size() == result.verdicts.size() - verdicts_before);
        return result.status == Status::ok;  // the engine drops the connection on anything else
    });
    return result;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::optional<fuzz::ChunkedInput> input = fuzz::read_input(data, size);
    if (!input) return 0;
    const std::size_t reply_bytes = input->knob16 % 1024;
    const unsigned pipeline = 1 + input->knob8 % 16;
    const std::string_view path = input->knob8 & 0x80 ? "/nope" : "/beautiful";
    const load::ExpectedAnswers expected(reply_bytes, path, "127.0.0.1:1060");

    const Verdicts chunked = check(expected, pipeline, [&](auto&& on_chunk) { input->for_each_chunk(on_chunk); });
    const Verdicts whole = check(expected, pipeline, [&](auto&& on_chunk) { on_chunk(input->stream); });
    FUZZ_CHECK(chunked.verdicts == whole.verdicts);
    FUZZ_CHECK(chunked.status == whole.status);

    // "Right" exactly for the expected status and body, as an independent reader frames them.
    http::ResponseReader reader(zen::longest_body(reply_bytes));
    std::size_t index = 0;
    reader.feed(input->stream, [&](const http::Response& response) {
        if (index < chunked.verdicts.size())
            FUZZ_CHECK(chunked.verdicts[index].second ==
                       (response.status == expected.status(0) && response.body == expected[0]));
        ++index;
    });
    return 0;
}
