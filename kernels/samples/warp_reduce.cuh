// Sample kernel: sum with warp shuffles. Each block writes one partial sum (deterministic: no
// float atomics); a second launch with one block sums the partials.
// Launch: grid (blocks), block (a multiple of 32, <= 1024), then grid (1) over the partials.
#pragma once
#include "kernels/portable.cuh"

namespace cuvae::samples {

__device__ inline float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;  // lane 0 holds the warp's sum
}

__global__ void warp_reduce_sum(const float* __restrict__ x, int n, float* __restrict__ block_sums) {
  __shared__ float warp_sums[32];
  float v = 0.0f;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) v += x[i];
  v = warp_sum(v);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < int(blockDim.x / 32) ? warp_sums[lane] : 0.0f;
    v = warp_sum(v);
    if (lane == 0) block_sums[blockIdx.x] = v;
  }
}

}  // namespace cuvae::samples
