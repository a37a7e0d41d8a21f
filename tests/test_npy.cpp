// .npy reader/writer tests: round trips, files made (and read back) by real numpy, and every
// kind of bad input, each asserting the exact one-line Error message that names the file.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "datasets/npy.hpp"
#include "host/error.hpp"
#include "support.hpp"

#include "alloc_probe.hpp"

namespace cuvae {
namespace {

namespace fs = std::filesystem;
using test::fresh_dir;
using test::error_of;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A .npy file as numpy lays it out: magic, version, little-endian header length (2 bytes in
// version 1.0, 4 in 2.0/3.0), the dict padded with spaces and '\n' to 64 bytes, then payload.
std::string npy_bytes(const std::string& dict, const std::string& payload, int major = 1) {
  const std::size_t preamble = major == 1 ? 10 : 12;
  std::string header = dict;
  header.append(64 - (preamble + header.size() + 1) % 64, ' ');
  header.push_back('\n');
  std::string s("\x93NUMPY", 6);
  s.push_back(char(major));
  s.push_back('\0');
  for (std::size_t i = 0; i < preamble - 8; ++i) s.push_back(char((header.size() >> (8 * i)) & 0xff));
  return s + header + payload;
}

std::string dict_of(const std::string& descr, const std::string& shape, const std::string& fortran = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
}

template <class T>
std::string raw_bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

std::vector<std::uint32_t> bits_of(const std::vector<float>& v) {
  std::vector<std::uint32_t> b;
  for (float x : v) b.push_back(std::bit_cast<std::uint32_t>(x));
  return b;
}

class NpyTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = fresh_dir(); }
  fs::path path(const std::string& name) const { return dir_ / name; }
  // The message prefix every error for this file starts with.
  std::string in(const std::string& name) const { return path(name).string() + ": "; }
  fs::path put(const std::string& name, const std::string& bytes) const {
    std::ofstream(path(name), std::ios::binary | std::ios::trunc) << bytes;
    return path(name);
  }
  std::string matrix_error(const std::string& name, const std::string& bytes) const {
    const fs::path p = put(name, bytes);
    return error_of([&] { read_npy_matrix(p); });
  }
  std::string labels_error(const std::string& name, const std::string& bytes) const {
    const fs::path p = put(name, bytes);
    return error_of([&] { read_npy_labels(p); });
  }
  // Runs a numpy script with `d` (this test's folder) and `p(name)` defined; skips the test
  // when there is no numpy.
  bool numpy(const std::string& body) const {
    const fs::path script = path("make.py"), log = path("make.log");
    std::ofstream(script) << "import os, sys\nimport numpy as np\nd = sys.argv[1]\n"
                             "def p(name): return os.path.join(d, name)\n"
                          << body << "\n";
    const std::string cmd = test::python() + " " + script.string() + " " + dir_.string() + " >" + log.string() + " 2>&1";
    const int rc = std::system(cmd.c_str());
    EXPECT_EQ(rc, 0) << body << "\n" << slurp(log);
    return rc == 0;
  }
  fs::path dir_;
};

using NpyRoundTrip = NpyTest;
using NpyNumpy = NpyTest;
using NpyBadInput = NpyTest;

#define REQUIRE_NUMPY()                                                                     \
  do {                                                                                      \
    if (!test::python_has("numpy")) GTEST_SKIP() << test::python_path() << " with numpy not found (python3-numpy)"; \
  } while (0)

// --- round trips --------------------------------------------------------------------------

TEST_F(NpyRoundTrip, Float32ValuesComeBackBitwise) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> v = {0.f, -0.f, 1.f, -2.5f, 0.1f, 1e-40f, -inf, inf, std::numeric_limits<float>::max(),
                          std::numeric_limits<float>::denorm_min(), 3.f, 4.f, 5.f, 6.f, 7.f};
  v[14] = std::bit_cast<float>(std::uint32_t(0x7fc12345));  // a NaN with a payload
  const std::vector<std::int64_t> shape = {3, 5};
  write_npy(path("m.npy"), v.data(), shape);
  const NpyMatrix m = read_npy_matrix(path("m.npy"));
  EXPECT_EQ(m.rows, 3);
  EXPECT_EQ(m.cols, 5);
  EXPECT_EQ(m.shape, shape);
  EXPECT_EQ(bits_of(m.data), bits_of(v));
}

TEST_F(NpyRoundTrip, ImageShapesFlattenToRowsAndCols) {
  std::vector<float> v(2 * 3 * 4);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = float(i) * 0.25f - 1.f;
  for (const std::vector<std::int64_t>& shape : {std::vector<std::int64_t>{2, 3, 4}, {2, 1, 3, 4}}) {
    write_npy(path("img.npy"), v.data(), shape);
    const NpyMatrix m = read_npy_matrix(path("img.npy"));
    EXPECT_EQ(m.rows, 2);
    EXPECT_EQ(m.cols, 12);
    EXPECT_EQ(m.shape, shape);
    EXPECT_EQ(bits_of(m.data), bits_of(v));
  }
}

TEST_F(NpyRoundTrip, ZeroRowsAreAllowed) {
  const std::vector<std::int64_t> shape = {0, 784};
  write_npy(path("empty.npy"), nullptr, shape);
  const NpyMatrix m = read_npy_matrix(path("empty.npy"));
  EXPECT_EQ(m.rows, 0);
  EXPECT_EQ(m.cols, 784);
  EXPECT_TRUE(m.data.empty());
  EXPECT_EQ(slurp(path("empty.npy")).size(), 128u);  // header only
}

TEST_F(NpyRoundTrip, HeaderIsLaidOutAsNumpyLaysItOut) {
  const std::vector<float> v(15, 1.f);
  const std::vector<std::int64_t> shape = {3, 5};
  write_npy(path("m.npy"), v.data(), shape);
  const std::string bytes = slurp(path("m.npy"));
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 5), }";
  // 20 spaces of room for the first dimension to grow to 21 digits, then padding to 128 bytes.
  EXPECT_EQ(bytes.substr(0, 128), npy_bytes(dict + std::string(20, ' '), ""));
  EXPECT_EQ(bytes.size(), 128u + 15 * 4);
}

TEST_F(NpyRoundTrip, OverwritesAtomicallyAndLeavesNoTemporary) {
  const std::vector<float> a(4, 1.f), b(6, 2.f);
  write_npy(path("m.npy"), a.data(), std::vector<std::int64_t>{2, 2});
  write_npy(path("m.npy"), b.data(), std::vector<std::int64_t>{2, 3});
  EXPECT_EQ(read_npy_matrix(path("m.npy")).data, b);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"m.npy"});
}

TEST_F(NpyRoundTrip, WriteRefusesBadShapes) {
  const float x = 1.f;
  EXPECT_EQ(error_of([&] { write_npy(path("neg.npy"), &x, std::vector<std::int64_t>{2, -1}); }),
            in("neg.npy") + "cannot write shape (2, -1): negative dimension");
  EXPECT_EQ(error_of([&] { write_npy(path("big.npy"), &x, std::vector<std::int64_t>{1ll << 32, 1ll << 31}); }),
            in("big.npy") + "cannot write shape (4294967296, 2147483648): its size overflows int64");
  EXPECT_EQ(error_of([&] { write_npy(path("null.npy"), nullptr, std::vector<std::int64_t>{2}); }),
            in("null.npy") + "cannot write shape (2,): data is null");
  EXPECT_FALSE(fs::exists(path("neg.npy")) || fs::exists(path("big.npy")) || fs::exists(path("null.npy")));
}

TEST_F(NpyRoundTrip, ReadsVersion2And3Headers) {
  const std::vector<float> v = {1.f, 2.f, 3.f, 4.f, 5.f, 6.f};
  for (int major : {2, 3}) {
    const fs::path p = put("v.npy", npy_bytes(dict_of("<f4", "(3, 2)"), raw_bytes(v), major));
    const NpyMatrix m = read_npy_matrix(p);
    EXPECT_EQ(m.rows, 3) << "version " << major;
    EXPECT_EQ(m.cols, 2) << "version " << major;
    EXPECT_EQ(m.data, v) << "version " << major;
  }
}

TEST_F(NpyRoundTrip, ReadsLabelsOfEachIntegerType) {
  const std::vector<std::int32_t> want = {0, 9, 3, 255};
  EXPECT_EQ(read_npy_labels(put("u1.npy", npy_bytes(dict_of("|u1", "(4,)"), raw_bytes(std::vector<std::uint8_t>{
                                                                              0, 9, 3, 255})))),
            want);
  EXPECT_EQ(read_npy_labels(put("i4.npy", npy_bytes(dict_of("<i4", "(4,)"), raw_bytes(want)))), want);
  const std::vector<std::int64_t> wide = {0, 9, 3, 255};
  EXPECT_EQ(read_npy_labels(put("i8.npy", npy_bytes(dict_of("<i8", "(4,)"), raw_bytes(wide)))), want);
  EXPECT_TRUE(read_npy_labels(put("none.npy", npy_bytes(dict_of("<i8", "(0,)"), ""))).empty());
}

// The bytes entry points run the file readers' own code on a memory stream: the same arrays,
// and for every truncation of a good file the same message, naming what they were told.
TEST_F(NpyRoundTrip, BytesEntryPointsMatchTheFileReaders) {
  const std::vector<float> v = {1.f, 2.f, 3.f, 4.f, 5.f, 6.f};
  const std::string good = npy_bytes(dict_of("<f4", "(3, 2)"), raw_bytes(v));
  const NpyMatrix m = parse_npy_matrix("mem", good);
  EXPECT_EQ(m.rows, 3);
  EXPECT_EQ(m.cols, 2);
  EXPECT_EQ(m.data, v);
  const std::vector<std::int32_t> labels = {7, 8};
  EXPECT_EQ(parse_npy_labels("mem", npy_bytes(dict_of("<i4", "(2,)"), raw_bytes(labels))), labels);
  EXPECT_EQ(error_of([] { parse_npy_matrix("mem", ""); }),
            "mem: too short: the file has 0 bytes, a .npy file needs at least 10");
  for (std::size_t n = 0; n < good.size(); ++n) {
    const std::string cut = good.substr(0, n), from_file = matrix_error("cut.npy", cut);
    ASSERT_EQ(from_file.rfind(in("cut.npy"), 0), 0u) << from_file;
    EXPECT_EQ(error_of([&] { parse_npy_matrix("mem", cut); }), "mem: " + from_file.substr(in("cut.npy").size()))
        << "cut at " << n;
  }
}

// --- files made by real numpy ---------------------------------------------------------------

TEST_F(NpyNumpy, ReadsFloat32Matrix) {
  REQUIRE_NUMPY();
  ASSERT_TRUE(numpy("np.save(p('f4.npy'), np.array([[0.1, -2.5, 1e-40], [3.4e38, -0.0, 7.0]], dtype=np.float32))"));
  const NpyMatrix m = read_npy_matrix(path("f4.npy"));
  EXPECT_EQ(m.rows, 2);
  EXPECT_EQ(m.cols, 3);
  EXPECT_EQ(m.shape, (std::vector<std::int64_t>{2, 3}));
  // numpy rounds the Python (double) literals to float32, as static_cast<float> does.
  EXPECT_EQ(bits_of(m.data), bits_of({float(0.1), -2.5f, float(1e-40), float(3.4e38), -0.f, 7.f}));
}

TEST_F(NpyNumpy, ReadsUint8ImagesScaledToUnitRange) {
  REQUIRE_NUMPY();
  ASSERT_TRUE(numpy("np.save(p('u1.npy'), (np.arange(5 * 28 * 28) * 37 % 256).astype(np.uint8).reshape(5, 28, 28))"));
  const NpyMatrix m = read_npy_matrix(path("u1.npy"));
  EXPECT_EQ(m.rows, 5);
  EXPECT_EQ(m.cols, 784);
  EXPECT_EQ(m.shape, (std::vector<std::int64_t>{5, 28, 28}));
  ASSERT_EQ(m.data.size(), 5u * 784);
  std::vector<float> want(m.data.size());
  for (std::size_t i = 0; i < want.size(); ++i) want[i] = float(i * 37 % 256) / 255.0f;
  EXPECT_EQ(bits_of(m.data), bits_of(want));
  EXPECT_EQ(*std::max_element(m.data.begin(), m.data.end()), 1.f);
}

TEST_F(NpyNumpy, ReadsSingleChannelNchw) {
  REQUIRE_NUMPY();
  ASSERT_TRUE(numpy("np.save(p('nchw.npy'), (np.arange(4 * 6 * 5, dtype=np.float32) / 8).reshape(4, 1, 6, 5))"));
  const NpyMatrix m = read_npy_matrix(path("nchw.npy"));
  EXPECT_EQ(m.rows, 4);
  EXPECT_EQ(m.cols, 30);
  EXPECT_EQ(m.shape, (std::vector<std::int64_t>{4, 1, 6, 5}));
  ASSERT_EQ(m.data.size(), 120u);
  for (std::size_t i = 0; i < m.data.size(); ++i) EXPECT_EQ(m.data[i], float(i) / 8) << i;
}

TEST_F(NpyNumpy, ReadsVersion2And3Files) {
  REQUIRE_NUMPY();
  ASSERT_TRUE(numpy("a = np.arange(6, dtype=np.float32).reshape(2, 3)\n"
        "for v in [(2, 0), (3, 0)]:\n"
        "    with open(p('v%d.npy' % v[0]), 'wb') as f: np.lib.format.write_array(f, a, version=v)"));
  for (const char* name : {"v2.npy", "v3.npy"}) {
    ASSERT_EQ(slurp(path(name))[6], name[1] - '0') << name;
    const NpyMatrix m = read_npy_matrix(path(name));
    EXPECT_EQ(m.rows, 2) << name;
    EXPECT_EQ(m.data, (std::vector<float>{0, 1, 2, 3, 4, 5})) << name;
  }
}

TEST_F(NpyNumpy, ReadsLabels) {
  REQUIRE_NUMPY();
  ASSERT_TRUE(numpy("y = np.array([7, 0, 9, 1, 2])\n"
        "np.save(p('i8.npy'), y.astype('<i8'))\n"
        "np.save(p('i4.npy'), y.astype('<i4'))\n"
        "np.save(p('u1.npy'), y.astype(np.uint8))\n"
        "np.save(p('neg.npy'), np.array([-3, 2**31 - 1, -2**31], dtype='<i8'))"));
  const std::vector<std::int32_t> want = {7, 0, 9, 1, 2};
  EXPECT_EQ(read_npy_labels(path("i8.npy")), want);
  EXPECT_EQ(read_npy_labels(path("i4.npy")), want);
  EXPECT_EQ(read_npy_labels(path("u1.npy")), want);
  EXPECT_EQ(read_npy_labels(path("neg.npy")),
            (std::vector<std::int32_t>{-3, std::numeric_limits<std::int32_t>::max(),
                                       std::numeric_limits<std::int32_t>::min()}));
}

TEST_F(NpyNumpy, NumpyLoadsWhatWeWriteAndSavesTheSameBytes) {
  REQUIRE_NUMPY();
  // The last shape's header ends exactly on a 64-byte boundary, where numpy pads a whole 64.
  const std::vector<std::vector<std::int64_t>> shapes = {
      {3, 5}, {0, 784}, {7}, {}, {2, 1, 3, 4}, {2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 100}};
  std::string check = "for name, shape in [";
  for (std::size_t s = 0; s < shapes.size(); ++s) {
    std::int64_t n = 1;
    for (std::int64_t d : shapes[s]) n *= d;
    std::vector<float> v(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = float(i) / 3 - 2;
    const std::string name = "ours" + std::to_string(s) + ".npy";
    write_npy(path(name), v.data(), shapes[s]);
    check += "('" + name + "', (";
    for (std::int64_t d : shapes[s]) check += std::to_string(d) + ",";
    check += ")), ";
  }
  check +=
      "]:\n"
      "    a = np.load(p(name))\n"
      "    assert a.dtype == np.dtype('<f4') and a.shape == shape, (name, a.dtype, a.shape)\n"
      "    want = np.arange(a.size, dtype=np.float32) / np.float32(3) - np.float32(2)\n"
      "    assert (a.reshape(-1).view(np.uint32) == want.view(np.uint32)).all(), name\n"
      "    np.save(p('theirs.npy'), a)\n"
      "    assert open(p(name), 'rb').read() == open(p('theirs.npy'), 'rb').read(), name\n"
      "assert len(open(p('ours5.npy'), 'rb').read().split(b'\\n')[0]) == 191";
  ASSERT_TRUE(numpy(check));
}

// The errors numpy-made files give; the same cases are built by hand in NpyBadInput below.
TEST_F(NpyNumpy, RefusesWhatItDoesNotRead) {
  REQUIRE_NUMPY();
  ASSERT_TRUE(numpy("np.save(p('f8.npy'), np.zeros((3, 4)))\n"
        "np.save(p('be.npy'), np.zeros((3, 4), dtype='>f4'))\n"
        "np.save(p('fortran.npy'), np.asfortranarray(np.zeros((3, 4), dtype=np.float32)))\n"
        "np.save(p('rank1.npy'), np.zeros(5, dtype=np.float32))\n"
        "np.save(p('rank5.npy'), np.zeros((2, 1, 2, 2, 2), dtype=np.float32))\n"
        "np.save(p('rgb.npy'), np.zeros((2, 2, 4, 4), dtype=np.uint8))\n"
        "np.save(p('lf4.npy'), np.zeros(5, dtype=np.float32))\n"
        "np.save(p('lbe.npy'), np.zeros(5, dtype='>i8'))\n"
        "np.save(p('l2d.npy'), np.zeros((5, 1), dtype='<i8'))\n"
        "np.save(p('lbig.npy'), np.array([0, 1, 2**31], dtype='<i8'))"));
  const auto matrix = [&](const char* name) { return error_of([&] { read_npy_matrix(path(name)); }); };
  const auto labels = [&](const char* name) { return error_of([&] { read_npy_labels(path(name)); }); };
  EXPECT_EQ(matrix("f8.npy"), in("f8.npy") + "dtype '<f8' is not supported (want float32 '<f4' or uint8 '|u1')");
  EXPECT_EQ(matrix("be.npy"), in("be.npy") + "dtype '>f4' is big-endian (want little-endian '<f4')");
  EXPECT_EQ(matrix("fortran.npy"), in("fortran.npy") + "fortran_order is True, only C-order arrays are supported");
  EXPECT_EQ(matrix("rank1.npy"), in("rank1.npy") + "shape (5,) has rank 1 (want [N, D], [N, H, W] or [N, C, H, W])");
  EXPECT_EQ(matrix("rank5.npy"),
            in("rank5.npy") + "shape (2, 1, 2, 2, 2) has rank 5 (want [N, D], [N, H, W] or [N, C, H, W])");
  EXPECT_EQ(matrix("rgb.npy"),
            in("rgb.npy") + "shape (2, 2, 4, 4) has 2 channels (want [N, C, H, W] with 1 or 3 channels)");
  EXPECT_EQ(labels("lf4.npy"),
            in("lf4.npy") + "dtype '<f4' is not supported (want uint8 '|u1', int32 '<i4' or int64 '<i8')");
  EXPECT_EQ(labels("lbe.npy"), in("lbe.npy") + "dtype '>i8' is big-endian (want little-endian '<i8')");
  EXPECT_EQ(labels("l2d.npy"), in("l2d.npy") + "shape (5, 1) has rank 2 (want 1-D labels [N])");
  EXPECT_EQ(labels("lbig.npy"), in("lbig.npy") + "label 2147483648 at index 2 does not fit in int32");
}

// --- bad input, built by hand ---------------------------------------------------------------

const std::string k12Floats(48, '\x01');  // payload of a (3, 4) float32 array

TEST_F(NpyBadInput, Dtype) {
  EXPECT_EQ(matrix_error("f8.npy", npy_bytes(dict_of("<f8", "(3, 4)"), std::string(96, '\0'))),
            in("f8.npy") + "dtype '<f8' is not supported (want float32 '<f4' or uint8 '|u1')");
  EXPECT_EQ(matrix_error("be.npy", npy_bytes(dict_of(">f4", "(3, 4)"), k12Floats)),
            in("be.npy") + "dtype '>f4' is big-endian (want little-endian '<f4')");
  EXPECT_EQ(matrix_error("i8.npy", npy_bytes(dict_of("<i8", "(3, 4)"), std::string(96, '\0'))),
            in("i8.npy") + "dtype '<i8' is not supported (want float32 '<f4' or uint8 '|u1')");
  EXPECT_EQ(matrix_error("struct.npy", npy_bytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }",
                                                 std::string(12, '\0'))),
            in("struct.npy") + "structured dtypes are not supported ('descr' is a list)");
  EXPECT_EQ(labels_error("lf4.npy", npy_bytes(dict_of("<f4", "(3,)"), std::string(12, '\0'))),
            in("lf4.npy") + "dtype '<f4' is not supported (want uint8 '|u1', int32 '<i4' or int64 '<i8')");
}

TEST_F(NpyBadInput, FortranOrder) {
  EXPECT_EQ(matrix_error("f.npy", npy_bytes(dict_of("<f4", "(3, 4)", "True"), k12Floats)),
            in("f.npy") + "fortran_order is True, only C-order arrays are supported");
}

TEST_F(NpyBadInput, Rank) {
  EXPECT_EQ(matrix_error("r1.npy", npy_bytes(dict_of("<f4", "(12,)"), k12Floats)),
            in("r1.npy") + "shape (12,) has rank 1 (want [N, D], [N, H, W] or [N, C, H, W])");
  EXPECT_EQ(matrix_error("r0.npy", npy_bytes(dict_of("<f4", "()"), std::string(4, '\0'))),
            in("r0.npy") + "shape () has rank 0 (want [N, D], [N, H, W] or [N, C, H, W])");
  EXPECT_EQ(matrix_error("r5.npy", npy_bytes(dict_of("<f4", "(3, 1, 2, 2, 1)"), k12Floats)),
            in("r5.npy") + "shape (3, 1, 2, 2, 1) has rank 5 (want [N, D], [N, H, W] or [N, C, H, W])");
  EXPECT_EQ(matrix_error("rgb.npy", npy_bytes(dict_of("|u1", "(1, 4, 2, 2)"), std::string(16, '\0'))),
            in("rgb.npy") + "shape (1, 4, 2, 2) has 4 channels (want [N, C, H, W] with 1 or 3 channels)");
  EXPECT_EQ(labels_error("l2.npy", npy_bytes(dict_of("<i8", "(3, 1)"), std::string(24, '\0'))),
            in("l2.npy") + "shape (3, 1) has rank 2 (want 1-D labels [N])");
}

TEST_F(NpyBadInput, DataSizeDisagreesWithShape) {
  const std::string dict = dict_of("<f4", "(3, 4)");
  EXPECT_EQ(matrix_error("short.npy", npy_bytes(dict, k12Floats.substr(0, 47))),
            in("short.npy") +
                "truncated data: shape (3, 4) of float32 needs 48 bytes after the 128-byte header, but 47 follow it");
  EXPECT_EQ(matrix_error("none.npy", npy_bytes(dict, "")),
            in("none.npy") +
                "truncated data: shape (3, 4) of float32 needs 48 bytes after the 128-byte header, but 0 follow it");
  EXPECT_EQ(matrix_error("long.npy", npy_bytes(dict, k12Floats + "xyz")),
            in("long.npy") +
                "3 trailing bytes: shape (3, 4) of float32 needs 48 bytes after the 128-byte header, but 51 follow it");
  EXPECT_EQ(labels_error("l.npy", npy_bytes(dict_of("<i8", "(3,)"), std::string(20, '\0'))),
            in("l.npy") +
                "truncated data: shape (3,) of int64 needs 24 bytes after the 128-byte header, but 20 follow it");
}

TEST_F(NpyBadInput, ShapeValues) {
  EXPECT_EQ(matrix_error("ovf.npy", npy_bytes(dict_of("<f4", "(4294967296, 4294967296)"), k12Floats)),
            in("ovf.npy") + "shape (4294967296, 4294967296) is too large (its size overflows int64)");
  // The element count fits int64, its size in bytes does not.
  EXPECT_EQ(matrix_error("bytes.npy", npy_bytes(dict_of("<f4", "(2305843009213693952, 2)"), k12Floats)),
            in("bytes.npy") + "shape (2305843009213693952, 2) is too large (its size overflows int64)");
  EXPECT_EQ(matrix_error("neg.npy", npy_bytes(dict_of("<f4", "(-3, 4)"), k12Floats)),
            in("neg.npy") + "shape (-3, 4) has a negative dimension");
  EXPECT_EQ(labels_error("lneg.npy", npy_bytes(dict_of("<i8", "(-1,)"), "")),
            in("lneg.npy") + "shape (-1,) has a negative dimension");
  EXPECT_EQ(matrix_error("huge.npy", npy_bytes(dict_of("<f4", "(99999999999999999999, 1)"), k12Floats)),
            in("huge.npy") + "shape dimension 99999999999999999999 does not fit in int64");
  EXPECT_EQ(labels_error("lbig.npy", npy_bytes(dict_of("<i8", "(2,)"), raw_bytes(std::vector<std::int64_t>{
                                                                             -(1ll << 31) - 1, 0}))),
            in("lbig.npy") + "label -2147483649 at index 0 does not fit in int32");
}

TEST_F(NpyBadInput, LyingShapeIsRefusedBeforeAllocating) {
  const fs::path p = put("lie.npy", npy_bytes(dict_of("<f4", "(1099511627776, 1000)"), k12Floats));
  g_largest_alloc = 0;
  const std::string msg = error_of([&] { read_npy_matrix(p); });
  EXPECT_LT(g_largest_alloc.load(), std::size_t(1) << 16);
  EXPECT_EQ(msg, in("lie.npy") +
                     "truncated data: shape (1099511627776, 1000) of float32 needs 4398046511104000 bytes after "
                     "the 128-byte header, but 48 follow it");
}

TEST_F(NpyBadInput, Preamble) {
  const std::string good = npy_bytes(dict_of("<f4", "(3, 4)"), k12Floats);
  EXPECT_EQ(matrix_error("magic.npy", "\x89PNG\r\n\x1a\n" + good.substr(8)),
            in("magic.npy") +
                "not a .npy file: bad magic 89 50 4e 47 0d 0a (want 93 4e 55 4d 50 59, \"\\x93NUMPY\")");
  EXPECT_EQ(matrix_error("empty.npy", ""),
            in("empty.npy") + "too short: the file has 0 bytes, a .npy file needs at least 10");
  EXPECT_EQ(matrix_error("nine.npy", good.substr(0, 9)),
            in("nine.npy") + "too short: the file has 9 bytes, a .npy file needs at least 10");
  EXPECT_EQ(matrix_error("v2short.npy", npy_bytes(dict_of("<f4", "(3, 4)"), "", 2).substr(0, 11)),
            in("v2short.npy") + "too short: the file has 11 bytes, the version 2.0 preamble needs 12");
  std::string v4 = good;
  v4[6] = 4;
  EXPECT_EQ(matrix_error("v4.npy", v4), in("v4.npy") + "unsupported .npy format version 4.0 (want 1.0, 2.0 or 3.0)");
  std::string v11 = good;
  v11[7] = 1;
  EXPECT_EQ(matrix_error("v11.npy", v11), in("v11.npy") + "unsupported .npy format version 1.1 (want 1.0, 2.0 or 3.0)");
  std::string past = good;
  past[8] = '\xff', past[9] = '\xff';
  EXPECT_EQ(matrix_error("past.npy", past),
            in("past.npy") +
                "header length 65535 runs past the end of the file: the header would end at byte 65545, the file has "
                "176 bytes");
  std::string v2 = npy_bytes(dict_of("<f4", "(3, 4)"), k12Floats, 2);
  v2[11] = '\x7f';
  EXPECT_EQ(matrix_error("past2.npy", v2),
            in("past2.npy") +
                "header length 2130706548 runs past the end of the file: the header would end at byte 2130706560, the "
                "file has 176 bytes");
  // A version 2.0 length field can claim up to 4 GiB of header: more than 1 MiB is refused.
  std::string long_header = npy_bytes(dict_of("<f4", "(3, 4)") + std::string(1 << 20, ' '), k12Floats, 2);
  EXPECT_EQ(matrix_error("long.npy", long_header),
            in("long.npy") + "header length 1048692 is over the 1048576-byte limit");
  EXPECT_EQ(error_of([&] { read_npy_matrix(path("missing.npy")); }), in("missing.npy") + "no such file");
  EXPECT_EQ(error_of([&] { read_npy_matrix("/dev/null"); }), "/dev/null: is a character device, expected a regular file");
  EXPECT_EQ(error_of([&] { read_npy_labels(dir_); }), dir_.string() + ": is a directory, expected a regular file");
}

TEST_F(NpyBadInput, MalformedHeaderDict) {
  const auto err = [&](const std::string& dict) { return matrix_error("h.npy", npy_bytes(dict, k12Floats)); };
  const std::string h = in("h.npy");
  EXPECT_EQ(err("{'descr': '<f4', 'fortran_order': False}"), h + "header dict has no 'shape' key");
  EXPECT_EQ(err("{'fortran_order': False, 'shape': (3, 4)}"), h + "header dict has no 'descr' key");
  EXPECT_EQ(err("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'x': 1}"),
            h + "header dict has an unexpected key 'x' (want exactly 'descr', 'fortran_order' and 'shape')");
  EXPECT_EQ(err("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3, 4)}"),
            h + "header dict has the key 'descr' twice");
  EXPECT_EQ(err("{'descr': '<f4', 'fortran_order': False, 'shape': (12)}"),
            h + "malformed header: 'shape' is not a tuple (a 1-element tuple needs a trailing comma) at offset 53 of "
                "{'descr': '<f4', 'fortran_order': False, 'shape': (12)}");
  EXPECT_EQ(err("{'descr': '<f4', 'fortran_order': 0, 'shape': (3, 4)}"),
            h + "malformed header: 'fortran_order' must be True or False at offset 34 of "
                "{'descr': '<f4', 'fortran_order': 0, 'shape': (3, 4)}");
  EXPECT_EQ(err("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4.0)}"),
            h + "malformed header: expected ',' or ')' in 'shape' at offset 55 of "
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4.0)}");
  EXPECT_EQ(err("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4)} x"),
            h + "malformed header: unexpected text after the closing '}' at offset 58 of "
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4)} x");
  EXPECT_EQ(err("{'descr': '<f4, 'fortran_order': False}"),
            h + "malformed header: expected ',' or '}' after the value of 'descr' at offset 17 of "
                "{'descr': '<f4, 'fortran_order': False}");
  EXPECT_EQ(err("{'descr': '<f4"), h + "malformed header: unterminated string at offset 10 of {'descr': '<f4");
  EXPECT_EQ(err("{'descr': '<\\f4', 'fortran_order': False, 'shape': (3, 4)}"),
            h + "malformed header: escape sequences are not supported at offset 12 of "
                "{'descr': '<\\\\f4', 'fortran_order': False, 'shape': (3, 4)}");
  EXPECT_EQ(err("{'de\x01scr': '<f4', 'fortran_order': False, 'shape': (3, 4)}"),
            h + "header dict has an unexpected key 'de\\x01scr' (want exactly 'descr', 'fortran_order' and 'shape')");
  EXPECT_EQ(err("not a dict"), h + "malformed header: expected '{' to open the header dict at offset 0 of not a dict");
  // Double quotes, odd spacing, keys in another order, a trailing comma in the shape: valid.
  EXPECT_EQ(read_npy_matrix(put("ok.npy", npy_bytes("{ \"shape\":(3,4,),\"descr\":\"<f4\" ,'fortran_order':False}",
                                                    k12Floats)))
                .cols,
            4);
}

// Every prefix of a valid file, and every single-byte change to its preamble and header,
// gives either a matrix or a cuvae::Error: never a crash, a read past the end or another
// exception.
TEST_F(NpyBadInput, NoCrashOnDamagedFiles) {
  struct Good {
    std::string bytes;
    std::size_t payload;
  };
  const Good files[] = {{npy_bytes(dict_of("<f4", "(3, 4)"), k12Floats), 48},
                        {npy_bytes(dict_of("|u1", "(2, 1, 2, 3)"), std::string(12, '\x80'), 2), 12}};
  const auto try_read = [&](const std::string& bytes, const std::string& what) {
    const fs::path p = put("d.npy", bytes);
    try {
      const NpyMatrix m = read_npy_matrix(p);
      EXPECT_EQ(std::int64_t(m.data.size()), m.rows * m.cols) << what;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << what << ": " << e.what();
    } catch (...) {
      ADD_FAILURE() << what << ": an exception that is not a cuvae::Error";
    }
  };
  for (const auto& [good, payload] : files) {
    for (std::size_t n = 0; n < good.size(); ++n)
      EXPECT_NE(error_of([&] { read_npy_matrix(put("d.npy", good.substr(0, n))); }), "<no cuvae::Error thrown>")
          << "prefix of " << n << " bytes";
    for (std::size_t i = 0; i < good.size() - payload; ++i)
      for (char c : {'\0', '\xff', '(', ')', ',', '\'', '9', '-', ' ', '}'}) {
        std::string bad = good;
        bad[i] = c;
        try_read(bad, "byte " + std::to_string(i) + " set to " + std::to_string(int(c)));
      }
  }
}

}  // namespace
}  // namespace cuvae
