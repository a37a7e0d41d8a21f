// Linear layer ops (CPU reference): forward and backward against plain double loops, backward
// against central finite differences, odd sizes, poisoned outputs, shape errors.
#include <gmock/gmock.h>

#include "host/backend.hpp"
#include "host/cpu/ops.hpp"
#include "support.hpp"

namespace cuvae {
namespace {

using test::HostTensor;

double act_d(Activation a, double v) {
  if (a == Activation::relu) return v > 0 ? v : 0;
  if (a == Activation::sigmoid) return 1 / (1 + std::exp(-v));
  if (a == Activation::leaky_relu) return v > 0 ? v : double(kLeakyReluSlope) * v;
  return v;
}

struct Sizes { int B, in, out; };

class LinearTest : public ::testing::TestWithParam<Activation> {};

TEST_P(LinearTest, ForwardMatchesDoubleLoop) {
  const Activation act = GetParam();
  for (Sizes s : {Sizes{37, 53, 29}, Sizes{1, 7, 3}, Sizes{128, 784, 40}}) {
    HostTensor x = test::random_tensor({s.B, s.in}, 1), w = test::random_tensor({s.out, s.in}, 2, -0.3f, 0.3f);
    HostTensor b = test::random_tensor({s.out}, 3), y = test::poisoned({s.B, s.out});
    cpu::linear_forward(x.t(), w.t(), b.t(), act, y.t());
    std::vector<double> ref(y.v.size());
    for (int r = 0; r < s.B; ++r)
      for (int c = 0; c < s.out; ++c) {
        double acc = b[c];
        for (int k = 0; k < s.in; ++k) acc += double(x[r * s.in + k]) * w[c * s.in + k];
        ref[r * s.out + c] = act_d(act, acc);
      }
    EXPECT_TRUE(test::all_close(y.v, ref, 1e-5, "y " + std::string(to_string(act)) + " B=" + std::to_string(s.B)));
  }
}

TEST_P(LinearTest, BackwardMatchesDoubleLoop) {
  const Activation x_act = GetParam();
  const int B = 37, in = 53, out = 29;
  HostTensor x = test::random_tensor({B, in}, 4), w = test::random_tensor({out, in}, 5), dy = test::random_tensor({B, out}, 6);
  if (x_act == Activation::relu || x_act == Activation::leaky_relu)
    for (int i = 0; i < B * in; i += 3) x[i] = 0.f;  // relu outputs have zeros (leaky_relu's: negatives too)
  if (x_act == Activation::sigmoid) for (float& v : x.v) v = 0.5f + 0.45f * v;    // sigmoid outputs lie in (0, 1)
  HostTensor dx = test::poisoned({B, in}), dw = test::poisoned({out, in}), db = test::poisoned({out});
  Tensor dxt = dx.t();
  cpu::linear_backward(x.t(), x_act, w.t(), dy.t(), &dxt, dw.t(), db.t());
  std::vector<double> rdx(dx.v.size()), rdw(dw.v.size()), rdb(db.v.size());
  for (int r = 0; r < B; ++r)
    for (int k = 0; k < in; ++k) {
      double acc = 0;
      for (int c = 0; c < out; ++c) acc += double(dy[r * out + c]) * w[c * in + k];
      double xv = x[r * in + k];
      double d = x_act == Activation::relu        ? (xv > 0)
                 : x_act == Activation::sigmoid    ? xv * (1 - xv)
                 : x_act == Activation::leaky_relu ? (xv > 0 ? 1 : double(kLeakyReluSlope))
                                                   : 1;
      rdx[r * in + k] = acc * d;
    }
  for (int c = 0; c < out; ++c) {
    for (int k = 0; k < in; ++k) {
      double acc = 0;
      for (int r = 0; r < B; ++r) acc += double(dy[r * out + c]) * x[r * in + k];
      rdw[c * in + k] = acc;
    }
    for (int r = 0; r < B; ++r) rdb[c] += dy[r * out + c];
  }
  EXPECT_TRUE(test::all_close(dx.v, rdx, 1e-5, "dx"));
  EXPECT_TRUE(test::all_close(dw.v, rdw, 1e-5, "dw"));
  EXPECT_TRUE(test::all_close(db.v, rdb, 1e-5, "db"));
}

INSTANTIATE_TEST_SUITE_P(Activations, LinearTest,
                         ::testing::Values(Activation::none, Activation::relu, Activation::sigmoid, Activation::leaky_relu),
                         [](const ::testing::TestParamInfo<Activation>& p) { return std::string(to_string(p.param)); });

// Two stacked layers: u -> x = relu(u) -> y = sigmoid(x w^T + b); L = sum(G * y). The backward
// op's gradients (dw, db, and dx carried through relu to du) against finite differences.
TEST(Linear, BackwardMatchesFiniteDifferences) {
  const int B = 5, in = 7, out = 4;
  HostTensor u = test::random_tensor({B, in}, 7), w = test::random_tensor({out, in}, 8), b = test::random_tensor({out}, 9);
  HostTensor G = test::random_tensor({B, out}, 10);
  for (float& v : u.v) v += v >= 0 ? 0.05f : -0.05f;  // keep the finite differences off the ReLU kink
  auto loss = [&] {
    HostTensor x({B, in}), y({B, out});
    for (std::size_t i = 0; i < u.v.size(); ++i) x[i] = std::max(u[i], 0.f);
    cpu::linear_forward(x.t(), w.t(), b.t(), Activation::sigmoid, y.t());
    double L = 0;
    for (std::size_t i = 0; i < y.v.size(); ++i) L += double(G[i]) * y[i];
    return L;
  };
  HostTensor x({B, in}), y({B, out}), dy({B, out});
  for (std::size_t i = 0; i < u.v.size(); ++i) x[i] = std::max(u[i], 0.f);
  cpu::linear_forward(x.t(), w.t(), b.t(), Activation::sigmoid, y.t());
  for (std::size_t i = 0; i < y.v.size(); ++i) dy[i] = G[i] * y[i] * (1 - y[i]);  // through the sigmoid
  HostTensor dx({B, in}), dw({out, in}), db({out});
  Tensor dxt = dx.t();
  cpu::linear_backward(x.t(), Activation::relu, w.t(), dy.t(), &dxt, dw.t(), db.t());
  const double h = 1e-3;
  std::vector<double> fu, fw, fb;
  for (std::size_t i = 0; i < u.v.size(); ++i) fu.push_back(test::central_difference(u.v, i, h, loss));
  for (std::size_t i = 0; i < w.v.size(); ++i) fw.push_back(test::central_difference(w.v, i, h, loss));
  for (std::size_t i = 0; i < b.v.size(); ++i) fb.push_back(test::central_difference(b.v, i, h, loss));
  EXPECT_TRUE(test::all_close(dx.v, fu, 1e-2, "d/du"));
  EXPECT_TRUE(test::all_close(dw.v, fw, 1e-2, "d/dw"));
  EXPECT_TRUE(test::all_close(db.v, fb, 1e-2, "d/db"));
}

TEST(Linear, ShapeMismatchNamesTheShapes) {
  HostTensor x({4, 5}), w({3, 6}), b({3}), y({4, 3});
  try {
    cpu::linear_forward(x.t(), w.t(), b.t(), Activation::none, y.t());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("linear_forward: shapes disagree: x cpu[4, 5], w cpu[3, 6]"));
  }
}

// OpenBLAS's SSE3 fallback on a CPU with wider vectors gets a note that names the fix; any other
// choice gets none.
TEST(Linear, BlasKernelNoteNamesTheCoreTypeToUse) {
  EXPECT_EQ(blas_kernel_note("SkylakeX", true, true), "");
  EXPECT_EQ(blas_kernel_note("Haswell", true, false), "");
  EXPECT_EQ(blas_kernel_note("Prescott", false, false), "");  // nothing better to pick
  const std::string avx512 = blas_kernel_note("Prescott", true, true), avx2 = blas_kernel_note("Prescott", true, false);
  EXPECT_THAT(avx512, ::testing::HasSubstr("which has AVX-512; OPENBLAS_CORETYPE=SkylakeX in the environment"));
  EXPECT_THAT(avx2, ::testing::HasSubstr("which has AVX2; OPENBLAS_CORETYPE=Haswell in the environment"));
  EXPECT_EQ(avx512.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace cuvae
