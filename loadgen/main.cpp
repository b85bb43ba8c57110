// archbench-load: drives a Zen server (or, with --protocol http, any HTTP/1.1 server) with many
// connections and measures what it delivers.
// DESIGN.md fixes its command line, its JSON keys and its exit codes.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "loadgen/clock.hpp"
#include "loadgen/histogram_file.hpp"
#include "loadgen/net.hpp"
#include "protocol/cli_numbers.hpp"
#include "loadgen/options.hpp"
#include "loadgen/report.hpp"
#include "loadgen/run.hpp"
#include "loadgen/schedule.hpp"

using namespace archbench::load;
using archbench::whole_number;

namespace {

constexpr int kUsageError = 2;
constexpr int kNothingSucceeded = 1;
constexpr unsigned kSpareDescriptors = 64;  // beyond one per connection: epoll, files, stdio
constexpr std::int64_t kOneHourNs = 3600 * kNanosPerSecond;

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
  Rate steps (--rate-steps R1:S1,R2:S2,...): the same schedule, at R1 for S1 seconds after the
    warm-up, then R2 for S2, ...; the last rate holds to the end. Requests queued at one rate are
    carried into the next: an overload's backlog shows as the time latency takes to recover (the
    timeline).
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
  Several addresses (--host A,B,...): names are resolved once, at the start. --hosts-policy
    first sends every connection to A; spread sends connection i to address i mod n; fallback
    starts every connection on A and moves it to the next address (wrapping around) when its
    connect fails or its connection ends in an error; the requests in flight then count as
    failed, never retried. A refused connection waits 10 ms before it tries again (under
    fallback it tries the next address at once, and waits when every address refused it in a
    row). Idle connections follow the same policy. The JSON's "hosts" counts each address's
    answers and errors (a connect error is the address's that refused).
  Idle (--idle N): N more connections open before the load starts (at most 128 connects in
    progress at once; one not done within --timeout-ms fails), send nothing, and are closed when
    it ends. A thread of their own counts those the server closes (and when the first was).
    Once they are open, a line on stderr says so: the warm-up starts then.
  --warmup: the load runs but nothing is recorded; requests issued after it are measured.
  HTTP (--protocol http): each request is `GET PATH HTTP/1.1` with a Host header; a response
    must carry Content-Length (a chunked one is a wrong answer) and the expected status and
    body. A response with `Connection: close` ends its connection, which reconnects: nothing
    wrong, but requests pipelined behind it end as eof.
  Its own CPU is measured per thread; above 90% busy it warns that it was the bottleneck.
Starting together (--start-at TIME): the connections open at once, nothing is sent until TIME
  (the wall clock, read once), and then the warm-up starts; start_late_s says how late that was.
  Hosts' clocks need to agree only as closely as their starts must: latencies are measured on
  one host's monotonic clock each.
Merging (--merge-histograms F1,F2,...): no load; the --histogram files of several runs or hosts
  are added counter by counter, so the merged percentiles are exactly those of one histogram fed
  every value. --json, --hgrm and --histogram write the merge.
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

// A comma-separated list ("A,B,C") as its items. Throws std::invalid_argument naming `flag` for an
// empty item ("A,,B", "A,", "").
std::vector<std::string> split_list(const std::string& text, const std::string& flag) {
    std::vector<std::string> items;
    for (std::size_t begin = 0;;) {
        const std::size_t comma = text.find(',', begin);
        items.push_back(text.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin));
        if (items.back().empty())
            throw std::invalid_argument(flag + ": '" + text + "' has an empty item (items are separated by single commas)");
        if (comma == std::string::npos) return items;
        begin = comma + 1;
    }
}

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

// --start-at: Unix seconds, digits with an optional fraction ("1796155200.25"), within an hour
// of `now_ns` (a time further away is a mistake: a wrong clock, or milliseconds for seconds).
std::int64_t parse_start_at(const std::string& text, std::int64_t now_ns) {
    const std::string problem = "--start-at: must be Unix seconds with an optional fraction, within an hour of now (" +
                                std::to_string(now_ns / kNanosPerSecond) + "), not '" + text + "'";
    const std::size_t point = text.find('.');
    const std::string whole = text.substr(0, point);
    const std::string fraction = point == std::string::npos ? "" : text.substr(point + 1);
    const auto digits = [](const std::string& part) {
        return part.find_first_not_of("0123456789") == std::string::npos;
    };
    if (whole.empty() || whole.size() > 12 || !digits(whole) || !digits(fraction) ||
        (point != std::string::npos && fraction.empty()))
        throw std::invalid_argument(problem);
    std::int64_t ns = std::stoll(whole) * kNanosPerSecond;
    std::int64_t scale = kNanosPerSecond / 10;
    for (std::size_t i = 0; i < fraction.size() && scale > 0; ++i, scale /= 10) ns += (fraction[i] - '0') * scale;
    if (ns > now_ns + kOneHourNs || ns < now_ns - kOneHourNs) throw std::invalid_argument(problem);
    return ns;
}

void check_outputs_differ(const std::string& json, const std::string& hgrm, const std::string& histogram) {
    const std::pair<const char*, const std::string*> outputs[] = {{"--json", &json}, {"--hgrm", &hgrm},
                                                                  {"--histogram", &histogram}};
    for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t j = i + 1; j < 3; ++j)
            if (!outputs[i].second->empty() && *outputs[i].second == *outputs[j].second)
                throw std::invalid_argument(std::string(outputs[i].first) + " and " + outputs[j].first +
                                            " name the same file");
}

// --merge-histograms F1,F2,...: no load; the files merged exactly (histogram_file.hpp), a summary
// on stdout, and what --json, --hgrm and --histogram ask for.
int merge_histograms(const CLI::App& app, const std::string& list, const std::string& json_path,
                     const std::string& hgrm_path, const std::string& histogram_path) {
    for (const CLI::Option* option : app.get_options()) {
        const std::string name = option->get_name();
        if (option->count() > 0 && name != "--merge-histograms" && name != "--json" && name != "--hgrm" &&
            name != "--histogram")
            return usage_error("--merge-histograms starts no load: " + name + " has no use with it");
    }
    HistogramSet merged;
    std::vector<std::string> files;
    File json_file(nullptr, std::fclose), hgrm_file(nullptr, std::fclose), histogram_file(nullptr, std::fclose);
    try {
        check_outputs_differ(json_path, hgrm_path, histogram_path);
        files = split_list(list, "--merge-histograms");
        merged = merge_histogram_files(files);
        json_file = open_output("--json", json_path);
        hgrm_file = open_output("--hgrm", hgrm_path);
        histogram_file = open_output("--histogram", histogram_path);
    } catch (const std::invalid_argument& error) {
        return usage_error(error.what());
    }
    print_merged_summary(stdout, merged, files);
    if (json_file) {
        const std::string text = merged_histograms_json(merged, files).dump(2) + "\n";
        std::fwrite(text.data(), 1, text.size(), json_file.get());
    }
    if (hgrm_file) write_percentile_distribution(hgrm_file.get(), merged.latency);
    if (histogram_file)
        write_histogram_file(histogram_file.get(), merged.latency, merged.service ? &*merged.service : nullptr);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    LoadOptions options;
    CLI::App app("archbench-load: drives a Zen server (or, with --protocol http, an HTTP/1.1 server) "
                 "with N connections and measures throughput, latency (an HDR histogram: p50 to "
                 "p99.99 and max) and errors.",
                 "archbench-load");
    app.footer(kHowItMeasures);
    app.option_defaults()->always_capture_default();
    app.add_option("--host", options.host,
                   "server address, or several: A[,B,...], each a numeric IPv4 or IPv6 address or a "
                   "host name (resolved once, at the start)");
    std::string hosts_policy = "first";
    app.add_option("--hosts-policy", hosts_policy,
                   "how connections use the addresses of --host: first (all to the first), spread "
                   "(connection i to address i mod n), fallback (all start on the first and move to "
                   "the next when a connect fails or the connection is lost)")
        ->check(CLI::IsMember({"first", "spread", "fallback"}));
    app.add_option("--port", options.port, "server port")->check(whole_number(1, 65535));
    CLI::Option* connections =
        app.add_option("-c,--connections", options.connections, "connections to open (required, but to merge)")
        ->default_str("")
        ->check(whole_number(1, 1'000'000));
    app.add_option("-t,--threads", options.threads,
                   "threads, each with its own epoll loop (connections are shared out; no more "
                   "threads than connections)")
        ->check(whole_number(1, 1024));
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
    std::string rate_steps;
    CLI::Option* rate_steps_option =
        app.add_option("--rate-steps", rate_steps,
                       "open loop whose rate changes: RATE:SECONDS,... in turn from the end of the "
                       "warm-up (which runs at the first rate); the last rate holds to the end")
            ->default_str("");
    app.add_option("--idle", options.idle,
                   "extra connections that connect before the load starts, send nothing, and stay "
                   "open until it ends (counted: opened, failed, closed by the server)")
        ->check(whole_number(0, 1'000'000));
    app.add_option("--session", options.session, "questions per connection before it reconnects (0: persistent)")
        ->check(whole_number(0, 1'000'000'000));
    app.add_option("--pipeline", options.pipeline, "questions in flight per connection")
        ->check(whole_number(1, 1'000'000));
    app.add_option("--timeout-ms", options.timeout_ms,
                   "a request unanswered this long is a timeout; its connection is replaced")
        ->check(whole_number(1, 3'600'000));
    app.add_option("--reply-bytes", options.reply_bytes,
                   "expect answers padded to this many bytes, as the server was told (0: unpadded)")
        ->check(whole_number(0, 1ull << 30));
    app.add_option("--timeline-ms", options.timeline_ms,
                   "the timeline's resolution: one entry per this many milliseconds of the measured "
                   "window (slices with nothing answered included)")
        ->check(whole_number(10, 60'000));
    std::string protocol_name = "zen";
    app.add_option("--protocol", protocol_name,
                   "zen (Zen questions) or http (HTTP/1.1 GET --path, each response checked: status, "
                   "Content-Length, body; docs/http.md)")
        ->check(CLI::Validator(
            [](std::string& text) -> std::string {
                return archbench::zen::protocol_named(text) ? "" : "'" + text + "' is not a protocol (zen or http)";
            },
            "zen|http"));
    CLI::Option* path_option =
        app.add_option("--path", options.path,
                       "HTTP: the target every request GETs (/beautiful, /explicit, /simple expect "
                       "200 and their answer; any other path 404 and the unknown answer)")
            ->check(CLI::Validator(
                [](std::string& text) -> std::string {
                    if (text.empty() || text.front() != '/') return "'" + text + "' must start with '/'";
                    for (const char c : text)
                        if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
                            return "must hold no space or control byte";
                    return "";
                },
                "PATH"));
    app.add_option("--json", options.json_path, "write every figure to this file, as JSON");
    app.add_option("--hgrm", options.hgrm_path,
                   "write the latency percentile distribution to this file, in HdrHistogram's text "
                   "format (values in milliseconds)");
    std::string start_at;
    CLI::Option* start_at_option = app.add_option(
        "--start-at", start_at,
        "open every connection, then wait until this wall-clock time (Unix seconds with a fraction, "
        "at most an hour from now) to start the warm-up: load generators on several hosts start together")
        ->default_str("");
    std::string histogram_path;
    app.add_option("--histogram", histogram_path,
                   "write the latency histogram (and in the open loop the service-time one) to this "
                   "file, whole, in a text format that --merge-histograms merges exactly");
    std::string merge_list;
    CLI::Option* merge = app.add_option(
        "--merge-histograms", merge_list,
        "start no load: merge the --histogram files F1,F2,... exactly and write the result "
        "(--json: count and percentiles; --hgrm: the distribution; --histogram: the merged file)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& help) {
        return app.exit(help);
    } catch (const CLI::ParseError& error) {
        return usage_error(error.what());
    }
    if (merge->count() > 0) return merge_histograms(app, merge_list, options.json_path, options.hgrm_path, histogram_path);
    if (connections->count() == 0) return usage_error("--connections is required");
    options.protocol = *archbench::zen::protocol_named(protocol_name);
    if (path_option->count() > 0 && options.protocol != archbench::zen::Protocol::http)
        return usage_error("--path: only with --protocol http");
    if (duration->count() == 0 && options.requests == 0) options.duration_s = 10;
    if (start_at_option->count() > 0) {
        try {
            options.start_at = parse_start_at(start_at, wall_clock_ns());
        } catch (const std::invalid_argument& error) {
            return usage_error(error.what());
        }
    }
    options.hosts_policy = hosts_policy == "spread"     ? HostsPolicy::spread
                           : hosts_policy == "fallback" ? HostsPolicy::fallback
                                                        : HostsPolicy::first;
    if (rate_steps_option->count() > 0) {
        if (options.rate > 0) return usage_error("--rate and --rate-steps: give one of them");
        try {
            options.rate_steps = parse_rate_steps(rate_steps);
        } catch (const std::invalid_argument& error) {
            return usage_error(error.what());
        }
        options.rate = options.rate_steps.front().rate;
    }

    File json_file(nullptr, std::fclose), hgrm_file(nullptr, std::fclose), histogram_file(nullptr, std::fclose);
    std::vector<Address> addresses;
    try {
        options.hosts = split_list(options.host, "--host");
        addresses = resolve_addresses(options.hosts, options.port);
        const std::uint64_t open_files = raise_open_file_limit();
        const std::uint64_t needed = std::uint64_t{options.connections} + options.idle + kSpareDescriptors;
        if (needed > open_files)
            throw std::invalid_argument("-c " + std::to_string(options.connections) + " --idle " +
                                        std::to_string(options.idle) + ": needs " + std::to_string(needed) +
                                        " descriptors, but the open-file limit is " + std::to_string(open_files));
        check_outputs_differ(options.json_path, options.hgrm_path, histogram_path);
        json_file = open_output("--json", options.json_path);
        hgrm_file = open_output("--hgrm", options.hgrm_path);
        histogram_file = open_output("--histogram", histogram_path);
    } catch (const std::invalid_argument& error) {
        return usage_error(error.what());
    }

    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);

    RunResult result;
    try {
        result = run_load(options, addresses, stop_requested);
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
    if (histogram_file)
        write_histogram_file(histogram_file.get(), result.total.latency,
                             options.open_loop() ? &result.total.service : nullptr);
    return result.total.ok > 0 ? 0 : kNothingSucceeded;
}
