// The CPU kernel-library comparison (issue 14): one library's single-threaded cblas_sgemm at the
// shapes the CPU backend hands it, GFLOP/s, best of several runs. The backend keeps the BLAS on one
// thread and runs fixed blocks on its own pool (host/cpu/fast/pool.hpp), so one thread at the
// block shapes is what decides: the MLP VAE's (784-400-20, batch 128: blocks of 64 rows; weight
// gradients in blocks of 64 columns) and the conv VAE's im2col GEMMs (chunks of 8 images).
//
// Build and run through profiling/blas_compare.sh (it installs BLIS and MKL, then runs this once per
// library):  bench_blas LIBRARY.so [LABEL]
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

namespace {

enum Order { kRowMajor = 101 };
enum Trans { kNoTrans = 111, kTrans = 112 };
using Sgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);

struct Shape {
  const char* what;
  int m, n, k;
  bool ta, tb;  // C[m, n] = op(A) op(B), row-major
};

// The MLP VAE's step (B = 128, blocks of 64 rows) and the conv VAE's largest GEMMs per chunk.
const Shape kShapes[] = {
    {"mlp encoder.0 forward  x W^T", 64, 400, 784, false, true},
    {"mlp decoder.2 forward  h W^T", 64, 784, 400, false, true},
    {"mlp heads forward      h W^T", 64, 40, 400, false, true},
    {"mlp decoder.2 dx       dy W", 64, 400, 784, false, false},
    {"mlp decoder.2 dW block dy^T h", 784, 64, 128, true, false},
    {"mlp encoder.0 dW block dy^T x", 400, 64, 128, true, false},
    {"conv encoder.2 forward W cols", 64, 392, 512, false, false},
    {"conv encoder.2 wgrad   dy cols^T", 64, 512, 392, false, true},
    {"conv decoder.7 up      W^T dy", 512, 392, 32, true, false},
    {"conv encoder.0 forward W cols", 32, 1568, 16, false, false},
};

double seconds_of(Sgemm sgemm, const Shape& s, std::vector<float>& a, std::vector<float>& b, std::vector<float>& c,
                  int reps) {
  const int lda = s.ta ? s.m : s.k, ldb = s.tb ? s.k : s.n;
  double best = 1e30;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i)
      sgemm(kRowMajor, s.ta ? kTrans : kNoTrans, s.tb ? kTrans : kNoTrans, s.m, s.n, s.k, 1.f, a.data(), lda, b.data(),
            ldb, 0.f, c.data(), s.n);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_blas LIBRARY.so [LABEL]\n");
    return 2;
  }
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    std::fprintf(stderr, "bench_blas: %s\n", dlerror());
    return 2;
  }
  auto sgemm = reinterpret_cast<Sgemm>(dlsym(lib, "cblas_sgemm"));
  if (!sgemm) {
    std::fprintf(stderr, "bench_blas: %s has no cblas_sgemm\n", argv[1]);
    return 2;
  }
  // One thread, whatever the library's default: each names its own setter.
  for (const char* setter : {"openblas_set_num_threads", "bli_thread_set_num_threads", "MKL_Set_Num_Threads"})
    if (auto set = reinterpret_cast<void (*)(int)>(dlsym(lib, setter))) set(1);
  const char* label = argc > 2 ? argv[2] : argv[1];
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  double total_flop = 0, total_s = 0;
  for (const Shape& s : kShapes) {
    std::vector<float> a(static_cast<std::size_t>(s.m) * s.k), b(static_cast<std::size_t>(s.k) * s.n),
        c(static_cast<std::size_t>(s.m) * s.n);
    for (float& v : a) v = u(gen);
    for (float& v : b) v = u(gen);
    const double flop = 2.0 * s.m * s.n * s.k;
    const int reps = std::max(3, static_cast<int>(2e8 / flop));
    const double sec = seconds_of(sgemm, s, a, b, c, reps);
    total_flop += flop, total_s += sec;
    std::printf("%-12s %-34s %5d x %5d x %5d  %7.1f GFLOP/s\n", label, s.what, s.m, s.n, s.k, flop / sec * 1e-9);
  }
  std::printf("%-12s %-34s %27s  %7.1f GFLOP/s\n", label, "all shapes, one of each", "", total_flop / total_s * 1e-9);
  return 0;
}
