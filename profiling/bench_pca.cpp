// Benchmark of closed-form PCA (host/cpu/pca.hpp, and host/cuda/pca.hpp when built with CUDA and a
// device is present) on the Fashion-MNIST training images: best-of-R seconds per K, one JSON line each.
// Build: cmake --build build/cpu --target bench_pca. Run: build/cpu/profiling/bench_pca [--reps R]
//   [--limit N] [--k K]... (default K = 20 and 100); profiling/bench_pca.py puts it next to scikit-learn.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/idx.hpp"
#include "host/cpu/pca.hpp"
#if defined(CUVAE_HAVE_CUDA)
#include <cuda_runtime.h>

#include "host/cuda/pca.hpp"
#endif

namespace {

using Clock = std::chrono::steady_clock;

struct Result {
  std::vector<double> seconds;
  std::vector<float> variance;
};

nlohmann::json line(const char* impl, const cuvae::Dataset& data, int K, const Result& r) {
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  return {{"bench", "pca"},
          {"impl", impl},
          {"N", data.count},
          {"D", data.dim()},
          {"K", K},
          {"seconds", *std::min_element(r.seconds.begin(), r.seconds.end())},
          {"runs", r.seconds},
          {"explained_variance", r.variance},
          {"openblas_corename", openblas_get_corename()},
          {"openblas_threads", openblas_get_num_threads()},
          {"OPENBLAS_CORETYPE", coretype ? coretype : ""}};
}

Result bench_cpu(const cuvae::Dataset& data, int K, int reps) {
  const std::int64_t N = data.count, D = data.dim();
  std::vector<float> x = data.images, mean(static_cast<std::size_t>(D)), comp(static_cast<std::size_t>(K * D));
  Result r;
  r.variance.resize(static_cast<std::size_t>(K));
  const cuvae::Tensor xt{x.data(), {N, D}}, mt{mean.data(), {D}}, ct{comp.data(), {K, D}},
      vt{r.variance.data(), {K}};
  for (int i = 0; i < reps; ++i) {
    const auto t0 = Clock::now();
    cuvae::cpu::pca_fit(xt, K, mt, ct, vt);
    r.seconds.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return r;
}

#if defined(CUVAE_HAVE_CUDA)
void cuda_ok(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "bench_pca: %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

// Times the whole call (handles, workspace, the solver's final synchronisation), after one warm-up
// call that pays for the CUDA context and the libraries' first-use set-up.
Result bench_cuda(const cuvae::Dataset& data, int K, int reps) {
  const std::int64_t N = data.count, D = data.dim();
  float *x = nullptr, *mean = nullptr, *comp = nullptr, *var = nullptr;
  cuda_ok(cudaMalloc(&x, sizeof(float) * static_cast<std::size_t>(N * D)), "cudaMalloc");
  cuda_ok(cudaMalloc(&mean, sizeof(float) * static_cast<std::size_t>(D)), "cudaMalloc");
  cuda_ok(cudaMalloc(&comp, sizeof(float) * static_cast<std::size_t>(K * D)), "cudaMalloc");
  cuda_ok(cudaMalloc(&var, sizeof(float) * static_cast<std::size_t>(K)), "cudaMalloc");
  cuda_ok(cudaMemcpy(x, data.images.data(), sizeof(float) * data.images.size(), cudaMemcpyHostToDevice), "upload");
  cudaStream_t stream = nullptr;
  cuda_ok(cudaStreamCreate(&stream), "cudaStreamCreate");
  const cuvae::Device dev = cuvae::Device::cuda;
  const cuvae::Tensor xt{x, {N, D}, dev}, mt{mean, {D}, dev}, ct{comp, {K, D}, dev}, vt{var, {K}, dev};
  Result r;
  cuvae::cuda::pca_fit(stream, xt, K, mt, ct, vt);
  for (int i = 0; i < reps; ++i) {
    const auto t0 = Clock::now();
    cuvae::cuda::pca_fit(stream, xt, K, mt, ct, vt);
    cuda_ok(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    r.seconds.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  r.variance.resize(static_cast<std::size_t>(K));
  cuda_ok(cudaMemcpy(r.variance.data(), var, sizeof(float) * r.variance.size(), cudaMemcpyDeviceToHost), "download");
  cudaStreamDestroy(stream);
  for (float* p : {x, mean, comp, var}) cudaFree(p);
  return r;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  int reps = 3;
  std::int64_t limit = 0;
  std::vector<int> ks;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (!std::strcmp(argv[i], "--reps") && has_value) reps = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--limit") && has_value) limit = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--k") && has_value) ks.push_back(std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: %s [--reps R] [--limit N] [--k K]...\n", argv[0]);
      return 2;
    }
  }
  if (ks.empty()) ks = {20, 100};
  try {
    const cuvae::Dataset data = cuvae::load_idx_dataset(cuvae::default_data_dir(), "train", limit);
    for (int K : ks) std::cout << line("cuvae.cpu", data, K, bench_cpu(data, K, reps)).dump() << std::endl;
#if defined(CUVAE_HAVE_CUDA)
    int devices = 0;
    if (cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0)
      for (int K : ks) std::cout << line("cuvae.cuda", data, K, bench_cuda(data, K, reps)).dump() << std::endl;
#endif
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_pca: %s\n", e.what());
    return 1;
  }
  return 0;
}
