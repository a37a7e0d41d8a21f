// `cuvae compare generators` (app/generators.hpp): the codes' coverage of the prior against plain
// float64 loops, on constructed cases and for any thread count; then the command end to end on the
// bar data (both models trained there, or given), its pictures and JSON, and each bad input's line.
#include <gmock/gmock.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "app/generators.hpp"
#include "host/error.hpp"
#include "host/fileio.hpp"
#include "host/image.hpp"
#include "cli_support.hpp"

namespace cuvae {
namespace {

namespace fs = std::filesystem;
using test::Result;

std::vector<float> normal_rows(std::int64_t n, int L, std::uint64_t seed, double scale, double shift) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<float> v(static_cast<std::size_t>(n * L));
  for (float& x : v) x = static_cast<float>(shift + scale * g(rng));
  return v;
}

// The definition, in plain float64 loops: distances summed as (a - b)^2, not via the norms.
CodeCoverage brute_force(const std::vector<float>& x, std::int64_t n, int L, const std::vector<float>& q, std::int64_t m) {
  const auto dist = [&](const float* a, const float* b) {
    double s = 0;
    for (int l = 0; l < L; ++l) s += (double(a[l]) - double(b[l])) * (double(a[l]) - double(b[l]));
    return std::sqrt(s);
  };
  CodeCoverage c;
  c.codes = n, c.draws = m;
  c.mean.assign(static_cast<std::size_t>(L), 0.0);
  c.variance.assign(static_cast<std::size_t>(L), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (int l = 0; l < L; ++l) c.mean[static_cast<std::size_t>(l)] += x[static_cast<std::size_t>(i * L + l)] / double(n);
  for (std::int64_t i = 0; i < n; ++i)
    for (int l = 0; l < L; ++l)
      c.variance[static_cast<std::size_t>(l)] += std::pow(x[static_cast<std::size_t>(i * L + l)] - c.mean[static_cast<std::size_t>(l)], 2) / double(n);
  std::vector<double> own;
  for (std::int64_t i = 0; i < n; ++i) {
    double best = INFINITY;
    for (std::int64_t j = 0; j < n; ++j)
      if (j != i) best = std::min(best, dist(&x[static_cast<std::size_t>(i * L)], &x[static_cast<std::size_t>(j * L)]));
    own.push_back(best);
  }
  std::sort(own.begin(), own.end());
  c.radius = own[static_cast<std::size_t>(std::ceil(0.99 * double(n))) - 1];
  std::int64_t outside = 0;
  for (std::int64_t i = 0; i < m; ++i) {
    double best = INFINITY;
    for (std::int64_t j = 0; j < n; ++j) best = std::min(best, dist(&q[static_cast<std::size_t>(i * L)], &x[static_cast<std::size_t>(j * L)]));
    outside += best > c.radius;
  }
  c.outside = double(outside) / double(m);
  return c;
}

TEST(CodeCoverage, MatchesTheDefinitionInPlainLoopsForAnyThreadCount) {
  // Odd sizes (not multiples of the 4-row blocks); draws spread wider than the codes and shifted,
  // so some are near codes and some are not.
  for (const auto& [n, m, L] : {std::tuple{203, 101, 5}, std::tuple{2, 1, 1}, std::tuple{61, 30, 20}, std::tuple{1030, 257, 3}}) {
    const std::vector<float> x = normal_rows(n, L, 7 + n, 1.0, 0.0), q = normal_rows(m, L, 11 + m, 1.5, 0.7);
    const CodeCoverage want = brute_force(x, n, L, q, m);
    const CodeCoverage got = code_coverage(x, n, L, q, m, 1);
    ASSERT_FALSE(std::isnan(got.radius));
    EXPECT_NEAR(got.radius, want.radius, 1e-12 * want.radius) << n << " codes";
    EXPECT_EQ(got.outside, want.outside) << n << " codes";
    if (n > 2) {
      EXPECT_TRUE(got.outside > 0.0 && got.outside < 1.0) << got.outside;
    }
    for (int l = 0; l < L; ++l) {
      EXPECT_NEAR(got.mean[static_cast<std::size_t>(l)], want.mean[static_cast<std::size_t>(l)], 1e-12);
      EXPECT_NEAR(got.variance[static_cast<std::size_t>(l)], want.variance[static_cast<std::size_t>(l)], 1e-12);
    }
    for (const int threads : {2, 3, 8}) {
      const CodeCoverage t = code_coverage(x, n, L, q, m, threads);
      EXPECT_EQ(t.radius, got.radius) << threads << " threads: the same bits";
      EXPECT_EQ(t.outside, got.outside) << threads << " threads";
    }
  }
}

TEST(CodeCoverage, ConstructedCases) {
  const int L = 3;
  const std::vector<float> q = normal_rows(500, L, 3, 1.0, 0.0);
  // Codes in a small cluster far from the prior's mass: every draw is outside.
  const std::vector<float> far = normal_rows(400, L, 4, 0.05, 6.0);
  EXPECT_EQ(code_coverage(far, 400, L, q, 500).outside, 1.0);
  // The draws themselves as the codes (one extra code so none is alone): no draw is outside.
  std::vector<float> same = q;
  same.insert(same.end(), {0.f, 0.f, 0.f});
  EXPECT_EQ(code_coverage(same, 501, L, q, 500).outside, 0.0);
  // Codes from the prior itself, as dense as the draws: about 1% of draws are outside.
  const std::vector<float> prior = normal_rows(20000, L, 5, 1.0, 0.0);
  const CodeCoverage c = code_coverage(prior, 20000, L, q, 500);
  EXPECT_LT(c.outside, 0.05);
  EXPECT_NEAR(c.variance[0], 1.0, 0.05);
  EXPECT_NEAR(c.mean[1], 0.0, 0.05);
  // Two identical codes are each other's nearest at distance 0.
  const std::vector<float> twins = {1.f, 2.f, 3.f, 1.f, 2.f, 3.f};
  EXPECT_EQ(code_coverage(twins, 2, L, q, 500).radius, 0.0);
}

TEST(CodeCoverage, BadInputIsNamed) {
  const std::vector<float> one = {1.f, 2.f}, two = {1.f, 2.f, 3.f, std::numeric_limits<float>::infinity()};
  try {
    code_coverage(one, 1, 2, one, 1);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "code coverage: want at least 2 codes, 1 draw and 1 dimension, not 1, 1 and 2");
  }
  try {
    code_coverage(one, 1 << 20, 1 << 10, one, 1);  // sizes checked before the spans are read
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "code coverage: 1048576 rows of 1024 dimensions are more than the 134217728 values it takes "
                           "per set (use --train-limit or --count)");
  }
  try {
    code_coverage(two, 2, 2, one, 1);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "code coverage: the codes have a non-finite value (element 3)");
  }
}

// The command on the bar data (8x8 images whose bar position is the label).
class Generators : public test::BarDataCase {
 protected:
  Generators() : BarDataCase(300, 100) {}
  static Result compare(const std::string& flags) {
    return test::run_cuvae("compare generators " + flags + " " + data() + " --device cpu --no-progress");
  }
};

TEST_F(Generators, TrainsBothScoresThemAndDrawsThePictures) {
  const fs::path out = work_dir() / "cmp";
  const Result r = compare("--epochs 3 --hidden 32 --latent 4 --count 200 --from 3 --to 5 --steps 6 --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, ::testing::HasSubstr("ae and vae 64-32-4, the same 200 draws z ~ N(0, I)"));
  for (const char* f : {"ae/checkpoint.safetensors", "vae/checkpoint.safetensors", "classifier/checkpoint.safetensors"})
    EXPECT_TRUE(fs::exists(out / f)) << f;

  const nlohmann::json j = nlohmann::json::parse(read_file(out / "generators.json"));
  for (const char* m : {"ae", "vae"}) {
    const nlohmann::json& g = j.at(m);
    EXPECT_EQ(g.at("model"), m);
    EXPECT_TRUE(std::isfinite(g.at("frechet").get<double>()) && g.at("frechet").get<double>() > 0) << m;
    EXPECT_EQ(g.at("train_codes"), 300);
    EXPECT_EQ(g.at("prior_draws"), 200);
    EXPECT_EQ(g.at("code_variance").size(), 4u);
    const double outside = g.at("prior_draws_outside");
    EXPECT_TRUE(outside >= 0 && outside <= 1) << m;
    EXPECT_GT(g.at("nn_radius_99").get<double>(), 0.0);
  }
  // The figures printed are the JSON's.
  char line[160];
  std::snprintf(line, sizeof line, ": ae %.3f, vae %.3f\n", j["ae"]["frechet"].get<double>(), j["vae"]["frechet"].get<double>());
  EXPECT_THAT(r.out, ::testing::HasSubstr(line));
  // samples.png: 8 rows of 17 cells (8 ae, a grey one, 8 vae) of 8x8 images with 2-pixel padding;
  // interpolation.png: 2 rows of 6 + 2 cells, each row starting and ending with the test images.
  const PngImage s = read_png_gray(out / "samples.png");
  EXPECT_EQ(s.width, 17 * 10 + 2);
  EXPECT_EQ(s.height, 8 * 10 + 2);
  EXPECT_EQ(s.gray[static_cast<std::size_t>(5 * s.width + 8 * 10 + 5)], 128) << "the separating column is grey";
  const PngImage p = read_png_gray(out / "interpolation.png");
  EXPECT_EQ(p.width, 8 * 10 + 2);
  EXPECT_EQ(p.height, 2 * 10 + 2);
  // Test image 3 has its bar in column 3 (label 3): bright there in both rows' first cell.
  for (int row = 0; row < 2; ++row) EXPECT_GT(p.gray[static_cast<std::size_t>((row * 10 + 2 + 4) * p.width + 2 + 3)], 200);

  // Given checkpoints: the same models, the same figures, nothing trained.
  const fs::path again = work_dir() / "again";
  const Result g = compare("--ae " + (out / "ae/checkpoint.safetensors").string() + " --vae " +
                           (out / "vae/checkpoint.safetensors").string() + " --classifier " +
                           (out / "classifier/checkpoint.safetensors").string() +
                           " --count 200 --from 3 --to 5 --steps 6 --out " + again.string());
  ASSERT_EQ(g.code, 0) << g.err;
  EXPECT_FALSE(fs::exists(again / "ae"));
  EXPECT_EQ(read_file(again / "generators.json").substr(0, 40), read_file(out / "generators.json").substr(0, 40));
  const nlohmann::json k = nlohmann::json::parse(read_file(again / "generators.json"));
  for (const char* m : {"ae", "vae"}) {
    EXPECT_EQ(k[m]["frechet"], j[m]["frechet"]) << m;
    EXPECT_EQ(k[m]["prior_draws_outside"], j[m]["prior_draws_outside"]) << m;
  }
  EXPECT_EQ(read_file(again / "samples.png"), read_file(out / "samples.png"));
}

TEST_F(Generators, BadInputGetsOneLineNamingIt) {
  const std::string ae = train("ae", "--model ae --epochs 1 --hidden 16 --latent 2");
  const std::string vae = train("vae", "--model vae --epochs 1 --hidden 16 --latent 2");
  const std::string wide = train("wide", "--model vae --epochs 1 --hidden 24 --latent 2");
  const auto expect_error = [&](const std::string& flags, const std::string& text) {
    const Result r = compare(flags + " --out " + (work_dir() / "x").string());
    EXPECT_EQ(r.code, 2) << flags << "\n" << r.out;
    EXPECT_EQ(r.err, "cuvae: error: " + text + "\n") << flags;
  };
  expect_error("--ae " + ae, "--ae and --vae go together: give both checkpoints, or neither to train both here");
  expect_error("--ae " + vae + " --vae " + vae, "--ae " + vae + ": holds a vae, not an ae (train one with --model ae)");
  expect_error("--ae " + ae + " --vae " + ae, "--vae " + ae + ": holds an ae, not a vae (train one with --model vae)");
  expect_error("--ae " + ae + " --vae " + wide, "--ae " + ae + " (64-16-2) and --vae " + wide +
                                                    " (64-24-2) differ: compare generators wants the same layers and latent size");
  expect_error("--ae " + ae + " --vae " + vae + " --classifier " + vae,
               "--classifier " + vae + ": not a classifier checkpoint (train one with --model classifier)");
  expect_error("--ae " + ae + " --vae " + vae + " --latent 3",
               "--hidden and --latent are for the models trained here, not for --ae/--vae checkpoints");
  expect_error("--from 4 --to 4", "--from and --to are both 4: want two images");
  expect_error("--steps 1", "--steps: want an integer in 2..64, got '1'");
  EXPECT_FALSE(fs::exists(work_dir() / "x")) << "nothing trained or written before the flags are checked";
  const std::string cls = train("cls", "--model classifier --epochs 1 --hidden 16");
  expect_error("--ae " + ae + " --vae " + vae + " --classifier " + cls + " --to 100",
               "--from/--to 100: want a test image in 0..99");
}

}  // namespace
}  // namespace cuvae
