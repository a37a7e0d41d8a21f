// Adam/AdamW (CPU reference) against the update torch.optim.Adam(W) documents, step by step in
// double, and the bias-correction property of the first step.
#include "host/cpu/ops.hpp"
#include "support.hpp"

namespace cuvae {
namespace {

using test::HostTensor;

void check_against_double(double weight_decay) {
  const int n = 1001;
  AdamConfig cfg;
  cfg.lr = 3e-3, cfg.weight_decay = weight_decay;
  HostTensor p = test::random_tensor({n}, 1), m({n}), v({n});
  std::vector<double> rp(p.v.begin(), p.v.end()), rm(n), rv(n);
  for (int t = 1; t <= 5; ++t) {
    HostTensor g = test::random_tensor({n}, 100 + t, -2, 2);
    cpu::adam_step(p.t(), g.t(), m.t(), v.t(), cfg, t);
    const double bc1 = 1 - std::pow(0.9, t), bc2 = 1 - std::pow(0.999, t);
    for (int i = 0; i < n; ++i) {
      rp[i] *= 1 - double(cfg.lr) * weight_decay;
      rm[i] = 0.9 * rm[i] + 0.1 * g[i];
      rv[i] = 0.999 * rv[i] + 0.001 * double(g[i]) * g[i];
      rp[i] -= cfg.lr / bc1 * rm[i] / (std::sqrt(rv[i]) / std::sqrt(bc2) + 1e-8);
    }
  }
  EXPECT_TRUE(test::all_close(p.v, rp, 1e-6, "params"));
  EXPECT_TRUE(test::all_close(m.v, rm, 1e-6, "exp_avg"));
  EXPECT_TRUE(test::all_close(v.v, rv, 1e-6, "exp_avg_sq"));
}

TEST(Adam, MatchesTorchUpdateInDouble) { check_against_double(0.0); }
TEST(Adam, DecoupledWeightDecayMatchesAdamW) { check_against_double(0.05); }

TEST(Adam, FirstStepMovesEachParameterByLr) {
  // With bias correction, step 1 is p -= lr * g / (|g| + eps): a move of lr against the sign.
  HostTensor p = test::random_tensor({64}, 2), g = test::random_tensor({64}, 3, 0.1f, 1.f), m({64}), v({64});
  for (int i = 0; i < 64; i += 2) g[i] = -g[i];
  const std::vector<float> before = p.v;
  cpu::adam_step(p.t(), g.t(), m.t(), v.t(), AdamConfig{}, 1);
  for (int i = 0; i < 64; ++i) EXPECT_NEAR(p[i] - before[i], g[i] > 0 ? -1e-3 : 1e-3, 1e-7) << i;
}

}  // namespace
}  // namespace cuvae
