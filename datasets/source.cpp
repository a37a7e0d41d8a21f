// The data loader every program calls (see source.hpp): IDX folders, .npy files and folders,
// image folders, and the seeded test fraction.
#include "datasets/source.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <ostream>

#include "datasets/idx.hpp"
#include "datasets/image_folder.hpp"
#include "datasets/npy.hpp"
#include "host/error.hpp"
#include "host/order.hpp"

namespace cuvae {
namespace fs = std::filesystem;
namespace {

constexpr const char* kKinds = "want an IDX folder, an image folder, a .npy file or a folder with train.npy and test.npy";

bool has_idx_files(const fs::path& dir) {
  std::error_code ec;
  for (const char* split : {"train", "t10k"})
    for (const char* kind : {"-images-idx3-ubyte", "-labels-idx1-ubyte"})
      for (const char* gz : {"", ".gz"})
        if (fs::exists(dir / (std::string(split) + kind + gz), ec)) return true;
  return false;
}

const char* split_name(Split s) { return s == Split::train ? "train" : "test"; }

// <stem>_labels.npy beside an images file.
fs::path labels_beside(const fs::path& images) {
  return images.parent_path() / (images.stem().string() + "_labels.npy");
}

ImageShape npy_image_shape(const fs::path& file, const NpyMatrix& m) {
  if (m.shape.size() == 3) return {1, int(m.shape[1]), int(m.shape[2])};
  if (m.shape.size() == 4) return {int(m.shape[1]), int(m.shape[2]), int(m.shape[3])};
  const ImageShape s = square_image_shape(m.cols);
  if (s.width == 0) throw Error(file.string() + ": rows of " + std::to_string(m.cols) + " values, too long for an image");
  return s;
}

// A .npy file of images, with its labels when <stem>_labels.npy is beside it.
Dataset read_npy_images(const fs::path& file) {
  NpyMatrix m = read_npy_matrix(file);
  Dataset d;
  const ImageShape s = npy_image_shape(file, m);
  d.count = m.rows, d.channels = s.channels, d.rows = s.height, d.cols = s.width;
  for (std::size_t i = 0; i < m.data.size(); ++i)
    if (!(m.data[i] >= 0.f && m.data[i] <= 1.f))  // also NaN
      throw Error(file.string() + ": value " + std::to_string(m.data[i]) + " (element " + std::to_string(i) +
                  ") outside [0, 1]; images are pixel intensities in [0, 1] (float32) or 0..255 (uint8)");
  d.images = std::move(m.data);
  const fs::path lf = labels_beside(file);
  std::error_code ec;
  if (fs::exists(lf, ec)) {
    const std::vector<std::int32_t> y = read_npy_labels(lf);
    if (std::ssize(y) != d.count)
      throw Error(lf.string() + ": " + std::to_string(y.size()) + " labels for the " + std::to_string(d.count) +
                  " images of " + file.string());
    for (std::size_t i = 0; i < y.size(); ++i) {
      if (y[i] < 0 || y[i] >= kMaxFolderClasses)
        throw Error(lf.string() + ": label " + std::to_string(y[i]) + " (image " + std::to_string(i) + ") outside 0.." +
                    std::to_string(kMaxFolderClasses - 1));
      d.labels.push_back(std::uint8_t(y[i]));
    }
  }
  return d;
}

// The rows `pick` of d (in that order), at most `limit` of them when limit > 0.
Dataset select(const Dataset& d, const std::vector<std::int64_t>& pick, std::int64_t limit) {
  Dataset out;
  out.rows = d.rows, out.cols = d.cols, out.channels = d.channels, out.classes = d.classes;
  out.count = limit > 0 ? std::min<std::int64_t>(limit, std::ssize(pick)) : std::ssize(pick);
  const std::size_t dim = std::size_t(d.dim());
  out.images.resize(std::size_t(out.count) * dim);
  for (std::int64_t i = 0; i < out.count; ++i) {
    const std::size_t r = std::size_t(pick[std::size_t(i)]);
    std::copy_n(d.images.begin() + std::ptrdiff_t(r * dim), dim, out.images.begin() + std::ptrdiff_t(std::size_t(i) * dim));
    if (!d.labels.empty()) out.labels.push_back(d.labels[r]);
  }
  return out;
}

double fraction_of(const DataOptions& opt) {
  const double f = opt.test_fraction < 0 ? kDefaultTestFraction : opt.test_fraction;
  if (!(f > 0 && f < 1)) throw Error("--test-fraction " + std::to_string(f) + ": want a number between 0 and 1");
  return f;
}

void only_for_image_folders(const DataOptions& opt, const fs::path& path, const char* kind) {
  if (opt.image_size) throw Error("--image-size: " + path.string() + " is " + kind + "; the flag is for image folders");
  if (opt.channels) throw Error("--channels: " + path.string() + " is " + kind + "; the flag is for image folders");
  if (opt.skip_bad) throw Error("--skip-bad: " + path.string() + " is " + kind + "; the flag is for image folders");
}

Dataset from_folder(const DataOptions& given, Split split, std::int64_t limit, std::ostream& log) {
  // A checkpoint's shape fills in --image-size and --channels. A cache the training run left
  // (under the flags it was given: none, the size, the channels, or both) is used when it holds
  // images of that shape; otherwise the folder is decoded to it.
  DataOptions opt = given, sized = given;
  if (!sized.image_size && given.expect.channels && given.expect.height == given.expect.width)
    sized.image_size = given.expect.height;
  if (!opt.channels && given.expect.channels) opt.channels = given.expect.channels;
  DataOptions coloured = opt;
  opt.image_size = sized.image_size;
  std::optional<FolderImages> found;
  std::error_code ec;
  if (given.expect.channels && given.cache != "none")
    for (const DataOptions& t : {given, sized, coloured})
      if (!found && std::filesystem::exists(folder_cache_file(t), ec)) {
        FolderImages im = load_image_folder(t, log);
        if (im.shape == given.expect) found = std::move(im);
      }
  const FolderImages im = found ? std::move(*found) : load_image_folder(opt, log);
  if (im.has_test_folder && opt.test_fraction >= 0)
    throw Error("--test-fraction: " + opt.path.string() + " has its own test/ subfolder");
  std::vector<std::int64_t> pick;
  if (im.has_test_folder) {
    for (std::int64_t i = 0; i < im.count; ++i)
      if ((im.test[std::size_t(i)] != 0) == (split == Split::test)) pick.push_back(i);
  } else {
    SplitIndices s = split_by_fraction(im.count, fraction_of(opt), opt.split_seed);
    pick = split == Split::test ? std::move(s.test) : std::move(s.train);
  }
  if (pick.empty())
    throw Error(opt.path.string() + ": the " + split_name(split) + " split holds no images (of " +
                std::to_string(im.count) + ")");
  Dataset d;
  d.rows = im.shape.height, d.cols = im.shape.width, d.channels = im.shape.channels, d.classes = im.classes;
  d.count = limit > 0 ? std::min<std::int64_t>(limit, std::ssize(pick)) : std::ssize(pick);
  const std::size_t dim = std::size_t(im.shape.dim());
  d.images.resize(std::size_t(d.count) * dim);
  for (std::int64_t i = 0; i < d.count; ++i) {
    const std::int64_t r = pick[std::size_t(i)];
    const std::uint8_t* src = im.image(r);
    float* dst = d.images.data() + std::size_t(i) * dim;
    for (std::size_t k = 0; k < dim; ++k) dst[k] = float(src[k]) / 255.0f;
    if (!im.classes.empty()) d.labels.push_back(im.labels[std::size_t(r)]);
  }
  return d;
}

}  // namespace

fs::path data_path(const DataOptions& opt) { return opt.path.empty() ? default_data_dir() : opt.path; }

DataKind data_kind(const fs::path& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) return DataKind::idx;  // its reader names the files it looked for
  if (fs::is_regular_file(st)) {
    if (path.extension() == ".npy") return DataKind::npy_file;
    throw Error(path.string() + ": a file that is not .npy (" + kKinds + ")");
  }
  if (!fs::is_directory(st)) throw Error(path.string() + ": not a file or a folder (" + kKinds + ")");
  if (has_idx_files(path)) return DataKind::idx;
  if (fs::exists(path / "train.npy", ec)) return DataKind::npy_folder;
  return DataKind::image_folder;
}

SplitIndices split_by_fraction(std::int64_t n, double fraction, std::uint64_t seed) {
  const std::vector<std::int64_t> order = shuffled_indices(n, rng_key(seed, RngPurpose::split, 0));
  const auto n_test = static_cast<std::int64_t>(std::llround(fraction * double(n)));
  SplitIndices s;
  s.test.assign(order.begin(), order.begin() + n_test);
  s.train.assign(order.begin() + n_test, order.end());
  return s;
}

Dataset load_data(const DataOptions& given, Split split, std::int64_t limit, std::ostream& log) {
  DataOptions opt = given;
  opt.path = data_path(given);
  if (limit < 0) throw Error(opt.path.string() + ": negative image limit " + std::to_string(limit));
  switch (data_kind(opt.path)) {
    case DataKind::idx:
      only_for_image_folders(opt, opt.path, "an IDX folder");
      if (opt.test_fraction >= 0) throw Error("--test-fraction: " + opt.path.string() + " is an IDX folder with its own test split");
      return load_idx_dataset(opt.path, split == Split::train ? "train" : "t10k", limit);
    case DataKind::npy_folder: {
      only_for_image_folders(opt, opt.path, "a folder of .npy files");
      if (opt.test_fraction >= 0) throw Error("--test-fraction: " + opt.path.string() + " has its own test.npy");
      const fs::path file = opt.path / (std::string(split_name(split)) + ".npy");
      Dataset d = read_npy_images(file);
      if (limit > 0 && limit < d.count) {
        d.count = limit;
        d.images.resize(std::size_t(limit) * std::size_t(d.dim()));
        if (!d.labels.empty()) d.labels.resize(std::size_t(limit));
      }
      return d;
    }
    case DataKind::npy_file: {
      only_for_image_folders(opt, opt.path, "a .npy file");
      const Dataset all = read_npy_images(opt.path);
      SplitIndices s = split_by_fraction(all.count, fraction_of(opt), opt.split_seed);
      const std::vector<std::int64_t>& pick = split == Split::test ? s.test : s.train;
      if (pick.empty())
        throw Error(opt.path.string() + ": the " + split_name(split) + " split of its " + std::to_string(all.count) +
                    " images is empty (--test-fraction)");
      return select(all, pick, limit);
    }
    case DataKind::image_folder:
      return from_folder(opt, split, limit, log);
  }
  throw Error(opt.path.string() + ": unknown data kind");
}

}  // namespace cuvae
