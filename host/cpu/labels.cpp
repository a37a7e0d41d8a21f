// CPU reference for the one-hot encoding of class labels (kernels/labels.cuh): out[b, j] = 1 where
// j is row b's label, 0 elsewhere; a label outside 0..C-1 gives a row of NaN (never an index).
#include <limits>

#include "host/cpu/ops.hpp"
#include "host/op_checks.hpp"

namespace cuvae::cpu {

void one_hot(const Tensor& labels, const Tensor& out) {
  checks::one_hot(labels, out);
  const std::int64_t B = out.rows(), C = out.cols();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (std::int64_t b = 0; b < B; ++b) {
    const std::int64_t y = labels.ints()[b];
    float* row = out.data + b * out.row_stride();
    for (std::int64_t j = 0; j < C; ++j) row[j] = y < 0 || y >= C ? nan : (j == y ? 1.f : 0.f);
  }
}

}  // namespace cuvae::cpu
