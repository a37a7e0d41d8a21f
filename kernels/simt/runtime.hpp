// The SIMT-on-CPU runtime: runs a CUDA grid on the CPU. A CUDA thread is a Boost.Context fiber, a
// block runs to completion on one OS thread (kernels/simt/worker.hpp), blocks are spread over a
// pool of OS threads (here, with the runtime's API).
#pragma once
#include "kernels/simt/worker.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace cuvae::simt {

// ---- pool of OS threads, with the watchdog on the launching thread -------------------------------

class Pool {
 public:
  Pool(unsigned n, std::size_t stack_bytes) : workers_(n, nullptr) {
    for (unsigned t = 0; t < n; ++t) threads_.emplace_back([this, t, stack_bytes] { thread_main(t, stack_bytes); });
  }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stopping_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  void run(Grid& g, double watchdog_s) {
    std::unique_lock<std::mutex> lk(m_);
    grid_ = &g;
    busy_ = unsigned(threads_.size());
    ++generation_;
    work_cv_.notify_all();
    if (watchdog_s <= 0) {
      done_cv_.wait(lk, [&] { return busy_ == 0; });
      return;
    }
    const auto poll = std::chrono::duration<double>(std::min(1.0, watchdog_s / 4));
    while (!done_cv_.wait_for(lk, poll, [&] { return busy_ == 0; })) check_watchdog(watchdog_s);
  }

 private:
  void thread_main(unsigned index, std::size_t stack_bytes) {
    Worker w(stack_bytes);
    std::uint64_t seen = 0;
    std::unique_lock<std::mutex> lk(m_);
    workers_[index] = &w;
    for (;;) {
      work_cv_.wait(lk, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) break;
      seen = generation_;
      Grid* g = grid_;
      lk.unlock();
      w.run(*g);
      lk.lock();
      if (--busy_ == 0) done_cv_.notify_all();
    }
    workers_[index] = nullptr;
  }

  void check_watchdog(double limit_s) {  // called with m_ held
    const std::int64_t now = now_ns();
    for (Worker* w : workers_) {
      if (!w) continue;
      const std::int64_t t = w->block_started_ns.load(std::memory_order_relaxed);
      if (!t || double(now - t) < limit_s * 1e9) continue;
      san::ignore_begin();  // reading another thread's state, to report it and abort
      char what[200];
      std::snprintf(what, sizeof what, "watchdog: a block has run for more than %g s (SIMT_WATCHDOG_S or simt::set_watchdog)", limit_s);
      const dim3 g = w->grid->grid, b = w->grid->block;
      const std::uint64_t l = w->block_linear.load(std::memory_order_relaxed);
      char where[200];
      std::snprintf(where, sizeof where, "\n  in block (%u,%u,%u) of grid (%u,%u,%u), block size (%u,%u,%u)", unsigned(l % g.x),
                    unsigned(l / g.x % g.y), unsigned(l / (std::uint64_t(g.x) * g.y)), g.x, g.y, g.z, b.x, b.y, b.z);
      die(std::string(what) + "; fibers are cooperative, so a thread that spins waiting for another thread of its block never yields" +
          where + w->kernel_text() + w->describe(0, w->nthreads, w->running_lane.load(std::memory_order_relaxed)));
    }
  }

  std::mutex m_;
  std::condition_variable work_cv_, done_cv_;
  std::vector<std::thread> threads_;
  std::vector<Worker*> workers_;
  Grid* grid_ = nullptr;
  std::uint64_t generation_ = 0;
  unsigned busy_ = 0;
  bool stopping_ = false;
};

// ---- the process-wide runtime and its API ----------------------------------------------------------

struct Runtime {
  std::mutex mutex;  // one grid at a time; guards settings and pool
  Settings settings = settings_from_env();
  std::unique_ptr<Pool> pool;
  std::uint64_t launches = 0;  // since the last set_order: seeds the random order
};
inline Runtime& runtime() {
  static Runtime r;
  return r;
}

inline Settings settings() {
  std::lock_guard<std::mutex> lk(runtime().mutex);
  return runtime().settings;
}
// Thread order within a block for later launches (overrides SIMT_ORDER / SIMT_SEED). A random
// order differs per launch and per block, and the sequence restarts here: reproducible by seed.
inline void set_order(Order order, std::uint64_t seed = 1) {
  std::lock_guard<std::mutex> lk(runtime().mutex);
  runtime().settings.order = order;
  runtime().settings.seed = seed;
  runtime().launches = 0;
}
// OS threads running blocks (overrides SIMT_THREADS); 0 = hardware threads.
inline void set_threads(unsigned n) {
  std::lock_guard<std::mutex> lk(runtime().mutex);
  runtime().settings.threads = n ? n : std::max(1u, std::thread::hardware_concurrency());
  runtime().pool.reset();
}
// Seconds a block may run before it is reported (overrides SIMT_WATCHDOG_S); 0 = off.
inline void set_watchdog(double seconds) {
  std::lock_guard<std::mutex> lk(runtime().mutex);
  runtime().settings.watchdog_s = seconds;
}
// Fiber switches since the process started (for benchmarks).
inline std::uint64_t fiber_switches() { return total_switches.load(); }

// Throws, like a GPU launch that fails, for a configuration CUDA rejects.
inline void check_launch(dim3 g, dim3 b, std::size_t smem) {
  const std::uint64_t threads = std::uint64_t(b.x) * b.y * b.z;
  const char* bad = nullptr;
  if (!g.x || !g.y || !g.z || !b.x || !b.y || !b.z) bad = "a zero dimension";
  else if (threads > 1024) bad = "more than 1024 threads per block";
  else if (b.z > 64) bad = "blockDim.z > 64";
  else if (g.y > 65535 || g.z > 65535) bad = "gridDim.y or gridDim.z > 65535";
  else if (g.x > 0x7fffffffu) bad = "gridDim.x > 2^31-1";
  else if (smem > 227 * 1024) bad = "more than 227 KiB of dynamic shared memory";
  if (!bad) return;
  char msg[256];
  std::snprintf(msg, sizeof msg, "kernel launch failed: invalid configuration (%s): grid (%u,%u,%u), block (%u,%u,%u), %zu bytes dynamic shared memory",
                bad, g.x, g.y, g.z, b.x, b.y, b.z, smem);
  throw Error(msg);
}

inline void run_grid(dim3 g, dim3 b, std::size_t smem, void (*body)(const void*), const void* args) {
  if (tls_lane) die("a kernel launched a kernel: dynamic parallelism is not supported by the SIMT runtime");
  check_launch(g, b, smem);
  Runtime& rt = runtime();
  std::lock_guard<std::mutex> lk(rt.mutex);
  if (!rt.pool) rt.pool = std::make_unique<Pool>(rt.settings.threads, rt.settings.stack_bytes);
  Grid grid;
  grid.grid = g;
  grid.block = b;
  grid.smem = smem;
  grid.body = body;
  grid.args = args;
  grid.blocks = std::uint64_t(g.x) * g.y * g.z;
  grid.id = rt.launches++;
  grid.order = rt.settings.order;
  grid.seed = rt.settings.seed;
  rt.pool->run(grid, rt.settings.watchdog_s);
  san::acquire(&grid_end_sync);
}

// cuvae::launch in the SIMT build: runs the grid to completion before it returns (the stream is
// ignored). Arguments are converted to the kernel's parameter types once; each thread gets copies.
template <class... P, class... A>
void launch(void (*kernel)(P...), dim3 grid, dim3 block, std::size_t smem_bytes, cudaStream_t /*stream*/, A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "launch: the argument count differs from the kernel's parameter count");
  using Params = std::tuple<std::decay_t<P>...>;
  struct Call {
    void (*kernel)(P...);
    Params params;
  };
  const Call call{kernel, Params(std::forward<A>(args)...)};
  run_grid(grid, block, smem_bytes,
           [](const void* c) {
             const Call& k = *static_cast<const Call*>(c);
             std::apply(k.kernel, k.params);
           },
           &call);
}

// The calling CUDA thread; misuse from host code is reported with its call site.
inline Lane& current_lane(const char* what, const std::source_location& s) {
  Lane* L = tls_lane;
  if (!L) die(std::string(what) + " called outside a kernel, at " + site_text(s));
  return *L;
}

inline void* dynamic_shared_memory() {
  if (!tls_worker || !tls_lane) die("dynamic shared memory used outside a kernel");
  return tls_worker->dsmem;
}

}  // namespace cuvae::simt
