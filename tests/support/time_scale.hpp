// Instrumented builds run several times slower (ThreadSanitizer 5 to 15 times), so the tests'
// waits for something that must happen (an answer, a close, a server's exit) grow by
// ARCHBENCH_TIME_SCALE, which make test-asan and make test-tsan set, and so do the upper bounds
// on how soon something happens (an answer within 250 ms, EOF within 150 ms): a bound that did
// not grow with the waits would fail for the instrumentation, not for the code. Unset,
// everything keeps its length: the default run is not made more lenient. A wait that shows that
// something does *not* happen (silent_for) and a lower bound on a delay never need scaling.
#pragma once

#include <chrono>
#include <cstdlib>

namespace archbench::testing {

inline double time_scale() {
    static const double scale = [] {
        const char* text = std::getenv("ARCHBENCH_TIME_SCALE");
        const double value = text != nullptr ? std::atof(text) : 1.0;
        return value >= 1.0 ? value : 1.0;
    }();
    return scale;
}

inline std::chrono::milliseconds scaled(std::chrono::milliseconds wait) {
    return std::chrono::milliseconds(static_cast<long long>(static_cast<double>(wait.count()) * time_scale()));
}

// An upper bound in seconds on how soon something must happen, grown like the waits.
inline double scaled_seconds(double seconds) { return seconds * time_scale(); }

}  // namespace archbench::testing
