// Misuse and planted bugs, as death tests in a child process: what the SIMT runtime reports (every
// build) and what ASan+UBSan or TSan report (only in that sanitizer build; skipped elsewhere).
#include <cstdlib>

#include "kernels/samples/sgemm_tiled.cuh"
#include "test_simt_util.hpp"

namespace {

using cuvae::launch;
namespace simt = cuvae::simt;
using SimtErrors = simt_test::DeathTest;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#if defined(__SANITIZE_THREAD__)
constexpr bool kTsan = true;
#else
constexpr bool kTsan = false;
#endif

// TSan reports a race and carries on; a death test needs the child to stop at the report.
void tsan_halt_on_error() {
  std::string opts = std::getenv("TSAN_OPTIONS") ? std::getenv("TSAN_OPTIONS") : "";
  setenv("TSAN_OPTIONS", (opts + " halt_on_error=1").c_str(), 1);
}

// ---- misuse the runtime reports, with every thread's site ----------------------------------------

__global__ void divergent_barrier(float* y) {
  if (threadIdx.x < 128) { __syncthreads(); } else { __syncthreads(); }  // two different barriers
  y[threadIdx.x] = 1.0f;
}
TEST_F(SimtErrors, DivergentBarrier) {
  std::vector<float> y(256);
  EXPECT_DEATH(launch(divergent_barrier, dim3(1), dim3(256), 0, nullptr, y.data()),
               "divergent barrier: threads of one block wait at different __syncthreads calls\n"
               "  in block \\(0,0,0\\) of grid \\(1,1,1\\), block size \\(256,1,1\\).*"
               "threads 0-127 \\(0,0,0\\)..\\(127,0,0\\): at __syncthreads .*test_simt_errors.cpp:[0-9]+:[0-9]+.*"
               "threads 128-255 \\(128,0,0\\)..\\(255,0,0\\): at __syncthreads .*test_simt_errors.cpp:[0-9]+:[0-9]+");
}

__global__ void exit_before_barrier(const float* x, float* y, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;  // the tail of the last block leaves ...
  __shared__ float s[256];
  s[threadIdx.x] = x[i];
  __syncthreads();  // ... while the others wait here
  y[i] = s[255 - threadIdx.x];
}
TEST_F(SimtErrors, ThreadsExitedWhileOthersWaitAtBarrier) {
  std::vector<float> x(1024), y(1024);
  EXPECT_DEATH(launch(exit_before_barrier, dim3(4), dim3(256), 0, nullptr, x.data(), y.data(), 1000),
               "__syncthreads reached by only part of the block: 24 thread\\(s\\) exited while 232 wait at the barrier\n"
               "  in block \\(3,0,0\\).*threads 0-231 .*: at __syncthreads .*test_simt_errors.cpp:[0-9]+:.*"
               "threads 232-255 .*: exited; last scheduling point: kernel start");
}

__global__ void shuffle_by_half_the_warp(float* y) {
  float v = float(threadIdx.x);
  if (threadIdx.x % 2 == 0) v = __shfl_xor_sync(0xffffffffu, v, 2);  // odd lanes never come
  y[threadIdx.x] = v;
}
TEST_F(SimtErrors, WarpMaskThatCanNeverComplete) {
  std::vector<float> y(32);
  EXPECT_DEATH(launch(shuffle_by_half_the_warp, dim3(1), dim3(32), 0, nullptr, y.data()),
               "warp op can never complete: __shfl_xor_sync with mask 0xffffffff in warp 0: lane 1 of the mask has exited.*"
               "thread 0 \\(0,0,0\\): at __shfl_xor_sync \\(mask 0xffffffff\\) .*test_simt_errors.cpp:[0-9]+:.*"
               "thread 1 \\(1,0,0\\): exited");
}

__global__ void lanes_disagree(unsigned* y) {
  const unsigned lane = threadIdx.x;
  y[lane] = lane < 16 ? unsigned(__shfl_sync(0xffffffffu, int(lane), 0)) : __ballot_sync(0xffffffffu, 1);
}
TEST_F(SimtErrors, LanesDisagreeOnTheWarpOp) {
  std::vector<unsigned> y(32);
  EXPECT_DEATH(launch(lanes_disagree, dim3(1), dim3(32), 0, nullptr, y.data()),
               "warp op can never complete: __shfl_sync .*lanes of the mask disagree on the operation.*"
               "threads 0-15 .*at __shfl_sync .*threads 16-31 .*at __ballot_sync");
}

__global__ void mask_without_caller(int* y) { y[threadIdx.x] = __shfl_sync(0x1u, 5, 0); }
TEST_F(SimtErrors, WarpOpMaskWithoutTheCaller) {
  std::vector<int> y(32);
  EXPECT_DEATH(launch(mask_without_caller, dim3(1), dim3(32), 0, nullptr, y.data()),
               "__shfl_sync called by lane [1-9][0-9]* with mask 0x00000001, which does not include the calling lane, at .*test_simt_errors.cpp:[0-9]+");
}

__global__ void bad_width(int* y) { y[threadIdx.x] = __shfl_down_sync(0xffffffffu, 1, 1, 12); }
TEST_F(SimtErrors, ShuffleWidthNotAPowerOfTwo) {
  std::vector<int> y(32);
  EXPECT_DEATH(launch(bad_width, dim3(1), dim3(32), 0, nullptr, y.data()), "width 12 is not a power of two");
}

__global__ void divergent_wmma(const __half* a, float* out) {
  if (threadIdx.x < 16) {  // wmma ops are warp-wide: half a warp is undefined behaviour
    nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 16, __half, nvcuda::wmma::row_major> f;
    nvcuda::wmma::load_matrix_sync(f, a, 16);
    out[threadIdx.x] = __half2float(f.x[0]);
  }
}
TEST_F(SimtErrors, WmmaCalledByPartOfAWarp) {
  std::vector<__half> a(256);
  std::vector<float> out(32);
  EXPECT_DEATH(launch(divergent_wmma, dim3(1), dim3(32), 0, nullptr, a.data(), out.data()),
               "warp op can never complete: __syncwarp .*lane 16 of the mask has exited.*threads 0-15 .*test_simt_errors.cpp:[0-9]+");
}

// wmma fragments need a 32-byte aligned pointer and a leading dimension of whole 16 bytes; a GPU
// faults or loads the wrong tile otherwise.
__global__ void wmma_load(const __half* a, unsigned ldm, float* out) {
  nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 16, __half, nvcuda::wmma::row_major> f;
  nvcuda::wmma::load_matrix_sync(f, a, ldm);
  out[threadIdx.x] = __half2float(f.x[threadIdx.x]);
}
TEST_F(SimtErrors, WmmaMisalignedPointer) {
  simt_test::device_vector<__half> a(2 * 16 * 24, __float2half(1.0f));
  simt_test::device_vector<float> out(32);
  launch(wmma_load, dim3(1), dim3(32), 0, nullptr, a.data(), 24u, out.data());  // aligned, 48-byte rows: fine
  EXPECT_EQ(out[5], 1.0f);
  EXPECT_DEATH(launch(wmma_load, dim3(1), dim3(32), 0, nullptr, a.data() + 8, 24u, out.data()),
               "load_matrix_sync: pointer [0-9]+ is not 32-byte \\(256-bit\\) aligned, at .*test_simt_errors.cpp:[0-9]+");
  EXPECT_DEATH(launch(wmma_load, dim3(1), dim3(32), 0, nullptr, a.data(), 20u, out.data()),
               "load_matrix_sync: ldm 20 \\(elements of 2 bytes\\) is not a multiple of 16 bytes, at .*test_simt_errors.cpp:[0-9]+");
}

__global__ void spin_on_flag(volatile int* flag) {
  if (threadIdx.x == 1) *flag = 1;
  while (threadIdx.x == 0 && *flag == 0) {}  // thread 1 never runs: thread 0 never yields
}
TEST_F(SimtErrors, WatchdogReportsABlockThatNeverFinishes) {
  int flag = 0;
  EXPECT_DEATH(
      {
        simt::set_order(simt::Order::ascending);
        simt::set_watchdog(0.5);
        launch(spin_on_flag, dim3(1), dim3(2), 0, nullptr, &flag);
      },
      "watchdog: a block has run for more than 0.5 s.*thread 0 \\(0,0,0\\): RUNNING NOW.*thread 1 \\(1,0,0\\): runnable");
}

__global__ void launches_a_kernel(float* y) { launch(divergent_barrier, dim3(1), dim3(1), 0, nullptr, y); }
TEST_F(SimtErrors, LaunchFromAKernel) {
  std::vector<float> y(1);
  EXPECT_DEATH(launch(launches_a_kernel, dim3(1), dim3(1), 0, nullptr, y.data()), "dynamic parallelism is not supported");
}

// ---- planted bugs: missing barrier -----------------------------------------------------------------

__global__ void neighbour_without_barrier(const float* x, float* y) {
  __shared__ float s[256];
  const int t = threadIdx.x;
  s[t] = x[blockIdx.x * blockDim.x + t];
  // missing: __syncthreads();
  y[blockIdx.x * blockDim.x + t] = t > 0 ? s[t - 1] : 0.0f;
}

int wrong_neighbours(simt::Order order) {
  const simt::Settings saved = simt::settings();
  simt::set_order(order, 3);
  std::vector<float> x(1024), y(1024, NAN);
  for (int i = 0; i < 1024; ++i) x[i] = float(i + 1);
  launch(neighbour_without_barrier, dim3(4), dim3(256), 0, nullptr, x.data(), y.data());
  simt::set_order(saved.order, saved.seed);
  int bad = 0;
  for (int i = 0; i < 1024; ++i) bad += i % 256 && y[i] != x[i - 1];
  return bad;
}

TEST(SimtPlantedBugs, MissingBarrierGivesWrongResultsInDescendingAndRandomOrder) {
  if (kTsan) GTEST_SKIP() << "TSan build: the race is reported (MissingBarrierReportedByTsan)";
  EXPECT_EQ(wrong_neighbours(simt::Order::ascending), 0);  // ascending order hides this race
  EXPECT_EQ(wrong_neighbours(simt::Order::descending), 1020);
  EXPECT_GT(wrong_neighbours(simt::Order::random), 100);
}

TEST_F(SimtErrors, MissingBarrierReportedByTsan) {
  if (!kTsan) GTEST_SKIP() << "only ThreadSanitizer reports a missing barrier (preset tsan)";
  tsan_halt_on_error();
  EXPECT_DEATH(wrong_neighbours(simt::Order::ascending), "ThreadSanitizer: data race.*neighbour_without_barrier");
}

// The tiled SGEMM without its second barrier: the next tile overwrites one still being read.
template <int TILE>
__global__ void sgemm_missing_second_barrier(int M, int N, int K, const float* A, const float* B, float* C) {
  __shared__ float As[TILE][TILE];
  __shared__ float Bs[TILE][TILE];
  const int tx = threadIdx.x, ty = threadIdx.y, row = blockIdx.y * TILE + ty, col = blockIdx.x * TILE + tx;
  float acc = 0.0f;
  for (int k0 = 0; k0 < K; k0 += TILE) {
    As[ty][tx] = row < M && k0 + tx < K ? A[row * K + k0 + tx] : 0.0f;
    Bs[ty][tx] = k0 + ty < K && col < N ? B[(k0 + ty) * N + col] : 0.0f;
    __syncthreads();
    for (int k = 0; k < TILE; ++k) acc += As[ty][k] * Bs[k][tx];
    // missing: __syncthreads();
  }
  if (row < M && col < N) C[row * N + col] = acc;
}
TEST_F(SimtErrors, GemmMissingSecondBarrierReportedByTsan) {
  if (!kTsan) GTEST_SKIP() << "only ThreadSanitizer reports a missing barrier (preset tsan)";
  tsan_halt_on_error();
  const int n = 32;
  std::vector<float> A(n * n, 1.0f), B(n * n, 1.0f), C(n * n);
  EXPECT_DEATH(launch(sgemm_missing_second_barrier<8>, dim3(4, 4), dim3(8, 8), 0, nullptr, n, n, n, A.data(), B.data(), C.data()),
               "ThreadSanitizer: data race.*sgemm_missing_second_barrier");
}

TEST(SimtPlantedBugs, CorrectGemmIsCleanUnderSanitizers) {  // no false positives from the fiber annotations
  const int n = 40;
  const auto A = simt_test::random_floats(n * n, 1), B = simt_test::random_floats(n * n, 2);
  std::vector<float> C(n * n, NAN);
  launch(cuvae::samples::sgemm_tiled<8>, dim3(5, 5), dim3(8, 8), 0, nullptr, n, n, n, A.data(), B.data(), C.data());
  for (float c : C) ASSERT_TRUE(std::isfinite(c));
}

// ---- planted bugs: out of bounds -------------------------------------------------------------------

__global__ void shared_out_of_bounds(float* y) {
  __shared__ float tile[16][16];
  const int tx = threadIdx.x, ty = threadIdx.y;
  tile[ty][tx] = float(tx);
  __syncthreads();
  y[ty * 16 + tx] = tile[ty][tx + 1];  // off by one in the inner index when tx == 15
}
TEST_F(SimtErrors, SharedOutOfBoundsReportedByUbsan) {
  if (!kAsan) GTEST_SKIP() << "only UBSan -fsanitize=bounds reports shared-memory overflows (preset asan)";
  std::vector<float> y(256);
  EXPECT_DEATH(launch(shared_out_of_bounds, dim3(1), dim3(16, 16), 0, nullptr, y.data()),
               "test_simt_errors.cpp:[0-9]+:[0-9]+: runtime error: index 16 out of bounds for type 'float \\[16\\]'");
}

__global__ void dynamic_shared_out_of_bounds(float* y) {
  SIMT_DYNAMIC_SHARED(float, s);
  s[threadIdx.x] = 1.0f;  // the launch gave blockDim.x - 1 floats
  y[threadIdx.x] = s[threadIdx.x];
}
TEST_F(SimtErrors, DynamicSharedOutOfBoundsReportedByAsan) {
  if (!kAsan) GTEST_SKIP() << "only ASan reports dynamic shared-memory overflows (preset asan)";
  std::vector<float> y(64);
  EXPECT_DEATH(launch(dynamic_shared_out_of_bounds, dim3(1), dim3(64), 63 * sizeof(float), nullptr, y.data()),
               "AddressSanitizer: heap-buffer-overflow.*dynamic_shared_out_of_bounds");
}

__global__ void global_out_of_bounds(const float* x, float* y) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  y[i] = x[i + 1];  // reads one past the end in the last thread
}
TEST_F(SimtErrors, GlobalOutOfBoundsReportedByAsan) {
  if (!kAsan) GTEST_SKIP() << "only ASan reports global-memory overflows (preset asan)";
  std::vector<float> x(256, 1.0f), y(256);
  EXPECT_DEATH(launch(global_out_of_bounds, dim3(2), dim3(128), 0, nullptr, x.data(), y.data()),
               "AddressSanitizer: heap-buffer-overflow.*READ of size 4.*global_out_of_bounds");
}

// ---- planted bug: non-atomic update across blocks --------------------------------------------------

// Every block waits until all blocks have started (so they run at once, on different OS
// threads, with no block finishing first and ordering the others after it), then does a
// read-modify-write that is not atomicAdd.
__global__ void non_atomic_accumulate(float* total, unsigned* started) {
  if (threadIdx.x == 0) {
    atomicAdd(started, 1u);
    while (atomicAdd(started, 0u) < gridDim.x) {}
    *total += 1.0f;
  }
}
TEST_F(SimtErrors, NonAtomicUpdateAcrossBlocksReportedByTsan) {
  if (!kTsan) GTEST_SKIP() << "only ThreadSanitizer reports races between blocks (preset tsan)";
  tsan_halt_on_error();
  float total = 0.0f;
  unsigned started = 0;
  EXPECT_DEATH(
      {
        simt::set_threads(4);  // four blocks on four OS threads, all running at once
        launch(non_atomic_accumulate, dim3(4), dim3(32), 0, nullptr, &total, &started);
      },
      "ThreadSanitizer: data race.*non_atomic_accumulate");
}

}  // namespace
