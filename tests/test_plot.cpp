// Line charts (host/plot.hpp): the PNG's size, each series drawn in its colour where its values
// put it (higher values higher, on a log axis when they span more than 20x), non-finite points left
// out, and bad input named.
#include <gmock/gmock.h>
#include <png.h>

#include <cmath>
#include <filesystem>

#include "host/error.hpp"
#include "host/fileio.hpp"
#include "host/plot.hpp"
#include "cli_support.hpp"

namespace cuvae {
namespace {

namespace fs = std::filesystem;

struct Rgba {
  int width = 0, height = 0;
  std::vector<unsigned char> rgb;
};
Rgba decode(const fs::path& file) {
  const std::string bytes = read_file(file);
  png_image img{};
  img.version = PNG_IMAGE_VERSION;
  EXPECT_TRUE(png_image_begin_read_from_memory(&img, bytes.data(), bytes.size()));
  img.format = PNG_FORMAT_RGB;
  Rgba out{static_cast<int>(img.width), static_cast<int>(img.height), std::vector<unsigned char>(PNG_IMAGE_SIZE(img))};
  EXPECT_TRUE(png_image_finish_read(&img, nullptr, out.rgb.data(), 0, nullptr));
  return out;
}

// The mean row of the pixels of exactly colour c left of the legend (the plot ends 190 pixels
// before the right edge), and their count.
std::pair<double, int> rows_of(const Rgba& im, Rgb c) {
  double sum = 0;
  int n = 0;
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width - 190; ++x) {
      const unsigned char* p = &im.rgb[static_cast<std::size_t>((y * im.width + x) * 3)];
      if (p[0] == c.r && p[1] == c.g && p[2] == c.b) sum += y, ++n;
    }
  return {n ? sum / n : NAN, n};
}

TEST(Plot, SeriesAreDrawnInTheirColoursWhereTheirValuesAre) {
  const fs::path dir = test::cli_work_dir();
  fs::remove_all(dir);
  fs::create_directories(dir);
  const Series high{"recon", {1, 2, 3, 4}, {260, 240, 231, 228}}, low{"kl", {1, 2, 3, 4}, {12, 14, NAN, 16}};
  write_line_chart(dir / "log.png", {high, low}, "losses", "epoch", "nats");
  const Rgba im = decode(dir / "log.png");
  EXPECT_EQ(im.width, 800);
  EXPECT_EQ(im.height, 500);
  const auto [y_high, n_high] = rows_of(im, series_colour(0));
  const auto [y_low, n_low] = rows_of(im, series_colour(1));
  EXPECT_GT(n_high, 50);
  EXPECT_GT(n_low, 50);
  EXPECT_LT(y_high, y_low - 100) << "the larger values are drawn higher, far apart";
  EXPECT_NE(series_colour(0).r, series_colour(1).r);
  // One value: a flat line in the middle of the plot.
  write_line_chart(dir / "flat.png", {Series{"a", {1}, {5}}}, "t", "x", "y", 400, 300);
  const Rgba flat = decode(dir / "flat.png");
  EXPECT_EQ(flat.width, 400);
  EXPECT_GT(rows_of(flat, series_colour(0)).second, 10);
}

TEST(Plot, BadInputIsNamed) {
  const fs::path file = test::cli_work_dir() / "bad.png";
  fs::create_directories(file.parent_path());
  try {
    write_line_chart(file, {Series{"a", {1, 2}, {1}}}, "t", "x", "y");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), file.string() + ": series 'a' has 2 x and 1 y values");
  }
  try {
    write_line_chart(file, {Series{"a", {1}, {NAN}}}, "t", "x", "y");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), file.string() + ": a chart needs at least one finite point");
  }
  EXPECT_FALSE(fs::exists(file));
}

}  // namespace
}  // namespace cuvae
