// The fast ops' elementwise math (host/cpu/fast/vecmath.hpp) against float64 libm over dense sweeps of
// the floats, its edge values, the fixed lane order of the row sums, and the vectorised loops of the
// fast ops computing the bits that the scalar functions give (this file is built, like
// host/cpu/fast/, without FMA contraction: tests/ops.cmake).
// Run: ctest --test-dir build/<dir> -R FastMath --output-on-failure
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <vector>

#include "host/cpu/fast/fast.hpp"
#include "host/cpu/fast/vecmath.hpp"
#include "support.hpp"

namespace cuvae {
namespace {

using cpu::fast::exp_approx;
using cpu::fast::log1p_unit;
using cpu::fast::sigmoid_approx;

// |got - want| in units of the last place of want (as a float).
double ulps(float got, double want) {
  const float w = static_cast<float>(want);
  const double ulp = std::nextafter(std::fabs(w), std::numeric_limits<float>::infinity()) - std::fabs(w);
  return std::fabs(double(got) - want) / ulp;
}

// About `count` floats spread evenly (by bit pattern, so densely where floats are dense) over
// [lo, hi], lo and hi of the same sign, both ends included.
template <class F>
void sweep(float lo, float hi, std::uint32_t count, F&& f) {
  const float sign = lo < 0.f || hi < 0.f ? -1.f : 1.f;
  std::uint32_t a = std::bit_cast<std::uint32_t>(std::fabs(lo)), b = std::bit_cast<std::uint32_t>(std::fabs(hi));
  if (a > b) std::swap(a, b);
  const std::uint32_t step = std::max<std::uint32_t>(1, (b - a) / count);
  for (std::uint32_t i = a;; i += step) {
    f(sign * std::bit_cast<float>(std::min(i, b)));
    if (i >= b) break;
  }
}

TEST(FastMath, ExpIsWithinOneUlpOverItsNormalRange) {
  double worst = 0;
  float at = 0;
  long n = 0;
  const auto check = [&](float x) {
    const double u = ulps(exp_approx(x), std::exp(double(x)));
    if (u > worst) worst = u, at = x;
    ++n;
  };
  sweep(-87.33f, -1e-30f, 2000000, check);
  sweep(0.f, 88.72f, 2000000, check);
  EXPECT_GT(n, 1000000);
  EXPECT_LE(worst, 1.0) << "at x = " << at;
}

TEST(FastMath, ExpEdges) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(exp_approx(0.f), 1.f);
  EXPECT_EQ(exp_approx(-0.f), 1.f);
  EXPECT_EQ(exp_approx(-87.5f), 0.f);  // below FLT_MIN: 0 where expf gives a subnormal
  EXPECT_EQ(exp_approx(-1e30f), 0.f);
  EXPECT_EQ(exp_approx(-inf), 0.f);
  EXPECT_EQ(exp_approx(88.8f), inf);
  EXPECT_EQ(exp_approx(inf), inf);
  EXPECT_TRUE(std::isnan(exp_approx(std::nanf(""))));
  for (float x : {88.72f, -87.33f})  // the largest finite results are reached, and the smallest normal ones
    EXPECT_LE(ulps(exp_approx(x), std::exp(double(x))), 1.0) << x;
}

TEST(FastMath, Log1pIsWithinThreeUlpsOnTheUnitInterval) {
  double worst = 0, worst_abs = 0;
  float at = 0;
  long n = 0;
  auto check = [&](float e) {
    const double want = std::log1p(double(e));
    const float got = log1p_unit(e);
    const double u = ulps(got, want);
    if (u > worst) worst = u, at = e;
    worst_abs = std::max(worst_abs, std::fabs(got - want));
    ++n;
  };
  sweep(0.f, 1.f, 2000000, check);  // by bit pattern: tiny e (log1p(e) = e) as densely as the rest
  EXPECT_GT(n, 1000000);
  EXPECT_LE(worst, 3.0) << "at e = " << at;
  EXPECT_LE(worst_abs, 2e-7);
  EXPECT_EQ(log1p_unit(0.f), 0.f);
  EXPECT_NEAR(log1p_unit(1.f), std::log(2.0), 1e-7);
  EXPECT_TRUE(std::isnan(log1p_unit(std::nanf(""))));
}

TEST(FastMath, SigmoidMatchesTheLogisticFunction) {
  double worst = 0;
  float at = 0;
  const auto check = [&](float v) {
    const double want = 1.0 / (1.0 + std::exp(-double(v)));
    const double u = want < 1e-37 ? 0 : ulps(sigmoid_approx(v), want);
    if (u > worst) worst = u, at = v;
  };
  sweep(-100.f, -1e-30f, 1000000, check);
  sweep(0.f, 100.f, 1000000, check);
  EXPECT_LE(worst, 3.0) << "at v = " << at;
  EXPECT_EQ(sigmoid_approx(0.f), 0.5f);
  EXPECT_EQ(sigmoid_approx(200.f), 1.f);
  EXPECT_EQ(sigmoid_approx(-200.f), 0.f);
}

TEST(FastMath, LanesAddElementJToLaneJMod8InOrder) {
  std::vector<float> x(83);
  for (std::size_t j = 0; j < x.size(); ++j) x[j] = 1.f + 0.001f * static_cast<float>(j);
  cpu::fast::Lanes lanes;
  lanes.add(x.data(), 80);  // a full block
  lanes.add(x.data() + 80, 3);  // a row's short last block: lanes 0..2
  double want[8] = {};
  for (std::size_t j = 0; j < 80; ++j) want[j % 8] += x[j];
  for (std::size_t j = 80; j < 83; ++j) want[j - 80] += x[j];
  for (int k = 0; k < 8; ++k) EXPECT_EQ(lanes.v[k], want[k]) << "lane " << k;
  EXPECT_EQ(lanes.sum(), ((want[0] + want[1]) + (want[2] + want[3])) + ((want[4] + want[5]) + (want[6] + want[7])));
}

// The Bernoulli gradient, sigmoid(l) - x from e = e^-|l|, as the fast op's vectorised loop wrote
// it (AVX2 lanes on a CPU that has them) and as the scalar functions give it here: the same bits.
TEST(FastMath, VectorisedLoopsGiveTheScalarBits) {
  const std::int64_t B = 3, D = 1031;
  test::HostTensor p = test::random_tensor({B, D}, 1, -40.f, 40.f), x = test::random_tensor({B, D}, 2, 0.f, 1.f);
  test::HostTensor g = test::poisoned({B, D}), rows({B}), term({1});
  const Tensor gt = g.t(), rt = rows.t();
  cpu::fast::likelihood(*test::pool(1), Likelihood::bernoulli, 1.f, p.t(), x.t(), &gt, &rt, term.t());
  std::size_t differ = 0;
  for (std::size_t i = 0; i < g.v.size(); ++i) {
    const float l = p.v[i], e = exp_approx(-std::fabs(l));
    const float want = cpu::fast::sigmoid_from(l, e) - x.v[i];
    differ += std::memcmp(&want, &g.v[i], sizeof want) != 0;
  }
  EXPECT_EQ(differ, 0u) << "of " << g.v.size();
  // And each row's sum is the lane sum of the scalar values.
  for (std::int64_t b = 0; b < B; ++b) {
    std::vector<float> v(static_cast<std::size_t>(D));
    for (std::int64_t j = 0; j < D; ++j) {
      const float l = p.v[static_cast<std::size_t>(b * D + j)], t = x.v[static_cast<std::size_t>(b * D + j)];
      v[static_cast<std::size_t>(j)] = ((l > 0.f ? l : 0.f) - t * l) + log1p_unit(exp_approx(-std::fabs(l)));
    }
    cpu::fast::Lanes lanes;
    for (std::int64_t j0 = 0; j0 < D; j0 += cpu::fast::kBlock) lanes.add(v.data() + j0, std::min(cpu::fast::kBlock, D - j0));
    EXPECT_EQ(rows.v[static_cast<std::size_t>(b)], static_cast<float>(lanes.sum())) << "row " << b;
  }
}

}  // namespace
}  // namespace cuvae
