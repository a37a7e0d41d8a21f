// CPU reference for the loss primitives: the reconstruction likelihood (Bernoulli from logits,
// Gaussian with fixed sigma) and the KL term, each with its gradient and per-row values; sums in
// double, row by row in order.
#include <cmath>
#include <numbers>

#include "host/cpu/ops.hpp"
#include "host/op_checks.hpp"

namespace cuvae::cpu {

void likelihood(Likelihood kind, float sigma, const Tensor& pred, const Tensor& target, const Tensor* dpred,
                const Tensor* rows, const Tensor& term) {
  checks::likelihood(kind, sigma, pred, target, dpred, rows, term);
  const std::int64_t B = pred.rows(), D = pred.cols();
  const float inv_sigma = 1.f / sigma, inv_sigma2 = 1.f / (sigma * sigma);
  const float log_norm = static_cast<float>(std::log(double(sigma) * std::sqrt(2.0 * std::numbers::pi)));
  double total = 0.0;
  for (std::int64_t b = 0; b < B; ++b) {
    const float* p = pred.data + b * pred.row_stride();
    const float* x = target.data + b * target.row_stride();
    float* d = dpred ? dpred->data + b * dpred->row_stride() : nullptr;
    double row = 0.0;
    for (std::int64_t j = 0; j < D; ++j) {
      if (kind == Likelihood::bernoulli) {
        const float l = p[j];
        const float e = std::exp(-std::fabs(l));  // in (0, 1]: no overflow for any logit
        // -[x log s(l) + (1 - x) log(1 - s(l))] = max(l, 0) - x l + log(1 + exp(-|l|)), stable for any l
        row += std::fmax(l, 0.f) - x[j] * l + std::log1p(e);
        if (d) d[j] = (l >= 0.f ? 1.f : e) / (1.f + e) - x[j];  // stable_sigmoid(l) with the same e, one exp
      } else {
        const float r = (x[j] - p[j]) * inv_sigma;
        row += 0.5f * r * r + log_norm;
        if (d) d[j] = (p[j] - x[j]) * inv_sigma2;
      }
    }
    if (rows) rows->data[b] = static_cast<float>(row);
    total += row;
  }
  term.data[0] = static_cast<float>(total);
}

void kl_divergence(const Tensor& mu, const Tensor& logvar, float weight, const Tensor* dmu, const Tensor* dlogvar,
                   const Tensor* rows, const Tensor& term) {
  checks::kl_divergence(mu, logvar, dmu, dlogvar, rows, term);
  const std::int64_t B = mu.rows(), L = mu.cols();
  double total = 0.0;
  for (std::int64_t b = 0; b < B; ++b) {
    const float* m = mu.data + b * mu.row_stride();
    const float* lv = logvar.data + b * logvar.row_stride();
    double row = 0.0;
    for (std::int64_t l = 0; l < L; ++l) {
      const float ev = std::exp(lv[l]);
      row += -0.5 * (1.0 + lv[l] - double(m[l]) * m[l] - ev);
      if (dmu) dmu->data[b * dmu->row_stride() + l] = weight * m[l];
      if (dlogvar) dlogvar->data[b * dlogvar->row_stride() + l] = weight * 0.5f * (ev - 1.f);
    }
    if (rows) rows->data[b] = static_cast<float>(row);
    total += row;
  }
  term.data[0] = static_cast<float>(total);
}

}  // namespace cuvae::cpu
