// The epoch shuffle's reference (datasets/batches.hpp over kernels/philox.cuh): a bijection for
// every size, a function of (seed, epoch) only, and statistically a uniform shuffle. The CUDA
// backend's kernel is checked against it in test_data_kernels.
#include <gmock/gmock.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "datasets/batches.hpp"
#include "host/error.hpp"
#include "support.hpp"

namespace cuvae {
namespace {

using ::testing::HasSubstr;

TEST(Shuffle, IsAPermutationForEverySize) {
  // Sizes at, just under and just over the Feistel domains (powers of 4), and the data set's.
  for (std::int64_t n : {0, 1, 2, 3, 4, 5, 15, 16, 17, 63, 64, 65, 1000, 4095, 4097, 60000, 65536, 65537}) {
    std::vector<std::int64_t> order = shuffled_indices(n, shuffle_key(7, 3));
    ASSERT_EQ(static_cast<std::int64_t>(order.size()), n);
    std::sort(order.begin(), order.end());
    for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(order[static_cast<std::size_t>(i)], i) << "n = " << n;
  }
}

TEST(Shuffle, DependsOnSeedAndEpochOnly) {
  const std::int64_t n = 1000;
  const std::vector<std::int64_t> a = shuffled_indices(n, shuffle_key(7, 3));
  EXPECT_EQ(a, shuffled_indices(n, shuffle_key(7, 3)));
  const std::vector<std::int64_t> other_epoch = shuffled_indices(n, shuffle_key(7, 4));
  const std::vector<std::int64_t> other_seed = shuffled_indices(n, shuffle_key(8, 3));
  auto same_places = [&](const std::vector<std::int64_t>& b) {
    std::int64_t s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) s += a[i] == b[i];
    return s;
  };
  // Two independent shuffles agree in about one place; 10 would be very unlikely.
  EXPECT_LT(same_places(other_epoch), 10);
  EXPECT_LT(same_places(other_seed), 10);
  // Not the identity, and not a rotation of it.
  std::int64_t fixed = 0, rotated = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    fixed += a[static_cast<std::size_t>(i)] == i;
    rotated += a[static_cast<std::size_t>((i + 1) % n)] == (a[static_cast<std::size_t>(i)] + 1) % n;
  }
  EXPECT_LT(fixed, 10);
  EXPECT_LT(rotated, 10);
}

TEST(Shuffle, EveryPositionTakesEveryRowEquallyOften) {
  // 4000 epochs of a 10-row shuffle: count how often row r lands at position i. Each of the 100
  // cells expects 400; chi-square with (10-1)^2 = 81 degrees of freedom (mean 81, sd 12.7).
  const std::int64_t n = 10, epochs = 4000;
  std::vector<double> count(static_cast<std::size_t>(n * n), 0.0);
  for (std::int64_t e = 0; e < epochs; ++e) {
    const std::vector<std::int64_t> order = shuffled_indices(n, shuffle_key(5, e));
    for (std::int64_t i = 0; i < n; ++i) count[static_cast<std::size_t>(i * n + order[static_cast<std::size_t>(i)])] += 1;
  }
  const double expect = static_cast<double>(epochs) / n;
  double chi2 = 0;
  for (double c : count) chi2 += (c - expect) * (c - expect) / expect;
  EXPECT_LT(chi2, 81 + 5 * 12.7) << "positions are not uniform";
  EXPECT_GT(chi2, 81 - 5 * 12.7) << "too uniform to be random";
}

TEST(Shuffle, NeighboursAreUncorrelated) {
  // 60000 rows (Fashion-MNIST's training split): adjacent positions must not hold nearby rows
  // (a weak bijection maps neighbouring indices close together), and position and row must be
  // uncorrelated (Pearson r ~ N(0, 1/sqrt(n)), so |r| < 5/sqrt(n)).
  const std::int64_t n = 60000;
  const std::vector<std::int64_t> order = shuffled_indices(n, shuffle_key(1, 1));
  std::int64_t close = 0;
  for (std::int64_t i = 0; i + 1 < n; ++i)
    close += std::llabs(order[static_cast<std::size_t>(i + 1)] - order[static_cast<std::size_t>(i)]) < n / 100;
  const double p_close = static_cast<double>(close) / (n - 1);  // about 2 * 1/100
  EXPECT_NEAR(p_close, 0.02, 0.003);
  const double mean = (n - 1) / 2.0;
  double sxy = 0, sxx = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    sxy += (i - mean) * (order[static_cast<std::size_t>(i)] - mean);
    sxx += (i - mean) * (i - mean);
  }
  EXPECT_LT(std::abs(sxy / sxx), 5 / std::sqrt(static_cast<double>(n)));
}

TEST(Shuffle, RefusesSizesOutsideIntRange) {
  EXPECT_THAT(test::error_of([] { shuffled_indices(-1, shuffle_key(1, 1)); }),
              HasSubstr("shuffle: -1 rows is outside 0..2147483647"));
  EXPECT_THAT(test::error_of([] { shuffled_indices(std::int64_t{1} << 31, shuffle_key(1, 1)); }),
              HasSubstr("shuffle: 2147483648 rows is outside 0..2147483647"));
}

}  // namespace
}  // namespace cuvae
