// Fast CPU IWAE ops (see fast.hpp): the row repeat over row chunks; the bound with every log weight
// computed once (the reference computes each twice), over row chunks, then each image's
// log-mean-exp over its K weights in k order, images in parallel. The same float64 operations as
// host/cpu/iwae.cpp, so the same bits.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "host/cpu/fast/fast.hpp"
#include "host/cpu/fast/pool.hpp"
#include "host/op_checks.hpp"

namespace cuvae::cpu::fast {

void repeat_rows(Pool& pool, const Tensor& src, int K, const Tensor& dst) {
  checks::repeat_rows(src, K, dst);
  const std::int64_t C = dst.cols();
  for_chunks(pool, dst.rows(), rows_per_chunk(C), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r)
      std::memcpy(dst.data + r * dst.row_stride(), src.data + (r / K) * src.row_stride(), static_cast<std::size_t>(C) * sizeof(float));
  });
}

void iwae_bound(Pool& pool, const Tensor& recon, const Tensor& eps, const Tensor& z, const Tensor& logvar, int K,
                const Tensor& bound, const Tensor* elbo) {
  checks::iwae_bound(recon, eps, z, logvar, K, bound, elbo);
  const std::int64_t n = logvar.rows(), L = logvar.cols(), R = n * K;
  std::vector<double> lw(static_cast<std::size_t>(R));
  for_chunks(pool, R, rows_per_chunk(L), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const float* e = eps.data + r * eps.row_stride();
      const float* zr = z.data + r * z.row_stride();
      const float* lv = logvar.data + (r / K) * logvar.row_stride();
      double a = 0.0;
      for (std::int64_t l = 0; l < L; ++l) {
        const double ed = e[l], zd = zr[l];
        a += 0.5 * (ed * ed - zd * zd) + 0.5 * static_cast<double>(lv[l]);
      }
      lw[static_cast<std::size_t>(r)] = a - static_cast<double>(recon.data[r]);
    }
  });
  // A K-sample image costs about K exps: chunks of ~16k weights.
  for_chunks(pool, n, rows_per_chunk(K), [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const double* w = lw.data() + i * K;
      double m = -std::numeric_limits<double>::infinity(), mean = 0.0, sum = 0.0;
      for (std::int64_t k = 0; k < K; ++k) {
        m = w[k] > m ? w[k] : m;
        mean += w[k];
      }
      for (std::int64_t k = 0; k < K; ++k) sum += std::exp(w[k] - m);
      bound.data[i] = static_cast<float>(m + std::log(sum / K));
      if (elbo) elbo->data[i] = static_cast<float>(mean / K);
    }
  });
}

}  // namespace cuvae::cpu::fast
