// CPU reference for the latent ops: Philox normals, reparameterization (the same eps the CUDA
// kernel draws) and its backward, on [B, L] views.
#include <cmath>

#include "host/cpu/ops.hpp"
#include "host/op_checks.hpp"

namespace cuvae::cpu {

void normal(RngKey key, const Tensor& out) {
  checks::dense("normal", "out", out);
  const std::int64_t n = out.numel();
  for (std::int64_t g = 0; g * 4 < n; ++g) {
    float4 v = philox_normal4(key, static_cast<std::uint64_t>(g));
    for (unsigned k = 0; k < 4 && g * 4 + k < n; ++k) out.data[g * 4 + k] = float4_at(v, k);
  }
}

void reparameterize(const Tensor& mu, const Tensor& logvar, RngKey key, const Tensor& eps, const Tensor& z) {
  checks::reparameterize(mu, logvar, eps, z);
  normal(key, eps);
  const std::int64_t B = z.rows(), L = z.cols();
  for (std::int64_t b = 0; b < B; ++b) {
    const float* m = mu.data + b * mu.row_stride();
    const float* lv = logvar.data + b * logvar.row_stride();
    float* zr = z.data + b * z.row_stride();
    for (std::int64_t l = 0; l < L; ++l) zr[l] = m[l] + eps.data[b * L + l] * std::exp(0.5f * lv[l]);
  }
}

void reparameterize_backward(const Tensor& logvar, const Tensor& eps, const Tensor& dz, const Tensor& dmu,
                             const Tensor& dlogvar) {
  checks::reparameterize_backward(logvar, eps, dz, dmu, dlogvar);
  const std::int64_t B = dz.rows(), L = dz.cols();
  for (std::int64_t b = 0; b < B; ++b) {
    const float* lv = logvar.data + b * logvar.row_stride();
    const float* g = dz.data + b * dz.row_stride();
    float* dm = dmu.data + b * dmu.row_stride();
    float* dl = dlogvar.data + b * dlogvar.row_stride();
    for (std::int64_t l = 0; l < L; ++l) {
      dm[l] += g[l];
      dl[l] += g[l] * eps.data[b * L + l] * 0.5f * std::exp(0.5f * lv[l]);
    }
  }
}

}  // namespace cuvae::cpu
