#include "loadgen/run.hpp"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <exception>
#include <thread>

#include "loadgen/clock.hpp"
#include "loadgen/engine.hpp"
#include "loadgen/net.hpp"

namespace archbench::load {

static double us_per_request(std::int64_t ns, std::uint64_t requests) {
    return requests ? static_cast<double>(ns) / 1e3 / static_cast<double>(requests) : 0;
}

double RunResult::cpu_us_per_request() const {
    return us_per_request(total.cpu_ns, total.ok + total.errors.total());
}

double RunResult::busy_us_per_request() const {
    return us_per_request(total.cpu_ns - total.spin_ns, total.ok + total.errors.total());
}

bool RunResult::saturated() const {
    return std::any_of(threads.begin(), threads.end(),
                       [](const ThreadUsage& usage) { return usage.busy_util > kSaturatedBusyShare; });
}

bool RunResult::rate_not_kept() const {
    return options.open_loop() && total.backlog_at_end > options.connections;
}

static std::string format(const char* pattern, auto... values) {
    char line[512];
    std::snprintf(line, sizeof line, pattern, values...);
    return line;
}

std::vector<std::string> RunResult::warnings() const {
    std::vector<std::string> warnings;
    if (total.ok == 0) warnings.push_back("no request succeeded");
    for (std::size_t t = 0; t < threads.size(); ++t)
        if (threads[t].busy_util > kSaturatedBusyShare)
            warnings.push_back(format(
                "load generator saturated: thread %zu was busy %.0f%% of the time, so these figures "
                "describe archbench-load, not the server (give it more threads with -t, or more cores)",
                t, 100 * threads[t].busy_util));
    if (rate_not_kept())
        warnings.push_back(format(
            "the connections could not carry %.0f requests/s: %llu requests still waited for a "
            "connection at the end (up to %llu at once); add connections (-c) or --pipeline",
            options.rate, static_cast<unsigned long long>(total.backlog_at_end),
            static_cast<unsigned long long>(total.max_backlog)));
    if (idle.requested > 0 && idle.open_at_end() < idle.requested)
        warnings.push_back(format("of %u idle connections, %u opened and %u were closed by the server",
                                  idle.requested, idle.opened, idle.closed_by_server));
    if (start_late_s > 0)
        warnings.push_back(format("started %.3f s after --start-at (the time had passed, or opening the "
                                  "connections took longer): the warm-up, and then the measured window, was that much shorter",
                                  start_late_s));
    if (interrupted) warnings.push_back(format("interrupted: the figures cover %.3f s only", duration_s));
    return warnings;
}

std::vector<Address> resolve_addresses(const std::vector<std::string>& hosts, std::uint16_t port) {
    std::vector<Address> addresses;
    for (const std::string& host : hosts) addresses.push_back(resolve_address(host, port));
    return addresses;
}

RunResult run_load(const LoadOptions& asked, const std::vector<Address>& addresses, const std::atomic<bool>& stop) {
    RunResult result;
    result.options = asked;
    LoadOptions& options = result.options;
    options.threads = std::min(options.threads, options.connections);
    // The silent ones are open before the measured ones start, and stay open until they end.
    IdleConnections idle;
    if (options.idle > 0) {
        idle.open(addresses, options.hosts_policy, options.idle, options.timeout_ms);
        // The warm-up starts now, however long the opening took (a forked server forks once per
        // connection): the line lets a harness start its clock here, not at our exec.
        std::fprintf(stderr, "archbench-load: the %u idle connections are open or failed; the load starts\n",
                     options.idle);
        std::fflush(stderr);
    }

    // --start-at names a wall-clock instant: it becomes a monotonic one here, once, so that a step
    // of the wall clock during the wait moves nothing. A time already past starts at once, and
    // the warm-up and the window keep their places after it (start_late_s says how late).
    std::int64_t start = now_ns();
    if (options.start_at) start += *options.start_at - wall_clock_ns();
    const auto seconds = [](double s) { return static_cast<std::int64_t>(s * kNanosPerSecond); };
    const RunTimes times{start, start + seconds(options.warmup_s),
                         options.duration_s > 0 ? start + seconds(options.warmup_s + options.duration_s)
                                                : INT64_MAX};
    // Open loop with -n: the schedule ends n requests after the first one due in the window.
    std::uint64_t schedule_end = UINT64_MAX;
    if (options.open_loop() && options.requests > 0)
        schedule_end = OpenLoopSchedule(run_rate_steps(options), options.connections, start, {}, 0)
                           .first_due_at(times.window_start_ns) + options.requests;

    const std::vector<ThreadPlan> plans = plan_threads(options, schedule_end);
    std::vector<Measurements> measured(plans.size());
    std::vector<std::exception_ptr> failures(plans.size());
    {
        std::vector<std::jthread> threads;
        for (std::size_t t = 0; t < plans.size(); ++t)
            threads.emplace_back([&, t] {
                try {
                    Worker worker(options, addresses, times, plans[t]);
                    measured[t] = worker.run(stop);
                } catch (...) {
                    failures[t] = std::current_exception();
                }
            });
    }
    for (const std::exception_ptr& failure : failures)
        if (failure) std::rethrow_exception(failure);

    for (std::size_t t = 0; t < plans.size(); ++t) {
        const Measurements& thread = measured[t];
        const double window = static_cast<double>(std::max<std::int64_t>(thread.window_ns, 1));
        result.threads.push_back({static_cast<unsigned>(plans[t].slots.size()),
                                  static_cast<double>(thread.cpu_ns) / window,
                                  static_cast<double>(thread.cpu_ns - thread.spin_ns) / window});
        result.total.merge(thread);
    }
    result.duration_s = static_cast<double>(result.total.window_ns) / kNanosPerSecond;
    result.start_late_s = static_cast<double>(result.total.start_late_ns) / kNanosPerSecond;
    result.interrupted = stop.load();
    result.idle = idle.finish();
    result.idle.requested = options.idle;
    for (const Address& address : addresses) result.addresses.push_back(numeric_host(address));
    result.total.per_address.resize(addresses.size());
    return result;
}

}  // namespace archbench::load
