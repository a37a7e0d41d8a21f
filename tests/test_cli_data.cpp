// `--data` from the command line: an MLP VAE trained on a make-shapes folder (CPU and the CUDA
// backend's kernels on SIMT), its cache on the second run, every picture command on it, an RGB
// folder, a .npy file, and the bad-input errors.
#include <gmock/gmock.h>

#include <filesystem>

#include "datasets/npy.hpp"
#include "host/fileio.hpp"
#include "host/image.hpp"
#include "models/checkpoint.hpp"
#include "cli_support.hpp"

namespace cuvae {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using test::cli_work_dir;
using test::run_cuvae;

PngInfo png_of(const fs::path& file) { return png_info(file, read_file(file)); }

class DataCli : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::remove_all(cli_work_dir());
    fs::create_directories(cli_work_dir());
  }
  static fs::path at(const std::string& name) { return cli_work_dir() / name; }
  // A make-shapes folder of n images of size x size.
  static std::string shapes(int n, int size) {
    const test::Result r = run_cuvae("make-shapes --out " + at("shapes").string() + " --count " + std::to_string(n) +
                                     " --size " + std::to_string(size) + " --seed 5");
    EXPECT_EQ(r.code, 0) << r.err;
    return "--data " + at("shapes").string() + " --cache " + at("cache").string();
  }
};

TEST_F(DataCli, VaeTrainsFromAShapesFolderAndEveryPictureCommandRuns) {
  const std::string data = shapes(400, 32);
  for (const char* device : {"cpu", "simt"}) {
    SCOPED_TRACE(device);
    const std::string run = at(std::string("run_") + device).string(), ck = run + "/checkpoint.safetensors";
    const test::Result t = run_cuvae("train " + data + " --epochs 1 --hidden 64 --latent 4 --test-fraction 0.25 --out " + run +
                                     " --device " + device + " --threads 2 --no-progress");
    ASSERT_EQ(t.code, 0) << t.out << t.err;
    EXPECT_THAT(t.out, HasSubstr("300 train / 100 test images"));
    EXPECT_THAT(t.out, HasSubstr("vae 1024-64-4"));
    EXPECT_EQ(read_checkpoint_header(ck).config.image, (ImageShape{1, 32, 32}));
    EXPECT_EQ(png_of(run + "/reconstruction_1.png").channels, 1);

    const test::Result e = run_cuvae("eval " + ck + " " + data + " --test-fraction 0.25 --device " + device);
    ASSERT_EQ(e.code, 0) << e.err;
    EXPECT_THAT(e.out, HasSubstr("400 images (1x32x32) from the cache"));
    EXPECT_THAT(e.out, HasSubstr("over 100 images"));

    const test::Result m = run_cuvae("latent-map " + ck + " " + data + " --test-fraction 0.25 --out " + run + "/map.png --device " + device);
    ASSERT_EQ(m.code, 0) << m.err;
    EXPECT_THAT(m.out, HasSubstr("wrote the codes of 100 test images"));
    const PngInfo map = png_of(run + "/map.png");
    EXPECT_EQ(map.width, 800);
    EXPECT_EQ(map.height, 640);

    const test::Result i = run_cuvae("interpolate " + ck + " " + data + " --test-fraction 0.25 --from 0 --to 7 --from 3 --to 4 --steps 5 --out " +
                                     run + "/ip.png --device " + device);
    ASSERT_EQ(i.code, 0) << i.err;
    const PngInfo ip = png_of(run + "/ip.png");  // two strips of 5 + 2 images of 32 pixels, 2 pixels apart
    EXPECT_EQ(ip.width, 7 * 34 + 2);
    EXPECT_EQ(ip.height, 2 * 34 + 2);
    const test::Result g = run_cuvae("manifold " + ck + " --steps 6 --out " + run + "/mf.png --device " + device);
    ASSERT_EQ(g.code, 0) << g.err;
    EXPECT_EQ(png_of(run + "/mf.png").width, 6 * 34 + 2);
  }
}

TEST_F(DataCli, ColourFolderAndNpyFile) {
  // An RGB folder in two classes, 6x6 pixels, with its own test/ split.
  for (int i = 0; i < 24; ++i) {
    std::vector<float> v(3 * 36);
    for (std::size_t k = 0; k < v.size(); ++k) v[k] = float((k * 7 + std::size_t(i) * 13) % 256) / 255.0f;
    const fs::path f = at("rgb") / (i < 20 ? "" : "test") / (i % 2 ? "odd" : "even") / (std::string("i") + std::to_string(100 + i) + ".png");
    fs::create_directories(f.parent_path());
    write_png_grid(f, v.data(), 1, ImageShape{3, 6, 6}, 1, 0);
  }
  const std::string run = at("rgb_run").string();
  const test::Result t = run_cuvae("train --model ae --data " + at("rgb").string() + " --cache none --epochs 1 --hidden 16 --latent 3 --out " +
                                   run + " --device cpu --threads 1 --no-progress");
  ASSERT_EQ(t.code, 0) << t.out << t.err;
  EXPECT_THAT(t.out, HasSubstr("20 train / 4 test images"));
  EXPECT_THAT(t.out, Not(HasSubstr("cached")));
  EXPECT_EQ(read_checkpoint_header(run + "/checkpoint.safetensors").config.image, (ImageShape{3, 6, 6}));
  const PngInfo s = png_of(run + "/sample_1.png");
  EXPECT_EQ(s.width, 8 * 6 + 9 * 2) << "8 samples of 6 pixels a row, 2 pixels apart";
  EXPECT_EQ(s.channels, 3) << "an RGB grid";
  const test::Result sampled = run_cuvae("sample " + run + "/checkpoint.safetensors --count 4 --out " + run + "/s.png");
  ASSERT_EQ(sampled.code, 0) << sampled.err;
  EXPECT_EQ(png_of(run + "/s.png").channels, 3);

  // A .npy file of [N, H, W] uint8-range floats, its test split the default tenth.
  std::vector<float> x(50 * 16);
  for (std::size_t k = 0; k < x.size(); ++k) x[k] = float(k % 17) / 16.0f;
  const std::int64_t shape[3] = {50, 4, 4};
  write_npy(at("x.npy"), x.data(), shape);
  const test::Result n = run_cuvae("train --data " + at("x.npy").string() + " --epochs 1 --hidden 8 --latent 2 --out " +
                                   at("npy_run").string() + " --device cpu --threads 1 --no-progress");
  ASSERT_EQ(n.code, 0) << n.out << n.err;
  EXPECT_THAT(n.out, HasSubstr("45 train / 5 test images"));
}

TEST_F(DataCli, BadData) {
  fs::create_directories(at("empty"));
  const test::Result e = run_cuvae("train --data " + at("empty").string() + " --epochs 1 --device cpu --no-progress");
  EXPECT_EQ(e.code, 1);
  EXPECT_EQ(e.err, "cuvae: error: " + at("empty").string() +
                       ": no PNG or JPEG images (want a flat folder of images, or one subfolder per class)\n");
  // A flat folder has no labels, which a cvae needs.
  std::vector<float> v(16, 0.5f);
  fs::create_directories(at("flat"));
  for (int i = 0; i < 10; ++i) write_png_grid(at("flat") / (std::string("f") + std::to_string(10 + i) + ".png"), v.data(), 1, 4, 4, 1, 0);
  const test::Result c = run_cuvae("train --model cvae --data " + at("flat").string() + " --cache none --epochs 1 --device cpu --no-progress");
  EXPECT_EQ(c.code, 1);
  EXPECT_EQ(c.err, "cuvae: error: " + at("flat").string() +
                       ": the training images have no labels (a flat image folder, or a .npy without <stem>_labels.npy beside "
                       "it); a cvae needs them: put the images in one folder per class\n");
  const test::Result f = run_cuvae("train --data " + at("flat").string() + " --test-fraction 1.5 --device cpu");
  EXPECT_EQ(f.code, 2);
  EXPECT_THAT(f.err, HasSubstr("--test-fraction"));
  // --image-size is for image folders.
  fs::create_directories(at("idx"));
  test::write_bar_split(at("idx"), "train", 20);
  test::write_bar_split(at("idx"), "t10k", 10);
  const test::Result s = run_cuvae("train --data " + at("idx").string() + " --image-size 8 --epochs 1 --device cpu --no-progress");
  EXPECT_EQ(s.code, 1);
  EXPECT_EQ(s.err, "cuvae: error: --image-size: " + at("idx").string() + " is an IDX folder; the flag is for image folders\n");
  // A checkpoint of 8x8 images against a folder of 4x4 ones.
  const std::string ck = at("idx_run").string() + "/checkpoint.safetensors";
  ASSERT_EQ(run_cuvae("train --data " + at("idx").string() + " --epochs 1 --hidden 8 --latent 2 --out " + at("idx_run").string() +
                      " --device cpu --no-progress")
                .code,
            0);
  const test::Result m = run_cuvae("eval " + ck + " --data " + at("flat").string() + " --channels 1 --image-size 4 --cache none --device cpu");
  EXPECT_EQ(m.code, 1);
  EXPECT_THAT(m.err, HasSubstr(at("flat").string() + ": test images have 16 pixels, " + ck + " expects 64"));
}

}  // namespace
}  // namespace cuvae
