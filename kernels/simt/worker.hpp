// The SIMT-on-CPU runtime's lower half (kernels/simt/runtime.hpp is the rest): its settings, the
// lanes (a CUDA thread is a Boost.Context fiber) and the worker that runs a block to completion on
// one OS thread.
#pragma once
#include "kernels/error.hpp"
#include "kernels/simt/prelude.hpp"
#include "kernels/simt/sanitizer.hpp"

#include <boost/context/fiber.hpp>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <random>
#include <source_location>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace cuvae::simt {

// ---- settings: environment first, then the API --------------------------------------------------

enum class Order { ascending, descending, random };

struct Settings {
  unsigned threads = 1;             // SIMT_THREADS: OS threads running blocks (default: hardware threads)
  Order order = Order::ascending;   // SIMT_ORDER=asc|desc|random: order fibers run within a block
  std::uint64_t seed = 1;           // SIMT_SEED: seeds Order::random
  double watchdog_s = 60;           // SIMT_WATCHDOG_S: a block running longer is reported; 0: off
  std::size_t stack_bytes = 0;      // SIMT_STACK_KB: per-fiber stack (64 KiB, 256 KiB under sanitizers)
};

// Misuse is reported like a GPU trap: a message on stderr, then abort (death tests catch it).
[[noreturn]] inline void die(const std::string& msg) {
  std::fprintf(stderr, "simt: error: %s\n", msg.c_str());
  std::fflush(stderr);
  std::abort();
}

inline std::string site_text(const std::source_location& s) {
  return std::string(s.file_name()) + ":" + std::to_string(s.line()) + ":" + std::to_string(s.column());
}

inline Settings settings_from_env() {
  Settings s;
  s.threads = std::max(1u, std::thread::hardware_concurrency());
  s.stack_bytes = (san::active ? 256 : 64) * 1024;
  auto number = [](const char* name, double min) -> double {
    const char* v = std::getenv(name);
    char* end = nullptr;
    double x = std::strtod(v, &end);
    if (end == v || *end != '\0' || !(x >= min)) die(std::string(name) + "='" + v + "': want a number >= " + std::to_string(min));
    return x;
  };
  if (std::getenv("SIMT_THREADS")) s.threads = unsigned(number("SIMT_THREADS", 1));
  if (std::getenv("SIMT_SEED")) s.seed = std::uint64_t(number("SIMT_SEED", 0));
  if (std::getenv("SIMT_WATCHDOG_S")) s.watchdog_s = number("SIMT_WATCHDOG_S", 0);
  if (std::getenv("SIMT_STACK_KB")) s.stack_bytes = std::size_t(number("SIMT_STACK_KB", 16)) * 1024;
  if (const char* v = std::getenv("SIMT_ORDER")) {
    std::string o = v;
    if (o == "asc" || o == "ascending") s.order = Order::ascending;
    else if (o == "desc" || o == "descending") s.order = Order::descending;
    else if (o == "random") s.order = Order::random;
    else die("SIMT_ORDER='" + o + "': want asc, desc or random");
  }
  return s;
}

// ---- lanes (CUDA threads) ------------------------------------------------------------------------

enum class State : std::uint8_t { running, at_barrier, at_warp_op, exited };
enum class Op : std::uint8_t {
  none, syncthreads, syncthreads_count, syncthreads_and, syncthreads_or,
  shfl, shfl_up, shfl_down, shfl_xor, ballot, any, all, syncwarp, activemask
};

inline const char* op_name(Op op) {
  switch (op) {
    case Op::none: return "-";
    case Op::syncthreads: return "__syncthreads";
    case Op::syncthreads_count: return "__syncthreads_count";
    case Op::syncthreads_and: return "__syncthreads_and";
    case Op::syncthreads_or: return "__syncthreads_or";
    case Op::shfl: return "__shfl_sync";
    case Op::shfl_up: return "__shfl_up_sync";
    case Op::shfl_down: return "__shfl_down_sync";
    case Op::shfl_xor: return "__shfl_xor_sync";
    case Op::ballot: return "__ballot_sync";
    case Op::any: return "__any_sync";
    case Op::all: return "__all_sync";
    case Op::syncwarp: return "__syncwarp";
    case Op::activemask: return "__activemask";
  }
  return "?";
}

namespace ctx = boost::context;

struct Lane {
  ctx::fiber fiber;           // the parked fiber; held by the scheduler
  ctx::fiber scheduler;       // the scheduler's continuation; held by the fiber while it runs
  uint3 tid{};
  State state = State::exited;
  Op op = Op::none;           // the barrier or warp op it waits at
  unsigned mask = 0;          // warp op: member mask
  int arg = 0, width = 32;    // warp op: source lane / delta / lane mask, and segment width
  std::uint64_t value = 0;    // warp op or barrier input
  std::uint64_t result = 0;   // its result, written by the scheduler
  std::source_location site;  // the last scheduling point reached (reported on misuse)
  bool has_site = false;
  unsigned barrier_phase = 0, warp_phase = 0, sync_parity = 0;  // TSan: alternating sync objects
  char* stack_lo = nullptr;
  std::size_t stack_size = 0;
  san::FiberState san;
};

inline bool same_site(const std::source_location& a, const std::source_location& b) {
  return a.line() == b.line() && a.column() == b.column() &&
         (a.file_name() == b.file_name() || std::strcmp(a.file_name(), b.file_name()) == 0);
}

// Fiber stacks: mmap'd, with a guard page so an overflow faults instead of corrupting a neighbour.
struct StackAllocator {
  std::size_t size;
  char** lo;
  static std::size_t page() { return std::size_t(::sysconf(_SC_PAGESIZE)); }
  ctx::stack_context allocate() {
    const std::size_t total = size + page();
    void* p = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) die("cannot map a " + std::to_string(size) + "-byte fiber stack");
    ::mprotect(p, page(), PROT_NONE);
    *lo = static_cast<char*>(p) + page();
    ctx::stack_context sc;
    sc.size = size;
    sc.sp = static_cast<char*>(p) + total;
    return sc;
  }
  void deallocate(ctx::stack_context& sc) {
    ::munmap(static_cast<char*>(sc.sp) - sc.size - page(), sc.size + page());
  }
};

// One launch, shared by the workers; blocks are handed out in increasing linear order.
struct Grid {
  dim3 grid, block;
  std::size_t smem = 0;
  void (*body)(const void*) = nullptr;  // runs the kernel with its arguments
  const void* args = nullptr;
  std::uint64_t blocks = 0, id = 0;
  Order order = Order::ascending;
  std::uint64_t seed = 1;
  std::atomic<std::uint64_t> next{0};
};

inline std::atomic<std::uint64_t> total_switches{0};  // fiber resumes, for benchmarks
inline char grid_end_sync;  // TSan: every kernel thread happens-before the launch's return

inline std::uint64_t mix64(std::uint64_t x) {  // splitmix64 finalizer
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ---- worker: one per OS thread of the pool; runs blocks; its fibers are reused across launches --

struct Worker;
inline thread_local Worker* tls_worker = nullptr;
inline thread_local Lane* tls_lane = nullptr;  // the running CUDA thread; null outside kernels

struct Worker {
  explicit Worker(std::size_t stack) : stack_bytes(stack) {
    lanes.reserve(1024);  // never reallocates: fibers refer to their lane by index, the scheduler by address
    san::scheduler_init(sched_san);
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  ~Worker() {  // let every fiber return normally (no forced unwind: sanitizer-friendly teardown)
    san::ignore_begin();
    quitting = true;
    for (Lane& L : lanes)
      if (L.fiber) resume(L);
    san::acquire(&teardown_sync);  // TSan: frees below come after everything the fibers did
    for (Lane& L : lanes) san::fiber_destroy(L.san);
    lanes.clear();
    ::operator delete(dsmem, std::align_val_t{128});
    san::ignore_end();
  }

  std::size_t stack_bytes;
  std::vector<Lane> lanes;
  std::vector<int> order;
  Grid* grid = nullptr;
  int nthreads = 0;  // threads per block of the current grid
  unsigned char* dsmem = nullptr;
  std::size_t dsmem_size = 0;
  std::mt19937_64 rng;
  bool quitting = false;
  std::uint64_t switches = 0;
  san::SchedulerState sched_san;
  std::unique_ptr<char[]> sync;  // TSan: per-block sync objects, fresh addresses per block
  char block_start_sync = 0, block_end_sync[2] = {0, 0}, teardown_sync = 0;
  int parity = 0;
  // Read by the watchdog on the launching thread.
  std::atomic<std::int64_t> block_started_ns{0};
  std::atomic<std::uint64_t> block_linear{0};
  std::atomic<Lane*> running_lane{nullptr};

  void make_lane(int i) {
    Lane& L = lanes[i];
    L.stack_size = stack_bytes;
    L.fiber = ctx::fiber(std::allocator_arg, StackAllocator{stack_bytes, &L.stack_lo},
                         [this, i](ctx::fiber&& sched) { return lane_main(i, std::move(sched)); });
    san::fiber_create(L.san);
  }

  ctx::fiber lane_main(int i, ctx::fiber&& sched) {
    san::ignore_begin();  // TSan: the fiber's bookkeeping is not kernel code
    san::fiber_entered(sched_san);
    lanes[i].scheduler = std::move(sched);
    while (!quitting) {  // one iteration per block this lane takes part in
      san::ignore_end();
      san::acquire(&block_start_sync);             // the launch happens-before the block ...
      san::acquire(&block_end_sync[parity ^ 1]);   // ... and so does the worker's previous block (shared memory is reused)
      grid->body(grid->args);
      san::release(&grid_end_sync);
      san::release(&block_end_sync[parity]);
      san::ignore_begin();
      lanes[i].state = State::exited;
      park(lanes[i]);
    }
    san::release(&teardown_sync);
    san::ignore_end();
    san::fiber_exiting(sched_san);  // TSan: what follows runs as the scheduler (ignored in ~Worker)
    return std::move(lanes[i].scheduler);
  }

  void resume(Lane& L) {  // scheduler -> fiber, until it parks or exits
    tls_lane = &L;
    thread_idx = L.tid;
    ++switches;
    san::before_resume(sched_san, L.san, L.stack_lo, L.stack_size);
    L.fiber = std::move(L.fiber).resume();
    san::after_resume(sched_san);
  }

  void park(Lane& L) {  // fiber -> scheduler
    san::before_park(sched_san, L.san);
    L.scheduler = std::move(L.scheduler).resume();
    san::after_park(L.san);
  }

  int index_of(const Lane& L) const { return int(&L - lanes.data()); }

  // Runs blocks of g until none is left.
  void run(Grid& g) {
    san::ignore_begin();
    tls_worker = this;
    grid = &g;
    block_dim = g.block;
    grid_dim = g.grid;
    nthreads = int(g.block.x * g.block.y * g.block.z);
    while (int(lanes.size()) < nthreads) {
      lanes.emplace_back();
      make_lane(int(lanes.size()) - 1);
    }
    if (g.smem != dsmem_size || !dsmem) {  // exact size, so ASan sees overflows of dynamic shared memory
      ::operator delete(dsmem, std::align_val_t{128});
      dsmem = static_cast<unsigned char*>(::operator new(std::max<std::size_t>(g.smem, 1), std::align_val_t{128}));
      dsmem_size = g.smem;
    }
    switches = 0;
    for (std::uint64_t b; (b = g.next.fetch_add(1, std::memory_order_relaxed)) < g.blocks;) {
      block_linear.store(b, std::memory_order_relaxed);
      block_started_ns.store(now_ns(), std::memory_order_relaxed);
      run_block(b);
      block_started_ns.store(0, std::memory_order_relaxed);
    }
    total_switches.fetch_add(switches, std::memory_order_relaxed);
    san::ignore_end();
  }

  void run_block(std::uint64_t linear) {
    const Grid& g = *grid;
    block_idx = uint3{unsigned(linear % g.grid.x), unsigned(linear / g.grid.x % g.grid.y),
                     unsigned(linear / (std::uint64_t(g.grid.x) * g.grid.y))};
    const int n = nthreads;
    for (int i = 0; i < n; ++i) {
      Lane& L = lanes[i];
      L.state = State::running;
      L.op = Op::none;
      L.has_site = false;
      L.barrier_phase = L.warp_phase = 0;
      L.tid = uint3{unsigned(i) % g.block.x, unsigned(i) / g.block.x % g.block.y, unsigned(i) / (g.block.x * g.block.y)};
    }
    if (g.smem) std::memset(dsmem, 0xFF, g.smem);  // NaN for floats: fresh shared memory is garbage on a GPU
    if constexpr (san::active) {
      sync = std::make_unique<char[]>(2 + 2 * std::size_t(n));
      parity ^= 1;
      san::release(&block_start_sync);
    }
    order.resize(n);
    for (int i = 0; i < n; ++i) order[i] = g.order == Order::descending ? n - 1 - i : i;
    if (g.order == Order::random) {
      rng.seed(mix64(g.seed ^ mix64(g.id) ^ mix64(linear + 0x51ed)));  // reproducible whatever the pool size
      std::shuffle(order.begin(), order.end(), rng);
    }
    for (;;) {
      for (int i : order)
        if (lanes[i].state == State::running) {
          running_lane.store(&lanes[i], std::memory_order_relaxed);
          resume(lanes[i]);
        }
      running_lane.store(nullptr, std::memory_order_relaxed);
      int exited = 0, at_barrier = 0, at_warp = 0;
      for (int i = 0; i < n; ++i) {
        State s = lanes[i].state;
        exited += s == State::exited;
        at_barrier += s == State::at_barrier;
        at_warp += s == State::at_warp_op;
      }
      if (exited == n) break;
      if (at_warp && complete_warp_ops()) continue;
      if (at_warp) report_warp_deadlock();
      open_barrier(at_barrier);
      if (g.order == Order::random) std::shuffle(order.begin(), order.end(), rng);
    }
    sync.reset();
  }

  // Completes every warp op whose member lanes have all arrived; CUDA's shuffle rules, with a
  // poison value where the GPU result is undefined. Returns whether any lane was released.
  bool complete_warp_ops() {
    bool progress = false;
    const int n = nthreads;
    for (int base = 0; base < n; base += 32) {
      const int nl = std::min(32, n - base);
      const unsigned exist = nl == 32 ? ~0u : (1u << nl) - 1;
      for (int l = 0; l < nl; ++l) {
        Lane& A = lanes[base + l];
        if (A.state != State::at_warp_op) continue;
        unsigned group = 0;
        bool ready = true;
        if (A.op == Op::activemask) {  // converged = lanes waiting at the same __activemask call
          for (int k = 0; k < nl; ++k) {
            const Lane& B = lanes[base + k];
            if (B.state == State::at_warp_op && B.op == Op::activemask && same_site(A.site, B.site)) group |= 1u << k;
          }
        } else {
          group = A.mask & exist;
          for (int k = 0; k < nl && ready; ++k)
            if (group >> k & 1) ready = lanes[base + k].state == State::at_warp_op && same_warp_op(A, lanes[base + k]);
        }
        if (!ready) continue;
        unsigned ballot = 0, parities = 0;
        for (int k = 0; k < nl; ++k)
          if (group >> k & 1) {
            ballot |= unsigned(lanes[base + k].value != 0) << k;
            parities |= (lanes[base + k].sync_parity & 1u) << k;
          }
        for (int k = 0; k < nl; ++k) {
          if (!(group >> k & 1)) continue;
          Lane& B = lanes[base + k];
          switch (B.op) {
            case Op::shfl: case Op::shfl_up: case Op::shfl_down: case Op::shfl_xor: {
              const int src = source_lane(B.op, k, B.arg, B.width);
              B.result = src < nl && (group >> src & 1) ? lanes[base + src].value : 0xDEADBEEFDEADBEEFull;
              break;
            }
            case Op::ballot: B.result = ballot; break;
            case Op::any: B.result = ballot != 0; break;
            case Op::all: B.result = ballot == group; break;
            case Op::syncwarp: B.result = group; B.value = parities; break;
            default: B.result = group; break;  // activemask
          }
          B.state = State::running;
        }
        progress = true;
      }
    }
    return progress;
  }

  static bool same_warp_op(const Lane& a, const Lane& b) {
    return a.op == b.op && a.mask == b.mask && (a.op == Op::syncwarp || same_site(a.site, b.site));
  }

  // PTX shfl.sync semantics with c = segment clamp: a source outside the segment gives the lane's own value.
  static int source_lane(Op op, int lane, int arg, int width) {
    const int seg = lane & ~(width - 1);
    switch (op) {
      case Op::shfl: return seg + (arg & (width - 1));
      case Op::shfl_up: return unsigned(lane - seg) >= unsigned(arg) ? lane - arg : lane;
      case Op::shfl_down: return unsigned(lane - seg) + unsigned(arg) < unsigned(width) ? lane + arg : lane;
      case Op::shfl_xor: { const int j = lane ^ (arg & 31); return j < seg + width ? j : lane; }
      default: return lane;
    }
  }

  // Every live thread waits at a barrier: check it is the same one, then open it.
  void open_barrier(int at_barrier) {
    const int n = nthreads;
    const Lane* first = nullptr;
    std::uint64_t count = 0;
    for (int i = 0; i < n; ++i) {
      const Lane& L = lanes[i];
      if (L.state != State::at_barrier) continue;
      if (!first) first = &L;
      else if (L.op != first->op || !same_site(L.site, first->site))
        report("divergent barrier: threads of one block wait at different __syncthreads calls");
      count += L.value != 0;
    }
    if (at_barrier != n)
      report("__syncthreads reached by only part of the block: " + std::to_string(n - at_barrier) +
             " thread(s) exited while " + std::to_string(at_barrier) + " wait at the barrier");
    const Op op = first->op;
    const std::uint64_t result = op == Op::syncthreads_and ? count == std::uint64_t(n)
                               : op == Op::syncthreads_or  ? count != 0 : count;
    for (int i = 0; i < n; ++i) {
      lanes[i].result = result;
      lanes[i].state = State::running;
    }
  }

  [[noreturn]] void report_warp_deadlock() {
    for (int base = 0; base < nthreads; base += 32) {
      const int nl = std::min(32, nthreads - base);
      for (int l = 0; l < nl; ++l) {
        const Lane& A = lanes[base + l];
        if (A.state != State::at_warp_op) continue;
        const unsigned group = A.mask & (nl == 32 ? ~0u : (1u << nl) - 1);
        std::string why;
        for (int k = 0; k < nl && why.empty(); ++k) {
          if (!(group >> k & 1)) continue;
          const Lane& B = lanes[base + k];
          if (B.state == State::exited) why = "lane " + std::to_string(k) + " of the mask has exited";
          else if (B.state == State::at_barrier) why = "lane " + std::to_string(k) + " of the mask waits at " + op_name(B.op);
          else if (!same_warp_op(A, B)) why = "lanes of the mask disagree on the operation (op, mask or call site)";
        }
        char mask[16];
        std::snprintf(mask, sizeof mask, "0x%08x", A.mask);
        report(std::string("warp op can never complete: ") + op_name(A.op) + " with mask " + mask + " in warp " +
                   std::to_string(base / 32) + ": " + (why.empty() ? "its lanes wait elsewhere" : why),
               base, nl);
      }
    }
    report("deadlock: no thread can make progress");
  }

  // Describes threads [first, first + count), merging runs with the same state and site.
  std::string describe(int first, int count, const Lane* running = nullptr) const {
    std::string out;
    int groups = 0;
    for (int i = first; i < first + count;) {
      const Lane& L = lanes[i];
      int j = i + 1;
      while (j < first + count && &lanes[j] != running && &L != running && lanes[j].state == L.state &&
             lanes[j].op == L.op && lanes[j].mask == L.mask && lanes[j].has_site == L.has_site &&
             (!L.has_site || same_site(lanes[j].site, L.site)))
        ++j;
      if (++groups > 40) { out += "\n    ..."; break; }
      char head[160];
      const uint3 a = lanes[i].tid, b = lanes[j - 1].tid;
      if (j - i == 1) std::snprintf(head, sizeof head, "\n    thread %d (%u,%u,%u): ", i, a.x, a.y, a.z);
      else std::snprintf(head, sizeof head, "\n    threads %d-%d (%u,%u,%u)..(%u,%u,%u): ", i, j - 1, a.x, a.y, a.z, b.x, b.y, b.z);
      out += head;
      const std::string where = L.has_site ? site_text(L.site) : std::string("kernel start");
      switch (L.state) {
        case State::at_barrier: out += std::string("at ") + op_name(L.op) + " " + where; break;
        case State::at_warp_op: {
          char m[32];
          std::snprintf(m, sizeof m, " (mask 0x%08x) ", L.mask);
          out += std::string("at ") + op_name(L.op) + m + where;
          break;
        }
        case State::exited: out += "exited; last scheduling point: " + where; break;
        case State::running:
          out += (&L == running ? "RUNNING NOW; last scheduling point: " : "runnable; last scheduling point: ") + where;
          break;
      }
      i = j;
    }
    return out;
  }

  std::string block_text() const {
    char b[160];
    std::snprintf(b, sizeof b, "block (%u,%u,%u) of grid (%u,%u,%u), block size (%u,%u,%u)", blockIdx.x, blockIdx.y,
                  blockIdx.z, gridDim.x, gridDim.y, gridDim.z, blockDim.x, blockDim.y, blockDim.z);
    return b;
  }

  std::string kernel_text() const {
    for (int i = 0; i < nthreads; ++i)
      if (lanes[i].has_site) return std::string("\n  kernel code: ") + lanes[i].site.function_name();
    return {};
  }

  [[noreturn]] void report(const std::string& what, int first = 0, int count = -1) const {
    die(what + "\n  in " + block_text() + kernel_text() + describe(first, count < 0 ? nthreads : count));
  }

  // Device-side entry points (called on the fiber).
  // TSan: the fiber's writes to its Lane are bookkeeping (ignored); release/acquire still count.
  std::uint64_t barrier(Lane& L, Op op, std::uint64_t pred, const std::source_location& s) {
    san::ignore_begin();
    void* obj = sync ? sync.get() + (L.barrier_phase++ & 1) : nullptr;
    if (obj) san::release(obj);
    L.state = State::at_barrier;
    L.op = op;
    L.value = pred;
    L.site = s;
    L.has_site = true;
    park(L);
    if (obj) san::acquire(obj);
    const std::uint64_t result = L.result;
    san::ignore_end();
    return result;
  }

  std::uint64_t warp_op(Lane& L, Op op, unsigned mask, std::uint64_t v, int arg, int width, const std::source_location& s) {
    const int self = index_of(L);
    const int lane = self & 31;
    if (op != Op::activemask && !(mask >> lane & 1)) {
      char m[16];
      std::snprintf(m, sizeof m, "0x%08x", mask);
      L.site = s, L.has_site = true;
      report(std::string(op_name(op)) + " called by lane " + std::to_string(lane) + " with mask " + m +
                 ", which does not include the calling lane, at " + site_text(s), self, 1);
    }
    if (width < 1 || width > 32 || (width & (width - 1)))
      report(std::string(op_name(op)) + ": width " + std::to_string(width) + " is not a power of two <= 32, at " + site_text(s), self, 1);
    san::ignore_begin();
    if (op == Op::syncwarp && sync) {
      L.sync_parity = L.warp_phase++ & 1;
      san::release(sync.get() + 2 + 2 * self + L.sync_parity);
    }
    L.state = State::at_warp_op;
    L.op = op;
    L.mask = mask;
    L.value = v;
    L.arg = arg;
    L.width = width;
    L.site = s;
    L.has_site = true;
    park(L);
    if (op == Op::syncwarp && sync) {  // acquire what each member released at this __syncwarp
      const int base = self & ~31;
      for (int k = 0; k < 32; ++k)
        if (L.result >> k & 1) san::acquire(sync.get() + 2 + 2 * (base + k) + (L.value >> k & 1));
    }
    const std::uint64_t result = L.result;
    san::ignore_end();
    return result;
  }
};

}  // namespace cuvae::simt
