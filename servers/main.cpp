// archbench-server: runs the Zen service under the architecture named by --arch.
// DESIGN.md fixes its command line and its "listening on HOST:PORT" line.
#include <pthread.h>
#include <sched.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <latch>
#include <string>
#include <thread>

#include "servers/net.hpp"
#include "servers/registry.hpp"
#include "servers/stop.hpp"

using namespace archbench;

namespace {

constexpr int kUsageError = 2;
constexpr double kLongestIdleTimeout = 86400;  // a day: far below what poll() can wait

std::string architecture_names() {
    std::string names;
    for (const Architecture* architecture : all_architectures())
        names += (names.empty() ? "" : ", ") + std::string(architecture->name);
    return names;
}

// The cores this process may run on: under taskset (as the harness pins servers), fewer than
// the machine has. Pools default to one worker per usable core.
unsigned usable_cores() {
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) return std::max(1, CPU_COUNT(&allowed));
    return std::max(1u, std::thread::hardware_concurrency());
}

int usage_error(const std::string& message) {
    std::fprintf(stderr, "archbench-server: %s\n", message.c_str());
    return kUsageError;
}

}  // namespace

int main(int argc, char** argv) {
    const unsigned cores = usable_cores();
    std::string arch_name;
    std::string host = "127.0.0.1";
    std::uint16_t port = 1060;
    ServerOptions options;
    options.threads = options.processes = cores;
    bool list = false;

    CLI::App app("archbench-server: the Zen service under one server architecture.\n"
                 "Prints 'listening on HOST:PORT' once it accepts connections; SIGTERM or "
                 "SIGINT stops it.",
                 "archbench-server");
    app.option_defaults()->always_capture_default();
    app.add_option("--arch", arch_name, "architecture to run (see --list): " + architecture_names());
    app.add_option("--host", host, "numeric address to bind");
    app.add_option("--port", port, "port to listen on (0: any free port)");
    app.add_option("--threads", options.threads, "worker threads of pooled variants")
        ->check(CLI::PositiveNumber);
    app.add_option("--processes", options.processes, "worker processes of pooled variants")
        ->check(CLI::PositiveNumber);
    app.add_option("--work-us", options.workload.work_us, "CPU microseconds burnt per request");
    app.add_option("--sleep-us", options.workload.sleep_us, "microseconds blocked per request");
    app.add_option("--reply-bytes", options.workload.reply_bytes,
                   "pad every answer to this many bytes (0: no padding)");
    app.add_option("--max-request", options.workload.max_request,
                   "a question reaching this many bytes without '?' is refused and closed")
        ->check(CLI::PositiveNumber);
    double idle_timeout_s = 0;
    app.add_option("--idle-timeout", idle_timeout_s,
                   "disconnect a client that completes no question for SEC seconds, counted "
                   "from its connection or its last question (0: off)")
        ->check(CLI::Validator(
            [](std::string& text) -> std::string {
                char* end = nullptr;
                const double seconds = std::strtod(text.c_str(), &end);
                if (end == text.c_str() || *end != '\0') return "'" + text + "' is not a number of seconds";
                if (!(seconds >= 0)) return "must be 0 (off) or more seconds";
                if (seconds > kLongestIdleTimeout) return "must be at most 86400 seconds (a day)";
                return "";
            },
            "SEC"));
    std::size_t max_connections = 0;
    CLI::Option* max_connections_option =
        app.add_option("--max-connections", max_connections,
                       "close at once a client that would be the N+1st open (0: no limit; "
                       "default: 4096 for threaded and forked, else none)")
            ->check(CLI::Validator(
                [](std::string& text) -> std::string {
                    // Checked as text: CLI11 would wrap "-3" around to 2^64 - 3.
                    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos)
                        return "'" + text + "' is not a whole number of clients";
                    errno = 0;
                    std::strtoull(text.c_str(), nullptr, 10);
                    return errno == ERANGE ? "'" + text + "' is too large" : "";
                },
                "N"));
    app.add_flag("--list", list, "print each architecture and its description, then exit");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& help) {
        return app.exit(help);
    } catch (const CLI::ParseError& error) {
        return usage_error(error.what());
    }

    if (list) {
        for (const Architecture* architecture : all_architectures())
            std::printf("%.*s\t%.*s\n", static_cast<int>(architecture->name.size()),
                        architecture->name.data(), static_cast<int>(architecture->description.size()),
                        architecture->description.data());
        return 0;
    }
    if (arch_name.empty()) return usage_error("--arch is required (see --list)");
    const Architecture* architecture = find_architecture(arch_name);
    if (architecture == nullptr)
        return usage_error("unknown architecture '" + arch_name + "' (known: " +
                           architecture_names() + ")");
    // Rounded up, so that a timeout under a millisecond is one, not off.
    options.idle_timeout = std::chrono::milliseconds(std::llround(std::ceil(idle_timeout_s * 1e3)));
    options.max_connections = max_connections_option->count() > 0
                                  ? max_connections
                                  : architecture->traits.default_max_connections;

    if (const std::string reason = unavailable_reason(*architecture); !reason.empty()) {
        std::fprintf(stderr, "archbench-server: %s: %s\n", arch_name.c_str(), reason.c_str());
        return 1;  // before listening: a server that cannot serve never says it listens
    }

    block_server_signals();  // before any thread starts, so that every thread inherits it
    Listener listener;
    try {
        listener = listen_on(host, port, architecture->traits.reuse_port);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "archbench-server: %s\n", error.what());
        return 1;
    }
    std::printf("listening on %s:%u\n", listener.host.c_str(), listener.port);
    std::fflush(stdout);
    const std::string limits =
        "max-connections " +
        (options.max_connections > 0 ? std::to_string(options.max_connections) : "none") +
        ", idle-timeout " +
        (options.idle_timeout.count() > 0 ? std::to_string(options.idle_timeout.count()) + " ms"
                                          : "off");
    std::fprintf(stderr, "archbench-server: %s on %s:%u (%s)\n", arch_name.c_str(),
                 listener.host.c_str(), listener.port, limits.c_str());

    StopSignal stop;
    std::atomic<bool> signalled{false};
    std::latch watcher_started(1);
    std::thread signal_watcher([&stop, &signalled, &watcher_started] {
        watcher_started.count_down();
        const int signal = wait_for_stop_signal();
        signalled = true;
        if (!stop.requested()) std::fprintf(stderr, "archbench-server: %s, stopping\n", strsignal(signal));
        stop.request();
    });

    // A process-based serve() forks at once: the child must not inherit a lock that the new
    // thread holds while it starts (AddressSanitizer's allocator lock, for one, deadlocked a
    // preforked worker that way), so serving begins once the watcher has started.
    watcher_started.wait();

    int status = 0;
    try {
        architecture->serve(listener.socket.fd(), options, stop);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "archbench-server: %s: %s\n", arch_name.c_str(), error.what());
        status = 1;
    }
    // serve() returned on its own (an error), or after a stop that it requested itself (a pool
    // whose worker failed): the watcher still waits for a signal, and this one wakes it.
    stop.request();
    if (!signalled) pthread_kill(signal_watcher.native_handle(), SIGTERM);
    signal_watcher.join();
    return status;
}
