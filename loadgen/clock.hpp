// The load generator's clocks. Every time stamp is a steady, monotonic nanosecond count (never
// the wall clock, which NTP may step; --start-at alone reads it, once); reading it costs about 20 ns through the vDSO, no system
// call. A thread's CPU clock tells how busy that thread was.
#pragma once

#include <ctime>
#include <cstdint>

namespace archbench::load {

inline constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
inline constexpr std::int64_t kNanosPerMilli = 1'000'000;

inline std::int64_t now_ns() {
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * kNanosPerSecond + now.tv_nsec;
}

// The wall clock, for --start-at alone: an agreed instant shared by load generators on several
// hosts can only be named on it. It is turned into a monotonic time once (run.cpp).
inline std::int64_t wall_clock_ns() {
    timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec * kNanosPerSecond + now.tv_nsec;
}

inline std::int64_t thread_cpu_ns() {
    timespec now;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return now.tv_sec * kNanosPerSecond + now.tv_nsec;
}

}  // namespace archbench::load
