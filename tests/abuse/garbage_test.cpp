// Garbage in: random bytes, NULs, runs of '?', 10 MB without a '?'. The server answers with
// errors or closes the connection, never crashes, and serves the next client. What the abuser
// gets is checked against the protocol module itself (zen::Conversation, the same code the
// servers run), answer by answer. Random bytes and the 10 MB run in HTTP too (Garbage, with
// every architecture in_http()): a new parser is where garbage finds its bugs. NULs and runs of
// '?' mean something in Zen only (ZenGarbage).
#include <algorithm>
#include <random>
#include <thread>

#include "tests/abuse/abuse.hpp"

using namespace archbench;
using namespace archbench::testing;

namespace {

// The answers a server owes `bytes` under the default workload, as zen::Conversation gives
// them, up to and including the refusal of an over-long question; and whether it refuses.
struct Owed {
    std::vector<std::string> answers;
    bool refused = false;
};

Owed answers_owed(std::string_view bytes, zen::Protocol protocol) {
    zen::Workload workload;
    workload.protocol = protocol;
    zen::Conversation conversation(workload);
    std::string out;
    Owed owed;
    owed.refused = conversation.on_input(bytes, out) == zen::FrameStatus::close_after;
    zen::AnswerReader reader;
    http::ResponseReader responses(zen::longest_body(0));
    if (protocol == zen::Protocol::http)
        responses.feed(out, [&](const http::Response& response) { owed.answers.emplace_back(response.body); });
    else
        reader.feed(out, [&](std::string_view answer) { owed.answers.emplace_back(answer); });
    return owed;
}

std::string random_bytes(std::size_t count, unsigned seed) {
    std::mt19937 generator(seed);
    std::uniform_int_distribution<int> byte(0, 255);
    std::string bytes(count, '\0');
    for (char& c : bytes) c = static_cast<char>(byte(generator));
    return bytes;
}

class Garbage : public Abuse {};
class ZenGarbage : public Abuse {};

}  // namespace

TEST_P(Garbage, RandomBytesGetTheProtocolsAnswersThenAClose) {
    // 256 kB of random bytes. Zen: a '?' every 256 bytes or so ends a question (unknown), and
    // the first gap of 1024 bytes without one is an over-long question (refused, then closed).
    // HTTP: a refusal at once (400 for a control byte, or 431).
    const std::string bytes = random_bytes(256 * 1024, 20240601);
    const Owed owed = answers_owed(bytes, protocol());
    ASSERT_TRUE(owed.refused) << "the seed should give an over-long question";
    ASSERT_GE(owed.answers.size(), protocol() == zen::Protocol::zen ? 10u : 1u);

    ServerProcess server = start();
    {
        Client abuser = connect(server);
        abuser.send_until_refused(bytes, milliseconds(5000));
        EXPECT_TRUE(abuser.closed_by_server(milliseconds(5000)));
        EXPECT_EQ(abuser.read_answers(owed.answers.size() + 1, milliseconds(0)), owed.answers);
    }
    EXPECT_TRUE(server.running()) << server.stderr_text();
    EXPECT_TRUE(serves_a_new_client(server.port(), 0, milliseconds(5000), protocol()));
}

TEST_P(ZenGarbage, NulBytesAreOrdinaryBytesOfAQuestion) {
    ServerProcess server = start();
    {
        Client abuser(server.port());
        abuser.send(std::string("Beautiful\0is better than?", 26));
        EXPECT_EQ(abuser.read_answer(), "Error: unknown aphorism.");
        abuser.send(std::string(1000, '\0') + "?");
        EXPECT_EQ(abuser.read_answer(), "Error: unknown aphorism.");
        abuser.send(std::string("\0\0\0", 3) + std::string(kBeautiful));
        EXPECT_EQ(abuser.read_answer(), "Error: unknown aphorism.");
        abuser.send(kBeautiful);  // the connection stayed open, and the framing in step
        EXPECT_EQ(abuser.read_answer(), "Ugly.");
    }
    EXPECT_TRUE(serves_a_new_client(server.port()));
}

TEST_P(ZenGarbage, RunOfQuestionMarksGetsOneErrorEach) {
    constexpr std::size_t kMarks = 10000;
    ServerProcess server = start();
    {
        Client abuser(server.port());
        abuser.send_until_refused(std::string(kMarks, '?'), milliseconds(5000));
        const std::vector<std::string> answers = abuser.read_answers(kMarks, milliseconds(5000));
        EXPECT_EQ(answers.size(), kMarks);
        EXPECT_EQ(std::count(answers.begin(), answers.end(), "Error: unknown aphorism."),
                  static_cast<long>(kMarks));
        abuser.send(kSimple);  // no answer more, none less: this one's comes next
        EXPECT_EQ(abuser.read_answer(), "Complex.");
    }
    EXPECT_TRUE(serves_a_new_client(server.port()));
}

TEST_P(Garbage, TenMegabytesWithoutAQuestionMarkGetTooLongThenAClose) {
    // The server stops reading at the limit and closes; the abuser's writes then fail
    // (EPIPE or ECONNRESET), which it expects.
    ServerProcess server = start();
    {
        Client abuser = connect(server);
        const std::size_t sent =
            abuser.send_until_refused(std::string(10 * 1024 * 1024, 'x'), milliseconds(10000));
        EXPECT_LT(sent, 10u * 1024 * 1024) << "the server never closed the connection";
        EXPECT_EQ(abuser.read_answer(milliseconds(1000)), "Error: request too long.");
        EXPECT_TRUE(abuser.closed_by_server(milliseconds(3000)));
    }
    EXPECT_TRUE(server.running()) << server.stderr_text();
    EXPECT_TRUE(serves_a_new_client(server.port(), 0, milliseconds(5000), protocol()));
}

INSTANTIATE_TEST_SUITE_P(Abuse, Garbage, ::testing::ValuesIn(every_architecture()));
INSTANTIATE_TEST_SUITE_P(AbuseHttp, Garbage, ::testing::ValuesIn(in_http(every_architecture())));
INSTANTIATE_TEST_SUITE_P(Abuse, ZenGarbage, ::testing::ValuesIn(every_architecture()));
