// Does OpenBLAS's sgemm give the same bits for any thread count? The training step's and the IWAE
// decoder's GEMM shapes, each run with 1, 2 and 3 OpenBLAS threads on the same seeded inputs, and
// the elements that differ from the 1-thread result counted (cuvae's own ops are thread-count
// invariant: tests/test_fast_ops.cpp; this measures the library under them). Prints one line per
// shape. Run: <build>/profiling/sgemm_threads (LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-pthread
// for the other OpenBLAS build).
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

namespace {

struct Gemm {
  const char* what;
  CBLAS_TRANSPOSE ta, tb;
  int m, n, k;
};

std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

}  // namespace

int main() {
  // Row-major C [m, n] = op(A) op(B), as host/cpu/linear.cpp calls it (vae 784-400-20, batch 128;
  // IWAE: K = 5000 rows through the decoder).
  const Gemm shapes[] = {
      {"forward x w^T, 128x784 -> 400", CblasNoTrans, CblasTrans, 128, 400, 784},
      {"forward h w^T, 128x400 -> 784", CblasNoTrans, CblasTrans, 128, 784, 400},
      {"backward dw = dy^T x, 400x784 over 128", CblasTrans, CblasNoTrans, 400, 784, 128},
      {"backward dx = dy w, 128x784 -> 400", CblasNoTrans, CblasNoTrans, 128, 400, 784},
      {"iwae decoder, 5000x20 -> 400", CblasNoTrans, CblasTrans, 5000, 400, 20},
      {"iwae decoder, 5000x400 -> 784", CblasNoTrans, CblasTrans, 5000, 784, 400},
  };
  std::printf("OpenBLAS %s, %s build\n", openblas_get_corename(),
              openblas_get_parallel() == 2 ? "OpenMP" : openblas_get_parallel() == 1 ? "pthread" : "serial");
  for (const Gemm& g : shapes) {
    const int rows_a = g.ta == CblasNoTrans ? g.m : g.k, cols_a = g.ta == CblasNoTrans ? g.k : g.m;
    const int rows_b = g.tb == CblasNoTrans ? g.k : g.n, cols_b = g.tb == CblasNoTrans ? g.n : g.k;
    const std::vector<float> a = random_floats(static_cast<std::size_t>(rows_a) * cols_a, 1),
                             b = random_floats(static_cast<std::size_t>(rows_b) * cols_b, 2);
    std::vector<float> c1(static_cast<std::size_t>(g.m) * g.n);
    std::printf("%-42s", g.what);
    for (int threads = 1; threads <= 3; ++threads) {
      openblas_set_num_threads(threads);
      std::vector<float> c(c1.size());
      cblas_sgemm(CblasRowMajor, g.ta, g.tb, g.m, g.n, g.k, 1.f, a.data(), cols_a, b.data(), cols_b, 0.f, c.data(), g.n);
      if (threads == 1) {
        c1 = c;
        continue;
      }
      std::size_t differ = 0;
      double worst = 0, scale = 0;
      for (std::size_t i = 0; i < c.size(); ++i) {
        scale = std::max(scale, std::fabs(double(c1[i])));
        if (std::memcmp(&c[i], &c1[i], sizeof(float)) != 0) ++differ, worst = std::max(worst, std::fabs(double(c[i]) - c1[i]));
      }
      std::printf("  %d threads: %zu of %zu differ (max %.1e of max|c|)", threads, differ, c.size(), worst / scale);
    }
    std::printf("\n");
  }
}
