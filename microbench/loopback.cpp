// The loopback floor: one round trip of a small message on one connection, with blocking
// calls, over TCP on 127.0.0.1 and over a Unix socketpair. No server in the suite can answer
// faster than this; every latency in the report stands on it.
//
// The echo side is a thread of this process; with two or more cores the two sides may run on
// different cores, as the load generator and the server do in a benchmark.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <string_view>
#include <thread>

namespace {

constexpr std::string_view kQuestion = "Beautiful is better than?";

// Echoes whatever arrives on `fd` until the peer closes it.
void echo(int fd) {
    char buffer[256];
    for (;;) {
        const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) return;
        if (send(fd, buffer, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) return;
    }
}

void round_trips(benchmark::State& state, int client_fd) {
    char buffer[256];
    for (auto _ : state) {
        send(client_fd, kQuestion.data(), kQuestion.size(), 0);
        std::size_t received = 0;
        while (received < kQuestion.size()) {
            const ssize_t n = recv(client_fd, buffer, sizeof buffer, 0);
            if (n <= 0) {
                state.SkipWithError("echo side closed");
                return;
            }
            received += static_cast<std::size_t>(n);
        }
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_TcpLoopbackRoundTrip(benchmark::State& state) {
    const int listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 || listen(listener, 1) != 0)
        throw std::runtime_error("cannot listen on loopback");
    getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
    const int client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client, reinterpret_cast<sockaddr*>(&address), length) != 0)
        throw std::runtime_error("cannot connect on loopback");
    const int server = accept(listener, nullptr, nullptr);
    const int on = 1;
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    std::thread echo_side(echo, server);
    round_trips(state, client);
    close(client);
    echo_side.join();
    close(server);
    close(listener);
}
BENCHMARK(BM_TcpLoopbackRoundTrip)->UseRealTime();

void BM_UnixSocketpairRoundTrip(benchmark::State& state) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) throw std::runtime_error("socketpair");
    std::thread echo_side(echo, pair[1]);
    round_trips(state, pair[0]);
    close(pair[0]);
    echo_side.join();
    close(pair[1]);
}
BENCHMARK(BM_UnixSocketpairRoundTrip)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
