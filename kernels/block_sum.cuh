// kernels/block_sum.cuh: a block's sum of one double per thread in a fixed tree (no atomics), so
// a shape gives the same bits every run. Used by the loss, cross-entropy and BatchNorm kernels.
// Pure device code (nvcc for the GPU, the host compiler for the SIMT runtime).
#pragma once
#include "kernels/portable.cuh"

namespace cuvae::kernels {
inline namespace CUVAE_BUILD {

// Sums a per-thread partial over a block of kThreads (a power of two); the sum ends in s[0].
template <int kThreads>
__device__ __forceinline__ void block_tree_sum(double* s, int t, double v) {
  s[t] = v;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride >>= 1) {
    if (t < stride) s[t] += s[t + stride];
    __syncthreads();
  }
}

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::kernels
