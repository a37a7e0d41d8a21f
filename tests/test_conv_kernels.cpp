// Conv2d / ConvTranspose2d on the device backend (host/cuda/conv.cu, kernels/conv.cuh): for every
// geometry of reference_conv.hpp's table and each activation, forward and backward (dx times
// act'(x), dW, db) against the plain double loops, outputs poisoned with NaN; two runs give the
// same bits; the path without dx; TF32 and BF16 within their tolerances. In the SIMT build also
// the launcher's knobs: every FP32 tile gives the same bits, forced split counts, bad settings.
// Run: ctest --test-dir build/<dir> -R conv_kernels --output-on-failure
#include <gmock/gmock.h>

#include <string>
#include <vector>

#include "device_backend.hpp"
#include "reference_conv.hpp"
#if defined(CUVAE_SIMT)
#include "host/cuda/conv.hpp"
#endif

namespace cuvae {
namespace test {
// The case's name, not its bytes, in the test names ctest lists.
inline void PrintTo(const ConvCase& c, std::ostream* os) { *os << c.name; }
}  // namespace test
namespace {

using test::ConvCase;
using test::download;
using test::HostTensor;
using test::poisoned_on;
using test::upload;
using cuda::Precision;

double tolerance(Precision p) { return p == Precision::fp32 ? 1e-5 : p == Precision::tf32 ? 1e-3 : 1e-2; }
const char* name_of(Precision p) { return p == Precision::fp32 ? "fp32" : p == Precision::tf32 ? "tf32" : "bf16"; }

HostTensor weight_of(const ConvShape& s, std::uint64_t seed) {
  return test::random_tensor({s.small_c(), s.big_c(), s.kh, s.kw}, seed, -0.3f, 0.3f);
}

// An activation's output as the layer input x: relu has exact zeros, sigmoid lies in (0, 1).
HostTensor input_of(const ConvCase& c, Activation x_act, std::uint64_t seed) {
  HostTensor x = x_act == Activation::sigmoid ? test::random_tensor({c.batch, c.s.in_dim()}, seed, 0.02f, 0.98f)
                                              : test::random_tensor({c.batch, c.s.in_dim()}, seed);
  if (x_act == Activation::relu)
    for (std::size_t i = 0; i < x.v.size(); i += 3) x.v[i] = 0.f;
  return x;
}

struct Forward {
  std::vector<float> y;
};
Forward forward_on(Backend& dev, const ConvCase& c, const HostTensor& x, const HostTensor& w, const HostTensor& b,
                   Activation act) {
  Buffer xd = upload(dev, x), wd = upload(dev, w), bd = upload(dev, b);
  Buffer y = poisoned_on(dev, {c.batch, c.s.out_dim()});
  dev.conv2d_forward(xd, wd, bd, c.s, act, y);
  return {download(dev, y)};
}

struct Grads {
  std::vector<float> dx, dw, db;
};
Grads backward_on(Backend& dev, const ConvCase& c, const HostTensor& x, Activation x_act, const HostTensor& w,
                  const HostTensor& dy, bool with_dx) {
  Buffer xd = upload(dev, x), wd = upload(dev, w), dyd = upload(dev, dy);
  Buffer dx = poisoned_on(dev, x.shape), dw = poisoned_on(dev, w.shape), db = poisoned_on(dev, {c.s.out_c});
  Tensor dxt = dx;
  dev.conv2d_backward(xd, x_act, wd, dyd, c.s, with_dx ? &dxt : nullptr, dw, db);
  return {download(dev, dx), download(dev, dw), download(dev, db)};
}

class ConvKernels : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvKernels, ForwardMatchesDoubleLoopsAndRepeatsBitwise) {
  const ConvCase& c = GetParam();
  auto dev = CUVAE_DEVICE_OR_SKIP();
  const HostTensor x = test::random_tensor({c.batch, c.s.in_dim()}, 1), w = weight_of(c.s, 2);
  const HostTensor b = test::random_tensor({c.s.out_c}, 3);
  for (const Activation act : {Activation::none, Activation::relu, Activation::sigmoid}) {
    const std::string what = std::string(c.name) + " y " + std::string(to_string(act));
    const Forward f = forward_on(*dev, c, x, w, b, act);
    EXPECT_TRUE(test::all_close(f.y, test::conv_forward_ref(c.s, c.batch, x.v, w.v, b.v, act), 1e-5, what));
    EXPECT_TRUE(test::bitwise_equal(forward_on(*dev, c, x, w, b, act).y, f.y)) << what << ": a second run differs";
  }
}

TEST_P(ConvKernels, BackwardMatchesDoubleLoopsAndRepeatsBitwise) {
  const ConvCase& c = GetParam();
  auto dev = CUVAE_DEVICE_OR_SKIP();
  const HostTensor w = weight_of(c.s, 5), dy = test::random_tensor({c.batch, c.s.out_dim()}, 6);
  for (const Activation x_act : {Activation::none, Activation::relu, Activation::sigmoid}) {
    const HostTensor x = input_of(c, x_act, 4);
    const std::string what = std::string(c.name) + " " + std::string(to_string(x_act));
    const Grads g = backward_on(*dev, c, x, x_act, w, dy, true);
    const test::ConvGrads ref = test::conv_backward_ref(c.s, c.batch, x.v, x_act, w.v, dy.v);
    EXPECT_TRUE(test::all_close(g.dx, ref.dx, 1e-5, what + " dx"));
    EXPECT_TRUE(test::all_close(g.dw, ref.dw, 1e-5, what + " dw"));
    EXPECT_TRUE(test::all_close(g.db, ref.db, 1e-5, what + " db"));
    const Grads again = backward_on(*dev, c, x, x_act, w, dy, true);
    EXPECT_TRUE(test::bitwise_equal(again.dx, g.dx)) << what << ": dx differs on a second run";
    EXPECT_TRUE(test::bitwise_equal(again.dw, g.dw)) << what << ": dw differs on a second run";
    EXPECT_TRUE(test::bitwise_equal(again.db, g.db)) << what << ": db differs on a second run";
    // Without dx: the same dW and db bits, and dx left as it was (NaN).
    const Grads no_dx = backward_on(*dev, c, x, x_act, w, dy, false);
    EXPECT_TRUE(test::bitwise_equal(no_dx.dw, g.dw)) << what << ": dw without dx";
    EXPECT_TRUE(test::bitwise_equal(no_dx.db, g.db)) << what << ": db without dx";
    for (float v : no_dx.dx) ASSERT_TRUE(std::isnan(v)) << what << ": dx written although not asked for";
  }
}

TEST_P(ConvKernels, TensorCorePrecisionsWithinTolerance) {
  const ConvCase& c = GetParam();
#if defined(__SANITIZE_THREAD__)
  // The wmma emulation takes 20-40 s a case under TSan on 2 cores at the three largest geometries;
  // the same kernels and loaders run there at the nine others.
  if (c.batch * c.s.out_dim() * c.s.weight_cols() > 80000) GTEST_SKIP() << "too slow under ThreadSanitizer; smaller cases cover it";
#endif
  for (const Precision p : {Precision::tf32, Precision::bf16}) {
    CudaOptions o;
    o.precision = p;
    auto dev = CUVAE_DEVICE_OR_SKIP(o);
    const std::string what = std::string(c.name) + " " + name_of(p);
    const HostTensor x = input_of(c, Activation::relu, 7), w = weight_of(c.s, 8);
    const HostTensor b = test::random_tensor({c.s.out_c}, 9), dy = test::random_tensor({c.batch, c.s.out_dim()}, 10);
    const Forward f = forward_on(*dev, c, x, w, b, Activation::sigmoid);
    EXPECT_TRUE(test::all_close(f.y, test::conv_forward_ref(c.s, c.batch, x.v, w.v, b.v, Activation::sigmoid),
                                tolerance(p), what + " y"));
    const Grads g = backward_on(*dev, c, x, Activation::relu, w, dy, true);
    const test::ConvGrads ref = test::conv_backward_ref(c.s, c.batch, x.v, Activation::relu, w.v, dy.v);
    EXPECT_TRUE(test::all_close(g.dx, ref.dx, tolerance(p), what + " dx"));
    EXPECT_TRUE(test::all_close(g.dw, ref.dw, tolerance(p), what + " dw"));
    EXPECT_TRUE(test::all_close(g.db, ref.db, 1e-5, what + " db"));  // db is an FP32 sum at any precision
    EXPECT_TRUE(test::bitwise_equal(backward_on(*dev, c, x, Activation::relu, w, dy, true).dw, g.dw))
        << what << ": dw differs on a second run";
  }
}

INSTANTIATE_TEST_SUITE_P(Geometries, ConvKernels, ::testing::ValuesIn(test::conv_cases()),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

// leaky_relu in the fused epilogues (forward: bias + act; dx: times act'(x)) on one Conv2d and one
// ConvTranspose2d geometry (each pass kind writes with both epilogues), x a leaky ReLU's output.
TEST(CUVAE_DEVICE_SUITE(ConvKernelsLeakyRelu), ForwardAndBackwardMatchDoubleLoops) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  for (const int k : {2, 8}) {  // k3_s2_p1, t_k3_s2_p1_op1
    const ConvCase c = test::conv_cases()[static_cast<std::size_t>(k)];
    HostTensor x = test::random_tensor({c.batch, c.s.in_dim()}, 21);
    for (std::size_t i = 0; i < x.v.size(); ++i) x.v[i] = i % 3 == 0 ? 0.f : x.v[i] > 0 ? x.v[i] : kLeakyReluSlope * x.v[i];
    const HostTensor w = weight_of(c.s, 22), b = test::random_tensor({c.s.out_c}, 23);
    const HostTensor dy = test::random_tensor({c.batch, c.s.out_dim()}, 24);
    const Forward f = forward_on(*dev, c, x, w, b, Activation::leaky_relu);
    EXPECT_TRUE(test::all_close(f.y, test::conv_forward_ref(c.s, c.batch, x.v, w.v, b.v, Activation::leaky_relu), 1e-5,
                                std::string(c.name) + " y"));
    const Grads g = backward_on(*dev, c, x, Activation::leaky_relu, w, dy, true);
    const test::ConvGrads ref = test::conv_backward_ref(c.s, c.batch, x.v, Activation::leaky_relu, w.v, dy.v);
    EXPECT_TRUE(test::all_close(g.dx, ref.dx, 1e-5, std::string(c.name) + " dx"));
  }
}

TEST(CUVAE_DEVICE_SUITE(ConvKernelErrors), ShapesAreCheckedFirst) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  const ConvCase c = test::conv_cases()[1];
  Buffer x(*dev, Shape{c.batch, c.s.in_dim()}), w(*dev, Shape{c.s.small_c(), c.s.weight_cols()});
  Buffer b(*dev, Shape{c.s.out_c + 1}), y(*dev, Shape{c.batch, c.s.out_dim()});
  EXPECT_THAT(test::error_of([&] { dev->conv2d_forward(x, w, b, c.s, Activation::none, y); }),
              ::testing::HasSubstr("shapes disagree"));
}

TEST(CUVAE_DEVICE_SUITE(ConvKernelErrors), EmptyBatchGivesZeroGradients) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  const ConvShape s = test::conv_cases()[2].s;
  // Views of no rows over real memory (an empty Buffer has none, which the checks refuse).
  Buffer x1 = poisoned_on(*dev, {1, s.in_dim()}), dy1 = poisoned_on(*dev, {1, s.out_dim()});
  const Tensor x{x1.data(), Shape{0, s.in_dim()}, Device::cuda}, dy{dy1.data(), Shape{0, s.out_dim()}, Device::cuda};
  const HostTensor w = weight_of(s, 1);
  Buffer wd = upload(*dev, w), dw = poisoned_on(*dev, w.shape), db = poisoned_on(*dev, {s.out_c});
  Buffer b = poisoned_on(*dev, {s.out_c});
  dev->conv2d_forward(x, wd, b, s, Activation::relu, dy);  // nothing to do
  dev->conv2d_backward(x, Activation::none, wd, dy, s, &x, dw, db);
  for (float v : download(*dev, dw)) EXPECT_EQ(v, 0.f);
  for (float v : download(*dev, db)) EXPECT_EQ(v, 0.f);
}

#if defined(CUVAE_HAVE_CUDNN) && !defined(CUVAE_SIMT)
// --conv cudnn (host/cuda/cudnn_conv.cu) on the GPU: every geometry of the table, forward with
// bias and each activation, backward with act'(x), against the plain double loops at FP32's
// tolerance (FMA math: no TF32), two runs the same bits (deterministic algorithms), empty batch.
class CudnnConvKernels : public ::testing::TestWithParam<ConvCase> {};

TEST_P(CudnnConvKernels, MatchDoubleLoopsAndRepeatBitwise) {
  const ConvCase& c = GetParam();
  CudaOptions o;
  o.conv = cuda::ConvImpl::cudnn;
  auto dev = CUVAE_DEVICE_OR_SKIP(o);
  EXPECT_THAT(dev->describe(), ::testing::HasSubstr("cuDNN 9"));
  const HostTensor x = input_of(c, Activation::relu, 14), w = weight_of(c.s, 15), b = test::random_tensor({c.s.out_c}, 16);
  const HostTensor dy = test::random_tensor({c.batch, c.s.out_dim()}, 17);
  for (const Activation act : {Activation::none, Activation::relu, Activation::sigmoid, Activation::leaky_relu}) {
    const std::string what = std::string(c.name) + " cudnn " + std::string(to_string(act));
    const Forward f = forward_on(*dev, c, x, w, b, act);
    EXPECT_TRUE(test::all_close(f.y, test::conv_forward_ref(c.s, c.batch, x.v, w.v, b.v, act), 1e-5, what + " y"));
    EXPECT_TRUE(test::bitwise_equal(forward_on(*dev, c, x, w, b, act).y, f.y)) << what << ": a second run differs";
  }
  const Grads g = backward_on(*dev, c, x, Activation::relu, w, dy, true);
  const test::ConvGrads ref = test::conv_backward_ref(c.s, c.batch, x.v, Activation::relu, w.v, dy.v);
  EXPECT_TRUE(test::all_close(g.dx, ref.dx, 1e-5, std::string(c.name) + " cudnn dx"));
  EXPECT_TRUE(test::all_close(g.dw, ref.dw, 1e-5, std::string(c.name) + " cudnn dw"));
  EXPECT_TRUE(test::all_close(g.db, ref.db, 1e-5, std::string(c.name) + " cudnn db"));
  const Grads again = backward_on(*dev, c, x, Activation::relu, w, dy, true);
  EXPECT_TRUE(test::bitwise_equal(again.dw, g.dw) && test::bitwise_equal(again.dx, g.dx)) << c.name << ": a second run differs";
}

INSTANTIATE_TEST_SUITE_P(Geometries, CudnnConvKernels, ::testing::ValuesIn(test::conv_cases()),
                         [](const auto& param_info) { return std::string(param_info.param.name); });
#endif

#if defined(CUVAE_SIMT)
// The SIMT device has no cuDNN: --conv cudnn is refused when the backend starts, naming it.
TEST(ConvKernelsSimt, CudnnIsRefusedOnTheSimtDevice) {
  CudaOptions o;
  o.conv = cuda::ConvImpl::cudnn;
  try {
    auto dev = test::device_backend(o);
    ADD_FAILURE() << "a SIMT backend with --conv cudnn started";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "--conv cudnn: the SIMT device has no cuDNN (use --conv custom or auto)");
  }
  o.conv = cuda::ConvImpl::automatic;  // auto: our kernels there
  EXPECT_THAT(test::device_backend(o)->describe(), ::testing::HasSubstr("implicit-GEMM conv"));
}

// The launcher's knobs, on the SIMT device directly (its device memory is host memory).
Tensor on_device(HostTensor& h) { return Tensor{h.v.data(), h.shape, Device::cuda}; }

TEST(ConvKernelsSimt, EveryFp32TileGivesTheSameBits) {
  std::vector<float> workspace(static_cast<std::size_t>(cuda::Conv::kWorkspaceFloats));
  for (const ConvCase& c : test::conv_cases()) {
    HostTensor x = input_of(c, Activation::relu, 11), w = weight_of(c.s, 12), b = test::random_tensor({c.s.out_c}, 13);
    HostTensor dy = test::random_tensor({c.batch, c.s.out_dim()}, 14);
    std::vector<float> y0, dx0, dw0;
    for (int tile = 0; tile <= 4; ++tile) {
      cuda::Conv conv(nullptr, Precision::fp32, workspace.data(), cuda::Conv::kWorkspaceFloats);
      conv.force(tile, 0);
      HostTensor y = test::poisoned({c.batch, c.s.out_dim()}), dx = test::poisoned(x.shape), dw = test::poisoned(w.shape);
      HostTensor db = test::poisoned({c.s.out_c});
      conv.forward(on_device(x), on_device(w), on_device(b), c.s, Activation::sigmoid, on_device(y));
      Tensor dxt = on_device(dx);
      conv.backward(on_device(x), Activation::relu, on_device(w), on_device(dy), c.s, &dxt, on_device(dw), on_device(db));
      const std::string what = std::string(c.name) + " tile " + std::to_string(tile) + " (" + conv.last_kernels() + ")";
      if (tile == 0) {
        y0 = y.v, dx0 = dx.v, dw0 = dw.v;
        EXPECT_TRUE(test::all_close(dw.v, test::conv_backward_ref(c.s, c.batch, x.v, Activation::relu, w.v, dy.v).dw,
                                    1e-5, what));
        continue;
      }
      EXPECT_TRUE(test::bitwise_equal(y.v, y0)) << what << ": y";
      EXPECT_TRUE(test::bitwise_equal(dx.v, dx0)) << what << ": dx";
      EXPECT_TRUE(test::bitwise_equal(dw.v, dw0)) << what << ": dw";
    }
  }
}

TEST(ConvKernelsSimt, ForcedSplitCountsSumInOrder) {
  std::vector<float> workspace(static_cast<std::size_t>(cuda::Conv::kWorkspaceFloats));
  const ConvCase c = test::conv_cases()[1];  // k3_s1_p1: K = 3 * 81 = 243 pixels
  HostTensor x = test::random_tensor({c.batch, c.s.in_dim()}, 15), w = weight_of(c.s, 16);
  HostTensor dy = test::random_tensor({c.batch, c.s.out_dim()}, 17);
  const std::vector<double> ref = test::conv_backward_ref(c.s, c.batch, x.v, Activation::none, w.v, dy.v).dw;
  for (int splits : {1, 2, 4, 5, 16, 1000}) {  // 5: 49 pixels, rounded up to 64 (whole k-steps): 4 splits
    cuda::Conv conv(nullptr, Precision::fp32, workspace.data(), cuda::Conv::kWorkspaceFloats);
    conv.force(0, splits);
    HostTensor dw = test::poisoned(w.shape), db = test::poisoned({c.s.out_c});
    conv.backward(on_device(x), Activation::none, on_device(w), on_device(dy), c.s, nullptr, on_device(dw), on_device(db));
    EXPECT_TRUE(test::all_close(dw.v, ref, 1e-5, "splits " + std::to_string(splits) + " (" + conv.last_kernels() + ")"));
    if (splits == 1) {
      EXPECT_THAT(conv.last_kernels(), ::testing::Not(::testing::HasSubstr("splits")));
    } else if (splits == 4 || splits == 5) {
      EXPECT_THAT(conv.last_kernels(), ::testing::HasSubstr("x4 splits"));
    }
  }
}

TEST(ConvKernelsSimt, BadKnobsAreRefused) {
  cuda::Conv fp32(nullptr, Precision::fp32, nullptr, 0), tf32(nullptr, Precision::tf32, nullptr, 0);
  EXPECT_THAT(test::error_of([&] { fp32.force(5, 0); }), ::testing::HasSubstr("conv tile 5"));
  EXPECT_THAT(test::error_of([&] { tf32.force(4, 0); }), ::testing::HasSubstr("1..3 at tf32"));
  EXPECT_THAT(test::error_of([&] { fp32.force(0, -1); }), ::testing::HasSubstr("split count -1"));
  EXPECT_EQ(fp32.describe(), "custom fp32 implicit-GEMM conv");
}
#endif

}  // namespace
}  // namespace cuvae
