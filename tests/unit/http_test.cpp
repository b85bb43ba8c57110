// The HTTP/1.1 mode of docs/http.md, rule by rule, against protocol/ alone (no sockets): a
// Conversation built with Protocol::http, and the client's ResponseReader.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/http.hpp"
#include "protocol/zen.hpp"

using namespace archbench;
using zen::Conversation;
using zen::FrameStatus;

namespace {

zen::Workload http_workload(std::size_t max_request = zen::kDefaultMaxRequest, std::size_t reply_bytes = 0) {
    zen::Workload workload;
    workload.protocol = zen::Protocol::http;
    workload.max_request = max_request;
    workload.reply_bytes = reply_bytes;
    return workload;
}

struct Exchange {
    std::string output;
    FrameStatus status = FrameStatus::ok;
    bool mid_request = false;
};

// Feeds `chunks` to one HTTP conversation, as a server would receive them.
Exchange converse(const std::vector<std::string>& chunks, zen::Workload workload = http_workload()) {
    Conversation conversation(workload);
    Exchange exchange;
    for (const std::string& chunk : chunks) {
        exchange.status = conversation.on_input(chunk, exchange.output);
        if (exchange.status == FrameStatus::close_after) break;
    }
    exchange.mid_request = conversation.mid_question();
    return exchange;
}

// The bytes of a response, written out by hand as docs/http.md gives them.
std::string response(std::string_view status_line, std::string_view body, bool close = false,
                     std::string_view extra = "") {
    return "HTTP/1.1 " + std::string(status_line) + "\r\nContent-Type: text/plain\r\n" + std::string(extra) +
           "Content-Length: " + std::to_string(body.size()) + "\r\n" + (close ? "Connection: close\r\n" : "") +
           "\r\n" + std::string(body);
}

const std::string kGetBeautiful = "GET /beautiful HTTP/1.1\r\nHost: x\r\n\r\n";
const std::string kGetSimple = "GET /simple HTTP/1.1\r\nHost: x\r\n\r\n";
const std::string kUgly = response("200 OK", "Ugly.");
const std::string kComplex = response("200 OK", "Complex.");
const std::string kBadRequest = response("400 Bad Request", "Error: bad request.", true);

}  // namespace

TEST(HttpAnswers, EachPathGetsItsAphorismsAnswer) {
    EXPECT_EQ(converse({kGetBeautiful}).output, kUgly);
    EXPECT_EQ(converse({"GET /explicit HTTP/1.1\r\n\r\n"}).output, response("200 OK", "Implicit."));
    EXPECT_EQ(converse({kGetSimple}).output, kComplex);
}

TEST(HttpAnswers, UnknownPathGets404AndTheConnectionStaysOpen) {
    const Exchange exchange = converse({"GET /flat HTTP/1.1\r\n\r\n", kGetSimple});
    EXPECT_EQ(exchange.output, response("404 Not Found", "Error: unknown aphorism.") + kComplex);
    EXPECT_EQ(exchange.status, FrameStatus::ok);
}

TEST(HttpAnswers, PathsAreExactAQueryIsAnotherPath) {
    EXPECT_EQ(converse({"GET /beautiful?x=1 HTTP/1.1\r\n\r\n"}).output,
              response("404 Not Found", "Error: unknown aphorism."));
}

TEST(HttpAnswers, BodyIsPaddedToReplyBytesAsAZenAnswer) {
    EXPECT_EQ(converse({kGetBeautiful}, http_workload(1024, 12)).output,
              response("200 OK", "Ugly-------."));
}

TEST(HttpFraming, PipelinedRequestsAreAnsweredInOrder) {
    const Exchange exchange = converse({kGetSimple + kGetBeautiful + "GET /nope HTTP/1.1\r\n\r\n" + kGetSimple});
    EXPECT_EQ(exchange.output, kComplex + kUgly + response("404 Not Found", "Error: unknown aphorism.") + kComplex);
    EXPECT_EQ(exchange.status, FrameStatus::ok);
}

TEST(HttpFraming, RequestSplitAtEveryByteIsGathered) {
    const std::string two = kGetBeautiful + kGetSimple;
    for (std::size_t cut = 1; cut < two.size(); ++cut) {
        const Exchange exchange = converse({two.substr(0, cut), two.substr(cut)});
        EXPECT_EQ(exchange.output, kUgly + kComplex) << "cut at " << cut;
        EXPECT_FALSE(exchange.mid_request);
    }
}

TEST(HttpFraming, RequestFedOneByteAtATimeIsAnsweredOnce) {
    std::vector<std::string> bytes;
    for (const char c : kGetBeautiful) bytes.emplace_back(1, c);
    EXPECT_EQ(converse(bytes).output, kUgly);
}

TEST(HttpFraming, BareLineFeedsAreAccepted) {
    EXPECT_EQ(converse({"GET /beautiful HTTP/1.1\nHost: x\n\n"}).output, kUgly);
}

TEST(HttpFraming, LineBreaksBeforeARequestLineAreSkipped) {
    EXPECT_EQ(converse({"\r\n\n" + kGetBeautiful + "\r\n" + kGetSimple}).output, kUgly + kComplex);
}

TEST(HttpFraming, HalfARequestIsHeldAsMidRequest) {
    const Exchange exchange = converse({"GET /beautiful HTTP/1.1\r\nHost"});
    EXPECT_TRUE(exchange.output.empty());
    EXPECT_TRUE(exchange.mid_request);
}

TEST(HttpLimits, HeadReachingMaxRequestWithoutItsBlankLineGets431ThenClose) {
    const Exchange exchange = converse({"GET /beautiful HTTP/1.1\r\nX: " + std::string(2000, 'a')});
    EXPECT_EQ(exchange.output, response("431 Request Header Fields Too Large", "Error: request too long.", true));
    EXPECT_EQ(exchange.status, FrameStatus::close_after);
}

TEST(HttpLimits, HeadOfExactlyMaxRequestBytesIsAnswered) {
    EXPECT_EQ(converse({kGetBeautiful}, http_workload(kGetBeautiful.size())).output, kUgly);
    EXPECT_EQ(converse({kGetBeautiful}, http_workload(kGetBeautiful.size() - 1)).status,
              FrameStatus::close_after);
}

TEST(HttpLimits, OversizedHeadArrivingInPiecesGets431) {
    std::vector<std::string> chunks = {"GET /beautiful HTTP/1.1\r\n"};
    for (int i = 0; i < 100; ++i) chunks.push_back("X-Filler: 0123456789\r\n");
    const Exchange exchange = converse(chunks);
    EXPECT_EQ(exchange.status, FrameStatus::close_after);
    EXPECT_EQ(exchange.output, response("431 Request Header Fields Too Large", "Error: request too long.", true));
}

TEST(HttpMalformed, RequestLineOfTwoPartsGets400ThenClose) {
    const Exchange exchange = converse({"GET /beautiful\r\n\r\n" + kGetSimple});
    EXPECT_EQ(exchange.output, kBadRequest);
    EXPECT_EQ(exchange.status, FrameStatus::close_after);
}

TEST(HttpMalformed, RequestLineOfFourPartsGets400) {
    EXPECT_EQ(converse({"GET /beautiful HTTP/1.1 x\r\n\r\n"}).output, kBadRequest);
    EXPECT_EQ(converse({"GET  /beautiful HTTP/1.1\r\n\r\n"}).output, kBadRequest);
}

TEST(HttpMalformed, UnknownVersionGets400) {
    EXPECT_EQ(converse({"GET /beautiful HTTP/2.0\r\n\r\n"}).output, kBadRequest);
    EXPECT_EQ(converse({"GET /beautiful http/1.1\r\n\r\n"}).output, kBadRequest);
}

TEST(HttpMalformed, HeaderLineWithoutAColonGets400) {
    EXPECT_EQ(converse({"GET /beautiful HTTP/1.1\r\nHost x\r\n\r\n"}).output, kBadRequest);
}

TEST(HttpMalformed, HeaderLineStartingWithSpaceOrTabGets400) {
    EXPECT_EQ(converse({"GET /beautiful HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n"}).output, kBadRequest);
    EXPECT_EQ(converse({"GET /beautiful HTTP/1.1\r\n\tHost: x\r\n\r\n"}).output, kBadRequest);
}

TEST(HttpMalformed, ControlBytesButTabGet400) {
    EXPECT_EQ(converse({std::string("GET /beau\0tiful HTTP/1.1\r\n\r\n", 28)}).output, kBadRequest);
    EXPECT_EQ(converse({"GET /beautiful HTTP/1.1\r\nX: a\rb\r\n\r\n"}).output, kBadRequest);
    EXPECT_EQ(converse({"GET /beautiful HTTP/1.1\r\nX: a\x7f\r\n\r\n"}).output, kBadRequest);
    EXPECT_EQ(converse({"GET /beautiful HTTP/1.1\r\nX:\ta\tb\r\n\r\n"}).output, kUgly);
}

TEST(HttpMethods, NonGetGets405WithAllowThenClose) {
    for (const char* method : {"POST", "HEAD", "PUT", "get"}) {
        const Exchange exchange = converse({std::string(method) + " /beautiful HTTP/1.1\r\n\r\n" + kGetSimple});
        EXPECT_EQ(exchange.output,
                  response("405 Method Not Allowed", "Error: method not allowed.", true, "Allow: GET\r\n"))
            << method;
        EXPECT_EQ(exchange.status, FrameStatus::close_after);
    }
}

TEST(HttpBodies, NonZeroContentLengthGets400ThenClose) {
    EXPECT_EQ(converse({"GET /beautiful HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"}).output, kBadRequest);
    EXPECT_EQ(converse({"POST /beautiful HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"}).output, kBadRequest);
    EXPECT_EQ(converse({"GET /beautiful HTTP/1.1\r\nContent-Length: x\r\n\r\n"}).output, kBadRequest);
}

TEST(HttpBodies, ZeroContentLengthIsNoBody) {
    const Exchange exchange = converse({"GET /beautiful HTTP/1.1\r\ncontent-length: 0\r\n\r\n" + kGetSimple});
    EXPECT_EQ(exchange.output, kUgly + kComplex);
}

TEST(HttpBodies, TransferEncodingGets400) {
    EXPECT_EQ(converse({"GET /beautiful HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"}).output, kBadRequest);
}

TEST(HttpConnection, ConnectionCloseIsAnsweredWithCloseThenClosed) {
    const Exchange exchange = converse({"GET /beautiful HTTP/1.1\r\nConnection: close\r\n\r\n" + kGetSimple});
    EXPECT_EQ(exchange.output, response("200 OK", "Ugly.", true));
    EXPECT_EQ(exchange.status, FrameStatus::close_after);
}

TEST(HttpConnection, CloseIsATokenOfTheHeaderInAnyCase) {
    EXPECT_EQ(converse({"GET /simple HTTP/1.1\r\nCONNECTION: Upgrade, CLOSE \r\n\r\n"}).output,
              response("200 OK", "Complex.", true));
    EXPECT_EQ(converse({"GET /simple HTTP/1.1\r\nConnection: closed\r\n\r\n"}).status, FrameStatus::ok);
}

TEST(HttpConnection, Http10ClosesAfterItsAnswer) {
    const Exchange exchange = converse({"GET /beautiful HTTP/1.0\r\n\r\n" + kGetSimple});
    EXPECT_EQ(exchange.output, response("200 OK", "Ugly.", true));
    EXPECT_EQ(exchange.status, FrameStatus::close_after);
}

TEST(HttpConnection, Http10WithKeepAliveStaysOpenWithoutAConnectionHeader) {
    const Exchange exchange = converse({"GET /beautiful HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + kGetSimple});
    EXPECT_EQ(exchange.output, kUgly + kComplex);
    EXPECT_EQ(exchange.status, FrameStatus::ok);
}

TEST(HttpConnection, ClosingAnswerIgnoresEverythingAfterIt) {
    Conversation conversation(http_workload());
    std::string out;
    EXPECT_EQ(conversation.on_input("GET /simple HTTP/1.0\r\n\r\n", out), FrameStatus::close_after);
    out.clear();
    EXPECT_EQ(conversation.on_input(kGetBeautiful, out), FrameStatus::close_after);
    EXPECT_TRUE(out.empty());
}

TEST(HttpWork, RefusalsCostNoWorkAndAreNotCountedAsAnswered) {
    Conversation conversation(http_workload());
    std::vector<zen::Request> requests;
    conversation.take_requests(kGetBeautiful + "GET /nope HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\n\r\n",
                               [&](const zen::Request& request) { requests.push_back(request); });
    ASSERT_EQ(requests.size(), 3u);
    EXPECT_FALSE(requests[0].refusal);
    EXPECT_FALSE(requests[1].refusal);  // a 404 is a GET answered: it does the work
    EXPECT_EQ(requests[1].status, http::Status::not_found);
    EXPECT_TRUE(requests[2].refusal);
    std::string out;
    for (const zen::Request& request : requests) conversation.answer(request, out);
    EXPECT_EQ(conversation.questions_answered(), 2u);
}

TEST(HttpWork, LongestAnswerBoundsEveryResponse) {
    const zen::Workload workload = http_workload(1024, 0);
    EXPECT_GE(zen::longest_answer(workload),
              response("431 Request Header Fields Too Large", "Error: request too long.", true).size());
    EXPECT_GE(zen::longest_answer(workload),
              response("405 Method Not Allowed", "Error: method not allowed.", true, "Allow: GET\r\n").size());
}

// The client's side.

namespace {

struct Read {
    std::vector<http::Response> responses;
    std::vector<std::string> bodies;
    bool framed = true;
};

Read read_responses(const std::vector<std::string>& chunks, std::size_t max_body = 100) {
    http::ResponseReader reader(max_body);
    Read read;
    for (const std::string& chunk : chunks) {
        read.framed = reader.feed(chunk, [&](const http::Response& response) {
            read.responses.push_back(response);
            read.bodies.emplace_back(response.body);
        });
        if (!read.framed) break;
    }
    return read;
}

}  // namespace

TEST(HttpResponseReader, ReadsPipelinedResponsesSplitAtEveryByte) {
    const std::string stream = kUgly + response("404 Not Found", "Error: unknown aphorism.") + kComplex;
    for (std::size_t cut = 1; cut < stream.size(); ++cut) {
        const Read read = read_responses({stream.substr(0, cut), stream.substr(cut)});
        ASSERT_TRUE(read.framed) << cut;
        EXPECT_EQ(read.bodies, (std::vector<std::string>{"Ugly.", "Error: unknown aphorism.", "Complex."})) << cut;
        ASSERT_EQ(read.responses.size(), 3u);
        EXPECT_EQ(read.responses[1].status, 404);
    }
}

TEST(HttpResponseReader, AcceptsAnyHeadersAndSeesConnectionClose) {
    const Read read = read_responses(
        {"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: today\r\ncontent-length: 5\r\nConnection: close\r\n\r\nUgly."});
    ASSERT_EQ(read.responses.size(), 1u);
    EXPECT_TRUE(read.responses[0].close);
    EXPECT_EQ(read.bodies[0], "Ugly.");
}

TEST(HttpResponseReader, ChunkedResponseCannotBeFramed) {
    EXPECT_FALSE(read_responses({"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nUgly.\r\n0\r\n\r\n"}).framed);
}

TEST(HttpResponseReader, ResponseWithoutContentLengthCannotBeFramed) {
    EXPECT_FALSE(read_responses({"HTTP/1.1 200 OK\r\n\r\nUgly."}).framed);
}

TEST(HttpResponseReader, MalformedStatusLineCannotBeFramed) {
    EXPECT_FALSE(read_responses({"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"}).framed);
    EXPECT_FALSE(read_responses({"Ugly.\r\n\r\n"}).framed);
}

TEST(HttpResponseReader, BodyLongerThanTheLimitCannotBeFramed) {
    EXPECT_FALSE(read_responses({"HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n"}, 100).framed);
}

TEST(HttpResponseReader, HeadThatNeverEndsIsRefusedAtItsLimit) {
    EXPECT_FALSE(read_responses({"HTTP/1.1 200 OK\r\nX: " + std::string(http::ResponseReader::kMaxHead, 'a')}).framed);
}

TEST(HttpFraming, LineBreaksAfterAHeadGatheredAcrossReadsAreSkipped) {
    // Found by fuzz/http_requests: the blank lines after a head that was held were framed as a
    // request of their own (400) when they arrived in the read that completed the head.
    EXPECT_EQ(converse({"GET /beautiful HTTP/1.1\r\nHost: x\r\n", "\r\n\r\n", "\r\n" + kGetSimple}).output,
              kUgly + kComplex);
}
