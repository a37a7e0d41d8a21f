// kernels/xent.cuh: the fused softmax cross-entropy of a classifier, one launch that gives, per row
// of logits [B, C] with an int32 label y, -log softmax(l)[y] (max-subtracted log-sum-exp), its
// gradient softmax(l) - onehot(y), the per-row values, the sum over rows and the count of rows whose
// argmax (the first maximum on ties) is the label. Each block one row, its threads strided over the
// classes then a fixed tree; the last block to finish sums the rows in order (as kernels/loss.cuh),
// so a shape gives the same bits every run. The count is an integer sum (exact in any order).
// A label outside 0..C-1 is never used as an index: that row's value and gradient are NaN and it
// is not counted as correct (the data loader refuses such labels before a run starts).
// Pure device code (nvcc for the GPU, the host compiler for the SIMT runtime).
// Launcher: host/cuda/cuda_backend.cu. Reference: host/cpu/xent.cpp. Tests: tests/test_ops.cpp.
#pragma once
#include "kernels/latent.cuh"
#include "kernels/loss.cuh"
#include "kernels/portable.cuh"

namespace cuvae::kernels::xent {
inline namespace CUVAE_BUILD {

using latent::View;

// One block per row b (grid.x = B), kThreads threads (a power of two, chosen from C only).
// row_sums [B] (double workspace), arrived and correct: counters that are zero before the launch
// and left zero; terms[0] = the sum of the rows, terms[1] = the count of correct rows.
template <int kThreads>
__global__ void __launch_bounds__(kThreads)
    softmax_xent(View logits, const int* __restrict__ labels, int C, View dlogits, double* __restrict__ row_sums,
                 float* __restrict__ rows, unsigned* __restrict__ arrived, unsigned* __restrict__ correct,
                 float* __restrict__ terms) {
  __shared__ double part[kThreads];
  __shared__ float best[kThreads];
  __shared__ int best_at[kThreads];
  __shared__ bool last;
  const int t = threadIdx.x;
  const long long b = blockIdx.x;
  const float* l = logits.data + b * logits.ld;
  const int y = labels[b];
  const bool valid = y >= 0 && y < C;

  // The maximum and its first index: each thread's strided elements in order, then a tree that
  // keeps the larger value, the lower index on ties (C marks "none yet").
  float m = 0.f;
  int at = C;
  for (int j = t; j < C; j += kThreads)
    if (at == C || l[j] > m) m = l[j], at = j;
  best[t] = m, best_at[t] = at;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride >>= 1) {
    if (t < stride) {
      const float v = best[t + stride];
      const int i = best_at[t + stride];
      if (i < C && (best_at[t] == C || v > best[t] || (v == best[t] && i < best_at[t]))) best[t] = v, best_at[t] = i;
    }
    __syncthreads();
  }
  m = best[0];
  const int argmax = best_at[0];

  // sum_j exp(l_j - m) in double, in a fixed tree.
  double s = 0.0;
  for (int j = t; j < C; j += kThreads) s += static_cast<double>(expf(__fsub_rn(l[j], m)));
  block_tree_sum<kThreads>(part, t, s);
  s = part[0];
  const float nan = __int_as_float(0x7fc00000);
  if (dlogits.data) {
    float* d = dlogits.data + b * dlogits.ld;
    const float inv = static_cast<float>(1.0 / s);
    for (int j = t; j < C; j += kThreads)
      d[j] = valid ? __fsub_rn(__fmul_rn(expf(__fsub_rn(l[j], m)), inv), j == y ? 1.f : 0.f) : nan;
  }
  __syncthreads();  // part[0] is read above before the finish reuses part

  if (t == 0) {
    const double row = valid ? (static_cast<double>(m) - static_cast<double>(l[y])) + log(s) : static_cast<double>(nan);
    row_sums[b] = row;
    if (rows) rows[b] = static_cast<float>(row);
    if (valid && argmax == y) atomicAdd(correct, 1u);
    __threadfence();  // the row and the count are visible device-wide before this block is counted
    last = atomicAdd(arrived, 1u) == gridDim.x - 1;
  }
  __syncthreads();
  if (!last) return;  // uniform across the block
  __threadfence();
  double v = 0.0;
  for (long long i = t; i < static_cast<long long>(gridDim.x); i += kThreads) v += __ldcg(row_sums + i);
  block_tree_sum<kThreads>(part, t, v);
  if (t == 0) {
    terms[0] = static_cast<float>(part[0]);
    terms[1] = static_cast<float>(atomicAdd(correct, 0u));
    *correct = 0;  // ready for the next launch (stream order)
    *arrived = 0;
  }
}

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::kernels::xent
