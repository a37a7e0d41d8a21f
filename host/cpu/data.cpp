// CPU reference for the data ops: the batch gather (into a column view, any 4-byte type), input
// corruption with the Philox draws the CUDA kernel makes, and the elementwise sigmoid.
#include <cstring>

#include "host/cpu/ops.hpp"
#include "host/op_checks.hpp"
#include "kernels/noise.cuh"
#include "kernels/sigmoid.cuh"

namespace cuvae::cpu {

void gather_rows(const Tensor& src, std::span<const std::int64_t> rows, const Tensor& dst) {
  checks::gather_rows(src, rows, dst);
  const std::int64_t D = src.cols();
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::memcpy(dst.data + static_cast<std::int64_t>(i) * dst.row_stride(), src.data + rows[i] * D,
                static_cast<std::size_t>(D) * sizeof(float));
}

namespace {
int noise_code(NoiseKind kind) {
  switch (kind) {
    case NoiseKind::mask: return kernels::data::kNoiseMask;
    case NoiseKind::gaussian: return kernels::data::kNoiseGaussian;
    case NoiseKind::saltpepper: return kernels::data::kNoiseSaltPepper;
    case NoiseKind::none: break;
  }
  return 0;
}
}  // namespace

void corrupt(NoiseKind kind, float level, const Tensor& x, RngKey key, const Tensor& out) {
  checks::corrupt(kind, Scalar{level}, x, out);
  const std::int64_t B = x.rows(), D = x.cols(), n = B * D;
  const int code = noise_code(kind);
  for (std::int64_t g = 0; g * 4 < n; ++g) {
    float4 u{}, nv{};
    if (kind == NoiseKind::gaussian)
      nv = philox_normal4(key, static_cast<std::uint64_t>(g));
    else
      u = philox_uniform4(key, static_cast<std::uint64_t>(g));
    for (unsigned k = 0; k < 4 && g * 4 + k < n; ++k) {
      const std::int64_t i = g * 4 + k, b = i / D, j = i % D;
      out.data[b * out.row_stride() + j] =
          kernels::data::corrupt_value(code, x.data[b * x.row_stride() + j], float4_at(u, k), float4_at(nv, k), level);
    }
  }
}

void copy(const Tensor& src, const Tensor& dst) {
  checks::same_shape("copy", src, dst);
  const std::int64_t B = src.rows(), D = src.cols();
  for (std::int64_t b = 0; b < B; ++b)
    std::memcpy(dst.data + b * dst.row_stride(), src.data + b * src.row_stride(), static_cast<std::size_t>(D) * 4);
}

void sigmoid(const Tensor& x, const Tensor& y) {
  checks::same_shape("sigmoid", x, y);
  const std::int64_t B = x.rows(), D = x.cols();
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t j = 0; j < D; ++j) y.data[b * y.row_stride() + j] = stable_sigmoid(x.data[b * x.row_stride() + j]);
}

}  // namespace cuvae::cpu
