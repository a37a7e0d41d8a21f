// `cuvae interpolate` and `cuvae manifold` (app/pictures.hpp): the code arithmetic against closed
// forms, a strip's ends against the model's own reconstructions, and both commands end to end on
// the bar data (a vae and a cvae), with each bad input's one line.
#include <gmock/gmock.h>

#include <cmath>
#include <filesystem>

#include "app/pictures.hpp"
#include "host/image.hpp"
#include "cli_support.hpp"
#include "support.hpp"

namespace cuvae {
namespace {

namespace fs = std::filesystem;
using test::Result;

TEST(Pictures, LineCodesAreTheLineOrTheArc) {
  const std::vector<float> a = {1.f, 0.f, 2.f}, b = {0.f, 1.f, 2.f};
  const std::vector<float> line = line_codes(a, b, 5, false);
  ASSERT_EQ(line.size(), 15u);
  for (int l = 0; l < 3; ++l) {
    EXPECT_EQ(line[static_cast<std::size_t>(l)], a[static_cast<std::size_t>(l)]) << "the first point is z0";
    EXPECT_EQ(line[static_cast<std::size_t>(12 + l)], b[static_cast<std::size_t>(l)]) << "the last point is z1";
    EXPECT_FLOAT_EQ(line[static_cast<std::size_t>(6 + l)], 0.5f * (a[static_cast<std::size_t>(l)] + b[static_cast<std::size_t>(l)]));
  }
  // Orthogonal unit vectors: the arc keeps the norm; its midpoint is (a + b) / sqrt(2).
  const std::vector<float> u = {1.f, 0.f}, v = {0.f, 1.f};
  const std::vector<float> arc = line_codes(u, v, 9, true);
  for (int s = 0; s < 9; ++s)
    EXPECT_NEAR(std::hypot(arc[static_cast<std::size_t>(2 * s)], arc[static_cast<std::size_t>(2 * s + 1)]), 1.0, 1e-6) << s;
  EXPECT_NEAR(arc[8], 1 / std::sqrt(2.0), 1e-7);
  EXPECT_NEAR(arc[9], 1 / std::sqrt(2.0), 1e-7);
  EXPECT_NEAR(arc[2], std::cos(M_PI / 16), 1e-7) << "equal angles per step";
  // Parallel codes (no arc defined) and a zero code: the straight line.
  const std::vector<float> p = {3.f, 0.f}, zero = {0.f, 0.f};
  EXPECT_EQ(line_codes(u, p, 3, true), line_codes(u, p, 3, false));
  EXPECT_EQ(line_codes(zero, v, 4, true), line_codes(zero, v, 4, false));
}

TEST(Pictures, ManifoldCodesSpanTwoDimensions) {
  const std::vector<float> z = manifold_codes(4, 2, 0, 3.0, 5);  // a = 2 across, b = 0 up the page
  ASSERT_EQ(z.size(), 5u * 5u * 4u);
  const auto at = [&](int r, int c, int l) { return z[static_cast<std::size_t>((r * 5 + c) * 4 + l)]; };
  EXPECT_EQ(at(0, 0, 2), -3.f);
  EXPECT_EQ(at(0, 0, 0), 3.f) << "top row: z_b = +span";
  EXPECT_EQ(at(4, 4, 2), 3.f);
  EXPECT_EQ(at(4, 4, 0), -3.f);
  EXPECT_EQ(at(2, 1, 2), -1.5f);
  EXPECT_EQ(at(2, 1, 0), 0.f);
  for (int r = 0; r < 5; ++r)
    for (int c = 0; c < 5; ++c) EXPECT_TRUE(at(r, c, 1) == 0.f && at(r, c, 3) == 0.f) << "the other dimensions stay at zero";
}

// A strip's first and last decoded points are the model's reconstructions of its two images, and
// its ends are the images themselves.
TEST(Pictures, AStripStartsAndEndsAtTheReconstructions) {
  auto cpu = make_cpu_backend(1);
  ModelConfig c = default_config("vae");
  c.input_dim = 16, c.hidden = {8}, c.latent = 3;
  Dataset test;
  test.count = 4, test.rows = 4, test.cols = 4;
  const test::HostTensor x = test::random_tensor({4, 16}, 3, 0.f, 1.f);
  test.images = x.v;
  test.labels = {0, 1, 0, 1};
  {
    Backend* be = cpu.get();
    std::unique_ptr<Model> m = make_model(c);
    m->allocate(*be, 8);
    m->params().init_uniform(*be, 5);
    const std::vector<float> strip = interpolation_strip(*be, *m, test, 3, 1, 6, false);
    ASSERT_EQ(strip.size(), 8u * 16u);
    Buffer xd(*be, Shape{4, 16});
    be->to_device(xd, x.v.data());
    std::vector<float> r3(16), r1(16);
    be->to_host(r3.data(), m->reconstruct(*be, xd.tensor().rows_view(3, 1)));
    be->to_host(r1.data(), m->reconstruct(*be, xd.tensor().rows_view(1, 1)));
    EXPECT_TRUE(std::equal(strip.begin(), strip.begin() + 16, x.v.begin() + 3 * 16)) << "image 3 first";
    EXPECT_TRUE(test::all_close(std::vector<float>(strip.begin() + 16, strip.begin() + 32), std::vector<double>(r3.begin(), r3.end()), 1e-6, "first point"));
    EXPECT_TRUE(test::all_close(std::vector<float>(strip.begin() + 6 * 16, strip.begin() + 7 * 16), std::vector<double>(r1.begin(), r1.end()), 1e-6, "last point"));
    EXPECT_TRUE(std::equal(strip.end() - 16, strip.end(), x.v.begin() + 16)) << "image 1 last";
  }
}

// The commands on the bar data (8x8 images whose bar position is the label).
class PicturesCli : public test::BarDataCase {
 protected:
  PicturesCli() : BarDataCase(200, 40) {}
  static std::string train(const std::string& model) {
    return BarDataCase::train(model, "--model " + model + " --epochs 2 --hidden 16 --latent 3");
  }
  static Result run(const std::string& args) { return test::run_cuvae(args + " --device cpu"); }
};

TEST_F(PicturesCli, InterpolateAndManifoldWriteTheirGrids) {
  const std::string vae = train("vae"), cvae = train("cvae");
  const fs::path strips = work_dir() / "strips.png";
  Result r = run("interpolate " + vae + " --from 0 --to 5 --from 2 --to 3 --steps 4 --slerp " + data() + " --out " + strips.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.substr(r.out.rfind("wrote")), "wrote 2 strips to " + strips.string() + "\n");
  PngImage p = read_png_gray(strips);
  EXPECT_EQ(p.width, 6 * 10 + 2);
  EXPECT_EQ(p.height, 2 * 10 + 2);
  // Test image 0 has its bar in column 0 (label 0): bright in the first cell, dark beside it.
  EXPECT_GT(p.gray[static_cast<std::size_t>(6 * p.width + 2)], 200);
  EXPECT_LT(p.gray[static_cast<std::size_t>(6 * p.width + 2 + 4)], 100);

  const fs::path grid = work_dir() / "grid.png";
  r = run("manifold " + vae + " --dims 2,0 --steps 7 --span 2 --out " + grid.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::EndsWith("wrote 1 grid of 7x7 to " + grid.string() + "\n"));
  p = read_png_gray(grid);
  EXPECT_EQ(p.width, 7 * 10 + 2);
  EXPECT_EQ(p.height, 7 * 10 + 2);

  // A cvae: strips decoded given a class, a grid per class.
  r = run("interpolate " + cvae + " --from 1 --to 4 --label 6 " + data() + " --out " + strips.string());
  ASSERT_EQ(r.code, 0) << r.err;
  r = run("manifold " + cvae + " --label all --steps 3 --out " + grid.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::EndsWith("wrote 8 grids of 3x3 to " + grid.string() + "\n"));
  p = read_png_gray(grid);
  EXPECT_EQ(p.width, 3 * 10 + 2);
  EXPECT_EQ(p.height, 8 * 3 * 10 + 2);
}

TEST_F(PicturesCli, BadInputGetsOneLineNamingIt) {
  const std::string vae = train("vae"), cvae = train("cvae");
  const auto expect_error = [&](const std::string& args, const std::string& text, int code) {
    const Result r = run(args + " --out " + (work_dir() / "x.png").string());
    EXPECT_EQ(r.code, code) << args << "\n" << r.out;
    EXPECT_EQ(r.err, "cuvae: error: " + text + "\n") << args;
  };
  expect_error("interpolate " + vae + " --from 0 --to 1 --to 2 " + data(),
               "--from and --to: want as many of each (one strip per pair), got 1 and 2", 2);
  expect_error("interpolate " + vae + " --from 0 --to 40 " + data(), "--to 40: want a test image in 0..39", 2);
  expect_error("interpolate " + vae + " --from 0 --to 1 --steps 1 " + data(), "--steps: want an integer in 2..64, got '1'", 2);
  expect_error("interpolate " + vae + " --from 0 --to 1 --label 2 " + data(),
               "--label 2: " + vae + " holds a vae, which takes no labels", 2);
  expect_error("interpolate " + cvae + " --from 0 --to 1 --label 9 " + data(),
               "--label 9: outside the cvae's 8 classes (0..7); want a class or all", 2);
  expect_error("manifold " + vae + " --dims 0,3", "--dims: dimension 3 is outside the vae's 3 latent dimensions (0..2)", 2);
  expect_error("manifold " + vae + " --dims 1,1", "--dims: want two different dimensions, got 1 twice", 2);
  expect_error("manifold " + vae + " --dims 1", "--dims '1': want two latent dimensions a,b (integers from 0)", 2);
  expect_error("manifold " + cvae,
               "manifold: " + cvae + " holds a cvae, which samples given a class: pass --label Y (0..7) or --label all", 2);
  EXPECT_FALSE(fs::exists(work_dir() / "x.png"));
}

}  // namespace
}  // namespace cuvae
