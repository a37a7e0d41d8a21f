// Sample kernel: tensor-core GEMM with nvcuda::wmma, C = A * B (row-major, any M, N, K; fp32 out).
// One warp per 16x16 tile of C; tiles are staged through shared memory, zero-padded at the edges.
// In: __half or __nv_bfloat16 (16x16x16) or float as tf32 (16x16x8, rounded with __float_to_tf32).
// Launch: grid ((N + 15) / 16, (M + 16 * kWmmaWarps - 1) / (16 * kWmmaWarps)), block (32, kWmmaWarps).
#pragma once
#include <type_traits>

#include "kernels/portable.cuh"

namespace cuvae::samples {

inline constexpr int kWmmaWarps = 4;

template <class In>
struct WmmaInput {  // fragment element type and K step for each input type
  using frag = In;
  static constexpr int k = 16;
};
template <>
struct WmmaInput<float> {
  using frag = nvcuda::wmma::precision::tf32;
  static constexpr int k = 8;
};

template <class In>
__global__ void wmma_gemm(int M, int N, int K, const In* __restrict__ A, const In* __restrict__ B, float* __restrict__ C) {
  using namespace nvcuda;
  using Frag = typename WmmaInput<In>::frag;
  constexpr int TK = WmmaInput<In>::k;
  // Raw bytes, not `In[...]`: a __shared__ array of a class type (__half) gets a g++ init guard
  // that TSan would flag in the SIMT build (kernels/README.md, "TSan").
  __shared__ __align__(32) unsigned char a_raw[kWmmaWarps * 16 * TK * sizeof(In)];
  __shared__ __align__(32) unsigned char b_raw[kWmmaWarps * TK * 16 * sizeof(In)];
  __shared__ __align__(32) float c_tile[kWmmaWarps][16 * 16];
  const int warp = threadIdx.y, lane = threadIdx.x;
  In* a_tile = reinterpret_cast<In*>(a_raw) + warp * 16 * TK;
  In* b_tile = reinterpret_cast<In*>(b_raw) + warp * TK * 16;
  const int m0 = (blockIdx.y * kWmmaWarps + warp) * 16, n0 = blockIdx.x * 16;
  if (m0 >= M) return;  // whole warps leave together; the kernel has no block barrier

  wmma::fragment<wmma::matrix_a, 16, 16, TK, Frag, wmma::row_major> a;
  wmma::fragment<wmma::matrix_b, 16, 16, TK, Frag, wmma::row_major> b;
  wmma::fragment<wmma::accumulator, 16, 16, TK, float> c;
  wmma::fill_fragment(c, 0.0f);
  for (int k0 = 0; k0 < K; k0 += TK) {
    for (int i = lane; i < 16 * TK; i += 32) {
      const int r = i / TK, k = i % TK;
      a_tile[i] = m0 + r < M && k0 + k < K ? A[(m0 + r) * K + k0 + k] : In(0.0f);
    }
    for (int i = lane; i < TK * 16; i += 32) {
      const int k = i / 16, col = i % 16;
      b_tile[i] = k0 + k < K && n0 + col < N ? B[(k0 + k) * N + n0 + col] : In(0.0f);
    }
    __syncwarp();
    wmma::load_matrix_sync(a, a_tile, TK);
    wmma::load_matrix_sync(b, b_tile, 16);
    if constexpr (std::is_same_v<In, float>) {  // tf32: round once (else the hardware truncates)
      for (int i = 0; i < a.num_elements; ++i) a.x[i] = wmma::__float_to_tf32(a.x[i]);
      for (int i = 0; i < b.num_elements; ++i) b.x[i] = wmma::__float_to_tf32(b.x[i]);
    }
    wmma::mma_sync(c, a, b, c);
    __syncwarp();  // the tiles are refilled next iteration
  }
  wmma::store_matrix_sync(c_tile[warp], c, 16, wmma::mem_row_major);
  __syncwarp();
  for (int i = lane; i < 16 * 16; i += 32) {
    const int r = i / 16, col = i % 16;
    if (m0 + r < M && n0 + col < N) C[(m0 + r) * N + n0 + col] = c_tile[warp][i];
  }
}

}  // namespace cuvae::samples
