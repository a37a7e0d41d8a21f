// PNG output of image grids (the pictures users look at: samples, reconstructions) and a
// small grayscale PNG reader used by tests to check what was written.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace cuvae {

// The shape of one image of a data set or a model: channels (1 grey, 3 RGB) planes of
// height x width floats (NCHW, as PyTorch's x.view(B, -1) flattens them).
struct ImageShape {
  int channels = 1, height = 1, width = 1;
  std::int64_t dim() const { return std::int64_t(channels) * height * width; }
  bool operator==(const ImageShape&) const = default;
  std::string str() const;  // "3x64x64"
};
// A grey square when dim is a square number, else one row of dim pixels (rows without a shape).
ImageShape square_image_shape(std::int64_t dim);

// Writes `count` images (each `shape`: channels planes of height x width floats, back to
// back) as one 8-bit PNG grid, grey for 1 channel and RGB for 3, laid out like torchvision.utils.save_image(nrow=grid_cols, padding,
// pad_value=0): min(grid_cols, count) columns, ceil(count/columns) rows, `padding` zero
// pixels around and between cells. Values are clamped to [0,1] (NaN -> 0), then
// floor(v*255 + 0.5). Written atomically.
void write_png_grid(const std::filesystem::path& file, const float* images, int count, ImageShape shape, int grid_cols,
                    int padding = 2);
// Grey images of rows x cols pixels.
inline void write_png_grid(const std::filesystem::path& file, const float* images, int count, int rows, int cols,
                           int grid_cols, int padding = 2) {
  write_png_grid(file, images, count, ImageShape{1, rows, cols}, grid_cols, padding);
}

// What a PNG's IHDR chunk says: its size and its channels without alpha (1 for grey, 3 for
// colour and palette); an Error("<file>: ...") for bytes that do not start like a PNG.
struct PngInfo {
  int width = 0, height = 0, channels = 0;
};
PngInfo png_info(const std::filesystem::path& file, std::string_view bytes);

struct PngImage {
  int width = 0, height = 0;
  std::vector<std::uint8_t> gray;  // height * width, row-major
};

// Decodes an 8-bit grayscale PNG (no alpha, no palette); anything else, or a damaged file,
// throws Error("<file>: ...").
PngImage read_png_gray(const std::filesystem::path& file);
// The same on a file's bytes (read_png_gray reads the file and calls this); `file` only names
// it in messages.
PngImage parse_png_gray(const std::filesystem::path& file, std::string_view bytes);

}  // namespace cuvae
