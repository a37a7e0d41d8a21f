// The label ops on the CPU backend and on the device under test (the SIMT device always, the GPU
// when present; tests/device_backend.hpp), in the harness of tests/test_ops.cpp: outputs poisoned
// with NaN first, the [B, C] output a column view of a wider buffer whose other columns must stay
// NaN, every element against a plain loop. (Its own file: test_ops.cpp is at the size limit.)
// Run: ctest --test-dir build/<dir> -R OneHot --output-on-failure
#include <gmock/gmock.h>

#include <cmath>

#include "device_backend.hpp"

// INSTANTIATE_TEST_SUITE_P pastes its prefix: expand the build's name first.
#if defined(CUVAE_SIMT)
#define CUVAE_OPS_PREFIX OpsSimt
#else
#define CUVAE_OPS_PREFIX OpsGpu
#endif
#define CUVAE_INSTANTIATE_(prefix, ...) INSTANTIATE_TEST_SUITE_P(prefix, __VA_ARGS__)
#define CUVAE_INSTANTIATE(...) CUVAE_INSTANTIATE_(CUVAE_OPS_PREFIX, __VA_ARGS__)

namespace cuvae {
namespace {

using test::download;

Buffer upload_labels(Backend& be, const std::vector<std::int32_t>& y) {
  Buffer lab(be, Shape{static_cast<std::int64_t>(y.size()), 1}, DType::i32);
  be.to_device(lab, reinterpret_cast<const float*>(y.data()));
  return lab;
}

// cvae: one-hot labels
struct OneHotCase {
  const char* name;
  std::int64_t B, C, offset, width;  // out is columns [offset, offset + C) of [B, width]
};
void PrintTo(const OneHotCase& c, std::ostream* os) { *os << c.name; }
class OpsOneHot : public ::testing::TestWithParam<OneHotCase> {};

TEST_P(OpsOneHot, RowsMatchAPlainLoopAndLeaveTheOtherColumns) {
  const OneHotCase c = GetParam();
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  std::vector<std::int32_t> y(static_cast<std::size_t>(c.B));
  for (std::int64_t b = 0; b < c.B; ++b) y[static_cast<std::size_t>(b)] = static_cast<std::int32_t>((5 * b + 2) % c.C);
  y.back() = static_cast<std::int32_t>(c.C - 1);  // the last class too
  for (Backend* be : {cpu.get(), dev.get()}) {
    SCOPED_TRACE(be->describe());
    Buffer lab = upload_labels(*be, y), out = test::poisoned_on(*be, Shape{c.B, c.width});
    be->one_hot(lab, out.tensor().cols_view(c.offset, c.C));
    const std::vector<float> got = download(*be, out);
    std::int64_t ones = 0;
    for (std::int64_t b = 0; b < c.B; ++b)
      for (std::int64_t j = 0; j < c.width; ++j) {
        const float v = got[static_cast<std::size_t>(b * c.width + j)];
        if (j < c.offset || j >= c.offset + c.C) {
          EXPECT_TRUE(std::isnan(v)) << "row " << b << " column " << j << " outside the view was written";
        } else {
          const float want = j - c.offset == y[static_cast<std::size_t>(b)] ? 1.f : 0.f;
          EXPECT_EQ(v, want) << "row " << b << " column " << j - c.offset;
          ones += v == 1.f;
        }
      }
    EXPECT_EQ(ones, c.B);
  }
}

CUVAE_INSTANTIATE(OpsOneHot,
                  ::testing::Values(OneHotCase{"TenClassesDense", 37, 10, 0, 10},
                                    OneHotCase{"ViewBesideImages", 9, 10, 64, 74},  // [x | onehot] of the cvae
                                    OneHotCase{"OddView", 13, 7, 3, 17}, OneHotCase{"TwoClasses", 5, 2, 1, 4},
                                    OneHotCase{"Wide", 3, 1000, 5, 1010}),
                  [](const auto& tp) { return std::string(tp.param.name); });

// A label outside 0..C-1 is not an index: its row is NaN, the other rows are right, and nothing
// beyond the view is written (the neighbouring columns stay poisoned).
TEST(CUVAE_DEVICE_SUITE(Ops), OneHotLabelOutOfRangeIsANanRowNotAWrite) {
  auto dev = CUVAE_DEVICE_OR_SKIP();
  auto cpu = make_cpu_backend(1);
  const std::int64_t B = 5, C = 4, W = 9, off = 2;
  const std::vector<std::int32_t> y = {3, -1, 4, 1 << 30, 0};
  for (Backend* be : {cpu.get(), dev.get()}) {
    SCOPED_TRACE(be->describe());
    Buffer lab = upload_labels(*be, y), out = test::poisoned_on(*be, Shape{B, W});
    be->one_hot(lab, out.tensor().cols_view(off, C));
    const std::vector<float> got = download(*be, out);
    for (std::int64_t b = 0; b < B; ++b) {
      const bool valid = y[static_cast<std::size_t>(b)] >= 0 && y[static_cast<std::size_t>(b)] < C;
      for (std::int64_t j = 0; j < W; ++j) {
        const float v = got[static_cast<std::size_t>(b * W + j)];
        if (!valid || j < off || j >= off + C)
          EXPECT_TRUE(std::isnan(v)) << "row " << b << " column " << j;
        else
          EXPECT_EQ(v, j - off == y[static_cast<std::size_t>(b)] ? 1.f : 0.f) << "row " << b << " column " << j;
      }
    }
  }
  Buffer lab = upload_labels(*cpu, y), out(*cpu, Shape{4, C});
  EXPECT_EQ(test::error_of([&] { cpu->one_hot(lab, out); }),
            "one_hot: shapes disagree: labels cpu int32[5, 1], out cpu[4, 4] (want labels [B, 1], out [B, C])");
  Buffer floats(*cpu, Shape{5, 1});
  Buffer out5(*cpu, Shape{5, C});
  EXPECT_EQ(test::error_of([&] { cpu->one_hot(floats, out5); }),
            "one_hot: labels must be a dense int32 tensor, got cpu[5, 1]");
}

}  // namespace
}  // namespace cuvae
