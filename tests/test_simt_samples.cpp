// The sample kernels (kernels/samples/) on the SIMT runtime against plain CPU loops: odd sizes,
// NaN-poisoned outputs (so every element must be written), FP32 tolerances, max error reported.
#include "kernels/samples/block_reduce.cuh"
#include "kernels/samples/sgemm_tiled.cuh"
#include "kernels/samples/warp_reduce.cuh"
#include "kernels/samples/wmma_gemm.cuh"
#include "reference_gemm.hpp"
#include "test_simt_util.hpp"

namespace {

using cuvae::launch;
using namespace cuvae::samples;
constexpr double kTol = 1e-5;  // relative to the sum of |terms|: FP32 accumulation

struct Shape {
  int M, N, K;
};
std::vector<Shape> gemm_shapes() {
  if (simt_test::kSanitized) return {{37, 29, 23}, {16, 16, 16}};
  return {{67, 45, 83}, {130, 97, 61}, {1, 1, 1}, {16, 16, 16}, {33, 1, 65}};
}

TEST(SimtSamples, SgemmTiled) {
  for (const Shape s : gemm_shapes()) {
    const auto A = simt_test::random_floats(std::size_t(s.M) * s.K, 11), B = simt_test::random_floats(std::size_t(s.K) * s.N, 12);
    auto C = simt_test::poisoned(std::size_t(s.M) * s.N);
    constexpr int T = 16;
    launch(sgemm_tiled<T>, dim3((s.N + T - 1) / T, (s.M + T - 1) / T), dim3(T, T), 0, nullptr, s.M, s.N, s.K, A.data(), B.data(), C.data());
    std::vector<double> ref, scale;
    reference_gemm(s.M, s.N, s.K, A, B, ref, scale);
    EXPECT_TRUE(simt_test::all_close(C, ref, kTol, &scale)) << s.M << "x" << s.N << "x" << s.K;
  }
}

double reference_sum(const std::vector<float>& x, double* abs_sum) {
  double s = 0;
  *abs_sum = 0;
  for (float v : x) s += v, *abs_sum += std::fabs(v);
  return s;
}

TEST(SimtSamples, WarpShuffleReduction) {
  for (int n : {simt_test::kSanitized ? 4099 : 100003, 1, 31, 32, 33}) {
    const auto x = simt_test::random_floats(n, 21);
    const int blocks = std::min(64, (n + 255) / 256);
    auto partial = simt_test::poisoned(blocks), total = simt_test::poisoned(1);
    launch(warp_reduce_sum, dim3(blocks), dim3(256), 0, nullptr, x.data(), n, partial.data());
    launch(warp_reduce_sum, dim3(1), dim3(64), 0, nullptr, static_cast<const float*>(partial.data()), blocks, total.data());
    double abs_sum;
    const double ref = reference_sum(x, &abs_sum);
    const std::vector<double> scale{abs_sum};
    EXPECT_TRUE(simt_test::all_close(total, {ref}, kTol, &scale)) << "n = " << n;
  }
}

TEST(SimtSamples, DynamicSharedBlockReduction) {
  for (int n : {simt_test::kSanitized ? 3001 : 50001, 1, 255, 256, 257}) {
    const auto x = simt_test::random_floats(n, 31);
    for (int threads : {128, 256}) {
      const int blocks = (n + threads - 1) / threads;
      auto partial = simt_test::poisoned(blocks);
      launch(block_reduce_sum, dim3(blocks), dim3(threads), threads * sizeof(float), nullptr, x.data(), n, partial.data());
      std::vector<double> ref(blocks, 0.0), scale(blocks, 0.0);
      for (int i = 0; i < n; ++i) ref[i / threads] += x[i], scale[i / threads] += std::fabs(x[i]);
      EXPECT_TRUE(simt_test::all_close(partial, ref, kTol, &scale)) << "n = " << n << ", " << threads << " threads";
    }
  }
}

template <class In>
In round_to(float x) {
  if constexpr (std::is_same_v<In, __half>) return __float2half(x);
  else if constexpr (std::is_same_v<In, __nv_bfloat16>) return __float2bfloat16(x);
  else return x;
}
template <class In>
float operand(In x) {  // the value the tensor cores multiply
  if constexpr (std::is_same_v<In, __half>) return __half2float(x);
  else if constexpr (std::is_same_v<In, __nv_bfloat16>) return __bfloat162float(x);
  else return nvcuda::wmma::__float_to_tf32(x);
}

template <class In>
void check_wmma_gemm() {
  for (const Shape s : gemm_shapes()) {
    std::vector<In> A, B;
    std::vector<float> Af, Bf;
    for (float v : simt_test::random_floats(std::size_t(s.M) * s.K, 41)) A.push_back(round_to<In>(v)), Af.push_back(operand(A.back()));
    for (float v : simt_test::random_floats(std::size_t(s.K) * s.N, 42)) B.push_back(round_to<In>(v)), Bf.push_back(operand(B.back()));
    auto C = simt_test::poisoned(std::size_t(s.M) * s.N);
    const dim3 grid((s.N + 15) / 16, (s.M + 16 * kWmmaWarps - 1) / (16 * kWmmaWarps)), block(32, kWmmaWarps);
    launch(wmma_gemm<In>, grid, block, 0, nullptr, s.M, s.N, s.K, A.data(), B.data(), C.data());
    std::vector<double> ref, scale;
    reference_gemm(s.M, s.N, s.K, Af, Bf, ref, scale);
    EXPECT_TRUE(simt_test::all_close(C, ref, kTol, &scale)) << s.M << "x" << s.N << "x" << s.K;
  }
}

TEST(SimtSamples, WmmaGemmHalf) { check_wmma_gemm<__half>(); }
TEST(SimtSamples, WmmaGemmBf16) { check_wmma_gemm<__nv_bfloat16>(); }
TEST(SimtSamples, WmmaGemmTf32) { check_wmma_gemm<float>(); }

}  // namespace
