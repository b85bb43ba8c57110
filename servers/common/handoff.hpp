// What the architectures that hand requests between threads share (epoll-offload, seda): a queue
// that a pool of threads waits on, and a mailbox that wakes an epoll loop when another thread
// posts to it (the "completion port" of a half-sync/half-async server).
//
// Hand-written: the C++ standard library has no blocking queue, and Boost's (sync_queue in
// Boost.Thread) is marked experimental; a mutex, a condition variable and a deque are the
// textbook form, and the mailbox is the same with an eventfd in place of the condition variable.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "servers/common/net.hpp"

namespace archbench {

// Items of type T for a pool of threads: push() from any thread, pop() waits for the oldest.
// It remembers its longest length, which seda reports at exit (where its queues back up).
template <typename T>
class WorkQueue {
public:
    // False once closed: the item is dropped.
    bool push(T item) {
        {
            std::lock_guard lock(mutex_);
            if (closed_) return false;
            items_.push_back(std::move(item));
            peak_ = std::max(peak_, items_.size());
        }
        ready_.notify_one();
        return true;
    }

    // The oldest item, once there is one; nullopt once closed. Items still queued when the queue
    // closes are not handed out: they go with the queue (a server that stops drops its work).
    std::optional<T> pop() {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return closed_ || !items_.empty(); });
        if (closed_) return std::nullopt;
        T item = std::move(items_.front());
        items_.pop_front();
        return item;
    }

    // Wakes every thread in pop(), for good.
    void close() {
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
        }
        ready_.notify_all();
    }

    std::size_t peak() const {
        std::lock_guard lock(mutex_);
        return peak_;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<T> items_;
    std::size_t peak_ = 0;
    bool closed_ = false;
};

// Closes a WorkQueue when it goes out of scope, however the scope is left: the thread that
// feeds a pool ends it that way, so that no worker waits for ever.
template <typename T>
class CloseOnExit {
public:
    explicit CloseOnExit(WorkQueue<T>& queue) : queue_(queue) {}
    ~CloseOnExit() { queue_.close(); }
    CloseOnExit(const CloseOnExit&) = delete;
    CloseOnExit& operator=(const CloseOnExit&) = delete;

private:
    WorkQueue<T>& queue_;
};

// Items posted by any thread to one epoll loop: fd() becomes readable when something was posted,
// and take() hands over everything posted so far. One eventfd write per batch, not per item:
// a post to a mailbox that already holds items needs no wake-up.
template <typename T>
class Mailbox {
public:
    Mailbox() : event_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
        if (!event_) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
    }

    int fd() const { return event_.fd(); }

    void post(T item) {
        bool was_empty;
        {
            std::lock_guard lock(mutex_);
            was_empty = items_.empty();
            items_.push_back(std::move(item));
        }
        if (was_empty) {
            const std::uint64_t one = 1;
            [[maybe_unused]] ssize_t written = write(event_.fd(), &one, sizeof one);
        }
    }

    // Everything posted so far, into `out` (emptied first; its storage is reused). The eventfd is
    // read first: an item posted after the swap finds the mailbox empty and wakes the loop again.
    void take(std::vector<T>& out) {
        out.clear();
        std::uint64_t count;
        [[maybe_unused]] ssize_t read_bytes = read(event_.fd(), &count, sizeof count);
        std::lock_guard lock(mutex_);
        std::swap(out, items_);
    }

private:
    Socket event_;  // any descriptor: Socket only closes it
    std::mutex mutex_;
    std::vector<T> items_;
};

}  // namespace archbench
