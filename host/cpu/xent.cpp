// CPU reference for the fused softmax cross-entropy (kernels/xent.cuh): per row the max-subtracted
// log-sum-exp minus the label's logit, the gradient softmax - onehot, the first argmax; sums in
// double, row by row in order. A label outside 0..C-1 is not used as an index: NaN row and
// gradient, not counted as correct (the same as the kernel).
#include <cmath>
#include <limits>

#include "host/cpu/ops.hpp"
#include "host/op_checks.hpp"

namespace cuvae::cpu {

void softmax_xent(const Tensor& logits, const Tensor& labels, const Tensor* dlogits, const Tensor* rows,
                  const Tensor& terms) {
  checks::softmax_xent(logits, labels, dlogits, rows, terms);
  const std::int64_t B = logits.rows(), C = logits.cols();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  double total = 0.0;
  std::int64_t correct = 0;
  for (std::int64_t b = 0; b < B; ++b) {
    const float* l = logits.data + b * logits.row_stride();
    const std::int32_t y = labels.ints()[b];
    const bool valid = y >= 0 && y < C;
    float m = l[0];
    std::int64_t argmax = 0;
    for (std::int64_t j = 1; j < C; ++j)
      if (l[j] > m) m = l[j], argmax = j;  // strictly greater: the first maximum on ties
    double s = 0.0;
    for (std::int64_t j = 0; j < C; ++j) s += static_cast<double>(std::exp(l[j] - m));
    if (dlogits) {
      float* d = dlogits->data + b * dlogits->row_stride();
      const float inv = static_cast<float>(1.0 / s);
      for (std::int64_t j = 0; j < C; ++j) d[j] = valid ? std::exp(l[j] - m) * inv - (j == y ? 1.f : 0.f) : nan;
    }
    const double row = valid ? (static_cast<double>(m) - static_cast<double>(l[y])) + std::log(s) : double(nan);
    if (rows) rows->data[b] = static_cast<float>(row);
    total += row;
    correct += valid && argmax == y;
  }
  terms.data[0] = static_cast<float>(total);
  terms.data[1] = static_cast<float>(correct);
}

}  // namespace cuvae::cpu
