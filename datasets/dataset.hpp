// Dataset: a split of images as the trainer uses it, whatever file or folder it came from.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "host/image.hpp"

namespace cuvae {

// Images as floats in [0,1] (pixel/255), row-major [count, channels*rows*cols] with each image's
// channels as planes (NCHW), and their labels (empty when the data has none).
struct Dataset {
  std::int64_t count = 0;
  int rows = 0, cols = 0, channels = 1;
  std::vector<float> images;
  std::vector<std::uint8_t> labels;
  std::vector<std::string> classes;  // image folders: the class folders' names, label i's at i
  std::int64_t dim() const { return std::int64_t(channels) * rows * cols; }
  ImageShape shape() const { return {channels, rows, cols}; }
};

}  // namespace cuvae
