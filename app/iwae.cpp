// The importance-weighted bound and the active units (see iwae.hpp).
#include "app/iwae.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>


namespace cuvae {

std::int64_t iwae_chunk_images(int K) { return std::max<std::int64_t>(1, kIwaeChunkRows / std::max(K, 1)); }
std::int64_t iwae_rows(int K, std::int64_t n) { return std::max<std::int64_t>(1, std::min(n, iwae_chunk_images(K))) * K; }

IwaeImages importance_weighted(Backend& backend, Model& model, const Batch& data, int K, RngKey key) {
  if (!model.has_posterior())
    throw UsageError("eval --iwae: the " + model.config().model +
                     " model has no posterior q(z|x); the importance-weighted bound needs a vae or a cvae checkpoint");
  if (K < 1 || K > kIwaeMaxSamples)
    throw UsageError("--iwae " + std::to_string(K) + ": want an integer in 1.." + std::to_string(kIwaeMaxSamples));
  const Tensor& images = data.x;
  const std::int64_t n = images.rows(), per = iwae_chunk_images(K);
  IwaeImages r{std::vector<double>(static_cast<std::size_t>(n)), std::vector<double>(static_cast<std::size_t>(n))};
  if (n == 0) return r;
  const std::int64_t cap = std::min(n, per);
  Buffer bound(backend, Shape{cap}), elbo(backend, Shape{cap});
  std::vector<float> hb(static_cast<std::size_t>(cap)), he(static_cast<std::size_t>(cap));
  for (std::int64_t first = 0, c = 0; first < n; first += per, ++c) {
    const std::int64_t b = std::min(per, n - first);
    RngKey k = key;
    k.stream += static_cast<std::uint64_t>(c);
    const Tensor bt = bound.tensor().rows_view(0, b), et = elbo.tensor().rows_view(0, b);
    model.importance_bound(backend, data.rows(first, b), K, k, bt, &et);
    backend.to_host(hb.data(), bt);
    backend.to_host(he.data(), et);
    for (std::int64_t i = 0; i < b; ++i) {
      r.bound[static_cast<std::size_t>(first + i)] = hb[static_cast<std::size_t>(i)];
      r.elbo[static_cast<std::size_t>(first + i)] = he[static_cast<std::size_t>(i)];
    }
  }
  return r;
}

ActiveUnits active_units(Backend& backend, Model& model, const Batch& data, double threshold) {
  const std::int64_t n = data.x.rows(), L = model.latent(), per = std::max<std::int64_t>(1, model.max_batch());
  std::vector<float> mu(static_cast<std::size_t>(n * L));
  for (std::int64_t first = 0; first < n; first += per) {
    const std::int64_t b = std::min(per, n - first);
    const Batch chunk = data.rows(first, b);
    backend.to_host(mu.data() + first * L, model.encode_given(backend, chunk.x, chunk.labels));
  }
  ActiveUnits u;
  u.latent = static_cast<int>(L);
  u.variance.assign(static_cast<std::size_t>(L), 0.0);
  std::vector<double> mean(static_cast<std::size_t>(L), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t l = 0; l < L; ++l) mean[static_cast<std::size_t>(l)] += mu[static_cast<std::size_t>(i * L + l)];
  for (double& m : mean) m /= static_cast<double>(std::max<std::int64_t>(n, 1));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t l = 0; l < L; ++l) {
      const double d = mu[static_cast<std::size_t>(i * L + l)] - mean[static_cast<std::size_t>(l)];
      u.variance[static_cast<std::size_t>(l)] += d * d;
    }
  for (double& v : u.variance) {
    v /= static_cast<double>(std::max<std::int64_t>(n, 1));
    u.active += v > threshold;
  }
  return u;
}

std::string describe(const IwaeResult& r) {
  char line[256];
  std::snprintf(line, sizeof line,
                "test log p(x) >= %.2f (IWAE, K=%d), %.2f (ELBO, K=1) nats per image over %lld images; active units %d of %d",
                r.iwae, r.K, r.elbo, static_cast<long long>(r.images), r.units.active, r.units.latent);
  return line;
}

}  // namespace cuvae
