// Sample kernel: tiled SGEMM through shared memory, C = A * B (row-major, any M, N, K).
// Launch: grid ((N + TILE - 1) / TILE, (M + TILE - 1) / TILE), block (TILE, TILE).
#pragma once
#include "kernels/portable.cuh"

namespace cuvae::samples {

template <int TILE>
__global__ void sgemm_tiled(int M, int N, int K, const float* __restrict__ A, const float* __restrict__ B,
                            float* __restrict__ C) {
  __shared__ float As[TILE][TILE];
  __shared__ float Bs[TILE][TILE];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int row = blockIdx.y * TILE + ty, col = blockIdx.x * TILE + tx;
  float acc = 0.0f;
  for (int k0 = 0; k0 < K; k0 += TILE) {
    As[ty][tx] = row < M && k0 + tx < K ? A[row * K + k0 + tx] : 0.0f;  // zero-pad the edges
    Bs[ty][tx] = k0 + ty < K && col < N ? B[(k0 + ty) * N + col] : 0.0f;
    __syncthreads();
#pragma unroll
    for (int k = 0; k < TILE; ++k) acc += As[ty][k] * Bs[k][tx];
    __syncthreads();  // the next iteration overwrites the tiles
  }
  if (row < M && col < N) C[row * N + col] = acc;
}

}  // namespace cuvae::samples
