// Sample kernel: per-block sum as a tree in dynamic shared memory (no warp ops).
// Launch: grid (ceil(n / threads)), block (threads, a power of two), smem threads * sizeof(float).
#pragma once
#include "kernels/portable.cuh"

namespace cuvae::samples {

__global__ void block_reduce_sum(const float* __restrict__ x, int n, float* __restrict__ block_sums) {
  SIMT_DYNAMIC_SHARED(float, s);
  const int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
  s[t] = i < n ? x[i] : 0.0f;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if (t < stride) s[t] += s[t + stride];
    __syncthreads();
  }
  if (t == 0) block_sums[blockIdx.x] = s[0];
}

}  // namespace cuvae::samples
