// CPU linear layer: OpenBLAS sgemm plus one pass for bias and activation (forward) or the
// activation derivative (backward).
#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "host/cpu/activation.hpp"
#include "host/cpu/ops.hpp"
#include "host/op_checks.hpp"

namespace cuvae::cpu {

void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Activation act, const Tensor& y) {
  checks::linear_forward(x, w, b, y);
  const int B = static_cast<int>(x.shape[0]), in = static_cast<int>(x.shape[1]), out = static_cast<int>(w.shape[0]);
  const int ldx = static_cast<int>(x.row_stride()), ldy = static_cast<int>(y.row_stride());
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, out, in, 1.f, x.data, ldx, w.data, in, 0.f, y.data, ldy);
  for (int r = 0; r < B; ++r) {
    float* row = y.data + static_cast<std::int64_t>(r) * ldy;
    for (int c = 0; c < out; ++c) row[c] = activate(act, row[c] + b.data[c]);
  }
}

void linear_backward(const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy, const Tensor* dx,
                     const Tensor& dw, const Tensor& db) {
  checks::linear_backward(x, w, dy, dx, dw, db);
  const int B = static_cast<int>(x.shape[0]), in = static_cast<int>(x.shape[1]), out = static_cast<int>(w.shape[0]);
  const int ldx = static_cast<int>(x.row_stride()), ldy = static_cast<int>(dy.row_stride());
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, B, 1.f, dy.data, ldy, x.data, ldx, 0.f, dw.data, in);
  std::fill(db.data, db.data + out, 0.f);
  for (int r = 0; r < B; ++r) {
    const float* row = dy.data + static_cast<std::int64_t>(r) * ldy;
    for (int c = 0; c < out; ++c) db.data[c] += row[c];
  }
  if (!dx) return;
  const int ldd = static_cast<int>(dx->row_stride());
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, in, out, 1.f, dy.data, ldy, w.data, in, 0.f, dx->data, ldd);
  if (x_act == Activation::none) return;
  for (int r = 0; r < B; ++r)
    for (int c = 0; c < in; ++c)
      dx->data[static_cast<std::int64_t>(r) * ldd + c] *= derivative_from_output(x_act, x.data[static_cast<std::int64_t>(r) * ldx + c]);
}

}  // namespace cuvae::cpu
