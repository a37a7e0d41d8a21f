// CPU Adam/AdamW over the flat parameter buffer, step for step as torch.optim.Adam(W).
#include <cmath>

#include "host/cpu/ops.hpp"
#include "host/op_checks.hpp"

namespace cuvae::cpu {

void adam_step(const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v, const AdamConfig& cfg,
               std::int64_t t) {
  checks::same_shape("adam_step", params, grads);
  checks::same_shape("adam_step", params, m);
  checks::same_shape("adam_step", params, v);
  CUVAE_CHECK(t >= 1, "adam_step: step " + std::to_string(t) + " must be >= 1");
  // Bias corrections in double, as PyTorch computes them in Python.
  const double bc1 = 1.0 - std::pow(double(cfg.beta1), double(t));
  const double bc2 = 1.0 - std::pow(double(cfg.beta2), double(t));
  const float step_size = static_cast<float>(cfg.lr / bc1);
  const float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  const float decay = 1.f - cfg.lr * cfg.weight_decay;
  const std::int64_t n = params.numel();
  float* p = params.data;
  const float* g = grads.data;
  for (std::int64_t i = 0; i < n; ++i) {
    if (cfg.weight_decay > 0.f) p[i] *= decay;
    m.data[i] = cfg.beta1 * m.data[i] + (1.f - cfg.beta1) * g[i];
    v.data[i] = cfg.beta2 * v.data[i] + (1.f - cfg.beta2) * g[i] * g[i];
    const float denom = std::sqrt(v.data[i]) / bc2_sqrt + cfg.eps;
    p[i] -= step_size * (m.data[i] / denom);
  }
}

}  // namespace cuvae::cpu
