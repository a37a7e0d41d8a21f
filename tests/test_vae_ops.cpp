// VAE ops (CPU reference): reparameterization (Philox eps), its backward, and the fused loss,
// against double loops and central finite differences.
#include <gmock/gmock.h>

#include "host/cpu/ops.hpp"
#include "support.hpp"

namespace cuvae {
namespace {

using test::HostTensor;

TEST(Reparameterize, MatchesFormulaAndPhilox) {
  const int B = 13, L = 7;  // B*L = 91: not a multiple of the 4 numbers of one Philox block
  HostTensor stats = test::random_tensor({B, 2 * L}, 1), eps = test::poisoned({B, L}), z = test::poisoned({B, L});
  const RngKey key = rng_key(42, RngPurpose::reparam, 3);
  cpu::reparameterize(stats.t(), key, eps.t(), z.t());
  std::vector<double> reps, rz;
  for (int b = 0; b < B; ++b)
    for (int l = 0; l < L; ++l) {
      const std::uint64_t i = static_cast<std::uint64_t>(b * L + l);
      const double e = float4_at(philox_normal4(key, i / 4), static_cast<unsigned>(i % 4));
      reps.push_back(e);
      rz.push_back(stats[b * 2 * L + l] + e * std::exp(0.5 * stats[b * 2 * L + L + l]));
    }
  EXPECT_TRUE(test::all_close(eps.v, reps, 0, "eps"));
  EXPECT_TRUE(test::all_close(z.v, rz, 1e-6, "z"));
  // Another step draws other numbers.
  HostTensor eps2({B, L}), z2({B, L});
  cpu::reparameterize(stats.t(), rng_key(42, RngPurpose::reparam, 4), eps2.t(), z2.t());
  EXPECT_NE(eps.v, eps2.v);
}

TEST(Reparameterize, NoiseIsStandardNormal) {
  HostTensor out({64, 64});
  cpu::normal(rng_key(7, RngPurpose::sample, 0), out.t());
  double sum = 0, sq = 0;
  for (float v : out.v) sum += v, sq += double(v) * v;
  const double n = static_cast<double>(out.v.size()), mean = sum / n, var = sq / n - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.05);  // 4096 samples: standard error 0.016
  EXPECT_NEAR(var, 1.0, 0.07);
}

TEST(Reparameterize, BackwardMatchesFiniteDifferences) {
  const int B = 3, L = 5;
  HostTensor stats = test::random_tensor({B, 2 * L}, 2), G = test::random_tensor({B, L}, 3);
  const RngKey key = rng_key(1, RngPurpose::reparam, 1);
  auto loss = [&] {
    HostTensor eps({B, L}), z({B, L});
    cpu::reparameterize(stats.t(), key, eps.t(), z.t());
    double s = 0;
    for (std::size_t i = 0; i < z.v.size(); ++i) s += double(G[i]) * z[i];
    return s;
  };
  HostTensor eps({B, L}), z({B, L}), dstats = test::random_tensor({B, 2 * L}, 4);
  const std::vector<float> before = dstats.v;
  cpu::reparameterize(stats.t(), key, eps.t(), z.t());
  cpu::reparameterize_backward(stats.t(), eps.t(), G.t(), dstats.t());
  std::vector<double> want;
  for (std::size_t i = 0; i < stats.v.size(); ++i) want.push_back(before[i] + test::central_difference(stats.v, i, 1e-3, loss));
  EXPECT_TRUE(test::all_close(dstats.v, want, 1e-3, "dstats (accumulated)"));
}

double softplus(double l) { return std::max(l, 0.0) + std::log1p(std::exp(-std::fabs(l))); }

TEST(VaeLoss, MatchesDoubleLoopAndIsStableForLargeLogits) {
  const int B = 9, D = 31, L = 6;
  const float beta = 0.7f;
  HostTensor logits = test::random_tensor({B, D}, 5, -6, 6), x = test::random_tensor({B, D}, 6, 0, 1);
  logits[0] = 80.f, logits[1] = -80.f, x[0] = 0.f, x[1] = 1.f;  // exp overflow territory
  HostTensor stats = test::random_tensor({B, 2 * L}, 7, -2, 2);
  HostTensor dlogits = test::poisoned({B, D}), dstats = test::poisoned({B, 2 * L}), terms = test::poisoned({2});
  Tensor dl = dlogits.t(), ds = dstats.t();
  cpu::vae_loss(logits.t(), x.t(), stats.t(), beta, &dl, &ds, terms.t());
  double recon = 0, kl = 0;
  std::vector<double> rdl, rds(dstats.v.size());
  for (int b = 0; b < B; ++b) {
    for (int j = 0; j < D; ++j) {
      const double l = logits[b * D + j], t = x[b * D + j];
      recon += softplus(l) - t * l;
      rdl.push_back(1 / (1 + std::exp(-l)) - t);
    }
    for (int k = 0; k < L; ++k) {
      const double mu = stats[b * 2 * L + k], lv = stats[b * 2 * L + L + k];
      kl += -0.5 * (1 + lv - mu * mu - std::exp(lv));
      rds[b * 2 * L + k] = beta * mu;
      rds[b * 2 * L + L + k] = beta * 0.5 * (std::exp(lv) - 1);
    }
  }
  EXPECT_TRUE(test::all_close(terms.v, std::vector<double>{recon, kl}, 1e-6, "terms"));
  EXPECT_NEAR(terms[0], recon, 1e-6 * recon);
  EXPECT_NEAR(terms[1], kl, 1e-6 * kl);
  EXPECT_FLOAT_EQ(terms.v[0], static_cast<float>(recon));
  EXPECT_TRUE(test::all_close(dlogits.v, rdl, 1e-6, "dlogits"));
  EXPECT_TRUE(test::all_close(dstats.v, rds, 1e-6, "dstats"));
}

TEST(VaeLoss, GradientsMatchFiniteDifferences) {
  const int B = 3, D = 8, L = 4;
  const float beta = 1.3f;
  HostTensor logits = test::random_tensor({B, D}, 8, -3, 3), x = test::random_tensor({B, D}, 9, 0, 1);
  HostTensor stats = test::random_tensor({B, 2 * L}, 10, -1, 1);
  auto loss = [&] {
    HostTensor terms({2});
    cpu::vae_loss(logits.t(), x.t(), stats.t(), beta, nullptr, nullptr, terms.t());
    return double(terms[0]) + beta * double(terms[1]);
  };
  HostTensor dlogits({B, D}), dstats({B, 2 * L}), terms({2});
  Tensor dl = dlogits.t(), ds = dstats.t();
  cpu::vae_loss(logits.t(), x.t(), stats.t(), beta, &dl, &ds, terms.t());
  std::vector<double> fl, fs;
  for (std::size_t i = 0; i < logits.v.size(); ++i) fl.push_back(test::central_difference(logits.v, i, 1e-2, loss));
  for (std::size_t i = 0; i < stats.v.size(); ++i) fs.push_back(test::central_difference(stats.v, i, 1e-2, loss));
  EXPECT_TRUE(test::all_close(dlogits.v, fl, 2e-3, "dlogits"));
  EXPECT_TRUE(test::all_close(dstats.v, fs, 2e-3, "dstats"));
}

TEST(VaeLoss, ShapeMismatchNamesTheShapes) {
  HostTensor logits({4, 10}), x({4, 9}), stats({4, 6}), terms({2});
  try {
    cpu::vae_loss(logits.t(), x.t(), stats.t(), 1.f, nullptr, nullptr, terms.t());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("vae_loss: shapes disagree: logits cpu[4, 10], x cpu[4, 9]"));
  }
}

}  // namespace
}  // namespace cuvae
