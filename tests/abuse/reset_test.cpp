// Clients that reset (close with SO_LINGER 0) or half-close at every step of a conversation,
// 40 of each in a row. The server stays up, serves a normal client afterwards, and gives back
// every descriptor: its count (the children's included) returns to what it was.
#include <sys/socket.h>

#include <functional>
#include <thread>

#include "tests/abuse/abuse.hpp"

using namespace archbench;
using namespace archbench::testing;

namespace {

constexpr int kRude = 40;
constexpr std::size_t kLargeReply = 1000000;

class Resets : public Abuse {
protected:
    // One client at a time, every one meeting the same worker.
    ServerProcess start(std::vector<std::string> extra = {}) { return start_with_one_worker(extra); }

    // Makes sure the server is up: "listening on" comes before the program an external
    // architecture runs has started (a Python interpreter under load can take longer than the
    // 100 ms steady_descriptors() waits, then opens its event loop's three descriptors), so a
    // first answer is waited for. Then runs `rude` once to warm the server up (what it starts
    // on first use is not a leak), takes the steady descriptor count, runs it kRude times, and
    // checks the server.
    void expect_no_harm(ServerProcess& server, const std::function<void(std::uint16_t)>& rude,
                        std::size_t reply_bytes = 0) {
        ASSERT_TRUE(serves_a_new_client(server.port(), reply_bytes));
        rude(server.port());
        const int baseline = steady_descriptors(server);
        for (int i = 0; i < kRude && !HasFatalFailure(); ++i) rude(server.port());
        EXPECT_TRUE(server.running()) << server.stderr_text();
        EXPECT_TRUE(serves_a_new_client(server.port(), reply_bytes));
        EXPECT_LE(descriptors_settled_to(server, baseline), baseline)
            << "descriptors leaked: " << baseline << " before " << kRude << " rude clients";
    }
};

}  // namespace

TEST_P(Resets, ResetBeforeSendingAnything) {
    ServerProcess server = start();
    expect_no_harm(server, [](std::uint16_t port) { Client(port).reset(); });
}

TEST_P(Resets, ResetMidQuestion) {
    ServerProcess server = start();
    expect_no_harm(server, [](std::uint16_t port) {
        Client rude(port);
        rude.send("Beautiful is bet");
        std::this_thread::sleep_for(milliseconds(1));
        rude.reset();
    });
}

TEST_P(Resets, ResetRightAfterAQuestionBeforeTheAnswerIsRead) {
    ServerProcess server = start({"--reply-bytes", std::to_string(kLargeReply)});
    expect_no_harm(
        server,
        [](std::uint16_t port) {
            Client rude(port, kLargeReply);
            rude.send(kSimple);
            rude.reset();
        },
        kLargeReply);
}

TEST_P(Resets, ResetMidAnswer) {
    // 1 MB answers to a client with a small receive buffer: the server is still sending when
    // the reset comes.
    ServerProcess server = start({"--reply-bytes", std::to_string(kLargeReply)});
    expect_no_harm(
        server,
        [](std::uint16_t port) {
            Client rude(port, kLargeReply, 8192);
            rude.send(std::string(kSimple) + std::string(kBeautiful));
            char part[4096];
            ASSERT_GT(recv(rude.fd(), part, sizeof part, 0), 0);  // the answer has begun
            rude.reset();
        },
        kLargeReply);
}

TEST_P(Resets, HalfCloseWithQuestionsPendingStillGetsEveryAnswer) {
    constexpr std::size_t kReply = 100000;
    ServerProcess server = start({"--reply-bytes", std::to_string(kReply)});
    expect_no_harm(
        server,
        [](std::uint16_t port) {
            Client polite(port, kReply);
            polite.send(std::string(kSimple) + std::string(kBeautiful) + std::string(kExplicit));
            polite.shutdown_write();
            EXPECT_EQ(polite.read_answers(3),
                      (std::vector<std::string>{zen::padded("Complex.", kReply),
                                                zen::padded("Ugly.", kReply),
                                                zen::padded("Implicit.", kReply)}));
            EXPECT_TRUE(polite.closed_by_server());
        },
        kReply);
}

TEST_P(Resets, ResetWhileTheServerLingersAfterAnOverlongQuestion) {
    ServerProcess server = start();
    expect_no_harm(server, [](std::uint16_t port) {
        Client rude(port);
        rude.send_until_refused(std::string(4096, 'x'), milliseconds(2000));
        EXPECT_EQ(rude.read_answer(), "Error: request too long.");
        rude.reset();
    });
}

TEST_P(Resets, HalfCloseAfterAnOverlongQuestion) {
    ServerProcess server = start();
    expect_no_harm(server, [](std::uint16_t port) {
        Client polite(port);
        polite.send_until_refused(std::string(4096, 'x'), milliseconds(2000));
        polite.shutdown_write();
        EXPECT_EQ(polite.read_answer(), "Error: request too long.");
        EXPECT_TRUE(polite.closed_by_server());
    });
}

INSTANTIATE_TEST_SUITE_P(Abuse, Resets, ::testing::ValuesIn(every_architecture()));
