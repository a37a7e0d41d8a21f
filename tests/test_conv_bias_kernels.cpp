// kernels/conv_bias.cuh on the SIMT runtime against plain CPU loops (host/cpu/activation.hpp):
// the per-channel bias and activation of NCHW planes, and dx * act'(x), for every activation, at
// odd sizes with a partial last block, outputs NaN-poisoned so every element must be written.
#include "host/cpu/activation.hpp"
#include "kernels/conv_bias.cuh"

#include <utility>
#include "test_simt_util.hpp"

namespace {

using cuvae::Activation;
namespace kb = cuvae::kernels::conv_bias;

namespace kg = cuvae::kernels::gemm;
// Each activation with the kernels' code for it (host/cuda/launch_support.hpp's act_kind).
constexpr std::pair<Activation, int> kActs[] = {{Activation::none, kg::kActNone},
                                                {Activation::relu, kg::kActRelu},
                                                {Activation::sigmoid, kg::kActSigmoid},
                                                {Activation::leaky_relu, kg::kActLeakyRelu}};
constexpr int kThreads = 64;

TEST(ConvBiasKernels, ChannelBiasAndActivationMatchTheLoops) {
  const int B = 3, C = 5, plane = 7 * 9;  // 945 values: a partial last block
  const long long count = static_cast<long long>(B) * C * plane;
  const auto x = simt_test::random_floats(static_cast<std::size_t>(count), 1, -2.f, 2.f);
  const auto bias = simt_test::random_floats(C, 2);
  for (const auto& [act, code] : kActs) {
    std::vector<float> y = x;
    std::vector<double> ref(y.size());
    for (long long i = 0; i < count; ++i)
      ref[static_cast<std::size_t>(i)] = cuvae::cpu::activate(act, x[static_cast<std::size_t>(i)] + bias[(i / plane) % C]);
    cuvae::launch(kb::channel_bias_act, dim3(static_cast<unsigned>((count + kThreads - 1) / kThreads)), dim3(kThreads), 0,
                  nullptr, y.data(), count, C, plane, bias.data(), code);
    EXPECT_TRUE(simt_test::all_close(y, ref, 1e-6)) << static_cast<int>(act);
  }
}

TEST(ConvBiasKernels, TimesTheDerivativeMatchesTheLoops) {
  const long long count = 1001;
  for (const auto& [act, code] : kActs) {
    // x as the activation's output: relu's and leaky_relu's with exact zeros and negatives, sigmoid's in (0, 1).
    auto x = act == Activation::sigmoid ? simt_test::random_floats(count, 3, 0.02f, 0.98f) : simt_test::random_floats(count, 3);
    for (std::size_t i = 0; i < x.size(); i += 4) x[i] = act == Activation::sigmoid ? 0.5f : 0.f;
    const auto g = simt_test::random_floats(count, 4);
    std::vector<float> dx = g;
    std::vector<double> ref(dx.size());
    for (std::size_t i = 0; i < ref.size(); ++i) ref[i] = double(g[i]) * cuvae::cpu::derivative_from_output(act, x[i]);
    cuvae::launch(kb::times_derivative, dim3(static_cast<unsigned>((count + kThreads - 1) / kThreads)), dim3(kThreads), 0,
                  nullptr, dx.data(), x.data(), count, code);
    EXPECT_TRUE(simt_test::all_close(dx, ref, 1e-6)) << static_cast<int>(act);
  }
}

}  // namespace
