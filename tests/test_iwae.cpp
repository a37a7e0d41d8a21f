// The importance-weighted bound of a VAE (app/iwae.hpp) on a small model with random weights: against
// a float64 implementation of the whole estimator, K = 1 against the ELBO on the same eps, not
// falling as K grows, the same bits twice, the CPU backend and the SIMT-built CUDA backend agreeing,
// the active units, a cvae's bound on log p(x | y), and a model without a posterior refused.
// Run: ctest --test-dir build/<dir> -R Iwae --output-on-failure
#include <gmock/gmock.h>

#include <algorithm>
#include <cmath>

#include "app/iwae.hpp"
#include "device_backend.hpp"
#include "host/cpu/ops.hpp"
#include "ops_support.hpp"
#include "models/vae.hpp"

namespace cuvae {
namespace {

using test::as_float;
using test::download;
using test::HostTensor;

constexpr std::int64_t kImages = 9;

ModelConfig small_vae(Likelihood lik = Likelihood::bernoulli) {
  ModelConfig c = default_config("vae");
  c.input_dim = 10, c.hidden = {6}, c.latent = 3, c.likelihood = lik, c.sigma = 0.8;
  return c;
}

// A model with PyTorch's default init scaled by `gain` (a larger gain: a sharper decoder and a
// posterior further from the prior), allocated for kImages x K rows.
std::unique_ptr<Model> random_model(Backend& be, const ModelConfig& c, int K, std::uint64_t seed, float gain) {
  std::unique_ptr<Model> m = make_model(c);
  m->allocate(be, iwae_rows(K, kImages));
  m->params().init_uniform(be, seed);
  std::vector<float> v = download(be, m->params().values());
  for (float& x : v) x *= gain;
  be.to_device(m->params().values(), v.data());
  return m;
}

HostTensor images(std::uint64_t seed) {
  HostTensor x = test::random_tensor({kImages, 10}, seed, 0.f, 1.f);
  for (std::size_t i = 0; i < x.v.size(); i += 4) x[i] = 0.f;  // images have exact zeros and ones
  for (std::size_t i = 1; i < x.v.size(); i += 7) x[i] = 1.f;
  return x;
}

std::vector<double> param(Backend& be, const Model& m, const std::string& name) {
  const std::vector<float> v = download(be, m.params().value(*m.params().find(name)));
  return {v.begin(), v.end()};
}

// y = W x + b, W [out, in] row-major, optionally ReLU.
std::vector<double> dense(const std::vector<double>& w, const std::vector<double>& b, const std::vector<double>& x,
                          bool relu) {
  const std::size_t out = b.size(), in = x.size();
  std::vector<double> y(out);
  for (std::size_t o = 0; o < out; ++o) {
    double s = b[o];
    for (std::size_t i = 0; i < in; ++i) s += w[o * in + i] * x[i];
    y[o] = relu ? std::max(s, 0.0) : s;
  }
  return y;
}

struct Reference {
  std::vector<double> bound, elbo, latent;  // per image; latent: sum of the K samples' log p(z) - log q(z|x)
  std::vector<std::vector<double>> mu;
};

// x with onehot(y) appended (a cvae's inputs), or x itself when there is no label.
std::vector<double> with_label(std::vector<double> x, const std::vector<std::int32_t>& labels, std::int64_t i, int C) {
  if (labels.empty()) return x;
  for (int c = 0; c < C; ++c) x.push_back(c == labels[static_cast<std::size_t>(i)] ? 1.0 : 0.0);
  return x;
}

// The whole estimator in double, from the model's parameters and the Philox eps (float, as drawn);
// with labels, a cvae's: onehot(y) beside x at the encoder and beside z at the decoder.
Reference reference(Backend& be, const Model& m, const HostTensor& x, int K, RngKey key,
                    const std::vector<std::int32_t>& labels = {}) {
  const ModelConfig& c = m.config();
  const int L = c.latent, D = c.input_dim, C = c.classes;
  const auto w0 = param(be, m, "encoder.0.weight"), b0 = param(be, m, "encoder.0.bias");
  const auto wm = param(be, m, "fc_mu.weight"), bm = param(be, m, "fc_mu.bias");
  const auto wl = param(be, m, "fc_logvar.weight"), bl = param(be, m, "fc_logvar.bias");
  const auto d0 = param(be, m, "decoder.0.weight"), e0 = param(be, m, "decoder.0.bias");
  const auto d2 = param(be, m, "decoder.2.weight"), e2 = param(be, m, "decoder.2.bias");
  HostTensor eps({kImages * K, L});
  cpu::normal(key, eps.t());  // one chunk: kImages <= iwae_chunk_images(K)
  Reference r;
  for (std::int64_t i = 0; i < kImages; ++i) {
    const std::vector<double> xi(x.v.begin() + i * D, x.v.begin() + (i + 1) * D);
    const auto h = dense(w0, b0, with_label(xi, labels, i, C), true), mu = dense(wm, bm, h, false),
               lv = dense(wl, bl, h, false);
    r.mu.push_back(mu);
    std::vector<double> w;
    double latent = 0;
    for (int k = 0; k < K; ++k) {
      std::vector<double> z(static_cast<std::size_t>(L));
      double a = 0;
      for (int l = 0; l < L; ++l) {
        const double e = eps.v[static_cast<std::size_t>((i * K + k) * L + l)];
        z[static_cast<std::size_t>(l)] = mu[static_cast<std::size_t>(l)] + e * std::exp(0.5 * lv[static_cast<std::size_t>(l)]);
        a += 0.5 * (e * e - z[static_cast<std::size_t>(l)] * z[static_cast<std::size_t>(l)]) + 0.5 * lv[static_cast<std::size_t>(l)];
      }
      latent += a;
      const auto out = dense(d2, e2, dense(d0, e0, with_label(z, labels, i, C), true), false);
      for (int j = 0; j < D; ++j) {
        const double p = out[static_cast<std::size_t>(j)], t = xi[static_cast<std::size_t>(j)];
        a -= c.likelihood == Likelihood::bernoulli
                 ? std::max(p, 0.0) - t * p + std::log1p(std::exp(-std::fabs(p)))
                 : 0.5 * std::pow((t - p) / c.sigma, 2) + std::log(c.sigma * std::sqrt(2 * M_PI));
      }
      w.push_back(a);
    }
    const double top = *std::max_element(w.begin(), w.end());
    double sum = 0, mean = 0;
    for (double v : w) sum += std::exp(v - top), mean += v;
    r.bound.push_back(top + std::log(sum / K));
    r.elbo.push_back(mean / K);
    r.latent.push_back(latent);
  }
  return r;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}


TEST(CUVAE_DEVICE_SUITE(Iwae), MatchesAFloat64EstimatorForOneSevenAndSixtyFourSamples) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  const HostTensor x = images(1);
  const RngKey key = rng_key(5, RngPurpose::eval, kIwaeStream);
  for (Likelihood lik : {Likelihood::bernoulli, Likelihood::gaussian})
    for (int K : {1, 7, 64}) {
      SCOPED_TRACE("K = " + std::to_string(K) + (lik == Likelihood::bernoulli ? ", bernoulli" : ", gaussian"));
      std::vector<std::vector<float>> bounds;
      for (Backend* be : {cpu.get(), dev.get()}) {
        SCOPED_TRACE(be->describe());
        auto m = random_model(*be, small_vae(lik), K, 3, 2.f);
        const Reference ref = reference(*be, *m, x, K, key);
        const Buffer xd = test::upload(*be, x);
        const IwaeImages got = importance_weighted(*be, *m, Batch{xd, {}}, K, key);
        EXPECT_TRUE(test::all_close(as_float(got.bound), ref.bound, 1e-5, "bound"));
        EXPECT_TRUE(test::all_close(as_float(got.elbo), ref.elbo, 1e-5, "elbo"));
        const IwaeImages again = importance_weighted(*be, *m, Batch{xd, {}}, K, key);
        EXPECT_TRUE(test::bitwise_equal(as_float(got.bound), as_float(again.bound))) << "a second run gave other bits";
        bounds.push_back(as_float(got.bound));
      }
      EXPECT_TRUE(test::all_close(bounds[1], bounds[0], 1e-5, "device vs cpu"));
    }
}

// A cvae: the bound on log p(x | y), each image's label beside it at the encoder and beside each
// of its K codes at the decoder; the active units from the means of q(z | x, y).
TEST(CUVAE_DEVICE_SUITE(Iwae), ACvaeBoundsLogPOfXGivenItsLabel) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  ModelConfig c = default_config("cvae");
  c.input_dim = 10, c.hidden = {6}, c.latent = 3, c.classes = 4;
  const HostTensor x = images(6);
  const std::vector<std::int32_t> y = {2, 0, 3, 1, 1, 0, 2, 3, 2};
  const RngKey key = rng_key(8, RngPurpose::eval, kIwaeStream);
  for (int K : {1, 7}) {
    std::vector<std::vector<float>> bounds;
    for (Backend* be : {cpu.get(), dev.get()}) {
      SCOPED_TRACE(be->describe() + ", K = " + std::to_string(K));
      auto m = random_model(*be, c, K, 7, 2.f);
      const Reference ref = reference(*be, *m, x, K, key, y);
      const Buffer xd = test::upload(*be, x), yd = test::upload_labels(*be, y);
      const IwaeImages got = importance_weighted(*be, *m, Batch{xd, yd}, K, key);
      EXPECT_TRUE(test::all_close(as_float(got.bound), ref.bound, 1e-5, "bound"));
      EXPECT_TRUE(test::all_close(as_float(got.elbo), ref.elbo, 1e-5, "elbo"));
      bounds.push_back(as_float(got.bound));
      // Other labels, another bound: the labels are used.
      std::vector<std::int32_t> other = y;
      for (std::int32_t& v : other) v = (v + 1) % 4;
      const Buffer od = test::upload_labels(*be, other);
      const IwaeImages shifted = importance_weighted(*be, *m, Batch{xd, od}, K, key);
      EXPECT_NE(shifted.bound, got.bound);
      const ActiveUnits u = active_units(*be, *m, Batch{xd, yd});
      for (int l = 0; l < 3; ++l) {
        double mu = 0, var = 0;
        for (const auto& r : ref.mu) mu += r[static_cast<std::size_t>(l)] / kImages;
        for (const auto& r : ref.mu) var += std::pow(r[static_cast<std::size_t>(l)] - mu, 2) / kImages;
        EXPECT_NEAR(u.variance[static_cast<std::size_t>(l)], var, 1e-5 * std::max(var, 1e-3)) << l;
      }
    }
    EXPECT_TRUE(test::all_close(bounds[1], bounds[0], 1e-5, "device vs cpu"));
  }
}

// K = 1: the bound is log w of the one sample, the Monte Carlo ELBO on the eps the model's own
// evaluation pass draws from the same key (its recon term, and log p(z) - log q(z|x) of those eps).
TEST(CUVAE_DEVICE_SUITE(Iwae), OneSampleIsTheElboOnTheSameEps) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  const HostTensor x = images(2);
  const RngKey key = rng_key(9, RngPurpose::eval, 3);
  for (Backend* be : {cpu.get(), dev.get()}) {
    SCOPED_TRACE(be->describe());
    auto m = random_model(*be, small_vae(), 1, 4, 1.5f);
    const Buffer xd = test::upload(*be, x);
    const IwaeImages got = importance_weighted(*be, *m, Batch{xd, {}}, 1, key);
    EXPECT_EQ(got.bound, got.elbo);
    m->eval_batch(*be, Batch{xd, {}}, key, false);
    const double recon = download(*be, m->terms())[0];
    const Reference ref = reference(*be, *m, x, 1, key);
    double latent = 0;
    for (double v : ref.latent) latent += v;
    const double want = (latent - recon) / double(kImages), have = mean(got.bound);
    EXPECT_NEAR(have, want, 1e-5 * std::fabs(want)) << have << " vs " << want;
    // The eps were the ones the reference drew (eval_batch left them in the model).
    HostTensor eps({kImages, 3});
    cpu::normal(key, eps.t());
    EXPECT_TRUE(test::bitwise_equal(download(*be, static_cast<Vae&>(*m).eps(kImages)), eps.v));
  }
}

// Averaged over seeds, the bound rises with K (Burda et al.: IWAE_k <= IWAE_m for k < m), and
// every image's bound is at least its ELBO estimate from the same samples (Jensen).
TEST(CUVAE_DEVICE_SUITE(Iwae), DoesNotFallAsKGrows) {
  auto cpu = make_cpu_backend(1);
  const HostTensor x = images(3);
  double b1 = 0, b8 = 0, b64 = 0;
  const int seeds = 6;
  for (int s = 0; s < seeds; ++s) {
    double* out[] = {&b1, &b8, &b64};
    int j = 0;
    for (int K : {1, 8, 64}) {
      auto m = random_model(*cpu, small_vae(), K, 10 + s, 3.f);
      const Buffer xd = test::upload(*cpu, x);
      const IwaeImages v = importance_weighted(*cpu, *m, Batch{xd, {}}, K, rng_key(100 + s, RngPurpose::eval, kIwaeStream));
      for (std::size_t i = 0; i < v.bound.size(); ++i) EXPECT_GE(v.bound[i], v.elbo[i] - 1e-4) << i;
      *out[j++] += mean(v.bound) / seeds;
    }
  }
  std::printf("IWAE_1 %.4f, IWAE_8 %.4f, IWAE_64 %.4f\n", b1, b8, b64);
  EXPECT_GT(b8, b1 + 5);  // measured: -36.3, -15.2, -10.7 nats
  EXPECT_GT(b64, b8 + 2);
}

TEST(CUVAE_DEVICE_SUITE(Iwae), ActiveUnitsCountTheMeansThatVary) {
  auto cpu = make_cpu_backend(1);
  auto m = random_model(*cpu, small_vae(), 1, 6, 3.f);
  // Unit 1's mean ignores the image: fc_mu's row 1 zero.
  std::vector<float> v = download(*cpu, m->params().values());
  const ParamInfo& wm = m->params().infos()[*m->params().find("fc_mu.weight")];
  std::fill(v.begin() + wm.offset + 6, v.begin() + wm.offset + 12, 0.f);
  cpu->to_device(m->params().values(), v.data());
  const HostTensor x = images(4);
  const Buffer xd = test::upload(*cpu, x);
  const ActiveUnits u = active_units(*cpu, *m, Batch{xd, {}});
  const Reference ref = reference(*cpu, *m, x, 1, rng_key(1, RngPurpose::eval, 0));
  EXPECT_EQ(u.latent, 3);
  int active = 0;
  for (int l = 0; l < 3; ++l) {
    double mu = 0, var = 0;
    for (const auto& r : ref.mu) mu += r[static_cast<std::size_t>(l)] / kImages;
    for (const auto& r : ref.mu) var += std::pow(r[static_cast<std::size_t>(l)] - mu, 2) / kImages;
    EXPECT_NEAR(u.variance[static_cast<std::size_t>(l)], var, 1e-5 * std::max(var, 1e-3)) << l;
    active += var > 0.01;
  }
  EXPECT_EQ(u.variance[1], 0.0);
  EXPECT_EQ(u.active, active);
  EXPECT_EQ(u.active, 2);
}

TEST(CUVAE_DEVICE_SUITE(Iwae), AModelWithoutAPosteriorIsRefused) {
  auto cpu = make_cpu_backend(1);
  ModelConfig c = default_config("ae");
  c.input_dim = 10, c.hidden = {6}, c.latent = 3;
  std::unique_ptr<Model> m = make_model(c);
  m->allocate(*cpu, 16);
  const Buffer xd = test::upload(*cpu, images(5));
  EXPECT_EQ(test::error_of([&] { importance_weighted(*cpu, *m, Batch{xd, {}}, 4, RngKey{}); }),
            "eval --iwae: the ae model has no posterior q(z|x); the importance-weighted bound needs a vae or a cvae checkpoint");
}

}  // namespace
}  // namespace cuvae
