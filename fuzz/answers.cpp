// Fuzz target: the load generator's answer checker, load::Connection::take_answers (and the
// zen::AnswerReader inside it), fed arbitrary server bytes in arbitrary chunks.
//
// Input (fuzz_input.hpp): knob16 % 1024 is --reply-bytes, 1 + knob8 % 16 the pipeline depth;
// the stream is what a server sends. Before each chunk the connection asks questions until its
// pipeline is full, as the closed loop does. After a chunk that makes it give up
// (wrong_answer), the connection is closed and opened again, as the engine does.
//
// Invariants, beyond "never crashes, overflows or invokes undefined behaviour":
//  - every chunk is classified: ok or wrong_answer, never anything else (no socket is involved);
//  - each answer is matched with the oldest question in flight, and called right exactly when
//    it is that question's answer, padded to --reply-bytes;
//  - an answer with no question in flight, or one longer than any right answer can be, ends
//    the connection (wrong_answer);
//  - all of it exactly as the model below, which applies these rules byte by byte, says.
#include <algorithm>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_input.hpp"
#include "loadgen/connection.hpp"
#include "protocol/zen.hpp"

using namespace archbench;
using load::Status;

namespace {

struct Verdict {
    std::int64_t origin_ns;
    std::uint8_t question;
    bool right;
    bool operator==(const Verdict&) const = default;
};

std::string pad(std::string_view answer, std::size_t reply_bytes) {
    if (answer.size() >= reply_bytes) return std::string(answer);
    return std::string(answer.substr(0, answer.size() - 1)) +
           std::string(reply_bytes - answer.size(), '-') + ".";
}

// The connection as the rules describe it: questions in flight, oldest first, and the bytes of
// an answer not yet ended by its '.'.
class Model {
public:
    explicit Model(std::size_t reply_bytes)
        : reply_bytes_(reply_bytes),
          longest_(std::max({reply_bytes, zen::kUnknownAnswer.size(), zen::kTooLongAnswer.size()})) {}

    void ask(std::int64_t origin_ns, std::uint8_t question) { in_flight_.push_back({origin_ns, question}); }

    Status feed(std::string_view bytes, std::vector<Verdict>& verdicts) {
        for (const char c : bytes) {
            if (c != zen::kAnswerEnd) {
                answer_.push_back(c);
                if (answer_.size() >= longest_) return Status::wrong_answer;  // too long to be right
                continue;
            }
            answer_.push_back(c);
            if (in_flight_.empty()) return Status::wrong_answer;  // nobody asked
            const auto [origin_ns, question] = in_flight_.front();
            in_flight_.pop_front();
            verdicts.push_back({origin_ns, question, answer_ == pad(zen::kAphorisms[question].answer, reply_bytes_)});
            answer_.clear();
        }
        return Status::ok;
    }

    void reconnect() {
        in_flight_.clear();
        answer_.clear();
    }
    std::size_t in_flight() const { return in_flight_.size(); }

private:
    std::size_t reply_bytes_;
    std::size_t longest_;
    std::deque<std::pair<std::int64_t, std::uint8_t>> in_flight_;
    std::string answer_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::optional<fuzz::ChunkedInput> input = fuzz::read_input(data, size);
    if (!input) return 0;
    const std::size_t reply_bytes = input->knob16 % 1024;
    const unsigned pipeline = 1 + input->knob8 % 16;

    const load::ExpectedAnswers expected(reply_bytes);
    load::Connection connection(0, pipeline, expected);
    Model model(reply_bytes);
    std::int64_t clock = 0;
    std::uint64_t asked = 0;
    input->for_each_chunk([&](std::string_view chunk) {
        while (!connection.in_flight().full()) {
            connection.ask(clock, clock);
            model.ask(clock, static_cast<std::uint8_t>(asked++ % zen::kAphorisms.size()));
            ++clock;
        }
        connection.discard_unsent();  // nothing is sent: the chunk plays the server

        std::vector<Verdict> verdicts;
        const Status status = connection.take_answers(chunk, [&](const load::Request& request, bool right) {
            verdicts.push_back({request.origin_ns, request.question, right});
        });
        FUZZ_CHECK(status == Status::ok || status == Status::wrong_answer);

        std::vector<Verdict> expected_verdicts;
        const Status expected_status = model.feed(chunk, expected_verdicts);
        FUZZ_CHECK(status == expected_status);
        FUZZ_CHECK(verdicts == expected_verdicts);
        for (std::size_t i = 1; i < verdicts.size(); ++i)
            FUZZ_CHECK(verdicts[i - 1].origin_ns < verdicts[i].origin_ns);  // oldest first
        if (status == Status::ok) {
            FUZZ_CHECK(connection.in_flight().size() == model.in_flight());
        } else {
            connection.close();  // the engine counts the error and opens a new connection
            model.reconnect();
            FUZZ_CHECK(connection.in_flight().empty());
        }
        return true;
    });
    return 0;
}
