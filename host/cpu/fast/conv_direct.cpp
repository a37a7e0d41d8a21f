// The direct CPU Conv2d path (conv_direct.hpp). The vectors are GCC's vector extension (8 floats,
// two SSE registers in the baseline build, one AVX2 register in the AVX2 clone); with
// -ffp-contract=off (host/CMakeLists.txt) both builds compute the same bits.
#include "host/cpu/fast/conv_direct.hpp"

#include <algorithm>
#include <cstring>

#include "host/cpu/fast/vecmath.hpp"  // CUVAE_VECTOR_CLONES

namespace cuvae::cpu::fast::direct {
namespace {

using v8 = float __attribute__((vector_size(32)));
constexpr int kLanes = 8;
constexpr int kTile = 2 * kLanes;  // output pixels per tile: two vectors a channel
constexpr int kSlack = kTile;      // zeros after the padded planes: a last tile's loads may run past its row
constexpr int kMaxBlock = 4;       // output channels per tile

// (Vectors go by reference: a function that takes or returns one by value has another ABI in the
// AVX2 clone, which GCC warns of.)
[[gnu::always_inline]] inline v8& load(v8& v, const float* p) {
  std::memcpy(&v, p, sizeof v);
  return v;
}

[[gnu::always_inline]] inline float lane_sum(const v8& v) {
  return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

// dst [C, Hp, Wp] (then kSlack zeros) = the planes src [C, H, W] at row `top`, column `left`, zeros around.
void pad(const float* src, int C, int H, int W, int top, int left, int Hp, int Wp, float* dst) {
  std::fill(dst, dst + static_cast<std::int64_t>(C) * Hp * Wp + kSlack, 0.f);
  for (int c = 0; c < C; ++c)
    for (int y = 0; y < H; ++y)
      std::copy_n(src + (static_cast<std::int64_t>(c) * H + y) * W, W,
                  dst + (static_cast<std::int64_t>(c) * Hp + top + y) * Wp + left);
}

// The planes one correlation reads: `in` [cin, hp, wp] padded, kernels kh x kw.
struct Padded {
  const float* in;
  int cin, hp, wp, kh, kw;
};

// out[o, y, x] = sum_{c, i, j} wt[o, c, i, j] in[c, y + i, x + j] for OB output channels (wt's
// rows cin * kh * kw apart), h x w output pixels, 16 at a time.
template <int OB>
CUVAE_VECTOR_CLONES void correlate_block(const Padded& p, const float* wt, float* out, int h, int w) {
  const std::int64_t taps = std::int64_t(p.cin) * p.kh * p.kw;
  for (int y = 0; y < h; ++y)
    for (int x0 = 0; x0 < w; x0 += kTile) {
      v8 acc[OB][2] = {};
      for (int c = 0; c < p.cin; ++c)
        for (int i = 0; i < p.kh; ++i) {
          const float* row = p.in + (static_cast<std::int64_t>(c) * p.hp + y + i) * p.wp + x0;
          const float* wr = wt + (c * p.kh + i) * p.kw;
          for (int j = 0; j < p.kw; ++j) {
            v8 r0, r1;
            load(r0, row + j), load(r1, row + j + kLanes);
            for (int o = 0; o < OB; ++o) {
              const float wv = wr[o * taps + j];
              acc[o][0] += r0 * wv;
              acc[o][1] += r1 * wv;
            }
          }
        }
      const int n = std::min(kTile, w - x0);
      for (int o = 0; o < OB; ++o) {
        float* dst = out + (static_cast<std::int64_t>(o) * h + y) * w + x0;
        float lanes[kTile];
        std::memcpy(lanes, acc[o], sizeof lanes);
        std::copy_n(lanes, n, dst);
      }
    }
}

// All `cout` output channels, in blocks of kMaxBlock.
void correlate(const Padded& p, const float* wt, int cout, float* out, int h, int w) {
  const std::int64_t taps = std::int64_t(p.cin) * p.kh * p.kw, plane = std::int64_t(h) * w;
  for (int o = 0; o < cout; o += kMaxBlock) {
    const float* wo = wt + o * taps;
    float* dst = out + o * plane;
    switch (std::min(kMaxBlock, cout - o)) {
      case 1: correlate_block<1>(p, wo, dst, h, w); break;
      case 2: correlate_block<2>(p, wo, dst, h, w); break;
      case 3: correlate_block<3>(p, wo, dst, h, w); break;
      default: correlate_block<4>(p, wo, dst, h, w); break;
    }
  }
}

// dw[o, c, i, j] += sum_{y, x} dy[o, y, x] x[c, y + i, x + j] (x padded) for OB = out_c channels.
template <int OB>
CUVAE_VECTOR_CLONES void weight_grad_block(const Padded& p, const float* dy, int h, int w, float* dw) {
  const std::int64_t plane = std::int64_t(h) * w;
  for (int c = 0; c < p.cin; ++c)
    for (int i = 0; i < p.kh; ++i)
      for (int j = 0; j < p.kw; ++j) {
        v8 acc[OB] = {};
        float tail[OB] = {};
        for (int y = 0; y < h; ++y) {
          const float* xr = p.in + (static_cast<std::int64_t>(c) * p.hp + y + i) * p.wp + j;
          const float* dr = dy + static_cast<std::int64_t>(y) * w;
          int x = 0;
          for (; x + kLanes <= w; x += kLanes) {
            v8 xv, dv;
            load(xv, xr + x);
            for (int o = 0; o < OB; ++o) acc[o] += load(dv, dr + o * plane + x) * xv;
          }
          for (; x < w; ++x)
            for (int o = 0; o < OB; ++o) tail[o] += dr[o * plane + x] * xr[x];
        }
        for (int o = 0; o < OB; ++o) dw[((o * p.cin + c) * p.kh + i) * p.kw + j] += lane_sum(acc[o]) + tail[o];
      }
}

}  // namespace

bool fits(const ConvShape& s) {
  return !s.transposed && s.sh == 1 && s.sw == 1 && s.out_c <= kMaxBlock && s.ph < s.kh && s.pw < s.kw;
}

std::int64_t scratch(const ConvShape& s) {
  // The input padded by (ph, pw), or the output gradient by (kh - 1 - ph, kw - 1 - pw).
  const std::int64_t x = std::int64_t(s.in_c) * (s.in_h + 2 * s.ph) * (s.in_w + 2 * s.pw);
  const std::int64_t dy = std::int64_t(s.out_c) * (s.out_h() + 2 * (s.kh - 1 - s.ph)) * (s.out_w() + 2 * (s.kw - 1 - s.pw));
  return std::max(x, dy) + kSlack;
}

void forward(const ConvShape& s, const float* x, const float* w, float* y, float* scratch) {
  const Padded p{scratch, s.in_c, s.in_h + 2 * s.ph, s.in_w + 2 * s.pw, s.kh, s.kw};
  pad(x, s.in_c, s.in_h, s.in_w, s.ph, s.pw, p.hp, p.wp, scratch);
  correlate(p, w, s.out_c, y, s.out_h(), s.out_w());
}

void flip_weight(const ConvShape& s, const float* w, float* flipped) {
  for (int o = 0; o < s.out_c; ++o)
    for (int c = 0; c < s.in_c; ++c)
      for (int i = 0; i < s.kh; ++i)
        for (int j = 0; j < s.kw; ++j)
          flipped[((c * s.out_c + o) * s.kh + (s.kh - 1 - i)) * s.kw + (s.kw - 1 - j)] =
              w[((o * s.in_c + c) * s.kh + i) * s.kw + j];
}

void input_grad(const ConvShape& s, const float* dy, const float* flipped, float* dx, float* scratch) {
  const int qh = s.kh - 1 - s.ph, qw = s.kw - 1 - s.pw, h = s.out_h(), w = s.out_w();
  const Padded p{scratch, s.out_c, h + 2 * qh, w + 2 * qw, s.kh, s.kw};
  pad(dy, s.out_c, h, w, qh, qw, p.hp, p.wp, scratch);
  correlate(p, flipped, s.in_c, dx, s.in_h, s.in_w);
}

void weight_grad_add(const ConvShape& s, const float* x, const float* dy, float* dw, float* scratch) {
  const Padded p{scratch, s.in_c, s.in_h + 2 * s.ph, s.in_w + 2 * s.pw, s.kh, s.kw};
  pad(x, s.in_c, s.in_h, s.in_w, s.ph, s.pw, p.hp, p.wp, scratch);
  const int h = s.out_h(), w = s.out_w();
  switch (s.out_c) {
    case 1: return weight_grad_block<1>(p, dy, h, w, dw);
    case 2: return weight_grad_block<2>(p, dy, h, w, dw);
    case 3: return weight_grad_block<3>(p, dy, h, w, dw);
    default: return weight_grad_block<4>(p, dy, h, w, dw);
  }
}

}  // namespace cuvae::cpu::fast::direct
