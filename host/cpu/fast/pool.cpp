// The CPU backend's thread pool (pool.hpp).
#include "host/cpu/fast/pool.hpp"

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace cuvae::cpu::fast {
namespace {

// How long an idle thread polls before it sleeps: about 50 us on a 3 GHz core, longer than the
// gap between two ops of a training step and far shorter than a scheduler tick.
constexpr int kSpins = 4000;

inline void relax() {
#if defined(__x86_64__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

}  // namespace

Pool::Pool(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  scratch_.resize(static_cast<std::size_t>(threads));
  workers_.reserve(static_cast<std::size_t>(threads - 1));
  for (int slot = 1; slot < threads; ++slot) workers_.emplace_back([this, slot] { worker(slot); });
}

Pool::~Pool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

float* Pool::shared(std::int64_t floats) {
  if (static_cast<std::int64_t>(shared_.size()) < floats) shared_.resize(static_cast<std::size_t>(floats));
  return shared_.data();
}

void Pool::reserve_scratch(std::int64_t floats) {
  for (std::vector<float>& s : scratch_)
    if (static_cast<std::int64_t>(s.size()) < floats) s.resize(static_cast<std::size_t>(floats));
}

void Pool::work(int slot) {
  for (std::int64_t t = next_.fetch_add(1, std::memory_order_relaxed); t < tasks_;
       t = next_.fetch_add(1, std::memory_order_relaxed))
    fn_(ctx_, t, slot);
}

void Pool::run_erased(std::int64_t tasks, Fn fn, const void* ctx) {
  {
    std::lock_guard lock(mutex_);
    tasks_ = tasks, fn_ = fn, ctx_ = ctx;
    next_.store(0, std::memory_order_relaxed);
    busy_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  work(0);
  // Wait for the workers: poll, then sleep.
  for (int i = 0; i < kSpins && busy_.load(std::memory_order_acquire) != 0; ++i) relax();
  if (busy_.load(std::memory_order_acquire) != 0) {
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return busy_.load(std::memory_order_acquire) == 0; });
  }
}

void Pool::worker(int slot) {
  std::uint64_t seen = 0;
  for (;;) {
    // Wait for a new run: poll, then sleep.
    for (int i = 0; i < kSpins && generation_.load(std::memory_order_acquire) == seen; ++i) relax();
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
    }
    {
      std::lock_guard lock(mutex_);  // the run's fields, published under the lock
      seen = generation_.load(std::memory_order_acquire);
      if (stop_) return;
    }
    work(slot);
    if (busy_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard lock(mutex_);
      done_.notify_one();
    }
  }
}

}  // namespace cuvae::cpu::fast
