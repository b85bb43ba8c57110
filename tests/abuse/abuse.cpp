#include "tests/abuse/abuse.hpp"

#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <thread>

namespace archbench::testing {

ServerProcess Abuse::start(std::vector<std::string> extra, std::size_t clients,
                           unsigned long open_file_limit) {
    std::vector<std::string> args = {"--arch", std::string(registered_architecture(GetParam())->name)};
    if (protocol() == zen::Protocol::http) args.insert(args.end(), {"--protocol", "http"});
    if (architecture().traits.one_client_per_worker)
        for (const char* workers : {"--threads", "--processes"})
            args.insert(args.end(), {workers, std::to_string(clients)});
    args.insert(args.end(), extra.begin(), extra.end());
    return ServerProcess(args, std::chrono::seconds(10), open_file_limit);
}

ServerProcess Abuse::start_with_one_worker(std::vector<std::string> extra) {
    const Traits& traits = architecture().traits;
    if (traits.process_based && traits.reports_worker_connections && !traits.one_client_per_worker)
        extra.insert(extra.begin(), {"--processes", "1"});
    return start(extra, 1);
}

unsigned long raise_open_file_limit() {
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
    return limit.rlim_cur;
}

::testing::AssertionResult serves_a_new_client(std::uint16_t port, std::size_t reply_bytes,
                                               milliseconds timeout, zen::Protocol protocol) {
    try {
        Client client(port, reply_bytes, 0, protocol);
        client.send(request_for(kExplicit, protocol));
        const std::string answer = client.read_answer(timeout);
        if (answer == zen::padded("Implicit.", reply_bytes)) return ::testing::AssertionSuccess();
        return ::testing::AssertionFailure()
               << "a new client got '" << answer.substr(0, 80) << "' within " << timeout.count()
               << " ms instead of its answer";
    } catch (const std::exception& error) {
        return ::testing::AssertionFailure() << "a new client: " << error.what();
    }
}

int descriptors_settled_to(const ServerProcess& server, int baseline, milliseconds limit) {
    const auto deadline = steady_clock::now() + limit;
    int count = server.open_descriptors();
    while (count > baseline && steady_clock::now() < deadline) {
        std::this_thread::sleep_for(milliseconds(20));
        count = server.open_descriptors();
    }
    return count;
}

int steady_descriptors(const ServerProcess& server, milliseconds limit) {
    const auto deadline = steady_clock::now() + limit;
    int count = server.open_descriptors();
    while (steady_clock::now() < deadline) {
        std::this_thread::sleep_for(milliseconds(100));
        const int now = server.open_descriptors();
        if (now == count) break;
        count = now;
    }
    return count;
}

std::size_t send_without_reading(int fd, std::string_view bytes, milliseconds limit) {
    const auto deadline = steady_clock::now() + limit;
    std::size_t sent = 0;
    while (sent < bytes.size() && steady_clock::now() < deadline) {
        pollfd writable{fd, POLLOUT, 0};
        if (poll(&writable, 1, 20) <= 0) continue;
        const ssize_t n =
            send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) break;
        sent += static_cast<std::size_t>(n);
    }
    return sent;
}

double seconds_since(steady_clock::time_point start) {
    return std::chrono::duration<double>(steady_clock::now() - start).count();
}

}  // namespace archbench::testing
