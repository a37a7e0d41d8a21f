// TensorBoard event files (host/tensorboard.hpp): CRC-32C against its check value, the TFRecord
// framing of a written file, and a whole run, stopped and resumed, read
// back by TensorBoard's own reader (tests/python/check_tensorboard.py), every value compared with
// metrics.jsonl and every picture with its PNG.
#include <gmock/gmock.h>

#include <cstring>
#include <filesystem>
#include <sstream>

#include "host/fileio.hpp"
#include "host/tensorboard.hpp"
#include "cli_support.hpp"
#include "support.hpp"

namespace cuvae {
namespace {

namespace fs = std::filesystem;

TEST(TensorBoard, Crc32cHasItsCheckValueAndTheMask) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);  // the CRC-32C check value (RFC 3720)
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);  // RFC 3720 B.4: 32 bytes of zeros
  EXPECT_EQ(masked_crc32c(""), 0xa282ead8u);
  const std::uint32_t c = crc32c("123456789");
  EXPECT_EQ(masked_crc32c("123456789"), ((c >> 15) | (c << 17)) + 0xa282ead8u);
}

// Every record of the file: its length, the two masked CRCs; returns the record payloads.
std::vector<std::string> records(const std::string& file) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < file.size()) {
    EXPECT_GE(file.size() - at, 16u);
    std::uint64_t n = 0;
    std::uint32_t crc_length = 0, crc_data = 0;
    std::memcpy(&n, file.data() + at, 8);
    std::memcpy(&crc_length, file.data() + at + 8, 4);
    EXPECT_EQ(crc_length, masked_crc32c(file.substr(at, 8)));
    const std::string data = file.substr(at + 12, n);
    std::memcpy(&crc_data, file.data() + at + 12 + n, 4);
    EXPECT_EQ(crc_data, masked_crc32c(data));
    out.push_back(data);
    at += 16 + n;
  }
  return out;
}

TEST(TensorBoard, RecordsAreFramedAndNamedInOrder) {
  const fs::path dir = test::cli_work_dir();
  fs::remove_all(dir);
  fs::create_directories(dir);
  EventWriter a(dir, 0);
  a.scalar("epoch/loss", 7, 1.5);
  a.flush();
  const std::vector<std::string> r = records(read_file(a.file()));
  ASSERT_EQ(r.size(), 3u);  // file version, SessionLog START, the scalar
  EXPECT_THAT(r[0], ::testing::HasSubstr("brain.Event:2"));
  EXPECT_THAT(r[2], ::testing::HasSubstr("epoch/loss"));
  float v = 0;
  std::memcpy(&v, r[2].data() + r[2].size() - 4, 4);  // simple_value, the last field
  EXPECT_EQ(v, 1.5f);
  EventWriter b(dir, 7);  // a second file in the same second still sorts after the first
  EXPECT_LT(a.file().filename().string(), b.file().filename().string());
}

class TensorBoardRun : public test::BarDataCase {
 protected:
  TensorBoardRun() : BarDataCase(300, 60) {}
  static void check(const fs::path& run) { EXPECT_EQ(test::tensorboard_mismatch(run), "") << run; }
};

TEST_F(TensorBoardRun, TensorBoardReadsBackEveryValueAndPicture) {
  const fs::path run = work_dir() / "run";
  const std::string flags = "--epochs 3 --batch-size 32 --hidden 16 --latent 3 --log-every 4";
  train("run", flags + " --max-steps 14");  // stops inside epoch 2
  train("run", flags + " --resume " + (run / "checkpoint.safetensors").string());
  int files = 0;
  for (const auto& e : fs::directory_iterator(run)) files += e.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  EXPECT_EQ(files, 2);
  check(run);
  EXPECT_TRUE(fs::exists(run / "loss_curves.png"));
  train("pca", "--model pca --latent 3");  // fitted in closed form: its figures at step 0
  check(work_dir() / "pca");
}

// Killed after epoch 2's events were appended but before its checkpoint was renamed into place:
// the resumed run repeats epoch 2, and TensorBoard shows it once, as metrics.jsonl has it (its
// reader drops the first file's epoch 2 when the second file's steps start over).
TEST_F(TensorBoardRun, AResumedRunsRepeatedStepsAreShownOnce) {
  const fs::path run = work_dir() / "run", log = work_dir() / "renames.txt";
  const std::string flags = "--epochs 3 --batch-size 32 --hidden 16 --latent 3 --log-every 4 " + data() +
                            " --device cpu --threads 1 --no-progress --out " + run.string();
  ASSERT_EQ(test::run_cuvae("train " + flags, "CUVAE_TEST_RENAME_LOG=" + log.string() + " LD_PRELOAD=" CUVAE_KILL_SHIM).code, 0);
  // The rename that commits epoch 2's checkpoint.
  int at = 0, seen = 0, n = 0;
  std::istringstream names(read_file(log));
  for (std::string line; std::getline(names, line);)
    if (++n && line.ends_with("checkpoint.safetensors") && ++seen == 2) at = n;
  ASSERT_GT(at, 0);
  fs::remove_all(run);
  const test::Result killed = test::run_cuvae(
      "train " + flags, "LD_PRELOAD=" CUVAE_KILL_SHIM " CUVAE_TEST_KILL_AT_RENAME=" + std::to_string(at) + ":before");
  ASSERT_EQ(killed.code, 128 + 9) << killed.err;
  ASSERT_EQ(test::run_cuvae("train " + flags + " --resume " + (run / "checkpoint.safetensors").string()).code, 0);
  check(run);
}

}  // namespace
}  // namespace cuvae
