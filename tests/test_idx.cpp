// IDX reader/writer tests: raw and gzip round trips, the real Fashion-MNIST test split, and
// every kind of bad input (each must give an Error naming the file and the problem).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <new>
#include <numeric>
#include <string>
#include <vector>

#include "datasets/idx.hpp"
#include "host/error.hpp"
#include "host/fileio.hpp"
#include "support.hpp"

#include "alloc_probe.hpp"

namespace cuvae {
namespace {

using test::error_of;

namespace fs = std::filesystem;

// Checks that f throws an Error whose message contains every one of `parts`.
template <class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
  const std::string msg = error_of(f);
  for (const std::string& part : parts)
    EXPECT_NE(msg.find(part), std::string::npos) << "missing \"" << part << "\" in: " << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "message should be one line: " << msg;
}

void put_be32(std::string& s, std::uint32_t v) {
  for (int shift : {24, 16, 8, 0}) s.push_back(char((v >> shift) & 0xff));
}

std::string idx_bytes(std::uint32_t magic, std::initializer_list<std::uint32_t> dims, std::size_t payload_bytes) {
  std::string s;
  put_be32(s, magic);
  for (std::uint32_t d : dims) put_be32(s, d);
  for (std::size_t i = 0; i < payload_bytes; ++i) s.push_back(char(i * 7 + 1));
  return s;
}

std::string gzip(const std::string& in) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, uLong(in.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = uInt(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = uInt(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// `head` followed by `zeros` zero bytes, gzip-compressed through a small buffer (a claim of
// hundreds of MB costs the test no such memory).
std::string gzip_with_zeros(const std::string& head, std::size_t zeros) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  const std::string block(std::size_t(1) << 20, '\0');
  std::string out, buf(std::size_t(1) << 16, '\0');
  auto feed = [&](std::string_view in, int flush) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = uInt(in.size());
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buf.data());
      zs.avail_out = uInt(buf.size());
      deflate(&zs, flush);
      out.append(buf.data(), buf.size() - zs.avail_out);
    } while (zs.avail_out == 0);
  };
  feed(head, Z_NO_FLUSH);
  for (std::size_t left = zeros; left > 0;) {
    const std::size_t n = std::min(left, block.size());
    feed(std::string_view(block).substr(0, n), Z_NO_FLUSH);
    left -= n;
  }
  feed({}, Z_FINISH);
  deflateEnd(&zs);
  return out;
}

// Runs f in a child process whose address space may grow by only `headroom` bytes, and returns
// the cuvae::Error text f threw there; proves a failed allocation is an Error naming the file,
// not an unnamed std::bad_alloc. The sanitizers' shadow memory does not fit under such a cap.
std::string error_with_memory_cap(std::size_t headroom, const std::function<void()>& f) {
  std::size_t pages = 0;
  std::ifstream("/proc/self/statm") >> pages;
  const rlim_t cap = rlim_t(pages) * rlim_t(::sysconf(_SC_PAGESIZE)) + rlim_t(headroom);
  int fds[2];
  if (::pipe(fds) != 0) return "<pipe failed>";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    const rlimit lim{cap, cap};
    std::string msg = "<setrlimit failed>";
    if (::setrlimit(RLIMIT_AS, &lim) == 0) {
      try {
        msg = error_of(f);
      } catch (const std::bad_alloc&) {
        msg = "<unnamed std::bad_alloc>";
      }
    }
    const ssize_t w = ::write(fds[1], msg.data(), msg.size());
    ::_exit(w == ssize_t(msg.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  std::string msg;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) msg.append(buf, std::size_t(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? msg : "<child died: " + msg + ">";
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

IdxImages make_images(std::int64_t count, int rows, int cols) {
  IdxImages im;
  im.count = count;
  im.rows = rows;
  im.cols = cols;
  im.pixels.resize(std::size_t(count * rows * cols));
  for (std::size_t i = 0; i < im.pixels.size(); ++i) im.pixels[i] = std::uint8_t((i * 37 + 11) % 256);
  return im;
}

std::vector<std::uint8_t> make_labels(std::size_t n) {
  std::vector<std::uint8_t> l(n);
  for (std::size_t i = 0; i < n; ++i) l[i] = std::uint8_t((i * 3 + 1) % 10);
  return l;
}

class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("cuvae_idx_" + std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path put(const std::string& name, const std::string& bytes) {
    const fs::path p = dir_ / name;
    write_file_atomic(p, bytes);
    return p;
  }
  fs::path dir_;
};

using IdxRoundTrip = IdxTest;
using IdxDataset = IdxTest;
using IdxBadInput = IdxTest;

// ---- round trips ----

TEST_F(IdxRoundTrip, RawImagesAndLabels) {
  const IdxImages im = make_images(7, 5, 3);
  const auto labels = make_labels(7);
  write_idx_images(dir_ / "img", im);
  write_idx_labels(dir_ / "lbl", labels);
  const std::string raw = read_file(dir_ / "img");
  ASSERT_EQ(raw.size(), 16u + 7 * 5 * 3);
  EXPECT_EQ(raw.substr(0, 8), std::string("\x00\x00\x08\x03\x00\x00\x00\x07", 8));  // big-endian header

  const IdxImages back = read_idx_images(dir_ / "img");
  EXPECT_EQ(back.count, 7);
  EXPECT_EQ(back.rows, 5);
  EXPECT_EQ(back.cols, 3);
  EXPECT_EQ(back.pixels, im.pixels);
  EXPECT_EQ(read_idx_labels(dir_ / "lbl"), labels);
}

TEST_F(IdxRoundTrip, GzipImagesAndLabels) {
  const IdxImages im = make_images(9, 4, 6);
  const auto labels = make_labels(9);
  write_idx_images(dir_ / "img.gz", im);
  write_idx_labels(dir_ / "lbl.gz", labels);
  const std::string gz = read_file(dir_ / "img.gz");
  ASSERT_GE(gz.size(), 2u);
  EXPECT_EQ(std::uint8_t(gz[0]), 0x1f);
  EXPECT_EQ(std::uint8_t(gz[1]), 0x8b);

  const IdxImages back = read_idx_images(dir_ / "img.gz");
  EXPECT_EQ(back.count, 9);
  EXPECT_EQ(back.rows, 4);
  EXPECT_EQ(back.cols, 6);
  EXPECT_EQ(back.pixels, im.pixels);
  EXPECT_EQ(read_idx_labels(dir_ / "lbl.gz"), labels);
}

TEST_F(IdxRoundTrip, GzipDetectedByMagicNotName) {
  const IdxImages im = make_images(2, 3, 3);
  write_idx_images(dir_ / "img.gz", im);
  const fs::path renamed = put("img-no-suffix", read_file(dir_ / "img.gz"));
  EXPECT_EQ(read_idx_images(renamed).pixels, im.pixels);
}

TEST_F(IdxRoundTrip, ConcatenatedGzipMembers) {
  const std::string whole = idx_bytes(0x00000801, {40}, 40);
  const fs::path p = put("lbl.gz", gzip(whole.substr(0, 13)) + gzip(whole.substr(13)));
  const auto labels = read_idx_labels(p, 256);
  ASSERT_EQ(labels.size(), 40u);
  EXPECT_EQ(std::string(labels.begin(), labels.end()), whole.substr(8));
}

// ---- dataset loader ----

TEST_F(IdxDataset, LoadsFloatsLabelsAndLimit) {
  const IdxImages im = make_images(6, 2, 3);
  const auto labels = make_labels(6);
  write_idx_images(dir_ / "train-images-idx3-ubyte.gz", im);
  write_idx_labels(dir_ / "train-labels-idx1-ubyte.gz", labels);

  const Dataset all = load_idx_dataset(dir_, "train");
  EXPECT_EQ(all.count, 6);
  EXPECT_EQ(all.dim(), 6);
  ASSERT_EQ(all.images.size(), 36u);
  for (std::size_t i = 0; i < all.images.size(); ++i) EXPECT_FLOAT_EQ(all.images[i], im.pixels[i] / 255.0f) << i;
  EXPECT_EQ(all.labels, labels);

  const Dataset some = load_idx_dataset(dir_, "train", 4);
  EXPECT_EQ(some.count, 4);
  ASSERT_EQ(some.images.size(), 24u);
  EXPECT_TRUE(std::equal(some.images.begin(), some.images.end(), all.images.begin()));
  EXPECT_EQ(some.labels, std::vector<std::uint8_t>(labels.begin(), labels.begin() + 4));

  EXPECT_EQ(load_idx_dataset(dir_, "train", 100).count, 6);  // a limit past the end keeps all
}

TEST_F(IdxDataset, PrefersRawOverGzip) {
  IdxImages gz = make_images(3, 2, 2);
  IdxImages raw = gz;
  for (auto& p : raw.pixels) p = std::uint8_t(255 - p);
  write_idx_images(dir_ / "t10k-images-idx3-ubyte.gz", gz);
  write_idx_images(dir_ / "t10k-images-idx3-ubyte", raw);
  write_idx_labels(dir_ / "t10k-labels-idx1-ubyte.gz", make_labels(3));
  const Dataset ds = load_idx_dataset(dir_, "t10k");
  ASSERT_EQ(ds.images.size(), 12u);
  EXPECT_FLOAT_EQ(ds.images[0], raw.pixels[0] / 255.0f);
  EXPECT_NE(raw.pixels[0], gz.pixels[0]);
}

TEST_F(IdxDataset, DefaultDataDirHonoursEnvironment) {
  const char* old = std::getenv("CUVAE_DATA");
  const std::string saved = old ? old : "";
  ::setenv("CUVAE_DATA", dir_.c_str(), 1);
  EXPECT_EQ(default_data_dir(), dir_);
  ::unsetenv("CUVAE_DATA");
  EXPECT_EQ(default_data_dir(), fs::path("/usr/share/datasets/fashion-mnist"));
  if (old) ::setenv("CUVAE_DATA", saved.c_str(), 1);
}

TEST(IdxFashionMnist, TestSplit) {
  const fs::path dir = default_data_dir();
  std::error_code ec;
  if (!fs::exists(dir / "t10k-images-idx3-ubyte.gz", ec) && !fs::exists(dir / "t10k-images-idx3-ubyte", ec))
    GTEST_SKIP() << "Fashion-MNIST not found in " << dir;
  const Dataset ds = load_idx_dataset(dir, "t10k");
  EXPECT_EQ(ds.count, 10000);
  EXPECT_EQ(ds.rows, 28);
  EXPECT_EQ(ds.cols, 28);
  ASSERT_EQ(ds.images.size(), 10000u * 784);
  ASSERT_EQ(ds.labels.size(), 10000u);
  EXPECT_EQ(ds.labels[0], 9);  // ankle boot, as Python's gzip+struct read of the file says
  std::vector<int> per_class(10, 0);
  for (std::uint8_t l : ds.labels) {
    ASSERT_LT(l, 10);
    ++per_class[l];
  }
  for (int c = 0; c < 10; ++c) EXPECT_EQ(per_class[c], 1000) << "class " << c;  // the test split is balanced
  const auto [lo, hi] = std::minmax_element(ds.images.begin(), ds.images.end());
  EXPECT_EQ(*lo, 0.0f);
  EXPECT_EQ(*hi, 1.0f);
  // Pixel checksums from the same Python read: first image sums to 33456, whole split to 573469082.
  const IdxImages raw = read_idx_images(dir / "t10k-images-idx3-ubyte.gz");
  EXPECT_EQ(std::accumulate(raw.pixels.begin(), raw.pixels.begin() + 784, std::int64_t(0)), 33456);
  EXPECT_EQ(std::accumulate(raw.pixels.begin(), raw.pixels.end(), std::int64_t(0)), 573469082);
  EXPECT_EQ(raw.pixels[784 * 9999 + 400], 45);
}

// ---- bad input: each names the file and the problem ----

TEST_F(IdxBadInput, MissingFile) {
  const fs::path p = dir_ / "nope-images-idx3-ubyte";
  expect_error([&] { read_idx_images(p); }, {p.string(), "no such file"});
}

TEST_F(IdxBadInput, EmptyFile) {
  const fs::path p = put("empty", "");
  expect_error([&] { read_idx_images(p); }, {p.string(), "empty file"});
  expect_error([&] { read_idx_labels(p); }, {p.string(), "empty file"});
}

TEST_F(IdxBadInput, WrongMagic) {
  const fs::path p = put("picture.gif", "GIF89a" + std::string(100, 'x'));
  expect_error([&] { read_idx_images(p); },
               {p.string(), "wrong magic", "0x47494638", "expected 0x00000803 (uint8 images, rank 3)"});
}

TEST_F(IdxBadInput, WrongElementType) {
  const fs::path p = put("float-images", idx_bytes(0x00000D03, {1, 2, 2}, 16));
  expect_error([&] { read_idx_images(p); },
               {p.string(), "wrong element type float32", "0x00000D03", "expected 0x00000803"});
}

TEST_F(IdxBadInput, WrongRank) {
  const fs::path p = put("rank2", idx_bytes(0x00000802, {3, 4}, 12));
  expect_error([&] { read_idx_images(p); }, {p.string(), "wrong rank 2, expected 3", "0x00000802"});
}

TEST_F(IdxBadInput, LabelsFileReadAsImages) {
  const fs::path p = put("labels", idx_bytes(0x00000801, {5}, 5));
  expect_error([&] { read_idx_images(p); }, {p.string(), "wrong rank 1, expected 3"});
  const fs::path q = put("images", idx_bytes(0x00000803, {1, 2, 2}, 4));
  expect_error([&] { read_idx_labels(q); },
               {q.string(), "wrong rank 3, expected 1", "expected 0x00000801 (uint8 labels, rank 1)"});
}

TEST_F(IdxBadInput, TruncatedHeader) {
  const fs::path p = put("short-header", idx_bytes(0x00000803, {2, 4, 4}, 0).substr(0, 10));
  expect_error([&] { read_idx_images(p); }, {p.string(), "truncated header", "10 bytes", "needs 16"});
  const fs::path q = put("two-bytes", std::string("\x00\x00", 2));
  expect_error([&] { read_idx_images(q); }, {q.string(), "truncated header", "2 bytes"});
}

TEST_F(IdxBadInput, TruncatedData) {
  const fs::path p = put("truncated", idx_bytes(0x00000803, {2, 4, 4}, 20));
  expect_error([&] { read_idx_images(p); },
               {p.string(), "truncated data", "2 x 4 x 4", "48 bytes", "file has 36 bytes"});
}

TEST_F(IdxBadInput, DimensionsDisagreeWithFileSize) {
  const fs::path p = put("too-long", idx_bytes(0x00000803, {2, 4, 4}, 34));
  expect_error([&] { read_idx_images(p); },
               {p.string(), "dimensions disagree with the file size", "48 bytes", "file has 50 bytes", "2 extra"});
  const fs::path q = put("labels-too-long", idx_bytes(0x00000801, {3}, 4));
  expect_error([&] { read_idx_labels(q); }, {q.string(), "dimensions disagree", "11 bytes", "file has 12 bytes"});
}

TEST_F(IdxBadInput, ZeroSizedDimension) {
  const fs::path p = put("zero-rows", idx_bytes(0x00000803, {3, 0, 4}, 0));
  expect_error([&] { read_idx_images(p); }, {p.string(), "zero-sized dimension", "3 x 0 x 4"});
  const fs::path q = put("zero-labels", idx_bytes(0x00000801, {0}, 0));
  expect_error([&] { read_idx_labels(q); }, {q.string(), "zero-sized dimension"});
}

TEST_F(IdxBadInput, CorruptGzipChecksum) {
  std::string gz = gzip(idx_bytes(0x00000803, {2, 4, 4}, 32));
  gz[gz.size() - 8] ^= 0x5a;  // the CRC-32 in the trailer
  const fs::path p = put("bad-crc.gz", gz);
  expect_error([&] { read_idx_images(p); }, {p.string(), "corrupt gzip", "incorrect data check"});
}

TEST_F(IdxBadInput, CorruptGzipBody) {
  std::string gz = gzip(idx_bytes(0x00000803, {2, 4, 4}, 32));
  gz[2] = 0x07;  // compression method: only 8 (deflate) exists
  const fs::path p = put("bad-method.gz", gz);
  expect_error([&] { read_idx_images(p); }, {p.string(), "corrupt gzip"});
  const fs::path q = put("garbage.gz", std::string("\x1f\x8b", 2) + std::string(40, '\xff'));
  expect_error([&] { read_idx_images(q); }, {q.string(), "corrupt gzip"});
}

TEST_F(IdxBadInput, TruncatedGzip) {
  const std::string gz = gzip(idx_bytes(0x00000803, {20, 8, 8}, 20 * 64));
  const fs::path p = put("half.gz", gz.substr(0, gz.size() / 2));
  expect_error([&] { read_idx_images(p); }, {p.string(), "truncated gzip"});
  // Data complete but the 8-byte trailer cut off: still truncated.
  const fs::path q = put("no-trailer.gz", gz.substr(0, gz.size() - 4));
  expect_error([&] { read_idx_images(q); }, {q.string(), "truncated gzip"});
}

TEST_F(IdxBadInput, GzipHoldsTruncatedData) {
  const fs::path p = put("short-data.gz", gzip(idx_bytes(0x00000803, {2, 4, 4}, 20)));
  expect_error([&] { read_idx_images(p); }, {p.string(), "truncated data", "48 bytes", "inflates to only 36 bytes"});
}

TEST_F(IdxBadInput, TrailingGarbageAfterGzip) {
  const fs::path p = put("trailing.gz", gzip(idx_bytes(0x00000803, {2, 4, 4}, 32)) + "junk");
  expect_error([&] { read_idx_images(p); }, {p.string(), "trailing garbage"});
}

TEST_F(IdxBadInput, GzipBombRefusedWithoutInflatingIt) {
  // Header says 2 images of 28x28 (1584 bytes); the stream goes on for 64 MiB of zeros.
  std::string bomb = idx_bytes(0x00000803, {2, 28, 28}, 2 * 784);
  bomb.resize(bomb.size() + (std::size_t(64) << 20), '\0');
  const fs::path p = put("bomb.gz", gzip(bomb));
  bomb = std::string();
  const std::uint64_t gz_size = fs::file_size(p);
  ASSERT_LT(gz_size, 1u << 20);
  g_largest_alloc = 0;
  expect_error([&] { read_idx_images(p); }, {p.string(), "dimensions disagree", "1584 bytes", "inflates to more"});
  EXPECT_LT(g_largest_alloc.load(), 2 * gz_size + 4096) << "the reader allocated more than the file implies";
}

TEST_F(IdxBadInput, HugeCountInTinyRawFileRefusedWithoutAllocating) {
  const fs::path p = put("huge-count", idx_bytes(0x00000803, {2147483648u, 28, 28}, 100));
  g_largest_alloc = 0;
  expect_error([&] { read_idx_images(p); },
               {p.string(), "truncated data", "2147483648 x 28 x 28", "1683627180032", "file has 116 bytes"});
  EXPECT_LT(g_largest_alloc.load(), std::size_t(1) << 16);
}

TEST_F(IdxBadInput, HugeCountInTinyGzipFileRefusedWithoutAllocating) {
  const fs::path p = put("huge-count.gz", gzip(idx_bytes(0x00000803, {2147483648u, 28, 28}, 100)));
  g_largest_alloc = 0;
  expect_error([&] { read_idx_images(p); }, {p.string(), "2147483648 x 28 x 28", "more than a", "gzip file"});
  EXPECT_LT(g_largest_alloc.load(), std::size_t(1) << 16);
}

// A gzip file of ~1.1 MB may claim ~1 GB (deflate reaches 1032:1); it holds far less. The data
// buffer grows with the bytes actually inflated, so refusing it costs about the file's size.
TEST_F(IdxBadInput, GzipClaimingFarMoreThanItHoldsCostsOnlyWhatItHolds) {
  std::string img = idx_bytes(0x00000803, {1000, 1000, 1000}, 0);
  std::uint32_t x = 12345;
  for (int i = 0; i < 1100000; ++i) img.push_back(char((x = x * 1664525u + 1013904223u) >> 24));  // incompressible
  const fs::path p = put("claims-1gb.gz", gzip(img));
  ASSERT_GT(fs::file_size(p) * 1032, 1000000016u) << "the claim must pass the deflate-ratio check";
  g_largest_alloc = 0;
  EXPECT_EQ(error_of([&] { read_idx_images(p); }),
            p.string() + ": truncated data: header says 1000 x 1000 x 1000 (count x rows x cols) = 1000000000 data "
                         "bytes + 16-byte header = 1000000016 bytes, but the gzip stream inflates to only 1100016 bytes");
  EXPECT_LT(g_largest_alloc.load(), std::size_t(4) << 20) << "the reader allocated for the claim, not the data";
}

TEST_F(IdxRoundTrip, GzipBufferGrowthKeepsEveryByte) {
  const IdxImages im = make_images(3, 700, 701);  // 1.47 MB: several doublings, an odd end
  write_idx_images(dir_ / "big.gz", im);
  g_largest_alloc = 0;
  const IdxImages back = read_idx_images(dir_ / "big.gz");
  EXPECT_EQ(back.pixels, im.pixels);
  EXPECT_LE(g_largest_alloc.load(), im.pixels.size()) << "the buffer never grows past the header's size";
}

TEST_F(IdxRoundTrip, BytesEntryPointsAreWhatTheFileReadersRun) {
  const IdxImages im = make_images(2, 3, 4);
  write_idx_images(dir_ / "img.gz", im);
  write_idx_labels(dir_ / "lbl", {1, 2, 3});
  const IdxImages back = parse_idx_images("mem", read_file(dir_ / "img.gz"));
  EXPECT_EQ(back.count, 2);
  EXPECT_EQ(back.pixels, im.pixels);
  EXPECT_EQ(parse_idx_labels("mem", read_file(dir_ / "lbl")), (std::vector<std::uint8_t>{1, 2, 3}));
  EXPECT_EQ(error_of([] { parse_idx_labels("mem", std::string("\0\0\x08\x01\0\0\0\x02\x05\x01", 10), 5); }),
            "mem: label out of range at index 0: value 5, expected 0..4");
  EXPECT_EQ(error_of([] { parse_idx_images("mem", ""); }), "mem: empty file");
}

// The data really are that large (100 MB of zeros in a 100 kB gzip) and memory runs out while
// inflating them: an Error naming the file, the claim and the dimensions.
TEST_F(IdxBadInput, GzipDataBeyondMemoryIsANamedError) {
  if (kSanitized) GTEST_SKIP() << "an address-space cap does not fit the sanitizers' shadow memory";
  const fs::path p = put("huge.gz", gzip_with_zeros(idx_bytes(0x00000803, {1, 10000, 10000}, 0), 100000000));
  EXPECT_EQ(error_with_memory_cap(std::size_t(48) << 20, [&] { read_idx_images(p); }),
            p.string() + ": 100.0 MB claimed by the header (1 x 10000 x 10000), cannot allocate: std::bad_alloc");
}

// The float copy of the images (4 bytes a pixel) is where the trainer's memory goes.
TEST_F(IdxBadInput, DatasetFloatsBeyondMemoryIsANamedError) {
  if (kSanitized) GTEST_SKIP() << "an address-space cap does not fit the sanitizers' shadow memory";
  const fs::path img = put("train-images-idx3-ubyte.gz", gzip_with_zeros(idx_bytes(0x00000803, {1, 5000, 5000}, 0),
                                                                         25000000));
  write_idx_labels(dir_ / "train-labels-idx1-ubyte", {3});
  EXPECT_EQ(error_with_memory_cap(std::size_t(90) << 20, [&] { load_idx_dataset(dir_, "train"); }),
            img.string() +
                ": 100.0 MB claimed by the header (1 x 5000 x 5000 images as floats), cannot allocate: std::bad_alloc");
}

TEST_F(IdxBadInput, OverflowingDimensions) {
  const fs::path p = put("overflow", idx_bytes(0x00000803, {0xffffffffu, 0xffffffffu, 0xffffffffu}, 8));
  expect_error([&] { read_idx_images(p); }, {p.string(), "too large"});
}

TEST_F(IdxBadInput, LabelOutOfRange) {
  const fs::path p = dir_ / "labels";
  write_idx_labels(p, {1, 2, 9, 10, 3});
  expect_error([&] { read_idx_labels(p); }, {p.string(), "label out of range", "index 3", "value 10", "0..9"});
  write_idx_labels(p, {0, 4, 5});
  expect_error([&] { read_idx_labels(p, 5); }, {p.string(), "index 2", "value 5", "0..4"});
  EXPECT_EQ(read_idx_labels(p, 6).size(), 3u);
}

TEST_F(IdxBadInput, ImageAndLabelCountsDiffer) {
  write_idx_images(dir_ / "train-images-idx3-ubyte", make_images(3, 2, 2));
  write_idx_labels(dir_ / "train-labels-idx1-ubyte", make_labels(4));
  expect_error([&] { load_idx_dataset(dir_, "train"); },
               {(dir_ / "train-images-idx3-ubyte").string(), (dir_ / "train-labels-idx1-ubyte").string(),
                "image count 3 differs from label count 4"});
}

TEST_F(IdxBadInput, MissingDatasetDirectory) {
  const fs::path d = dir_ / "no-such-dir";
  expect_error([&] { load_idx_dataset(d, "t10k"); },
               {d.string(), "dataset directory not found", "t10k-images-idx3-ubyte[.gz]", "t10k-labels-idx1-ubyte[.gz]"});
}

TEST_F(IdxBadInput, MissingDatasetFile) {
  write_idx_images(dir_ / "t10k-images-idx3-ubyte.gz", make_images(3, 2, 2));
  expect_error([&] { load_idx_dataset(dir_, "t10k"); },
               {dir_.string(), "looked for t10k-labels-idx1-ubyte and t10k-labels-idx1-ubyte.gz"});
  expect_error([&] { load_idx_dataset(dir_, "train"); },
               {dir_.string(), "looked for train-images-idx3-ubyte and train-images-idx3-ubyte.gz"});
}

TEST_F(IdxBadInput, UnknownSplitAndNegativeLimit) {
  expect_error([&] { load_idx_dataset(dir_, "test"); }, {dir_.string(), "unknown split 'test'", "\"t10k\""});
  expect_error([&] { load_idx_dataset(dir_, "train", -1); }, {dir_.string(), "negative example limit -1"});
}

TEST_F(IdxBadInput, BadFileInsideDatasetNamesThatFile) {
  write_idx_images(dir_ / "t10k-images-idx3-ubyte", make_images(3, 2, 2));
  const fs::path lbl = put("t10k-labels-idx1-ubyte", idx_bytes(0x00000801, {3}, 1));
  expect_error([&] { load_idx_dataset(dir_, "t10k"); }, {lbl.string(), "truncated data"});
}

TEST_F(IdxBadInput, WriterRejectsInconsistentImages) {
  IdxImages im = make_images(2, 3, 3);
  im.pixels.pop_back();
  const fs::path p = dir_ / "out";
  expect_error([&] { write_idx_images(p, im); }, {p.string(), "need 18 pixels, got 17"});
  expect_error([&] { write_idx_images(p, IdxImages{}); }, {p.string(), "count = 0"});
  expect_error([&] { write_idx_labels(p, {}); }, {p.string(), "count = 0"});
  EXPECT_FALSE(fs::exists(p));
}

}  // namespace
}  // namespace cuvae
