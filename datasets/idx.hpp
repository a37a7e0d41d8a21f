// IDX (MNIST-format) files, raw or gzip-compressed: a bounded reader for uint8 images and
// labels, the whole-dataset loader the trainer uses, and a writer for tests and subsets.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "datasets/dataset.hpp"

namespace cuvae {

// uint8 images as stored: count * rows * cols bytes, row-major.
struct IdxImages {
  std::int64_t count = 0;
  int rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;
};

// Reads an IDX3 uint8 image file (magic 0x00000803), raw or gzip (detected by its 1f 8b magic).
// Every problem (missing, empty, wrong magic/type/rank, zero or oversized dimensions, size
// that disagrees with the header, corrupt or truncated gzip) throws Error("<file>: ...").
// Memory follows the data the file actually holds (for gzip: the bytes actually inflated),
// never the header's claim; an allocation that still fails is an Error naming the file and
// the size.
IdxImages read_idx_images(const std::filesystem::path& file);
// The same on the file's bytes (read_idx_images reads the file and calls this); `file` only
// names it in messages.
IdxImages parse_idx_images(const std::filesystem::path& file, std::string_view bytes);

// Reads an IDX1 uint8 label file (magic 0x00000801); every label must be < num_classes.
std::vector<std::uint8_t> read_idx_labels(const std::filesystem::path& file, int num_classes = 10);
std::vector<std::uint8_t> parse_idx_labels(const std::filesystem::path& file, std::string_view bytes,
                                           int num_classes = 10);

// split is "train" or "t10k"; finds <dir>/<split>-images-idx3-ubyte[.gz] and
// <split>-labels-idx1-ubyte[.gz] (raw preferred if both exist). limit > 0 keeps the first
// `limit` examples (all of them if there are fewer).
Dataset load_idx_dataset(const std::filesystem::path& dir, std::string_view split, std::int64_t limit = 0);

// $CUVAE_DATA if set and non-empty, else /usr/share/datasets/fashion-mnist.
std::filesystem::path default_data_dir();

// Write an IDX file atomically: gzip when the name ends in ".gz", raw otherwise.
void write_idx_images(const std::filesystem::path& file, const IdxImages& images);
void write_idx_labels(const std::filesystem::path& file, const std::vector<std::uint8_t>& labels);

}  // namespace cuvae
