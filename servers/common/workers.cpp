#include "servers/common/workers.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "servers/common/stop.hpp"

namespace archbench {

void report_worker_connections(std::span<const std::uint64_t> connections_per_worker) {
    std::string line = "worker_connections";
    for (std::uint64_t count : connections_per_worker) {
        line += ' ';
        line += std::to_string(count);
    }
    std::fprintf(stderr, "%s\n", line.c_str());
}

void* map_shared_memory(std::size_t bytes) {
    void* mapping = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED)
        throw std::runtime_error(std::string("mmap: ") + std::strerror(errno));
    return mapping;
}

void unmap_shared_memory(void* memory, std::size_t bytes) { munmap(memory, bytes); }

void ConnectionCounters::report() const {
    std::vector<std::uint64_t> counts;
    for (std::size_t worker = 0; worker < slots_.size(); ++worker)
        counts.push_back(slots_[worker].accepted.load());
    report_worker_connections(counts);
}

void run_worker_threads(unsigned count, StopSignal& stop,
                        const std::function<void(unsigned worker)>& worker) {
    std::mutex mutex;
    std::exception_ptr first_error;
    auto fail = [&](std::exception_ptr error) {
        {
            std::lock_guard lock(mutex);
            if (!first_error) first_error = error;
        }
        stop.request();
    };

    std::vector<std::jthread> threads;  // a jthread joins when it is destroyed
    threads.reserve(count);
    for (unsigned index = 0; index < count && !stop.requested(); ++index) {
        try {
            threads.emplace_back([&, index] {
                try {
                    worker(index);
                } catch (...) {
                    fail(std::current_exception());
                }
            });
        } catch (const std::system_error& error) {  // out of threads, or of memory for a stack
            fail(std::make_exception_ptr(std::runtime_error(
                "cannot start worker thread " + std::to_string(index + 1) + " of " +
                std::to_string(count) + ": " + error.what())));
        }
    }
    threads.clear();
    if (first_error) std::rethrow_exception(first_error);
}

}  // namespace archbench
