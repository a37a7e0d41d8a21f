// CPU reference for the importance-weighted bound's ops (kernels/iwae.cuh): the row repeat and the
// per-image log-mean-exp of the K log weights, in double, in k order.
#include <cmath>
#include <limits>

#include "host/cpu/ops.hpp"
#include "host/op_checks.hpp"

namespace cuvae::cpu {

void repeat_rows(const Tensor& src, int K, const Tensor& dst) {
  checks::repeat_rows(src, K, dst);
  const std::int64_t R = dst.rows(), C = dst.cols();
  for (std::int64_t r = 0; r < R; ++r) {
    const float* s = src.data + (r / K) * src.row_stride();
    float* d = dst.data + r * dst.row_stride();
    for (std::int64_t c = 0; c < C; ++c) d[c] = s[c];
  }
}

void iwae_bound(const Tensor& recon, const Tensor& eps, const Tensor& z, const Tensor& logvar, int K,
                const Tensor& bound, const Tensor* elbo) {
  checks::iwae_bound(recon, eps, z, logvar, K, bound, elbo);
  const std::int64_t n = logvar.rows(), L = logvar.cols();
  const auto log_weight = [&](std::int64_t i, std::int64_t r) {
    const float* e = eps.data + r * eps.row_stride();
    const float* zr = z.data + r * z.row_stride();
    const float* lv = logvar.data + i * logvar.row_stride();
    double a = 0.0;
    for (std::int64_t l = 0; l < L; ++l) {
      const double ed = e[l], zd = zr[l];
      a += 0.5 * (ed * ed - zd * zd) + 0.5 * static_cast<double>(lv[l]);
    }
    return a - static_cast<double>(recon.data[r]);
  };
  for (std::int64_t i = 0; i < n; ++i) {
    double m = -std::numeric_limits<double>::infinity(), mean = 0.0, sum = 0.0;
    for (std::int64_t k = 0; k < K; ++k) {
      const double w = log_weight(i, i * K + k);
      m = w > m ? w : m;
      mean += w;
    }
    for (std::int64_t k = 0; k < K; ++k) sum += std::exp(log_weight(i, i * K + k) - m);
    bound.data[i] = static_cast<float>(m + std::log(sum / K));
    if (elbo) elbo->data[i] = static_cast<float>(mean / K);
  }
}

}  // namespace cuvae::cpu
