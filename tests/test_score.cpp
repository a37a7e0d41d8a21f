// score: the Frechet distance (app/score.hpp) against a float64 NumPy/SciPy reference (tests/python/
// frechet_reference.py, the FID reference code's formula with scipy.linalg.sqrtm) on fixed feature
// sets, closed forms, identical sets, identical bits on a rerun and its errors; then `cuvae score`
// end to end on the bar data: a classifier, a vae, an ae and a pca, and every bad input's one line.
#include <gmock/gmock.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "app/score.hpp"
#include "datasets/idx.hpp"
#include "datasets/npy.hpp"
#include "host/fileio.hpp"
#include "cli_support.hpp"
#include "support.hpp"

namespace cuvae {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using test::Result;

fs::path work_dir() { return test::cli_work_dir(); }
Result run(const std::string& args) { return test::run_cuvae(args); }

// n rows of mean + L g (g standard normal, L lower-triangular with `scale` entries): a full-rank
// covariance L L^T that differs between seeds.
std::vector<float> gaussian_features(std::int64_t n, int d, std::uint64_t seed, double shift, double scale) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<double> L(static_cast<std::size_t>(d * d), 0.0), mean(static_cast<std::size_t>(d));
  for (int i = 0; i < d; ++i) {
    mean[static_cast<std::size_t>(i)] = shift + 0.5 * g(rng);
    for (int j = 0; j <= i; ++j) L[static_cast<std::size_t>(i * d + j)] = (i == j ? 1.0 : 0.3) * scale * g(rng);
  }
  std::vector<float> x(static_cast<std::size_t>(n * d));
  std::vector<double> e(static_cast<std::size_t>(d));
  for (std::int64_t r = 0; r < n; ++r) {
    for (double& v : e) v = g(rng);
    for (int i = 0; i < d; ++i) {
      double v = mean[static_cast<std::size_t>(i)];
      for (int j = 0; j <= i; ++j) v += L[static_cast<std::size_t>(i * d + j)] * e[static_cast<std::size_t>(j)];
      x[static_cast<std::size_t>(r * d + i)] = static_cast<float>(v);
    }
  }
  return x;
}

// The reference distance of the two sets (written as float32 .npy, as cuvae's features are).
double scipy_frechet(const std::vector<float>& a, std::int64_t na, const std::vector<float>& b, std::int64_t nb, int d) {
  const fs::path dir = work_dir();
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::int64_t sa[2] = {na, d}, sb[2] = {nb, d};
  write_npy(dir / "a.npy", a.data(), sa);
  write_npy(dir / "b.npy", b.data(), sb);
  const std::string cmd = test::python() + " " + std::string(CUVAE_SOURCE_DIR) + "/tests/python/frechet_reference.py " +
                          (dir / "a.npy").string() + " " + (dir / "b.npy").string() + " " + (dir / "d2.txt").string() +
                          " 2>&1";
  std::string output;
  if (test::run_command(cmd, output) != 0) {
    ADD_FAILURE() << cmd << "\n" << output;
    return std::nan("");
  }
  return std::stod(read_file(dir / "d2.txt"));
}

double frechet(const std::vector<float>& a, std::int64_t na, const std::vector<float>& b, std::int64_t nb, int d) {
  return frechet_distance(std::span<const float>(a), na, std::span<const float>(b), nb, d);
}

TEST(Frechet, MatchesScipyOnFixedFeatureSets) {
  struct Case {
    std::int64_t na, nb;
    int d;
    double shift, scale;
  };
  for (const Case& c : {Case{200, 150, 6, 0.7, 1.5}, Case{1000, 700, 40, 0.2, 0.8}, Case{3000, 2500, 64, 1.0, 2.0}}) {
    const std::vector<float> a = gaussian_features(c.na, c.d, 11 + c.d, 0.0, 1.0);
    const std::vector<float> b = gaussian_features(c.nb, c.d, 97 + c.d, c.shift, c.scale);
    const double want = scipy_frechet(a, c.na, b, c.nb, c.d), got = frechet(a, c.na, b, c.nb, c.d);
    EXPECT_GT(want, 1.0) << c.d;
    EXPECT_NEAR(got, want, 1e-9 * std::fabs(want)) << c.na << " vs " << c.nb << " rows of " << c.d;
    // Symmetric in its arguments (the same value from the other square root).
    EXPECT_NEAR(frechet(b, c.nb, a, c.na, c.d), want, 1e-9 * std::fabs(want)) << c.d;
  }
}

// One dimension: d^2 = (m_1 - m_2)^2 + (s_1 - s_2)^2 with the sample standard deviations (n - 1).
TEST(Frechet, OneDimensionIsTheClosedForm) {
  const std::vector<double> a = {1, 2, 3, 4}, b = {0, 0, 6};  // means 2.5, 2; variances 5/3, 12
  const double want = 0.25 + std::pow(std::sqrt(5.0 / 3.0) - std::sqrt(12.0), 2);
  EXPECT_NEAR(frechet_distance(std::span<const double>(a), 4, std::span<const double>(b), 3, 1), want, 1e-14 * want);
  // Means and covariances: numpy.cov's divisor, both triangles.
  const std::vector<double> a2 = {1, 10, 2, 30, 3, 20, 4, 40};
  const FeatureStats sa = feature_stats(std::span<const double>(a2), 4, 2, "a");
  EXPECT_DOUBLE_EQ(sa.mean[0], 2.5);
  EXPECT_DOUBLE_EQ(sa.mean[1], 25.0);
  EXPECT_DOUBLE_EQ(sa.cov[0], 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(sa.cov[1], 40.0 / 3.0);  // (-1.5)(-15) + (-0.5)(5) + (0.5)(-5) + (1.5)(15) = 40
  EXPECT_EQ(sa.cov[1], sa.cov[2]);
  EXPECT_DOUBLE_EQ(sa.cov[3], 500.0 / 3.0);
}

TEST(Frechet, IdenticalSetsGiveZeroAndRerunsGiveIdenticalBits) {
  const std::vector<float> a = gaussian_features(800, 50, 5, 0.0, 1.0);
  EXPECT_NEAR(frechet(a, 800, a, 800, 50), 0.0, 1e-9);
  // Rank-deficient, as ReLU features with dead units are: a constant column and a duplicate one.
  std::vector<float> r = a;
  for (std::int64_t i = 0; i < 800; ++i) r[static_cast<std::size_t>(i * 50)] = 0.f, r[static_cast<std::size_t>(i * 50 + 1)] = r[static_cast<std::size_t>(i * 50 + 2)];
  EXPECT_NEAR(frechet(r, 800, r, 800, 50), 0.0, 1e-9);
  const std::vector<float> b = gaussian_features(600, 50, 6, 0.3, 1.2);
  const double d1 = frechet(a, 800, b, 600, 50), d2 = frechet(a, 800, b, 600, 50);
  EXPECT_EQ(std::memcmp(&d1, &d2, sizeof d1), 0) << d1 << " vs " << d2;
  // The float overload is the double one on the widened values.
  std::vector<double> ad(a.begin(), a.end()), bd(b.begin(), b.end());
  const double d3 = frechet_distance(std::span<const double>(ad), 800, std::span<const double>(bd), 600, 50);
  EXPECT_EQ(std::memcmp(&d1, &d3, sizeof d1), 0) << d1 << " vs " << d3;
}

TEST(Frechet, BadInputGetsOneLineNamingIt) {
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::vector<float> one = {1, 2, 3}, two = {1, 2, 3, 4, 5, 6}, bad = {1, 2, 3, 4, std::nanf(""), 6};
  EXPECT_EQ(message([&] { feature_stats(std::span<const float>(one), 1, 3, "samples"); }),
            "Frechet distance: the samples have 1 feature rows; a covariance needs at least 2");
  EXPECT_EQ(message([&] { feature_stats(std::span<const float>(two), 3, 3, "samples"); }),
            "Frechet distance: the samples hold 6 values, not 3 x 3");
  EXPECT_EQ(message([&] { feature_stats(std::span<const float>(bad), 2, 3, "test images"); }),
            "Frechet distance: the test images have a non-finite feature (row 1, column 1)");
  EXPECT_EQ(message([&] { frechet_distance(feature_stats(std::span<const float>(two), 2, 3, "a"),
                                            feature_stats(std::span<const float>(two), 3, 2, "b")); }),
            "Frechet distance: feature sets of 3 and 2 dimensions");
}

// `cuvae score` on the bar data (8x8 images whose bar position is the label).
class Score : public test::BarDataCase {
 protected:
  Score() : BarDataCase(300, 100) {}
};

double parse_distance(const std::string& out) {
  const std::size_t at = out.find("score: Frechet distance ");
  if (at == std::string::npos) return std::nan("");
  return std::stod(out.substr(at + std::strlen("score: Frechet distance ")));
}

TEST_F(Score, ScoresAVaeAnAeAndAPcaWithTheClassifiersFeatures) {
  const std::string cls = train("cls", "--model classifier --epochs 4 --batch-size 32 --hidden 32 --lr 0.01");
  const std::string vae = train("vae", "--model vae --epochs 6 --batch-size 32 --hidden 32 --latent 4");
  const std::string ae = train("ae", "--model ae --epochs 6 --batch-size 32 --hidden 32 --latent 4");
  const std::string pca = train("pca", "--model pca --latent 4");
  Result e = run("eval " + cls + " " + data() + " --device cpu");
  ASSERT_EQ(e.code, 0) << e.err;
  const std::size_t at = e.out.find("accuracy ");
  ASSERT_NE(at, std::string::npos) << e.out;
  const std::string accuracy = e.out.substr(at + 9, 6);  // %.4f

  for (const std::string& ckpt : {vae, ae, pca}) {
    const std::string args = "score " + ckpt + " --classifier " + cls + " --count 500 " + data() + " --device cpu";
    const Result r = run(args);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    const double d2 = parse_distance(r.out);
    EXPECT_TRUE(std::isfinite(d2) && d2 > 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr(" (classifier features of 500 samples vs 100 test images, 32-d); classifier test accuracy " +
                                 accuracy + "\n"));
    EXPECT_EQ(run(args).out, r.out) << "a rerun draws the same samples";
    EXPECT_NE(run(args + " --seed 2").out, r.out) << "another seed, other samples";
  }
  // A cvae: each sample drawn for label i mod 8; the classifier should mostly agree with the label
  // it was drawn for (the bar's position).
  const std::string cvae = train("cvae", "--model cvae --epochs 12 --batch-size 32 --hidden 32 --latent 4 --lr 0.01");
  const Result c = run("score " + cvae + " --classifier " + cls + " --count 400 " + data() + " --device cpu");
  ASSERT_EQ(c.code, 0) << c.out << c.err;
  const std::size_t ca = c.out.find("conditional accuracy ");
  ASSERT_NE(ca, std::string::npos) << c.out;
  EXPECT_GT(std::stod(c.out.substr(ca + 21)), 0.8) << c.out << " (chance: 0.125)";

  // The default count (10000 samples) and --test-limit.
  const Result r = run("score " + vae + " --classifier " + cls + " --test-limit 50 " + data() + " --device cpu");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("(classifier features of 10000 samples vs 50 test images, 32-d)"));
}

TEST_F(Score, BadInputGetsOneLineNamingIt) {
  const std::string cls = train("cls", "--model classifier --epochs 1 --batch-size 32 --hidden 16");
  const std::string vae = train("vae", "--model vae --epochs 1 --batch-size 32 --hidden 16 --latent 2");
  // A classifier of 6x6 images.
  fs::create_directories(work_dir() / "small");
  IdxImages im;
  im.count = 40, im.rows = 6, im.cols = 6;
  std::vector<std::uint8_t> labels;
  for (int i = 0; i < 40; ++i) {
    labels.push_back(static_cast<std::uint8_t>(i % 4));
    for (int p = 0; p < 36; ++p) im.pixels.push_back(static_cast<std::uint8_t>(p % 6 == i % 4 ? 240 : 10));
  }
  for (const char* split : {"train", "t10k"}) {
    write_idx_images(work_dir() / "small" / (std::string(split) + "-images-idx3-ubyte.gz"), im);
    write_idx_labels(work_dir() / "small" / (std::string(split) + "-labels-idx1-ubyte"), labels);
  }
  const std::string small = (work_dir() / "small-cls").string();
  ASSERT_EQ(run("train --model classifier --epochs 1 --hidden 8 --data " + (work_dir() / "small").string() + " --out " +
                small + " --device cpu --no-progress").code, 0);
  const std::string small_cls = small + "/checkpoint.safetensors";

  auto expect_error = [&](const std::string& args, const std::string& text, int code) {
    const Result r = run("score " + args + " " + data() + " --device cpu");
    EXPECT_EQ(r.code, code) << args << "\n" << r.out;
    EXPECT_EQ(r.err, "cuvae: error: " + text + "\n") << args;
  };
  expect_error(vae + " --classifier " + vae, "--classifier " + vae + ": holds a vae, not a classifier (train one with --model classifier)", 2);
  expect_error(cls + " --classifier " + cls,
               "score: " + cls + " holds a classifier, which cannot sample; score a generative model (pca, ae, vae, ...)", 2);
  expect_error(vae + " --classifier " + small_cls,
               "--classifier " + small_cls + " takes images of 36 pixels, but " + vae + " (vae) generates 64", 2);
  expect_error(vae + " --classifier " + cls + " --count 0", "--count: want an integer in 2..100000, got '0'", 2);
  expect_error(vae + " --classifier " + cls + " --count 100001", "--count: want an integer in 2..100000, got '100001'", 2);
  expect_error(vae + " --classifier " + cls + " --count 1", "--count: want an integer in 2..100000, got '1'", 2);
  expect_error(vae + " --classifier " + cls + " --test-limit 1",
               "Frechet distance: the test images' features have 1 feature rows; a covariance needs at least 2", 1);
}

}  // namespace
}  // namespace cuvae
