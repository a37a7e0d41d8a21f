// CPU reference for the VAE-specific ops: reparameterization (Philox eps, the same numbers
// the CUDA kernel draws), its backward, and the fused loss (BCE from logits + beta * KL).
#include <cmath>

#include "host/cpu/ops.hpp"
#include "host/op_checks.hpp"
#include "kernels/sigmoid.cuh"

namespace cuvae::cpu {

void normal(RngKey key, const Tensor& out) {
  const std::int64_t n = out.numel();
  for (std::int64_t g = 0; g * 4 < n; ++g) {
    float4 v = philox_normal4(key, static_cast<std::uint64_t>(g));
    for (unsigned k = 0; k < 4 && g * 4 + k < n; ++k) out.data[g * 4 + k] = float4_at(v, k);
  }
}

void reparameterize(const Tensor& stats, RngKey key, const Tensor& eps, const Tensor& z) {
  checks::reparameterize(stats, eps, z);
  normal(key, eps);
  const std::int64_t B = z.shape[0], L = z.shape[1];
  for (std::int64_t b = 0; b < B; ++b) {
    const float* mu = stats.data + b * 2 * L;
    const float* logvar = mu + L;
    for (std::int64_t l = 0; l < L; ++l) z.data[b * L + l] = mu[l] + eps.data[b * L + l] * std::exp(0.5f * logvar[l]);
  }
}

void reparameterize_backward(const Tensor& stats, const Tensor& eps, const Tensor& dz, const Tensor& dstats) {
  checks::reparameterize(stats, eps, dz);
  checks::same_shape("reparameterize_backward", stats, dstats);
  const std::int64_t B = dz.shape[0], L = dz.shape[1];
  for (std::int64_t b = 0; b < B; ++b) {
    const float* logvar = stats.data + b * 2 * L + L;
    float* dmu = dstats.data + b * 2 * L;
    float* dlogvar = dmu + L;
    for (std::int64_t l = 0; l < L; ++l) {
      const float g = dz.data[b * L + l];
      dmu[l] += g;
      dlogvar[l] += g * eps.data[b * L + l] * 0.5f * std::exp(0.5f * logvar[l]);
    }
  }
}

void vae_loss(const Tensor& logits, const Tensor& x, const Tensor& stats, float beta, const Tensor* dlogits,
              const Tensor* dstats, const Tensor& terms) {
  checks::vae_loss(logits, x, stats, dlogits, dstats, terms);
  const std::int64_t B = x.shape[0], D = x.shape[1], L = stats.shape[1] / 2;
  double recon = 0.0, kl = 0.0;
  for (std::int64_t b = 0; b < B; ++b) {
    const float* lg = logits.data + b * D;
    const float* xs = x.data + b * D;
    double row = 0.0;
    for (std::int64_t j = 0; j < D; ++j) {
      const float l = lg[j];
      const float e = std::exp(-std::fabs(l));  // in (0, 1]: no overflow for any logit
      // -[x log s(l) + (1 - x) log(1 - s(l))] = max(l, 0) - x l + log(1 + exp(-|l|))
      row += std::fmax(l, 0.f) - xs[j] * l + std::log1p(e);
      if (dlogits) dlogits->data[b * D + j] = (l >= 0.f ? 1.f : e) / (1.f + e) - xs[j];  // sigmoid(l) - x
    }
    recon += row;
    const float* mu = stats.data + b * 2 * L;
    const float* logvar = mu + L;
    double krow = 0.0;
    for (std::int64_t l = 0; l < L; ++l) {
      const float ev = std::exp(logvar[l]);
      krow += -0.5 * (1.0 + logvar[l] - double(mu[l]) * mu[l] - ev);
      if (dstats) {
        dstats->data[b * 2 * L + l] = beta * mu[l];
        dstats->data[b * 2 * L + L + l] = beta * 0.5f * (ev - 1.f);
      }
    }
    kl += krow;
  }
  terms.data[0] = static_cast<float>(recon);
  terms.data[1] = static_cast<float>(kl);
}

void sigmoid(const Tensor& x, const Tensor& y) {
  checks::same_shape("sigmoid", x, y);
  const std::int64_t n = x.numel();
  for (std::int64_t i = 0; i < n; ++i) y.data[i] = stable_sigmoid(x.data[i]);
}

}  // namespace cuvae::cpu
