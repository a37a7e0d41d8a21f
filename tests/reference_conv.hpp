// Conv2d and ConvTranspose2d by their definitions in plain double loops (PyTorch's semantics), the
// oracle of every conv backend's tests, and the table of geometries they run.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "host/backend.hpp"

namespace cuvae::test {

inline double act_ref(Activation a, double v) {
  if (a == Activation::relu) return v > 0 ? v : 0;
  if (a == Activation::sigmoid) return 1 / (1 + std::exp(-v));
  if (a == Activation::leaky_relu) return v > 0 ? v : double(kLeakyReluSlope) * v;
  return v;
}
inline double act_derivative_from_output(Activation a, double y) {
  if (a == Activation::relu) return y > 0 ? 1 : 0;
  if (a == Activation::sigmoid) return y * (1 - y);
  if (a == Activation::leaky_relu) return y > 0 ? 1 : double(kLeakyReluSlope);
  return 1;
}

// Visits every (big pixel, small pixel, weight) triple the convolution pairs: f(big index, small
// index, weight index), indices into one image of each and into W [small_c, big_c, kh, kw].
template <class F>
void conv_pairs(const ConvShape& s, F&& f) {
  const int H = s.big_h(), W = s.big_w(), h = s.small_h(), w = s.small_w();
  for (int o = 0; o < s.small_c(); ++o)
    for (int py = 0; py < h; ++py)
      for (int px = 0; px < w; ++px)
        for (int c = 0; c < s.big_c(); ++c)
          for (int i = 0; i < s.kh; ++i)
            for (int j = 0; j < s.kw; ++j) {
              const int y = py * s.sh - s.ph + i, x = px * s.sw - s.pw + j;
              if (y < 0 || y >= H || x < 0 || x >= W) continue;
              f((static_cast<long long>(c) * H + y) * W + x, (static_cast<long long>(o) * h + py) * w + px,
                ((static_cast<long long>(o) * s.big_c() + c) * s.kh + i) * s.kw + j);
            }
}

// y = act(conv(x, w) + b) for B images (x [B, in_dim], y [B, out_dim]).
inline std::vector<double> conv_forward_ref(const ConvShape& s, int B, const std::vector<float>& x,
                                            const std::vector<float>& w, const std::vector<float>& b, Activation act) {
  const long long in = s.in_dim(), out = s.out_dim(), plane = out / s.out_c;
  std::vector<double> y(static_cast<std::size_t>(B * out), 0.0);
  for (int r = 0; r < B; ++r) {
    double* yi = y.data() + r * out;
    const float* xi = x.data() + r * in;
    conv_pairs(s, [&](long long big, long long small, long long k) {
      if (s.transposed) yi[big] += double(xi[small]) * w[static_cast<std::size_t>(k)];
      else yi[small] += double(xi[big]) * w[static_cast<std::size_t>(k)];
    });
    for (long long p = 0; p < out; ++p) yi[p] = act_ref(act, yi[p] + b[static_cast<std::size_t>(p / plane)]);
  }
  return y;
}

struct ConvGrads {
  std::vector<double> dx, dw, db;
};
// The gradients given dy (w.r.t. the pre-activation output); dx times act'(x) as the op gives it.
inline ConvGrads conv_backward_ref(const ConvShape& s, int B, const std::vector<float>& x, Activation x_act,
                                   const std::vector<float>& w, const std::vector<float>& dy) {
  const long long in = s.in_dim(), out = s.out_dim(), plane = out / s.out_c;
  ConvGrads g{std::vector<double>(x.size(), 0.0), std::vector<double>(w.size(), 0.0),
              std::vector<double>(static_cast<std::size_t>(s.out_c), 0.0)};
  for (int r = 0; r < B; ++r) {
    const float* xi = x.data() + r * in;
    const float* dyi = dy.data() + r * out;
    double* dxi = g.dx.data() + r * in;
    conv_pairs(s, [&](long long big, long long small, long long k) {
      const std::size_t ks = static_cast<std::size_t>(k);
      if (s.transposed) {  // y[big] += x[small] w
        dxi[small] += double(dyi[big]) * w[ks];
        g.dw[ks] += double(dyi[big]) * xi[small];
      } else {  // y[small] += x[big] w
        dxi[big] += double(dyi[small]) * w[ks];
        g.dw[ks] += double(dyi[small]) * xi[big];
      }
    });
    for (long long p = 0; p < out; ++p) g.db[static_cast<std::size_t>(p / plane)] += dyi[p];
    for (long long k = 0; k < in; ++k) dxi[k] *= act_derivative_from_output(x_act, xi[k]);
  }
  return g;
}

struct ConvCase {
  const char* name;
  ConvShape s;
  int batch;
};

// Odd sizes: strides 1 and 2, padding 0-2, kernels 1, 3, 4, 5, output_padding, channel counts that
// are no tile's multiple, batch 1, non-square images and kernels; the conv and conv64 models' layers.
inline std::vector<ConvCase> conv_cases() {
  auto conv = [](int c, int h, int w, int o, int k, int st, int p) {
    ConvShape s;
    s.in_c = c, s.in_h = h, s.in_w = w, s.out_c = o, s.kh = s.kw = k, s.sh = s.sw = st, s.ph = s.pw = p;
    return s;
  };
  auto tconv = [&](int c, int h, int w, int o, int k, int st, int p, int op) {
    ConvShape s = conv(c, h, w, o, k, st, p);
    s.transposed = true, s.oph = s.opw = op;
    return s;
  };
  ConvShape rect = conv(3, 9, 6, 5, 3, 1, 1);
  rect.kh = 2, rect.kw = 3, rect.sh = 2, rect.sw = 1, rect.ph = 0, rect.pw = 2;
  // Few output channels at stride 1: the CPU's direct path (host/cpu/fast/conv_direct.hpp), one
  // and two tiles of 16 pixels and a tail, a non-square kernel.
  ConvShape few_rect = conv(3, 6, 21, 2, 3, 1, 1);
  few_rect.kh = 2, few_rect.kw = 4, few_rect.ph = 1, few_rect.pw = 2;
  return {
      {"k1_s1_p0", conv(3, 5, 7, 4, 1, 1, 0), 2},
      {"k3_s1_p1", conv(5, 9, 9, 7, 3, 1, 1), 3},
      {"k3_s2_p1", conv(3, 10, 11, 6, 3, 2, 1), 2},
      {"k4_s2_p1_mnist", conv(1, 28, 28, 32, 4, 2, 1), 2},
      {"k5_s2_p2_batch1", conv(2, 13, 8, 3, 5, 2, 2), 1},
      {"k5_s1_p0", conv(4, 7, 9, 33, 5, 1, 0), 2},
      {"rect_k2x3_s2x1_p0x2", rect, 2},
      {"t_k4_s2_p1_mnist", tconv(64, 7, 7, 32, 4, 2, 1, 0), 2},
      {"t_k3_s2_p1_op1", tconv(5, 4, 6, 3, 3, 2, 1, 1), 3},
      {"t_k3_s1_p1", tconv(6, 5, 5, 7, 3, 1, 1, 0), 1},
      {"t_k5_s2_p2_op1", tconv(3, 3, 5, 4, 5, 2, 2, 1), 2},
      {"t_k1_s1_p0", tconv(7, 3, 4, 5, 1, 1, 0, 0), 2},
      {"k3_s1_p1_out3_wide", conv(6, 5, 37, 3, 3, 1, 1), 2},
      {"k5_s1_p2_out1", conv(2, 7, 9, 1, 5, 1, 2), 3},
      {"rect_k2x4_s1_p1x2_out2", few_rect, 2},
  };
}

}  // namespace cuvae::test
