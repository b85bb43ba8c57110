#include "loadgen/schedule.hpp"

#include <sys/prctl.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <ctime>
#include <stdexcept>

#include "loadgen/clock.hpp"

namespace archbench::load {

std::vector<RateStep> parse_rate_steps(const std::string& text) {
    std::vector<RateStep> steps;
    std::size_t begin = 0;
    while (begin <= text.size()) {
        const std::size_t comma = std::min(text.find(',', begin), text.size());
        const std::string step = text.substr(begin, comma - begin);
        const std::size_t colon = step.find(':');
        RateStep parsed{0, 0};
        std::size_t used_rate = 0, used_seconds = 0;
        try {
            if (colon == std::string::npos) throw std::invalid_argument(step);
            parsed.rate = std::stod(step.substr(0, colon), &used_rate);
            parsed.seconds = std::stod(step.substr(colon + 1), &used_seconds);
        } catch (const std::logic_error&) {
            used_rate = 0;
        }
        if (colon == std::string::npos || used_rate != colon || used_seconds != step.size() - colon - 1 ||
            !(parsed.rate > 0) || !(parsed.seconds > 0) || !std::isfinite(parsed.rate) ||
            !std::isfinite(parsed.seconds))
            throw std::invalid_argument("--rate-steps: '" + step +
                                        "' is not RATE:SECONDS with both above 0 (e.g. 20000:3,5000:4)");
        steps.push_back(parsed);
        begin = comma + 1;
    }
    return steps;
}

std::vector<RateStep> run_rate_steps(const LoadOptions& options) {
    if (options.rate_steps.empty()) return {{options.rate, 1}};
    std::vector<RateStep> steps;
    if (options.warmup_s > 0) steps.push_back({options.rate_steps.front().rate, options.warmup_s});
    steps.insert(steps.end(), options.rate_steps.begin(), options.rate_steps.end());
    return steps;
}

OpenLoopSchedule::OpenLoopSchedule(double rate, unsigned connections, std::int64_t start_ns,
                                   std::vector<unsigned> slots, std::uint64_t end)
    : OpenLoopSchedule(std::vector<RateStep>{{rate, 1}}, connections, start_ns, std::move(slots), end) {}

OpenLoopSchedule::OpenLoopSchedule(const std::vector<RateStep>& steps, unsigned connections,
                                   std::int64_t start_ns, std::vector<unsigned> slots, std::uint64_t end)
    : connections_(connections),
      start_ns_(start_ns),
      slots_(std::move(slots)),
      end_(end),
      next_(slots_.empty() ? UINT64_MAX : slots_.front()) {
    std::uint64_t first = 0;
    double step_start = static_cast<double>(start_ns);
    for (const RateStep& step : steps) {
        const double interval = static_cast<double>(kNanosPerSecond) / step.rate;
        if (!segments_.empty()) {  // this step begins with the first request due at its start
            const Segment& before = segments_.back();
            first = before.first_request + static_cast<std::uint64_t>(std::ceil(
                        (step_start - static_cast<double>(before.start_ns)) / before.interval_ns));
        }
        segments_.push_back({first, static_cast<std::int64_t>(step_start), interval});
        step_start += step.seconds * static_cast<double>(kNanosPerSecond);
    }
}

std::uint64_t OpenLoopSchedule::first_due_at(std::int64_t time_ns) const {
    if (time_ns <= start_ns_) return 0;
    std::size_t s = segments_.size() - 1;
    while (s > 0 && segments_[s].start_ns > time_ns) --s;
    const Segment& segment = segments_[s];
    auto request = segment.first_request + static_cast<std::uint64_t>(
        std::ceil(static_cast<double>(time_ns - segment.start_ns) / segment.interval_ns));
    // due_ns() rounds down: step to the exact first one.
    while (request > 0 && due_ns(request - 1) >= time_ns) --request;
    while (due_ns(request) < time_ns) ++request;
    return request;
}

void OpenLoopSchedule::advance() {
    if (++local_ == slots_.size()) {
        local_ = 0;
        ++round_;
    }
    next_ = round_ * connections_ + slots_[local_];
}

// epoll_pwait2 came with Linux 5.11; before it, millisecond timeouts, rounded down (the spin
// covers the rest).
static int sleep_for_events(int epoll_fd, std::span<epoll_event> events, std::int64_t sleep_ns) {
    static std::atomic<bool> have_pwait2{true};
    const int capacity = static_cast<int>(events.size());
    if (have_pwait2.load(std::memory_order_relaxed)) {
        const timespec timeout{sleep_ns / kNanosPerSecond, sleep_ns % kNanosPerSecond};
        const int ready = epoll_pwait2(epoll_fd, events.data(), capacity, &timeout, nullptr);
        if (ready >= 0 || errno != ENOSYS) return std::max(ready, 0);
        have_pwait2.store(false, std::memory_order_relaxed);
    }
    const int timeout_ms = static_cast<int>(std::min<std::int64_t>(sleep_ns / kNanosPerMilli, 1000));
    return std::max(epoll_wait(epoll_fd, events.data(), capacity, timeout_ms), 0);
}

Wait Pacer::wait(int epoll_fd, std::span<epoll_event> events, std::int64_t now_ns, std::int64_t deadline_ns,
                 bool precise) {
    const std::int64_t sleep_ns = deadline_ns - now_ns - (precise ? spin_window_ns_ : 0);
    if (sleep_ns <= 0) {
        const int ready = epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), 0);
        return {std::max(ready, 0), true, load::now_ns()};
    }
    const int ready = sleep_for_events(epoll_fd, events, sleep_ns);
    const std::int64_t woken = load::now_ns();
    if (precise && ready == 0) {  // woken by the timer: was the window wide enough?
        if (woken > deadline_ns)
            spin_window_ns_ = std::min(spin_window_ns_ + spin_window_ns_ / 2, kMostSpinWindowNs);
        else
            spin_window_ns_ = std::max(spin_window_ns_ - spin_window_ns_ / 64, kLeastSpinWindowNs);
    }
    return {ready, false, woken};
}

void use_precise_timers() { prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL); }

}  // namespace archbench::load
