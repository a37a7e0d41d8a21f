// The label ops (one_hot, softmax_xent) on the CPU backend and on the device under test (the SIMT
// device always, the GPU when present; tests/device_backend.hpp), in the harness of
// tests/ops_support.hpp: outputs poisoned with NaN first, the [B, C] operands column views of
// wider buffers whose other columns must stay NaN, every element against a double loop.
// Run: ctest --test-dir build/<dir> -R "OneHot|SoftmaxXent" --output-on-failure
#include <gmock/gmock.h>

#include <cmath>

#include "ops_support.hpp"

namespace cuvae {
namespace {

using test::as_float;
using test::columns;
using test::download;
using test::HostTensor;
using test::kTol;
using test::strided;
using test::Strided;
using test::upload_labels;

// cvae: one-hot labels
struct OneHotCase {
  const char* name;
  std::int64_t B, C, offset, width;  // out is columns [offset, offset + C) of [B, width]
};
void PrintTo(const OneHotCase& c, std::ostream* os) { *os << c.name; }
class OpsOneHot : public ::testing::TestWithParam<OneHotCase> {};

TEST_P(OpsOneHot, RowsMatchAPlainLoopAndLeaveTheOtherColumns) {
  const OneHotCase c = GetParam();
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  std::vector<std::int32_t> y(static_cast<std::size_t>(c.B));
  for (std::int64_t b = 0; b < c.B; ++b) y[static_cast<std::size_t>(b)] = static_cast<std::int32_t>((5 * b + 2) % c.C);
  y.back() = static_cast<std::int32_t>(c.C - 1);  // the last class too
  for (Backend* be : {cpu.get(), dev.get()}) {
    SCOPED_TRACE(be->describe());
    Buffer lab = upload_labels(*be, y), out = test::poisoned_on(*be, Shape{c.B, c.width});
    be->one_hot(lab, out.tensor().cols_view(c.offset, c.C));
    const std::vector<float> got = download(*be, out);
    std::int64_t ones = 0;
    for (std::int64_t b = 0; b < c.B; ++b)
      for (std::int64_t j = 0; j < c.width; ++j) {
        const float v = got[static_cast<std::size_t>(b * c.width + j)];
        if (j < c.offset || j >= c.offset + c.C) {
          EXPECT_TRUE(std::isnan(v)) << "row " << b << " column " << j << " outside the view was written";
        } else {
          const float want = j - c.offset == y[static_cast<std::size_t>(b)] ? 1.f : 0.f;
          EXPECT_EQ(v, want) << "row " << b << " column " << j - c.offset;
          ones += v == 1.f;
        }
      }
    EXPECT_EQ(ones, c.B);
  }
}

CUVAE_INSTANTIATE(OpsOneHot,
                  ::testing::Values(OneHotCase{"TenClassesDense", 37, 10, 0, 10},
                                    OneHotCase{"ViewBesideImages", 9, 10, 64, 74},  // [x | onehot] of the cvae
                                    OneHotCase{"OddView", 13, 7, 3, 17}, OneHotCase{"TwoClasses", 5, 2, 1, 4},
                                    OneHotCase{"Wide", 3, 1000, 5, 1010}),
                  [](const auto& tp) { return std::string(tp.param.name); });

// A label outside 0..C-1 is not an index: its row is NaN, the other rows are right, and nothing
// beyond the view is written (the neighbouring columns stay poisoned).
TEST(CUVAE_DEVICE_SUITE(Ops), OneHotLabelOutOfRangeIsANanRowNotAWrite) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  const std::int64_t B = 5, C = 4, W = 9, off = 2;
  const std::vector<std::int32_t> y = {3, -1, 4, 1 << 30, 0};
  for (Backend* be : {cpu.get(), dev.get()}) {
    SCOPED_TRACE(be->describe());
    Buffer lab = upload_labels(*be, y), out = test::poisoned_on(*be, Shape{B, W});
    be->one_hot(lab, out.tensor().cols_view(off, C));
    const std::vector<float> got = download(*be, out);
    for (std::int64_t b = 0; b < B; ++b) {
      const bool valid = y[static_cast<std::size_t>(b)] >= 0 && y[static_cast<std::size_t>(b)] < C;
      for (std::int64_t j = 0; j < W; ++j) {
        const float v = got[static_cast<std::size_t>(b * W + j)];
        if (!valid || j < off || j >= off + C)
          EXPECT_TRUE(std::isnan(v)) << "row " << b << " column " << j;
        else
          EXPECT_EQ(v, j - off == y[static_cast<std::size_t>(b)] ? 1.f : 0.f) << "row " << b << " column " << j;
      }
    }
  }
  Buffer lab = upload_labels(*cpu, y), out(*cpu, Shape{4, C});
  EXPECT_EQ(test::error_of([&] { cpu->one_hot(lab, out); }),
            "one_hot: shapes disagree: labels cpu int32[5, 1], out cpu[4, 4] (want labels [B, 1], out [B, C])");
  Buffer floats(*cpu, Shape{5, 1});
  Buffer out5(*cpu, Shape{5, C});
  EXPECT_EQ(test::error_of([&] { cpu->one_hot(floats, out5); }),
            "one_hot: labels must be a dense int32 tensor, got cpu[5, 1]");
}

// softmax cross-entropy
struct XentCase {
  const char* name;
  std::int64_t B, C, offset, width;  // logits and dlogits are columns [offset, offset + C) of [B, width]
};
void PrintTo(const XentCase& c, std::ostream* os) { *os << c.name; }
class OpsSoftmaxXent : public ::testing::TestWithParam<XentCase> {};

// Labels: row b's label is b % C, except every third row, which gets its first argmax (so the
// correct count is neither 0 nor B); row 0 has two equal maxima (the first one counts).
std::vector<std::int32_t> xent_labels(std::vector<float>& l, std::int64_t B, std::int64_t C, std::int64_t off,
                                      std::int64_t W) {
  if (C >= 4) l[static_cast<std::size_t>(off + 1)] = l[static_cast<std::size_t>(off + 3)] = 9.5f;
  std::vector<std::int32_t> y(static_cast<std::size_t>(B));
  for (std::int64_t b = 0; b < B; ++b) {
    std::int64_t arg = 0;
    for (std::int64_t j = 1; j < C; ++j)
      if (l[static_cast<std::size_t>(b * W + off + j)] > l[static_cast<std::size_t>(b * W + off + arg)]) arg = j;
    y[static_cast<std::size_t>(b)] = static_cast<std::int32_t>(b % 3 == 0 ? arg : b % C);
  }
  return y;
}

// The double reference of one row: value, gradient, and whether its first argmax is y.
double xent_row(const float* l, std::int64_t C, std::int32_t y, std::vector<double>* grad, bool* correct) {
  double m = l[0];
  std::int64_t arg = 0;
  for (std::int64_t j = 1; j < C; ++j)
    if (l[j] > m) m = l[j], arg = j;
  double s = 0;
  for (std::int64_t j = 0; j < C; ++j) s += std::exp(double(l[j]) - m);
  if (grad)
    for (std::int64_t j = 0; j < C; ++j) grad->push_back(std::exp(double(l[j]) - m) / s - (j == y ? 1.0 : 0.0));
  if (correct) *correct = arg == y;
  return std::log(s) + m - l[y];
}

TEST_P(OpsSoftmaxXent, LossRowsGradientAndCorrectCountMatchDoubleLoops) {
  const XentCase c = GetParam();
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  HostTensor p = test::random_tensor({c.B, c.width}, 41, -8.f, 8.f);
  const std::vector<std::int32_t> y = xent_labels(p.v, c.B, c.C, c.offset, c.width);
  std::vector<double> ref_rows, ref_grad;
  double ref_term = 0, ref_correct = 0;
  for (std::int64_t b = 0; b < c.B; ++b) {
    bool ok = false;
    ref_rows.push_back(xent_row(&p.v[static_cast<std::size_t>(b * c.width + c.offset)], c.C,
                                y[static_cast<std::size_t>(b)], &ref_grad, &ok));
    ref_term += ref_rows.back(), ref_correct += ok;
  }
  ASSERT_GT(ref_correct, 0);
  ASSERT_LT(ref_correct, c.B);
  for (Backend* be : {cpu.get(), dev.get()}) {
    SCOPED_TRACE(be->describe());
    be->reserve_rows(c.B);
    Strided pd = strided(*be, p, c.offset, c.C), gd = strided(*be, test::poisoned({c.B, c.width}), c.offset, c.C);
    Buffer lab = upload_labels(*be, y);
    Buffer rows = test::poisoned_on(*be, Shape{c.B}), terms = test::poisoned_on(*be, Shape{2});
    be->softmax_xent(pd.view, lab, &gd.view, &rows.tensor(), terms);
    const std::vector<float> t = download(*be, terms);
    EXPECT_TRUE(test::all_close({t[0]}, std::vector<double>{ref_term}, kTol, "xent term"));
    EXPECT_EQ(t[1], ref_correct) << "correct count";
    EXPECT_TRUE(test::all_close(download(*be, rows), ref_rows, kTol, "rows"));
    EXPECT_TRUE(test::all_close(as_float(columns(download(*be, gd.buf), c.width, c.offset, c.B, c.C)), ref_grad, kTol,
                                "dlogits"));
    const std::vector<float> whole = download(*be, gd.buf);  // columns outside the view stay NaN
    for (std::int64_t j = 0; j < c.width; ++j)
      if (j < c.offset || j >= c.offset + c.C) {
        EXPECT_TRUE(std::isnan(whole[static_cast<std::size_t>(j)])) << j;
      }
    // Without gradient and rows: the same terms, bit for bit; and again (the counters were reset).
    for (int again = 0; again < 2; ++again) {
      Buffer t2 = test::poisoned_on(*be, Shape{2});
      be->softmax_xent(pd.view, lab, nullptr, nullptr, t2);
      EXPECT_TRUE(test::bitwise_equal(t, download(*be, t2)));
    }
  }
}

CUVAE_INSTANTIATE(OpsSoftmaxXent,
                  ::testing::Values(XentCase{"TenClasses", 37, 10, 0, 10}, XentCase{"OddView", 9, 13, 3, 19},
                                    XentCase{"MidView", 6, 130, 2, 135}, XentCase{"Wide", 5, 600, 0, 600},
                                    XentCase{"TwoClasses", 8, 2, 1, 4}),
                  [](const auto& tp) { return std::string(tp.param.name); });

// A label outside 0..C-1 is not an index: its row is NaN (value and gradient), it is not counted,
// and the other rows are untouched.
TEST(CUVAE_DEVICE_SUITE(Ops), SoftmaxXentLabelOutOfRangeIsNanNotARead) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  const std::int64_t B = 4, C = 5;
  HostTensor p = test::random_tensor({B, C}, 42, -3.f, 3.f);
  const std::vector<std::int32_t> y = {2, -1, 5, 1 << 30};
  std::vector<double> grad0;
  const double row0 = xent_row(p.v.data(), C, 2, &grad0, nullptr);
  for (Backend* be : {cpu.get(), dev.get()}) {
    SCOPED_TRACE(be->describe());
    be->reserve_rows(B);
    Buffer pd = test::upload(*be, p), lab = upload_labels(*be, y), g = test::poisoned_on(*be, Shape{B, C});
    Buffer rows = test::poisoned_on(*be, Shape{B}), terms = test::poisoned_on(*be, Shape{2});
    be->softmax_xent(pd, lab, &g.tensor(), &rows.tensor(), terms);
    const std::vector<float> r = download(*be, rows), gv = download(*be, g), t = download(*be, terms);
    EXPECT_TRUE(test::all_close({r[0]}, std::vector<double>{row0}, kTol, "row 0"));
    EXPECT_TRUE(test::all_close(std::vector<float>(gv.begin(), gv.begin() + C), grad0, kTol, "dlogits row 0"));
    for (std::size_t b = 1; b < 4; ++b) {
      EXPECT_TRUE(std::isnan(r[b])) << b;
      for (std::int64_t j = 0; j < C; ++j) EXPECT_TRUE(std::isnan(gv[b * C + static_cast<std::size_t>(j)])) << b;
    }
    EXPECT_TRUE(std::isnan(t[0]));
    EXPECT_LE(t[1], 1.f);
  }
  Buffer pd = test::upload(*cpu, p), t = test::poisoned_on(*cpu, Shape{1});
  Buffer lab = upload_labels(*cpu, y);
  EXPECT_EQ(test::error_of([&] { cpu->softmax_xent(pd, lab, nullptr, nullptr, t); }),
            "softmax_xent: shapes disagree: logits cpu[4, 5], labels cpu int32[4, 1], dlogits none, rows none, terms "
            "cpu[1] (want labels [B, 1], terms [2])");
}

TEST(CUVAE_DEVICE_SUITE(Ops), SoftmaxXentGradientMatchesFiniteDifferences) {
  auto cpu = make_cpu_backend(1);
  HostTensor p = test::random_tensor({3, 6}, 43, -2.f, 2.f), g({3, 6});
  const std::vector<std::int32_t> y = {4, 0, 5};
  Buffer lab = upload_labels(*cpu, y), terms(*cpu, Shape{2});
  const Tensor gt = g.t();
  cpu->softmax_xent(p.t(), lab, &gt, nullptr, terms);
  for (std::size_t i = 0; i < p.v.size(); ++i) {
    const double fd = test::central_difference(p.v, i, 1e-3, [&] {
      double s = 0;
      for (std::int64_t b = 0; b < 3; ++b) s += xent_row(&p.v[static_cast<std::size_t>(b * 6)], 6, y[static_cast<std::size_t>(b)], nullptr, nullptr);
      return s;
    });
    EXPECT_NEAR(g[i], fd, 1e-3 * std::max(1.0, std::fabs(fd))) << i;
  }
}

}  // namespace
}  // namespace cuvae
