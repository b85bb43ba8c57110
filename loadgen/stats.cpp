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
        TimelineSlice& slice = timeline[t];
        slice.ok += other.timeline[t].ok;
        slice.errors += other.timeline[t].errors;
        slice.latency.insert(slice.latency.end(), other.timeline[t].latency.begin(),
                             other.timeline[t].latency.end());
    }
    if (per_address.size() < other.per_address.size()) per_address.resize(other.per_address.size());
    for (std::size_t a = 0; a < other.per_address.size(); ++a) {
        per_address[a].ok += other.per_address[a].ok;
        for (std::size_t kind = 0; kind < kErrorKinds; ++kind)
            per_address[a].errors.by_kind[kind] += other.per_address[a].errors.by_kind[kind];
        per_address[a].connections_opened += other.per_address[a].connections_opened;
    }
    start_late_ns = std::max(start_late_ns, other.start_late_ns);
    window_ns = std::max(window_ns, other.window_ns);
    cpu_ns += other.cpu_ns;
    spin_ns += other.spin_ns;
    spin_window_ns = std::max(spin_window_ns, other.spin_window_ns);
}

Recorder::Recorder(std::int64_t window_start_ns, std::int64_t window_end_ns, std::int64_t slice_ns,
                   std::size_t addresses)
    : window_start_ns_(window_start_ns),
      window_end_ns_(window_end_ns),
      slice_ns_(slice_ns),
      next_slice_ns_(window_start_ns + slice_ns),
      // A window of known length has ceil(length / slice) slices; a completion that lands a hair
      // after the end (the last batch of events) counts in the last one.
      last_slice_(window_end_ns == INT64_MAX ? INT64_MAX : (window_end_ns - window_start_ns - 1) / slice_ns) {
    m_.per_address.resize(addresses);
}

// Every slice that ended before `now_ns` is closed, those in which nothing happened included:
// a server that stopped answering shows as slices of ok 0, not as a gap in the timeline.
void Recorder::close_slices_until(std::int64_t now_ns) {
    const std::int64_t slice = (now_ns - window_start_ns_) / slice_ns_;
    while (static_cast<std::int64_t>(m_.timeline.size()) < std::min(slice, last_slice_)) {
        m_.timeline.push_back({slice_ok_, slice_errors_, slice_.nonzero_buckets()});
        slice_.reset();
        slice_ok_ = slice_errors_ = 0;
    }
    next_slice_ns_ = static_cast<std::int64_t>(m_.timeline.size() + 1) * slice_ns_ + window_start_ns_;
    if (static_cast<std::int64_t>(m_.timeline.size()) >= last_slice_) next_slice_ns_ = INT64_MAX;
}

Measurements Recorder::finish(std::int64_t end_ns) {
    if (end_ns > window_start_ns_) in_slice(end_ns - 1);
    m_.timeline.push_back({slice_ok_, slice_errors_, slice_.nonzero_buckets()});
    slice_.reset();
    slice_ok_ = slice_errors_ = 0;
    return std::move(m_);
}

}  // namespace archbench::load
