// The Zen protocol of DESIGN.md, rule by rule, against protocol/ alone (no sockets).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/zen.hpp"

using namespace archbench::zen;

namespace {

// Feeds `chunks` to one conversation, as a server would receive them, and returns what it sent.
struct Exchange {
    std::string output;
    FrameStatus status = FrameStatus::ok;
};

Exchange converse(const std::vector<std::string>& chunks, Workload workload = {}) {
    Conversation conversation(workload);
    Exchange exchange;
    for (const std::string& chunk : chunks) {
        exchange.status = conversation.on_input(chunk, exchange.output);
        if (exchange.status == FrameStatus::close_after) break;
    }
    return exchange;
}

std::vector<std::string> answers_in(std::string_view stream, std::size_t reply_bytes = 0) {
    AnswerReader reader(reply_bytes);
    std::vector<std::string> answers;
    reader.feed(stream, [&](std::string_view answer) { answers.emplace_back(answer); });
    return answers;
}

}  // namespace

TEST(ZenAnswers, BeautifulIsAnsweredUgly) {
    EXPECT_EQ(converse({"Beautiful is better than?"}).output, "Ugly.");
}

TEST(ZenAnswers, ExplicitIsAnsweredImplicit) {
    EXPECT_EQ(converse({"Explicit is better than?"}).output, "Implicit.");
}

TEST(ZenAnswers, SimpleIsAnsweredComplex) {
    EXPECT_EQ(converse({"Simple is better than?"}).output, "Complex.");
}

TEST(ZenAnswers, UnknownQuestionGetsErrorAndConversationGoesOn) {
    const Exchange exchange = converse({"Flat is better than?", "Simple is better than?"});
    EXPECT_EQ(exchange.output, "Error: unknown aphorism.Complex.");
    EXPECT_EQ(exchange.status, FrameStatus::ok);
}

TEST(ZenAnswers, QuestionsAreCaseSensitive) {
    EXPECT_EQ(converse({"beautiful is better than?"}).output, "Error: unknown aphorism.");
}

TEST(ZenAnswers, LoneQuestionMarkIsAnUnknownQuestion) {
    EXPECT_EQ(converse({"?"}).output, "Error: unknown aphorism.");
}

TEST(ZenFraming, QuestionEndsAtFirstQuestionMark) {
    // "Beautiful is better than?" is complete at its '?'; "?" that follows is a question of its own.
    EXPECT_EQ(converse({"Beautiful is better than??"}).output, "Ugly.Error: unknown aphorism.");
}

TEST(ZenFraming, PipelinedQuestionsAreAnsweredInOrder) {
    EXPECT_EQ(converse({"Simple is better than?Beautiful is better than?Explicit is better than?"})
                  .output,
              "Complex.Ugly.Implicit.");
}

TEST(ZenFraming, QuestionSplitAcrossReadsIsAnsweredOnceComplete) {
    Conversation conversation(Workload{});
    std::string output;
    conversation.on_input("Beautiful is", output);
    EXPECT_EQ(output, "");
    EXPECT_TRUE(conversation.mid_question());
    conversation.on_input(" better than?", output);
    EXPECT_EQ(output, "Ugly.");
    EXPECT_FALSE(conversation.mid_question());
}

TEST(ZenFraming, QuestionSplitIntoSingleBytesIsAnswered) {
    std::vector<std::string> bytes;
    for (char c : std::string("Explicit is better than?")) bytes.emplace_back(1, c);
    EXPECT_EQ(converse(bytes).output, "Implicit.");
}

TEST(ZenFraming, ReadEndingInsideSecondQuestionAnswersFirstAndKeepsSecond) {
    EXPECT_EQ(converse({"Simple is better than?Beauti", "ful is better than?"}).output,
              "Complex.Ugly.");
}

TEST(ZenFraming, LineBreaksBetweenQuestionsAreSkipped) {
    EXPECT_EQ(converse({"Simple is better than?\r\n", "Beautiful is better than?\n"}).output,
              "Complex.Ugly.");
}

TEST(ZenFraming, LineBreakInsideQuestionMakesItUnknown) {
    EXPECT_EQ(converse({"Simple is\nbetter than?"}).output, "Error: unknown aphorism.");
}

TEST(ZenFraming, EmptyReadChangesNothing) {
    EXPECT_EQ(converse({"", "Simple is better than?", ""}).output, "Complex.");
}

TEST(ZenLimits, QuestionReachingMaxRequestWithoutQuestionMarkIsTooLong) {
    const Exchange exchange = converse({std::string(1024, 'a')});
    EXPECT_EQ(exchange.status, FrameStatus::close_after);
    EXPECT_EQ(exchange.output, "Error: request too long.");
}

TEST(ZenLimits, QuestionOfExactlyMaxRequestBytesIsAnswered) {
    const Exchange exchange = converse({std::string(1023, 'a') + "?"});
    EXPECT_EQ(exchange.status, FrameStatus::ok);
    EXPECT_EQ(exchange.output, "Error: unknown aphorism.");
}

TEST(ZenLimits, LimitCountsBytesGatheredOverSeveralReads) {
    const Exchange exchange = converse({std::string(600, 'a'), std::string(424, 'b')});
    EXPECT_EQ(exchange.status, FrameStatus::close_after);
}

TEST(ZenLimits, TooLongIsReportedWithoutWaitingForMoreBytes) {
    Workload workload;
    workload.max_request = 10;
    EXPECT_EQ(converse({"0123456789"}, workload).status, FrameStatus::close_after);
    EXPECT_EQ(converse({"012345678"}, workload).status, FrameStatus::ok);
}

TEST(ZenLimits, QuestionsBeforeTheOverlongOneAreAnsweredFirst) {
    Workload workload;
    workload.max_request = 32;
    const Exchange exchange = converse({"Simple is better than?" + std::string(40, 'x')}, workload);
    EXPECT_EQ(exchange.output, "Complex.Error: request too long.");
}

TEST(ZenLimits, MaxRequestIsConfigurable) {
    Workload workload;
    workload.max_request = 4096;
    EXPECT_EQ(converse({std::string(2000, 'a') + "?"}, workload).status, FrameStatus::ok);
}

TEST(ZenPadding, AnswerIsPaddedToReplyBytes) {
    EXPECT_EQ(padded("Ugly.", 12), "Ugly-------.");
    EXPECT_EQ(padded("Ugly.", 12).size(), 12u);
}

TEST(ZenPadding, AnswerAlreadyThatLongIsSentAsItIs) {
    EXPECT_EQ(padded("Implicit.", 9), "Implicit.");
    EXPECT_EQ(padded("Implicit.", 4), "Implicit.");
    EXPECT_EQ(padded("Implicit.", 0), "Implicit.");
}

TEST(ZenPadding, ServerPadsEveryAnswerIncludingErrors) {
    Workload workload;
    workload.reply_bytes = 30;
    const Exchange exchange = converse({"Simple is better than?What?"}, workload);
    EXPECT_EQ(exchange.output, "Complex" + std::string(22, '-') + "." + "Error: unknown aphorism" +
                                   std::string(6, '-') + ".");
}

TEST(ZenPadding, PaddedAnswersEndWithTheirOnlyFullStop) {
    const std::string answer = padded("Complex.", 200000);
    EXPECT_EQ(answer.size(), 200000u);
    EXPECT_EQ(answer.find('.'), answer.size() - 1);
}

TEST(ZenWorkload, WorkUsBurnsThatMuchThreadCpu) {
    timespec before{}, after{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &before);
    burn_cpu(20000);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &after);
    const double burnt_us = (after.tv_sec - before.tv_sec) * 1e6 + (after.tv_nsec - before.tv_nsec) / 1e3;
    EXPECT_GE(burnt_us, 20000);
}

TEST(ZenWorkload, SleepUsBlocksThatLongPerQuestion) {
    Workload workload;
    workload.sleep_us = 20000;
    timespec before{}, after{};
    clock_gettime(CLOCK_MONOTONIC, &before);
    converse({"Simple is better than?Simple is better than?"}, workload);
    clock_gettime(CLOCK_MONOTONIC, &after);
    const double elapsed_us = (after.tv_sec - before.tv_sec) * 1e6 + (after.tv_nsec - before.tv_nsec) / 1e3;
    EXPECT_GE(elapsed_us, 40000);
}

TEST(ZenWorkload, WorkIsDoneOncePerQuestion) {
    Workload workload;
    workload.work_us = 10000;
    timespec before{}, after{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &before);
    converse({"Simple is better than?Simple is better than?Simple is better than?"}, workload);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &after);
    const double burnt_us = (after.tv_sec - before.tv_sec) * 1e6 + (after.tv_nsec - before.tv_nsec) / 1e3;
    EXPECT_GE(burnt_us, 30000);
}

// The same conversation in parts, as epoll-offload and seda hold it: framed on one thread,
// worked on another, answered back on the first.
TEST(ZenTakenRequests, TakingRequestsAnswersNothingUntilAnswered) {
    Conversation conversation(Workload{});
    std::vector<Request> requests;
    conversation.take_requests("Simple is better than?Flat?",
                               [&](const Request& request) { requests.push_back(request); });
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(conversation.questions_answered(), 0u);
    std::string out;
    for (const Request& request : requests) conversation.answer(request, out);
    EXPECT_EQ(out, "Complex.Error: unknown aphorism.");
    EXPECT_EQ(conversation.questions_answered(), 2u);
}

TEST(ZenTakenRequests, AnsweredInPartsTheBytesAreThoseOfOnInput) {
    Workload workload;
    workload.reply_bytes = 40;
    workload.max_request = 30;
    const std::string input = "Beautiful is better than?\nExplicit is better than?" + std::string(40, 'x');
    Conversation whole(workload), parts(workload);
    std::string whole_out, parts_out;
    const FrameStatus whole_status = whole.on_input(input, whole_out);
    std::vector<Request> requests;
    const FrameStatus parts_status =
        parts.take_requests(input, [&](const Request& request) { requests.push_back(request); });
    for (const Request& request : requests) parts.answer(request, parts_out);
    EXPECT_EQ(parts_status, whole_status);
    EXPECT_EQ(parts_status, FrameStatus::close_after);
    EXPECT_EQ(parts_out, whole_out);
    EXPECT_EQ(parts.questions_answered(), whole.questions_answered());
}

TEST(ZenTakenRequests, RefusalIsTakenLastAndCostsNoWork) {
    Workload workload;
    workload.max_request = 10;
    workload.work_us = 20000;
    Conversation conversation(workload);
    std::vector<Request> requests;
    conversation.take_requests("Flat?" + std::string(20, 'x'),
                               [&](const Request& request) { requests.push_back(request); });
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_FALSE(requests[0].refusal);
    EXPECT_TRUE(requests[1].refusal);
    EXPECT_EQ(requests[1].answer, kTooLongAnswer);
    timespec before{}, after{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &before);
    do_request_work(workload, requests[1]);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &after);
    const double burnt_us = (after.tv_sec - before.tv_sec) * 1e6 + (after.tv_nsec - before.tv_nsec) / 1e3;
    EXPECT_LT(burnt_us, 20000);
}

TEST(ZenAnswerReader, SplitsPipelinedAnswers) {
    EXPECT_EQ(answers_in("Ugly.Implicit.Complex."),
              (std::vector<std::string>{"Ugly.", "Implicit.", "Complex."}));
}

TEST(ZenAnswerReader, GathersAnAnswerSplitAcrossReads) {
    AnswerReader reader;
    std::vector<std::string> answers;
    auto collect = [&](std::string_view answer) { answers.emplace_back(answer); };
    reader.feed("Impl", collect);
    EXPECT_TRUE(reader.mid_answer());
    reader.feed("icit.", collect);
    EXPECT_EQ(answers, std::vector<std::string>{"Implicit."});
}

TEST(ZenAnswerReader, AnswerLongerThanPaddingAllowsIsRejected) {
    AnswerReader reader(100);
    EXPECT_EQ(reader.feed(std::string(100, '-'), [](std::string_view) {}), FrameStatus::close_after);
    AnswerReader exact(100);
    EXPECT_EQ(exact.feed(padded("Ugly.", 100), [](std::string_view) {}), FrameStatus::ok);
}

TEST(ZenAnswerReader, KeepsLineBreaksSoThatTheyMakeAnAnswerWrong) {
    EXPECT_EQ(answers_in("\nUgly."), std::vector<std::string>{"\nUgly."});
}
