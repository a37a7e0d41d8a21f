// kernels/latent.cuh: the reparameterization trick, z = mu + eps * exp(0.5 * logvar) with eps drawn
// from Philox (the numbers the CPU reference draws), and its backward. mu, logvar, z and the
// gradients are [B, L] views whose rows may be apart by more than L (column views of a wider
// buffer: the fused [mu | logvar] head output, a decoder input with labels beside z).
// Pure device code (nvcc for the GPU, the host compiler for the SIMT runtime).
// Launchers: host/cuda/cuda_backend.cu. Reference: host/cpu/latent.cpp. Tests: tests/ops/.
//
// Arithmetic that the CPU reference does in separate roundings is written with __fmul_rn and
// __fadd_rn, so nvcc does not contract it into FMAs; what remains different is expf and the
// Box-Muller sincos/log (a few ulp).
#pragma once
#include "kernels/portable.cuh"
#include "kernels/philox.cuh"

namespace cuvae::kernels::latent {
inline namespace CUVAE_BUILD {

// A [rows, cols] view of floats whose rows are ld apart.
struct View {
  float* data;
  long long ld;
  __device__ __forceinline__ float& at(long long r, long long c) const { return data[r * ld + c]; }
};

// eps[b, l] = Philox normal (key, element b*L + l) (eps is [B, L], dense), with *step added to
// key.stream when step is given (the training step's position); z = mu + eps * exp(0.5 * logvar).
// Grid-stride over the Philox groups of 4 elements of eps.
__global__ void reparameterize_forward(View mu, View logvar, long long B, int L, RngKey key,
                                       const long long* __restrict__ step, float* __restrict__ eps, View z) {
  if (step) key.stream += static_cast<unsigned long long>(*step);
  const long long n = B * L, groups = (n + 3) / 4;
  for (long long g = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups;
       g += static_cast<long long>(gridDim.x) * blockDim.x) {
    const float4 v = philox_normal4(key, static_cast<unsigned long long>(g));
    for (int k = 0; k < 4; ++k) {
      const long long i = 4 * g + k;
      if (i >= n) break;
      const long long b = i / L, l = i % L;
      const float e = float4_at(v, static_cast<unsigned>(k));
      eps[i] = e;
      z.at(b, l) = __fadd_rn(mu.at(b, l), __fmul_rn(e, expf(0.5f * logvar.at(b, l))));
    }
  }
}

// dmu += dz;  dlogvar += dz * eps * 0.5 * exp(0.5 * logvar). Grid-stride over [B, L].
__global__ void reparameterize_backward(View logvar, const float* __restrict__ eps, View dz, long long B, int L,
                                        View dmu, View dlogvar) {
  const long long n = B * L;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const long long b = i / L, l = i % L;
    const float g = dz.at(b, l);
    const float scale = expf(0.5f * logvar.at(b, l));
    dmu.at(b, l) = __fadd_rn(dmu.at(b, l), g);
    dlogvar.at(b, l) = __fadd_rn(dlogvar.at(b, l), __fmul_rn(__fmul_rn(__fmul_rn(g, eps[i]), 0.5f), scale));
  }
}

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::kernels::latent
