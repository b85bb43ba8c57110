// Worker start cost: what it costs to get a worker for a new client. Stevens measured that a
// fork per client costs far more CPU than the service itself, and that pre-forked or
// pre-threaded pools cut process-control CPU tenfold (UNP chapter 30). Here are the three ways:
// fork a process (and exit and reap it), create a thread (and join it), or hand the client's
// descriptor to a thread that is already waiting, as a pool does.
#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

namespace {

void BM_ForkExitWait(benchmark::State& state) {
    for (auto _ : state) {
        const pid_t pid = fork();
        if (pid == 0) _exit(0);
        waitpid(pid, nullptr, 0);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ForkExitWait)->UseRealTime();

// A process with a large heap pays more for fork(): its page tables are copied.
void BM_ForkExitWaitWith64MiBTouched(benchmark::State& state) {
    std::vector<char> heap(64 << 20, 1);
    benchmark::DoNotOptimize(heap.data());
    for (auto _ : state) {
        const pid_t pid = fork();
        if (pid == 0) _exit(0);
        waitpid(pid, nullptr, 0);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ForkExitWaitWith64MiBTouched)->UseRealTime();

void BM_ThreadCreateJoin(benchmark::State& state) {
    for (auto _ : state) {
        std::thread worker([] {});
        worker.join();
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ThreadCreateJoin)->UseRealTime();

// A pool of one waiting thread: hand it a descriptor, wait until it says it took it. This is
// the prethreaded server's cost per client, a lock and two wake-ups instead of a new worker.
class Handoff {
public:
    Handoff() : worker_([this] { run(); }) {}
    ~Handoff() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        changed_.notify_all();
        worker_.join();
    }
    void hand(int fd) {
        std::unique_lock lock(mutex_);
        pending_ = fd;
        changed_.notify_all();
        changed_.wait(lock, [this] { return !pending_; });
    }

private:
    void run() {
        std::unique_lock lock(mutex_);
        for (;;) {
            changed_.wait(lock, [this] { return pending_ || stopping_; });
            if (stopping_) return;
            benchmark::DoNotOptimize(*pending_);  // a real pool would serve the client here
            pending_.reset();
            changed_.notify_all();
        }
    }

    std::mutex mutex_;
    std::condition_variable changed_;
    std::optional<int> pending_;
    bool stopping_ = false;
    std::thread worker_;
};

void BM_HandDescriptorToPoolThread(benchmark::State& state) {
    Handoff pool;
    int fd = 3;
    for (auto _ : state) pool.hand(fd++);
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HandDescriptorToPoolThread)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
