#include "loadgen/report.hpp"

#include <cmath>
#include <string>

#include "loadgen/clock.hpp"

namespace archbench::load {

namespace {

struct Percentile {
    const char* key;    // in the JSON
    const char* label;  // in the summary
    double value;
};
constexpr Percentile kPercentiles[] = {
    {"p50", "p50", 50}, {"p90", "p90", 90}, {"p99", "p99", 99}, {"p99_9", "p99.9", 99.9},
    {"p99_99", "p99.99", 99.99}};

double microseconds(double ns) { return std::round(ns) / 1e3; }  // 3 decimals: the nanoseconds

nlohmann::ordered_json latency_json(const LatencyHistogram& histogram) {
    nlohmann::ordered_json figures;
    const bool empty = histogram.count() == 0;
    const auto value = [&](double ns) {
        return empty ? nlohmann::ordered_json() : nlohmann::ordered_json(microseconds(ns));
    };
    figures["min"] = value(static_cast<double>(histogram.min()));
    figures["mean"] = value(histogram.mean());
    for (const Percentile& p : kPercentiles)
        figures[p.key] = value(static_cast<double>(histogram.value_at_percentile(p.value)));
    figures["max"] = value(static_cast<double>(histogram.max()));
    figures["stddev"] = value(histogram.stddev());
    figures["count"] = histogram.count();
    return figures;
}

nlohmann::ordered_json errors_json(const ErrorCounts& counts) {
    nlohmann::ordered_json errors;
    for (std::size_t kind = 0; kind < kErrorKinds; ++kind) errors[std::string(kErrorNames[kind])] = counts.by_kind[kind];
    return errors;
}

// One entry per --timeline-ms slice of the measured window; `t` is the slice's start in seconds
// from the start of the window, `duration_s` its length (the last may be shorter).
nlohmann::ordered_json timeline_json(const RunResult& result) {
    nlohmann::ordered_json timeline = nlohmann::ordered_json::array();
    const double slice_s = result.options.timeline_ms / 1e3;
    LatencyHistogram slice;
    for (std::size_t t = 0; t < result.total.timeline.size(); ++t) {
        const TimelineSlice& counts = result.total.timeline[t];
        slice.reset();
        slice.add_buckets(counts.latency);
        const auto percentile = [&](double p) {
            return slice.count() ? nlohmann::ordered_json(microseconds(static_cast<double>(
                                       slice.value_at_percentile(p))))
                                 : nlohmann::ordered_json();
        };
        // t x MS / 1000 rather than t x (MS / 1000), so that 3 slices of 100 ms start at 0.3.
        const double start_s = static_cast<double>(t * result.options.timeline_ms) / 1e3;
        nlohmann::ordered_json entry;
        entry["t"] = start_s;
        entry["duration_s"] = std::min(slice_s, result.duration_s - start_s);
        entry["ok"] = counts.ok;
        entry["errors"] = counts.errors;
        entry["p50_us"] = percentile(50);
        entry["p99_us"] = percentile(99);
        timeline.push_back(entry);
    }
    return timeline;
}

// One entry per address of --host, in its order.
nlohmann::ordered_json hosts_json(const RunResult& result) {
    nlohmann::ordered_json hosts = nlohmann::ordered_json::array();
    for (std::size_t a = 0; a < result.options.hosts.size(); ++a) {
        const AddressCounts& counts = result.total.per_address[a];
        hosts.push_back({{"host", result.options.hosts[a]},
                         {"address", a < result.addresses.size() ? result.addresses[a] : result.options.hosts[a]},
                         {"requests_ok", counts.ok},
                         {"errors", errors_json(counts.errors)},
                         {"errors_total", counts.errors.total()},
                         {"connections_opened", counts.connections_opened}});
    }
    return hosts;
}

void print_latency_line(std::FILE* out, const char* label, const LatencyHistogram& histogram) {
    if (histogram.count() == 0) {
        std::fprintf(out, "  %-13s -\n", label);
        return;
    }
    std::fprintf(out, "  %-13s min %.1f  mean %.1f", label, histogram.min() / 1e3, histogram.mean() / 1e3);
    for (const Percentile& p : kPercentiles)
        std::fprintf(out, "  %s %.1f", p.label, histogram.value_at_percentile(p.value) / 1e3);
    std::fprintf(out, "  max %.1f\n", histogram.max() / 1e3);
}

void print_error_kinds(std::FILE* out, const ErrorCounts& errors) {
    for (std::size_t kind = 0; kind < kErrorKinds; ++kind)
        std::fprintf(out, "%s%.*s %llu", kind ? ", " : "", static_cast<int>(kErrorNames[kind].size()),
                     kErrorNames[kind].data(), static_cast<unsigned long long>(errors.by_kind[kind]));
}

}  // namespace

void print_summary(std::FILE* out, const RunResult& result) {
    const LoadOptions& options = result.options;
    const Measurements& total = result.total;
    std::fprintf(out, "archbench-load: %s:%u, %s, %u connection%s on %u thread%s, pipeline %u",
                 options.host.c_str(), options.port,
                 options.open_loop() ? "open loop" : "closed loop", options.connections,
                 options.connections == 1 ? "" : "s", options.threads, options.threads == 1 ? "" : "s",
                 options.pipeline);
    if (options.session > 0) std::fprintf(out, ", sessions of %u", options.session);
    if (options.hosts.size() > 1) std::fprintf(out, ", hosts policy %s", hosts_policy_name(options.hosts_policy));
    std::fprintf(out, "\n  %-13s %.3f s", "measured", result.duration_s);
    if (options.warmup_s > 0) std::fprintf(out, " after a %.3f s warm-up", options.warmup_s);
    if (options.start_at) {
        std::fprintf(out, ", started at %.3f", static_cast<double>(*options.start_at) / kNanosPerSecond);
        if (result.start_late_s > 0) std::fprintf(out, " (%.3f s late)", result.start_late_s);
    }
    std::fprintf(out, "\n  %-13s %llu ok of %llu issued, %.1f per second\n", "requests",
                 static_cast<unsigned long long>(total.ok), static_cast<unsigned long long>(total.issued),
                 result.throughput_rps());
    std::fprintf(out, "  %-13s %llu (", "errors", static_cast<unsigned long long>(total.errors.total()));
    print_error_kinds(out, total.errors);
    std::fprintf(out, ")\n  %-13s %llu in flight", "at the end", static_cast<unsigned long long>(total.in_flight_at_end));
    if (options.open_loop())
        std::fprintf(out, ", %llu waiting for a connection", static_cast<unsigned long long>(total.backlog_at_end));
    std::fprintf(out, "\n");
    if (options.hosts.size() > 1)
        for (std::size_t a = 0; a < options.hosts.size(); ++a) {
            const AddressCounts& counts = total.per_address[a];
            std::fprintf(out, "  %-13s %llu ok, %llu errors (", options.hosts[a].c_str(),
                         static_cast<unsigned long long>(counts.ok),
                         static_cast<unsigned long long>(counts.errors.total()));
            print_error_kinds(out, counts.errors);
            std::fprintf(out, "), %llu connections opened\n", static_cast<unsigned long long>(counts.connections_opened));
        }
    print_latency_line(out, "latency us", total.latency);
    print_latency_line(out, "service us", total.service);
    if (total.connect.count() > 0) print_latency_line(out, "connect us", total.connect);
    if (options.open_loop()) {
        std::fprintf(out, "  %-13s %.1f requests/s asked; sent late by p50 %.1f us, p99 %.1f us, max %.1f us; "
                          "%llu waited for their connection (at most %llu at once)\n",
                     "schedule", options.rate, total.schedule_lag.value_at_percentile(50) / 1e3,
                     total.schedule_lag.value_at_percentile(99) / 1e3, total.schedule_lag.max() / 1e3,
                     static_cast<unsigned long long>(total.queued), static_cast<unsigned long long>(total.max_backlog));
    }
    if (result.idle.requested > 0) {
        const IdleReport& idle = result.idle;
        std::fprintf(out, "  %-13s %u asked, %u opened in %.3f s, %u failed, %u closed by the server",
                     "idle", idle.requested, idle.opened, idle.open_s, idle.failed, idle.closed_by_server);
        if (idle.first_close_s) std::fprintf(out, " (the first after %.3f s)", *idle.first_close_s);
        std::fprintf(out, "\n");
    }
    double busiest = 0;
    for (const ThreadUsage& usage : result.threads) busiest = std::max(busiest, usage.cpu_util);
    std::fprintf(out, "  %-13s busiest thread used %.0f%% of a core; %.2f us of CPU per request",
                 "load gen", 100 * busiest, result.cpu_us_per_request());
    if (options.open_loop())
        std::fprintf(out, " (%.2f us without polling for the schedule)", result.busy_us_per_request());
    std::fprintf(out, "\n");
    for (const std::string& warning : result.warnings()) std::fprintf(out, "warning: %s\n", warning.c_str());
}

nlohmann::ordered_json to_json(const RunResult& result) {
    const LoadOptions& options = result.options;
    const Measurements& total = result.total;
    const auto or_null = [](bool given, auto value) {
        return given ? nlohmann::ordered_json(value) : nlohmann::ordered_json();
    };
    nlohmann::ordered_json json;
    json["config"] = {
        {"host", options.host},
        {"hosts", options.hosts},
        {"hosts_policy", hosts_policy_name(options.hosts_policy)},
        {"port", options.port},
        {"connections", options.connections},
        {"threads", options.threads},
        {"mode", options.open_loop() ? "open" : "closed"},
        {"duration_s", or_null(options.duration_s > 0, options.duration_s)},
        {"warmup_s", options.warmup_s},
        {"requests", or_null(options.requests > 0, options.requests)},
        {"rate", or_null(options.open_loop(), options.rate)},
        {"rate_steps", [&] {
             if (options.rate_steps.empty()) return nlohmann::ordered_json();
             nlohmann::ordered_json steps = nlohmann::ordered_json::array();
             for (const RateStep& step : options.rate_steps) steps.push_back({step.rate, step.seconds});
             return steps;
         }()},
        {"idle", options.idle},
        {"session", options.session},
        {"pipeline", options.pipeline},
        {"timeout_ms", options.timeout_ms},
        {"reply_bytes", options.reply_bytes},
        {"timeline_ms", options.timeline_ms},
        {"start_at", or_null(options.start_at.has_value(),
                             static_cast<double>(options.start_at.value_or(0)) / kNanosPerSecond)},
        {"protocol", zen::protocol_name(options.protocol)},
        {"path", or_null(options.protocol == zen::Protocol::http, options.path)},
    };
    json["start_late_s"] = result.start_late_s;
    json["duration_s"] = result.duration_s;
    json["requests_issued"] = total.issued;
    json["requests_ok"] = total.ok;
    json["throughput_rps"] = result.throughput_rps();
    json["errors"] = errors_json(total.errors);
    json["errors_total"] = total.errors.total();
    json["in_flight_at_end"] = total.in_flight_at_end;
    json["backlog_at_end"] = total.backlog_at_end;
    json["latency_us"] = latency_json(total.latency);
    json["service_us"] = latency_json(total.service);
    json["connect_us"] = latency_json(total.connect);
    json["connections_opened"] = total.connections_opened;
    json["hosts"] = hosts_json(result);
    if (options.open_loop())
        json["open_loop"] = {
            {"rate", options.rate},
            {"rate_kept", !result.rate_not_kept()},
            {"max_backlog", total.max_backlog},
            {"spin_window_us", microseconds(static_cast<double>(total.spin_window_ns))},
            {"queued", total.queued},
            {"schedule_lag_us", latency_json(total.schedule_lag)},
        };
    else
        json["open_loop"] = nullptr;
    json["timeline"] = timeline_json(result);
    const IdleReport& idle = result.idle;
    json["idle"] = {
        {"requested", idle.requested},
        {"opened", idle.opened},
        {"failed", idle.failed},
        {"closed_by_server", idle.closed_by_server},
        {"open_at_end", idle.open_at_end()},
        {"first_close_s", or_null(idle.first_close_s.has_value(), idle.first_close_s.value_or(0))},
        {"open_s", idle.open_s},
    };

    nlohmann::ordered_json threads = nlohmann::ordered_json::array();
    double cpu_util = 0, busy_util = 0;
    for (const ThreadUsage& usage : result.threads) {
        threads.push_back({{"connections", usage.connections},
                           {"cpu_util", usage.cpu_util},
                           {"busy_util", usage.busy_util}});
        cpu_util = std::max(cpu_util, usage.cpu_util);
        busy_util = std::max(busy_util, usage.busy_util);
    }
    json["loadgen"] = {
        {"cpu_util", cpu_util},
        {"busy_util", busy_util},
        {"saturated", result.saturated()},
        {"cpu_s", static_cast<double>(total.cpu_ns) / 1e9},
        {"cpu_us_per_request", result.cpu_us_per_request()},
        {"busy_us_per_request", result.busy_us_per_request()},
        {"threads", threads},
    };
    json["warnings"] = result.warnings();
    json["interrupted"] = result.interrupted;
    return json;
}

nlohmann::ordered_json merged_histograms_json(const HistogramSet& merged, const std::vector<std::string>& files) {
    nlohmann::ordered_json json;
    json["files"] = files;
    json["count"] = merged.latency.count();
    json["latency_us"] = latency_json(merged.latency);
    if (merged.service) json["service_us"] = latency_json(*merged.service);
    return json;
}

void print_merged_summary(std::FILE* out, const HistogramSet& merged, const std::vector<std::string>& files) {
    std::fprintf(out, "archbench-load: %zu histogram file%s merged, %llu latencies\n", files.size(),
                 files.size() == 1 ? "" : "s", static_cast<unsigned long long>(merged.latency.count()));
    print_latency_line(out, "latency us", merged.latency);
    if (merged.service) print_latency_line(out, "service us", *merged.service);
}

void write_percentile_distribution(std::FILE* out, const LatencyHistogram& histogram) {
    constexpr double kNanosPerOutputUnit = 1e6;  // milliseconds
    constexpr int kTicksPerHalfDistance = 5;
    std::fprintf(out, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
    const std::uint64_t total = histogram.count();
    std::size_t last = 0;
    std::uint64_t cumulative = 0;
    double level = 0;  // the next percentile to report, as HdrHistogram's PercentileIterator steps
    for (std::size_t i = 0; i < histogram.counter_count() && cumulative < total; ++i) {
        if (histogram.count_at(i) == 0) continue;
        cumulative += histogram.count_at(i);
        last = i;
        const double value = static_cast<double>(histogram.reported_value_at(i)) / kNanosPerOutputUnit;
        while (100.0 * static_cast<double>(cumulative) / static_cast<double>(total) >= level) {
            std::fprintf(out, "%12.6f %2.12f %10llu %14.2f\n", value, level / 100,
                         static_cast<unsigned long long>(cumulative), 1 / (1 - level / 100));
            if (cumulative == total) break;
            const auto halvings = static_cast<long>(std::log(100.0 / (100.0 - level)) / std::log(2.0));
            level += 100.0 / (kTicksPerHalfDistance * std::pow(2.0, static_cast<double>(halvings + 1)));
        }
    }
    if (total > 0)
        std::fprintf(out, "%12.6f %2.12f %10llu\n",
                     static_cast<double>(histogram.reported_value_at(last)) / kNanosPerOutputUnit, 1.0,
                     static_cast<unsigned long long>(total));
    std::fprintf(out, "#[Mean    = %12.6f, StdDeviation   = %12.6f]\n", histogram.mean() / kNanosPerOutputUnit,
                 histogram.stddev() / kNanosPerOutputUnit);
    std::fprintf(out, "#[Max     = %12.6f, Total count    = %12llu]\n",
                 static_cast<double>(histogram.max()) / kNanosPerOutputUnit, static_cast<unsigned long long>(total));
    std::fprintf(out, "#[Buckets = %12d, SubBuckets     = %12llu]\n",
                 LatencyHistogram::kHighestBit - LatencyHistogram::kSubBucketBits + 1,
                 static_cast<unsigned long long>(LatencyHistogram::kSubBucketCount));
}

}  // namespace archbench::load
