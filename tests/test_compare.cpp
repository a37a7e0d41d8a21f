// The linear algebra of `cuvae compare pca-ae` (app/compare.cpp) on subspaces with known angles.
#include <gtest/gtest.h>

#include <cmath>

#include "app/compare.hpp"

namespace cuvae {
namespace {

// A [D, K] row-major matrix from its K columns.
std::vector<double> from_columns(const std::vector<std::vector<double>>& cols) {
  const std::size_t D = cols[0].size(), K = cols.size();
  std::vector<double> m(D * K);
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t d = 0; d < D; ++d) m[d * K + k] = cols[k][d];
  return m;
}

TEST(Compare, PrincipalAnglesOfKnownSubspaces) {
  const double t = 30.0 * M_PI / 180.0;
  // span(e1, e2) against span(e1, cos t e2 + sin t e3) in R^4: angles 0 and 30 degrees.
  const auto a = from_columns({{1, 0, 0, 0}, {0, 1, 0, 0}});
  const auto b = from_columns({{1, 0, 0, 0}, {0, std::cos(t), std::sin(t), 0}});
  std::vector<double> angles = principal_angles(a, b, 4, 2);
  ASSERT_EQ(angles.size(), 2u);
  EXPECT_NEAR(angles[0], 0.0, 1e-6);
  EXPECT_NEAR(angles[1], 30.0, 1e-6);
  // Neither basis needs to be orthonormal: mixed and scaled columns span the same spaces.
  const auto a2 = from_columns({{3, 2, 0, 0}, {0, -0.5, 0, 0}});
  const auto b2 = from_columns({{2, std::cos(t), std::sin(t), 0}, {0, 4 * std::cos(t), 4 * std::sin(t), 0}});
  angles = principal_angles(a2, b2, 4, 2);
  EXPECT_NEAR(angles[0], 0.0, 1e-6);
  EXPECT_NEAR(angles[1], 30.0, 1e-6);
  // Orthogonal subspaces: 90 degrees each.
  angles = principal_angles(a, from_columns({{0, 0, 1, 0}, {0, 0, 0, 1}}), 4, 2);
  EXPECT_NEAR(angles[0], 90.0, 1e-6);
  EXPECT_NEAR(angles[1], 90.0, 1e-6);
}

TEST(Compare, RankDeficientDecoderIsAnError) {
  const auto a = from_columns({{1, 0, 0}, {2, 0, 0}});
  try {
    principal_angles(a, a, 3, 2);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "compare: the decoder weight does not have full rank");
  }
}

}  // namespace
}  // namespace cuvae
