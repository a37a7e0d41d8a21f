// kernels/adam.cuh: one fused Adam/AdamW step over the flat parameter buffer (values, grads and
// both moments), one launch for every parameter of the model, with t read from the device-side
// step position so that a captured training step replays unchanged.
// Pure device code (nvcc for the GPU, the host compiler for the SIMT runtime).
// Launcher: host/cuda/cuda_backend.cu. Tests: tests/test_adam_kernel.cpp.
//
// The scalars are computed by step_scalars() (kernels/schedule.cuh) on both backends: bias
// corrections in double, rounded to float once; the update is written with __f*_rn so nvcc does not contract it into
// FMAs, and so matches host/cpu/adam.cpp operation for operation (bit for bit, up to the last-ulp
// difference that CUDA's double pow may leave in a bias correction).
#pragma once
#include "kernels/portable.cuh"
#include "kernels/schedule.cuh"


namespace cuvae::kernels::adam {
inline namespace CUVAE_BUILD {

__device__ __forceinline__ void adam_update(float& p, float g, float& m, float& v, const StepScalars& s) {
  if (s.adam_l2 != 0.f) g = __fadd_rn(g, __fmul_rn(p, s.adam_l2));  // torch: grad.add(param, alpha=weight_decay)
  p = __fmul_rn(p, s.adam_decay);
  m = __fadd_rn(__fmul_rn(m, s.adam_beta1), __fmul_rn(g, s.adam_one_minus_beta1));
  v = __fadd_rn(__fmul_rn(v, s.adam_beta2), __fmul_rn(__fmul_rn(g, g), s.adam_one_minus_beta2));
  const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), s.adam_bc2_sqrt), s.adam_eps);
  p = __fsub_rn(p, __fmul_rn(s.adam_step_size, __fdiv_rn(m, denom)));
}

// p, g, m, v: n floats each; the step's scalars (bias corrections, learning rate under decay, AdamW
// factor) from the device-side StepScalars block. Grid-stride; kVec: all four 16-byte aligned,
// float4 over the first n / 4 * 4 elements and the last n % 4 by the first threads.
template <bool kVec>
__global__ void adam_step(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m,
                          float* __restrict__ v, long long n, const StepScalars* __restrict__ scalars) {
  const StepScalars s = *scalars;
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
      adam_update(pv.x, gv.x, mv.x, vv.x, s);
      adam_update(pv.y, gv.y, mv.y, vv.y, s);
      adam_update(pv.z, gv.z, mv.z, vv.z, s);
      adam_update(pv.w, gv.w, mv.w, vv.w, s);
      p4[i] = pv, m4[i] = mv, v4[i] = vv;
    }
    done = n4 * 4;
  }
  for (long long i = done + first; i < n; i += stride) adam_update(p[i], g[i], m[i], v[i], s);
}

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::kernels::adam
