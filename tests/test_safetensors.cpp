// Tests for host/safetensors: round trips, interop with Python's reference `safetensors`
// package (both directions), every malformed-input error, and atomic overwrites.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "host/error.hpp"
#include "host/fileio.hpp"
#include "host/safetensors.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using cuvae::Error;
using cuvae::read_safetensors;
using cuvae::SafetensorsFile;
using cuvae::TensorView;
using cuvae::write_safetensors;

namespace {

std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// A safetensors file from raw parts: u64 LE header length, header text, data bytes.
std::string craft(std::string_view header, std::string_view data = {}) {
  std::string out;
  std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += header;
  out += data;
  return out;
}

std::string floats_bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

using cuvae::test::pydeps;
using cuvae::test::python_path;
using cuvae::test::python_prefix;
using cuvae::test::shell_quote;

// The tensors most tests write: scalar, 1-D, 2-D and an empty one, varied non-zero values.
struct Sample {
  std::vector<float> weight, bias, scale, empty;
  std::vector<TensorView> views() const {
    return {{"enc.weight", {3, 4}, weight.data()},
            {"enc.bias", {4}, bias.data()},
            {"scale", {}, scale.data()},
            {"empty", {2, 0}, nullptr}};
  }
  Sample() {
    for (int i = 0; i < 12; ++i) weight.push_back(std::sin(0.7f * static_cast<float>(i) + 0.1f) * 3.0f);
    for (int i = 0; i < 4; ++i) bias.push_back(-1.0f / static_cast<float>(i + 3));
    scale.push_back(1.6180339f);
  }
};

const std::map<std::string, std::string> kMeta = {{"config", R"({"latent": 16, "beta": 1.0})"},
                                                  {"step", "1200"},
                                                  {"note", "ünïcode ok"}};

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("cuvae_safetensors_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path path(const std::string& name) const { return dir_ / name; }

  // Writes `bytes` as a file and asserts that reading it throws a one-line Error naming the
  // file and containing every expected fragment.
  void expect_refused(const std::string& bytes, std::initializer_list<std::string> fragments) {
    fs::path p = path("bad.safetensors");
    cuvae::write_file_atomic(p, bytes);
    expect_refused_file(p, fragments);
  }
  void expect_refused_file(const fs::path& p, std::initializer_list<std::string> fragments) {
    try {
      read_safetensors(p);
      ADD_FAILURE() << "read_safetensors accepted a bad file; expected: " << *fragments.begin();
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(p.string()), std::string::npos) << "message does not name the file: " << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << "message is not one line: " << msg;
      for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "missing '" << f << "' in: " << msg;
    }
  }

  fs::path dir_;
};

// --- Python interop helpers ---------------------------------------------------------------

// Empty when Python's safetensors can be used, else the reason to skip.
std::string python_unavailable() {
  if (!fs::exists(python_path())) return python_path() + " not found";
  std::string cmd = python_prefix() + "-c 'import numpy, safetensors.numpy' >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0)
    return "Python package safetensors (or numpy) not importable with PYTHONPATH=" + pydeps() +
           "; run .ci/setup to install it";
  return "";
}

// Runs tests/python/check_safetensors.py MODE FILE; returns stdout, fails the test on non-zero exit.
std::string run_script(const std::string& mode, const fs::path& file) {
  std::string cmd = python_prefix() + shell_quote(std::string(CUVAE_SOURCE_DIR) + "/tests/python/check_safetensors.py") +
                    " " + mode + " " + shell_quote(file.string());
  std::string out;
  EXPECT_EQ(cuvae::test::run_command(cmd, out), 0) << "script failed: " << cmd << "\noutput: " << out;
  return out;
}

// --- Round trips ----------------------------------------------------------------------------

TEST_F(SafetensorsTest, RoundTripIsBitExactWithMetadata) {
  Sample s;
  // Values whose bits a lossy path would change: -0, denormal, extremes, inf, NaN with payload.
  std::vector<float> specials = {-0.0f, 1e-40f, std::numeric_limits<float>::max(),
                                 -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::lowest()};
  float nan;
  std::uint32_t nan_bits = 0x7fc12345u;
  std::memcpy(&nan, &nan_bits, 4);
  specials.push_back(nan);
  auto views = s.views();
  views.push_back({"specials", {2, 3}, specials.data()});
  write_safetensors(path("a.safetensors"), views, kMeta);

  SafetensorsFile f = read_safetensors(path("a.safetensors"));
  EXPECT_EQ(f.metadata, kMeta);
  ASSERT_EQ(f.tensors.size(), views.size());
  for (std::size_t i = 0; i < views.size(); ++i) {
    const auto& t = f.tensors[i];
    SCOPED_TRACE(views[i].name);
    EXPECT_EQ(t.name, views[i].name);  // file order = write order
    EXPECT_EQ(t.shape, views[i].shape);
    std::size_t count = 1;
    for (auto d : views[i].shape) count *= static_cast<std::size_t>(d);
    ASSERT_EQ(t.data.size(), count);
    for (std::size_t k = 0; k < count; ++k) EXPECT_EQ(bits_of(t.data[k]), bits_of(views[i].data[k])) << "element " << k;
  }
  EXPECT_EQ(f.at("scale").shape, std::vector<std::int64_t>{});
  EXPECT_EQ(f.at("scale").data, s.scale);

  // The header is padded so the data starts 8-byte aligned, and starts with '{'.
  std::string bytes = cuvae::read_file(path("a.safetensors"));
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
}

TEST_F(SafetensorsTest, EmptyFileAndNoMetadataRoundTrip) {
  write_safetensors(path("e.safetensors"), {}, {});
  SafetensorsFile f = read_safetensors(path("e.safetensors"));
  EXPECT_TRUE(f.tensors.empty());
  EXPECT_TRUE(f.metadata.empty());
}

TEST_F(SafetensorsTest, FindAndAt) {
  Sample s;
  write_safetensors(path("a.safetensors"), s.views(), {});
  SafetensorsFile f = read_safetensors(path("a.safetensors"));
  ASSERT_NE(f.find("enc.bias"), nullptr);
  EXPECT_EQ(f.find("enc.bias")->data, s.bias);
  EXPECT_EQ(f.find("nope"), nullptr);
  try {
    (void)f.at("decoder.missing");
    ADD_FAILURE() << "at() of an absent tensor did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'decoder.missing'"), std::string::npos) << e.what();
  }
}

TEST_F(SafetensorsTest, WriterRejectsProgrammingErrors) {
  float x[4] = {1, 2, 3, 4};
  auto expect_throw = [&](std::vector<TensorView> v, const std::string& fragment) {
    try {
      write_safetensors(path("w.safetensors"), v, {});
      ADD_FAILURE() << "write accepted: " << fragment;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_throw({{"a", {4}, x}, {"a", {2}, x}}, "duplicate tensor name 'a'");
  expect_throw({{"a", {-1, 4}, x}}, "negative dimension");
  expect_throw({{"a", {2}, nullptr}}, "has no data");
  expect_throw({{"__metadata__", {1}, x}}, "reserved");
  expect_throw({{"a", {std::int64_t(1) << 40, std::int64_t(1) << 40}, x}}, "too large");
  EXPECT_FALSE(fs::exists(path("w.safetensors")));
}

// --- Python interop -------------------------------------------------------------------------

TEST_F(SafetensorsTest, PythonReferenceLoadsOurFile) {
  if (auto why = python_unavailable(); !why.empty()) GTEST_SKIP() << why;
  Sample s;
  auto views = s.views();
  write_safetensors(path("ours.safetensors"), views, kMeta);
  std::string out = run_script("load", path("ours.safetensors"));
  nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << "unparsable script output: " << out;

  ASSERT_TRUE(j["metadata"].is_object()) << out;
  EXPECT_EQ((j["metadata"].get<std::map<std::string, std::string>>()), kMeta);
  ASSERT_EQ(j["tensors"].size(), views.size()) << out;
  for (const TensorView& v : views) {
    SCOPED_TRACE(v.name);
    ASSERT_TRUE(j["tensors"].contains(v.name)) << out;
    const auto& t = j["tensors"][v.name];
    EXPECT_EQ(t["dtype"], "float32");
    EXPECT_EQ(t["shape"].get<std::vector<std::int64_t>>(), v.shape);
    std::size_t count = 1;
    for (auto d : v.shape) count *= static_cast<std::size_t>(d);
    double sum = 0;
    std::vector<std::uint32_t> bits;
    for (std::size_t k = 0; k < count; ++k) {
      sum += v.data[k];
      bits.push_back(bits_of(v.data[k]));
    }
    EXPECT_EQ(t["bits"].get<std::vector<std::uint32_t>>(), bits);
    EXPECT_NEAR(t["sum"].get<double>(), sum, 1e-9 * (1 + std::fabs(sum)));
  }
}

TEST_F(SafetensorsTest, WeReadPythonReferenceFile) {
  if (auto why = python_unavailable(); !why.empty()) GTEST_SKIP() << why;
  run_script("write", path("py.safetensors"));
  SafetensorsFile f = read_safetensors(path("py.safetensors"));
  EXPECT_EQ(f.metadata, (std::map<std::string, std::string>{{"source", "python"}, {"step", "12"}}));
  ASSERT_EQ(f.tensors.size(), 3u);

  // Same values as check_safetensors.py `write`, rounded from double the way numpy does.
  std::vector<float> a;
  for (int i = 0; i < 6; ++i) a.push_back(static_cast<float>(i) * 0.5f - 1.25f);
  std::vector<float> c = {static_cast<float>(1e-3), -7.5f, 65504.0f, static_cast<float>(1.0 / 3.0)};
  EXPECT_EQ(f.at("enc.weight").shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(f.at("enc.weight").data, a);
  EXPECT_EQ(f.at("scale").shape, std::vector<std::int64_t>{});
  EXPECT_EQ(f.at("scale").data, (std::vector<float>{3.25f}));
  EXPECT_EQ(f.at("dec.bias").shape, std::vector<std::int64_t>{4});
  EXPECT_EQ(f.at("dec.bias").data, c);
}

TEST_F(SafetensorsTest, PythonF16FileIsRefusedByName) {
  if (auto why = python_unavailable(); !why.empty()) GTEST_SKIP() << why;
  run_script("write-f16", path("half.safetensors"));
  expect_refused_file(path("half.safetensors"), {"tensor 'half'", "dtype F16", "only F32"});
}

// --- Malformed files --------------------------------------------------------------------------

TEST_F(SafetensorsTest, MissingFile) {
  try {
    read_safetensors(path("absent.safetensors"));
    ADD_FAILURE() << "no error for a missing file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("absent.safetensors"), std::string::npos) << e.what();
  }
}

TEST_F(SafetensorsTest, ShortFile) {
  expect_refused("", {"file is 0 bytes", "too short"});
  expect_refused("abcde", {"file is 5 bytes", "too short"});
}

TEST_F(SafetensorsTest, HeaderLengthLargerThanFile) {
  std::string b = craft("{}");
  b[0] = static_cast<char>(0xe8);  // 1000
  b[1] = 0x03;
  expect_refused(b, {"header length 1000 is larger than the 2 bytes"});
}

TEST_F(SafetensorsTest, HeaderLengthOverLimit) {
  std::string b = craft("{}");
  std::uint64_t n = 200'000'000;
  std::memcpy(b.data(), &n, 8);
  expect_refused(b, {"header length 200000000 exceeds the 16000000-byte limit"});
  n = std::numeric_limits<std::uint64_t>::max();
  std::memcpy(b.data(), &n, 8);
  expect_refused(b, {"header length 18446744073709551615 exceeds"});
}

TEST_F(SafetensorsTest, HeaderNotJson) {
  expect_refused(craft(R"({"a": )"), {"header is not valid JSON", "parse error"});
  expect_refused(craft(""), {"header is not valid JSON"});
  // Binary garbage, newlines included, still gives one printable line.
  expect_refused(craft(std::string("{\n\x01\xff\xfe garbage\n", 14)), {"header is not valid JSON"});
}

TEST_F(SafetensorsTest, HeaderNotObject) {
  expect_refused(craft("[1, 2]"), {"header is not a JSON object (it is an array)"});
  expect_refused(craft("\"x\""), {"header is not a JSON object"});
  expect_refused(craft("  {}"), {"header must start with '{'"});
}

TEST_F(SafetensorsTest, EntryMissingFields) {
  expect_refused(craft(R"({"t": {"shape": [1], "data_offsets": [0, 4]}})", floats_bytes({1})),
                 {"tensor 't': missing \"dtype\""});
  expect_refused(craft(R"({"t": {"dtype": "F32", "data_offsets": [0, 4]}})", floats_bytes({1})),
                 {"tensor 't': missing \"shape\""});
  expect_refused(craft(R"({"t": {"dtype": "F32", "shape": [1]}})", floats_bytes({1})),
                 {"tensor 't': missing \"data_offsets\""});
  expect_refused(craft(R"({"t": 5})"), {"tensor 't': entry is not an object (it is a number)"});
}

TEST_F(SafetensorsTest, EntryWrongTypes) {
  const std::string d = floats_bytes({1});
  expect_refused(craft(R"({"t": {"dtype": 32, "shape": [1], "data_offsets": [0, 4]}})", d),
                 {"tensor 't': \"dtype\" is not a string"});
  expect_refused(craft(R"({"t": {"dtype": "F32", "shape": "1", "data_offsets": [0, 4]}})", d),
                 {"tensor 't': \"shape\" is not an array"});
  expect_refused(craft(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [4]}})", d),
                 {"tensor 't': \"data_offsets\" is not an array of two integers"});
  expect_refused(craft(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": {"a": 0}}})", d),
                 {"\"data_offsets\" is not an array of two integers"});
  expect_refused(craft(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, "4"]}})", d),
                 {"tensor 't': data_offsets[1] is not an integer (it is a string)"});
  expect_refused(craft(R"({"t": {"dtype": "F32", "shape": [1.0], "data_offsets": [0, 4]}})", d),
                 {"tensor 't': shape dimension 0 is not an integer (it is a number)"});
  expect_refused(craft(R"({"t": {"dtype": "F32", "shape": [1, [2]], "data_offsets": [0, 4]}})", d),
                 {"shape dimension 1 is not an integer (it is an array)"});
}

TEST_F(SafetensorsTest, NegativeOrHugeValues) {
  const std::string d = floats_bytes({1, 2});
  expect_refused(craft(R"({"t": {"dtype": "F32", "shape": [-1, 2], "data_offsets": [0, 8]}})", d),
                 {"tensor 't': shape dimension 0 is negative"});
  expect_refused(craft(R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}})", d),
                 {"tensor 't': data_offsets[0] is negative"});
  expect_refused(craft(R"({"t": {"dtype": "F32", "shape": [18446744073709551615], "data_offsets": [0, 8]}})", d),
                 {"shape dimension 0 is too large (18446744073709551615)"});
  expect_refused(craft(R"({"t": {"dtype": "F32", "shape": [4611686018427387904, 8], "data_offsets": [0, 8]}})", d),
                 {"tensor 't': shape [4611686018427387904, 8] is too large"});
}

TEST_F(SafetensorsTest, OtherDtypeNamesTensorAndDtype) {
  expect_refused(craft(R"({"w": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}})", "abcd"),
                 {"tensor 'w' has dtype BF16; only F32 is supported"});
}

TEST_F(SafetensorsTest, OffsetsInconsistent) {
  const std::string d12 = floats_bytes({1, 2, 3});
  expect_refused(craft(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})", d12),
                 {"tensor 't': data_offsets [8, 4] end before they begin"});
  expect_refused(craft(R"({"t": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}})", d12),
                 {"tensor 't'", "span 12 bytes", "needs 16"});
  // Overlap, a gap in the middle, a gap at the start, trailing bytes.
  expect_refused(craft(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                           "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", d12),
                 {"tensor 'b' data_offsets [4, 12] overlap tensor 'a' which ends at 8"});
  expect_refused(craft(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                           "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}})", d12),
                 {"gap in the data: bytes [4, 8) belong to no tensor (before tensor 'b')"});
  expect_refused(craft(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})", d12),
                 {"gap in the data: bytes [0, 4)"});
  expect_refused(craft(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})", d12),
                 {"holds 12 data bytes but the header describes only 8 (4 trailing bytes)"});
  // Same tensor listed twice under different names at the same offsets is an overlap too.
  expect_refused(craft(R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]},
                           "b": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}})", d12),
                 {"overlap tensor 'a'"});
}

TEST_F(SafetensorsTest, OffsetsPastTheDataNeverAllocate) {
  // Claims 2^62 bytes of data in a tiny file: refused before anything that size is allocated.
  expect_refused(craft(R"({"t": {"dtype": "F32", "shape": [1152921504606846976],
                                "data_offsets": [0, 4611686018427387904]}})", "abcd"),
                 {"truncated or offsets out of range", "describes 4611686018427387904 data bytes", "holds 4"});
  const std::string d = floats_bytes({1, 2});
  expect_refused(craft(R"({"t": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", d),
                 {"truncated", "header describes 16 data bytes", "file holds 8"});
}

TEST_F(SafetensorsTest, MetadataMustBeStrings) {
  expect_refused(craft(R"({"__metadata__": {"step": 12}})"),
                 {"metadata value for key 'step' is not a string (it is a number)"});
  expect_refused(craft(R"({"__metadata__": ["x"]})"), {"\"__metadata__\" is not an object"});
}

TEST_F(SafetensorsTest, DeeplyNestedHeaderIsRefusedNotCrashed) {
  constexpr int depth = 200000;
  std::string h = R"({"t": {"dtype": "F32", "data_offsets": [0, 4], "shape": [)";
  h += std::string(depth, '[') + std::string(depth, ']') + "]}}";
  expect_refused(craft(h, floats_bytes({1})), {"shape dimension 0 is not an integer (it is an array)"});
}

TEST_F(SafetensorsTest, TruncatedGoodFileIsRefused) {
  Sample s;
  write_safetensors(path("good.safetensors"), s.views(), kMeta);
  std::string bytes = cuvae::read_file(path("good.safetensors"));
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  const std::uint64_t data = bytes.size() - 8 - n;
  cuvae::write_file_atomic(path("cut.safetensors"), std::string_view(bytes).substr(0, bytes.size() - 10));
  expect_refused_file(path("cut.safetensors"),
                      {"truncated", "describes " + std::to_string(data) + " data bytes",
                       "holds " + std::to_string(data - 10),
                       "expected a file of " + std::to_string(bytes.size()) + " bytes, got " +
                           std::to_string(bytes.size() - 10)});
}

TEST_F(SafetensorsTest, CorruptedHeaderIsRefused) {
  Sample s;
  write_safetensors(path("good.safetensors"), s.views(), kMeta);
  std::string bytes = cuvae::read_file(path("good.safetensors"));
  const char garbage[] = "\x13\x37#!\xff garbage";
  std::memcpy(bytes.data() + 9, garbage, sizeof garbage - 1);
  cuvae::write_file_atomic(path("corrupt.safetensors"), bytes);
  expect_refused_file(path("corrupt.safetensors"), {"header is not valid JSON", "parse error at line 1"});
}

// Found by fuzzing (fuzz/fuzz_config first): nlohmann reports a number it cannot hold as
// out_of_range, not parse_error, and that exception escaped the reader without the file's name.
TEST_F(SafetensorsTest, HeaderNumberOverflowIsNamed) {
  const fs::path p = path("overflow.safetensors");
  cuvae::write_file_atomic(p, craft(R"({"t": {"dtype": "F32", "shape": [1e999], "data_offsets": [0, 4]}})"));
  std::string msg;
  try {
    read_safetensors(p);
  } catch (const Error& e) {
    msg = e.what();
  }
  EXPECT_EQ(msg, p.string() + ": header is not valid JSON: number overflow parsing '1e999'");
}

// The bytes entry point is what read_safetensors runs: same result, same errors, named as told.
TEST_F(SafetensorsTest, ParseBytesMatchesReadFile) {
  Sample s;
  write_safetensors(path("good.safetensors"), s.views(), kMeta);
  const std::string bytes = cuvae::read_file(path("good.safetensors"));
  const SafetensorsFile a = read_safetensors(path("good.safetensors"));
  const SafetensorsFile b = cuvae::parse_safetensors("in-memory", bytes);
  EXPECT_EQ(b.metadata, kMeta);
  ASSERT_EQ(b.tensors.size(), a.tensors.size());
  for (std::size_t i = 0; i < a.tensors.size(); ++i) {
    EXPECT_EQ(b.tensors[i].name, a.tensors[i].name);
    EXPECT_EQ(b.tensors[i].shape, a.tensors[i].shape);
    EXPECT_EQ(b.tensors[i].data, a.tensors[i].data);
  }
  std::string msg;
  try {
    cuvae::parse_safetensors("in-memory", std::string_view(bytes).substr(0, 5));
  } catch (const Error& e) {
    msg = e.what();
  }
  EXPECT_EQ(msg, "in-memory: file is 5 bytes, too short for a safetensors file (needs an 8-byte header length)");
}

// --- Atomic writes --------------------------------------------------------------------------

TEST_F(SafetensorsTest, OverwriteIsAtomicAndLeavesNoTemporary) {
  const fs::path file = path("ckpt.safetensors");
  std::vector<float> old_v(4096, 1.0f), new_v(4096, 2.0f);
  write_safetensors(file, {{"w", {4096}, old_v.data()}}, {{"version", "old"}});

  // A reader polling the file while it is rewritten must always see a whole old or new file.
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, bad{0};
  std::string first_bad;
  std::thread reader([&] {
    while (!done.load()) {
      try {
        SafetensorsFile f = read_safetensors(file);
        const std::string& v = f.metadata.at("version");
        float expect = v == "old" ? 1.0f : 2.0f;
        if (f.at("w").data != std::vector<float>(4096, expect)) throw Error("content does not match metadata");
      } catch (const std::exception& e) {
        if (bad++ == 0) first_bad = e.what();
      }
      ++reads;
    }
  });
  for (int i = 0; i < 40; ++i) {
    bool to_new = i % 2 == 0;
    write_safetensors(file, {{"w", {4096}, to_new ? new_v.data() : old_v.data()}},
                      {{"version", to_new ? "new" : "old"}});
  }
  write_safetensors(file, {{"w", {4096}, new_v.data()}}, {{"version", "new"}});
  done = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0) << "a reader saw a torn file: " << first_bad;
  EXPECT_GT(reads.load(), 0);

  EXPECT_EQ(read_safetensors(file).metadata.at("version"), "new");
  // A write that fails its checks leaves the previous file untouched.
  EXPECT_THROW(write_safetensors(file, {{"w", {4096}, nullptr}}, {{"version", "broken"}}), Error);
  EXPECT_EQ(read_safetensors(file).metadata.at("version"), "new");

  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"ckpt.safetensors"}) << "a temporary file was left behind";
}

}  // namespace
