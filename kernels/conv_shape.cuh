// The geometry of a 2-D convolution layer, Conv2d or ConvTranspose2d (PyTorch's semantics, square
// or not, dilation 1), shared by the host (checks, the CPU ops) and the kernels.
//
// Both are one pair of images: the "big" one (a Conv2d's input, a ConvTranspose2d's output) and
// the "small" one (the other), with one weight W [small_c, big_c * kh * kw] (row-major; PyTorch's
// Conv2d [out, in, kh, kw] and ConvTranspose2d [in, out, kh, kw] are both this). Three passes:
//   down:  small[s, p] = sum_{c, i, j} W[s, c, i, j] big[c, p_y * sh - ph + i, p_x * sw - pw + j]
//   up:    the transpose of down (big from small): a Conv2d's dgrad, a ConvTranspose2d's forward
//   wgrad: dW[s, c, i, j] = sum_{batch, p} small[s, p] big[c, p_y * sh - ph + i, p_x * sw - pw + j]
// (big pixels outside the image are zero). Conv2d: forward = down(x), dx = up(dy), dW = wgrad(dy, x);
// ConvTranspose2d: forward = up(x), dx = down(dy), dW = wgrad(x, dy), as CUTLASS and cuDNN do.
#pragma once

#include <vector_types.h>  // __host__ __device__ (empty for a host compiler)

namespace cuvae {

struct ConvShape {
  int in_c = 1, in_h = 1, in_w = 1;  // the layer's input planes (a batch row holds in_c * in_h * in_w, NCHW)
  int out_c = 1;
  int kh = 1, kw = 1;
  int sh = 1, sw = 1;                // stride
  int ph = 0, pw = 0;                // padding
  int oph = 0, opw = 0;              // ConvTranspose2d's output_padding (0 for a Conv2d)
  bool transposed = false;           // ConvTranspose2d

  __host__ __device__ int out_h() const { return transposed ? (in_h - 1) * sh - 2 * ph + kh + oph : (in_h + 2 * ph - kh) / sh + 1; }
  __host__ __device__ int out_w() const { return transposed ? (in_w - 1) * sw - 2 * pw + kw + opw : (in_w + 2 * pw - kw) / sw + 1; }
  __host__ __device__ long long in_dim() const { return static_cast<long long>(in_c) * in_h * in_w; }
  __host__ __device__ long long out_dim() const { return static_cast<long long>(out_c) * out_h() * out_w(); }

  // The two images of the pair.
  __host__ __device__ int big_c() const { return transposed ? out_c : in_c; }
  __host__ __device__ int big_h() const { return transposed ? out_h() : in_h; }
  __host__ __device__ int big_w() const { return transposed ? out_w() : in_w; }
  __host__ __device__ int small_c() const { return transposed ? in_c : out_c; }
  __host__ __device__ int small_h() const { return transposed ? in_h : out_h(); }
  __host__ __device__ int small_w() const { return transposed ? in_w : out_w(); }
  // W's rows and columns: [small_c, big_c * kh * kw].
  __host__ __device__ long long weight_cols() const { return static_cast<long long>(big_c()) * kh * kw; }
};

}  // namespace cuvae
