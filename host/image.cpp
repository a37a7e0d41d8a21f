// PNG grid writer and grayscale reader (see image.hpp), on libpng's simplified API: it keeps
// libpng's setjmp/longjmp error handling inside libpng and reports failures as a message.
#include "host/image.hpp"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <string>

#include "host/error.hpp"
#include "host/fileio.hpp"

namespace cuvae {
namespace {

// Same limits libpng's reader applies by default, so whatever we write we can read back.
constexpr std::int64_t kMaxSide = 1000000;
constexpr std::int64_t kMaxPixels = std::int64_t(1) << 31;
// Deflate expands at most ~1032:1, so a PNG of n bytes holds at most about 1032*n pixels.
constexpr std::uint64_t kMaxDeflateRatio = 1032;
constexpr std::uint64_t kMaxPngFileBytes = std::uint64_t(1) << 32;

std::uint8_t to_byte(float v) {
  if (!(v > 0.0f)) return 0;  // also NaN
  if (v >= 1.0f) return 255;
  return std::uint8_t(std::floor(v * 255.0f + 0.5f));
}

std::uint32_t load_be32(std::string_view s, std::size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data() + at);
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

// The IHDR chunk's fields, read ourselves (the simplified API would silently convert colour to
// gray), after the signature; an Error naming the file for bytes that do not start like a PNG.
struct Ihdr {
  std::uint32_t width = 0, height = 0;
  int depth = 0, color = 0;
};
Ihdr read_ihdr(const std::string& where, std::string_view bytes) {
  if (bytes.size() < 8 || png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8) != 0)
    throw Error(where + "not a PNG file (bad signature)");
  if (bytes.size() < 33 || bytes.substr(12, 4) != "IHDR")
    throw Error(where + "truncated or corrupt PNG: no IHDR chunk after the signature");
  return {load_be32(bytes, 16), load_be32(bytes, 20), static_cast<unsigned char>(bytes[24]),
          static_cast<unsigned char>(bytes[25])};
}

// Frees libpng's read state if we leave between begin_read and finish_read.
struct PngImageGuard {
  png_image* img;
  ~PngImageGuard() { png_image_free(img); }
};

}  // namespace

std::string ImageShape::str() const {
  return std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width);
}

ImageShape square_image_shape(std::int64_t dim) {
  const auto side = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(dim))));
  if (side * side == dim && side <= INT32_MAX) return {1, int(side), int(side)};
  return {1, 1, dim <= INT32_MAX ? int(dim) : 0};
}

void write_png_grid(const std::filesystem::path& file, const float* images, int count, ImageShape shape, int grid_cols,
                    int padding) {
  const std::string where = file.string() + ": ";
  const int rows = shape.height, cols = shape.width, C = shape.channels;
  if (images == nullptr) throw Error(where + "no image data (null pointer)");
  if (count < 1 || rows < 1 || cols < 1 || grid_cols < 1 || padding < 0 || (C != 1 && C != 3))
    throw Error(where + "bad image grid: count " + std::to_string(count) + ", " + std::to_string(C) + " x " +
                std::to_string(rows) + " x " + std::to_string(cols) + " pixels, grid_cols " + std::to_string(grid_cols) +
                ", padding " + std::to_string(padding) + " (need count, rows, cols, grid_cols >= 1, 1 or 3 channels, padding >= 0)");
  const std::int64_t ncols = std::min(grid_cols, count);
  const std::int64_t nrows = (std::int64_t(count) + ncols - 1) / ncols;
  const std::int64_t cell_w = std::int64_t(cols) + padding, cell_h = std::int64_t(rows) + padding;
  const std::int64_t width = ncols * cell_w + padding, height = nrows * cell_h + padding;
  if (width > kMaxSide || height > kMaxSide || width * height > kMaxPixels)
    throw Error(where + "image grid " + std::to_string(width) + " x " + std::to_string(height) +
                " pixels is too large for a PNG we write (at most " + std::to_string(kMaxSide) + " a side)");

  std::vector<std::uint8_t> canvas(std::size_t(width * height * C), 0);  // pad_value = 0
  const std::int64_t plane = std::int64_t(rows) * cols;
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t y0 = (i / ncols) * cell_h + padding, x0 = (i % ncols) * cell_w + padding;
    const float* src = images + i * plane * C;
    for (std::int64_t r = 0; r < rows; ++r) {
      std::uint8_t* dst = canvas.data() + ((y0 + r) * width + x0) * C;
      for (std::int64_t c = 0; c < cols; ++c)
        for (int k = 0; k < C; ++k) dst[c * C + k] = to_byte(src[k * plane + r * cols + c]);
    }
  }

  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  img.width = png_uint_32(width);
  img.height = png_uint_32(height);
  img.format = C == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  // First call sizes the output, second fills it.
  if (!png_image_write_to_memory(&img, nullptr, &size, 0, canvas.data(), 0, nullptr))
    throw Error(where + "PNG encoding failed: " + img.message);
  std::string png(size, '\0');
  if (!png_image_write_to_memory(&img, png.data(), &size, 0, canvas.data(), 0, nullptr))
    throw Error(where + "PNG encoding failed: " + img.message);
  png.resize(size);
  write_file_atomic(file, png);
}

PngInfo png_info(const std::filesystem::path& file, std::string_view bytes) {
  const Ihdr h = read_ihdr(file.string() + ": ", bytes);
  return {int(h.width), int(h.height), (h.color & 2) || h.color == 3 ? 3 : 1};
}

PngImage read_png_gray(const std::filesystem::path& file) {
  return parse_png_gray(file, read_file(file, kMaxPngFileBytes));
}

PngImage parse_png_gray(const std::filesystem::path& file, std::string_view bytes) {
  const std::string where = file.string() + ": ";
  if (bytes.size() > kMaxPngFileBytes)
    throw Error(where + std::to_string(bytes.size()) + " bytes, larger than the " + std::to_string(kMaxPngFileBytes) +
                "-byte limit");
  if (bytes.empty()) throw Error(where + "empty file");
  const Ihdr ihdr = read_ihdr(where, bytes);
  const std::uint32_t w = ihdr.width, h = ihdr.height;
  const int depth = ihdr.depth, color = ihdr.color;
  if (depth != 8 || color != 0)
    throw Error(where + "not an 8-bit grayscale PNG: bit depth " + std::to_string(depth) + ", color type " +
                std::to_string(color) + " (expected bit depth 8, color type 0)");
  if (w == 0 || h == 0 || std::uint64_t(w) * h > bytes.size() * kMaxDeflateRatio)
    throw Error(where + "PNG header says " + std::to_string(w) + " x " + std::to_string(h) +
                " pixels, which a " + std::to_string(bytes.size()) + "-byte file cannot hold");

  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  PngImageGuard guard{&img};
  if (!png_image_begin_read_from_memory(&img, bytes.data(), bytes.size()))
    throw Error(where + "corrupt PNG: " + img.message);
  img.format = PNG_FORMAT_GRAY;
  PngImage out;
  out.width = int(img.width);
  out.height = int(img.height);
  try {
    out.gray.resize(PNG_IMAGE_SIZE(img));  // at most 1032 bytes per byte of the file (checked above)
  } catch (const std::bad_alloc& e) {
    throw Error(where + "cannot allocate " + std::to_string(std::uint64_t(w) * h) + " bytes for " + std::to_string(w) +
                " x " + std::to_string(h) + " pixels: " + e.what());
  }
  if (!png_image_finish_read(&img, nullptr, out.gray.data(), 0, nullptr))
    throw Error(where + "corrupt PNG: " + img.message);
  return out;
}

}  // namespace cuvae
