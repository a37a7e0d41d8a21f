// Image folders: PNG and JPEG files, laid out as torchvision's ImageFolder reads them (one
// subfolder per class gives the labels, sorted by name; a flat folder has none), decoded once on
// all threads into a uint8 cache file that the next run memory-maps.
//
// Layout: ROOT/train/ and ROOT/test/ (each flat or with class folders); or ROOT with a test/
// subfolder, the rest being the training split; or ROOT alone, split by a test fraction.
// Class folders are read recursively; files that are not .png, .jpg or .jpeg are ignored.
#pragma once
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "datasets/source.hpp"

namespace cuvae {

inline constexpr std::uint8_t kNoLabel = 255;
inline constexpr int kMaxFolderClasses = 255;  // labels are uint8, 255 meaning none
inline constexpr int kMaxImageSize = 4096;     // --image-size, and each side kept without it

// The image files of a folder, before decoding.
struct FolderEntry {
  std::string path;          // relative to the root, '/'-separated
  std::uint8_t label = kNoLabel;
  bool test = false;         // from the test/ subfolder
  std::uint64_t size = 0;    // bytes, and the modification time: what invalidates the cache
  std::int64_t mtime_ns = 0;
};
struct FolderListing {
  std::filesystem::path root;
  std::vector<std::string> classes;  // empty: a flat folder
  std::vector<FolderEntry> files;    // the training split's files, then the test split's; each sorted by path
  bool has_test_folder = false;
};
// Lists ROOT; an Error naming the folder or file for an empty folder, a class folder without
// images, images beside class folders, a test class the training split lacks, or more than
// kMaxFolderClasses classes.
FolderListing list_image_folder(const std::filesystem::path& root);

// The decoded folder: count images of one shape, uint8 planes (CHW) back to back, with their
// labels (kNoLabel when flat) and which came from test/.
class FolderImages {
 public:
  std::int64_t count = 0;
  ImageShape shape;
  std::vector<std::string> classes;
  std::vector<std::uint8_t> labels, test;
  bool has_test_folder = false;
  std::int64_t skipped = 0;  // --skip-bad: files left out
  const std::uint8_t* image(std::int64_t i) const { return pixels_ + i * shape.dim(); }

 private:
  friend FolderImages load_image_folder(const DataOptions&, std::ostream&);
  friend FolderImages read_folder_cache(const std::filesystem::path&, std::uint64_t);
  const std::uint8_t* pixels_ = nullptr;
  std::shared_ptr<const void> storage_;  // the owned pixels, or the cache file's mapping
};

// Decodes the folder at opt.path (or maps its cache; see DataOptions for the flags): every file
// to opt.channels (default: 1 when all are grey, else 3), resized and centre-cropped to
// opt.image_size when given, else all of one size (an Error naming the first file of another).
// A file that cannot be decoded is an Error naming it, or with skip_bad is left out and counted.
// Writes one line to `log`: decoded (images/s) or read from the cache.
FolderImages load_image_folder(const DataOptions& opt, std::ostream& log);

// The cache file of a folder under these options (in opt.cache or default_cache_dir()).
std::filesystem::path folder_cache_file(const DataOptions& opt);
// $CUVAE_CACHE, else $XDG_CACHE_HOME/cuvae/images, else ~/.cache/cuvae/images.
std::filesystem::path default_cache_dir();
// The cache file's images when the file is whole and its listing digest is `digest`, else an
// Error saying what is wrong (load_image_folder then decodes again).
FolderImages read_folder_cache(const std::filesystem::path& file, std::uint64_t digest);

}  // namespace cuvae
