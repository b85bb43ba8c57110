#include "servers/common/user_thread.hpp"

#include <boost/context/protected_fixedsize_stack.hpp>

#include <cstdlib>
#include <memory>
#include <new>
#include <utility>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define ARCHBENCH_ASAN_FIBERS 1
#endif
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define ARCHBENCH_TSAN_FIBERS 1
#endif

namespace archbench {

namespace context = boost::context;

namespace {

// protected_fixedsize_stack, also writing down the stack it gave, for AddressSanitizer.
struct RecordedStack {
    context::protected_fixedsize_stack stacks;
    context::stack_context* recorded;

    context::stack_context allocate() { return *recorded = stacks.allocate(); }
    void deallocate(context::stack_context& stack) noexcept { stacks.deallocate(stack); }
};

}  // namespace

UserThread::UserThread(std::function<void()> body, std::size_t stack_bytes)
    : body_(std::move(body)), stack_bytes_(stack_bytes) {
    new (&context_) context::fiber(
        std::allocator_arg, RecordedStack{context::protected_fixedsize_stack(stack_bytes), &stack_},
        [this](context::fiber&& scheduler) {
            scheduler_ = std::move(scheduler);
#ifdef ARCHBENCH_ASAN_FIBERS
            __sanitizer_finish_switch_fiber(nullptr, &scheduler_stack_bottom_, &scheduler_stack_size_);
#endif
            body_();
            finished_ = true;
            switch_to_scheduler(true);  // never resumed again
            std::abort();
            return std::move(scheduler_);
        });
#ifdef ARCHBENCH_TSAN_FIBERS
    tsan_fiber_ = __tsan_create_fiber(0);
#endif
}

UserThread::~UserThread() {
#ifdef ARCHBENCH_TSAN_FIBERS
    __tsan_destroy_fiber(tsan_fiber_);
#endif
    context::protected_fixedsize_stack(stack_bytes_).deallocate(stack_);
}

// Each switch is announced in the function that makes it, right before it: the sanitizers then
// see this function's exit on the stack it entered on.
void UserThread::resume() {
#ifdef ARCHBENCH_TSAN_FIBERS
    tsan_scheduler_ = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(tsan_fiber_, 0);
#endif
#ifdef ARCHBENCH_ASAN_FIBERS
    __sanitizer_start_switch_fiber(&scheduler_fake_stack_,
                                   static_cast<char*>(stack_.sp) - stack_.size, stack_.size);
#endif
    context_ = std::move(context_).resume();
#ifdef ARCHBENCH_ASAN_FIBERS
    __sanitizer_finish_switch_fiber(scheduler_fake_stack_, nullptr, nullptr);
#endif
}

void UserThread::switch_to_scheduler([[maybe_unused]] bool for_good) {
#ifdef ARCHBENCH_ASAN_FIBERS
    __sanitizer_start_switch_fiber(for_good ? nullptr : &own_fake_stack_, scheduler_stack_bottom_,
                                   scheduler_stack_size_);
#endif
#ifdef ARCHBENCH_TSAN_FIBERS
    __tsan_switch_to_fiber(tsan_scheduler_, 0);
#endif
    scheduler_ = std::move(scheduler_).resume();
#ifdef ARCHBENCH_ASAN_FIBERS
    __sanitizer_finish_switch_fiber(own_fake_stack_, &scheduler_stack_bottom_, &scheduler_stack_size_);
#endif
}

}  // namespace archbench
