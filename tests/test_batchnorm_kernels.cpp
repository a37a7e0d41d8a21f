// BatchNorm2d + activation on the device backend (host/cuda/batchnorm.cu, kernels/batchnorm.cuh)
// against the CPU backend's op (host/cpu/batchnorm.cpp) over reference_batchnorm.hpp's table and
// every activation: training forward (y, save_mean, save_invstd, the running update), eval forward
// (nothing else written), backward (dx, dgamma, dbeta), outputs poisoned with NaN, two runs the same
// bits; a captured training step replays the running update; the shape errors are the CPU's.
// Run: ctest --test-dir build/<dir> -R batchnorm_kernels --output-on-failure
#include <gmock/gmock.h>

#include <string>
#include <vector>

#include "device_backend.hpp"
#include "reference_batchnorm.hpp"

namespace cuvae {
namespace {

using test::BatchNormCase;
using test::BatchNormInputs;
using test::download;
using test::HostTensor;
using test::poisoned_on;
using test::upload;

constexpr float kMomentum = 0.1f, kEps = 1e-5f;

struct Outputs {
  std::vector<float> y, save_mean, save_invstd, running_mean, running_var, dx, dgamma, dbeta;
};

// A training (or eval) forward and, in training, the backward of `in` on `dev`, every output poisoned first.
Outputs run_on(Backend& dev, const BatchNormCase& c, const BatchNormInputs& in, bool training, Activation act) {
  const Shape ch{c.channels};
  Buffer x = upload(dev, in.x), gamma = upload(dev, in.gamma), beta = upload(dev, in.beta), dy = upload(dev, in.dy);
  Buffer rm = upload(dev, in.running_mean), rv = upload(dev, in.running_var);
  Buffer y = poisoned_on(dev, in.x.shape), sm = poisoned_on(dev, ch), si = poisoned_on(dev, ch);
  Buffer dx = poisoned_on(dev, in.x.shape), dgamma = poisoned_on(dev, ch), dbeta = poisoned_on(dev, ch);
  dev.batchnorm2d_forward(x, gamma, beta, training, kMomentum, kEps, rm, rv, sm, si, act, y);
  if (training) dev.batchnorm2d_backward(x, y, act, dy, gamma, sm, si, dx, dgamma, dbeta);
  return {download(dev, y),  download(dev, sm), download(dev, si),     download(dev, rm),
          download(dev, rv), download(dev, dx), download(dev, dgamma), download(dev, dbeta)};
}

::testing::AssertionResult same_bits(const Outputs& a, const Outputs& b) {
  const std::vector<float> Outputs::*fields[] = {&Outputs::y,  &Outputs::save_mean, &Outputs::save_invstd,
                                                  &Outputs::running_mean, &Outputs::running_var, &Outputs::dx,
                                                  &Outputs::dgamma, &Outputs::dbeta};
  for (std::size_t f = 0; f < std::size(fields); ++f)
    if (!test::bitwise_equal(a.*fields[f], b.*fields[f])) return ::testing::AssertionFailure() << "output " << f << " differs";
  return ::testing::AssertionSuccess();
}

class BatchNormKernels : public ::testing::TestWithParam<BatchNormCase> {};

TEST_P(BatchNormKernels, MatchTheCpuOpAndRepeatBitwise) {
  const BatchNormCase& c = GetParam();
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  for (const bool training : {true, false})
    for (const Activation act : test::batchnorm_activations()) {
      const std::string what = std::string(c.name) + (training ? " training " : " eval ") + std::string(to_string(act));
      const BatchNormInputs in(c, 11);
      const Outputs got = run_on(*dev, c, in, training, act), want = run_on(*cpu, c, in, training, act);
      auto as_double = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
      EXPECT_TRUE(test::all_close(got.y, want.y, 1e-5, what + " y"));
      EXPECT_TRUE(test::all_close(got.running_mean, want.running_mean, 1e-6, what + " running_mean"));
      EXPECT_TRUE(test::all_close(got.running_var, want.running_var, 1e-6, what + " running_var"));
      if (training) {
        EXPECT_TRUE(test::all_close(got.save_mean, want.save_mean, 1e-6, what + " save_mean"));
        EXPECT_TRUE(test::all_close(got.save_invstd, want.save_invstd, 1e-6, what + " save_invstd"));
        // dx cancels to far below its terms with few values per channel (reference_batchnorm.hpp).
        const test::BatchNormRef r = test::batchnorm_ref(c, in, true, kMomentum, kEps, act);
        EXPECT_TRUE(test::all_close(got.dx, as_double(want.dx), r.dx_rtol(1e-5), what + " dx"));
        EXPECT_TRUE(test::all_close(got.dgamma, want.dgamma, 1e-5, what + " dgamma"));
        EXPECT_TRUE(test::all_close(got.dbeta, want.dbeta, 1e-5, what + " dbeta"));
      } else {
        EXPECT_TRUE(test::bitwise_equal(got.running_mean, in.running_mean.v)) << what << ": running_mean updated in eval";
        EXPECT_TRUE(test::bitwise_equal(got.running_var, in.running_var.v)) << what << ": running_var updated in eval";
        for (std::size_t i = 0; i < got.save_mean.size(); ++i)
          EXPECT_TRUE(std::isnan(got.save_mean[i]) && std::isnan(got.save_invstd[i])) << what << ": save_* written in eval";
      }
      EXPECT_TRUE(same_bits(run_on(*dev, c, in, training, act), got)) << what << ": a second run differs";
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, BatchNormKernels, ::testing::ValuesIn(test::batchnorm_cases()),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

// Three training steps through run_step (warm-up, capture, replay on a GPU): the running statistics
// compound as three direct calls on the CPU do (the op allocates and synchronises nothing).
TEST(CUVAE_DEVICE_SUITE(BatchNormKernelSteps), CapturedStepReplaysTheRunningUpdate) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  const BatchNormCase c{"c3_5x5_b2", 3, 5, 5, 2};
  const BatchNormInputs in(c, 12);
  std::vector<float> running[2][2];
  for (int k = 0; k < 2; ++k) {
    Backend& b = k == 0 ? *dev : *cpu;
    Buffer x = upload(b, in.x), gamma = upload(b, in.gamma), beta = upload(b, in.beta);
    Buffer rm = upload(b, in.running_mean), rv = upload(b, in.running_var);
    Buffer y = poisoned_on(b, in.x.shape), sm = poisoned_on(b, {c.channels}), si = poisoned_on(b, {c.channels});
    for (int step = 0; step < 3; ++step)
      b.run_step(7, [&] {
        b.batchnorm2d_forward(x, gamma, beta, true, 0.5f, kEps, rm, rv, sm, si, Activation::leaky_relu, y);
      });
    running[k][0] = download(b, rm), running[k][1] = download(b, rv);
  }
  EXPECT_TRUE(test::all_close(running[0][0], running[1][0], 1e-6, "running_mean"));
  EXPECT_TRUE(test::all_close(running[0][1], running[1][1], 1e-6, "running_var"));
  EXPECT_FALSE(test::bitwise_equal(running[1][0], in.running_mean.v)) << "three steps changed nothing";
}

TEST(CUVAE_DEVICE_SUITE(BatchNormKernelErrors), ShapesAreCheckedFirstAsOnTheCpu) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  auto message = [](Backend& b) {
    Buffer x(b, Shape{2, 12}), y(b, Shape{2, 12}), g(b, Shape{5}), c3(b, Shape{3});
    return test::error_of(
        [&] { b.batchnorm2d_forward(x, g, c3, true, 0.1f, kEps, c3, c3, c3, c3, Activation::leaky_relu, y); });
  };
  std::string want = message(*cpu);
  EXPECT_THAT(want, ::testing::StartsWith("batchnorm2d_forward: shapes disagree: x cpu[2, 12] with 5 channels"));
  for (std::size_t at; (at = want.find("cpu[")) != std::string::npos;) want.replace(at, 3, "cuda");
  EXPECT_EQ(message(*dev), want);
}

}  // namespace
}  // namespace cuvae
