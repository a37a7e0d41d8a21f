// CPU Adam/AdamW over the flat parameter buffer, step for step as torch.optim.Adam(W).
#include <cfloat>
#include <cmath>

#include "host/cpu/ops.hpp"
#include "host/op_checks.hpp"

namespace cuvae::cpu {

void adam_step(const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v, const AdamConfig& cfg,
               std::int64_t t) {
  checks::same_shape("adam_step", params, grads);
  checks::same_shape("adam_step", params, m);
  checks::same_shape("adam_step", params, v);
  const AdamScalars a = adam_scalars(cfg, t);
  const std::int64_t n = params.numel();
  float* p = params.data;
  const float* g = grads.data;
  // The moments of parameters whose gradient stays 0 (dead ReLU units) decay into subnormal
  // floats, which x86 computes some 100x slower (measured: Adam went from 8% to 37% of an
  // epoch after ~900 steps). They are flushed to zero; their share of any step is below 1e-30.
  auto flush = [](float x) { return std::fabs(x) < FLT_MIN ? 0.f : x; };
  for (std::int64_t i = 0; i < n; ++i) {
    p[i] *= a.decay;
    m.data[i] = flush(m.data[i] * a.beta1 + g[i] * a.one_minus_beta1);
    v.data[i] = flush(v.data[i] * a.beta2 + g[i] * g[i] * a.one_minus_beta2);
    const float denom = std::sqrt(v.data[i]) / a.bc2_sqrt + a.eps;
    p[i] -= a.step_size * (m.data[i] / denom);
  }
}

}  // namespace cuvae::cpu
