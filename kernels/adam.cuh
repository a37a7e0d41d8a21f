// kernels/adam.cuh: one fused Adam/AdamW step over the flat parameter buffer (values, grads and
// both moments), one launch for every parameter of the model, with t read from the device-side
// step position so that a captured training step replays unchanged.
// Pure device code (nvcc for the GPU, the host compiler for the SIMT runtime).
// Launcher: host/cuda/cuda_backend.cu. Tests: tests/test_adam_kernel.cpp.
//
// The scalars are computed as adam_scalars() (host/tensor.cpp) does: bias corrections in double,
// rounded to float once; the update is written with __f*_rn so nvcc does not contract it into
// FMAs, and so matches host/cpu/adam.cpp operation for operation (bit for bit, up to the last-ulp
// difference that CUDA's double pow may leave in a bias correction).
#pragma once
#include "kernels/portable.cuh"


namespace cuvae::kernels::adam {
inline namespace CUVAE_KERNEL_BUILD {

// The step-independent scalars (as AdamScalars, computed on the host) and, in double, what the
// two bias corrections are made of.
struct AdamParams {
  float beta1, one_minus_beta1, beta2, one_minus_beta2, eps, decay;
  double lr, beta1_d, beta2_d;
};

struct AdamStepScalars {
  float step_size;  // lr / (1 - beta1^t)
  float bc2_sqrt;   // sqrt(1 - beta2^t)
};

__device__ __forceinline__ AdamStepScalars adam_step_scalars(const AdamParams& a, long long t) {
  const double bc1 = 1.0 - pow(a.beta1_d, static_cast<double>(t));
  const double bc2 = 1.0 - pow(a.beta2_d, static_cast<double>(t));
  return AdamStepScalars{static_cast<float>(a.lr / bc1), static_cast<float>(sqrt(bc2))};
}

__device__ __forceinline__ void adam_update(float& p, float g, float& m, float& v, const AdamParams& a,
                                            const AdamStepScalars& s) {
  p = __fmul_rn(p, a.decay);
  m = __fadd_rn(__fmul_rn(m, a.beta1), __fmul_rn(g, a.one_minus_beta1));
  v = __fadd_rn(__fmul_rn(v, a.beta2), __fmul_rn(__fmul_rn(g, g), a.one_minus_beta2));
  const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), s.bc2_sqrt), a.eps);
  p = __fsub_rn(p, __fmul_rn(s.step_size, __fdiv_rn(m, denom)));
}

// p, g, m, v: n floats each. t = *step (>= 1). Grid-stride; kVec: all four 16-byte aligned,
// float4 over the first n / 4 * 4 elements and the last n % 4 by the first threads.
// Each block computes the step's scalars once (thread 0, into shared memory).
template <bool kVec>
__global__ void adam_step(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m,
                          float* __restrict__ v, long long n, AdamParams a, const long long* __restrict__ step) {
  __shared__ AdamStepScalars scalars;
  if (threadIdx.x == 0) scalars = adam_step_scalars(a, *step);
  __syncthreads();
  const AdamStepScalars s = scalars;
  const long long first = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  const long long stride = static_cast<long long>(gridDim.x) * blockDim.x;
  long long done = 0;
  if constexpr (kVec) {
    const long long n4 = n / 4;
    float4* p4 = reinterpret_cast<float4*>(p);
    const float4* g4 = reinterpret_cast<const float4*>(g);
    float4* m4 = reinterpret_cast<float4*>(m);
    float4* v4 = reinterpret_cast<float4*>(v);
    for (long long i = first; i < n4; i += stride) {
      float4 pv = p4[i], mv = m4[i], vv = v4[i];
      const float4 gv = g4[i];
      adam_update(pv.x, gv.x, mv.x, vv.x, a, s);
      adam_update(pv.y, gv.y, mv.y, vv.y, a, s);
      adam_update(pv.z, gv.z, mv.z, vv.z, a, s);
      adam_update(pv.w, gv.w, mv.w, vv.w, a, s);
      p4[i] = pv, m4[i] = mv, v4[i] = vv;
    }
    done = n4 * 4;
  }
  for (long long i = done + first; i < n; i += stride) adam_update(p[i], g[i], m[i], v[i], a, s);
}

}  // inline namespace CUVAE_KERNEL_BUILD
}  // namespace cuvae::kernels::adam
