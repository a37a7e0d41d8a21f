// Fast CPU latent ops (see fast.hpp): the Philox normals over fixed chunks of groups of four (the
// same numbers as cpu::normal, element for element), the reparameterization and its backward over
// row chunks, with exp_approx.
#include "host/cpu/fast/fast.hpp"
#include "host/cpu/fast/pool.hpp"
#include "host/cpu/fast/vecmath.hpp"
#include "host/op_checks.hpp"

namespace cuvae::cpu::fast {
namespace {

// z = mu + eps * e^(logvar / 2) for rows [b0, b1).
CUVAE_VECTOR_CLONES void reparameterize_rows(const Tensor& mu, const Tensor& logvar, const Tensor& eps, const Tensor& z,
                                             std::int64_t b0, std::int64_t b1) {
  const std::int64_t L = z.cols();
  for (std::int64_t b = b0; b < b1; ++b) {
    const float* __restrict__ m = mu.data + b * mu.row_stride();
    const float* __restrict__ lv = logvar.data + b * logvar.row_stride();
    const float* __restrict__ e = eps.data + b * L;
    float* __restrict__ zr = z.data + b * z.row_stride();
#pragma omp simd
    for (std::int64_t l = 0; l < L; ++l) zr[l] = m[l] + e[l] * exp_approx(0.5f * lv[l]);
  }
}

// dmu += dz; dlogvar += dz eps e^(logvar / 2) / 2 for rows [b0, b1).
CUVAE_VECTOR_CLONES void reparameterize_backward_rows(const Tensor& logvar, const Tensor& eps, const Tensor& dz,
                                                      const Tensor& dmu, const Tensor& dlogvar, std::int64_t b0,
                                                      std::int64_t b1) {
  const std::int64_t L = dz.cols();
  for (std::int64_t b = b0; b < b1; ++b) {
    const float* __restrict__ lv = logvar.data + b * logvar.row_stride();
    const float* __restrict__ g = dz.data + b * dz.row_stride();
    const float* __restrict__ e = eps.data + b * L;
    float* __restrict__ dm = dmu.data + b * dmu.row_stride();
    float* __restrict__ dl = dlogvar.data + b * dlogvar.row_stride();
#pragma omp simd
    for (std::int64_t l = 0; l < L; ++l) {
      dm[l] += g[l];
      dl[l] += g[l] * e[l] * 0.5f * exp_approx(0.5f * lv[l]);
    }
  }
}

}  // namespace

void normal(Pool& pool, RngKey key, const Tensor& out) {
  checks::dense("normal", "out", out);
  const std::int64_t n = out.numel(), groups = (n + 3) / 4;
  // Box-Muller costs tens of times an element of the other ops: chunks of 1024 groups.
  for_chunks(pool, groups, 1024, [&](std::int64_t g0, std::int64_t g1) {
    for (std::int64_t g = g0; g < g1; ++g) {
      const float4 v = philox_normal4(key, static_cast<std::uint64_t>(g));
      for (unsigned k = 0; k < 4 && g * 4 + k < n; ++k) out.data[g * 4 + k] = float4_at(v, k);
    }
  });
}

void reparameterize(Pool& pool, const Tensor& mu, const Tensor& logvar, RngKey key, const Tensor& eps, const Tensor& z) {
  checks::reparameterize(mu, logvar, eps, z);
  normal(pool, key, eps);
  for_chunks(pool, z.rows(), rows_per_chunk(z.cols()),
             [&](std::int64_t b0, std::int64_t b1) { reparameterize_rows(mu, logvar, eps, z, b0, b1); });
}

void reparameterize_backward(Pool& pool, const Tensor& logvar, const Tensor& eps, const Tensor& dz, const Tensor& dmu,
                             const Tensor& dlogvar) {
  checks::reparameterize_backward(logvar, eps, dz, dmu, dlogvar);
  for_chunks(pool, dz.rows(), rows_per_chunk(dz.cols()), [&](std::int64_t b0, std::int64_t b1) {
    reparameterize_backward_rows(logvar, eps, dz, dmu, dlogvar, b0, b1);
  });
}

}  // namespace cuvae::cpu::fast
