// Fast CPU Adam/AdamW (see fast.hpp): the reference's update (host/cpu/adam.cpp), element for
// element the same operations and so the same bits, vectorised (sqrt needs -fno-math-errno, set
// for host/cpu/fast/ in host/CMakeLists.txt) and over fixed chunks of the flat buffers in parallel.
#include <cfloat>
#include <cmath>

#include "host/cpu/fast/fast.hpp"
#include "host/cpu/fast/pool.hpp"
#include "host/cpu/fast/vecmath.hpp"
#include "host/op_checks.hpp"

namespace cuvae::cpu::fast {
namespace {

// Elements [i0, i1). The scalars by value: a store through p, m or v could otherwise alias them.
CUVAE_VECTOR_CLONES void adam_range(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ mv,
                                    float* __restrict__ vv, const StepScalars a, std::int64_t i0, std::int64_t i1) {
  // Moments below FLT_MIN are flushed to zero, as in the reference (subnormals are ~100x slower).
#pragma omp simd
  for (std::int64_t i = i0; i < i1; ++i) {
    const float gi = a.adam_l2 != 0.f ? g[i] + p[i] * a.adam_l2 : g[i];
    const float pi = p[i] * a.adam_decay;
    float mi = mv[i] * a.adam_beta1 + gi * a.adam_one_minus_beta1;
    float vi = vv[i] * a.adam_beta2 + gi * gi * a.adam_one_minus_beta2;
    mi = std::fabs(mi) < FLT_MIN ? 0.f : mi;
    vi = std::fabs(vi) < FLT_MIN ? 0.f : vi;
    mv[i] = mi;
    vv[i] = vi;
    const float denom = std::sqrt(vi) / a.adam_bc2_sqrt + a.adam_eps;
    p[i] = pi - a.adam_step_size * (mi / denom);
  }
}

}  // namespace

void adam_step(Pool& pool, const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v,
               const StepScalars& s) {
  checks::same_shape("adam_step", params, grads);
  checks::same_shape("adam_step", params, m);
  checks::same_shape("adam_step", params, v);
  const StepScalars a = s;
  for_chunks(pool, params.numel(), kChunkElements, [&](std::int64_t i0, std::int64_t i1) {
    adam_range(params.data, grads.data, m.data, v.data, a, i0, i1);
  });
}

}  // namespace cuvae::cpu::fast
