// CPU Conv2d / ConvTranspose2d (kernels/conv_shape.cuh): a chunk of images' big sides unfolded
// side by side into columns (im2col, [big_c * kh * kw, n * small_h * small_w]) and one OpenBLAS
// sgemm per pass against the weight, folded back (col2im) where the pass writes the big side; bias,
// activation and its derivative in one pass after the GEMMs. Chunks and the bias gradient's sums
// run in batch order.
#include <cblas.h>

#include <algorithm>
#include <vector>

#include "host/cpu/activation.hpp"
#include "host/cpu/ops.hpp"
#include "host/op_checks.hpp"

namespace cuvae::cpu {
namespace {

// Images per GEMM: the unfolded chunk [big_c * kh * kw, n * small pixels] stays under 16 MB.
constexpr std::int64_t kChunkValues = std::int64_t(1) << 22;

// cols[(c*kh + i)*kw + j, p] = big[c, py*sh - ph + i, px*sw - pw + j] (0 outside), p = py*small_w + px;
// cols' rows are `ld` apart (a chunk's images side by side).
void im2col(const ConvShape& s, const float* big, float* cols, std::int64_t ld) {
  const int H = s.big_h(), W = s.big_w(), h = s.small_h(), w = s.small_w();
  for (int c = 0; c < s.big_c(); ++c)
    for (int i = 0; i < s.kh; ++i)
      for (int j = 0; j < s.kw; ++j) {
        float* row = cols + (static_cast<std::int64_t>(c * s.kh + i) * s.kw + j) * ld;
        for (int py = 0; py < h; ++py) {
          const int y = py * s.sh - s.ph + i;
          const float* src = big + (static_cast<std::int64_t>(c) * H + y) * W;
          for (int px = 0; px < w; ++px) {
            const int x = px * s.sw - s.pw + j;
            row[py * w + px] = y >= 0 && y < H && x >= 0 && x < W ? src[x] : 0.f;
          }
        }
      }
}

// The transpose of im2col: big (zeroed first) += cols at the pixels they came from.
void col2im(const ConvShape& s, const float* cols, std::int64_t ld, float* big) {
  const int H = s.big_h(), W = s.big_w(), h = s.small_h(), w = s.small_w();
  std::fill(big, big + static_cast<std::int64_t>(s.big_c()) * H * W, 0.f);
  for (int c = 0; c < s.big_c(); ++c)
    for (int i = 0; i < s.kh; ++i)
      for (int j = 0; j < s.kw; ++j) {
        const float* row = cols + (static_cast<std::int64_t>(c * s.kh + i) * s.kw + j) * ld;
        for (int py = 0; py < h; ++py) {
          const int y = py * s.sh - s.ph + i;
          if (y < 0 || y >= H) continue;
          float* dst = big + (static_cast<std::int64_t>(c) * H + y) * W;
          for (int px = 0; px < w; ++px) {
            const int x = px * s.sw - s.pw + j;
            if (x >= 0 && x < W) dst[x] += row[py * w + px];
          }
        }
      }
}

// A chunk of images' small side between its rows ([n, small_c, hw]) and one matrix [small_c, n * hw].
void small_to_matrix(const ConvShape& s, const float* rows, std::int64_t n, float* m) {
  const std::int64_t hw = std::int64_t(s.small_h()) * s.small_w(), C = s.small_c();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t c = 0; c < C; ++c) std::copy_n(rows + (i * C + c) * hw, hw, m + c * n * hw + i * hw);
}
void matrix_to_small(const ConvShape& s, const float* m, std::int64_t n, float* rows) {
  const std::int64_t hw = std::int64_t(s.small_h()) * s.small_w(), C = s.small_c();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t c = 0; c < C; ++c) std::copy_n(m + c * n * hw + i * hw, hw, rows + (i * C + c) * hw);
}

// The images [first, first + n) of a batch: the big side's rows and the small side's.
struct Chunk {
  std::int64_t first = 0, n = 0;
};
template <class F>
void for_chunks(const ConvShape& s, std::int64_t B, F&& f) {
  const std::int64_t per = std::max<std::int64_t>(
      1, kChunkValues / std::max<std::int64_t>(1, s.weight_cols() * s.small_h() * s.small_w()));
  for (std::int64_t first = 0; first < B; first += per) f(Chunk{first, std::min(per, B - first)});
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const ConvShape& s, Activation act,
                    const Tensor& y) {
  checks::conv2d_forward(x, w, b, s, y);
  const std::int64_t B = x.rows(), in = s.in_dim(), out = s.out_dim(), plane = out / s.out_c;
  const std::int64_t K = s.weight_cols(), hw = std::int64_t(s.small_h()) * s.small_w(), M = s.small_c();
  std::vector<float> cols, small;
  for_chunks(s, B, [&](Chunk ch) {
    const std::int64_t N = ch.n * hw;
    cols.resize(static_cast<std::size_t>(K * N)), small.resize(static_cast<std::size_t>(M * N));
    if (s.transposed) {  // up: cols = W^T small, folded into each image's output
      small_to_matrix(s, x.data + ch.first * in, ch.n, small.data());
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(K), int(N), int(M), 1.f, w.data, int(K), small.data(),
                  int(N), 0.f, cols.data(), int(N));
      for (std::int64_t i = 0; i < ch.n; ++i) col2im(s, cols.data() + i * hw, N, y.data + (ch.first + i) * out);
    } else {  // down: small = W cols
      for (std::int64_t i = 0; i < ch.n; ++i) im2col(s, x.data + (ch.first + i) * in, cols.data() + i * hw, N);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(M), int(N), int(K), 1.f, w.data, int(K), cols.data(),
                  int(N), 0.f, small.data(), int(N));
      matrix_to_small(s, small.data(), ch.n, y.data + ch.first * out);
    }
  });
  for (std::int64_t r = 0; r < B; ++r) {
    float* yi = y.data + r * out;
    for (int c = 0; c < s.out_c; ++c)
      for (std::int64_t p = 0; p < plane; ++p) yi[c * plane + p] = activate(act, yi[c * plane + p] + b.data[c]);
  }
}

void conv2d_backward(const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy, const ConvShape& s,
                     const Tensor* dx, const Tensor& dw, const Tensor& db) {
  checks::conv2d_backward(x, w, dy, s, dx, dw, db);
  const std::int64_t B = x.rows(), in = s.in_dim(), out = s.out_dim(), plane = out / s.out_c;
  const std::int64_t K = s.weight_cols(), hw = std::int64_t(s.small_h()) * s.small_w(), M = s.small_c();
  std::fill(db.data, db.data + s.out_c, 0.f);
  for (std::int64_t r = 0; r < B; ++r)  // image by image, in batch order
    for (int c = 0; c < s.out_c; ++c) {
      float sum = 0.f;
      for (std::int64_t p = 0; p < plane; ++p) sum += dy.data[r * out + c * plane + p];
      db.data[c] += sum;
    }
  if (B == 0) std::fill(dw.data, dw.data + dw.numel(), 0.f);
  // The big side (x for a Conv2d, dy for a ConvTranspose2d) unfolded, the small side as a matrix.
  const float* big = s.transposed ? dy.data : x.data;
  const float* small_rows = s.transposed ? x.data : dy.data;
  const std::int64_t big_row = s.transposed ? out : in, small_row = s.transposed ? in : out;
  std::vector<float> cols, small;
  for_chunks(s, B, [&](Chunk ch) {
    const std::int64_t N = ch.n * hw;
    cols.resize(static_cast<std::size_t>(K * N)), small.resize(static_cast<std::size_t>(M * N));
    for (std::int64_t i = 0; i < ch.n; ++i) im2col(s, big + (ch.first + i) * big_row, cols.data() + i * hw, N);
    small_to_matrix(s, small_rows + ch.first * small_row, ch.n, small.data());
    // wgrad: dW += small cols^T (the first chunk overwrites)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), int(K), int(N), 1.f, small.data(), int(N), cols.data(),
                int(N), ch.first == 0 ? 0.f : 1.f, dw.data, int(K));
    if (!dx) return;
    if (s.transposed) {  // dx = down(dy): W times the unfolded dy
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(M), int(N), int(K), 1.f, w.data, int(K), cols.data(),
                  int(N), 0.f, small.data(), int(N));
      matrix_to_small(s, small.data(), ch.n, dx->data + ch.first * in);
    } else {  // dx = up(dy): W^T dy, folded into each image
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(K), int(N), int(M), 1.f, w.data, int(K), small.data(),
                  int(N), 0.f, cols.data(), int(N));
      for (std::int64_t i = 0; i < ch.n; ++i) col2im(s, cols.data() + i * hw, N, dx->data + (ch.first + i) * in);
    }
  });
  if (!dx || x_act == Activation::none) return;
  for (std::int64_t k = 0; k < B * in; ++k) dx->data[k] *= derivative_from_output(x_act, x.data[k]);
}

}  // namespace cuvae::cpu
