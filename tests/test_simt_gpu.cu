// The sample kernels compiled by nvcc and run on a GPU, against the same CPU loops as the SIMT
// tests (tests/test_simt_samples.cpp). Every case skips when no CUDA device is present.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/samples/block_reduce.cuh"
#include "kernels/samples/sgemm_tiled.cuh"
#include "kernels/samples/warp_reduce.cuh"
#include "kernels/samples/wmma_gemm.cuh"
#include "reference_gemm.hpp"
#include "test_simt_util.hpp"

namespace {

using cuvae::launch;
using namespace cuvae::samples;
using simt_test::random_floats;

#define CHECK_CUDA(x) ASSERT_EQ((x), cudaSuccess) << #x

class SimtGpu : public ::testing::Test {
 protected:
  void SetUp() override {  // in the test body, never in a static initializer
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) GTEST_SKIP() << "no CUDA device";
  }
};

template <class T>
struct DeviceBuffer {  // RAII device copy of a host vector
  T* ptr = nullptr;
  std::size_t n = 0;
  explicit DeviceBuffer(const std::vector<T>& h) : n(h.size()) {
    cudaMalloc(&ptr, n * sizeof(T));
    cudaMemcpy(ptr, h.data(), n * sizeof(T), cudaMemcpyHostToDevice);
  }
  ~DeviceBuffer() { cudaFree(ptr); }
  std::vector<T> to_host() const {
    std::vector<T> h(n);
    cudaMemcpy(h.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost);
    return h;
  }
};

float host_tf32(float x) {  // cvt.rna.tf32.f32
  if (!std::isfinite(x)) return x;
  unsigned u;
  std::memcpy(&u, &x, 4);
  u = (u + 0x1000u) & 0xffffe000u;
  std::memcpy(&x, &u, 4);
  return x;
}

const int kM = 67, kN = 45, kK = 83;

TEST_F(SimtGpu, SgemmTiled) {
  const auto A = random_floats(kM * kK, 11), B = random_floats(kK * kN, 12);
  DeviceBuffer<float> a(A), b(B), c(std::vector<float>(kM * kN, NAN));
  launch(sgemm_tiled<16>, dim3((kN + 15) / 16, (kM + 15) / 16), dim3(16, 16), 0, nullptr, kM, kN, kK,
         static_cast<const float*>(a.ptr), static_cast<const float*>(b.ptr), c.ptr);
  CHECK_CUDA(cudaDeviceSynchronize());
  std::vector<double> ref, scale;
  reference_gemm(kM, kN, kK, A, B, ref, scale);
  EXPECT_TRUE(simt_test::all_close(c.to_host(), ref, 1e-5, &scale));
}

TEST_F(SimtGpu, Reductions) {
  const int n = 100003, blocks = 64;
  const auto x = random_floats(n, 21);
  double ref = 0, abs_sum = 0;
  for (float v : x) ref += v, abs_sum += std::fabs(v);
  DeviceBuffer<float> dx(x), partial(std::vector<float>(blocks, NAN)), total(std::vector<float>(1, NAN));
  launch(warp_reduce_sum, dim3(blocks), dim3(256), 0, nullptr, static_cast<const float*>(dx.ptr), n, partial.ptr);
  launch(warp_reduce_sum, dim3(1), dim3(64), 0, nullptr, static_cast<const float*>(partial.ptr), blocks, total.ptr);
  CHECK_CUDA(cudaDeviceSynchronize());
  EXPECT_LE(std::fabs(total.to_host()[0] - ref), 1e-5 * abs_sum);
  const int tb = (n + 255) / 256;
  DeviceBuffer<float> bs(std::vector<float>(tb, NAN));
  launch(block_reduce_sum, dim3(tb), dim3(256), 256 * sizeof(float), nullptr, static_cast<const float*>(dx.ptr), n, bs.ptr);
  CHECK_CUDA(cudaDeviceSynchronize());
  double s = 0;
  for (float v : bs.to_host()) s += v;
  EXPECT_LE(std::fabs(s - ref), 1e-5 * abs_sum);
}

template <class In>
void run_wmma(float (*to_float)(In), In (*from_float)(float), bool tf32) {
  std::vector<In> A, B;
  std::vector<float> Af, Bf;
  for (float v : random_floats(kM * kK, 41)) A.push_back(from_float(v)), Af.push_back(tf32 ? host_tf32(to_float(A.back())) : to_float(A.back()));
  for (float v : random_floats(kK * kN, 42)) B.push_back(from_float(v)), Bf.push_back(tf32 ? host_tf32(to_float(B.back())) : to_float(B.back()));
  DeviceBuffer<In> a(A), b(B);
  DeviceBuffer<float> c(std::vector<float>(kM * kN, NAN));
  launch(wmma_gemm<In>, dim3((kN + 15) / 16, (kM + 16 * kWmmaWarps - 1) / (16 * kWmmaWarps)), dim3(32, kWmmaWarps), 0, nullptr, kM, kN, kK,
         static_cast<const In*>(a.ptr), static_cast<const In*>(b.ptr), c.ptr);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<double> ref, scale;
  reference_gemm(kM, kN, kK, Af, Bf, ref, scale);
  EXPECT_TRUE(simt_test::all_close(c.to_host(), ref, 1e-5, &scale));
}

float half_to_float(__half h) { return __half2float(h); }
__half float_to_half(float f) { return __float2half(f); }
float bf16_to_float(__nv_bfloat16 h) { return __bfloat162float(h); }
__nv_bfloat16 float_to_bf16(float f) { return __float2bfloat16(f); }
float same(float f) { return f; }

TEST_F(SimtGpu, WmmaGemmHalf) { run_wmma<__half>(half_to_float, float_to_half, false); }
TEST_F(SimtGpu, WmmaGemmBf16) { run_wmma<__nv_bfloat16>(bf16_to_float, float_to_bf16, false); }
TEST_F(SimtGpu, WmmaGemmTf32) { run_wmma<float>(same, same, true); }

TEST_F(SimtGpu, BadLaunchThrows) {
  float* out = nullptr;
  EXPECT_THROW(launch(warp_reduce_sum, dim3(1), dim3(2048), 0, nullptr, static_cast<const float*>(nullptr), 1, out), cuvae::Error);
}

}  // namespace
