// The CPU backend's one thread pool. Every parallel loop of the backend runs on it: the
// elementwise ops' row chunks and the GEMMs, which it cuts into fixed blocks of rows (or of
// images) and hands to OpenBLAS one block per call, with OpenBLAS itself kept on one thread
// (openblas_set_num_threads(1) by the backend). So there is one set of threads, no second pool
// spinning beside it, and every result is the same bits for any thread count: a block's values
// never depend on which thread computes it or on how many there are (block sizes depend only on
// the shapes), and sums across blocks are added in block order by the caller.
//
// run(tasks, body) calls body(task, slot) for every task in [0, tasks) on the caller and the
// pool's threads (slot: which of them, 0 = the caller, for per-thread scratch) and returns when all
// are done. Idle threads spin briefly (the next op usually follows within microseconds), then
// sleep. Not reentrant: one run at a time, from one thread (the backend's). body must not throw.
#pragma once
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace cuvae::cpu::fast {

class Pool {
 public:
  explicit Pool(int threads);  // threads <= 0: one per core
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  template <class Body>
  void run(std::int64_t tasks, const Body& body) {
    if (tasks <= 0) return;
    if (tasks == 1 || workers_.empty()) {
      for (std::int64_t t = 0; t < tasks; ++t) body(t, 0);
      return;
    }
    run_erased(tasks, [](const void* ctx, std::int64_t t, int slot) { (*static_cast<const Body*>(ctx))(t, slot); },
               &body);
  }

  // Scratch memory of slot `slot` (0 .. threads() - 1), at least reserve_scratch's count floats.
  float* scratch(int slot) { return scratch_[static_cast<std::size_t>(slot)].data(); }
  // Makes every slot's scratch hold at least `floats` (call before run, on the calling thread).
  void reserve_scratch(std::int64_t floats);
  // One buffer of at least `floats` for the op now running (its per-task partial sums), kept between
  // ops so that a training step does not allocate and fault in fresh pages each time. Not zeroed:
  // the caller writes every element it reads. Call on the calling thread, before run.
  float* shared(std::int64_t floats);

 private:
  using Fn = void (*)(const void*, std::int64_t, int);
  void run_erased(std::int64_t tasks, Fn fn, const void* ctx);
  void work(int slot);  // takes tasks of the current run until none is left
  void worker(int slot);

  std::vector<std::thread> workers_;
  std::vector<std::vector<float>> scratch_;
  std::vector<float> shared_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::atomic<std::uint64_t> generation_{0};  // bumped by each run; workers wait for a change
  std::atomic<std::int64_t> next_{0};         // the next task to take
  std::atomic<int> busy_{0};                  // workers still in the current run
  std::int64_t tasks_ = 0;
  Fn fn_ = nullptr;
  const void* ctx_ = nullptr;
  bool stop_ = false;
};

// About this many elements per chunk of an elementwise op: big enough that a chunk outweighs
// handing it out (a few microseconds), small enough that a batch of 128 rows of 784 splits into
// several.
inline constexpr std::int64_t kChunkElements = 16384;

// Rows per chunk for rows of `cols` elements (at least 1).
inline std::int64_t rows_per_chunk(std::int64_t cols) { return std::max<std::int64_t>(1, kChunkElements / std::max<std::int64_t>(cols, 1)); }

// body(begin, end) for consecutive chunks [begin, end) of [0, n), `grain` items each (the last may
// be shorter), on the pool's threads.
template <class Body>
void for_chunks(Pool& pool, std::int64_t n, std::int64_t grain, const Body& body) {
  if (n <= 0) return;
  grain = grain < 1 ? 1 : grain;
  pool.run((n + grain - 1) / grain, [&](std::int64_t c, int) { body(c * grain, std::min(n, (c + 1) * grain)); });
}

}  // namespace cuvae::cpu::fast
