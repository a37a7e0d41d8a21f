// Fast CPU loss ops (see fast.hpp): the reconstruction likelihood and the KL term, row chunks in
// parallel, each row summed in the fixed lane order of vecmath.hpp, the rows added in order.
#include <cmath>
#include <numbers>
#include <vector>

#include "host/cpu/fast/fast.hpp"
#include "host/cpu/fast/pool.hpp"
#include "host/cpu/fast/vecmath.hpp"
#include "host/op_checks.hpp"

namespace cuvae::cpu::fast {
namespace {

// Per element as host/cpu/loss.cpp: max(l, 0) - x l + log(1 + e), e = e^-|l|, and the gradient
// sigmoid(l) - x from the same e; exp_approx and log1p_unit in place of expf and log1pf.
template <bool kGrad>
[[gnu::always_inline]] inline double bernoulli_row(const float* __restrict__ p, const float* __restrict__ x,
                                                   float* __restrict__ d, std::int64_t D) {
  Lanes lanes;
  float v[kBlock];
  for (std::int64_t j0 = 0; j0 < D; j0 += kBlock) {
    const std::int64_t n = std::min(kBlock, D - j0);
    const float* __restrict__ pj = p + j0;
    const float* __restrict__ xj = x + j0;
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) {
      const float l = pj[j], t = xj[j];
      const float e = exp_approx(-std::fabs(l));
      v[j] = ((l > 0.f ? l : 0.f) - t * l) + log1p_unit(e);
      if constexpr (kGrad) d[j0 + j] = sigmoid_from(l, e) - t;
    }
    lanes.add(v, n);
  }
  return lanes.sum();
}

template <bool kGrad>
[[gnu::always_inline]] inline double gaussian_row(const float* __restrict__ p, const float* __restrict__ x,
                                                  float* __restrict__ d, std::int64_t D, float inv_sigma,
                                                  float inv_sigma2, float log_norm) {
  Lanes lanes;
  float v[kBlock];
  for (std::int64_t j0 = 0; j0 < D; j0 += kBlock) {
    const std::int64_t n = std::min(kBlock, D - j0);
    const float* __restrict__ pj = p + j0;
    const float* __restrict__ xj = x + j0;
#pragma omp simd
    for (std::int64_t j = 0; j < n; ++j) {
      const float r = (xj[j] - pj[j]) * inv_sigma;
      v[j] = 0.5f * r * r + log_norm;
      if constexpr (kGrad) d[j0 + j] = (pj[j] - xj[j]) * inv_sigma2;
    }
    lanes.add(v, n);
  }
  return lanes.sum();
}

// Rows [b0, b1): their sums into sums[b], the gradient (if any) into dpred.
CUVAE_VECTOR_CLONES void likelihood_rows(Likelihood kind, float sigma, const Tensor& pred, const Tensor& target,
                                         const Tensor* dpred, std::int64_t b0, std::int64_t b1, double* sums) {
  const std::int64_t D = pred.cols();
  const float inv_sigma = 1.f / sigma, inv_sigma2 = 1.f / (sigma * sigma);
  const float log_norm = static_cast<float>(std::log(double(sigma) * std::sqrt(2.0 * std::numbers::pi)));
  for (std::int64_t b = b0; b < b1; ++b) {
    const float* p = pred.data + b * pred.row_stride();
    const float* x = target.data + b * target.row_stride();
    float* d = dpred ? dpred->data + b * dpred->row_stride() : nullptr;
    if (kind == Likelihood::bernoulli)
      sums[b] = d ? bernoulli_row<true>(p, x, d, D) : bernoulli_row<false>(p, x, d, D);
    else
      sums[b] = d ? gaussian_row<true>(p, x, d, D, inv_sigma, inv_sigma2, log_norm)
                  : gaussian_row<false>(p, x, d, D, inv_sigma, inv_sigma2, log_norm);
  }
}

// Per element as the reference, in float64 from ev = exp_approx(logvar).
CUVAE_VECTOR_CLONES void kl_rows(const Tensor& mu, const Tensor& logvar, float weight, const Tensor* dmu,
                                 const Tensor* dlogvar, std::int64_t b0, std::int64_t b1, double* sums) {
  const std::int64_t L = mu.cols();
  double v[kBlock];
  for (std::int64_t b = b0; b < b1; ++b) {
    const float* m = mu.data + b * mu.row_stride();
    const float* lv = logvar.data + b * logvar.row_stride();
    float* dm = dmu ? dmu->data + b * dmu->row_stride() : nullptr;
    float* dl = dlogvar ? dlogvar->data + b * dlogvar->row_stride() : nullptr;
    Lanes lanes;
    for (std::int64_t l0 = 0; l0 < L; l0 += kBlock) {
      const std::int64_t n = std::min(kBlock, L - l0);
#pragma omp simd
      for (std::int64_t l = 0; l < n; ++l) {
        const float mi = m[l0 + l], li = lv[l0 + l];
        const float ev = exp_approx(li);
        v[l] = -0.5 * (1.0 + li - double(mi) * mi - ev);
      }
      if (dm)
        for (std::int64_t l = 0; l < n; ++l) dm[l0 + l] = weight * m[l0 + l];
      if (dl)
#pragma omp simd
        for (std::int64_t l = 0; l < n; ++l) dl[l0 + l] = weight * 0.5f * (exp_approx(lv[l0 + l]) - 1.f);
      lanes.add(v, n);
    }
    sums[b] = lanes.sum();
  }
}

// The rows' float values (if asked) and their float64 sum in row order.
void finish(const std::vector<double>& sums, const Tensor* rows, const Tensor& term) {
  double total = 0.0;
  for (std::size_t b = 0; b < sums.size(); ++b) {
    if (rows) rows->data[b] = static_cast<float>(sums[b]);
    total += sums[b];
  }
  term.data[0] = static_cast<float>(total);
}

}  // namespace

void likelihood(Pool& pool, Likelihood kind, float sigma, const Tensor& pred, const Tensor& target, const Tensor* dpred,
                const Tensor* rows, const Tensor& term) {
  checks::likelihood(kind, sigma, pred, target, dpred, rows, term);
  const std::int64_t B = pred.rows();
  std::vector<double> sums(static_cast<std::size_t>(B));
  for_chunks(pool, B, rows_per_chunk(pred.cols()),
             [&](std::int64_t b0, std::int64_t b1) { likelihood_rows(kind, sigma, pred, target, dpred, b0, b1, sums.data()); });
  finish(sums, rows, term);
}

void kl_divergence(Pool& pool, const Tensor& mu, const Tensor& logvar, float weight, const Tensor* dmu,
                   const Tensor* dlogvar, const Tensor* rows, const Tensor& term) {
  checks::kl_divergence(mu, logvar, dmu, dlogvar, rows, term);
  const std::int64_t B = mu.rows();
  std::vector<double> sums(static_cast<std::size_t>(B));
  for_chunks(pool, B, rows_per_chunk(mu.cols()),
             [&](std::int64_t b0, std::int64_t b1) { kl_rows(mu, logvar, weight, dmu, dlogvar, b0, b1, sums.data()); });
  finish(sums, rows, term);
}

}  // namespace cuvae::cpu::fast
