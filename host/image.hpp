// PNG output of image grids (the pictures users look at: samples, reconstructions) and a
// small grayscale PNG reader used by tests to check what was written.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

namespace cuvae {

// Writes `count` images (each rows x cols floats, row-major, back to back) as one 8-bit
// grayscale PNG grid, laid out like torchvision.utils.save_image(nrow=grid_cols, padding,
// pad_value=0): min(grid_cols, count) columns, ceil(count/columns) rows, `padding` zero
// pixels around and between cells. Values are clamped to [0,1] (NaN -> 0), then
// floor(v*255 + 0.5). Written atomically.
void write_png_grid(const std::filesystem::path& file, const float* images, int count, int rows, int cols,
                    int grid_cols, int padding = 2);

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
