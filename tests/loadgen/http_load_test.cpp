// archbench-load --protocol http end to end: against archbench-server in HTTP, and against a
// canned server whose every response is fixed bytes (a wrong body, a chunked body, a bad status,
// a close after each answer), judged by what its --json says.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/load_process.hpp"
#include "tests/support/server_process.hpp"

using namespace archbench::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

std::uint64_t error(const json& report, const char* kind) { return report["errors"][kind].get<std::uint64_t>(); }

std::uint64_t errors_of(const json& report) {
    std::uint64_t total = 0;
    for (const auto& [kind, count] : report["errors"].items()) total += count.get<std::uint64_t>();
    return total;
}

// Answers every request head (bytes through a blank line) on every connection with `response`,
// and closes the connection after it when `close_after` is set. One thread, poll() over every
// socket: small, and enough for the few connections of these tests.
class CannedHttpServer {
public:
    explicit CannedHttpServer(std::string response, bool close_after = false)
        : response_(std::move(response)), close_after_(close_after) {
        listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 || listen(listen_fd_, 64) != 0)
            throw std::runtime_error("canned server: cannot listen");
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
        port_ = ntohs(address.sin_port);
        loop_ = std::thread([this] { serve(); });
    }
    ~CannedHttpServer() {
        stop_ = true;
        loop_.join();
        for (const Client& client : clients_) close(client.fd);
        close(listen_fd_);
    }
    std::uint16_t port() const { return port_; }

private:
    struct Client {
        int fd;
        std::string input;
    };

    void serve() {
        while (!stop_) {
            std::vector<pollfd> ready{{listen_fd_, POLLIN, 0}};
            for (const Client& client : clients_) ready.push_back({client.fd, POLLIN, 0});
            if (poll(ready.data(), ready.size(), 20) <= 0) continue;
            if (ready[0].revents & POLLIN)
                if (const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC); fd >= 0)
                    clients_.push_back({fd, {}});
            for (std::size_t i = ready.size() - 1; i >= 1; --i)
                if ((ready[i].revents & (POLLIN | POLLHUP | POLLERR)) && !answer(clients_[i - 1])) {
                    close(clients_[i - 1].fd);
                    clients_.erase(clients_.begin() + static_cast<std::ptrdiff_t>(i - 1));
                }
        }
    }

    // Reads what came and answers every complete head; false when the connection is over.
    bool answer(Client& client) {
        char buffer[4096];
        const ssize_t n = recv(client.fd, buffer, sizeof buffer, 0);
        if (n <= 0) return false;
        client.input.append(buffer, static_cast<std::size_t>(n));
        for (std::size_t end; (end = client.input.find("\r\n\r\n")) != std::string::npos;) {
            client.input.erase(0, end + 4);
            if (send(client.fd, response_.data(), response_.size(), MSG_NOSIGNAL) < 0) return false;
            if (close_after_) return false;
        }
        return true;
    }

    std::string response_;
    bool close_after_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::vector<Client> clients_;  // the loop's thread only
    std::thread loop_;
};

LoadRun http_load(std::uint16_t port, std::vector<std::string> args) {
    args.insert(args.begin(), {"--protocol", "http"});
    return run_load(at_port(port, args));
}

}  // namespace

TEST(HttpLoad, EveryAnswerOfArchbenchServerInHttpIsRight) {
    ServerProcess server({"--arch", "epoll", "--protocol", "http"});
    const LoadRun run = http_load(server.port(), {"-c", "4", "-d", "1"});
    ASSERT_EQ(run.command.exit_code, 0) << run.command.err;
    EXPECT_GT(run.json["requests_ok"].get<std::uint64_t>(), 0u);
    EXPECT_EQ(errors_of(run.json), 0u) << run.json.dump(2);
    EXPECT_EQ(run.json["config"]["protocol"], "http");
    EXPECT_EQ(run.json["config"]["path"], "/beautiful");
}

TEST(HttpLoad, UnknownPathExpectsTheUnknownAnswerWith404) {
    ServerProcess server({"--arch", "epoll", "--protocol", "http", "--reply-bytes", "64"});
    const LoadRun run = http_load(server.port(), {"-c", "2", "-d", "1", "--path", "/nope", "--reply-bytes", "64"});
    ASSERT_EQ(run.command.exit_code, 0) << run.command.err;
    EXPECT_GT(run.json["requests_ok"].get<std::uint64_t>(), 0u);
    EXPECT_EQ(errors_of(run.json), 0u) << run.json.dump(2);
}

TEST(HttpLoad, OpenLoopSessionsAndPipelineKeepWorking) {
    ServerProcess server({"--arch", "epoll", "--protocol", "http"});
    for (const std::vector<std::string>& extra : {std::vector<std::string>{"--rate", "400"},
                                                   {"--session", "3"},
                                                   {"--pipeline", "4"},
                                                   {"--idle", "3"}}) {
        std::vector<std::string> args = {"-c", "2", "-d", "1"};
        args.insert(args.end(), extra.begin(), extra.end());
        const LoadRun run = http_load(server.port(), args);
        ASSERT_EQ(run.command.exit_code, 0) << extra[0] << ": " << run.command.err;
        EXPECT_GT(run.json["requests_ok"].get<std::uint64_t>(), 0u) << extra[0];
        EXPECT_EQ(errors_of(run.json), 0u) << extra[0] << ": " << run.json.dump(2);
    }
}

// A load against a canned server that answers every request with `response`: not one right.
static void expect_every_answer_wrong(const std::string& response) {
    CannedHttpServer server(response);
    const LoadRun run = http_load(server.port(), {"-c", "1", "-d", "0.5"});
    EXPECT_EQ(run.json["requests_ok"].get<std::uint64_t>(), 0u);
    EXPECT_GT(error(run.json, "wrong_answer"), 0u) << run.json.dump(2);
}

TEST(HttpLoad, WrongBodyIsAWrongAnswer) {
    expect_every_answer_wrong("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nPrtty");
}

TEST(HttpLoad, WrongStatusWithTheRightBodyIsAWrongAnswer) {
    expect_every_answer_wrong("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\nUgly.");
}

TEST(HttpLoad, ChunkedResponseIsAWrongAnswer) {
    expect_every_answer_wrong("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nUgly.\r\n0\r\n\r\n");
}

TEST(HttpLoad, AnyHeadersAreAcceptedAroundTheRightAnswer) {
    CannedHttpServer server("HTTP/1.1 200 OK\r\nServer: canned\r\nDate: today\r\ncontent-length: 5\r\n\r\nUgly.");
    const LoadRun run = http_load(server.port(), {"-c", "2", "-d", "0.5"});
    EXPECT_GT(run.json["requests_ok"].get<std::uint64_t>(), 0u);
    EXPECT_EQ(errors_of(run.json), 0u) << run.json.dump(2);
}

TEST(HttpLoad, ConnectionCloseReconnectsAndCountsNothingWrong) {
    CannedHttpServer server("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nUgly.", true);
    const LoadRun run = http_load(server.port(), {"-c", "2", "-d", "0.5"});
    EXPECT_GT(run.json["requests_ok"].get<std::uint64_t>(), 1u);
    EXPECT_EQ(errors_of(run.json), 0u) << run.json.dump(2);
}

TEST(HttpLoadCommandLine, PathMustStartWithSlashAndHoldNoSpace) {
    for (const char* path : {"beautiful", "/a b", "/a\tb"}) {
        const LoadRun run = run_load({"--protocol", "http", "--path", path, "-c", "1", "-d", "1"});
        EXPECT_EQ(run.command.exit_code, 2) << path;
        EXPECT_NE(run.command.err.find("--path"), std::string::npos) << run.command.err;
    }
}

TEST(HttpLoadCommandLine, PathWithoutHttpIsAUsageError) {
    const LoadRun run = run_load({"--path", "/beautiful", "-c", "1", "-d", "1"});
    EXPECT_EQ(run.command.exit_code, 2);
    EXPECT_NE(run.command.err.find("--protocol http"), std::string::npos) << run.command.err;
}

TEST(HttpLoadCommandLine, UnknownProtocolIsAUsageError) {
    const LoadRun run = run_load({"--protocol", "gopher", "-c", "1", "-d", "1"});
    EXPECT_EQ(run.command.exit_code, 2);
    EXPECT_NE(run.command.err.find("gopher"), std::string::npos) << run.command.err;
}
