// kernels/loss.cuh: the loss primitives, each one launch that gives the term, its gradient and
// optionally the per-row values: the reconstruction likelihood (Bernoulli from logits, or Gaussian
// with a fixed sigma) and the KL divergence of N(mu, exp(logvar)) from N(0, I). Sums are in double
// and in a fixed order (each block one row, its threads strided then a fixed tree; the last block
// to finish sums the rows in order), so a shape gives the same bits every run, whichever block
// comes last. Pure device code (nvcc for the GPU, the host compiler for the SIMT runtime).
// Launchers: host/cuda/cuda_backend.cu. Reference: host/cpu/loss.cpp. Tests: tests/ops/.
#pragma once
#include "kernels/block_sum.cuh"
#include "kernels/latent.cuh"
#include "kernels/portable.cuh"
#include "kernels/sigmoid.cuh"

namespace cuvae::kernels::loss {
inline namespace CUVAE_BUILD {

using latent::View;

// The end of every loss kernel: block b's row sum (in s[0]) goes to row_sums[b] (and rows[b]
// when given); the last block to arrive (an arrival count, zero before and left zero) sums the
// rows in a fixed order and writes *term, rounded to float once.
template <int kThreads>
__device__ __forceinline__ void finish_rows(double* s, int t, double* __restrict__ row_sums,
                                            float* __restrict__ rows, unsigned* __restrict__ arrived,
                                            float* __restrict__ term) {
  __shared__ bool last;
  if (t == 0) {
    const long long b = blockIdx.x;
    row_sums[b] = s[0];
    if (rows) rows[b] = static_cast<float>(s[0]);
    __threadfence();  // the row is visible device-wide before this block is counted
    last = atomicAdd(arrived, 1u) == gridDim.x - 1;
  }
  __syncthreads();
  if (!last) return;  // uniform across the block
  __threadfence();
  double v = 0.0;
  for (long long i = t; i < static_cast<long long>(gridDim.x); i += kThreads) v += __ldcg(row_sums + i);
  __syncthreads();  // s is reused
  block_tree_sum<kThreads>(s, t, v);
  if (t == 0) {
    *term = static_cast<float>(s[0]);
    *arrived = 0;  // ready for the next launch (stream order)
  }
}

enum LikelihoodCode : int { kBernoulli = 0, kGaussian = 1 };

// Bernoulli cross-entropy of x given logit l: -[x log s(l) + (1 - x) log(1 - s(l))], stable.
__device__ __forceinline__ float bce_with_logit(float l, float x) {
  return __fadd_rn(__fsub_rn(fmaxf(l, 0.f), __fmul_rn(x, l)), log1pf(expf(-fabsf(l))));
}

// Gaussian negative log-likelihood of x given mean m: 0.5 ((x - m) / sigma)^2 + log(sigma sqrt(2 pi)).
__device__ __forceinline__ float gaussian_nll(float m, float x, float inv_sigma, float log_norm) {
  const float r = __fmul_rn(__fsub_rn(x, m), inv_sigma);
  return __fadd_rn(__fmul_rn(__fmul_rn(0.5f, r), r), log_norm);
}

template <int kKind>
__device__ __forceinline__ void likelihood_element(float p, float x, float inv_sigma, float inv_sigma2,
                                                   float log_norm, double& sum, float& grad) {
  if constexpr (kKind == kBernoulli) {
    sum += bce_with_logit(p, x);
    grad = __fsub_rn(stable_sigmoid(p), x);
  } else {
    sum += gaussian_nll(p, x, inv_sigma, log_norm);
    grad = __fmul_rn(__fsub_rn(p, x), inv_sigma2);
  }
}

// One block per row b (grid.x = B), kThreads threads (a power of two, chosen from D only):
//   row b = sum_j nll(pred[b, j], target[b, j]);  dpred[b, j] = d nll / d pred (overwritten, if given).
// kVec: D and every ld % 4 == 0 and the bases 16-byte aligned: float4 loads and stores.
template <int kThreads, bool kVec, int kKind>
__global__ void __launch_bounds__(kThreads)
    likelihood(View pred, View target, long long D, float inv_sigma, float inv_sigma2, float log_norm, View dpred,
               double* __restrict__ row_sums, float* __restrict__ rows, unsigned* __restrict__ arrived,
               float* __restrict__ term) {
  __shared__ double part[kThreads];
  const int t = threadIdx.x;
  const long long b = blockIdx.x;
  const float* p = pred.data + b * pred.ld;
  const float* x = target.data + b * target.ld;
  float* d = dpred.data ? dpred.data + b * dpred.ld : nullptr;
  double sum = 0.0;
  if constexpr (kVec) {
    const float4* p4 = reinterpret_cast<const float4*>(p);
    const float4* x4 = reinterpret_cast<const float4*>(x);
    float4* d4 = reinterpret_cast<float4*>(d);
    for (long long j = t; j < D / 4; j += kThreads) {
      const float4 pv = p4[j], xv = x4[j];
      float4 g;
      likelihood_element<kKind>(pv.x, xv.x, inv_sigma, inv_sigma2, log_norm, sum, g.x);
      likelihood_element<kKind>(pv.y, xv.y, inv_sigma, inv_sigma2, log_norm, sum, g.y);
      likelihood_element<kKind>(pv.z, xv.z, inv_sigma, inv_sigma2, log_norm, sum, g.z);
      likelihood_element<kKind>(pv.w, xv.w, inv_sigma, inv_sigma2, log_norm, sum, g.w);
      if (d4) d4[j] = g;
    }
  } else {
    for (long long j = t; j < D; j += kThreads) {
      float g;
      likelihood_element<kKind>(p[j], x[j], inv_sigma, inv_sigma2, log_norm, sum, g);
      if (d) d[j] = g;
    }
  }
  block_tree_sum<kThreads>(part, t, sum);
  finish_rows<kThreads>(part, t, row_sums, rows, arrived, term);
}

// One block per row b: row b = -0.5 sum_l (1 + logvar - mu^2 - exp(logvar)); if given,
// dmu = w mu and dlogvar = w 0.5 (exp(logvar) - 1) (overwritten), w = scalar_at(weight).
template <int kThreads>
__global__ void __launch_bounds__(kThreads)
    kl_divergence(View mu, View logvar, int L, const float* __restrict__ step_scalars, int weight_slot,
                  float weight_value, View dmu, View dlogvar, double* __restrict__ row_sums, float* __restrict__ rows,
                  unsigned* __restrict__ arrived, float* __restrict__ term) {
  __shared__ double part[kThreads];
  const int t = threadIdx.x;
  const long long b = blockIdx.x;
  const float w = weight_slot >= 0 ? step_scalars[weight_slot] : weight_value;
  double kl = 0.0;
  for (int l = t; l < L; l += kThreads) {
    const float m = mu.at(b, l), lv = logvar.at(b, l);
    const float ev = expf(lv);
    kl += -0.5 * (1.0 + static_cast<double>(lv) - static_cast<double>(m) * m - static_cast<double>(ev));
    if (dmu.data) dmu.at(b, l) = __fmul_rn(w, m);
    if (dlogvar.data) dlogvar.at(b, l) = __fmul_rn(__fmul_rn(w, 0.5f), ev - 1.f);
  }
  block_tree_sum<kThreads>(part, t, kl);
  finish_rows<kThreads>(part, t, row_sums, rows, arrived, term);
}

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::kernels::loss
