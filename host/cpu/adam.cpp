// CPU Adam/AdamW over the flat parameter buffer, step for step as torch.optim.Adam(W), with the
// step's scalars from step_scalars() (kernels/schedule.cuh), as the CUDA kernel.
#include <cfloat>
#include <cmath>

#include "host/cpu/ops.hpp"
#include "host/op_checks.hpp"

namespace cuvae::cpu {

void adam_step(const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v, const StepScalars& s) {
  checks::same_shape("adam_step", params, grads);
  checks::same_shape("adam_step", params, m);
  checks::same_shape("adam_step", params, v);
  const std::int64_t n = params.numel();
  // Local copies: a store through p, m or v may alias a float of the caller's StepScalars, which
  // would make the compiler reload every scalar in every iteration and not vectorise (measured:
  // Adam took 20% of a CPU epoch that way).
  const StepScalars a = s;
  float* __restrict__ p = params.data;
  const float* __restrict__ g = grads.data;
  float* __restrict__ mv = m.data;
  float* __restrict__ vv = v.data;
  // The moments of parameters whose gradient stays 0 (dead ReLU units) decay into subnormal
  // floats, which x86 computes some 100x slower (measured: Adam went from 8% to 37% of an
  // epoch after ~900 steps). They are flushed to zero; their share of any step is below 1e-30.
  auto flush = [](float x) { return std::fabs(x) < FLT_MIN ? 0.f : x; };
  for (std::int64_t i = 0; i < n; ++i) {
    const float gi = a.adam_l2 != 0.f ? g[i] + p[i] * a.adam_l2 : g[i];  // torch: grad.add(param, alpha=weight_decay)
    p[i] *= a.adam_decay;
    mv[i] = flush(mv[i] * a.adam_beta1 + gi * a.adam_one_minus_beta1);
    vv[i] = flush(vv[i] * a.adam_beta2 + gi * gi * a.adam_one_minus_beta2);
    const float denom = std::sqrt(vv[i]) / a.adam_bc2_sqrt + a.adam_eps;
    p[i] -= a.adam_step_size * (mv[i] / denom);
  }
}

}  // namespace cuvae::cpu
