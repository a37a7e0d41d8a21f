// `cuvae train --model cvae` end to end on the generated bar data (tests/cli_support.hpp: 8x8
// images whose bright column is the label): training, eval on the CPU and the SIMT kernels,
// sampling a class and the per-class grid, encode and decode given labels, and the one-line
// errors of labels that are missing, out of range or given to a model without labels.
#include <gmock/gmock.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "datasets/npy.hpp"
#include "host/image.hpp"
#include "host/metrics.hpp"
#include "models/checkpoint.hpp"
#include "cli_support.hpp"

namespace cuvae {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using test::Result;

Result run(const std::string& args) { return test::run_cuvae(args); }

// An int32 .npy [N] (numpy's layout: a version 1.0 header padded with spaces to 64 bytes).
void write_labels_npy(const fs::path& file, const std::vector<std::int32_t>& y) {
  std::string header = "{'descr': '<i4', 'fortran_order': False, 'shape': (" + std::to_string(y.size()) + ",), }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::ofstream f(file, std::ios::binary);
  const std::uint16_t len = static_cast<std::uint16_t>(header.size());
  f.write("\x93NUMPY\x01\x00", 8);
  f.write(reinterpret_cast<const char*>(&len), 2);
  f << header;
  f.write(reinterpret_cast<const char*>(y.data()), static_cast<std::streamsize>(y.size() * sizeof(std::int32_t)));
}

// The brightest column (mean over the 8 rows) of each 8x8 image of an [N, 64] matrix.
std::vector<int> bright_columns(const NpyMatrix& m) {
  std::vector<int> cols;
  for (std::int64_t i = 0; i < m.rows; ++i) {
    int best = 0;
    double top = -1;
    for (int c = 0; c < 8; ++c) {
      double s = 0;
      for (int r = 0; r < 8; ++r) s += m.data[static_cast<std::size_t>(i * 64 + r * 8 + c)];
      if (s > top) top = s, best = c;
    }
    cols.push_back(best);
  }
  return cols;
}

// Each case in its own folder (ctest runs the cases as parallel processes), with its own data and
// its own trained cvae (a second or two on the bar data).
class CliCvae : public test::BarDataCase {
 protected:
  CliCvae() : BarDataCase(400, 100) {}
  std::string out(const std::string& name) const { return (work_dir() / name).string(); }
  std::string cvae() {  // trained on first use
    if (ckpt_.empty()) {
      const Result r = run("train --model cvae " + data() + " --out " + out("cvae") +
                           " --epochs 12 --batch-size 32 --hidden 32 --latent 4 --lr 0.01 --device cpu --threads 1");
      EXPECT_EQ(r.code, 0) << r.out << r.err;
      log_ = r.out;
      ckpt_ = out("cvae") + "/checkpoint.safetensors";
    }
    return ckpt_;
  }
  const std::string& train_log() const { return log_; }

 private:
  std::string ckpt_, log_;
};

TEST_F(CliCvae, TrainsWithTheClassesOfTheLabelsAndWritesThePerClassGrid) {
  const std::string ckpt = cvae();
  EXPECT_THAT(train_log(), HasSubstr("cuvae: cvae 64+8-32-4+8 on cpu"));
  const ModelConfig c = read_checkpoint_header(ckpt).config;
  EXPECT_EQ(c.model, "cvae");
  EXPECT_EQ(c.classes, 8);  // from the labels: max + 1
  const auto records = read_jsonl(fs::path(out("cvae")) / "metrics.jsonl");
  ASSERT_EQ(records.size(), 12u);
  const double elbo = records.back()["test_elbo"].get<double>();
  EXPECT_TRUE(std::isfinite(elbo) && elbo > 0 && elbo < 64 * std::log(2.0)) << elbo;
  EXPECT_LT(records.back()["train_loss"].get<double>(), records.front()["train_loss"].get<double>());
  // sample_<epoch>.png: one row of 8 per class (8 classes of 8x8 images, padding 2): 82 x 82.
  const PngImage grid = read_png_gray(fs::path(out("cvae")) / "sample_12.png");
  EXPECT_EQ(grid.width, 82);
  EXPECT_EQ(grid.height, 82);
  const PngImage rec = read_png_gray(fs::path(out("cvae")) / "reconstruction_12.png");
  EXPECT_EQ(rec.width, 82);
  EXPECT_EQ(rec.height, 22);
  // eval: the same figure on the CPU and on the SIMT kernels (the same eps), and near the run's
  // last one (which drew other eps).
  std::vector<double> figures;
  for (const char* device : {"cpu", "simt"}) {
    const Result r = run("eval " + ckpt + " " + data() + " --device " + device);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("over 100 images"));
    ASSERT_EQ(r.out.rfind("test -ELBO ", 0), 0u) << r.out;
    figures.push_back(std::stod(r.out.substr(11)));
  }
  EXPECT_NEAR(figures[1], figures[0], 1e-3 * figures[0]) << "SIMT vs CPU";
  EXPECT_NEAR(figures[0], elbo, 0.02 * elbo) << "eval vs the run's last epoch";
}

TEST_F(CliCvae, SamplesOfAClassShowItsBar) {
  const std::string ckpt = cvae();
  Result r = run("sample " + ckpt + " --label 3 --out " + out("three.npy") + " --device cpu");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("wrote 64 samples"));
  const NpyMatrix s = read_npy_matrix(out("three.npy"));
  ASSERT_EQ(s.rows, 64);
  ASSERT_EQ(s.cols, 64);
  const std::vector<int> cols = bright_columns(s);
  EXPECT_GE(std::count(cols.begin(), cols.end(), 3), 56) << "samples of class 3 whose bright column is 3";
  // --label all: 8 of each class, class k in rows 8k..8k+7.
  r = run("sample " + ckpt + " --label all --out " + out("all.npy") + " --device cpu");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("wrote 64 samples"));
  const std::vector<int> all = bright_columns(read_npy_matrix(out("all.npy")));
  ASSERT_EQ(all.size(), 64u);
  int right = 0;
  for (std::size_t i = 0; i < all.size(); ++i) right += all[i] == static_cast<int>(i / 8);
  EXPECT_GE(right, 56);
  r = run("sample " + ckpt + " --label all --out " + out("all.png") + " --device simt");
  ASSERT_EQ(r.code, 0) << r.err;
  const PngImage png = read_png_gray(out("all.png"));
  EXPECT_EQ(png.width, 82);
  EXPECT_EQ(png.height, 82);
}

TEST_F(CliCvae, EncodesAndDecodesGivenLabels) {
  const std::string ckpt = cvae();
  Result r = run("encode " + ckpt + " " + data() + " --split test --out " + out("z.npy") + " --device cpu");
  ASSERT_EQ(r.code, 0) << r.err;
  const NpyMatrix z = read_npy_matrix(out("z.npy"));
  EXPECT_EQ(z.rows, 100);
  EXPECT_EQ(z.cols, 4);
  // Decode the codes given other labels: the bar follows the label, not the image it came from.
  std::vector<std::int32_t> y(100);
  for (int i = 0; i < 100; ++i) y[static_cast<std::size_t>(i)] = (i * 3 + 1) % 8;
  write_labels_npy(out("y.npy"), y);
  r = run("decode " + ckpt + " --input " + out("z.npy") + " --labels " + out("y.npy") + " --out " + out("x.npy") +
          " --device cpu");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<int> cols = bright_columns(read_npy_matrix(out("x.npy")));
  ASSERT_EQ(cols.size(), 100u);
  int right = 0;
  for (std::size_t i = 0; i < cols.size(); ++i) right += cols[i] == y[i];
  EXPECT_GE(right, 90);
  // reconstruct --input with --labels.
  r = run("reconstruct " + ckpt + " --input " + out("x.npy") + " --labels " + out("y.npy") + " --out " + out("r.npy") +
          " --device cpu");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_npy_matrix(out("r.npy")).rows, 100);
}

TEST_F(CliCvae, LabelsMissingOutOfRangeOrForAnotherModelGetOneLine) {
  const std::string ckpt = cvae();
  auto expect_error = [&](const std::string& args, int code, const std::string& text) {
    const Result r = run(args);
    EXPECT_EQ(r.code, code) << args;
    EXPECT_EQ(r.err, "cuvae: error: " + text + "\n") << args;
  };
  const std::string cpu = " --device cpu";
  expect_error("sample " + ckpt + cpu, 2,
               "sample: " + ckpt + " holds a cvae, which samples given a class: pass --label Y (0..7) or --label all");
  expect_error("sample " + ckpt + " --label 8" + cpu, 2, "--label 8: outside the cvae's 8 classes (0..7); want a class or all");
  expect_error("sample " + ckpt + " --label three" + cpu, 2, "--label: want a class number in 0..65535 or all, got 'three'");
  const std::string z = " --input " + out("z.npy") + " --out " + out("bad.npy") + cpu;
  ASSERT_EQ(run("encode " + ckpt + " " + data() + " --out " + out("z.npy") + cpu).code, 0);
  expect_error("decode " + ckpt + z, 2,
               "decode: " + ckpt + " holds a cvae, which needs --labels Y.npy (one class label per row of --input)");
  std::vector<std::int32_t> y(100, 2);
  y[7] = 8;
  write_labels_npy(out("y8.npy"), y);
  expect_error("decode " + ckpt + z + " --labels " + out("y8.npy"), 1,
               out("y8.npy") + ": label 8 (row 7) is outside the cvae's 8 classes (0..7)");
  write_labels_npy(out("y5.npy"), std::vector<std::int32_t>(5, 1));
  expect_error("decode " + ckpt + z + " --labels " + out("y5.npy"), 1,
               out("y5.npy") + ": 5 labels for the 100 rows of " + out("z.npy"));
  expect_error("encode " + ckpt + " " + data() + " --labels " + out("y5.npy") + " --out " + out("bad.npy") + cpu, 2,
               "--labels: is for --input; with --data, encode uses the split's labels");
  EXPECT_FALSE(fs::exists(out("bad.npy")));
  // A model without labels refuses them.
  const std::string vae = out("vae");
  ASSERT_EQ(run("train " + data() + " --out " + vae + " --epochs 1 --hidden 8 --latent 4 --device cpu --threads 1").code, 0);
  const std::string vck = vae + "/checkpoint.safetensors";
  expect_error("sample " + vck + " --label 3" + cpu, 2, "--label 3: " + vck + " holds a vae, which takes no labels");
  expect_error("decode " + vck + z + " --labels " + out("y5.npy"), 2, "--labels: " + vck + " holds a vae, which takes no labels");
  // --classes below the labels is the flag's fault.
  expect_error("train --model cvae " + data() + " --classes 5 --epochs 1 --out " + out("c5") + cpu, 2,
               "--classes 5: " + (work_dir() / "data").string() + ": train label 5 (image 5) is outside the cvae's 5 classes");
}

}  // namespace
}  // namespace cuvae
