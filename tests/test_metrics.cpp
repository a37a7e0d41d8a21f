// JSONL metrics tests: appended records read back equal; a bad line is reported by number.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "host/error.hpp"
#include "host/fileio.hpp"
#include "host/metrics.hpp"
#include "support.hpp"

namespace cuvae {
namespace {

using test::error_of;

namespace fs = std::filesystem;
using nlohmann::json;

class Jsonl : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("cuvae_jsonl_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

TEST_F(Jsonl, AppendThreeRecordsAndReadBack) {
  const fs::path p = dir_ / "metrics.jsonl";
  const json records[] = {
      {{"step", 0}, {"loss", 543.25}, {"split", "train"}},
      {{"step", 100}, {"loss", 271.5}, {"kl", 12.125}, {"note", "line\nbreak \"quoted\""}},
      {{"step", 200}, {"loss", 250.0}, {"lr", 1e-3}, {"tags", {1, 2, 3}}},
  };
  for (const json& r : records) append_jsonl(p, r);
  const std::string text = read_file(p);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);  // one line each, embedded newline escaped
  const auto back = read_jsonl(p);
  ASSERT_EQ(back.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(back[i], records[i]) << i;
  EXPECT_EQ(back[1]["loss"].get<double>(), 271.5);
  EXPECT_EQ(back[2]["step"].get<int>(), 200);
  for (const auto& e : fs::directory_iterator(dir_)) EXPECT_EQ(e.path().filename(), "metrics.jsonl");
}

TEST_F(Jsonl, CorruptLineNamedByNumber) {
  const fs::path p = dir_ / "bad.jsonl";
  write_file_atomic(p, "{\"step\": 0}\n\n{\"step\": 1, \"loss\": }\n{\"step\": 2}\n");
  const std::string msg = error_of([&] { read_jsonl(p); });
  EXPECT_NE(msg.find(p.string() + ":3: invalid JSON"), std::string::npos) << msg;
}

TEST_F(Jsonl, BlankLinesAndMissingFinalNewline) {
  const fs::path p = dir_ / "hand-edited.jsonl";
  write_file_atomic(p, "{\"a\": 1}\r\n\n  \n{\"a\": 2}");
  append_jsonl(p, {{"a", 3}});
  const auto back = read_jsonl(p);
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[2]["a"], 3);
}

TEST_F(Jsonl, MissingFileAndNonObjectRecord) {
  const fs::path p = dir_ / "none.jsonl";
  EXPECT_NE(error_of([&] { read_jsonl(p); }).find(p.string() + ": no such file"), std::string::npos);
  EXPECT_NE(error_of([&] { append_jsonl(p, json::array({1, 2})); }).find("must be a JSON object"), std::string::npos);
  EXPECT_NE(error_of([&] { append_jsonl(p, {{"bad", std::string("\xff\xfe")}}); }).find(p.string()), std::string::npos);
  EXPECT_FALSE(fs::exists(p));
}

TEST(Metrics, EmptyFileReadsAsNoRecords) {
  const fs::path p = fs::temp_directory_path() / ("cuvae_metrics_empty_" + std::to_string(::getpid()) + ".jsonl");
  write_file_atomic(p, "");
  EXPECT_TRUE(read_jsonl(p).empty());
  fs::remove(p);
}

}  // namespace
}  // namespace cuvae
