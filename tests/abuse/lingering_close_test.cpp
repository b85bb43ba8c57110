// The lingering close after an over-long question (servers/common/linger.hpp): the refusal reaches a
// client that keeps sending, whole, however large it is padded; the lingering is bounded; and
// no one else waits for it.
#include <poll.h>
#include <sys/socket.h>

#include <thread>

#include "servers/common/linger.hpp"
#include "tests/abuse/abuse.hpp"

using namespace archbench;
using namespace archbench::testing;

namespace {

class LingeringClose : public Abuse {
protected:
    // The server's steady descriptor count after one refused client has come and gone, so that
    // what the server starts on first refusal (a lingering thread's epoll set and eventfd) is
    // counted in. The server has one worker (start_with_one_worker()), so that every client
    // meets the same one.
    int baseline_after_a_refusal(const ServerProcess& server) {
        {
            Client refused(server.port());
            refused.send(std::string(2048, 'x'));
            EXPECT_EQ(refused.read_answer(), "Error: request too long.");
        }
        return steady_descriptors(server);
    }
};

}  // namespace

TEST_P(LingeringClose, WholeLargeRefusalReachesAClientThatKeepsSendingAndReadsSlowly) {
    // A 2 MB refusal: most of it is still in the server's socket buffers when the server is done
    // with the client. A close() that sends a reset (the client keeps sending) would lose it.
    constexpr std::size_t kReply = 2000000;
    ServerProcess server = start({"--reply-bytes", std::to_string(kReply)});
    Client abuser(server.port(), kReply);
    const int fd = abuser.fd();
    // Every byte of the answer is read below, none while sending this.
    EXPECT_EQ(send_without_reading(fd, std::string(64 * 1024, 'x'), milliseconds(2000)),
              64u * 1024);

    // For 300 ms it sends 1 kB every 5 ms; all along it reads at most 16 kB every 5 ms.
    const std::string more(1024, 'x');
    std::string received;
    bool ended = false, reset = false;
    const auto started = steady_clock::now();
    while (!ended && seconds_since(started) < 10) {
        if (seconds_since(started) < 0.3)
            send(fd, more.data(), more.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        char buffer[16 * 1024];
        const ssize_t got = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (got > 0) received.append(buffer, static_cast<std::size_t>(got));
        ended = got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
        reset = got < 0 && ended;
        std::this_thread::sleep_for(milliseconds(5));
    }
    const std::string owed = zen::padded(zen::kTooLongAnswer, kReply);
    EXPECT_EQ(received.size(), owed.size()) << (reset ? "ended by a reset" : "");
    EXPECT_TRUE(received == owed) << "the refusal arrived damaged";
    EXPECT_TRUE(ended && !reset) << "the connection should end with an orderly EOF";
    EXPECT_TRUE(server.running());
}

TEST_P(LingeringClose, ALingeringAbuserHoldsNoOneBack) {
    // Refused, the abuser keeps trickling bytes and never closes: the server goes on serving
    // (even `single`: the lingering is not done on its thread).
    ServerProcess server = start();
    Client abuser(server.port());
    abuser.send_until_refused(std::string(2048, 'x'), milliseconds(2000));
    EXPECT_EQ(abuser.read_answer(), "Error: request too long.");
    std::atomic<bool> done{false};
    std::thread trickle([&] {
        for (int i = 0; i < 100 && !done; ++i) {
            send(abuser.fd(), "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            std::this_thread::sleep_for(milliseconds(20));
        }
    });
    std::this_thread::sleep_for(milliseconds(50));
    const auto asked = steady_clock::now();
    EXPECT_TRUE(serves_a_new_client(server.port(), 0, milliseconds(2000)));
    EXPECT_LT(seconds_since(asked), scaled_seconds(0.25));
    done = true;
    trickle.join();
}

TEST_P(LingeringClose, LingeringEndsForAClientThatNeverStopsSending) {
    // After 1 MiB discarded (or 2 s) the server closes, and its descriptor is given back.
    ServerProcess server = start_with_one_worker();
    const int baseline = baseline_after_a_refusal(server);
    Client abuser(server.port());
    const auto started = steady_clock::now();
    const std::size_t sent =
        abuser.send_until_refused(std::string(64 * 1024 * 1024, 'x'), milliseconds(5000));
    const double lingered = seconds_since(started);
    EXPECT_LT(sent, 64u * 1024 * 1024);
    EXPECT_LT(lingered, std::chrono::duration<double>(kLingerMostTime).count() + scaled_seconds(1.0));
    EXPECT_EQ(abuser.read_answer(milliseconds(1000)), "Error: request too long.");
    EXPECT_TRUE(abuser.closed_by_server(milliseconds(1000)));
    EXPECT_LE(descriptors_settled_to(server, baseline), baseline);
    EXPECT_TRUE(server.running());
}

TEST_P(LingeringClose, ClientThatWaitsForTheCloseGetsItSoon) {
    // Refused, the client neither sends nor closes: it gets EOF at once (the server shuts its
    // side down), and the server closes its socket within the quiet period.
    ServerProcess server = start_with_one_worker();
    const int baseline = baseline_after_a_refusal(server);
    Client waiting(server.port());
    waiting.send(std::string(2048, 'x'));
    EXPECT_EQ(waiting.read_answer(), "Error: request too long.");
    const auto refused = steady_clock::now();
    EXPECT_TRUE(waiting.closed_by_server(milliseconds(2000)));
    EXPECT_LT(seconds_since(refused), scaled_seconds(0.15)) << "the refusal was not followed by EOF at once";
    EXPECT_LE(descriptors_settled_to(server, baseline, milliseconds(1000)), baseline)
        << "the server still holds the socket of a client that went quiet";
    EXPECT_TRUE(serves_a_new_client(server.port()));
}

INSTANTIATE_TEST_SUITE_P(Abuse, LingeringClose, ::testing::ValuesIn(every_architecture()));
