// Fast CPU linear layer (see fast.hpp): OpenBLAS sgemm (threaded by OpenBLAS itself) and the
// passes around it over row chunks: the bias written first and the product added to it, then the
// activation; the bias gradient over column chunks (each column summed over the rows in row
// order, as the reference), the activation derivative over row chunks.
#include <cblas.h>

#include <algorithm>

#include "host/cpu/fast/fast.hpp"
#include "host/cpu/fast/parallel.hpp"
#include "host/cpu/fast/vecmath.hpp"
#include "host/op_checks.hpp"

namespace cuvae::cpu::fast {
namespace {

// y[r, :] = b for rows [r0, r1): the GEMM then adds x w^T to it (beta = 1), which spares OpenBLAS's
// own pass that zeroes y (beta = 0) and a pass that adds the bias afterwards.
CUVAE_VECTOR_CLONES void bias_rows(const Tensor& y, const float* __restrict__ b, std::int64_t r0, std::int64_t r1) {
  const std::int64_t n = y.cols(), ld = y.row_stride();
  for (std::int64_t r = r0; r < r1; ++r) {
    float* __restrict__ row = y.data + r * ld;
#pragma omp simd
    for (std::int64_t c = 0; c < n; ++c) row[c] = b[c];
  }
}

// y[r, :] = act(y[r, :]) for rows [r0, r1).
CUVAE_VECTOR_CLONES void activation_rows(const Tensor& y, Activation act, std::int64_t r0, std::int64_t r1) {
  const std::int64_t n = y.cols(), ld = y.row_stride();
  for (std::int64_t r = r0; r < r1; ++r) {
    float* __restrict__ row = y.data + r * ld;
    if (act == Activation::relu) {
#pragma omp simd
      for (std::int64_t c = 0; c < n; ++c) row[c] = row[c] > 0.f ? row[c] : 0.f;
    } else if (act == Activation::sigmoid) {
#pragma omp simd
      for (std::int64_t c = 0; c < n; ++c) row[c] = sigmoid_approx(row[c]);
    } else if (act == Activation::leaky_relu) {
#pragma omp simd
      for (std::int64_t c = 0; c < n; ++c) row[c] = row[c] > 0.f ? row[c] : kLeakyReluSlope * row[c];
    }
  }
}

// db[c] = sum over rows r of dy[r, c] in row order (float, as the reference), for columns [c0, c1).
CUVAE_VECTOR_CLONES void bias_gradient_columns(const Tensor& dy, float* __restrict__ db, std::int64_t c0, std::int64_t c1) {
  const std::int64_t B = dy.rows(), ld = dy.row_stride();
  std::fill(db + c0, db + c1, 0.f);
  for (std::int64_t r = 0; r < B; ++r) {
    const float* __restrict__ row = dy.data + r * ld;
#pragma omp simd
    for (std::int64_t c = c0; c < c1; ++c) db[c] += row[c];
  }
}

// dx[r, :] *= act'(x[r, :]) (the derivative from the activation's output) for rows [r0, r1).
CUVAE_VECTOR_CLONES void derivative_rows(const Tensor& x, Activation act, const Tensor& dx, std::int64_t r0, std::int64_t r1) {
  const std::int64_t n = x.cols();
  for (std::int64_t r = r0; r < r1; ++r) {
    const float* __restrict__ y = x.data + r * x.row_stride();
    float* __restrict__ d = dx.data + r * dx.row_stride();
    if (act == Activation::relu) {
#pragma omp simd
      for (std::int64_t c = 0; c < n; ++c) d[c] *= y[c] > 0.f ? 1.f : 0.f;
    } else if (act == Activation::sigmoid) {
#pragma omp simd
      for (std::int64_t c = 0; c < n; ++c) d[c] *= y[c] * (1.f - y[c]);
    } else if (act == Activation::leaky_relu) {
#pragma omp simd
      for (std::int64_t c = 0; c < n; ++c) d[c] *= y[c] > 0.f ? 1.f : kLeakyReluSlope;
    }
  }
}

}  // namespace

void linear_forward(int threads, const Tensor& x, const Tensor& w, const Tensor& b, Activation act, const Tensor& y) {
  checks::linear_forward(x, w, b, y);
  const int B = static_cast<int>(x.shape[0]), in = static_cast<int>(x.shape[1]), out = static_cast<int>(w.shape[0]);
  const int ldx = static_cast<int>(x.row_stride()), ldy = static_cast<int>(y.row_stride());
  for_chunks(threads, B, rows_per_chunk(out), [&](std::int64_t r0, std::int64_t r1) { bias_rows(y, b.data, r0, r1); });
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, out, in, 1.f, x.data, ldx, w.data, in, 1.f, y.data, ldy);
  if (act == Activation::none) return;
  for_chunks(threads, B, rows_per_chunk(out),
             [&](std::int64_t r0, std::int64_t r1) { activation_rows(y, act, r0, r1); });
}

void linear_backward(int threads, const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy, const Tensor* dx,
                     const Tensor& dw, const Tensor& db) {
  checks::linear_backward(x, w, dy, dx, dw, db);
  const int B = static_cast<int>(x.shape[0]), in = static_cast<int>(x.shape[1]), out = static_cast<int>(w.shape[0]);
  const int ldx = static_cast<int>(x.row_stride()), ldy = static_cast<int>(dy.row_stride());
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, B, 1.f, dy.data, ldy, x.data, ldx, 0.f, dw.data, in);
  // Column chunks of at least 64 columns (a few cache lines of each row).
  for_chunks(threads, out, std::max<std::int64_t>(64, kChunkElements / std::max(B, 1)),
             [&](std::int64_t c0, std::int64_t c1) { bias_gradient_columns(dy, db.data, c0, c1); });
  if (!dx) return;
  const int ldd = static_cast<int>(dx->row_stride());
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, in, out, 1.f, dy.data, ldy, w.data, in, 0.f, dx->data, ldd);
  if (x_act == Activation::none) return;
  for_chunks(threads, B, rows_per_chunk(in),
             [&](std::int64_t r0, std::int64_t r1) { derivative_rows(x, x_act, *dx, r0, r1); });
}

}  // namespace cuvae::cpu::fast
