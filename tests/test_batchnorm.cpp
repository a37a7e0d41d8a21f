// BatchNorm2d + activation on the CPU (host/cpu/batchnorm.cpp): training and eval forward and the
// backward against the plain double loops of reference_batchnorm.hpp over its table of shapes and
// every activation, outputs poisoned with NaN; the gradients against central finite differences;
// the running statistics after two steps; PyTorch's BatchNorm2d + LeakyReLU on the same inputs
// (tests/python/batchnorm_reference.py); the shape and value errors.
#include <gmock/gmock.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "host/cpu/ops.hpp"
#include "reference_batchnorm.hpp"
#include "support.hpp"

namespace cuvae {
namespace {

using test::BatchNormCase;
using test::BatchNormInputs;
using test::error_of;
using test::HostTensor;

constexpr float kMomentum = 0.1f, kEps = 1e-5f;

// What a forward call writes (and the running statistics it may update, copies of the inputs').
struct Forward {
  HostTensor y, save_mean, save_invstd, running_mean, running_var;
};
Forward forward(const BatchNormCase& c, BatchNormInputs& in, bool training, Activation act, float momentum = kMomentum) {
  Forward f{test::poisoned(in.x.shape), test::poisoned({c.channels}), test::poisoned({c.channels}), in.running_mean,
            in.running_var};
  cpu::batchnorm2d_forward(in.x.t(), in.gamma.t(), in.beta.t(), training, momentum, kEps, f.running_mean.t(),
                           f.running_var.t(), f.save_mean.t(), f.save_invstd.t(), act, f.y.t());
  return f;
}

class BatchNormCpu : public ::testing::TestWithParam<BatchNormCase> {};

TEST_P(BatchNormCpu, TrainingForwardMatchesDoubleLoops) {
  const BatchNormCase& c = GetParam();
  for (const Activation act : test::batchnorm_activations()) {
    BatchNormInputs in(c, 1);
    const Forward f = forward(c, in, true, act);
    const test::BatchNormRef r = test::batchnorm_ref(c, in, true, kMomentum, kEps, act);
    const std::string what = std::string(c.name) + " " + std::string(to_string(act));
    EXPECT_TRUE(test::all_close(f.y.v, r.y, 1e-5, what + " y"));
    EXPECT_TRUE(test::all_close(f.save_mean.v, r.mean, 1e-6, what + " save_mean"));
    EXPECT_TRUE(test::all_close(f.save_invstd.v, r.invstd, 1e-6, what + " save_invstd"));
    EXPECT_TRUE(test::all_close(f.running_mean.v, r.running_mean, 1e-6, what + " running_mean"));
    EXPECT_TRUE(test::all_close(f.running_var.v, r.running_var, 1e-6, what + " running_var"));
  }
}

TEST_P(BatchNormCpu, EvalForwardUsesTheRunningStatisticsAndUpdatesNothing) {
  const BatchNormCase& c = GetParam();
  for (const Activation act : test::batchnorm_activations()) {
    BatchNormInputs in(c, 2);
    const Forward f = forward(c, in, false, act);
    const std::string what = std::string(c.name) + " " + std::string(to_string(act));
    EXPECT_TRUE(test::all_close(f.y.v, test::batchnorm_ref(c, in, false, kMomentum, kEps, act).y, 1e-5, what + " y"));
    EXPECT_EQ(f.running_mean.v, in.running_mean.v) << what;
    EXPECT_EQ(f.running_var.v, in.running_var.v) << what;
    for (std::size_t i = 0; i < f.save_mean.v.size(); ++i)
      EXPECT_TRUE(std::isnan(f.save_mean.v[i]) && std::isnan(f.save_invstd.v[i])) << what << ": save_* written";
  }
}

TEST_P(BatchNormCpu, BackwardMatchesDoubleLoops) {
  const BatchNormCase& c = GetParam();
  for (const Activation act : test::batchnorm_activations()) {
    BatchNormInputs in(c, 3);
    const Forward f = forward(c, in, true, act);
    HostTensor dx = test::poisoned(in.x.shape), dgamma = test::poisoned({c.channels}), dbeta = test::poisoned({c.channels});
    HostTensor y = f.y, save_mean = f.save_mean, save_invstd = f.save_invstd;
    cpu::batchnorm2d_backward(in.x.t(), y.t(), act, in.dy.t(), in.gamma.t(), save_mean.t(), save_invstd.t(), dx.t(),
                              dgamma.t(), dbeta.t());
    const test::BatchNormRef r = test::batchnorm_ref(c, in, true, kMomentum, kEps, act);
    const std::string what = std::string(c.name) + " " + std::string(to_string(act));
    EXPECT_TRUE(test::all_close(dx.v, r.dx, r.dx_rtol(1e-5), what + " dx"));
    EXPECT_TRUE(test::all_close(dgamma.v, r.dgamma, 1e-5, what + " dgamma"));
    EXPECT_TRUE(test::all_close(dbeta.v, r.dbeta, 1e-5, what + " dbeta"));
  }
}

// The CPU backend runs the channels on its pool: the same bits as the plain loops for any thread
// count, training forward (with the running statistics) and backward.
TEST_P(BatchNormCpu, ChannelsOnThePoolGiveTheSameBits) {
  const BatchNormCase& c = GetParam();
  BatchNormInputs in(c, 4);
  const Forward ref = forward(c, in, true, Activation::leaky_relu);
  HostTensor dx_ref = test::poisoned(in.x.shape), dg_ref = test::poisoned({c.channels}), db_ref = test::poisoned({c.channels});
  HostTensor y = ref.y, sm = ref.save_mean, si = ref.save_invstd;
  cpu::batchnorm2d_backward(in.x.t(), y.t(), Activation::leaky_relu, in.dy.t(), in.gamma.t(), sm.t(), si.t(), dx_ref.t(),
                            dg_ref.t(), db_ref.t());
  for (int threads : {1, 2, 3}) {
    SCOPED_TRACE(threads);
    Forward f{test::poisoned(in.x.shape), test::poisoned({c.channels}), test::poisoned({c.channels}), in.running_mean,
              in.running_var};
    cpu::batchnorm2d_forward(in.x.t(), in.gamma.t(), in.beta.t(), true, kMomentum, kEps, f.running_mean.t(),
                             f.running_var.t(), f.save_mean.t(), f.save_invstd.t(), Activation::leaky_relu, f.y.t(),
                             test::pool(threads).get());
    EXPECT_EQ(f.y.v, ref.y.v);
    EXPECT_EQ(f.save_invstd.v, ref.save_invstd.v);
    EXPECT_EQ(f.running_var.v, ref.running_var.v);
    EXPECT_EQ(f.running_mean.v, ref.running_mean.v);
    HostTensor dx = test::poisoned(in.x.shape), dg = test::poisoned({c.channels}), db = test::poisoned({c.channels});
    cpu::batchnorm2d_backward(in.x.t(), y.t(), Activation::leaky_relu, in.dy.t(), in.gamma.t(), sm.t(), si.t(), dx.t(),
                              dg.t(), db.t(), test::pool(threads).get());
    EXPECT_EQ(dx.v, dx_ref.v);
    EXPECT_EQ(dg.v, dg_ref.v);
    EXPECT_EQ(db.v, db_ref.v);
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, BatchNormCpu, ::testing::ValuesIn(test::batchnorm_cases()),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

// L = sum(r * y) for a fixed r (the case's dy): the backward's dx, dgamma and dbeta against central
// differences of L in float64 through the reference's training forward (smooth activations).
TEST(BatchNormCpuGradients, MatchFiniteDifferences) {
  const BatchNormCase c{"c2_3x5_b2", 2, 3, 5, 2};
  for (const Activation act : {Activation::none, Activation::sigmoid}) {
    BatchNormInputs in(c, 4);
    const Forward f = forward(c, in, true, act);
    HostTensor dx = test::poisoned(in.x.shape), dgamma = test::poisoned({c.channels}), dbeta = test::poisoned({c.channels});
    HostTensor y = f.y, save_mean = f.save_mean, save_invstd = f.save_invstd;
    cpu::batchnorm2d_backward(in.x.t(), y.t(), act, in.dy.t(), in.gamma.t(), save_mean.t(), save_invstd.t(), dx.t(),
                              dgamma.t(), dbeta.t());
    auto loss = [&] {
      const std::vector<double> yr = test::batchnorm_ref(c, in, true, kMomentum, kEps, act).y;
      double l = 0;
      for (std::size_t i = 0; i < yr.size(); ++i) l += yr[i] * in.dy.v[i];
      return l;
    };
    auto check = [&](HostTensor& p, const HostTensor& grad, const char* name) {
      for (std::size_t i = 0; i < p.v.size(); i += 1 + p.v.size() / 13) {
        const float keep = p.v[i], up = keep + 1e-2f, down = keep - 1e-2f;
        p.v[i] = up;
        const double l_up = loss();
        p.v[i] = down;
        const double l_down = loss();
        p.v[i] = keep;
        const double fd = (l_up - l_down) / (double(up) - double(down));
        EXPECT_NEAR(grad.v[i], fd, 1e-3 * std::max(1.0, std::fabs(fd))) << to_string(act) << " " << name << "[" << i << "]";
      }
    };
    check(in.x, dx, "x"), check(in.gamma, dgamma, "gamma"), check(in.beta, dbeta, "beta");
  }
}

// Two training steps on different batches (momentum 0.3): the running statistics compound, then an
// eval forward normalises with them.
TEST(BatchNormCpuRunning, TwoStepsThenEval) {
  const BatchNormCase c{"c7_7x7_b2", 7, 7, 7, 2};
  const double m = 0.3;
  BatchNormInputs step1(c, 5), step2(c, 6);
  const Forward f1 = forward(c, step1, true, Activation::leaky_relu, float(m));
  step2.running_mean = f1.running_mean, step2.running_var = f1.running_var;
  const Forward f2 = forward(c, step2, true, Activation::leaky_relu, float(m));
  const test::BatchNormRef r1 = test::batchnorm_ref(c, step1, true, m, kEps, Activation::leaky_relu);
  const test::BatchNormRef r2 = test::batchnorm_ref(c, step2, true, m, kEps, Activation::leaky_relu);
  std::vector<double> want_mean, want_var;
  const double n = double(c.batch) * double(c.plane());
  for (int ch = 0; ch < c.channels; ++ch) {  // from the initial statistics, in double
    const std::size_t k = static_cast<std::size_t>(ch);
    const double var2 = 1 / (r2.invstd[k] * r2.invstd[k]) - kEps;
    want_mean.push_back((1 - m) * r1.running_mean[k] + m * r2.mean[k]);
    want_var.push_back((1 - m) * r1.running_var[k] + m * var2 * n / (n - 1));
  }
  EXPECT_TRUE(test::all_close(f2.running_mean.v, want_mean, 1e-5, "running_mean"));
  EXPECT_TRUE(test::all_close(f2.running_var.v, want_var, 1e-5, "running_var"));
  BatchNormInputs eval = step1;
  eval.running_mean = f2.running_mean, eval.running_var = f2.running_var;
  const Forward fe = forward(c, eval, false, Activation::leaky_relu);
  EXPECT_TRUE(test::all_close(fe.y.v, test::batchnorm_ref(c, eval, false, m, kEps, Activation::leaky_relu).y, 1e-5, "eval y"));
}

// ---- PyTorch: torch.nn.BatchNorm2d + LeakyReLU in float64 on the same inputs ----

void write_f32(const std::filesystem::path& p, const std::vector<float>& v) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
}
std::vector<double> read_f64(const std::filesystem::path& p, std::size_t n) {
  std::vector<double> v(n);
  std::ifstream in(p, std::ios::binary);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(double)));
  if (!in) ADD_FAILURE() << p << ": fewer than " << n << " doubles";
  return v;
}

TEST(BatchNormTorch, TwoTrainingStepsBackwardAndEvalMatchPyTorch) {
  if (!test::python_has("torch")) GTEST_SKIP() << test::python_path() << " with torch not found (python3-torch)";
  const BatchNormCase c{"c5_6x7_b3", 5, 6, 7, 3};
  const std::filesystem::path dir = test::fresh_dir();
  BatchNormInputs in(c, 7), second(c, 8);
  const std::vector<std::pair<const char*, const HostTensor*>> inputs{
      {"x1", &in.x}, {"x2", &second.x}, {"gamma", &in.gamma}, {"beta", &in.beta},
      {"running_mean", &in.running_mean}, {"running_var", &in.running_var}, {"dy", &in.dy}};
  for (const auto& [name, t] : inputs) write_f32(dir / (std::string(name) + ".f32"), t->v);
  const std::string cmd = test::python() + " " + std::string(CUVAE_SOURCE_DIR) + "/tests/python/batchnorm_reference.py " +
                          test::shell_quote(dir.string()) + " " + std::to_string(c.batch) + " " +
                          std::to_string(c.channels) + " " + std::to_string(c.h) + " " + std::to_string(c.w) + " " +
                          std::to_string(kMomentum) + " " + std::to_string(kEps) + " 2>&1";
  std::string output;
  ASSERT_EQ(test::run_command(cmd, output), 0) << cmd << "\n" << output;
  const std::size_t N = in.x.v.size(), C = static_cast<std::size_t>(c.channels);
  auto ref = [&](const char* name, std::size_t n) { return read_f64(dir / (std::string(name) + ".f64"), n); };

  const Activation act = Activation::leaky_relu;
  Forward f1 = forward(c, in, true, act);
  HostTensor dx = test::poisoned(in.x.shape), dgamma = test::poisoned({c.channels}), dbeta = test::poisoned({c.channels});
  cpu::batchnorm2d_backward(in.x.t(), f1.y.t(), act, in.dy.t(), in.gamma.t(), f1.save_mean.t(), f1.save_invstd.t(),
                            dx.t(), dgamma.t(), dbeta.t());
  EXPECT_TRUE(test::all_close(f1.y.v, ref("y1", N), 1e-5, "y1"));
  EXPECT_TRUE(test::all_close(dx.v, ref("dx1", N), 1e-5, "dx1"));
  EXPECT_TRUE(test::all_close(dgamma.v, ref("dgamma1", C), 1e-5, "dgamma1"));
  EXPECT_TRUE(test::all_close(dbeta.v, ref("dbeta1", C), 1e-5, "dbeta1"));
  EXPECT_TRUE(test::all_close(f1.save_mean.v, ref("mean1", C), 1e-6, "save_mean"));
  EXPECT_TRUE(test::all_close(f1.save_invstd.v, ref("invstd1", C), 1e-6, "save_invstd"));
  EXPECT_TRUE(test::all_close(f1.running_mean.v, ref("running_mean1", C), 1e-6, "running_mean1"));
  EXPECT_TRUE(test::all_close(f1.running_var.v, ref("running_var1", C), 1e-6, "running_var1"));
  second.running_mean = f1.running_mean, second.running_var = f1.running_var;
  const Forward f2 = forward(c, second, true, act);
  EXPECT_TRUE(test::all_close(f2.running_mean.v, ref("running_mean2", C), 1e-6, "running_mean2"));
  EXPECT_TRUE(test::all_close(f2.running_var.v, ref("running_var2", C), 1e-6, "running_var2"));
  in.running_mean = f2.running_mean, in.running_var = f2.running_var;
  EXPECT_TRUE(test::all_close(forward(c, in, false, act).y.v, ref("y_eval", N), 1e-5, "y_eval"));
}

// ---- errors: one line naming the op and the shapes ----

TEST(BatchNormCpuErrors, ShapesAndValues) {
  HostTensor x({2, 12}), y({2, 12}), g({3}), b({3}), rm({3}), rv({3}), sm({3}), si({3}), g5({5}), b4({4});
  auto fwd = [&](const Tensor& xt, const Tensor& gt, const Tensor& bt, bool training, float momentum, float eps) {
    return error_of([&] {
      cpu::batchnorm2d_forward(xt, gt, bt, training, momentum, eps, rm.t(), rv.t(), sm.t(), si.t(), Activation::none,
                               y.t());
    });
  };
  EXPECT_EQ(fwd(x.t(), g5.t(), b.t(), true, 0.1f, 1e-5f),
            "batchnorm2d_forward: shapes disagree: x cpu[2, 12] with 5 channels, y cpu[2, 12], gamma cpu[5], beta cpu[3], "
            "running_mean cpu[3], running_var cpu[3], save_mean cpu[3], save_invstd cpu[3] (want [B, C*H*W] and [C])");
  EXPECT_EQ(fwd(x.t(), g.t(), b4.t(), false, 0.1f, 1e-5f),
            "batchnorm2d_forward: shapes disagree: x cpu[2, 12] with 3 channels, y cpu[2, 12], gamma cpu[3], beta cpu[4], "
            "running_mean cpu[3], running_var cpu[3], save_mean cpu[3], save_invstd cpu[3] (want [B, C*H*W] and [C])");
  EXPECT_EQ(fwd(x.t(), g.t(), b.t(), true, 1.5f, 1e-5f), "batchnorm2d_forward: momentum 1.500000 must be in [0, 1]");
  EXPECT_EQ(fwd(x.t(), g.t(), b.t(), true, 0.1f, 0.f), "batchnorm2d_forward: eps 0.000000 must be a positive number");
  // One value per channel: PyTorch's "Expected more than 1 value per channel when training"; eval is fine.
  HostTensor x1({1, 3}), y1({1, 3});
  EXPECT_EQ(error_of([&] {
              cpu::batchnorm2d_forward(x1.t(), g.t(), b.t(), true, 0.1f, 1e-5f, rm.t(), rv.t(), sm.t(), si.t(),
                                       Activation::leaky_relu, y1.t());
            }),
            "batchnorm2d_forward: expected more than 1 value per channel when training, got x cpu[1, 3] with 3 channels");
  cpu::batchnorm2d_forward(x1.t(), g.t(), b.t(), false, 0.1f, 1e-5f, rm.t(), rv.t(), sm.t(), si.t(),
                           Activation::leaky_relu, y1.t());
  HostTensor dy({2, 12}), dx({2, 11}), dg({3}), db({3});
  EXPECT_EQ(error_of([&] {
              cpu::batchnorm2d_backward(x.t(), y.t(), Activation::relu, dy.t(), g.t(), sm.t(), si.t(), dx.t(), dg.t(),
                                        db.t());
            }),
            "batchnorm2d_backward: shapes disagree: x cpu[2, 12] with 3 channels, y cpu[2, 12], dy cpu[2, 12], dx cpu[2, 11], "
            "gamma cpu[3], save_mean cpu[3], save_invstd cpu[3], dgamma cpu[3], dbeta cpu[3] (want [B, C*H*W] and [C])");
  EXPECT_EQ(error_of([&] {
              cpu::batchnorm2d_backward(x1.t(), y1.t(), Activation::relu, y1.t(), g.t(), sm.t(), si.t(), y1.t(), dg.t(),
                                        db.t());
            }),
            "batchnorm2d_backward: expected more than 1 value per channel when training, got x cpu[1, 3] with 3 channels");
}

}  // namespace
}  // namespace cuvae
