// The generated shapes data set (datasets/shapes.hpp): the factors' distribution and determinism,
// each shape's area, centre and frame against closed forms, and the folder make-shapes writes
// (every PNG equal to its factors' rendering, factors.csv row by row), with its bad input.
#include <gmock/gmock.h>

#include <cmath>
#include <filesystem>
#include <numbers>
#include <sstream>

#include "datasets/shapes.hpp"
#include "host/error.hpp"
#include "host/fileio.hpp"
#include "host/image.hpp"
#include "cli_support.hpp"

namespace cuvae {
namespace {

namespace fs = std::filesystem;

struct Moments {
  double area = 0, cx = 0, cy = 0;
  bool touches_border = false;
};
Moments moments(const std::vector<float>& img, int size) {
  Moments m;
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const float v = img[static_cast<std::size_t>(y * size + x)];
      EXPECT_TRUE(v == 0.f || v == 1.f) << "binary pixels";
      if (v == 0.f) continue;
      m.area += 1, m.cx += x + 0.5, m.cy += y + 0.5;
      m.touches_border |= x == 0 || y == 0 || x == size - 1 || y == size - 1;
    }
  if (m.area > 0) m.cx /= m.area, m.cy /= m.area;
  return m;
}

TEST(Shapes, FactorsAreUniformAndDeterministic) {
  int shapes[kShapeCount] = {}, scales[kShapeScales] = {}, positions[kShapePositions] = {};
  const int n = 30000;
  for (int i = 0; i < n; ++i) {
    const ShapeFactors f = shape_factors(7, i);
    ASSERT_TRUE(f.shape >= 0 && f.shape < kShapeCount && f.scale >= 0 && f.scale < kShapeScales && f.orientation >= 0 &&
                f.orientation < kShapeOrientations && f.pos_x >= 0 && f.pos_x < kShapePositions && f.pos_y >= 0 &&
                f.pos_y < kShapePositions);
    ++shapes[f.shape], ++scales[f.scale], ++positions[f.pos_x];
  }
  for (int c : shapes) EXPECT_NEAR(c, n / 3.0, 0.05 * n / 3.0);
  for (int c : scales) EXPECT_NEAR(c, n / 6.0, 0.08 * n / 6.0);
  for (int c : positions) EXPECT_NEAR(c, n / 32.0, 0.2 * n / 32.0);
  const ShapeFactors a = shape_factors(7, 123), b = shape_factors(7, 123);
  EXPECT_EQ(std::tie(a.shape, a.scale, a.orientation, a.pos_x, a.pos_y), std::tie(b.shape, b.scale, b.orientation, b.pos_x, b.pos_y));
  int same = 0;
  for (int i = 0; i < 100; ++i) same += shape_factors(7, i).pos_x == shape_factors(8, i).pos_x;
  EXPECT_LT(same, 20) << "another seed, other factors";
  EXPECT_DOUBLE_EQ(a.scale_value(), 0.5 + 0.1 * a.scale);
  const ShapeFactors corner{0, 5, 10, 31, 0};
  EXPECT_DOUBLE_EQ(corner.orientation_value(), std::numbers::pi / 2);
  EXPECT_DOUBLE_EQ(corner.pos_x_value(), 1.0);
  EXPECT_DOUBLE_EQ(corner.pos_y_value(), 0.0);
}

TEST(Shapes, AreasCentresAndTheFrame) {
  const int size = 128;
  const double half = 0.15 * size;  // scale 1
  // Square and ellipse at orientation 0, centred: area and centroid by the closed forms.
  const ShapeFactors square{0, 5, 0, 15, 20}, ellipse{1, 5, 0, 15, 20};
  const double cx = size * 0.22 + 15.0 / 31 * size * 0.56, cy = size * 0.22 + 20.0 / 31 * size * 0.56;
  const Moments s = moments(render_shape(square, size), size), e = moments(render_shape(ellipse, size), size);
  EXPECT_NEAR(s.area, 4 * half * half, 4 * 2 * half) << "within a pixel along the perimeter";
  EXPECT_NEAR(e.area, std::numbers::pi * half * half / 2, 2 * std::numbers::pi * half);
  EXPECT_NEAR(s.cx, cx, 0.6);
  EXPECT_NEAR(s.cy, cy, 0.6);
  EXPECT_NEAR(e.cx, cx, 0.6);
  EXPECT_NEAR(e.cy, cy, 0.6);
  // Scale 0.5 has a quarter of the area; a rotation keeps it.
  const Moments small = moments(render_shape(ShapeFactors{0, 0, 0, 15, 20}, size), size);
  EXPECT_NEAR(small.area, s.area / 4, 2 * 2 * half);
  const Moments turned = moments(render_shape(ShapeFactors{0, 5, 5, 15, 20}, size), size);
  EXPECT_NEAR(turned.area, s.area, 0.03 * s.area);
  // The heart: wider at the top (its lobes) than at the bottom (its point).
  const std::vector<float> heart = render_shape(ShapeFactors{2, 5, 0, 15, 15}, size);
  const Moments h = moments(heart, size);
  EXPECT_GT(h.area, 0.4 * s.area);
  EXPECT_LT(h.area, 0.9 * s.area);
  const auto width = [&](int y) {
    int w = 0;
    for (int x = 0; x < size; ++x) w += heart[static_cast<std::size_t>(y * size + x)] > 0;
    return w;
  };
  const int top = static_cast<int>(h.cy - 0.5 * half), bottom = static_cast<int>(h.cy + 0.7 * half);
  EXPECT_GT(width(top), width(bottom) + 4);
  // Every shape at scale 1, every orientation, at the corners of the position grid: inside the frame.
  for (int shape = 0; shape < kShapeCount; ++shape)
    for (int o = 0; o < kShapeOrientations; ++o)
      for (const int p : {0, 31}) {
        const Moments m = moments(render_shape(ShapeFactors{shape, 5, o, p, 31 - p}, 64), 64);
        EXPECT_FALSE(m.touches_border) << shape_name(shape) << " orientation " << o << " position " << p;
        EXPECT_GT(m.area, 50);
      }
}

TEST(Shapes, MakeShapesWritesTheFolder) {
  const fs::path dir = test::cli_work_dir();
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path out = dir / "shapes";
  const test::Result r = test::run_cuvae("make-shapes --out " + out.string() + " --count 40 --size 32 --seed 3 --threads 3");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "wrote 40 images of 32x32 and factors.csv to " + out.string() + "\n");
  std::istringstream csv(read_file(out / "factors.csv"));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "file,shape,scale,orientation,pos_x,pos_y");
  int rows = 0;
  while (std::getline(csv, line)) {
    const ShapeFactors f = shape_factors(3, rows);
    char want[160];
    std::snprintf(want, sizeof want, "%s/%07d.png,%s,%.1f,%.6f,%.6f,%.6f", shape_name(f.shape), rows, shape_name(f.shape),
                  f.scale_value(), f.orientation_value(), f.pos_x_value(), f.pos_y_value());
    EXPECT_EQ(line, want);
    const PngImage png = read_png_gray(out / line.substr(0, line.find(',')));
    ASSERT_EQ(png.width, 32);
    ASSERT_EQ(png.height, 32);
    const std::vector<float> img = render_shape(f, 32);
    for (std::size_t p = 0; p < img.size(); ++p) ASSERT_EQ(png.gray[p], img[p] > 0 ? 255 : 0) << line << " pixel " << p;
    ++rows;
  }
  EXPECT_EQ(rows, 40);
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(out)) files += e.is_regular_file();
  EXPECT_EQ(files, 41) << "40 images and factors.csv, no temporaries";

  // The same seed gives the same bytes, with another thread count.
  const fs::path again = dir / "again";
  ASSERT_EQ(test::run_cuvae("make-shapes --out " + again.string() + " --count 40 --size 32 --seed 3 --threads 1").code, 0);
  EXPECT_EQ(read_file(again / "factors.csv"), read_file(out / "factors.csv"));
  const std::string first = read_file(out / "factors.csv").substr(41, 19);  // the first row's file
  EXPECT_EQ(read_file(again / first), read_file(out / first));

  const auto expect_error = [&](const std::string& args, const std::string& text) {
    const test::Result e = test::run_cuvae("make-shapes " + args);
    EXPECT_NE(e.code, 0) << args;
    EXPECT_EQ(e.err, "cuvae: error: " + text + "\n") << args;
  };
  expect_error("--out " + out.string(), "--out " + out.string() + ": exists and is not an empty folder; name a new one");
  expect_error("--out " + (dir / "x").string() + " --count 0", "--count: want an integer in 1..4194304, got '0'");
  expect_error("--out " + (dir / "x").string() + " --size 8", "--size: want an integer in 16..1024, got '8'");
  EXPECT_FALSE(fs::exists(dir / "x"));
}

}  // namespace
}  // namespace cuvae
