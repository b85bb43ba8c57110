// What a run measures, and how one thread records it.
//
// Which requests count: those issued inside the measured window, that is whose origin (the
// moment the client began to wait for them, see Request in connection.hpp) lies after the
// warm-up and before the end. Each such request ends in exactly one way: answered right (ok),
// failed with one error kind, still in flight when the run ended, or (open loop) still waiting
// for its connection when the run ended. So issued = ok + errors + in_flight_at_end +
// backlog_at_end, and nothing is dropped silently.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "loadgen/clock.hpp"
#include "loadgen/histogram.hpp"

namespace archbench::load {

enum class ErrorKind {
    connect,       // the connection a request needed could not be opened
    reset,         // the connection was reset (or a send failed) before the answer came
    eof,           // the server closed the connection before answering
    wrong_answer,  // an answer other than the expected one (or one nobody asked for)
    timeout,       // no answer within --timeout-ms; the connection is replaced
};
inline constexpr std::size_t kErrorKinds = 5;
inline constexpr std::array<std::string_view, kErrorKinds> kErrorNames = {
    "connect", "reset", "eof", "wrong_answer", "timeout"};

struct ErrorCounts {
    std::array<std::uint64_t, kErrorKinds> by_kind{};

    std::uint64_t& operator[](ErrorKind kind) { return by_kind[static_cast<std::size_t>(kind)]; }
    std::uint64_t operator[](ErrorKind kind) const { return by_kind[static_cast<std::size_t>(kind)]; }
    std::uint64_t total() const;
};

// One slice of the timeline (--timeline-ms, a second by default) as one thread saw it. Its
// latencies are kept as the non-empty counters of a histogram (a few hundred at most), so that
// an hour-long run costs kilobytes.
struct TimelineSlice {
    std::uint64_t ok = 0;
    std::uint64_t errors = 0;
    std::vector<LatencyHistogram::Bucket> latency;
};

// What the requests sent to one address of --host became (a connect error is the address's that
// refused it).
struct AddressCounts {
    std::uint64_t ok = 0;
    ErrorCounts errors;
    std::uint64_t connections_opened = 0;
};

// Everything one thread measured; run.cpp adds the threads' measurements up.
struct Measurements {
    std::uint64_t issued = 0;
    std::uint64_t ok = 0;
    ErrorCounts errors;
    std::uint64_t in_flight_at_end = 0;  // sent, not answered when the run ended
    std::uint64_t backlog_at_end = 0;    // open loop: due, not yet sent when the run ended
    std::uint64_t max_backlog = 0;       // open loop: most requests waiting for connections at once
    std::uint64_t connections_opened = 0;

    LatencyHistogram latency;   // origin to answer: what the client waited
    LatencyHistogram service;   // send to answer: what the server took, from the actual send
    LatencyHistogram connect;   // connect() to established
    // Open loop: how late a request was sent when its connection was free at its scheduled time:
    // the load generator's own accuracy. The others waited for their connection (queued).
    LatencyHistogram schedule_lag;
    std::uint64_t queued = 0;
    std::vector<TimelineSlice> timeline;
    std::vector<AddressCounts> per_address;  // one per address of --host, in its order

    std::int64_t start_late_ns = 0;  // --start-at: how late this thread began the load
    std::int64_t window_ns = 0;  // how long this thread measured
    std::int64_t cpu_ns = 0;     // this thread's CPU time in that window
    std::int64_t spin_ns = 0;    // of which spent polling for the next scheduled send (open loop)
    std::int64_t spin_window_ns = 0;  // open loop: how long before a send it stopped sleeping, at the end

    // Adds another thread's measurements: counters add, histograms merge exactly, timelines
    // add slice by slice. CPU figures are kept per thread by the caller.
    void merge(const Measurements& other);
};

// Records one thread's requests into its Measurements, if they belong to the measured window.
// Each outcome names the address (an index into --host's list) its connection was on.
class Recorder {
public:
    Recorder(std::int64_t window_start_ns, std::int64_t window_end_ns,
             std::int64_t slice_ns = kNanosPerSecond, std::size_t addresses = 1);

    bool measured(std::int64_t origin_ns) const {
        return origin_ns >= window_start_ns_ && origin_ns < window_end_ns_;
    }

    void issued(std::int64_t origin_ns) {
        if (measured(origin_ns)) ++m_.issued;
    }
    void answered(std::int64_t origin_ns, std::int64_t sent_ns, std::int64_t now_ns, std::size_t address = 0) {
        if (!measured(origin_ns)) return;
        ++m_.ok;
        ++m_.per_address[address].ok;
        const auto latency = static_cast<std::uint64_t>(now_ns - origin_ns);
        m_.latency.record(latency);
        m_.service.record(static_cast<std::uint64_t>(now_ns - sent_ns));
        in_slice(now_ns).record(latency);
        ++slice_ok_;
    }
    void failed(std::int64_t origin_ns, ErrorKind kind, std::int64_t now_ns, std::size_t address = 0) {
        if (!measured(origin_ns)) return;
        ++m_.errors[kind];
        ++m_.per_address[address].errors[kind];
        in_slice(now_ns);
        ++slice_errors_;
    }
    // An error that no request carries: an answer nobody asked for.
    void stray_error(ErrorKind kind, std::int64_t now_ns, std::size_t address = 0) {
        failed(now_ns, kind, now_ns, address);
    }
    void connected(std::int64_t started_ns, std::int64_t now_ns, std::size_t address = 0) {
        if (!measured(now_ns)) return;
        ++m_.connections_opened;
        ++m_.per_address[address].connections_opened;
        m_.connect.record(static_cast<std::uint64_t>(now_ns - started_ns));
    }
    void sent_on_schedule(std::int64_t scheduled_ns, std::int64_t sent_ns) {
        if (measured(scheduled_ns)) m_.schedule_lag.record(static_cast<std::uint64_t>(sent_ns - scheduled_ns));
    }
    void queued(std::int64_t scheduled_ns) {
        if (measured(scheduled_ns)) ++m_.queued;
    }

    Measurements& measurements() { return m_; }
    // Closes the timeline up to `end_ns` (slices without a single answer included) and returns
    // what was measured.
    Measurements finish(std::int64_t end_ns);

private:
    // The histogram of the slice `now_ns` falls in, closing the slices before it. Outcomes of
    // the drain after the window count in its last slice.
    LatencyHistogram& in_slice(std::int64_t now_ns) {
        now_ns = std::min(now_ns, window_end_ns_ - 1);
        if (now_ns >= next_slice_ns_) close_slices_until(now_ns);
        return slice_;
    }
    void close_slices_until(std::int64_t now_ns);

    Measurements m_;
    std::int64_t window_start_ns_;
    std::int64_t window_end_ns_;
    std::int64_t slice_ns_;       // --timeline-ms
    std::int64_t next_slice_ns_;  // end of the slice being recorded
    std::int64_t last_slice_;     // the timeline's last slice (for a window of known length)
    LatencyHistogram slice_;
    std::uint64_t slice_ok_ = 0;
    std::uint64_t slice_errors_ = 0;
};

}  // namespace archbench::load
