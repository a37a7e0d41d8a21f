// The `cuvae` program end to end on a small generated IDX data set: exit codes, the one-line
// errors, the files written, PNGs that decode with the right size, eval and sample.
#include <gmock/gmock.h>

#include <sys/wait.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "datasets/idx.hpp"
#include "host/fileio.hpp"
#include "host/image.hpp"
#include "host/metrics.hpp"

namespace cuvae {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct Result {
  int code = -1;
  std::string out, err;
};

// One folder per test case: ctest runs the cases as parallel processes.
fs::path work_dir() {
  return fs::path(CUVAE_BINARY_DIR) / "test-output" / "cli" / ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

Result run(const std::string& args) {
  const fs::path out = work_dir() / "stdout.txt", err = work_dir() / "stderr.txt";
  const std::string cmd = std::string(CUVAE_BINARY_DIR) + "/cuvae " + args + " >" + out.string() + " 2>" + err.string();
  const int status = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

// A data set of 8x8 images: a bright bar whose position is the label, with some noise.
void write_split(const fs::path& dir, const std::string& split, int count) {
  IdxImages im;
  im.count = count, im.rows = 8, im.cols = 8;
  std::vector<std::uint8_t> labels;
  std::uint32_t s = 12345u + static_cast<std::uint32_t>(count);
  for (int i = 0; i < count; ++i) {
    const int label = i % 8;
    labels.push_back(static_cast<std::uint8_t>(label));
    for (int p = 0; p < 64; ++p) {
      s = s * 1664525u + 1013904223u;
      const int noise = static_cast<int>(s >> 27);
      im.pixels.push_back(static_cast<std::uint8_t>(p % 8 == label ? 230 + noise % 25 : noise * 2));
    }
  }
  write_idx_images(dir / (split + "-images-idx3-ubyte.gz"), im);
  write_idx_labels(dir / (split + "-labels-idx1-ubyte"), labels);
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::remove_all(work_dir());
    fs::create_directories(work_dir() / "data");
    write_split(work_dir() / "data", "train", 300);
    write_split(work_dir() / "data", "t10k", 100);
  }
  std::string data() const { return "--data " + (work_dir() / "data").string(); }
  std::string fresh_out(const std::string& name) const {
    fs::remove_all(work_dir() / name);
    return (work_dir() / name).string();
  }
};

TEST_F(Cli, TrainEvalSampleWriteWhatTheySay) {
  const std::string out = fresh_out("run");
  Result r = run("train " + data() + " --out " + out + " --epochs 2 --batch-size 64 --hidden 32 --latent 4 --device cpu --threads 1");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("epoch 2: train loss"));
  EXPECT_THAT(r.out, HasSubstr("outputs in " + out));
  auto records = read_jsonl(fs::path(out) / "metrics.jsonl");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1]["epoch"], 2);
  EXPECT_EQ(records[1]["step"], 10);  // ceil(300 / 64) = 5 steps per epoch
  const double elbo = records[1]["test_elbo"].get<double>();
  EXPECT_TRUE(std::isfinite(elbo) && elbo > 0 && elbo < 64 * std::log(2.0)) << elbo;  // better than a coin per pixel
  // 8 inputs above 8 reconstructions, 8x8 pixels, padding 2: 8*10+2 by 2*10+2.
  PngImage rec = read_png_gray(fs::path(out) / "reconstruction_2.png");
  EXPECT_EQ(rec.width, 82);
  EXPECT_EQ(rec.height, 22);
  PngImage smp = read_png_gray(fs::path(out) / "sample_1.png");
  EXPECT_EQ(smp.width, 82);
  EXPECT_EQ(smp.height, 82);

  const std::string ckpt = out + "/checkpoint.safetensors";
  r = run("eval " + ckpt + " " + data() + " --device cpu");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("test -ELBO"));
  EXPECT_THAT(r.out, HasSubstr("over 100 images"));

  const std::string png = out + "/ten.png";
  r = run("sample " + ckpt + " --count 10 --out " + png + " --device cpu");
  ASSERT_EQ(r.code, 0) << r.err;
  PngImage ten = read_png_gray(png);
  EXPECT_EQ(ten.width, 82);   // 8 per row
  EXPECT_EQ(ten.height, 22);  // 2 rows

  // Training again into the same folder would overwrite the checkpoint: refused.
  r = run("train " + data() + " --out " + out + " --epochs 1 --device cpu");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("already holds a checkpoint; pass --resume"));
  // Resuming continues to the new epoch count, in the same folder.
  r = run("train " + data() + " --resume " + ckpt + " --epochs 3 --device cpu --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("epoch 3: train loss"));
  EXPECT_EQ(read_jsonl(fs::path(out) / "metrics.jsonl").size(), 3u);
}

TEST_F(Cli, BadCommandLinesExitTwoWithTheUsage) {
  Result r = run("");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err + r.out, HasSubstr("subcommand"));
  r = run("train --bogus 3");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--bogus"));
  r = run("train --epochs 0");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--epochs"));
  r = run("train --device tpu");
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("tpu"));
  r = run("train --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("--batch-size"));
}

TEST_F(Cli, BadInputGetsOneLineNamingIt) {
  auto one_line = [](const std::string& s) { return std::count(s.begin(), s.end(), '\n') == 1; };
  Result r = run("train --hidden 400,x --device cpu " + data() + " --out " + fresh_out("h"));
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("--hidden '400,x'"));
  EXPECT_TRUE(one_line(r.err)) << r.err;

  const std::string missing = (work_dir() / "no-such-dir").string();
  r = run("train --device cpu --data " + missing + " --out " + fresh_out("m"));
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr(missing));
  EXPECT_TRUE(one_line(r.err)) << r.err;

  const fs::path bad = work_dir() / "bad.safetensors";
  write_file_atomic(bad, std::string("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": [1, 2,", 19));
  r = run("eval " + bad.string() + " " + data() + " --device cpu");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr(bad.string()));
  EXPECT_TRUE(one_line(r.err)) << r.err;
  r = run("train --resume " + bad.string() + " " + data() + " --device cpu");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr(bad.string()));
}

}  // namespace
}  // namespace cuvae
