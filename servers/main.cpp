// archbench-server: runs the Zen service under the architecture named by --arch, in the Zen
// protocol or in HTTP/1.1 (--protocol).
// DESIGN.md fixes its command line and its "listening on HOST:PORT" line.
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <climits>
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

#include "servers/common/external.hpp"
#include "servers/common/linger.hpp"
#include "protocol/cli_numbers.hpp"
#include "servers/common/net.hpp"
#include "servers/registry.hpp"
#include "servers/common/stop.hpp"

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
    try {
        all_architectures();  // a broken external declaration fails every use, loudly
    } catch (const std::exception& error) {
        return usage_error(error.what());
    }
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
    app.add_option("--port", port, "port to listen on (0: any free port)")
        ->check(whole_number(0, 65535));
    CLI::Option* threads_option =
        app.add_option("--threads", options.threads,
                       "worker threads of pooled variants (default: the cores; 32 for the work "
                       "pools of epoll-offload and seda)")
            ->check(whole_number(1, 100000));
    app.add_option("--processes", options.processes, "worker processes of pooled variants")
        ->check(whole_number(1, 100000));
    app.add_option("--work-us", options.workload.work_us, "CPU microseconds burnt per request")
        ->check(whole_number(0, UINT_MAX));
    app.add_option("--sleep-us", options.workload.sleep_us, "microseconds blocked per request")
        ->check(whole_number(0, UINT_MAX));
    app.add_option("--reply-bytes", options.workload.reply_bytes,
                   "pad every answer to this many bytes (0: no padding)")
        ->check(whole_number(0, 1ull << 30));
    app.add_option("--max-request", options.workload.max_request,
                   "a question reaching this many bytes without '?' (in HTTP, a head without its "
                   "blank line) is refused and closed")
        ->check(whole_number(1, 1ull << 30));
    std::string protocol_name = "zen";
    app.add_option("--protocol", protocol_name,
                   "zen (questions ending in '?') or http (HTTP/1.1 GET /beautiful, ...: docs/http.md)")
        ->check(CLI::Validator(
            [](std::string& text) -> std::string {
                return zen::protocol_named(text) ? "" : "'" + text + "' is not a protocol (zen or http)";
            },
            "zen|http"));
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
                       "default: 4096 for a thread or a process per client: threaded, forked, inetd; else none)")
            ->check(whole_number(0));
    app.add_flag("--list", list, "print each architecture and its description, then exit");
    bool list_families = false;
    app.add_flag("--list-families", list_families,
                 "print each architecture and its family (NAME, a tab, FAMILY), then exit");
    bool stdio = false;
    app.add_flag("--stdio", stdio,
                 "serve one client on descriptors 0 and 1 and exit when it leaves (the program "
                 "that inetd's children exec); takes the workload flags and --idle-timeout, "
                 "needs no --arch");

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
    if (list_families) {
        for (const Architecture* architecture : all_architectures()) {
            const std::string_view family = family_name(architecture->traits.family);
            std::printf("%.*s\t%.*s\n", static_cast<int>(architecture->name.size()),
                        architecture->name.data(), static_cast<int>(family.size()), family.data());
        }
        return 0;
    }
    options.workload.protocol = *zen::protocol_named(protocol_name);
    // Rounded up, so that a timeout under a millisecond is one, not off.
    options.idle_timeout = std::chrono::milliseconds(std::llround(std::ceil(idle_timeout_s * 1e3)));
    if (stdio) {
        // No signal is blocked here: SIGTERM (inetd's parent stopping) ends this process.
        std::signal(SIGPIPE, SIG_IGN);  // a client gone mid-answer must not kill it
        PollWaiter waiter;
        serve_client_blocking(ClientStreams{STDIN_FILENO, STDOUT_FILENO}, options, waiter);
        finish_lingering_closes();
        return 0;
    }
    if (arch_name.empty()) return usage_error("--arch is required (see --list)");
    const Architecture* architecture = find_architecture(arch_name);
    if (architecture == nullptr)
        return usage_error("unknown architecture '" + arch_name + "' (known: " +
                           architecture_names() + ")");
    if (const ExternalProgram* external = architecture->external)
        for (const std::string& flag : external->unsupported)
            if (app.count("--" + flag) > 0)
                return usage_error("--" + flag + ": " + arch_name + " cannot honour it (" +
                                   external->declaration.string() + ")");
    if (threads_option->count() == 0 && architecture->traits.default_threads > 0)
        options.threads = architecture->traits.default_threads;
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
        serve_architecture(*architecture, listener.socket.fd(), options, stop);
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
