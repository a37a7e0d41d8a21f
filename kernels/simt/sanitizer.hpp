// Sanitizer hooks for the fiber runtime: ASan fiber-switch annotations and TSan fibers and
// happens-before edges. Each hook is a no-op in a build without that sanitizer.
#pragma once
#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define CUVAE_SIMT_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define CUVAE_SIMT_TSAN 1
extern "C" void __tsan_ignore_thread_begin();
extern "C" void __tsan_ignore_thread_end();
#endif

namespace cuvae::simt::san {

// True in a sanitizer build: bigger fiber stacks, and tests may shrink their sizes.
#if defined(CUVAE_SIMT_ASAN) || defined(CUVAE_SIMT_TSAN)
inline constexpr bool active = true;
#else
inline constexpr bool active = false;
#endif

// ASan must be told about every stack switch, or it reports false stack overflows and loses
// fake-stack frames. One FiberState per fiber and one SchedulerState per OS thread.
struct FiberState {
#if defined(CUVAE_SIMT_ASAN)
  void* fake_stack = nullptr;
#endif
#if defined(CUVAE_SIMT_TSAN)
  void* tsan_fiber = nullptr;
#endif
};
struct SchedulerState {
#if defined(CUVAE_SIMT_ASAN)
  void* fake_stack = nullptr;
  const void* stack_bottom = nullptr;
  std::size_t stack_size = 0;
#endif
#if defined(CUVAE_SIMT_TSAN)
  void* tsan_fiber = nullptr;
#endif
};

inline void scheduler_init(SchedulerState& s) {
#if defined(CUVAE_SIMT_TSAN)
  s.tsan_fiber = __tsan_get_current_fiber();
#endif
  (void)s;
}
inline void fiber_create(FiberState& f) {
#if defined(CUVAE_SIMT_TSAN)
  f.tsan_fiber = __tsan_create_fiber(0);
#endif
  (void)f;
}
inline void fiber_destroy(FiberState& f) {
#if defined(CUVAE_SIMT_TSAN)
  if (f.tsan_fiber) __tsan_destroy_fiber(f.tsan_fiber);
  f.tsan_fiber = nullptr;
#endif
  (void)f;
}
// Scheduler -> fiber (around the resume call).
inline void before_resume(SchedulerState& s, FiberState& f, const void* stack_lo, std::size_t size) {
#if defined(CUVAE_SIMT_ASAN)
  __sanitizer_start_switch_fiber(&s.fake_stack, stack_lo, size);
#endif
#if defined(CUVAE_SIMT_TSAN)
  __tsan_switch_to_fiber(f.tsan_fiber, __tsan_switch_to_fiber_no_sync);  // ordering comes from the barriers
#endif
  (void)s, (void)f, (void)stack_lo, (void)size;
}
inline void after_resume(SchedulerState& s) {
#if defined(CUVAE_SIMT_ASAN)
  __sanitizer_finish_switch_fiber(s.fake_stack, nullptr, nullptr);
#endif
  (void)s;
}
// Fiber -> scheduler (around the park call).
inline void before_park(SchedulerState& s, FiberState& f) {
#if defined(CUVAE_SIMT_ASAN)
  __sanitizer_start_switch_fiber(&f.fake_stack, s.stack_bottom, s.stack_size);
#endif
#if defined(CUVAE_SIMT_TSAN)
  __tsan_switch_to_fiber(s.tsan_fiber, __tsan_switch_to_fiber_no_sync);
#endif
  (void)s, (void)f;
}
inline void after_park(FiberState& f) {
#if defined(CUVAE_SIMT_ASAN)
  __sanitizer_finish_switch_fiber(f.fake_stack, nullptr, nullptr);
#endif
  (void)f;
}
// First entry into a fiber: learn the scheduler's stack, to switch back to it.
inline void fiber_entered(SchedulerState& s) {
#if defined(CUVAE_SIMT_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, &s.stack_bottom, &s.stack_size);
#endif
  (void)s;
}
// Last switch out of a fiber whose function returns (its fake stack is released).
inline void fiber_exiting(SchedulerState& s) {
#if defined(CUVAE_SIMT_ASAN)
  __sanitizer_start_switch_fiber(nullptr, s.stack_bottom, s.stack_size);
#endif
#if defined(CUVAE_SIMT_TSAN)
  __tsan_switch_to_fiber(s.tsan_fiber, __tsan_switch_to_fiber_no_sync);
#endif
  (void)s;
}

// TSan happens-before edges and ignored regions (runtime bookkeeping is not kernel code).
inline void release(void* addr) {
#if defined(CUVAE_SIMT_TSAN)
  __tsan_release(addr);
#endif
  (void)addr;
}
inline void acquire(void* addr) {
#if defined(CUVAE_SIMT_TSAN)
  __tsan_acquire(addr);
#endif
  (void)addr;
}
inline void ignore_begin() {
#if defined(CUVAE_SIMT_TSAN)
  __tsan_ignore_thread_begin();
#endif
}
inline void ignore_end() {
#if defined(CUVAE_SIMT_TSAN)
  __tsan_ignore_thread_end();
#endif
}

}  // namespace cuvae::simt::san
