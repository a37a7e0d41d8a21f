// The data loader (datasets/source.hpp, datasets/image_folder.hpp): image folders made here (grey
// and colour PNGs, class folders, test/ subfolders) read back pixel for pixel, the seeded test
// fraction, the cache (read back, invalidated by a changed file, rebuilt when damaged), .npy files
// and folders, and every bad input with its one-line error.
#include <gmock/gmock.h>

#include <array>
#include <filesystem>
#include <functional>
#include <fstream>
#include <set>
#include <sstream>

#include "datasets/image_folder.hpp"
#include "datasets/source.hpp"
#include "host/error.hpp"
#include "host/fileio.hpp"
#include "host/image.hpp"
#include "datasets/npy.hpp"
#include "support.hpp"

namespace cuvae {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using test::error_of;
using test::fresh_dir;

// An image whose pixels are exact k/255 values, distinct per `seed`: what write_png_grid stores exactly.
std::vector<float> pattern(ImageShape s, int seed) {
  std::vector<float> v(static_cast<std::size_t>(s.dim()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = float((i * 37 + std::size_t(seed) * 101 + 1) % 256) / 255.0f;
  return v;
}

void write_image(const fs::path& file, ImageShape s, int seed) {
  fs::create_directories(file.parent_path());
  const std::vector<float> v = pattern(s, seed);
  write_png_grid(file, v.data(), 1, s, 1, 0);
}

// "<prefix><i>.png", built without operator+ on temporaries (GCC 12 warns falsely about those).
std::string numbered(const char* prefix, int i) {
  std::string s = prefix;
  s += std::to_string(i);
  s += ".png";
  return s;
}

struct Loaded {
  Dataset d;
  std::string log;
};
Loaded load(const DataOptions& opt, Split split, std::int64_t limit = 0) {
  std::ostringstream log;
  Loaded l{load_data(opt, split, limit, log), ""};
  l.log = log.str();
  return l;
}

DataOptions folder(const fs::path& root, const fs::path& cache) {
  DataOptions o;
  o.path = root, o.cache = cache, o.threads = 2, o.progress = false;
  return o;
}

// The row of an image among a split's rows, -1 when absent.
int find_row(const Dataset& d, const std::vector<float>& img) {
  for (std::int64_t r = 0; r < d.count; ++r)
    if (std::equal(img.begin(), img.end(), d.images.begin() + r * d.dim())) return int(r);
  return -1;
}

TEST(ImageFolder, ClassFoldersAndTestFolderReadBackExactly) {
  const fs::path root = fresh_dir("data"), cache = fresh_dir("cache");
  const ImageShape s{1, 5, 7};  // odd, not square
  for (int i = 0; i < 3; ++i) write_image(root / "cat" / numbered("c", i), s, i);
  for (int i = 0; i < 2; ++i) write_image(root / "dog" / "deeper" / numbered("d", i), s, 10 + i);
  write_image(root / "test" / "dog" / "t0.png", s, 20);
  std::ofstream(root / "cat" / "notes.txt") << "not an image";
  const Loaded train = load(folder(root, cache), Split::train), test = load(folder(root, cache), Split::test);
  ASSERT_EQ(train.d.count, 5);
  EXPECT_EQ(train.d.shape(), s);
  EXPECT_EQ(train.d.classes, (std::vector<std::string>{"cat", "dog"}));
  ASSERT_EQ(test.d.count, 1);
  EXPECT_EQ(test.d.labels, (std::vector<std::uint8_t>{1}));
  EXPECT_EQ(find_row(test.d, pattern(s, 20)), 0);
  for (int i = 0; i < 5; ++i) {  // in file order: cat's three, then dog's two
    const int seed = i < 3 ? i : 10 + i - 3;
    EXPECT_EQ(find_row(train.d, pattern(s, seed)), i) << "image " << i;
    EXPECT_EQ(train.d.labels[std::size_t(i)], i < 3 ? 0 : 1);
  }
  EXPECT_THAT(train.log, HasSubstr("decoded 6 images (1x5x7)"));
  EXPECT_THAT(test.log, HasSubstr("6 images (1x5x7) from the cache"));
}

TEST(ImageFolder, TestFractionIsSeededDisjointAndComplete) {
  const fs::path root = fresh_dir("data"), cache = fresh_dir("cache");
  const ImageShape s{1, 4, 4};
  for (int i = 0; i < 40; ++i) write_image(root / numbered("img", 100 + i), s, i);
  DataOptions o = folder(root, cache);
  o.test_fraction = 0.25;
  const Dataset train = load(o, Split::train).d, test = load(o, Split::test).d;
  ASSERT_EQ(test.count, 10);
  ASSERT_EQ(train.count, 30);
  EXPECT_TRUE(train.labels.empty()) << "a flat folder has no labels";
  std::set<int> seen;
  for (int i = 0; i < 40; ++i) {
    const int a = find_row(train, pattern(s, i)), b = find_row(test, pattern(s, i));
    EXPECT_NE(a < 0, b < 0) << "image " << i << " in exactly one split";
    seen.insert(i);
  }
  EXPECT_EQ(seen.size(), 40u);
  const Dataset again = load(o, Split::test).d;
  EXPECT_EQ(again.images, test.images) << "the same seed, the same split";
  o.split_seed = 9;
  EXPECT_NE(load(o, Split::test).d.images, test.images) << "another seed, another split";
  EXPECT_EQ(load(o, Split::train, 7).d.count, 7) << "--train-limit";
  const SplitIndices si = split_by_fraction(1000, 0.1, 3);
  EXPECT_EQ(si.test.size(), 100u);
  EXPECT_EQ(si.train.size(), 900u);
}

TEST(ImageFolder, ColourAndChannels) {
  const fs::path root = fresh_dir("data"), cache = fresh_dir("cache");
  write_image(root / "a.png", {3, 6, 6}, 1);
  write_image(root / "b.png", {1, 6, 6}, 2);
  DataOptions o = folder(root, cache);
  o.test_fraction = 0.5;
  const Dataset a = load(o, Split::train).d, b = load(o, Split::test).d;
  EXPECT_EQ(a.channels, 3) << "one colour image makes the folder RGB";
  EXPECT_EQ(b.channels, 3);
  const bool colour_in_a = find_row(a, pattern({3, 6, 6}, 1)) == 0;
  EXPECT_EQ(find_row(colour_in_a ? a : b, pattern({3, 6, 6}, 1)), 0) << "the colour image's planes, as written";
  EXPECT_EQ(find_row(colour_in_a ? b : a, pattern({3, 6, 6}, 1)), -1) << "in one split only";
  const Dataset& grey = colour_in_a ? b : a;  // the split holding b.png
  const std::vector<float> g = pattern({1, 6, 6}, 2);
  for (int c = 0; c < 3; ++c)  // a grey image's planes are its copies
    EXPECT_TRUE(std::equal(g.begin(), g.end(), grey.images.begin() + c * 36)) << "plane " << c;
  o.channels = 1;
  EXPECT_EQ(load(o, Split::train).d.channels, 1);
}

TEST(ImageFolder, ImageSizeResizesAndCropsMixedSizes) {
  const fs::path root = fresh_dir("data"), cache = fresh_dir("cache");
  write_image(root / "wide.png", {1, 10, 20}, 1);
  write_image(root / "tall.png", {1, 12, 8}, 2);
  DataOptions o = folder(root, cache);
  o.test_fraction = 0.5;
  EXPECT_EQ(error_of([&] { load(o, Split::train); }),
            (root / "wide.png").string() + ": 20x10 pixels, but " + (root / "tall.png").string() +
                " has 8x12; pass --image-size S to resize and crop every image to S x S");
  o.image_size = 6;
  const Dataset d = load(o, Split::train).d;
  EXPECT_EQ(d.shape(), (ImageShape{1, 6, 6}));
}

TEST(ImageFolder, CacheIsInvalidatedByAChangedFileAndRebuiltWhenDamaged) {
  const fs::path root = fresh_dir("data"), cache = fresh_dir("cache");
  const ImageShape s{1, 4, 4};
  for (int i = 0; i < 4; ++i) write_image(root / "test" / numbered("t", i), s, i);
  for (int i = 0; i < 6; ++i) write_image(root / numbered("x", i), s, 10 + i);
  const DataOptions o = folder(root, cache);
  EXPECT_THAT(load(o, Split::train).log, HasSubstr("decoded 10 images"));
  const fs::path file = folder_cache_file(o);
  ASSERT_TRUE(fs::exists(file)) << file;
  EXPECT_EQ(file.parent_path(), cache);
  EXPECT_THAT(load(o, Split::train).log, HasSubstr("from the cache"));

  write_image(root / "x3.png", s, 99);  // another image under the same name
  const Loaded changed = load(o, Split::train);
  EXPECT_THAT(changed.log, HasSubstr("the folder or the options changed since it was written; decoding the folder again"));
  EXPECT_GE(find_row(changed.d, pattern(s, 99)), 0) << "the new pixels, not the cached ones";
  EXPECT_EQ(find_row(changed.d, pattern(s, 13)), -1);

  fs::resize_file(file, fs::file_size(file) - 5);
  const Loaded damaged = load(o, Split::train);
  EXPECT_THAT(damaged.log, HasSubstr("cache " + file.string() + ": "));
  EXPECT_THAT(damaged.log, HasSubstr("decoding the folder again"));
  EXPECT_EQ(damaged.d.images, changed.d.images);
  EXPECT_THAT(load(o, Split::train).log, HasSubstr("from the cache")) << "rewritten whole";

  DataOptions none = o;
  none.cache = "none";
  EXPECT_THAT(load(none, Split::train).log, Not(HasSubstr("cached")));
}

TEST(ImageFolder, BadFilesStopTheRunOrAreSkippedAndCounted) {
  const fs::path root = fresh_dir("data"), cache = fresh_dir("cache");
  for (int i = 0; i < 5; ++i) write_image(root / numbered("x", i), {1, 4, 4}, i);
  write_file_atomic(root / "x2.png", "not a png at all");
  write_file_atomic(root / "y.jpg", std::string("\xff\xd8\xff", 3));
  DataOptions o = folder(root, cache);
  o.test_fraction = 0.25;
  const std::string e = error_of([&] { load(o, Split::train); });
  EXPECT_THAT(e, HasSubstr((root / "x2.png").string() + ": "));
  EXPECT_THAT(e, HasSubstr("(pass --skip-bad to leave such files out)"));
  o.skip_bad = true;
  const Loaded l = load(o, Split::train);
  EXPECT_EQ(l.d.count, 3) << "4 good images, one of them in the test split";
  EXPECT_THAT(l.log, HasSubstr(root.string() + ": skipped 2 of 6 files that could not be decoded (the first: " +
                               (root / "x2.png").string() + ": "));
  EXPECT_THAT(load(o, Split::test).log, HasSubstr("2 files that could not be decoded are left out (--skip-bad)"));
}

TEST(ImageFolder, BadLayouts) {
  const fs::path base = fresh_dir("layouts"), cache = fresh_dir("cache");
  auto err = [&](const fs::path& root) { return error_of([&] { load(folder(root, cache), Split::train); }); };
  fs::create_directories(base / "empty");
  EXPECT_EQ(err(base / "empty"),
            (base / "empty").string() + ": no PNG or JPEG images (want a flat folder of images, or one subfolder per class)");
  write_image(base / "noimg" / "a" / "x.png", {1, 2, 2}, 1);
  fs::create_directories(base / "noimg" / "b");
  std::ofstream(base / "noimg" / "b" / "readme.txt") << "x";
  EXPECT_EQ(err(base / "noimg"), (base / "noimg" / "b").string() + ": a class folder without PNG or JPEG images");
  write_image(base / "mixed" / "a" / "x.png", {1, 2, 2}, 1);
  write_image(base / "mixed" / "loose.png", {1, 2, 2}, 2);
  EXPECT_EQ(err(base / "mixed"), (base / "mixed").string() +
                                     ": holds images (loose.png) beside class folders (a/); put every image in a class folder, or none");
  write_image(base / "newclass" / "a" / "x.png", {1, 2, 2}, 1);
  write_image(base / "newclass" / "test" / "z" / "y.png", {1, 2, 2}, 2);
  EXPECT_EQ(err(base / "newclass"), (base / "newclass" / "test" / "z").string() + ": a test class folder the training split does not have");
  write_image(base / "flat_test" / "a" / "x.png", {1, 2, 2}, 1);
  write_image(base / "flat_test" / "test" / "y.png", {1, 2, 2}, 2);
  EXPECT_EQ(err(base / "flat_test"), (base / "flat_test" / "test").string() + ": flat, but the training split has class folders");
  write_image(base / "own_test" / "x.png", {1, 2, 2}, 1);
  write_image(base / "own_test" / "test" / "y.png", {1, 2, 2}, 2);
  DataOptions o = folder(base / "own_test", cache);
  o.test_fraction = 0.5;
  EXPECT_EQ(error_of([&] { load(o, Split::train); }), "--test-fraction: " + (base / "own_test").string() +
                                                           " has its own test/ subfolder");
}

// A 1-D int64 .npy of n values, laid out as np.save writes it (version 1.0, header padded to 128).
std::string int64_npy(int n, const std::function<std::int64_t(int)>& value) {
  std::string header = "{'descr': '<i8', 'fortran_order': False, 'shape': (" + std::to_string(n) + ",), }";
  header.resize(128 - 10 - 1, ' ');
  header += '\n';
  std::string b = "\x93NUMPY";
  b += '\x01', b += '\x00', b += char(header.size()), b += '\x00';
  b += header;
  for (int i = 0; i < n; ++i) {
    const std::int64_t v = value(i);
    b.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  return b;
}

// .npy data: a file split by the test fraction, with labels beside it; a folder of train.npy and test.npy.
TEST(NpyData, FileWithLabelsAndFolder) {
  const fs::path dir = fresh_dir("npy");
  std::vector<float> x(20 * 3 * 2 * 2);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(i % 97) / 96.0f;
  const std::int64_t shape[4] = {20, 3, 2, 2};
  write_npy(dir / "imgs.npy", x.data(), shape);
  DataOptions o;
  o.path = dir / "imgs.npy";
  const Dataset train = load(o, Split::train).d, test = load(o, Split::test).d;
  EXPECT_EQ(train.shape(), (ImageShape{3, 2, 2}));
  EXPECT_EQ(train.count + test.count, 20);
  EXPECT_EQ(test.count, 2) << "the default fraction 0.1";
  EXPECT_TRUE(train.labels.empty());
  write_file_atomic(dir / "imgs_labels.npy", int64_npy(20, [](int i) { return i % 4; }));
  const Dataset labelled = load(o, Split::test).d;
  ASSERT_EQ(labelled.labels.size(), 2u);
  for (std::int64_t r = 0; r < labelled.count; ++r) {  // each row's label is its index mod 4
    int index = -1;
    for (int i = 0; i < 20; ++i)
      if (std::equal(labelled.images.begin() + r * 12, labelled.images.begin() + (r + 1) * 12, x.begin() + i * 12)) index = i;
    ASSERT_GE(index, 0);
    EXPECT_EQ(labelled.labels[std::size_t(r)], index % 4);
  }

  const fs::path f = fresh_dir("npyfolder");
  const std::int64_t s3[3] = {5, 2, 3}, s2[3] = {4, 2, 3};
  write_npy(f / "train.npy", x.data(), s3);
  write_npy(f / "test.npy", x.data() + 30, s2);
  o.path = f;
  const Dataset ft = load(o, Split::test).d;
  EXPECT_EQ(ft.count, 4);
  EXPECT_EQ(ft.shape(), (ImageShape{1, 2, 3}));
  EXPECT_EQ(ft.images, std::vector<float>(x.begin() + 30, x.begin() + 54));
  EXPECT_EQ(load(o, Split::train).d.count, 5);
}

TEST(NpyData, BadInput) {
  const fs::path dir = fresh_dir("npy");
  std::vector<float> x(6 * 4, 0.5f);
  x[5] = 1.5f;
  const std::int64_t shape[2] = {6, 4};
  write_npy(dir / "bad.npy", x.data(), shape);
  DataOptions o;
  o.path = dir / "bad.npy";
  EXPECT_EQ(error_of([&] { load(o, Split::train); }),
            (dir / "bad.npy").string() + ": value 1.500000 (element 5) outside [0, 1]; images are pixel intensities in [0, 1] "
                                         "(float32) or 0..255 (uint8)");
  x[5] = 0.25f;
  write_npy(dir / "ok.npy", x.data(), shape);
  write_npy(dir / "ok_labels.npy", x.data(), std::array<std::int64_t, 1>{3});
  o.path = dir / "ok.npy";
  EXPECT_THAT(error_of([&] { load(o, Split::train); }), HasSubstr((dir / "ok_labels.npy").string() + ": "));
  o.image_size = 8;
  EXPECT_EQ(error_of([&] { load(o, Split::train); }),
            "--image-size: " + (dir / "ok.npy").string() + " is a .npy file; the flag is for image folders");
  DataOptions t;
  t.path = dir / "notes.txt";
  std::ofstream(t.path) << "x";
  EXPECT_EQ(error_of([&] { load(t, Split::train); }),
            t.path.string() + ": a file that is not .npy (want an IDX folder, an image folder, a .npy file or a folder with "
                              "train.npy and test.npy)");
}

}  // namespace
}  // namespace cuvae
