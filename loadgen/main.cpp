// archbench-load: drives a Zen server with many connections and measures what it delivers.
// DESIGN.md fixes its command line, its JSON keys and its exit codes.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>

#include "loadgen/net.hpp"
#include "loadgen/options.hpp"
#include "loadgen/report.hpp"
#include "loadgen/run.hpp"

using namespace archbench::load;

namespace {

constexpr int kUsageError = 2;
constexpr int kNothingSucceeded = 1;
constexpr unsigned kSpareDescriptors = 64;  // beyond one per connection: epoll, files, stdio

constexpr const char* kHowItMeasures = R"(How it measures:
  Closed loop (default): each connection sends its next question when an answer frees a place in
    its pipeline (--pipeline questions in flight).
  Open loop (--rate R): request g is due at g/R seconds and goes to connection g mod c, so each
    connection has its own fixed schedule of R/c per second, staggered. A request whose connection
    is busy waits for it; latency counts from the scheduled time (free of coordinated omission) and
    service time from the actual send. Sends keep the schedule to within tens of microseconds:
    a thread sleeps until shortly before a send, then polls (the window learns how late this
    machine wakes up). When more requests wait for a connection at the end than there are
    connections, it warns that the connections could not carry the rate.
  Sessions (--session K): after K answers a connection closes and opens a new one. A request
    that waited for its connection to open counts that wait in its latency (in the closed loop,
    the first questions of each connection count from the start of connect()); service time
    leaves it out; connect time is reported on its own.
  Errors are counted per request, by kind: connect, reset, eof, wrong_answer, timeout. A request
    unanswered after --timeout-ms is a timeout and its connection is replaced (the requests in
    flight on it time out with it). Every answer is checked. Nothing is dropped: when the
    measured time is over, nothing more is sent and the requests in flight are given until
    their --timeout-ms to end, so each measured request that was sent ends ok or failed (in
    flight at the end only if the run is interrupted); an open-loop request still waiting for
    its connection then is counted as waiting at the end.
  --warmup: the load runs but nothing is recorded; requests issued after it are measured.
  Its own CPU is measured per thread; above 90% busy it warns that it was the bottleneck.
Exit status: 0 when the run completed (whatever the errors), 1 when no request succeeded,
2 on bad usage.)";

// CLI11's PositiveNumber names the whole range of a double in its message; these say what is wrong.
CLI::Validator number_where(bool (*good)(double), const std::string& what) {
    return CLI::Validator(
        [good, what](std::string& input) -> std::string {
            double value = 0;
            if (CLI::detail::lexical_cast(input, value) && good(value)) return {};
            return "must be " + what + ", not '" + input + "'";
        },
        what);
}
const CLI::Validator kAboveZero = number_where([](double value) { return value > 0; }, "a number above 0");
const CLI::Validator kZeroOrMore = number_where([](double value) { return value >= 0; }, "0 or more");

int usage_error(const std::string& message) {
    std::fprintf(stderr, "archbench-load: %s\n", message.c_str());
    return kUsageError;
}

std::atomic<bool> stop_requested{false};

extern "C" void on_stop_signal(int) { stop_requested.store(true); }

using File = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

// Output files are opened before the run, so that a bad path fails at once, not after it.
File open_output(const char* flag, const std::string& path) {
    if (path.empty()) return File(nullptr, std::fclose);
    std::FILE* file = std::fopen(path.c_str(), "w");
    if (file == nullptr)
        throw std::invalid_argument(std::string(flag) + ": cannot write '" + path + "': " + std::strerror(errno));
    return File(file, std::fclose);
}

}  // namespace

int main(int argc, char** argv) {
    LoadOptions options;
    CLI::App app("archbench-load: drives a Zen server with N connections and measures throughput, "
                 "latency (an HDR histogram: p50 to p99.99 and max) and errors.",
                 "archbench-load");
    app.footer(kHowItMeasures);
    app.option_defaults()->always_capture_default();
    app.add_option("--host", options.host, "server address (numeric IPv4 or IPv6)");
    app.add_option("--port", options.port, "server port")->check(CLI::Range(1, 65535));
    app.add_option("-c,--connections", options.connections, "connections to open")
        ->required()
        ->default_str("")
        ->check(CLI::Range(1u, 1'000'000u));
    app.add_option("-t,--threads", options.threads,
                   "threads, each with its own epoll loop (connections are shared out; no more "
                   "threads than connections)")
        ->check(CLI::Range(1u, 1024u));
    CLI::Option* duration = app.add_option("-d,--duration", options.duration_s,
                                           "seconds to measure, after the warm-up (default 10 "
                                           "unless -n is given)")
                                ->default_str("")
                                ->check(kAboveZero);
    app.add_option("--warmup", options.warmup_s, "seconds of load before measuring, excluded from every figure")
        ->check(kZeroOrMore);
    app.add_option("-n,--requests", options.requests,
                   "measured requests to issue, then stop (with -d too: whichever ends first)")
        ->default_str("")
        ->check(kAboveZero);
    app.add_option("--rate", options.rate, "open loop: requests per second in total, on a fixed schedule")
        ->default_str("")
        ->check(kAboveZero);
    app.add_option("--session", options.session, "questions per connection before it reconnects (0: persistent)");
    app.add_option("--pipeline", options.pipeline, "questions in flight per connection")
        ->check(CLI::Range(1u, 1'000'000u));
    app.add_option("--timeout-ms", options.timeout_ms,
                   "a request unanswered this long is a timeout; its connection is replaced")
        ->check(CLI::Range(1u, 3'600'000u));
    app.add_option("--reply-bytes", options.reply_bytes,
                   "expect answers padded to this many bytes, as the server was told (0: unpadded)");
    app.add_option("--json", options.json_path, "write every figure to this file, as JSON");
    app.add_option("--hgrm", options.hgrm_path,
                   "write the latency percentile distribution to this file, in HdrHistogram's text "
                   "format (values in milliseconds)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& help) {
        return app.exit(help);
    } catch (const CLI::ParseError& error) {
        return usage_error(error.what());
    }
    if (duration->count() == 0 && options.requests == 0) options.duration_s = 10;

    File json_file(nullptr, std::fclose), hgrm_file(nullptr, std::fclose);
    try {
        parse_address(options.host, options.port);
        const std::uint64_t open_files = raise_open_file_limit();
        if (options.connections + kSpareDescriptors > open_files)
            throw std::invalid_argument("-c " + std::to_string(options.connections) + ": needs " +
                                        std::to_string(options.connections + kSpareDescriptors) +
                                        " descriptors, but the open-file limit is " + std::to_string(open_files));
        json_file = open_output("--json", options.json_path);
        if (!options.json_path.empty() && options.json_path == options.hgrm_path)
            throw std::invalid_argument("--json and --hgrm name the same file");
        hgrm_file = open_output("--hgrm", options.hgrm_path);
    } catch (const std::invalid_argument& error) {
        return usage_error(error.what());
    }

    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);

    RunResult result;
    try {
        result = run_load(options, stop_requested);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "archbench-load: %s\n", error.what());
        return 1;
    }

    print_summary(stdout, result);
    std::fflush(stdout);
    if (json_file) {
        const std::string text = to_json(result).dump(2) + "\n";
        std::fwrite(text.data(), 1, text.size(), json_file.get());
    }
    if (hgrm_file) write_percentile_distribution(hgrm_file.get(), result.total.latency);
    return result.total.ok > 0 ? 0 : kNothingSucceeded;
}
