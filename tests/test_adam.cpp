// Adam/AdamW (CPU reference) against the update torch.optim.Adam(W) documents, step by step in
// double, and the bias-correction property of the first step.
#include "host/cpu/ops.hpp"
#include "support.hpp"

namespace cuvae {
namespace {

using test::HostTensor;

StepScalars scalars(const AdamConfig& cfg, std::int64_t t, std::int64_t epoch = 1, double lr_decay = 1.0) {
  Schedule s;
  s.adam = cfg, s.lr_decay = lr_decay;
  return step_scalars(s, t, epoch);
}

void check_against_double(double weight_decay, double l2 = 0.0) {
  const int n = 1001;
  AdamConfig cfg;
  cfg.lr = 3e-3, cfg.weight_decay = weight_decay, cfg.l2 = l2;
  HostTensor p = test::random_tensor({n}, 1), m({n}), v({n});
  std::vector<double> rp(p.v.begin(), p.v.end()), rm(n), rv(n);
  for (int t = 1; t <= 5; ++t) {
    HostTensor g = test::random_tensor({n}, 100 + t, -2, 2);
    cpu::adam_step(p.t(), g.t(), m.t(), v.t(), scalars(cfg, t));
    const double bc1 = 1 - std::pow(0.9, t), bc2 = 1 - std::pow(0.999, t);
    for (int i = 0; i < n; ++i) {
      const double gi = g[i] + l2 * rp[i];  // torch.optim.Adam(weight_decay=l2): the L2 term in the gradient
      rp[i] *= 1 - double(cfg.lr) * weight_decay;
      rm[i] = 0.9 * rm[i] + 0.1 * gi;
      rv[i] = 0.999 * rv[i] + 0.001 * gi * gi;
      rp[i] -= cfg.lr / bc1 * rm[i] / (std::sqrt(rv[i]) / std::sqrt(bc2) + 1e-8);
    }
  }
  EXPECT_TRUE(test::all_close(p.v, rp, 1e-6, "params"));
  EXPECT_TRUE(test::all_close(m.v, rm, 1e-6, "exp_avg"));
  EXPECT_TRUE(test::all_close(v.v, rv, 1e-6, "exp_avg_sq"));
}

TEST(Adam, MatchesTorchUpdateInDouble) { check_against_double(0.0); }
TEST(Adam, DecoupledWeightDecayMatchesAdamW) { check_against_double(0.05); }
TEST(Adam, L2PenaltyMatchesAdamWeightDecay) { check_against_double(0.0, 0.1); }

TEST(Adam, FirstStepMovesEachParameterByLr) {
  // With bias correction, step 1 is p -= lr * g / (|g| + eps): a move of lr against the sign.
  HostTensor p = test::random_tensor({64}, 2), g = test::random_tensor({64}, 3, 0.1f, 1.f), m({64}), v({64});
  for (int i = 0; i < 64; i += 2) g[i] = -g[i];
  const std::vector<float> before = p.v;
  cpu::adam_step(p.t(), g.t(), m.t(), v.t(), scalars(AdamConfig{}, 1));
  for (int i = 0; i < 64; ++i) EXPECT_NEAR(p[i] - before[i], g[i] > 0 ? -1e-3 : 1e-3, 1e-7) << i;
}

TEST(Adam, LearningRateDecaysPerEpochAsExponentialLR) {
  // torch.optim.lr_scheduler.ExponentialLR stepped once per epoch: lr_e = lr * gamma^(e - 1).
  AdamConfig cfg;
  cfg.lr = 2e-3;
  EXPECT_FLOAT_EQ(scalars(cfg, 1, 1, 0.5).lr, 2e-3f);
  EXPECT_FLOAT_EQ(scalars(cfg, 1, 4, 0.5).lr, 2.5e-4f);
  // The first step of epoch 3 moves each parameter by lr * gamma^2.
  HostTensor p = test::random_tensor({16}, 4), g = test::random_tensor({16}, 5, 0.1f, 1.f), m({16}), v({16});
  const std::vector<float> before = p.v;
  cpu::adam_step(p.t(), g.t(), m.t(), v.t(), scalars(cfg, 1, 3, 0.9));
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(p[i] - before[i], -2e-3 * 0.81, 1e-8) << i;
}

TEST(Schedule, KlWeightRisesLinearlyFromZero) {
  Schedule s;
  s.beta = 0.5, s.kl_warmup = 4;
  const float want[] = {0.f, 0.125f, 0.25f, 0.375f, 0.5f, 0.5f};
  for (int t = 1; t <= 6; ++t) EXPECT_FLOAT_EQ(step_scalars(s, t, 1).beta, want[t - 1]) << "step " << t;
  s.kl_warmup = 0;
  EXPECT_FLOAT_EQ(step_scalars(s, 1, 1).beta, 0.5f);
}

}  // namespace
}  // namespace cuvae
