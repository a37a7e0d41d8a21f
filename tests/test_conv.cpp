// Conv2d / ConvTranspose2d on the CPU (host/cpu/fast/conv.cpp): forward and backward against the plain
// double loops of reference_conv.hpp over the table of geometries, the gradients against central
// finite differences of a scalar loss, poisoned outputs, and the geometry and shape errors.
#include <gmock/gmock.h>

#include <cstring>

#include "host/cpu/fast/fast.hpp"
#include "reference_conv.hpp"
#include "support.hpp"

namespace cuvae {
namespace {

using test::ConvCase;
using test::error_of;
using test::HostTensor;

HostTensor weight_of(const ConvShape& s, std::uint64_t seed) {
  return test::random_tensor({s.small_c(), s.big_c(), s.kh, s.kw}, seed, -0.3f, 0.3f);
}

class ConvCpu : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvCpu, ForwardMatchesDoubleLoops) {
  const ConvCase& c = GetParam();
  const ConvShape& s = c.s;
  for (const Activation act : {Activation::none, Activation::relu, Activation::sigmoid}) {
    HostTensor x = test::random_tensor({c.batch, s.in_dim()}, 1), w = weight_of(s, 2), b = test::random_tensor({s.out_c}, 3);
    HostTensor y = test::poisoned({c.batch, s.out_dim()});
    cpu::fast::conv2d_forward(*test::pool(2), x.t(), w.t(), b.t(), s, act, y.t());
    EXPECT_TRUE(test::all_close(y.v, test::conv_forward_ref(s, c.batch, x.v, w.v, b.v, act), 1e-5,
                                std::string(c.name) + " y " + std::string(to_string(act))));
  }
}

TEST_P(ConvCpu, BackwardMatchesDoubleLoops) {
  const ConvCase& c = GetParam();
  const ConvShape& s = c.s;
  for (const Activation x_act : {Activation::none, Activation::relu}) {
    HostTensor x = test::random_tensor({c.batch, s.in_dim()}, 4), w = weight_of(s, 5);
    if (x_act == Activation::relu)
      for (std::size_t i = 0; i < x.v.size(); i += 3) x.v[i] = 0.f;  // relu outputs have zeros
    HostTensor dy = test::random_tensor({c.batch, s.out_dim()}, 6);
    HostTensor dx = test::poisoned({c.batch, s.in_dim()}), dw = test::poisoned(w.shape), db = test::poisoned({s.out_c});
    Tensor dxt = dx.t();
    cpu::fast::conv2d_backward(*test::pool(2), x.t(), x_act, w.t(), dy.t(), s, &dxt, dw.t(), db.t());
    const test::ConvGrads g = test::conv_backward_ref(s, c.batch, x.v, x_act, w.v, dy.v);
    const std::string what = std::string(c.name) + " " + std::string(to_string(x_act));
    EXPECT_TRUE(test::all_close(dx.v, g.dx, 1e-5, what + " dx"));
    EXPECT_TRUE(test::all_close(dw.v, g.dw, 1e-5, what + " dw"));
    EXPECT_TRUE(test::all_close(db.v, g.db, 1e-5, what + " db"));
    // Without dx: the same weight gradient, and dx untouched.
    HostTensor dw2 = test::poisoned(w.shape), db2 = test::poisoned({s.out_c});
    cpu::fast::conv2d_backward(*test::pool(2), x.t(), x_act, w.t(), dy.t(), s, nullptr, dw2.t(), db2.t());
    EXPECT_EQ(dw2.v, dw.v);
    EXPECT_EQ(db2.v, db.v);
  }
}

// The chunks' sizes depend only on the shape and their partial sums are added in chunk order: 1
// and 3 threads give the same bits, forward and backward.
TEST_P(ConvCpu, SameBitsForAnyThreadCount) {
  const ConvCase& c = GetParam();
  const ConvShape& s = c.s;
  HostTensor x = test::random_tensor({c.batch, s.in_dim()}, 11), w = weight_of(s, 12), b = test::random_tensor({s.out_c}, 13);
  HostTensor dy = test::random_tensor({c.batch, s.out_dim()}, 14);
  std::vector<std::vector<float>> runs[2];
  for (int k = 0; k < 2; ++k) {
    auto pool = test::pool(k == 0 ? 1 : 3);
    HostTensor y = test::poisoned({c.batch, s.out_dim()}), dx = test::poisoned(x.shape), dw = test::poisoned(w.shape),
               db = test::poisoned(b.shape);
    Tensor dxt = dx.t();
    cpu::fast::conv2d_forward(*pool, x.t(), w.t(), b.t(), s, Activation::relu, y.t());
    cpu::fast::conv2d_backward(*pool, x.t(), Activation::relu, w.t(), dy.t(), s, &dxt, dw.t(), db.t());
    runs[k] = {y.v, dx.v, dw.v, db.v};
  }
  for (std::size_t i = 0; i < runs[0].size(); ++i)
    EXPECT_EQ(std::memcmp(runs[0][i].data(), runs[1][i].data(), runs[0][i].size() * sizeof(float)), 0)
        << c.name << " output " << i << ": 1 and 3 threads differ";
}

// leaky_relu (the conv64 blocks' activation) on one geometry: forward, and dx through act'(x) with
// x a leaky ReLU's output (negative values, exact zeros).
TEST(ConvCpuLeakyRelu, ForwardAndBackwardMatchDoubleLoops) {
  const ConvCase c = test::conv_cases()[2];  // k3_s2_p1
  const ConvShape& s = c.s;
  HostTensor x = test::random_tensor({c.batch, s.in_dim()}, 11), w = weight_of(s, 12), b = test::random_tensor({s.out_c}, 13);
  for (std::size_t i = 0; i < x.v.size(); ++i) x.v[i] = i % 3 == 0 ? 0.f : x.v[i] > 0 ? x.v[i] : kLeakyReluSlope * x.v[i];
  HostTensor y = test::poisoned({c.batch, s.out_dim()});
  cpu::fast::conv2d_forward(*test::pool(2), x.t(), w.t(), b.t(), s, Activation::leaky_relu, y.t());
  EXPECT_TRUE(test::all_close(y.v, test::conv_forward_ref(s, c.batch, x.v, w.v, b.v, Activation::leaky_relu), 1e-5, "y"));
  HostTensor dy = test::random_tensor({c.batch, s.out_dim()}, 14);
  HostTensor dx = test::poisoned(x.shape), dw = test::poisoned(w.shape), db = test::poisoned({s.out_c});
  Tensor dxt = dx.t();
  cpu::fast::conv2d_backward(*test::pool(2), x.t(), Activation::leaky_relu, w.t(), dy.t(), s, &dxt, dw.t(), db.t());
  const test::ConvGrads g = test::conv_backward_ref(s, c.batch, x.v, Activation::leaky_relu, w.v, dy.v);
  EXPECT_TRUE(test::all_close(dx.v, g.dx, 1e-5, "dx"));
  EXPECT_TRUE(test::all_close(dw.v, g.dw, 1e-5, "dw"));
}

INSTANTIATE_TEST_SUITE_P(Geometries, ConvCpu, ::testing::ValuesIn(test::conv_cases()),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

// The loss L = sum(y * r) for a fixed r: dL/dpre = r * act'(pre); the op's gradients against
// central differences of L in float64 through the reference forward.
TEST(ConvCpuGradients, MatchFiniteDifferences) {
  for (const ConvCase& c : test::conv_cases()) {
    if (c.s.in_dim() * c.batch > 400 || c.s.small_c() * c.s.weight_cols() > 400) continue;  // the small ones
    const ConvShape& s = c.s;
    HostTensor x = test::random_tensor({c.batch, s.in_dim()}, 7), w = weight_of(s, 8), b = test::random_tensor({s.out_c}, 9);
    HostTensor r = test::random_tensor({c.batch, s.out_dim()}, 10);
    auto loss = [&] {
      const std::vector<double> y = test::conv_forward_ref(s, c.batch, x.v, w.v, b.v, Activation::none);
      double l = 0;
      for (std::size_t i = 0; i < y.size(); ++i) l += y[i] * r.v[i];
      return l;
    };
    HostTensor dx = test::poisoned(x.shape), dw = test::poisoned(w.shape), db = test::poisoned(b.shape);
    Tensor dxt = dx.t();
    cpu::fast::conv2d_backward(*test::pool(2), x.t(), Activation::none, w.t(), r.t(), s, &dxt, dw.t(), db.t());
    auto check = [&](HostTensor& p, const HostTensor& grad, const char* name) {
      for (std::size_t i = 0; i < p.v.size(); i += std::max<std::size_t>(1, p.v.size() / 17)) {
        const float keep = p.v[i], h = 1e-2f;
        p.v[i] = keep + h;
        const double up = loss();
        p.v[i] = keep - h;
        const double down = loss();
        p.v[i] = keep;
        const double fd = (up - down) / (2.0 * double(h));
        EXPECT_NEAR(grad.v[i], fd, 1e-3 * std::max(1.0, std::fabs(fd))) << c.name << " " << name << "[" << i << "]";
      }
    };
    check(x, dx, "x"), check(w, dw, "w"), check(b, db, "b");
  }
}

TEST(ConvCpuErrors, GeometryAndShapes) {
  ConvShape s;
  s.in_c = 2, s.in_h = 3, s.in_w = 3, s.out_c = 4, s.kh = s.kw = 5;
  HostTensor x({1, 18}), w({4, 2, 5, 5}), b({4}), y({1, 4});
  EXPECT_EQ(error_of([&] { cpu::fast::conv2d_forward(*test::pool(2), x.t(), w.t(), b.t(), s, Activation::none, y.t()); }),
            "conv2d_forward: Conv2d(2, 4, kernel 5x5, stride 1x1, padding 0x0) on 3x3: the kernel is larger than the padded input");
  s.kh = s.kw = 3, s.oph = 1, s.sh = s.sw = 2;
  EXPECT_EQ(error_of([&] { cpu::fast::conv2d_forward(*test::pool(2), x.t(), w.t(), b.t(), s, Activation::none, y.t()); }),
            "conv2d_forward: Conv2d(2, 4, kernel 3x3, stride 2x2, padding 0x0) on 3x3: output_padding is for a ConvTranspose2d");
  s.oph = 0, s.sh = s.sw = 1;
  HostTensor w3({4, 2, 3, 3}), y5({1, 5});
  EXPECT_EQ(error_of([&] { cpu::fast::conv2d_forward(*test::pool(2), x.t(), w3.t(), b.t(), s, Activation::none, y5.t()); }),
            "conv2d_forward: Conv2d(2, 4, kernel 3x3, stride 1x1, padding 0x0) on 3x3: shapes disagree: x cpu[1, 18], "
            "w cpu[4, 2, 3, 3], b cpu[4], y cpu[1, 5]");
  s.transposed = true, s.oph = s.opw = 1;
  HostTensor wt({2, 4, 3, 3}), yt({1, 4 * 5 * 5}), dy({1, 4 * 5 * 5});
  EXPECT_EQ(error_of([&] { cpu::fast::conv2d_forward(*test::pool(2), x.t(), wt.t(), b.t(), s, Activation::none, yt.t()); }),
            "conv2d_forward: ConvTranspose2d(2, 4, kernel 3x3, stride 1x1, padding 0x0, output_padding 1x1) on 3x3: "
            "output_padding must be smaller than the stride");
  s.oph = s.opw = 0;
  HostTensor dwt({2, 4, 3, 3}), db({3});
  EXPECT_EQ(error_of([&] { cpu::fast::conv2d_backward(*test::pool(2), x.t(), Activation::none, wt.t(), dy.t(), s, nullptr, dwt.t(), db.t()); }),
              "conv2d_backward: ConvTranspose2d(2, 4, kernel 3x3, stride 1x1, padding 0x0, output_padding 0x0) "
                                   "on 3x3: shapes disagree: x cpu[1, 18], w cpu[2, 4, 3, 3], dy cpu[1, 100], dx none, "
                                   "dw cpu[2, 4, 3, 3], db cpu[3]");
}

}  // namespace
}  // namespace cuvae
