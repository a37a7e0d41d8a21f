// kernels/vae.cuh: the VAE-specific kernels: reparameterization (Philox eps, the numbers the CPU
// reference draws), its backward, and the fused loss: Bernoulli cross-entropy from logits plus
// KL, with both gradients, in one pass over the batch, and batch sums in a fixed order.
// Pure device code (nvcc for the GPU, the host compiler for the SIMT runtime).
// Launchers: host/cuda/cuda_backend.cu. Tests: tests/test_vae_kernels.cpp.
//
// Arithmetic that the CPU reference (host/cpu/vae.cpp) does in separate roundings is written with
// __fmul_rn/__fadd_rn, so nvcc does not contract it into FMAs; the remaining differences from the
// CPU are expf/log1pf and the Box-Muller sincos/log (a few ulp).
#pragma once
#include "kernels/portable.cuh"
#include "kernels/philox.cuh"
#include "kernels/sigmoid.cuh"


namespace cuvae::kernels::vae {
inline namespace CUVAE_KERNEL_BUILD {

// Sums two per-thread partials over a block of kThreads in a fixed tree (no atomics: the same
// bits every run); the sums end in a[0] and b[0].
template <int kThreads>
__device__ __forceinline__ void block_tree_sum2(double* a, double* b, int t, double va, double vb) {
  a[t] = va;
  b[t] = vb;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride >>= 1) {
    if (t < stride) {
      a[t] += a[t + stride];
      b[t] += b[t + stride];
    }
    __syncthreads();
  }
}

// eps[b, l] = Philox normal (key, element b*L + l), with *step added to key.stream when step is
// given (the training step's position); z = mu + eps * exp(0.5 * logvar); stats [B, 2L] = [mu | logvar].
// Grid-stride over the Philox groups of 4 elements of eps [B, L].
__global__ void reparameterize_forward(const float* __restrict__ stats, long long B, int L, RngKey key,
                                       const long long* __restrict__ step, float* __restrict__ eps,
                                       float* __restrict__ z) {
  if (step) key.stream += static_cast<unsigned long long>(*step);
  const long long n = B * L, groups = (n + 3) / 4;
  for (long long g = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups;
       g += static_cast<long long>(gridDim.x) * blockDim.x) {
    const float4 v = philox_normal4(key, static_cast<unsigned long long>(g));
    for (int k = 0; k < 4; ++k) {
      const long long i = 4 * g + k;
      if (i >= n) break;
      const long long b = i / L, l = i % L;
      const float mu = stats[b * 2 * L + l], logvar = stats[b * 2 * L + L + l];
      const float e = float4_at(v, static_cast<unsigned>(k));
      eps[i] = e;
      z[i] = __fadd_rn(mu, __fmul_rn(e, expf(0.5f * logvar)));
    }
  }
}

// dstats[:, :L] += dz;  dstats[:, L:] += dz * eps * 0.5 * exp(0.5 * logvar). Grid-stride over [B, L].
__global__ void reparameterize_backward(const float* __restrict__ stats, const float* __restrict__ eps,
                                        const float* __restrict__ dz, long long B, int L,
                                        float* __restrict__ dstats) {
  const long long n = B * L;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long b = i / L, l = i % L;
    const float g = dz[i];
    const float scale = expf(0.5f * stats[b * 2 * L + L + l]);
    dstats[b * 2 * L + l] = __fadd_rn(dstats[b * 2 * L + l], g);
    dstats[b * 2 * L + L + l] =
        __fadd_rn(dstats[b * 2 * L + L + l], __fmul_rn(__fmul_rn(__fmul_rn(g, eps[i]), 0.5f), scale));
  }
}

// Bernoulli cross-entropy of x given logit l: -[x log s(l) + (1 - x) log(1 - s(l))], stable.
__device__ __forceinline__ float bce_with_logit(float l, float x) {
  return __fadd_rn(__fsub_rn(fmaxf(l, 0.f), __fmul_rn(x, l)), log1pf(expf(-fabsf(l))));
}

// The fused loss, one launch: one block per image b (grid.x = B), kThreads threads (a power of
// two, chosen from the row length only, so a shape always sums in the same order).
//   row_terms[b] = (sum_j bce(logits[b, j], x[b, j]),  -0.5 sum_l (1 + logvar - mu^2 - exp(logvar)))
// in double, each thread summing its strided elements in order, then a fixed shared-memory tree.
// If given: dlogits = sigmoid(logits) - x; dstats = beta * (mu, 0.5 (exp(logvar) - 1)) (overwritten).
// The last block to finish (an arrival count, zero before and left zero) sums the rows: thread t
// rows t, t + kThreads, ... in order, then the tree; terms = (recon, kl) rounded to float once.
// No float atomics: the same bits every run, whichever block comes last.
// kVec: D % 4 == 0 and logits, x, dlogits 16-byte aligned: float4 loads and stores.
template <int kThreads, bool kVec>
__global__ void __launch_bounds__(kThreads)
    vae_loss(const float* __restrict__ logits, const float* __restrict__ x, long long D,
             const float* __restrict__ stats, int L, float beta, float* __restrict__ dlogits,
             float* __restrict__ dstats, double2* __restrict__ row_terms, unsigned* __restrict__ arrived,
             float* __restrict__ terms) {
  __shared__ double recon_part[kThreads];
  __shared__ double kl_part[kThreads];
  __shared__ bool last;
  const int t = threadIdx.x;
  const long long b = blockIdx.x;
  const float* lg = logits + b * D;
  const float* xs = x + b * D;
  double recon = 0.0;
  if constexpr (kVec) {
    const float4* lg4 = reinterpret_cast<const float4*>(lg);
    const float4* xs4 = reinterpret_cast<const float4*>(xs);
    float4* dl4 = dlogits ? reinterpret_cast<float4*>(dlogits + b * D) : nullptr;
    for (long long j = t; j < D / 4; j += kThreads) {
      const float4 l = lg4[j], xv = xs4[j];
      recon += bce_with_logit(l.x, xv.x);
      recon += bce_with_logit(l.y, xv.y);
      recon += bce_with_logit(l.z, xv.z);
      recon += bce_with_logit(l.w, xv.w);
      if (dl4)
        dl4[j] = make_float4(stable_sigmoid(l.x) - xv.x, stable_sigmoid(l.y) - xv.y, stable_sigmoid(l.z) - xv.z,
                             stable_sigmoid(l.w) - xv.w);
    }
  } else {
    for (long long j = t; j < D; j += kThreads) {
      const float l = lg[j], xv = xs[j];
      recon += bce_with_logit(l, xv);
      if (dlogits) dlogits[b * D + j] = stable_sigmoid(l) - xv;
    }
  }
  double kl = 0.0;
  const float* mu = stats + b * 2 * L;
  const float* logvar = mu + L;
  for (int l = t; l < L; l += kThreads) {
    const float m = mu[l], lv = logvar[l];
    const float ev = expf(lv);
    kl += -0.5 * (1.0 + static_cast<double>(lv) - static_cast<double>(m) * m - static_cast<double>(ev));
    if (dstats) {
      dstats[b * 2 * L + l] = __fmul_rn(beta, m);
      dstats[b * 2 * L + L + l] = __fmul_rn(__fmul_rn(beta, 0.5f), ev - 1.f);
    }
  }
  block_tree_sum2<kThreads>(recon_part, kl_part, t, recon, kl);
  if (t == 0) {
    row_terms[b] = make_double2(recon_part[0], kl_part[0]);
    __threadfence();  // the row is visible device-wide before this block is counted
    last = atomicAdd(arrived, 1u) == gridDim.x - 1;
  }
  __syncthreads();
  if (!last) return;  // uniform across the block
  __threadfence();
  double r = 0.0, k = 0.0;
  for (long long i = t; i < static_cast<long long>(gridDim.x); i += kThreads) {
    const double2 v = __ldcg(row_terms + i);  // L2: other blocks wrote them
    r += v.x;
    k += v.y;
  }
  block_tree_sum2<kThreads>(recon_part, kl_part, t, r, k);
  if (t == 0) {
    terms[0] = static_cast<float>(recon_part[0]);
    terms[1] = static_cast<float>(kl_part[0]);
    *arrived = 0;  // ready for the next launch (stream order)
  }
}

}  // inline namespace CUVAE_KERNEL_BUILD
}  // namespace cuvae::kernels::vae
