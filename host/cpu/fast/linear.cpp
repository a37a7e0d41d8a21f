// Fast CPU linear layer (see fast.hpp): single-threaded OpenBLAS sgemm on blocks of rows (forward,
// input gradient) or of weight columns (weight gradient), the blocks on the backend's pool; each
// block's passes right after its GEMM: the bias written first and the product added to it, then
// the activation; the activation derivative. The bias gradient over column chunks (each column
// summed over the rows in row order, as the reference).
#include <cblas.h>

#include <algorithm>

#include "host/cpu/fast/fast.hpp"
#include "host/cpu/fast/pool.hpp"
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

// Rows of y per GEMM block: whole batches up to 64 rows, else about a sixteenth of the batch
// (multiples of 16). Fixed by the shape, never by the thread count.
std::int64_t block_rows(std::int64_t B) {
  if (B <= 64) return std::max<std::int64_t>(B, 1);
  return std::max<std::int64_t>(64, ((B + 15) / 16 + 15) / 16 * 16);
}
// Columns of dw per weight-gradient block.
constexpr std::int64_t kWeightColumns = 64;

}  // namespace

void linear_forward(Pool& pool, const Tensor& x, const Tensor& w, const Tensor& b, Activation act, const Tensor& y) {
  checks::linear_forward(x, w, b, y);
  const std::int64_t B = x.shape[0], in = x.shape[1], out = w.shape[0];
  const std::int64_t ldx = x.row_stride(), ldy = y.row_stride();
  // Each block of rows: the bias, the product added to it, the activation, while in cache.
  for_chunks(pool, B, block_rows(B), [&](std::int64_t r0, std::int64_t r1) {
    bias_rows(y, b.data, r0, r1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(r1 - r0), int(out), int(in), 1.f, x.data + r0 * ldx,
                int(ldx), w.data, int(in), 1.f, y.data + r0 * ldy, int(ldy));
    if (act != Activation::none) activation_rows(y, act, r0, r1);
  });
}

void linear_backward(Pool& pool, const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy, const Tensor* dx,
                     const Tensor& dw, const Tensor& db) {
  checks::linear_backward(x, w, dy, dx, dw, db);
  const std::int64_t B = x.shape[0], in = x.shape[1], out = w.shape[0];
  const std::int64_t ldx = x.row_stride(), ldy = dy.row_stride();
  // dw = dy^T x by blocks of its columns: each element is one sum over the whole batch.
  for_chunks(pool, in, kWeightColumns, [&](std::int64_t c0, std::int64_t c1) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(out), int(c1 - c0), int(B), 1.f, dy.data, int(ldy),
                x.data + c0, int(ldx), 0.f, dw.data + c0, int(in));
  });
  // Column chunks of at least 64 columns (a few cache lines of each row).
  for_chunks(pool, out, std::max<std::int64_t>(64, kChunkElements / std::max<std::int64_t>(B, 1)),
             [&](std::int64_t c0, std::int64_t c1) { bias_gradient_columns(dy, db.data, c0, c1); });
  if (!dx) return;
  const std::int64_t ldd = dx->row_stride();
  for_chunks(pool, B, block_rows(B), [&](std::int64_t r0, std::int64_t r1) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(r1 - r0), int(in), int(out), 1.f, dy.data + r0 * ldy,
                int(ldy), w.data, int(in), 0.f, dx->data + r0 * ldd, int(ldd));
    if (x_act != Activation::none) derivative_rows(x, x_act, *dx, r0, r1);
  });
}

}  // namespace cuvae::cpu::fast
