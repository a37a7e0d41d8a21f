// nvcuda::wmma on the SIMT runtime: half and bf16 (16x16x16, 32x8x16), tf32 (16x16x8) with
// __float_to_tf32, accumulator loads in both layouts, a half accumulator, element-wise x[] access.
#include "test_simt_util.hpp"

namespace {

using cuvae::launch;
using namespace nvcuda;

float to_f(float x) { return x; }
float to_f(__half x) { return __half2float(x); }
float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }

template <class T>
simt_test::device_vector<T> rounded_inputs(int n, unsigned seed) {  // values exactly representable in T
  simt_test::device_vector<T> v;
  for (float x : simt_test::random_floats(n, seed)) {
    if constexpr (std::is_same_v<T, __half>) v.push_back(__float2half(x));
    else if constexpr (std::is_same_v<T, __nv_bfloat16>) v.push_back(__float2bfloat16(x));
    else v.push_back(wmma::__float_to_tf32(x));
  }
  return v;
}

// One warp: D = A (row-major MxK) * B (col-major KxN) + C (col-major MxN), scaled by 2 via x[].
template <int M, int N, int K, class In, class Frag, class Acc>
__global__ void one_tile(const In* A, const In* B, const Acc* C, Acc* D) {
  wmma::fragment<wmma::matrix_a, M, N, K, Frag, wmma::row_major> a;
  wmma::fragment<wmma::matrix_b, M, N, K, Frag, wmma::col_major> b;
  wmma::fragment<wmma::accumulator, M, N, K, Acc> c;
  wmma::load_matrix_sync(a, A, K);
  wmma::load_matrix_sync(b, B, K);
  wmma::load_matrix_sync(c, C, M, wmma::mem_col_major);
  wmma::mma_sync(c, a, b, c);
  for (int i = 0; i < c.num_elements; ++i) c.x[i] = c.x[i] * Acc(2.0f);
  wmma::store_matrix_sync(D, c, N, wmma::mem_row_major);
}

template <int M, int N, int K, class In, class Frag, class Acc = float>
void check_one_tile(double tol) {
  const auto A = rounded_inputs<In>(M * K, 1), B = rounded_inputs<In>(K * N, 2);
  simt_test::device_vector<Acc> C(M * N), D(M * N, Acc(NAN));
  for (int i = 0; i < M * N; ++i) C[i] = Acc(float(i % 7) - 3.0f);
  launch(one_tile<M, N, K, In, Frag, Acc>, dim3(1), dim3(32), 0, nullptr, A.data(), B.data(), C.data(), D.data());
  std::vector<float> got(M * N);
  std::vector<double> ref(M * N), scale(M * N);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double r = to_f(C[j * M + i]), s = std::fabs(r);
      for (int k = 0; k < K; ++k) {
        const double p = double(to_f(A[i * K + k])) * to_f(B[j * K + k]);
        r += p;
        s += std::fabs(p);
      }
      ref[i * N + j] = 2 * r;
      scale[i * N + j] = 2 * s;
      got[i * N + j] = to_f(D[i * N + j]);
    }
  EXPECT_TRUE(simt_test::all_close(got, ref, tol, &scale));
}

TEST(SimtWmma, Half16x16x16) { check_one_tile<16, 16, 16, __half, __half>(1e-6); }
TEST(SimtWmma, HalfShapes32x8And8x32) {
  check_one_tile<32, 8, 16, __half, __half>(1e-6);
  check_one_tile<8, 32, 16, __half, __half>(1e-6);
}
TEST(SimtWmma, HalfAccumulator) { check_one_tile<16, 16, 16, __half, __half, __half>(2e-3); }
TEST(SimtWmma, Bf16x16x16) { check_one_tile<16, 16, 16, __nv_bfloat16, __nv_bfloat16>(1e-6); }
TEST(SimtWmma, Tf32_16x16x8) { check_one_tile<16, 16, 8, float, wmma::precision::tf32>(1e-6); }

TEST(SimtWmma, FloatToTf32RoundsToNearestTiesAway) {
  const float one = 1.0f, ulp = 1.0f / 1024;  // tf32 keeps 10 mantissa bits
  EXPECT_EQ(wmma::__float_to_tf32(one + ulp / 2), one + ulp);  // tie: away from zero
  EXPECT_EQ(wmma::__float_to_tf32(-(one + ulp / 2)), -(one + ulp));
  EXPECT_EQ(wmma::__float_to_tf32(one + ulp / 4), one);
  EXPECT_EQ(wmma::__float_to_tf32(one + 3 * ulp / 4), one + ulp);
  EXPECT_TRUE(std::isinf(wmma::__float_to_tf32(INFINITY)));
  EXPECT_TRUE(std::isnan(wmma::__float_to_tf32(NAN)));
  for (float x : simt_test::random_floats(1000, 9, -100, 100)) {
    const float r = wmma::__float_to_tf32(x);
    EXPECT_EQ(__float_as_uint(r) & 0x1fffu, 0u);
    EXPECT_LE(std::fabs(r - x), std::fabs(x) * std::ldexp(1.0f, -11));
  }
}

// Unrounded tf32 operands are truncated, as the tensor cores read only their top 19 bits.
__global__ void tf32_truncates(const float* A, const float* B, float* D) {
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> a;
  wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> b;
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> c;
  wmma::fill_fragment(c, 0.0f);
  wmma::load_matrix_sync(a, A, 8);
  wmma::load_matrix_sync(b, B, 16);
  wmma::mma_sync(c, a, b, c);
  wmma::store_matrix_sync(D, c, 16, wmma::mem_row_major);
}

TEST(SimtWmma, Tf32OperandsAreTruncatedUnlessRounded) {
  simt_test::device_vector<float> A(16 * 8, 0.0f), B(8 * 16, 0.0f), D(256, NAN);
  A[0] = 1.0f + 3.0f / 4096;  // below tf32 resolution: dropped
  B[0] = 1.0f;
  launch(tf32_truncates, dim3(1), dim3(32), 0, nullptr, A.data(), B.data(), D.data());
  EXPECT_EQ(D[0], 1.0f);
  EXPECT_EQ(D[1], 0.0f);
}

}  // namespace
