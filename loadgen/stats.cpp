#include "loadgen/stats.hpp"

#include <algorithm>
#include <climits>

#include "loadgen/clock.hpp"

namespace archbench::load {

std::uint64_t ErrorCounts::total() const {
    std::uint64_t sum = 0;
    for (std::uint64_t count : by_kind) sum += count;
    return sum;
}

void Measurements::merge(const Measurements& other) {
    issued += other.issued;
    ok += other.ok;
    for (std::size_t kind = 0; kind < kErrorKinds; ++kind) errors.by_kind[kind] += other.errors.by_kind[kind];
    in_flight_at_end += other.in_flight_at_end;
    backlog_at_end += other.backlog_at_end;
    max_backlog += other.max_backlog;  // the threads' peaks may not coincide: an upper bound
    connections_opened += other.connections_opened;
    latency.merge(other.latency);
    service.merge(other.service);
    connect.merge(other.connect);
    schedule_lag.merge(other.schedule_lag);
    queued += other.queued;
    if (timeline.size() < other.timeline.size()) timeline.resize(other.timeline.size());
    for (std::size_t t = 0; t < other.timeline.size(); ++t) {
        TimelineSecond& second = timeline[t];
        second.ok += other.timeline[t].ok;
        second.errors += other.timeline[t].errors;
        second.latency.insert(second.latency.end(), other.timeline[t].latency.begin(),
                              other.timeline[t].latency.end());
    }
    window_ns = std::max(window_ns, other.window_ns);
    cpu_ns += other.cpu_ns;
    spin_ns += other.spin_ns;
    spin_window_ns = std::max(spin_window_ns, other.spin_window_ns);
}

Recorder::Recorder(std::int64_t window_start_ns, std::int64_t window_end_ns)
    : window_start_ns_(window_start_ns),
      window_end_ns_(window_end_ns),
      next_second_ns_(window_start_ns + kNanosPerSecond),
      // A window of known length has ceil(length) seconds; a completion that lands a hair after
      // the end (the last batch of events) counts in the last one.
      last_second_(window_end_ns == INT64_MAX
                       ? INT64_MAX
                       : (window_end_ns - window_start_ns - 1) / kNanosPerSecond) {}

void Recorder::close_seconds_until(std::int64_t now_ns) {
    const std::int64_t second = (now_ns - window_start_ns_) / kNanosPerSecond;
    while (static_cast<std::int64_t>(m_.timeline.size()) < std::min(second, last_second_)) {
        m_.timeline.push_back({second_ok_, second_errors_, second_.nonzero_buckets()});
        second_.reset();
        second_ok_ = second_errors_ = 0;
    }
    next_second_ns_ = static_cast<std::int64_t>(m_.timeline.size() + 1) * kNanosPerSecond + window_start_ns_;
    if (static_cast<std::int64_t>(m_.timeline.size()) >= last_second_) next_second_ns_ = INT64_MAX;
}

Measurements Recorder::finish(std::int64_t end_ns) {
    if (end_ns > window_start_ns_) in_second(end_ns - 1);
    m_.timeline.push_back({second_ok_, second_errors_, second_.nonzero_buckets()});
    second_.reset();
    second_ok_ = second_errors_ = 0;
    return std::move(m_);
}

}  // namespace archbench::load
