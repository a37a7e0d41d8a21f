// cuda::pca_fit (host/cuda/pca.cu) against cpu::pca_fit on the same data: known spectra (one DSYRK
// chunk and two), Fashion-MNIST when installed, non-finite input; every case that needs a GPU skips
// ("no CUDA device") without one. The argument checks run before any CUDA call, so they run anywhere.
#include <cuda_runtime.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>

#include "datasets/idx.hpp"
#include "host/cuda/pca.hpp"
#include "pca_support.hpp"
#include "support.hpp"

namespace cuvae {
namespace {

bool have_device() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

#define CUVAE_REQUIRE_DEVICE() \
  if (!have_device()) GTEST_SKIP() << "no CUDA device"

// Throws, so that a failing set-up call ends the test case (gtest reports the exception).
void ok(cudaError_t e) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA: ") + cudaGetErrorString(e));
}

// Device copies of x and of NaN-poisoned outputs; fit() runs cuda::pca_fit and downloads them.
struct DeviceFit {
  std::int64_t N, D;
  int K;
  float *x = nullptr, *mean = nullptr, *components = nullptr, *variance = nullptr;
  cudaStream_t stream = nullptr;
  DeviceFit(const std::vector<float>& host_x, std::int64_t n, std::int64_t d, int k) : N(n), D(d), K(k) {
    ok(cudaStreamCreate(&stream));
    ok(cudaMalloc(&x, host_x.size() * sizeof(float)));
    ok(cudaMemcpy(x, host_x.data(), host_x.size() * sizeof(float), cudaMemcpyHostToDevice));
    const test::PcaOutputs poison(K, D);
    const std::pair<float**, const std::vector<float>*> outputs[] = {
        {&mean, &poison.mean}, {&components, &poison.components}, {&variance, &poison.variance}};
    for (auto [p, v] : outputs) {
      ok(cudaMalloc(p, v->size() * sizeof(float)));
      ok(cudaMemcpy(*p, v->data(), v->size() * sizeof(float), cudaMemcpyHostToDevice));
    }
  }
  ~DeviceFit() {
    for (float* p : {x, mean, components, variance}) cudaFree(p);
    cudaStreamDestroy(stream);
  }
  DeviceFit(const DeviceFit&) = delete;
  DeviceFit& operator=(const DeviceFit&) = delete;
  test::PcaOutputs fit() {
    const Device dev = Device::cuda;
    cuda::pca_fit(stream, Tensor{x, {N, D}, dev}, K, Tensor{mean, {D}, dev}, Tensor{components, {K, D}, dev},
                  Tensor{variance, {K}, dev});
    ok(cudaStreamSynchronize(stream));
    test::PcaOutputs out(K, D);
    ok(cudaMemcpy(out.mean.data(), mean, out.mean.size() * sizeof(float), cudaMemcpyDeviceToHost));
    ok(cudaMemcpy(out.components.data(), components, out.components.size() * sizeof(float), cudaMemcpyDeviceToHost));
    ok(cudaMemcpy(out.variance.data(), variance, out.variance.size() * sizeof(float), cudaMemcpyDeviceToHost));
    return out;
  }
};

void expect_gpu_matches_cpu(const std::vector<float>& x, std::int64_t N, std::int64_t D, int K) {
  const test::PcaOutputs want = test::fit_cpu(x, N, D, K);
  DeviceFit device(x, N, D, K);
  const test::PcaOutputs got = device.fit();
  const auto k = static_cast<std::size_t>(K), d = static_cast<std::size_t>(D);
  EXPECT_TRUE(test::all_close(got.mean, want.mean, 1e-6, "mean"));
  for (std::size_t i = 0; i < k; ++i) {
    EXPECT_NEAR(got.variance[i], want.variance[i], 1e-4 * want.variance[i]) << "variance[" << i << "]";
    double dot = 0;  // the same sign rule on both sides: the same rows, not just the same subspace
    for (std::size_t j = 0; j < d; ++j) dot += double(got.components[i * d + j]) * want.components[i * d + j];
    EXPECT_GT(dot, 1 - 1e-5) << "component " << i;
  }
  EXPECT_LT(test::max_principal_angle_deg(got.components, want.components, k, d), 0.1);
  EXPECT_LT(test::orthonormality_error(got.components, k, d), 1e-5);
  EXPECT_TRUE(test::signs_fixed(got.components, k, d));
}

class CudaKnownSpectrumK : public ::testing::TestWithParam<int> {};

TEST_P(CudaKnownSpectrumK, MatchesTheCpuFit) {
  CUVAE_REQUIRE_DEVICE();
  const test::KnownSpectrum s = test::known_spectrum(2000, 50, 7);
  expect_gpu_matches_cpu(s.x, s.N, s.D, GetParam());
}

INSTANTIATE_TEST_SUITE_P(CudaPca, CudaKnownSpectrumK, ::testing::Values(1, 7, 50));

TEST(CudaPca, TwoRowChunksMatchTheCpuFit) {
  CUVAE_REQUIRE_DEVICE();
  // D = 1000: 16777 rows per DSYRK chunk (host/cuda/pca.cu), so two chunks, the last one partial.
  // Independent columns, the first 16 with well separated scales (3 * 0.9^j) and the rest small
  // (0.2): cheap to make at this size (known_spectrum's rotation is O(N D^2)), yet the top 16
  // eigenpairs are far from the noise floor and from each other.
  const std::int64_t N = 20000, D = 1000;
  std::vector<float> x(static_cast<std::size_t>(N * D));
  std::mt19937_64 rng(13);
  std::normal_distribution<float> normal;
  for (std::int64_t r = 0; r < N; ++r)
    for (std::int64_t j = 0; j < D; ++j) {
      const float scale = j < 16 ? 3.f * std::pow(0.9f, static_cast<float>(j)) : 0.2f;
      x[static_cast<std::size_t>(r * D + j)] = 1.f + 0.01f * static_cast<float>(j) + scale * normal(rng);
    }
  expect_gpu_matches_cpu(x, N, D, 16);
}

TEST(CudaPca, FashionMnistFirst5000ImagesMatchTheCpuFit) {
  CUVAE_REQUIRE_DEVICE();
  if (!std::filesystem::exists(default_data_dir() / "train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "Fashion-MNIST not installed (dataset-fashion-mnist)";
  const Dataset data = load_idx_dataset(default_data_dir(), "train", 5000);
  expect_gpu_matches_cpu(data.images, data.count, data.dim(), 20);
}

TEST(CudaPca, NonFiniteInputIsAnError) {
  CUVAE_REQUIRE_DEVICE();
  test::KnownSpectrum s = test::known_spectrum(50, 6, 3);
  s.x[7] = std::nanf("");
  DeviceFit device(s.x, s.N, s.D, 2);
  EXPECT_EQ(test::error_of([&] { device.fit(); }), "cuda::pca_fit: x cuda[50, 6] has non-finite values");
}

// No device needed: the checks come before any CUDA call.
TEST(CudaPca, RejectsHostTensorsAndBadShapesWithTheShapesNamed) {
  std::vector<float> host(20 * 5, 1.f);
  const Device dev = Device::cuda;
  float* fake = host.data();  // never dereferenced: every call below fails its checks first
  const Tensor x{fake, {20, 5}, dev}, mean{fake, {5}, dev}, comp{fake, {3, 5}, dev}, var{fake, {3}, dev};
  const auto fit = [&](const Tensor& xx, int K, const Tensor& m, const Tensor& c, const Tensor& v) {
    return test::error_of([&] { cuda::pca_fit(nullptr, xx, K, m, c, v); });
  };
  EXPECT_EQ(fit(Tensor{fake, {20, 5}}, 3, mean, comp, var), "cuda::pca_fit: x must be in cuda memory, got cpu[20, 5]");
  EXPECT_EQ(fit(x, 3, Tensor{fake, {5}}, comp, var), "cuda::pca_fit: mean must be in cuda memory, got cpu[5]");
  EXPECT_EQ(fit(x, 0, mean, comp, var), "cuda::pca_fit: K = 0 must be in [1, D] = [1, 5] for x cuda[20, 5]");
  EXPECT_EQ(fit(Tensor{fake, {1, 5}, dev}, 3, mean, comp, var),
            "cuda::pca_fit: x must have N >= 2 rows, got cuda[1, 5]");
  EXPECT_EQ(fit(x, 3, mean, Tensor{fake, {3, 4}, dev}, var),
            "cuda::pca_fit: components must be [3, 5] for K = 3 and x cuda[20, 5], got cuda[3, 4]");
}

}  // namespace
}  // namespace cuvae
