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

}  // namespace cuvae::test
