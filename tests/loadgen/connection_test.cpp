// How a connection matches answers with its questions, without a socket: bytes in, verdicts out.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "loadgen/connection.hpp"

using namespace archbench::load;

namespace {

struct Verdict {
    std::int64_t origin_ns;
    std::uint8_t question;
    bool right;
};

class AnswerMatching : public ::testing::Test {
protected:
    Status feed(Connection& connection, std::string_view bytes) {
        return connection.take_answers(bytes, [&](const Request& request, bool right) {
            verdicts.push_back({request.origin_ns, request.question, right});
        });
    }
    ExpectedAnswers unpadded{0};
    std::vector<Verdict> verdicts;
};

}  // namespace

TEST_F(AnswerMatching, QuestionsCycleThroughTheThreeAphorisms) {
    Connection connection(0, 4, unpadded);
    for (int i = 0; i < 4; ++i) connection.ask(i, i);
    EXPECT_EQ(feed(connection, "Ugly.Implicit.Complex.Ugly."), Status::ok);
    ASSERT_EQ(verdicts.size(), 4u);
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(verdicts[i].question, i % 3);
        EXPECT_TRUE(verdicts[i].right);
        EXPECT_EQ(verdicts[i].origin_ns, i) << "answers are matched oldest first";
    }
    EXPECT_TRUE(connection.in_flight().empty());
}

TEST_F(AnswerMatching, AnAnswerSplitAcrossReadsIsMatchedOnceWhole) {
    Connection connection(0, 1, unpadded);
    connection.ask(0, 0);
    EXPECT_EQ(feed(connection, "Ug"), Status::ok);
    EXPECT_TRUE(verdicts.empty());
    EXPECT_EQ(feed(connection, "ly."), Status::ok);
    ASSERT_EQ(verdicts.size(), 1u);
    EXPECT_TRUE(verdicts[0].right);
}

TEST_F(AnswerMatching, AWrongAnswerIsFlaggedAndTheStreamStaysInStep) {
    Connection connection(0, 2, unpadded);
    connection.ask(0, 0);
    connection.ask(1, 1);
    EXPECT_EQ(feed(connection, "Pretty.Implicit."), Status::ok);
    ASSERT_EQ(verdicts.size(), 2u);
    EXPECT_FALSE(verdicts[0].right);
    EXPECT_TRUE(verdicts[1].right);
}

TEST_F(AnswerMatching, AnAnswerNobodyAskedForStopsTheConnection) {
    Connection connection(0, 1, unpadded);
    connection.ask(0, 0);
    EXPECT_EQ(feed(connection, "Ugly.Ugly."), Status::wrong_answer);
    EXPECT_EQ(verdicts.size(), 1u);
}

TEST_F(AnswerMatching, AnAnswerLongerThanAnyExpectedOneStopsTheConnection) {
    Connection connection(0, 1, unpadded);
    connection.ask(0, 0);
    EXPECT_EQ(feed(connection, std::string(200, 'x')), Status::wrong_answer);
}

TEST_F(AnswerMatching, PaddedAnswersAreExpectedWithReplyBytes) {
    const ExpectedAnswers padded(40);
    Connection connection(0, 2, padded);
    connection.ask(0, 0);
    connection.ask(0, 0);
    const std::string ugly = "Ugly" + std::string(35, '-') + ".";
    EXPECT_EQ(feed(connection, ugly + "Implicit."), Status::ok);
    ASSERT_EQ(verdicts.size(), 2u);
    EXPECT_TRUE(verdicts[0].right);
    EXPECT_FALSE(verdicts[1].right) << "an unpadded answer is wrong when padding was asked for";
}

TEST(InFlight, KeepsRequestsOldestFirstAroundTheRing) {
    InFlight ring(3);
    for (std::int64_t round = 0; round < 5; ++round) {
        ring.push({round * 10, 0, 0});
        ring.push({round * 10 + 1, 0, 1});
        EXPECT_EQ(ring.size(), 2u);
        EXPECT_EQ(ring.at(1).origin_ns, round * 10 + 1);
        EXPECT_EQ(ring.pop().origin_ns, round * 10);
        EXPECT_EQ(ring.pop().origin_ns, round * 10 + 1);
        EXPECT_TRUE(ring.empty());
    }
    ring.push({1, 0, 0});
    ring.push({2, 0, 0});
    ring.push({3, 0, 0});
    EXPECT_TRUE(ring.full());
}
