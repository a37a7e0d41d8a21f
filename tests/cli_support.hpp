// Running the `cuvae` program from a test: one folder per test case (ctest runs the cases as
// parallel processes), the exit code and both streams, and a small generated IDX data set.
#pragma once
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "datasets/idx.hpp"
#include "host/fileio.hpp"
#include "support.hpp"

namespace cuvae::test {

struct Result {
  int code = -1;  // the exit code; 128 + N for a program killed by signal N (as the shell says)
  std::string out, err;
};

inline std::filesystem::path cli_work_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::filesystem::path(CUVAE_BINARY_DIR) / "test-output" / info->test_suite_name() / info->name();
}

// `cuvae <args>`, after `env` (shell assignments, e.g. "LD_PRELOAD=x.so"), through the shell.
inline Result run_cuvae(const std::string& args, const std::string& env = "") {
  const std::filesystem::path out = cli_work_dir() / "stdout.txt", err = cli_work_dir() / "stderr.txt";
  const std::string cmd = env + (env.empty() ? "" : " ") + std::string(CUVAE_BINARY_DIR) + "/cuvae " + args + " >" +
                          out.string() + " 2>" + err.string();
  const int status = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

// A data set of 8x8 images: a bright bar whose position is the label, with some noise.
inline void write_bar_split(const std::filesystem::path& dir, const std::string& split, int count) {
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

// TensorBoard's own reader on a run folder's event files (tests/python/check_tensorboard.py):
// every metrics.jsonl value and picture there once. A failure message, empty when they match.
inline std::string tensorboard_mismatch(const std::filesystem::path& run) {
  std::string out;
  const int code = run_command(python_prefix() + shell_quote(std::string(CUVAE_SOURCE_DIR) + "/tests/python/check_tensorboard.py") +
                                   " " + shell_quote(run.string()) + " 2>&1",
                               out);
  const std::size_t last = out.rfind("tensorboard: ");
  if (code == 0 && last != std::string::npos && out.find(" match\n", last) != std::string::npos) return "";
  return out + "(exit " + std::to_string(code) + "; PyPI's tensorboard, protobuf and absl-py in " + pydeps() + ": .ci/setup)";
}

// A test case in its own folder with a bar data set (train and t10k splits of the given sizes) in
// work_dir()/data, and `cuvae train` on it.
class BarDataCase : public ::testing::Test {
 protected:
  BarDataCase(int train_count, int test_count) : train_count_(train_count), test_count_(test_count) {}
  void SetUp() override {
    std::filesystem::remove_all(work_dir());
    std::filesystem::create_directories(work_dir() / "data");
    write_bar_split(work_dir() / "data", "train", train_count_);
    write_bar_split(work_dir() / "data", "t10k", test_count_);
  }
  static std::filesystem::path work_dir() { return cli_work_dir(); }
  static std::string data() { return "--data " + (work_dir() / "data").string(); }
  // `cuvae train <flags>` on the data into work_dir()/name, on the CPU with one thread: the checkpoint.
  static std::string train(const std::string& name, const std::string& flags) {
    const std::string out = (work_dir() / name).string();
    const Result r = run_cuvae("train " + flags + " " + data() + " --out " + out + " --device cpu --threads 1 --no-progress");
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    return out + "/checkpoint.safetensors";
  }

 private:
  int train_count_, test_count_;
};

}  // namespace cuvae::test
