// cpu::pca_fit (host/cpu/pca.cpp) against a float64 NumPy eigendecomposition (tests/python/
// pca_reference.py): on data with a known spectrum (one DSYRK chunk and several), on Fashion-MNIST
// when installed, a two-row case checked by hand, and every bad input with its exact message.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "datasets/idx.hpp"
#include "pca_support.hpp"
#include "support.hpp"

namespace cuvae {
namespace {

namespace fs = std::filesystem;
using test::fresh_dir;


std::vector<double> read_f64(const fs::path& file, std::size_t count) {
  std::vector<double> v(count);
  std::ifstream in(file, std::ios::binary);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(count * sizeof(double)));
  EXPECT_TRUE(in && in.gcount() == static_cast<std::streamsize>(count * sizeof(double))) << file;
  return v;
}

struct Reference {
  std::vector<double> mean, variance, components;
};

// Runs tests/python/pca_reference.py on x; an empty Reference (and a test failure) if it fails.
Reference numpy_pca(const std::vector<float>& x, std::int64_t N, std::int64_t D, int K) {
  const fs::path dir = fresh_dir();
  {
    std::ofstream out(dir / "x.f32", std::ios::binary);
    out.write(reinterpret_cast<const char*>(x.data()), static_cast<std::streamsize>(x.size() * sizeof(float)));
  }
  const std::string cmd = test::python() + " " + std::string(CUVAE_SOURCE_DIR) + "/tests/python/pca_reference.py " +
                          (dir / "x.f32").string() + " " + std::to_string(N) + " " + std::to_string(D) + " " +
                          std::to_string(K) + " " + dir.string() + " 2>&1";
  std::string output;
  if (test::run_command(cmd, output) != 0) {
    ADD_FAILURE() << cmd << "\n" << output;
    return {};
  }
  const auto k = static_cast<std::size_t>(K), d = static_cast<std::size_t>(D);
  return {read_f64(dir / "mean.f64", d), read_f64(dir / "variance.f64", k), read_f64(dir / "components.f64", k * d)};
}

// Every check the brief asks of a fit against the NumPy reference.
void expect_matches_numpy(const std::vector<float>& x, std::int64_t N, std::int64_t D, int K,
                          const test::PcaOutputs& got) {
  const Reference ref = numpy_pca(x, N, D, K);
  ASSERT_FALSE(ref.variance.empty());
  const auto k = static_cast<std::size_t>(K), d = static_cast<std::size_t>(D);
  EXPECT_TRUE(test::all_close(got.mean, ref.mean, 1e-6, "mean"));
  for (std::size_t i = 0; i < k; ++i) {
    EXPECT_NEAR(got.variance[i], ref.variance[i], 1e-4 * ref.variance[i]) << "variance[" << i << "]";
    if (i > 0) {
      EXPECT_GE(got.variance[i - 1], got.variance[i]) << "descending at " << i;
    }
  }
  EXPECT_LT(test::max_principal_angle_deg(got.components, ref.components, k, d), 0.1);
  EXPECT_LT(test::orthonormality_error(got.components, k, d), 1e-5);
  EXPECT_TRUE(test::signs_fixed(got.components, k, d));
}

TEST(PcaSupport, PrincipalAnglesOfKnownSubspaces) {
  // Rows e0, e1 against (e0 + e2)/sqrt2, e1: the largest angle is 45 degrees; against themselves 0.
  const double r = std::sqrt(0.5);
  const std::vector<double> a{1, 0, 0, 0, 1, 0}, b{r, 0, r, 0, 1, 0}, c{0, 1, 0, 1, 0, 0};
  EXPECT_NEAR(test::max_principal_angle_deg(a, b, 2, 3), 45.0, 1e-9);
  EXPECT_NEAR(test::max_principal_angle_deg(a, c, 2, 3), 0.0, 1e-6);  // the same plane, rows swapped
  EXPECT_NEAR(test::max_principal_angle_deg(std::vector<double>{1, 0, 0}, std::vector<double>{0, 0, 1}, 1, 3), 90.0,
              1e-9);
}

class KnownSpectrumK : public ::testing::TestWithParam<int> {};

TEST_P(KnownSpectrumK, MatchesNumpyAndThePopulationSpectrum) {
  const int K = GetParam();
  const test::KnownSpectrum s = test::known_spectrum(2000, 50, 7);
  const test::PcaOutputs got = test::fit_cpu(s.x, s.N, s.D, K);
  expect_matches_numpy(s.x, s.N, s.D, K, got);
  // Sample eigenvalues of 2000 rows: within 20% of the population's (their spread is ~sqrt(2/N) = 3%).
  for (std::size_t i = 0; i < static_cast<std::size_t>(K); ++i)
    EXPECT_NEAR(got.variance[i], s.population_variance[i], 0.2 * s.population_variance[i]) << i;
}

INSTANTIATE_TEST_SUITE_P(Pca, KnownSpectrumK, ::testing::Values(1, 7, 50));

TEST(Pca, SeveralRowChunksMatchNumpy) {
  // D = 400: 2621 rows per DSYRK chunk (host/cpu/pca.cpp), so two chunks, the last one partial.
  const test::KnownSpectrum s = test::known_spectrum(3000, 400, 11);
  const int K = 10;
  expect_matches_numpy(s.x, s.N, s.D, K, test::fit_cpu(s.x, s.N, s.D, K));
}

TEST(Pca, FashionMnistFirst5000ImagesMatchNumpy) {
  if (!fs::exists(default_data_dir() / "train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "Fashion-MNIST not installed (dataset-fashion-mnist)";
  const Dataset data = load_idx_dataset(default_data_dir(), "train", 5000);
  ASSERT_EQ(data.count, 5000);
  const int K = 20;
  expect_matches_numpy(data.images, data.count, data.dim(), K, test::fit_cpu(data.images, data.count, data.dim(), K));
}

TEST(Pca, TwoRowsByHand) {
  // Rows (1, 2, 3) and (3, -2, 3): mean (2, 0, 3); the one direction is (2, -4, 0)/sqrt(20), signed so
  // that its largest entry is positive: (-1, 2, 0)/sqrt5; variance |(2, -4, 0)|^2 / 2 / (N-1) = 10.
  const std::vector<float> x{1, 2, 3, 3, -2, 3};
  const test::PcaOutputs got = test::fit_cpu(x, 2, 3, 1);
  EXPECT_TRUE(test::all_close(got.mean, std::vector<double>{2, 0, 3}, 1e-7, "mean"));
  const double r = 1 / std::sqrt(5.0);
  EXPECT_TRUE(test::all_close(got.components, std::vector<double>{-r, 2 * r, 0}, 1e-6, "components"));
  EXPECT_NEAR(got.variance[0], 10.0, 1e-5);
}

TEST(Pca, SignRuleTakesTheFirstOfEqualMagnitudes) {
  // One direction, (1, -1)/sqrt2 up to sign: its two entries have the same float32 magnitude (their
  // float64 values may differ in the last bit), so the first one must come out positive.
  const std::vector<float> x{0, 0, 1, -1, 2, -2, -1, 1};
  const test::PcaOutputs got = test::fit_cpu(x, 4, 2, 1);
  EXPECT_GT(got.components[0], 0.f);
  EXPECT_NEAR(got.components[0], std::sqrt(0.5), 1e-6);
  EXPECT_NEAR(got.components[1], -std::sqrt(0.5), 1e-6);
}

// Each bad input throws its exact message and leaves the outputs unwritten.
TEST(Pca, RejectsBadInputWithTheShapesNamed) {
  std::vector<float> x(20 * 5, 0.5f);
  x[3] = 1.f;
  test::PcaOutputs out(3, 5);
  const Tensor xt{x.data(), {20, 5}}, mean = out.mean_t(), comp = out.components_t(), var = out.variance_t();
  const auto fit = [&](const Tensor& xx, int K, const Tensor& m, const Tensor& c, const Tensor& v) {
    return test::error_of([&] { cpu::pca_fit(xx, K, m, c, v); });
  };
  std::vector<float> y(5, 1.f);
  EXPECT_EQ(fit(xt, 0, mean, comp, var), "cpu::pca_fit: K = 0 must be in [1, D] = [1, 5] for x cpu[20, 5]");
  EXPECT_EQ(fit(xt, 6, mean, comp, var), "cpu::pca_fit: K = 6 must be in [1, D] = [1, 5] for x cpu[20, 5]");
  EXPECT_EQ(fit(Tensor{y.data(), {1, 5}}, 3, mean, comp, var), "cpu::pca_fit: x must have N >= 2 rows, got cpu[1, 5]");
  EXPECT_EQ(fit(Tensor{x.data(), {100}}, 3, mean, comp, var),
            "cpu::pca_fit: x must be a non-empty [N, D] tensor, got cpu[100]");
  EXPECT_EQ(fit(Tensor{x.data(), {20, 5}, Device::cuda}, 3, mean, comp, var),
            "cpu::pca_fit: x must be in cpu memory, got cuda[20, 5]");
  EXPECT_EQ(fit(xt, 3, Tensor{out.mean.data(), {4}}, comp, var),
            "cpu::pca_fit: mean must be [5] for x cpu[20, 5], got cpu[4]");
  EXPECT_EQ(fit(xt, 3, mean, Tensor{out.components.data(), {5, 3}}, var),
            "cpu::pca_fit: components must be [3, 5] for K = 3 and x cpu[20, 5], got cpu[5, 3]");
  EXPECT_EQ(fit(xt, 2, mean, comp, Tensor{out.variance.data(), {2}}),
            "cpu::pca_fit: components must be [2, 5] for K = 2 and x cpu[20, 5], got cpu[3, 5]");
  EXPECT_EQ(fit(xt, 3, mean, comp, Tensor{out.variance.data(), {1, 3}}),
            "cpu::pca_fit: variance must be [3] for K = 3, got cpu[1, 3]");
  EXPECT_EQ(fit(xt, 3, mean, comp, Tensor{out.variance.data(), {3}, Device::cuda}),
            "cpu::pca_fit: variance must be in cpu memory, got cuda[3]");
  EXPECT_EQ(fit(xt, 3, Tensor{nullptr, {5}}, comp, var), "cpu::pca_fit: mean has no data: cpu[5]");
  for (float v : out.mean) EXPECT_TRUE(std::isnan(v));
  for (float v : out.components) EXPECT_TRUE(std::isnan(v));
  for (float v : out.variance) EXPECT_TRUE(std::isnan(v));
}

TEST(Pca, NonFiniteInputIsAnErrorNotGarbage) {
  test::KnownSpectrum s = test::known_spectrum(50, 6, 3);
  s.x[7] = std::nanf("");
  const std::string e = test::error_of([&] { test::fit_cpu(s.x, s.N, s.D, 2); });
  EXPECT_NE(e.find("cpu::pca_fit: "), std::string::npos) << e;
  EXPECT_NE(e.find("x cpu[50, 6]"), std::string::npos) << e;
}

}  // namespace
}  // namespace cuvae
