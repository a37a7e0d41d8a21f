// CPU Conv2d / ConvTranspose2d (kernels/conv_shape.cuh): each image's big side unfolded into
// columns (im2col, [big_c * kh * kw, small_h * small_w]) and OpenBLAS sgemm against the weight,
// folded back (col2im) where the pass writes the big side; bias, activation and its derivative in
// one pass after each GEMM. Per image, in batch order, so the bias gradient and the weight
// gradient's sums run in a fixed order.
#include <cblas.h>

#include <algorithm>
#include <vector>

#include "host/cpu/activation.hpp"
#include "host/cpu/ops.hpp"
#include "host/op_checks.hpp"

namespace cuvae::cpu {
namespace {

// cols[(c*kh + i)*kw + j, p] = big[c, py*sh - ph + i, px*sw - pw + j] (0 outside), p = py*small_w + px.
void im2col(const ConvShape& s, const float* big, float* cols) {
  const int H = s.big_h(), W = s.big_w(), h = s.small_h(), w = s.small_w();
  for (int c = 0; c < s.big_c(); ++c)
    for (int i = 0; i < s.kh; ++i)
      for (int j = 0; j < s.kw; ++j) {
        float* row = cols + (static_cast<std::int64_t>(c * s.kh + i) * s.kw + j) * h * w;
        for (int py = 0; py < h; ++py) {
          const int y = py * s.sh - s.ph + i;
          for (int px = 0; px < w; ++px) {
            const int x = px * s.sw - s.pw + j;
            row[py * w + px] = y >= 0 && y < H && x >= 0 && x < W ? big[(static_cast<std::int64_t>(c) * H + y) * W + x] : 0.f;
          }
        }
      }
}

// The transpose of im2col: big (zeroed first) += cols at the pixels they came from.
void col2im(const ConvShape& s, const float* cols, float* big) {
  const int H = s.big_h(), W = s.big_w(), h = s.small_h(), w = s.small_w();
  std::fill(big, big + static_cast<std::int64_t>(s.big_c()) * H * W, 0.f);
  for (int c = 0; c < s.big_c(); ++c)
    for (int i = 0; i < s.kh; ++i)
      for (int j = 0; j < s.kw; ++j) {
        const float* row = cols + (static_cast<std::int64_t>(c * s.kh + i) * s.kw + j) * h * w;
        for (int py = 0; py < h; ++py) {
          const int y = py * s.sh - s.ph + i;
          if (y < 0 || y >= H) continue;
          for (int px = 0; px < w; ++px) {
            const int x = px * s.sw - s.pw + j;
            if (x >= 0 && x < W) big[(static_cast<std::int64_t>(c) * H + y) * W + x] += row[py * w + px];
          }
        }
      }
}

// small [small_c, hw] = W [small_c, K] cols [K, hw].
void down(const ConvShape& s, const float* w, const float* cols, float* small) {
  const int M = s.small_c(), N = s.small_h() * s.small_w(), K = static_cast<int>(s.weight_cols());
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.f, w, K, cols, N, 0.f, small, N);
}

// cols [K, hw] = W^T [K, small_c] small [small_c, hw].
void up(const ConvShape& s, const float* w, const float* small, float* cols) {
  const int M = static_cast<int>(s.weight_cols()), N = s.small_h() * s.small_w(), K = s.small_c();
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, N, K, 1.f, w, M, small, N, 0.f, cols, N);
}

// dW [small_c, K] += small [small_c, hw] cols^T [hw, K] (beta 0 for the batch's first image).
void wgrad(const ConvShape& s, const float* small, const float* cols, float beta, float* dw) {
  const int M = s.small_c(), N = static_cast<int>(s.weight_cols()), K = s.small_h() * s.small_w();
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.f, small, K, cols, K, beta, dw, N);
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const ConvShape& s, Activation act,
                    const Tensor& y) {
  checks::conv2d_forward(x, w, b, s, y);
  const std::int64_t B = x.rows(), in = s.in_dim(), out = s.out_dim(), plane = out / s.out_c;
  std::vector<float> cols(static_cast<std::size_t>(s.weight_cols() * s.small_h() * s.small_w()));
  for (std::int64_t r = 0; r < B; ++r) {
    const float* xi = x.data + r * in;
    float* yi = y.data + r * out;
    if (s.transposed) {
      up(s, w.data, xi, cols.data());
      col2im(s, cols.data(), yi);
    } else {
      im2col(s, xi, cols.data());
      down(s, w.data, cols.data(), yi);
    }
    for (int c = 0; c < s.out_c; ++c)
      for (std::int64_t p = 0; p < plane; ++p) yi[c * plane + p] = activate(act, yi[c * plane + p] + b.data[c]);
  }
}

void conv2d_backward(const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy, const ConvShape& s,
                     const Tensor* dx, const Tensor& dw, const Tensor& db) {
  checks::conv2d_backward(x, w, dy, s, dx, dw, db);
  const std::int64_t B = x.rows(), in = s.in_dim(), out = s.out_dim(), plane = out / s.out_c;
  std::vector<float> cols(static_cast<std::size_t>(s.weight_cols() * s.small_h() * s.small_w()));
  std::fill(db.data, db.data + s.out_c, 0.f);
  if (B == 0) std::fill(dw.data, dw.data + dw.numel(), 0.f);
  for (std::int64_t r = 0; r < B; ++r) {
    const float* xi = x.data + r * in;
    const float* dyi = dy.data + r * out;
    for (int c = 0; c < s.out_c; ++c) {
      float sum = 0.f;
      for (std::int64_t p = 0; p < plane; ++p) sum += dyi[c * plane + p];
      db.data[c] += sum;
    }
    // The big side unfolded (x for a Conv2d, dy for a ConvTranspose2d), against the small side.
    im2col(s, s.transposed ? dyi : xi, cols.data());
    wgrad(s, s.transposed ? xi : dyi, cols.data(), r == 0 ? 0.f : 1.f, dw.data);
    if (!dx) continue;
    float* dxi = dx->data + r * in;
    if (s.transposed) {
      down(s, w.data, cols.data(), dxi);  // the unfolded dy, already in cols
    } else {
      up(s, w.data, dyi, cols.data());
      col2im(s, cols.data(), dxi);
    }
    if (x_act != Activation::none)
      for (std::int64_t k = 0; k < in; ++k) dxi[k] *= derivative_from_output(x_act, xi[k]);
  }
}

}  // namespace cuvae::cpu
