// CPU Conv2d / ConvTranspose2d (kernels/conv_shape.cuh) on the backend's pool: the batch cut
// into fixed chunks of images (the size depends only on the shape), each chunk one task: its
// images' big sides unfolded pixel by pixel (im2col, [n * small_h * small_w, big_c * kh * kw]: runs
// of kw input pixels), one single-threaded OpenBLAS sgemm per pass against the weight, folded back (col2im)
// where the pass writes the big side, and the epilogue (bias and activation, or the activation's
// derivative) on the chunk while it is in cache. The weight and bias gradients: one partial sum
// per chunk, added in chunk order. So the results are the same bits for any thread count.
// A Conv2d with few output channels takes the direct path instead (conv_direct.hpp), on the same chunks.
#include <cblas.h>

#include <algorithm>
#include <vector>

#include "host/cpu/activation.hpp"
#include "host/cpu/fast/conv_direct.hpp"
#include "host/cpu/fast/fast.hpp"
#include "host/cpu/fast/vecmath.hpp"
#include "host/op_checks.hpp"

namespace cuvae::cpu::fast {
namespace {

// Images per chunk: the unfolded chunk about 1 MB (in L2 with the weight), at most 8 images, so
// that a batch of 128 makes 16 tasks.
constexpr std::int64_t kChunkValues = std::int64_t(1) << 18;
constexpr std::int64_t kMaxImages = 8;

// One image's big side unfolded pixel by pixel: cols[p, (c*kh + i)*kw + j] = big[c, py*sh - ph + i,
// px*sw - pw + j] (0 outside the image), p = py*small_w + px; rows K = big_c*kh*kw apart. Each
// (c, i) is one run of kw consecutive input pixels, copied whole away from the edges.
template <int KW>
void im2col_runs(const ConvShape& s, const float* big, float* cols) {
  const int H = s.big_h(), W = s.big_w(), h = s.small_h(), w = s.small_w(), C = s.big_c(), kh = s.kh;
  const int kw = KW > 0 ? KW : s.kw;
  for (int py = 0; py < h; ++py)
    for (int px = 0; px < w; ++px) {
      float* row = cols + (static_cast<std::int64_t>(py) * w + px) * C * kh * kw;
      const int x0 = px * s.sw - s.pw;
      const bool whole = x0 >= 0 && x0 + kw <= W;
      for (int c = 0; c < C; ++c)
        for (int i = 0; i < kh; ++i) {
          float* dst = row + (c * kh + i) * kw;
          const int y = py * s.sh - s.ph + i;
          if (y < 0 || y >= H) {
            for (int j = 0; j < kw; ++j) dst[j] = 0.f;
            continue;
          }
          const float* src = big + (static_cast<std::int64_t>(c) * H + y) * W;
          if (whole) {
            for (int j = 0; j < kw; ++j) dst[j] = src[x0 + j];
          } else {
            for (int j = 0; j < kw; ++j) dst[j] = x0 + j >= 0 && x0 + j < W ? src[x0 + j] : 0.f;
          }
        }
    }
}

// The transpose of im2col: big (zeroed first) += cols at the pixels they came from.
template <int KW>
void col2im_runs(const ConvShape& s, const float* cols, float* big) {
  const int H = s.big_h(), W = s.big_w(), h = s.small_h(), w = s.small_w(), C = s.big_c(), kh = s.kh;
  const int kw = KW > 0 ? KW : s.kw;
  std::fill(big, big + static_cast<std::int64_t>(C) * H * W, 0.f);
  for (int py = 0; py < h; ++py)
    for (int px = 0; px < w; ++px) {
      const float* row = cols + (static_cast<std::int64_t>(py) * w + px) * C * kh * kw;
      const int x0 = px * s.sw - s.pw;
      const bool whole = x0 >= 0 && x0 + kw <= W;
      for (int c = 0; c < C; ++c)
        for (int i = 0; i < kh; ++i) {
          const int y = py * s.sh - s.ph + i;
          if (y < 0 || y >= H) continue;
          const float* in = row + (c * kh + i) * kw;
          float* dst = big + (static_cast<std::int64_t>(c) * H + y) * W;
          if (whole) {
            for (int j = 0; j < kw; ++j) dst[x0 + j] += in[j];
          } else {
            for (int j = 0; j < kw; ++j)
              if (x0 + j >= 0 && x0 + j < W) dst[x0 + j] += in[j];
          }
        }
    }
}

// The common kernel widths with their run length known to the compiler.
void im2col(const ConvShape& s, const float* big, float* cols) {
  switch (s.kw) {
    case 3: return im2col_runs<3>(s, big, cols);
    case 4: return im2col_runs<4>(s, big, cols);
    default: return im2col_runs<0>(s, big, cols);
  }
}
void col2im(const ConvShape& s, const float* cols, float* big) {
  switch (s.kw) {
    case 3: return col2im_runs<3>(s, cols, big);
    case 4: return col2im_runs<4>(s, cols, big);
    default: return col2im_runs<0>(s, cols, big);
  }
}

// The small side of images [0, n) (rows [n, small_c, hw], `ld` apart) as one matrix [small_c, n * hw].
void small_to_matrix(const ConvShape& s, const float* rows, std::int64_t ld, std::int64_t n, float* m) {
  const std::int64_t hw = std::int64_t(s.small_h()) * s.small_w(), C = s.small_c();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t c = 0; c < C; ++c) std::copy_n(rows + i * ld + c * hw, hw, m + c * n * hw + i * hw);
}

// Its inverse: the matrix [small_c, n * hw] back into the images' rows (`ld` apart).
void matrix_to_small(const ConvShape& s, const float* m, std::int64_t n, float* rows, std::int64_t ld) {
  const std::int64_t hw = std::int64_t(s.small_h()) * s.small_w(), C = s.small_c();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t c = 0; c < C; ++c) std::copy_n(m + c * n * hw + i * hw, hw, rows + i * ld + c * hw);
}

// The chunk [first, first + n) of a batch, and the scratch of the thread that runs it.
struct Chunk {
  std::int64_t first = 0, n = 0;
  float* cols = nullptr;   // [n * hw, K]
  float* small = nullptr;  // [M, n * hw]
};

struct Plan {
  std::int64_t per = 1, chunks = 0, K = 0, M = 0, hw = 0, direct_scratch = 0;
  bool direct = false;  // the direct path (conv_direct.hpp): no cols, scratch for one image's padded planes
  Plan(const ConvShape& s, std::int64_t B)
      : K(s.weight_cols()), M(s.small_c()), hw(std::int64_t(s.small_h()) * s.small_w()), direct(direct::fits(s)) {
    per = std::clamp<std::int64_t>(kChunkValues / std::max<std::int64_t>(1, K * hw), 1, kMaxImages);
    chunks = (B + per - 1) / per;
    if (direct) direct_scratch = direct::scratch(s);
  }
  std::int64_t scratch() const { return direct ? direct_scratch : (K + M) * per * hw; }
};

template <class F>
void for_chunks(Pool& pool, const Plan& plan, std::int64_t B, F&& f) {
  pool.reserve_scratch(plan.scratch());
  pool.run(plan.chunks, [&](std::int64_t c, int slot) {
    float* scratch = pool.scratch(slot);
    const std::int64_t first = c * plan.per;
    f(c, Chunk{first, std::min(plan.per, B - first), scratch, scratch + plan.K * plan.per * plan.hw});
  });
}

// rows[i, c, p] = act(rows[i, c, p] + b[c]) for the chunk's images (rows `ld` apart, planes of `plane`).
template <Activation A>
CUVAE_VECTOR_CLONES void bias_activate(const float* b, std::int64_t channels, std::int64_t plane, float* rows,
                                       std::int64_t ld, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t c = 0; c < channels; ++c) {
      float* p = rows + i * ld + c * plane;
      const float bc = b[c];
#pragma omp simd
      for (std::int64_t k = 0; k < plane; ++k) p[k] = activate(A, p[k] + bc);
    }
}

// d *= act'(y) over n values (the derivative from the activation's output).
template <Activation A>
CUVAE_VECTOR_CLONES void times_derivative(const float* y, float* d, std::int64_t n) {
  if constexpr (A != Activation::none) {
#pragma omp simd
    for (std::int64_t k = 0; k < n; ++k) d[k] *= derivative_from_output(A, y[k]);
  }
}

// db[c] (c < channels) = the sum of the chunk's dy planes: each plane in Lanes (vecmath.hpp), the
// images in order.
CUVAE_VECTOR_CLONES void bias_grad(const float* dy, std::int64_t channels, std::int64_t plane, std::int64_t ld,
                                   std::int64_t n, float* db) {
  for (std::int64_t c = 0; c < channels; ++c) {
    double sum = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      Lanes image;
      image.add(dy + i * ld + c * plane, plane);
      sum += image.sum();
    }
    db[c] = static_cast<float>(sum);
  }
}

}  // namespace

void conv2d_forward(Pool& pool, const Tensor& x, const Tensor& w, const Tensor& b, const ConvShape& s, Activation act,
                    const Tensor& y) {
  checks::conv2d_forward(x, w, b, s, y);
  const std::int64_t B = x.rows(), in = s.in_dim(), out = s.out_dim(), plane = out / s.out_c;
  const Plan plan(s, B);
  const std::int64_t K = plan.K, M = plan.M, hw = plan.hw;
  for_chunks(pool, plan, B, [&](std::int64_t, const Chunk& ch) {
    const std::int64_t N = ch.n * hw;
    float* yc = y.data + ch.first * out;
    if (plan.direct) {
      for (std::int64_t i = 0; i < ch.n; ++i) direct::forward(s, x.data + (ch.first + i) * in, w.data, yc + i * out, ch.cols);
    } else if (s.transposed) {  // up: cols = W^T small, folded into each image's output
      small_to_matrix(s, x.data + ch.first * in, in, ch.n, ch.small);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(N), int(K), int(M), 1.f, ch.small, int(N), w.data,
                  int(K), 0.f, ch.cols, int(K));  // cols [N, K] = small^T W
      for (std::int64_t i = 0; i < ch.n; ++i) col2im(s, ch.cols + i * hw * K, yc + i * out);
    } else {  // down: small = W cols, each image's planes copied out of the matrix
      for (std::int64_t i = 0; i < ch.n; ++i) im2col(s, x.data + (ch.first + i) * in, ch.cols + i * hw * K);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), int(N), int(K), 1.f, w.data, int(K), ch.cols,
                  int(K), 0.f, ch.small, int(N));  // small [M, N] = W cols^T
      matrix_to_small(s, ch.small, ch.n, yc, out);
    }
    with_activation(act, [&](auto a) { bias_activate<decltype(a)::value>(b.data, s.out_c, plane, yc, out, ch.n); });
  });
}

void conv2d_backward(Pool& pool, const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy,
                     const ConvShape& s, const Tensor* dx, const Tensor& dw, const Tensor& db) {
  checks::conv2d_backward(x, w, dy, s, dx, dw, db);
  const std::int64_t B = x.rows(), in = s.in_dim(), out = s.out_dim(), plane = out / s.out_c;
  const Plan plan(s, B);
  const std::int64_t K = plan.K, M = plan.M, hw = plan.hw, wsize = M * K, C = s.out_c;
  // The big side (x for a Conv2d, dy for a ConvTranspose2d) unfolded, the small side as a matrix.
  const float* big = s.transposed ? dy.data : x.data;
  const float* small_rows = s.transposed ? x.data : dy.data;
  const std::int64_t big_row = s.transposed ? out : in, small_row = s.transposed ? in : out;
  const std::int64_t total = wsize + C;
  float* partial = pool.shared(plan.chunks * total);  // per chunk: dW, then db
  std::vector<float> flipped(plan.direct && dx ? static_cast<std::size_t>(wsize) : 0);
  if (!flipped.empty()) direct::flip_weight(s, w.data, flipped.data());
  for_chunks(pool, plan, B, [&](std::int64_t c, const Chunk& ch) {
    const std::int64_t N = ch.n * hw;
    float* pw = partial + c * total;
    float* pb = pw + wsize;
    bias_grad(dy.data + ch.first * out, C, plane, out, ch.n, pb);
    if (plan.direct) {
      std::fill(pw, pw + wsize, 0.f);
      for (std::int64_t i = 0; i < ch.n; ++i)
        direct::weight_grad_add(s, x.data + (ch.first + i) * in, dy.data + (ch.first + i) * out, pw, ch.cols);
    } else {
      for (std::int64_t i = 0; i < ch.n; ++i) im2col(s, big + (ch.first + i) * big_row, ch.cols + i * hw * K);
      small_to_matrix(s, small_rows + ch.first * small_row, small_row, ch.n, ch.small);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(M), int(K), int(N), 1.f, ch.small, int(N), ch.cols,
                  int(K), 0.f, pw, int(K));  // this chunk's dW = small cols
    }
    if (!dx) return;
    float* dxc = dx->data + ch.first * in;
    if (plan.direct) {  // dx = the correlation of the padded dy with the flipped weight
      for (std::int64_t i = 0; i < ch.n; ++i)
        direct::input_grad(s, dy.data + (ch.first + i) * out, flipped.data(), dxc + i * in, ch.cols);
    } else if (s.transposed) {  // dx = down(dy): W times the unfolded dy
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), int(N), int(K), 1.f, w.data, int(K), ch.cols,
                  int(K), 0.f, ch.small, int(N));
      matrix_to_small(s, ch.small, ch.n, dxc, in);
    } else {  // dx = up(dy): W^T dy, folded into each image
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(N), int(K), int(M), 1.f, ch.small, int(N), w.data,
                  int(K), 0.f, ch.cols, int(K));
      for (std::int64_t i = 0; i < ch.n; ++i) col2im(s, ch.cols + i * hw * K, dxc + i * in);
    }
    with_activation(x_act, [&](auto a) { times_derivative<decltype(a)::value>(x.data + ch.first * in, dxc, ch.n * in); });
  });
  // The partial sums in chunk order (each element on its own: the same bits for any thread count).
  auto add_up = [&](std::int64_t first, std::int64_t n, float* dst) {
    for_chunks(pool, n, kChunkElements, [&](std::int64_t e0, std::int64_t e1) {
      if (plan.chunks == 0) return std::fill(dst + e0, dst + e1, 0.f);
      std::copy(partial + first + e0, partial + first + e1, dst + e0);
      for (std::int64_t c = 1; c < plan.chunks; ++c) {
        const float* p = partial + c * total + first;
        for (std::int64_t e = e0; e < e1; ++e) dst[e] += p[e];
      }
    });
  };
  add_up(0, wsize, dw.data);
  add_up(wsize, C, db.data);
}

}  // namespace cuvae::cpu::fast
