// The op harness shared by test_ops.cpp and test_ops_labels.cpp: the suite prefix of the build
// (SIMT or GPU), the FP32 tolerance, column views of wider buffers and their host copies, labels.
#pragma once
#include <cstdint>
#include <vector>

#include "device_backend.hpp"

// INSTANTIATE_TEST_SUITE_P pastes its prefix: expand the build's name first.
#if defined(CUVAE_SIMT)
#define CUVAE_OPS_PREFIX OpsSimt
#else
#define CUVAE_OPS_PREFIX OpsGpu
#endif
#define CUVAE_INSTANTIATE_(prefix, ...) INSTANTIATE_TEST_SUITE_P(prefix, __VA_ARGS__)
#define CUVAE_INSTANTIATE(...) CUVAE_INSTANTIATE_(CUVAE_OPS_PREFIX, __VA_ARGS__)

namespace cuvae::test {

inline constexpr double kTol = 1e-5;  // FP32 against double: expf, log1pf and sincosf differ in the last bits

// A [rows, cols] column view at column `offset` of a [rows, width] device buffer filled from h
// (h is [rows, width]): what a model passes when it reads one part of a wider activation.
struct Strided {
  Buffer buf;
  Tensor view;
};
inline Strided strided(Backend& be, const HostTensor& h, std::int64_t offset, std::int64_t cols) {
  Strided s{test::upload(be, h), {}};
  s.view = s.buf.tensor().cols_view(offset, cols);
  return s;
}

// The view's elements, row by row, from a host copy of the whole buffer.
inline std::vector<double> columns(const std::vector<float>& whole, std::int64_t width, std::int64_t offset, std::int64_t rows,
                            std::int64_t cols) {
  std::vector<double> v;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) v.push_back(whole[static_cast<std::size_t>(r * width + offset + c)]);
  return v;
}
inline std::vector<float> as_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

// Labels [n, 1] int32 on a backend.
inline Buffer upload_labels(Backend& be, const std::vector<std::int32_t>& y) {
  Buffer lab(be, Shape{static_cast<std::int64_t>(y.size()), 1}, DType::i32);
  be.to_device(lab, reinterpret_cast<const float*>(y.data()));
  return lab;
}

}  // namespace cuvae::test
