// A user-level thread for fibers.cpp: a stack of its own and a context switch, both from
// Boost.Context (a Debian library: the switch is a few instructions of assembly that Boost keeps
// for every platform), and the calls that tell the sanitizers about each switch, without which
// they would take one stack for another (AddressSanitizer's fake stacks, ThreadSanitizer's
// shadow call stack). Boost 1.74 announces its switches to AddressSanitizer only in its ucontext
// build (BOOST_USE_ASAN), which costs a system call per switch, and never to ThreadSanitizer:
// so the announcements are made here, around each switch, as the sanitizers' headers describe.
#pragma once

#include <boost/context/fiber.hpp>

#include <cstddef>
#include <functional>

namespace archbench {

class UserThread {
public:
    // Ready to run `body` on a stack of `stack_bytes` (with a guard page below it).
    UserThread(std::function<void()> body, std::size_t stack_bytes);
    ~UserThread();  // only once finished(): a suspended one would be unwound by resuming it
    UserThread(const UserThread&) = delete;
    UserThread& operator=(const UserThread&) = delete;

    // From the scheduler: runs it until it suspends itself or ends.
    void resume();
    // From inside it: back to the scheduler, until it is resumed.
    void suspend() { switch_to_scheduler(false); }
    bool finished() const { return finished_; }

private:
    void switch_to_scheduler(bool for_good);

    std::function<void()> body_;
    std::size_t stack_bytes_;
    boost::context::stack_context stack_{};  // its own stack, recorded when allocated
    // Its context while suspended. A finished thread ends suspended, not by returning from its
    // function: a return would run Boost's frames after the last switch was announced to
    // ThreadSanitizer, and unbalance the scheduler's shadow call stack. So this is never
    // destroyed (destroying a suspended context would resume it to unwind it); the stack it
    // lives on is given back instead.
    union {
        boost::context::fiber context_;
    };
    boost::context::fiber scheduler_;  // inside it: the context that resumed it
    bool finished_ = false;
    // For the sanitizers: the scheduler's stack, fake-stack handles, ThreadSanitizer's fibers.
    const void* scheduler_stack_bottom_ = nullptr;
    std::size_t scheduler_stack_size_ = 0;
    void* scheduler_fake_stack_ = nullptr;
    void* own_fake_stack_ = nullptr;
    void* tsan_fiber_ = nullptr;
    void* tsan_scheduler_ = nullptr;
};

}  // namespace archbench
