// PNG grid tests: layout matches torchvision.utils.save_image (padding, empty cells, clamping),
// files decode back to the same pixels, and bad PNGs give an Error naming the file.
#include <gtest/gtest.h>
#include <png.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "host/error.hpp"
#include "host/fileio.hpp"
#include "host/image.hpp"
#include "support.hpp"

namespace cuvae {
namespace {

using test::error_of;

namespace fs = std::filesystem;

class PngTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("cuvae_png_" + std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};
using PngGrid = PngTest;
using PngRead = PngTest;

// Independent reference: what save_image would give for pixel (y, x) of the grid.
std::uint8_t expected_pixel(const std::vector<float>& imgs, int count, int rows, int cols, int ncols, int pad, int y,
                            int x) {
  if (y < pad || x < pad) return 0;
  const int gy = (y - pad) / (rows + pad), ry = (y - pad) % (rows + pad);
  const int gx = (x - pad) / (cols + pad), rx = (x - pad) % (cols + pad);
  if (ry >= rows || rx >= cols || gx >= ncols) return 0;
  const int k = gy * ncols + gx;
  if (k >= count) return 0;
  const float v = imgs[std::size_t(k) * rows * cols + std::size_t(ry) * cols + rx];
  if (std::isnan(v)) return 0;
  return std::uint8_t(std::lround(std::clamp(double(v), 0.0, 1.0) * 255.0));
}

TEST_F(PngGrid, FiveImagesThreeColumns) {
  const int count = 5, rows = 3, cols = 4, grid_cols = 3;
  std::vector<float> imgs(count * rows * cols);
  for (std::size_t i = 0; i < imgs.size(); ++i) imgs[i] = float(i) / 59.0f;
  auto at = [&](int k, int r, int c) -> float& { return imgs[std::size_t(k) * rows * cols + r * cols + c]; };
  at(0, 0, 0) = -0.5f;                                       // clamps to 0
  at(1, 1, 2) = 1.7f;                                        // clamps to 255
  at(2, 2, 3) = std::numeric_limits<float>::quiet_NaN();     // NaN -> 0
  at(3, 0, 1) = 0.5f;                                        // 127.5 rounds to 128
  at(4, 0, 0) = 0.2f;                                        // 51
  at(4, 2, 0) = 1.0f;                                        // 255
  const fs::path p = dir_ / "grid.png";
  write_png_grid(p, imgs.data(), count, rows, cols, grid_cols);

  const PngImage png = read_png_gray(p);
  // torchvision: 3 columns, ceil(5/3) = 2 rows, cells (rows+2) x (cols+2), plus 2 on the far edges.
  ASSERT_EQ(png.width, 3 * (cols + 2) + 2);
  ASSERT_EQ(png.height, 2 * (rows + 2) + 2);
  ASSERT_EQ(png.gray.size(), std::size_t(png.width) * png.height);
  auto px = [&](int y, int x) { return int(png.gray[std::size_t(y) * png.width + x]); };

  EXPECT_EQ(px(0, 0), 0);     // outer padding
  EXPECT_EQ(px(2, 2), 0);     // image 0 (0,0): -0.5 clamped
  EXPECT_EQ(px(2, 3), int(std::lround(1 / 59.0 * 255)));  // image 0 (0,1)
  EXPECT_EQ(px(2, 6), 0);     // padding between columns
  EXPECT_EQ(px(3, 10), 255);  // image 1 (1,2): 1.7 clamped
  EXPECT_EQ(px(4, 17), 0);    // image 2 (2,3): NaN
  EXPECT_EQ(px(5, 3), 0);     // padding between rows
  EXPECT_EQ(px(7, 3), 128);   // image 3 (0,1): 0.5
  EXPECT_EQ(px(7, 8), 51);    // image 4 (0,0): 0.2
  EXPECT_EQ(px(9, 8), 255);   // image 4 (2,0): 1.0
  for (int y = 7; y < 10; ++y)
    for (int x = 14; x < 18; ++x) EXPECT_EQ(px(y, x), 0) << "empty sixth cell at " << y << "," << x;
  int nonzero = 0;
  for (int y = 0; y < png.height; ++y)
    for (int x = 0; x < png.width; ++x) {
      EXPECT_EQ(px(y, x), expected_pixel(imgs, count, rows, cols, grid_cols, 2, y, x)) << "at " << y << "," << x;
      nonzero += px(y, x) != 0;
    }
  EXPECT_GT(nonzero, 50);
}

TEST_F(PngGrid, FewerImagesThanColumnsAndNoPadding) {
  std::vector<float> imgs = {0.0f, 0.25f, 0.75f, 1.0f, 1.0f, 0.75f, 0.25f, 0.0f};  // two 2x2 images
  const fs::path p = dir_ / "row.png";
  write_png_grid(p, imgs.data(), 2, 2, 2, /*grid_cols=*/8, /*padding=*/0);
  const PngImage png = read_png_gray(p);
  EXPECT_EQ(png.width, 4);  // like torchvision: columns = min(nrow, count)
  EXPECT_EQ(png.height, 2);
  EXPECT_EQ(png.gray, (std::vector<std::uint8_t>{0, 64, 255, 191, 191, 255, 64, 0}));
}

TEST_F(PngGrid, OverwritesAtomically) {
  const fs::path p = dir_ / "same.png";
  std::vector<float> a(4, 0.0f), b(4, 1.0f);
  write_png_grid(p, a.data(), 1, 2, 2, 1, 1);
  write_png_grid(p, b.data(), 1, 2, 2, 1, 1);
  const PngImage png = read_png_gray(p);
  EXPECT_EQ(png.gray[1 * 4 + 1], 255);
  for (const auto& e : fs::directory_iterator(dir_)) EXPECT_EQ(e.path().filename(), "same.png");  // no temporaries
}

TEST_F(PngGrid, RejectsBadArguments) {
  std::vector<float> imgs(16, 0.5f);
  const fs::path p = dir_ / "bad.png";
  for (auto call : {+[](const fs::path& f, const float* d) { write_png_grid(f, d, 0, 2, 2, 1); },
                    +[](const fs::path& f, const float* d) { write_png_grid(f, d, 1, 0, 2, 1); },
                    +[](const fs::path& f, const float* d) { write_png_grid(f, d, 1, 2, 2, 0); },
                    +[](const fs::path& f, const float* d) { write_png_grid(f, d, 1, 2, 2, 1, -1); }}) {
    const std::string msg = error_of([&] { call(p, imgs.data()); });
    EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("bad image grid"), std::string::npos) << msg;
  }
  EXPECT_NE(error_of([&] { write_png_grid(p, nullptr, 1, 2, 2, 1); }).find("null"), std::string::npos);
  EXPECT_NE(error_of([&] { write_png_grid(p, imgs.data(), 1, 2000000, 1, 1); }).find("too large"), std::string::npos);
  EXPECT_FALSE(fs::exists(p));
}

TEST_F(PngRead, MissingEmptyAndNotPng) {
  const fs::path missing = dir_ / "missing.png";
  EXPECT_NE(error_of([&] { read_png_gray(missing); }).find(missing.string() + ": no such file"), std::string::npos);
  const fs::path empty = dir_ / "empty.png";
  write_file_atomic(empty, "");
  EXPECT_NE(error_of([&] { read_png_gray(empty); }).find(empty.string() + ": empty file"), std::string::npos);
  const fs::path text = dir_ / "text.png";
  write_file_atomic(text, "this is not a png file at all");
  EXPECT_NE(error_of([&] { read_png_gray(text); }).find(text.string() + ": not a PNG file"), std::string::npos);
}

TEST_F(PngRead, TruncatedPng) {
  std::vector<float> imgs(64 * 64);
  for (std::size_t i = 0; i < imgs.size(); ++i) imgs[i] = float((i * 7919) % 101) / 100.0f;  // hard to compress
  const fs::path p = dir_ / "full.png";
  write_png_grid(p, imgs.data(), 1, 64, 64, 1);
  const std::string bytes = read_file(p);
  const fs::path cut = dir_ / "cut.png";
  write_file_atomic(cut, bytes.substr(0, bytes.size() / 2));
  const std::string msg = error_of([&] { read_png_gray(cut); });
  EXPECT_NE(msg.find(cut.string() + ": "), std::string::npos) << msg;
  EXPECT_NE(msg.find("corrupt PNG"), std::string::npos) << msg;
  const fs::path header_only = dir_ / "header-only.png";
  write_file_atomic(header_only, bytes.substr(0, 20));
  EXPECT_NE(error_of([&] { read_png_gray(header_only); }).find("no IHDR"), std::string::npos);
}

TEST_F(PngRead, RejectsColourPng) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  img.width = 2;
  img.height = 2;
  img.format = PNG_FORMAT_RGB;
  const std::vector<std::uint8_t> rgb(12, 100);
  png_alloc_size_t size = 0;
  ASSERT_TRUE(png_image_write_to_memory(&img, nullptr, &size, 0, rgb.data(), 0, nullptr));
  std::string bytes(size, '\0');
  ASSERT_TRUE(png_image_write_to_memory(&img, bytes.data(), &size, 0, rgb.data(), 0, nullptr));
  bytes.resize(size);
  const fs::path p = dir_ / "rgb.png";
  write_file_atomic(p, bytes);
  const std::string msg = error_of([&] { read_png_gray(p); });
  EXPECT_NE(msg.find(p.string() + ": not an 8-bit grayscale PNG"), std::string::npos) << msg;
  EXPECT_NE(msg.find("color type 2"), std::string::npos) << msg;
}

// parse_png_gray is what read_png_gray runs on the file's bytes: same pixels, and the errors
// name what it was told.
TEST_F(PngRead, BytesEntryPointMatchesTheFileReader) {
  const std::vector<float> imgs = {0.0f, 0.5f, 1.0f, 0.25f, 0.75f, 0.1f};
  const fs::path p = dir_ / "two.png";
  write_png_grid(p, imgs.data(), 1, 2, 3, 1, 0);
  const std::string bytes = read_file(p);
  const PngImage a = read_png_gray(p), b = parse_png_gray("mem", bytes);
  EXPECT_EQ(b.width, 3);
  EXPECT_EQ(b.height, 2);
  EXPECT_EQ(b.gray, (std::vector<std::uint8_t>{0, 128, 255, 64, 191, 26}));
  EXPECT_EQ(b.gray, a.gray);
  EXPECT_EQ(error_of([] { parse_png_gray("mem", ""); }), "mem: empty file");
  EXPECT_EQ(error_of([&] { parse_png_gray("mem", std::string_view(bytes).substr(0, 20)); }),
            "mem: truncated or corrupt PNG: no IHDR chunk after the signature");
  std::string huge = bytes;  // IHDR claims 100000 x 100000: no 1-byte-per-1032 file holds that
  for (int at : {16, 20}) huge.replace(std::size_t(at), 4, std::string("\x00\x01\x86\xa0", 4));
  EXPECT_EQ(error_of([&] { parse_png_gray("mem", huge); }),
            "mem: PNG header says 100000 x 100000 pixels, which a " + std::to_string(huge.size()) +
                "-byte file cannot hold");
}

}  // namespace
}  // namespace cuvae
