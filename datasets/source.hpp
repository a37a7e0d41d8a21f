// Where the images come from (`--data PATH`, the kind recognised from what PATH holds) and the
// options of each kind, with the one loader every program calls:
// - an IDX folder (train-images-idx3-ubyte[.gz] and its siblings, as Fashion-MNIST ships);
// - a .npy file of images ([N, D], [N, H, W] or [N, C, H, W]; uint8 or float32 in [0, 1]) with
//   an optional <stem>_labels.npy beside it, or a folder holding train.npy and test.npy (each
//   with its optional _labels.npy);
// - an image folder of PNG and JPEG files (datasets/image_folder.hpp).
#pragma once
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include "datasets/dataset.hpp"

namespace cuvae {

enum class DataKind { idx, npy_file, npy_folder, image_folder };
enum class Split { train, test };

struct DataOptions {
  std::filesystem::path path;      // empty: default_data_dir()
  int image_size = 0;              // --image-size S: resize the short side to S, centre-crop S x S (image folders)
  int channels = 0;                // --channels 1|3 (image folders; 0: 1 when every image is grey, else 3)
  ImageShape expect{0, 0, 0};      // a checkpoint's input shape: the image folder's size and channels when not given
  double test_fraction = -1;       // --test-fraction F (< 0: a test/ subfolder, else kDefaultTestFraction)
  std::uint64_t split_seed = 0;    // --split-seed: which images the test fraction takes
  std::filesystem::path cache;     // --cache DIR (empty: default_cache_dir()); "none": no cache
  bool skip_bad = false;           // --skip-bad: skip files that cannot be decoded (counted in one line)
  int threads = 0;                 // decoding threads (0: all hardware threads)
  bool progress = true;            // a decoding progress bar on a terminal's stderr
};

// The share of a data set without its own test split that becomes the test split.
inline constexpr double kDefaultTestFraction = 0.1;

// PATH, or default_data_dir() when empty.
std::filesystem::path data_path(const DataOptions& opt);
// What PATH holds; an Error naming it when it is missing or none of the kinds.
DataKind data_kind(const std::filesystem::path& path);

// One split of the data. limit > 0 keeps its first `limit` images. Flags that do not apply to
// the kind (--image-size on IDX files) are an Error naming the flag. `log` gets one line when
// an image folder is decoded or read from its cache.
Dataset load_data(const DataOptions& opt, Split split, std::int64_t limit, std::ostream& log);

// Which of n images (in the order given) the test fraction takes: a seeded permutation of
// 0..n-1, the first round(fraction * n) entries the test split, the rest the training split,
// each in the permutation's order. Used for image folders and single .npy files alike.
struct SplitIndices {
  std::vector<std::int64_t> train, test;
};
SplitIndices split_by_fraction(std::int64_t n, double fraction, std::uint64_t seed);

}  // namespace cuvae
