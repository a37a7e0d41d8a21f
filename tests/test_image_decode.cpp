// PNG/JPEG decoding and torchvision's Resize + CenterCrop (datasets/image_decode.hpp), compared bit for bit with
// what PIL makes of the same files: tests/python/make_decode_fixtures.py writes seeded random images of every
// kind and PIL's convert('RGB'), convert('L') and resize + crop of each (Debian's python3-pil, from .ci/setup;
// the tests fail, not skip, without it). Then every kind of bad input, each with its exact one-line Error.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "datasets/image_decode.hpp"
#include "host/error.hpp"
#include "support.hpp"

#include "alloc_probe.hpp"

namespace cuvae {
namespace {

namespace fs = std::filesystem;
using test::error_of;
using test::fresh_dir;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::uint8_t> bytes_of(const fs::path& p) {
  const std::string s = slurp(p);
  return std::vector<std::uint8_t>(s.begin(), s.end());
}

// got against want: the size, then every byte within `tolerance`, naming the first mismatch ([y][x][c]) and the
// largest difference.
::testing::AssertionResult same_pixels(const DecodedImage& got, int width, int height, int channels,
                                       const std::vector<std::uint8_t>& want, const std::string& what,
                                       int tolerance = 0) {
  if (got.width != width || got.height != height || got.channels != channels)
    return ::testing::AssertionFailure() << what << ": got " << got.width << " x " << got.height << " x "
                                         << got.channels << ", want " << width << " x " << height << " x " << channels;
  if (got.pixels.size() != want.size())
    return ::testing::AssertionFailure() << what << ": " << got.pixels.size() << " bytes, reference " << want.size();
  std::size_t bad = 0, first = 0;
  int worst = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const int d = std::abs(int(got.pixels[i]) - int(want[i]));
    if (d > tolerance && bad++ == 0) first = i;
    worst = std::max(worst, d);
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  const std::size_t c = std::size_t(channels), row = std::size_t(width) * c;
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << want.size() << " bytes differ by more than "
                                       << tolerance << " (max difference " << worst << "); first at [" << first / row
                                       << "][" << first % row / c << "][" << first % c << "]: got "
                                       << int(got.pixels[first]) << ", want " << int(want[first]);
}

struct ImageRow {
  std::string file, rgb_ref, l_ref;
  int width = 0, height = 0, channels = 0;
};
struct ResizeRow {
  std::string file, ref;
  int channels = 0, size = 0;
};

// Each case writes the fixtures afresh into its own folder (ctest runs the cases as parallel processes).
class ImageDecode : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_dir();
    const std::string cmd = test::python() + " " + test::shell_quote(CUVAE_SOURCE_DIR "/tests/python/make_decode_fixtures.py") +
                            " " + test::shell_quote(dir_.string()) + " 2>&1";
    std::string log;
    ASSERT_EQ(test::run_command(cmd, log), 0) << cmd << "\n" << log << "(.ci/setup installs python3-pil)";
    std::istringstream manifest(slurp(dir_ / "manifest.txt"));
    for (std::string kind; manifest >> kind;) {
      if (kind == "image") {
        ImageRow r;
        manifest >> r.file >> r.width >> r.height >> r.channels >> r.rgb_ref >> r.l_ref;
        images_.push_back(r);
      } else {
        ASSERT_EQ(kind, "resize");
        ResizeRow r;
        manifest >> r.file >> r.channels >> r.size >> r.ref;
        resizes_.push_back(r);
      }
    }
  }
  fs::path path(const std::string& name) const { return dir_ / name; }
  std::string in(const std::string& name) const { return path(name).string() + ": "; }
  DecodedImage decode(const std::string& name) const { return decode_image(path(name), slurp(path(name))); }
  std::string error(const std::string& name, const std::string& bytes) const {
    return error_of([&] { decode_image(path(name), bytes); });
  }
  // The images whose name ends with `ext`, checked against the list the script is meant to write.
  std::vector<ImageRow> images(const std::string& ext, const std::set<std::string>& expected) const {
    std::vector<ImageRow> rows;
    std::set<std::string> names;
    for (const ImageRow& r : images_)
      if (r.file.ends_with(ext)) rows.push_back(r), names.insert(r.file);
    EXPECT_EQ(names, expected);
    return rows;
  }
  // Decodes every image of the list and compares its RGB and L forms with PIL's.
  void expect_like_pil(const std::vector<ImageRow>& rows) const {
    for (const ImageRow& r : rows) {
      SCOPED_TRACE(r.file);
      DecodedImage img;
      ASSERT_NO_THROW(img = decode(r.file));
      EXPECT_EQ(img.channels, r.channels);
      std::vector<std::uint8_t> rgb = bytes_of(path(r.rgb_ref)), l = bytes_of(path(r.l_ref));
      if (r.file == "grey16.png") {
        // PIL opens a 16-bit grey PNG in mode I, and its convert('L'/'RGB') clips the 16-bit values to 0..255
        // instead of scaling them: no exact match is possible, nor wanted. The decoder keeps the high byte, as
        // PIL does for 16-bit RGB (rgb16.png, compared exactly below); the script writes that reference.
        l = bytes_of(path("grey16.png.high"));
        rgb.clear();
        for (std::uint8_t v : l) rgb.insert(rgb.end(), 3, v);
      }
      EXPECT_TRUE(same_pixels(to_channels(img, 3), r.width, r.height, 3, rgb, r.file + " as RGB"));
      EXPECT_TRUE(same_pixels(to_channels(img, 1), r.width, r.height, 1, l, r.file + " as L"));
    }
  }
  fs::path dir_;
  std::vector<ImageRow> images_;
  std::vector<ResizeRow> resizes_;
};

// --- decoding, against PIL ----------------------------------------------------------------------------------------

TEST_F(ImageDecode, EveryPngKindMatchesPil) {
  expect_like_pil(images(".png", {"grey8.png", "grey16.png", "grey_alpha.png", "rgb.png", "rgba.png", "palette.png",
                                  "palette_trns.png", "palette4.png", "bits1.png", "grey_trns.png", "rgb16.png",
                                  "interlaced_rgb.png", "interlaced_grey.png", "tall.png"}));
}

TEST_F(ImageDecode, EveryJpegKindMatchesPil) {
  // Baseline and progressive 4:2:0 colour (libjpeg's fancy upsampling and ISLOW IDCT, PIL's settings) and grey.
  expect_like_pil(images(".jpg", {"baseline.jpg", "progressive.jpg", "grey.jpg"}));
}

// --- resize + centre crop, against PIL ------------------------------------------------------------------------------

TEST_F(ImageDecode, ResizeCenterCropMatchesPil) {
  std::map<std::string, int> per_file;
  for (const ResizeRow& r : resizes_) {
    SCOPED_TRACE(r.file + " " + std::to_string(r.channels) + " channels, S = " + std::to_string(r.size));
    ++per_file[r.file];
    DecodedImage img;
    ASSERT_NO_THROW(img = to_channels(decode(r.file), r.channels));
    EXPECT_TRUE(same_pixels(resize_center_crop(img, r.size), r.size, r.size, r.channels, bytes_of(path(r.ref)),
                            r.ref));
  }
  // Shrinking by non-integer factors, S = the short side (no vertical or no horizontal pass), enlarging, S = 1, a
  // tall image; grey and colour each; and a sweep of random sizes (1 x N strips included).
  const std::map<std::string, int> expected = {{"grey8.png", 10},      {"rgb.png", 8},  {"baseline.jpg", 10},
                                               {"progressive.jpg", 4}, {"grey.jpg", 6}, {"tall.png", 8}};
  for (const auto& [file, n] : expected) EXPECT_EQ(per_file[file], n) << file;
  int sweep = 0;
  for (const auto& [file, n] : per_file) sweep += file.starts_with("sweep") ? n : 0;
  EXPECT_EQ(sweep, 80);
}

TEST_F(ImageDecode, ResizeKeepsAConstantImageAndCopiesWhenNothingChanges) {
  DecodedImage flat{53, 31, 3, std::vector<std::uint8_t>(53 * 31 * 3, 77)};
  for (int s : {1, 5, 16, 31, 64}) {
    const DecodedImage out = resize_center_crop(flat, s);
    EXPECT_TRUE(same_pixels(out, s, s, 3, std::vector<std::uint8_t>(std::size_t(s) * s * 3, 77), "flat"));
  }
  const DecodedImage square = decode("grey8.png");
  const DecodedImage crop = resize_center_crop(square, 23);  // 37 x 23 -> 23: the centre 23 columns, from 7
  std::vector<std::uint8_t> want;
  for (int y = 0; y < 23; ++y)
    want.insert(want.end(), square.pixels.begin() + y * 37 + 7, square.pixels.begin() + y * 37 + 30);
  EXPECT_TRUE(same_pixels(crop, 23, 23, 1, want, "crop only"));
}

// --- channel conversion ------------------------------------------------------------------------------------------------

TEST(ImageChannels, RgbToLIsPilsFixedPointLumaAndLToRgbReplicates) {
  const DecodedImage rgb{4, 1, 3, {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 200, 99}};
  // (R*19595 + G*38470 + B*7471 + 0x8000) >> 16
  EXPECT_EQ(to_channels(rgb, 1).pixels, (std::vector<std::uint8_t>{76, 150, 29, 132}));
  const DecodedImage grey{2, 1, 1, {9, 250}};
  EXPECT_EQ(to_channels(grey, 3).pixels, (std::vector<std::uint8_t>{9, 9, 9, 250, 250, 250}));
  EXPECT_EQ(to_channels(grey, 1).pixels, grey.pixels);
  EXPECT_EQ(error_of([&] { to_channels(grey, 2); }), "to_channels: an image of 1 channels and 2 bytes to 2 channels");
  EXPECT_EQ(error_of([&] { resize_center_crop(grey, 0); }),
            "resize_center_crop: a 2 x 1 image of 1 channels and 2 bytes to 0 x 0");
}

// --- bad input ---------------------------------------------------------------------------------------------------------

TEST_F(ImageDecode, EmptyOrUnknownBytesAreNotAnImage) {
  EXPECT_EQ(error("empty.png", ""), in("empty.png") + "not a PNG or JPEG file");
  std::mt19937 rng(7);
  std::string noise(1000, '\0');
  for (char& ch : noise) ch = char(rng() & 0x7f);  // never 0x89 or 0xFF first
  EXPECT_EQ(error("noise.jpg", noise), in("noise.jpg") + "not a PNG or JPEG file");
  EXPECT_EQ(error("gif.png", "GIF89a\x01\x00\x01\x00"), in("gif.png") + "not a PNG or JPEG file");
}

TEST_F(ImageDecode, DamagedPngsThrowLibpngsMessage) {
  EXPECT_EQ(error("truncated.png", slurp(path("truncated.png"))), in("truncated.png") + "PNG: unexpected end of file");
  EXPECT_EQ(error("magic.png", "\x89PNG"), in("magic.png") + "PNG: unexpected end of file");
  EXPECT_EQ(error("sig.png", std::string("\x89PNG\r\n\x1a\x0a", 7) + "x" + std::string(40, '\0')),
            in("sig.png") + "PNG: PNG file corrupted by ASCII conversion");
  std::string bytes = slurp(path("rgb.png"));
  const std::size_t idat = bytes.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  const std::size_t length = std::size_t(std::uint8_t(bytes[idat - 2])) << 8 | std::uint8_t(bytes[idat - 1]);
  ASSERT_EQ(bytes.substr(idat - 4, 2), std::string(2, '\0'));  // a short IDAT: its length in the two low bytes
  bytes[idat + 4 + length] = char(bytes[idat + 4 + length] ^ 0x55);  // the chunk's CRC, after its data
  EXPECT_EQ(error("crc.png", bytes), in("crc.png") + "PNG: IDAT: CRC error");
}

TEST_F(ImageDecode, DamagedJpegsThrowLibjpegsMessage) {
  // libjpeg would warn "Premature end of JPEG file", fill the rest with grey and go on: a warning about missing
  // or corrupt data throws instead, and nothing is printed.
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(error("truncated.jpg", slurp(path("truncated.jpg"))), in("truncated.jpg") + "JPEG: Premature end of JPEG file");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(error("magic.jpg", "\xFF\xD8\xFF"), in("magic.jpg") + "JPEG: Premature end of JPEG file");
  std::string bytes = slurp(path("baseline.jpg"));
  const std::size_t sos = bytes.find("\xFF\xDA");
  ASSERT_NE(sos, std::string::npos);
  bytes.insert(sos + 200, "\xFF\xD9", 2);  // an EOI marker in the middle of the entropy-coded data
  EXPECT_EQ(error("marker.jpg", bytes), in("marker.jpg") + "JPEG: Corrupt JPEG data: premature end of data segment");
  EXPECT_EQ(error("cmyk.jpg", slurp(path("cmyk.jpg"))),
            in("cmyk.jpg") + "JPEG: CMYK JPEGs are not supported (only grey and colour)");
}

TEST_F(ImageDecode, HarmlessJpegOdditiesAreIgnoredAsPilIgnoresThem) {
  // Stray bytes before a marker: libjpeg warns "Corrupt JPEG data: N extraneous bytes", the pixels are untouched.
  std::string bytes = slurp(path("grey.jpg"));
  const std::size_t sos = bytes.find("\xFF\xDA");
  ASSERT_NE(sos, std::string::npos);
  bytes.insert(sos, "\x00\x01\x02", 3);
  DecodedImage img;
  ::testing::internal::CaptureStderr();
  ASSERT_NO_THROW(img = decode_image(path("stray.jpg"), bytes));
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_TRUE(same_pixels(img, 70, 45, 1, bytes_of(path("grey.jpg.l")), "stray bytes"));
}

TEST_F(ImageDecode, HugeHeaderIsRefusedBeforeAllocating) {
  const std::string bytes = slurp(path("huge.png"));
  g_largest_alloc = 0;
  EXPECT_EQ(error("huge.png", bytes),
            in("huge.png") + "image of 100000 x 100000 pixels is too large (at most 268435456 pixels)");
  EXPECT_LT(g_largest_alloc.load(), std::size_t(1) << 16);
}

}  // namespace
}  // namespace cuvae
