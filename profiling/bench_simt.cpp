// Benchmark of the SIMT-on-CPU runtime: tiled SGEMM 512x512x512 and a warp-shuffle reduction of
// 4M floats, with 1 OS thread and with the default pool. Prints figures; not a test.
// Build: cmake --build build/cpu --target bench_simt. Run: build/cpu/profiling/bench_simt [reps]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "kernels/samples/sgemm_tiled.cuh"
#include "kernels/samples/warp_reduce.cuh"

namespace {

using Clock = std::chrono::steady_clock;
namespace simt = cuvae::simt;

template <class F>
double best_ms(int reps, F&& f) {  // best of reps: the machine is shared
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return best;
}

void bench_sgemm(int reps) {
  const int n = 512;
  constexpr int T = 16;
  std::vector<float> A(n * n), B(n * n), C(n * n);
  for (int i = 0; i < n * n; ++i) A[i] = float(i % 13) - 6.0f, B[i] = float(i % 11) - 5.0f;
  auto run = [&] {
    cuvae::launch(cuvae::samples::sgemm_tiled<T>, dim3(n / T, n / T), dim3(T, T), 0, nullptr, n, n, n, A.data(), B.data(), C.data());
  };
  run();  // first launch creates the fibers
  const std::uint64_t s0 = simt::fiber_switches();
  const double ms = best_ms(reps, run);
  const double switches = double(simt::fiber_switches() - s0) / reps;
  double want = 0;  // spot check one element
  for (int k = 0; k < n; ++k) want += double(A[7 * n + k]) * B[k * n + 5];
  std::printf("  sgemm_tiled<16> 512^3: %8.1f ms  %6.2f GFLOP/s  %.0f fiber switches (%.1f ns each, all included)  C[7][5] %s\n", ms,
              2.0 * n * n * n / ms / 1e6, switches, ms * 1e6 / switches, C[7 * n + 5] == want ? "ok" : "WRONG");
}

void bench_reduce(int reps) {
  const int n = 1 << 22, blocks = 256, threads = 256;
  std::vector<float> x(n), partial(blocks);
  double want = 0;
  for (int i = 0; i < n; ++i) x[i] = float(i % 17) * 0.25f, want += x[i];
  float total = 0;
  auto run = [&] {
    cuvae::launch(cuvae::samples::warp_reduce_sum, dim3(blocks), dim3(threads), 0, nullptr, x.data(), n, partial.data());
    cuvae::launch(cuvae::samples::warp_reduce_sum, dim3(1), dim3(blocks), 0, nullptr, static_cast<const float*>(partial.data()), blocks, &total);
  };
  run();
  const double ms = best_ms(reps, run);
  std::printf("  warp_reduce_sum 4M floats (256x256, then 1x256): %6.2f ms  %5.2f GB/s  sum %s\n", ms, n * 4.0 / ms / 1e6,
              std::fabs(total - want) <= 1e-5 * want ? "ok" : "WRONG");
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  const simt::Settings s = simt::settings();
  std::printf("SIMT runtime benchmark (best of %d); fiber stack %zu KiB, order %d\n", reps, s.stack_bytes / 1024, int(s.order));
  for (unsigned threads : {1u, s.threads}) {
    simt::set_threads(threads);
    std::printf("%u OS thread(s):\n", threads);
    bench_sgemm(reps);
    bench_reduce(reps);
    if (s.threads == 1) break;
  }
  return 0;
}
