#include "servers/common/limits.hpp"

#include <algorithm>
#include <cstdio>

namespace archbench {

int IdleClock::remaining_ms(Clock::time_point now) const {
    if (!enabled()) return -1;
    if (now >= deadline_) return 0;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline_ - now);
    return static_cast<int>(std::max<long long>(1, left.count()));
}

IdleSweep::IdleSweep(std::chrono::milliseconds idle_timeout)
    : period_(std::min(idle_timeout, kLongestPeriod)) {
    if (enabled()) next_sweep_ = Clock::now() + period_;
}

int IdleSweep::until_next_sweep_ms(int timeout_ms) const {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(next_sweep_ - Clock::now());
    const int until_sweep = static_cast<int>(std::max<long long>(0, left.count()));
    return timeout_ms < 0 ? until_sweep : std::min(timeout_ms, until_sweep);
}

bool ConnectionLimit::admit() {
    if (outer_ != nullptr && !outer_->admit()) return false;
    if (admit_here()) return true;
    if (outer_ != nullptr) outer_->release();
    return false;
}

bool ConnectionLimit::admit_here() {
    if (limit_ == 0) {
        open_.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    std::size_t open = open_.load(std::memory_order_relaxed);
    while (open < limit_)
        if (open_.compare_exchange_weak(open, open + 1, std::memory_order_relaxed)) return true;
    // Logged for the first refusal and every 1000th after it, so a flood cannot flood stderr.
    if (refused_.fetch_add(1, std::memory_order_relaxed) % 1000 == 0)
        std::fprintf(stderr, "max-connections: %zu clients open; refusing new ones\n", limit_);
    return false;
}

}  // namespace archbench
