// "No allocation per request": counted, not assumed. A test binary that includes this header
// (in exactly one of its files) sends every operator new through the counter.
#pragma once

#include <atomic>
#include <cstdlib>
#include <new>

namespace archbench::testing {
inline std::atomic<long> allocations{0};
}

void* operator new(std::size_t size) {
    archbench::testing::allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
