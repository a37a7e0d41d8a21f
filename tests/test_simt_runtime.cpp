// SIMT runtime basics: 1-3D grids and blocks, static and dynamic shared memory, block barriers and
// their count/and/or forms, thread order, pool size, launch errors, parameters, printf and assert.
#undef NDEBUG  // the assert test needs assert() in every build type
#include <atomic>
#include <set>
#include <thread>

#include "test_simt_util.hpp"

namespace {

using cuvae::launch;
namespace simt = cuvae::simt;

struct Coord {
  unsigned tx, ty, tz, bx, by, bz, dx, dy, dz, gx, gy, gz;
};

__global__ void record_coords(Coord* out) {
  const unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  out[b * blockDim.x * blockDim.y * blockDim.z + t] = Coord{threadIdx.x, threadIdx.y, threadIdx.z, blockIdx.x, blockIdx.y,
                                                            blockIdx.z, blockDim.x, blockDim.y, blockDim.z, gridDim.x,
                                                            gridDim.y, gridDim.z};
}

void check_coords(dim3 g, dim3 b) {
  const unsigned nb = g.x * g.y * g.z, nt = b.x * b.y * b.z;
  std::vector<Coord> out(std::size_t(nb) * nt, Coord{~0u, ~0u, ~0u, ~0u, ~0u, ~0u, ~0u, ~0u, ~0u, ~0u, ~0u, ~0u});
  launch(record_coords, g, b, 0, nullptr, out.data());
  int bad = 0;
  for (unsigned bz = 0; bz < g.z; ++bz)
    for (unsigned by = 0; by < g.y; ++by)
      for (unsigned bx = 0; bx < g.x; ++bx)
        for (unsigned tz = 0; tz < b.z; ++tz)
          for (unsigned ty = 0; ty < b.y; ++ty)
            for (unsigned tx = 0; tx < b.x; ++tx) {
              const unsigned blk = bx + g.x * (by + g.y * bz), thr = tx + b.x * (ty + b.y * tz);
              const Coord& c = out[std::size_t(blk) * nt + thr];
              const bool ok = c.tx == tx && c.ty == ty && c.tz == tz && c.bx == bx && c.by == by && c.bz == bz &&
                              c.dx == b.x && c.dy == b.y && c.dz == b.z && c.gx == g.x && c.gy == g.y && c.gz == g.z;
              if (!ok && bad++ < 3) ADD_FAILURE() << "block (" << bx << "," << by << "," << bz << ") thread (" << tx << "," << ty << "," << tz << ")";
            }
  EXPECT_EQ(bad, 0);
}

TEST(SimtRuntime, Grids1D2D3D) {
  check_coords(dim3(7), dim3(33));
  check_coords(dim3(3, 5), dim3(8, 6));
  check_coords(dim3(2, 3, 4), dim3(4, 3, 5));
  check_coords(dim3(1, 1, 1), dim3(1024));
  check_coords(dim3(1, 1, 1), dim3(2, 2, 64));
}

// Reverses each block's slice through static shared memory: needs the barrier.
__global__ void reverse_static(const int* in, int* out) {
  __shared__ int s[128];
  const int t = threadIdx.x, base = blockIdx.x * 128;
  s[t] = in[base + t];
  __syncthreads();
  out[base + t] = s[127 - t];
}

TEST(SimtRuntime, StaticSharedMemoryIsPerBlock) {
  const int blocks = simt_test::kSanitized ? 16 : 200;
  std::vector<int> in(blocks * 128), out(blocks * 128, -1);
  for (int i = 0; i < blocks * 128; ++i) in[i] = i * 7 + 1;
  launch(reverse_static, dim3(blocks), dim3(128), 0, nullptr, in.data(), out.data());
  for (int b = 0; b < blocks; ++b)
    for (int t = 0; t < 128; ++t) ASSERT_EQ(out[b * 128 + t], in[b * 128 + 127 - t]) << "block " << b << " thread " << t;
}

// Dynamic shared memory: poisoned (all bits set) at block start, sized by the launch, 16-aligned.
__global__ void dynamic_shared(const float* in, float* out, unsigned* before, unsigned* aligned) {
  SIMT_DYNAMIC_SHARED(float, s);
  const int t = threadIdx.x, n = blockDim.x, i = blockIdx.x * n + t;
  before[i] = __float_as_uint(s[t]);
  if (t == 0) aligned[blockIdx.x] = unsigned(reinterpret_cast<std::uintptr_t>(s) % 16);
  __syncthreads();  // everyone has read the poison before anyone writes
  s[t] = in[i];
  s[n + t] = 2 * in[i];  // the launch gave 2 floats per thread
  __syncthreads();
  out[i] = s[n - 1 - t] + s[2 * n - 1 - t];
}

TEST(SimtRuntime, DynamicSharedMemory) {
  const int blocks = 9, n = 96;
  const auto in = simt_test::random_floats(blocks * n, 3);
  auto out = simt_test::poisoned(blocks * n);
  std::vector<unsigned> before(blocks * n, 0), aligned(blocks, 99);
  launch(dynamic_shared, dim3(blocks), dim3(n), 2 * n * sizeof(float), nullptr, in.data(), out.data(), before.data(), aligned.data());
  for (int b = 0; b < blocks; ++b) {
    EXPECT_EQ(aligned[b], 0u);
    for (int t = 0; t < n; ++t) {
      EXPECT_EQ(before[b * n + t], 0xffffffffu);
      EXPECT_EQ(out[b * n + t], 3 * in[b * n + n - 1 - t]);
    }
  }
}

__global__ void barrier_predicates(int* out) {
  const int t = threadIdx.x;
  out[0 * blockDim.x + t] = __syncthreads_count(t % 3 == 0);
  out[1 * blockDim.x + t] = __syncthreads_and(t < 1000);
  out[2 * blockDim.x + t] = __syncthreads_and(t != 17);
  out[3 * blockDim.x + t] = __syncthreads_or(t == 200);
  out[4 * blockDim.x + t] = __syncthreads_or(t == 5000);
}

TEST(SimtRuntime, SyncthreadsCountAndOr) {
  const int n = 250;
  std::vector<int> out(5 * n, -1);
  launch(barrier_predicates, dim3(1), dim3(n), 0, nullptr, out.data());
  for (int t = 0; t < n; ++t) {
    EXPECT_EQ(out[0 * n + t], 84);  // 0, 3, ..., 249
    EXPECT_EQ(out[1 * n + t], 1);
    EXPECT_EQ(out[2 * n + t], 0);
    EXPECT_EQ(out[3 * n + t], 1);
    EXPECT_EQ(out[4 * n + t], 0);
  }
}

// Each thread takes a ticket as it first runs, and again after a barrier.
__global__ void ticket_order(int* counter, int* first, int* second) {
  const int t = threadIdx.x;
  first[atomicAdd(&counter[0], 1)] = t;
  __syncthreads();
  second[atomicAdd(&counter[1], 1)] = t;
}

struct OrderRun {
  std::vector<int> first, second;
};
OrderRun run_order(simt::Order order, std::uint64_t seed, int n = 64) {
  simt::set_order(order, seed);
  OrderRun r{std::vector<int>(n, -1), std::vector<int>(n, -1)};
  std::vector<int> counter(2, 0);
  launch(ticket_order, dim3(1), dim3(n), 0, nullptr, counter.data(), r.first.data(), r.second.data());
  return r;
}

TEST(SimtRuntime, ThreadOrderIsSelectable) {
  const simt::Settings saved = simt::settings();
  const int n = 64;
  const OrderRun asc = run_order(simt::Order::ascending, 1), desc = run_order(simt::Order::descending, 1);
  const OrderRun r1 = run_order(simt::Order::random, 7), r1again = run_order(simt::Order::random, 7);
  const OrderRun r2 = run_order(simt::Order::random, 8);
  simt::set_order(saved.order, saved.seed);
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(asc.first[i], i);
    EXPECT_EQ(asc.second[i], i);
    EXPECT_EQ(desc.first[i], n - 1 - i);
  }
  EXPECT_EQ(r1.first, r1again.first);  // reproducible from the seed
  EXPECT_EQ(r1.second, r1again.second);
  EXPECT_NE(r1.first, asc.first);
  EXPECT_NE(r1.first, r2.first);
  EXPECT_NE(r1.first, r1.second);  // reshuffled at each barrier
  EXPECT_EQ(std::set<int>(r1.first.begin(), r1.first.end()).size(), std::size_t(n));  // a permutation
}

TEST(SimtRuntime, PoolSizeDoesNotChangeResults) {
  const simt::Settings saved = simt::settings();
  const int blocks = 64;
  std::vector<int> in(blocks * 128);
  for (int i = 0; i < blocks * 128; ++i) in[i] = i;
  for (unsigned threads : {1u, 3u}) {
    simt::set_threads(threads);
    EXPECT_EQ(simt::settings().threads, threads);
    std::vector<int> out(blocks * 128, -1);
    launch(reverse_static, dim3(blocks), dim3(128), 0, nullptr, in.data(), out.data());
    for (int i = 0; i < blocks * 128; ++i) ASSERT_EQ(out[i], in[(i / 128) * 128 + 127 - i % 128]);
  }
  simt::set_threads(saved.threads);
}

TEST(SimtRuntime, InvalidLaunchThrowsLikeCuda) {
  std::vector<Coord> out(2048);
  EXPECT_THROW(launch(record_coords, dim3(1), dim3(1025), 0, nullptr, out.data()), cuvae::Error);
  EXPECT_THROW(launch(record_coords, dim3(0), dim3(32), 0, nullptr, out.data()), cuvae::Error);
  EXPECT_THROW(launch(record_coords, dim3(1), dim3(1, 1, 65), 0, nullptr, out.data()), cuvae::Error);
  EXPECT_THROW(launch(record_coords, dim3(1, 70000), dim3(1), 0, nullptr, out.data()), cuvae::Error);
  EXPECT_THROW(launch(record_coords, dim3(1), dim3(32), 300 * 1024, nullptr, out.data()), cuvae::Error);
  try {
    launch(record_coords, dim3(1), dim3(2048), 0, nullptr, out.data());
  } catch (const cuvae::Error& e) {
    EXPECT_NE(std::string(e.what()).find("block (2048,1,1)"), std::string::npos) << e.what();
  }
}

// Parameters are per-thread copies, converted to the parameter types at launch.
struct Params {
  int a;
  float b;
};
__global__ void by_value(Params p, double scale, int* out) {
  p.a += threadIdx.x;  // changes this thread's copy only
  out[threadIdx.x] = int(p.a * p.b * scale);
}

TEST(SimtRuntime, ParametersAreCopiesPerThread) {
  std::vector<int> out(8, -1);
  launch(by_value, dim3(1), dim3(8), 0, nullptr, Params{10, 2.0f}, 3 /* int -> double */, out.data());
  for (int t = 0; t < 8; ++t) EXPECT_EQ(out[t], (10 + t) * 6);
}

TEST(SimtRuntime, BlockSizesChangeBetweenLaunches) {  // fibers are reused; shared state is reset
  for (int n : {1024, 32, 1, 700, 1024}) {
    std::vector<int> out(5 * n, -1);
    launch(barrier_predicates, dim3(1), dim3(n), 0, nullptr, out.data());
    EXPECT_EQ(out[0], (n + 2) / 3) << n;
  }
}

TEST(SimtRuntime, ConcurrentHostThreadsLaunchSafely) {
  auto work = [](int seed, bool* ok) {
    for (int r = 0; r < 10; ++r) {
      std::vector<int> in(4 * 128), out(4 * 128, -1);
      for (int i = 0; i < 4 * 128; ++i) in[i] = seed * 1000 + i;
      launch(reverse_static, dim3(4), dim3(128), 0, nullptr, in.data(), out.data());
      for (int i = 0; i < 4 * 128; ++i) *ok &= out[i] == in[(i / 128) * 128 + 127 - i % 128];
    }
  };
  bool ok1 = true, ok2 = true;
  std::thread a(work, 1, &ok1), b(work, 2, &ok2);
  a.join();
  b.join();
  EXPECT_TRUE(ok1 && ok2);
}

__global__ void hello(int tag) {
  if (threadIdx.x < 3) printf("hello from thread %u of block %u, tag %d\n", threadIdx.x, blockIdx.x, tag);
}

TEST(SimtRuntime, Printf) {
  testing::internal::CaptureStdout();
  launch(hello, dim3(2), dim3(32), 0, nullptr, 42);
  std::fflush(stdout);
  const std::string out = testing::internal::GetCapturedStdout();
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 3; ++t)
      EXPECT_NE(out.find("hello from thread " + std::to_string(t) + " of block " + std::to_string(b) + ", tag 42"), std::string::npos) << out;
}

__global__ void asserting(int bad_thread) { assert(int(threadIdx.x) != bad_thread); }

using SimtRuntimeDeathTest = simt_test::DeathTest;
TEST_F(SimtRuntimeDeathTest, AssertInKernelAborts) {
  launch(asserting, dim3(2), dim3(32), 0, nullptr, -1);  // passes
  EXPECT_DEATH(launch(asserting, dim3(2), dim3(32), 0, nullptr, 5), "Assertion .*bad_thread.* failed");
}

TEST_F(SimtRuntimeDeathTest, DeviceApiOutsideKernelIsReported) {
  EXPECT_DEATH(__syncthreads(), "__syncthreads called outside a kernel, at .*test_simt_runtime.cpp");
}

}  // namespace
