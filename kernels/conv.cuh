// kernels/conv.cuh: Conv2d / ConvTranspose2d as implicit GEMMs (kernels/conv_shape.cuh's three
// passes), with the epilogues of kernels/gemm.cuh fused. Pure device code; launcher:
// host/cuda/conv.cu; tests: tests/test_conv_kernels.cpp.
//
// No im2col buffer: the operand loaders gather the convolution window straight from the NCHW
// images while staging a tile into shared memory. Per block, one GEMM C[M,N] = sum_k A(m,k) B(k,n):
//   down   small[b,s,p] = sum_k W[s,k] win(big_b)[k,p]   M = small_c, N = B*small_hw, K = big_c*kh*kw
//   up     big[b,c,q]   = sum_(s,i,j) W[s,c,i,j] small[b,s,p(q,i,j)]            M = big_c, N, K below
//   wgrad  dW[s,k]      = sum_(b,p) small[b,s,p] win(big_b)[k,p]   M = small_c, N = big_c*kh*kw, K = B*small_hw
// up is output-stationary (each big pixel written once, no atomics) and split by stride phase:
// blockIdx.z = (ry, rx) takes the big pixels with q_y % sh == ry, q_x % sw == rx, for which only
// the taps i = i0 + t*sh (i0 = (ry + ph) % sh) divide, so K = small_c * ceil((kh - i0)/sh) * ...
// and the small pixel is p_y = q_y/sh + (ry + ph - i0)/sh - t: a stride-1 correlation, with none
// of the (1 - 1/(sh*sw)) zero taps a plain gather over K = small_c*kh*kw would multiply.
// wgrad splits K over blockIdx.z in fixed chunks; with more than one split each writes its
// partial dW to a workspace slot and sum_splits adds the slots in split order (no atomics).
//
// Kernels (the launcher picks the tile from M; FP32 results do not depend on the tile, since each
// output sums its k in order within a split):
//   conv_tiled<Pass, BM, BN, 8, TM, TN>  FP32, 256 threads, TM x TN register micro-tile:
//                                        64x64 (4x4), 32x128 (4x4), 16x128 (2x4), 4x256 (1x4)
//   conv_wmma<Pass, BM, BN, WM, WN, P>   TF32 16x16x8 / BF16 16x16x16 wmma, FP32 accumulation,
//                                        128 threads, 16-deep stages: 64x64, 32x128, 16x128
// Both double-buffer the shared tiles with register prefetch (one barrier per k-step), as
// gemm_tiled does. Index math: divisions by run-time sizes go through FastDiv (multiply-high and
// shift); each thread decomposes its pixel columns once and one k per row and k-step.
#pragma once
#include "kernels/conv_shape.cuh"
#include "kernels/epilogue.cuh"  // activate, derivative_from_output, the epilogue kinds, Fp32/Tf32/Bf16
#include "kernels/portable.cuh"

#include <type_traits>

namespace cuvae::kernels::conv {
inline namespace CUVAE_BUILD {  // GPU and SIMT builds apart (kernels/portable.cuh)

using gemm::kBiasAct;
using gemm::kDAct;
using gemm::kStore;

// n / d for 0 <= n < 2^31 by a multiply-high and a shift (Granlund-Montgomery, as CUTLASS's
// FastDivmod): s = ceil(log2 d), m = 2^32 (2^s - d) / d + 1, n / d = (umulhi(n, m) + n) >> s.
struct FastDiv {
  unsigned d = 1, m = 1, s = 0;
  FastDiv() = default;
  __host__ __device__ explicit FastDiv(int divisor) : d(static_cast<unsigned>(divisor < 1 ? 1 : divisor)) {
    while ((1ull << s) < d) ++s;
    m = static_cast<unsigned>(((1ull << 32) * ((1ull << s) - d)) / d + 1);
  }
  __host__ __device__ __forceinline__ int div(int n) const {
    const unsigned hi = static_cast<unsigned>((static_cast<unsigned long long>(static_cast<unsigned>(n)) * m) >> 32);
    return static_cast<int>((hi + static_cast<unsigned>(n)) >> s);
  }
};

// What every pass needs; offsets are int (the launcher checks that batch * image and the
// partials fit).
struct ConvParams {
  int batch;
  int C, H, W;   // the big image
  int S, h, w;   // the small image
  int kh, kw, sh, sw, ph, pw;
  int Kw;        // C * kh * kw: W's row length
  FastDiv div_hw, div_w, div_khkw, div_kw;  // small h*w, small w, kh*kw, kw
  const float* weight;  // [S, Kw]
  const float* big;     // down: the input; wgrad: operand B
  const float* small;   // up: the input; wgrad: operand A
  float* out;           // down: small-shaped, up: big-shaped, wgrad: dW [S, Kw] or the partials [splits][S][Kw]
  int epilogue, act;    // gemm::EpilogueKind, gemm::ActKind
  const float* bias;    // [out channels] (kBiasAct)
  const float* aux;     // shaped as out, post-activation (kDAct)
  int k_per_split;      // wgrad: K of one blockIdx.z (a multiple of 16)
};

// A "far" coordinate for rows and columns outside the problem: any sum with a real coordinate
// stays far outside the image (and inside int), so the bounds test rejects it with no extra flag.
constexpr int kFar = 1 << 29;

__device__ __forceinline__ bool inside(int y, int x, int H, int W) {
  return static_cast<unsigned>(y) < static_cast<unsigned>(H) && static_cast<unsigned>(x) < static_cast<unsigned>(W);
}

// One block's GEMM: extents, its K range, and (up) its stride phase.
struct Block {
  int M, N, K, k_begin, k_end;
  int ry = 0, rx = 0, i0 = 0, j0 = 0, dy0 = 0, dx0 = 0;  // up
  FastDiv div_taps, div_nkw, div_plane, div_wx;         // up: nkh*nkw, nkw, Hy*Wx, Wx
};

// ---- the three passes -----------------------------------------------------------------------
// Each gives: block(p); A(m, k) = a_base[a_offset(k) + m * a_mstride] (a_offset < 0: zero);
// B(k, n) = b_value(KRow from k, NCol from n); the output at out_col(n) + m * out_mstride
// (out_col < 0: no column), where m is the channel of the bias.

// down: A = W [S, Kw]; B(k = (c,i,j), n = (b,py,px)) = big[b, c, py*sh - ph + i, px*sw - pw + j].
struct Down {
  struct KRow { int off, i, j; };
  struct NCol { int off, oy, ox; };
  __device__ static Block block(const ConvParams& p) {
    Block b;
    b.M = p.S, b.N = p.batch * p.h * p.w, b.K = p.Kw, b.k_begin = 0, b.k_end = b.K;
    return b;
  }
  __device__ static const float* a_base(const ConvParams& p) { return p.weight; }
  __device__ static int a_mstride(const ConvParams& p) { return p.Kw; }
  __device__ static int a_offset(const ConvParams&, const Block& b, int k) { return k < b.k_end ? k : -1; }
  __device__ static KRow krow(const ConvParams& p, const Block& b, int k) {
    if (k >= b.k_end) return {0, -kFar, -kFar};
    const int c = p.div_khkw.div(k), r = k - c * p.kh * p.kw, i = p.div_kw.div(r), j = r - i * p.kw;
    return {(c * p.H + i) * p.W + j, i, j};
  }
  __device__ static NCol ncol(const ConvParams& p, const Block& b, int n) {
    if (n >= b.N) return {0, -kFar, -kFar};
    const int bi = p.div_hw.div(n), q = n - bi * p.h * p.w, py = p.div_w.div(q), px = q - py * p.w;
    const int oy = py * p.sh - p.ph, ox = px * p.sw - p.pw;
    return {(bi * p.C * p.H + oy) * p.W + ox, oy, ox};
  }
  __device__ static float b_value(const ConvParams& p, const KRow& k, const NCol& n) {
    return inside(n.oy + k.i, n.ox + k.j, p.H, p.W) ? p.big[n.off + k.off] : 0.f;
  }
  __device__ static int out_mstride(const ConvParams& p) { return p.h * p.w; }
  __device__ static int out_col(const ConvParams& p, const Block& b, int n) {
    if (n >= b.N) return -1;
    const int bi = p.div_hw.div(n);
    return bi * p.S * p.h * p.w + (n - bi * p.h * p.w);
  }
};

// up, phase (ry, rx) = blockIdx.z: A(c, k = (s,ti,tj)) = W[s, c, i0 + ti*sh, j0 + tj*sw];
// B(k, n = (b, qy, qx)) = small[b, s, qy + dy0 - ti, qx + dx0 - tj] for big pixel
// (ry + qy*sh, rx + qx*sw).
struct Up {
  struct KRow { int off, ti, tj; };
  struct NCol { int off, yy, xx; };
  __device__ static Block block(const ConvParams& p) {
    Block b;
    b.ry = static_cast<int>(blockIdx.z) / p.sw, b.rx = static_cast<int>(blockIdx.z) % p.sw;
    b.i0 = (b.ry + p.ph) % p.sh, b.j0 = (b.rx + p.pw) % p.sw;
    const int nkh = b.i0 < p.kh ? (p.kh - b.i0 + p.sh - 1) / p.sh : 0;
    const int nkw = b.j0 < p.kw ? (p.kw - b.j0 + p.sw - 1) / p.sw : 0;
    b.dy0 = (b.ry + p.ph - b.i0) / p.sh, b.dx0 = (b.rx + p.pw - b.j0) / p.sw;
    const int hy = b.ry < p.H ? (p.H - b.ry + p.sh - 1) / p.sh : 0;
    const int wx = b.rx < p.W ? (p.W - b.rx + p.sw - 1) / p.sw : 0;
    b.M = p.C, b.N = p.batch * hy * wx, b.K = p.S * nkh * nkw, b.k_begin = 0, b.k_end = b.K;
    b.div_taps = FastDiv(nkh * nkw), b.div_nkw = FastDiv(nkw), b.div_plane = FastDiv(hy * wx), b.div_wx = FastDiv(wx);
    return b;
  }
  // k = (s, ti, tj) of this phase.
  __device__ static void taps(const Block& b, int k, int& s, int& ti, int& tj) {
    const int n_taps = static_cast<int>(b.div_taps.d), nkw = static_cast<int>(b.div_nkw.d);
    s = b.div_taps.div(k);
    const int r = k - s * n_taps;
    ti = b.div_nkw.div(r), tj = r - ti * nkw;
  }
  __device__ static const float* a_base(const ConvParams& p) { return p.weight; }
  __device__ static int a_mstride(const ConvParams& p) { return p.kh * p.kw; }
  __device__ static int a_offset(const ConvParams& p, const Block& b, int k) {
    if (k >= b.k_end) return -1;
    int s, ti, tj;
    taps(b, k, s, ti, tj);
    return s * p.Kw + (b.i0 + ti * p.sh) * p.kw + b.j0 + tj * p.sw;
  }
  __device__ static KRow krow(const ConvParams& p, const Block& b, int k) {
    if (k >= b.k_end) return {0, kFar, kFar};
    int s, ti, tj;
    taps(b, k, s, ti, tj);
    return {(s * p.h - ti) * p.w - tj, ti, tj};
  }
  __device__ static NCol ncol(const ConvParams& p, const Block& b, int n) {
    if (n >= b.N) return {0, -kFar, -kFar};
    const int wx = static_cast<int>(b.div_wx.d);
    const int bi = b.div_plane.div(n), q = n - bi * static_cast<int>(b.div_plane.d), qy = b.div_wx.div(q), qx = q - qy * wx;
    const int yy = qy + b.dy0, xx = qx + b.dx0;
    return {(bi * p.S * p.h + yy) * p.w + xx, yy, xx};
  }
  __device__ static float b_value(const ConvParams& p, const KRow& k, const NCol& n) {
    return inside(n.yy - k.ti, n.xx - k.tj, p.h, p.w) ? p.small[n.off + k.off] : 0.f;
  }
  __device__ static int out_mstride(const ConvParams& p) { return p.H * p.W; }
  __device__ static int out_col(const ConvParams& p, const Block& b, int n) {
    if (n >= b.N) return -1;
    const int wx = static_cast<int>(b.div_wx.d);
    const int bi = b.div_plane.div(n), q = n - bi * static_cast<int>(b.div_plane.d), qy = b.div_wx.div(q), qx = q - qy * wx;
    return (bi * p.C * p.H + b.ry + qy * p.sh) * p.W + b.rx + qx * p.sw;
  }
};

// wgrad, split blockIdx.z: A(s, k = (b,py,px)) = small[b, s, py, px];
// B(k, n = (c,i,j)) = big[b, c, py*sh - ph + i, px*sw - pw + j].
struct Wgrad {
  struct KRow { int off, y0, x0; };
  struct NCol { int off, yi, xj; };
  __device__ static Block block(const ConvParams& p) {
    Block b;
    b.M = p.S, b.N = p.Kw, b.K = p.batch * p.h * p.w;
    b.k_begin = static_cast<int>(blockIdx.z) * p.k_per_split;
    b.k_end = b.K - b.k_begin < p.k_per_split ? b.K : b.k_begin + p.k_per_split;
    return b;
  }
  __device__ static const float* a_base(const ConvParams& p) { return p.small; }
  __device__ static int a_mstride(const ConvParams& p) { return p.h * p.w; }
  __device__ static int a_offset(const ConvParams& p, const Block& b, int k) {
    if (k >= b.k_end) return -1;
    const int bi = p.div_hw.div(k);
    return bi * p.S * p.h * p.w + (k - bi * p.h * p.w);
  }
  __device__ static KRow krow(const ConvParams& p, const Block& b, int k) {
    if (k >= b.k_end) return {0, -kFar, -kFar};
    const int bi = p.div_hw.div(k), q = k - bi * p.h * p.w, py = p.div_w.div(q), px = q - py * p.w;
    const int y0 = py * p.sh, x0 = px * p.sw;
    return {(bi * p.C * p.H + y0) * p.W + x0, y0, x0};
  }
  __device__ static NCol ncol(const ConvParams& p, const Block& b, int n) {
    if (n >= b.N) return {0, -kFar, -kFar};
    const int c = p.div_khkw.div(n), r = n - c * p.kh * p.kw, i = p.div_kw.div(r), j = r - i * p.kw;
    const int yi = i - p.ph, xj = j - p.pw;
    return {(c * p.H + yi) * p.W + xj, yi, xj};
  }
  __device__ static float b_value(const ConvParams& p, const KRow& k, const NCol& n) {
    return inside(k.y0 + n.yi, k.x0 + n.xj, p.H, p.W) ? p.big[k.off + n.off] : 0.f;
  }
  __device__ static int out_mstride(const ConvParams& p) { return p.Kw; }
  __device__ static int out_col(const ConvParams& p, const Block& b, int n) {
    if (n >= b.N) return -1;
    return static_cast<int>(blockIdx.z) * p.S * p.Kw + n;  // slot z of the partials (z = 0: dW itself)
  }
};

// ---- staging: global (gathered) -> registers -> shared memory -------------------------------
// A tile BM x BK: thread t loads k = k0 + t % BK (consecutive threads on consecutive k, which is
// the contiguous direction of W's rows and of the small image's pixels) for rows t / BK + q*T/BK.
// B tile BK x BN: warp w loads k rows w, w + T/32, ...; lane l columns l, l + 32, ... (a warp
// reads 32 consecutive pixels, or taps). Column state (the pixel's decomposition) is computed
// once; each k row is decomposed once per k-step.
template <class Pass, int BM, int BN, int BK, int T>
struct Stage {
  static constexpr int kWarps = T / 32, kAStep = T / BK;
  static constexpr int kAItems = (BM + kAStep - 1) / kAStep;
  static constexpr int kBRows = BK / kWarps, kBCols = BN / 32;
  static_assert(T % 32 == 0 && T % BK == 0 && BK % kWarps == 0 && BN % 32 == 0, "whole warps per row");
  float a[kAItems] = {}, b[kBRows][kBCols] = {};
  typename Pass::NCol col[kBCols];

  __device__ __forceinline__ static int a_row(int q) { return static_cast<int>(threadIdx.x) / BK + q * kAStep; }

  __device__ void init(const ConvParams& p, const Block& blk, int n0) {
    const int lane = static_cast<int>(threadIdx.x) % 32;
#pragma unroll
    for (int c = 0; c < kBCols; ++c) col[c] = Pass::ncol(p, blk, n0 + lane + 32 * c);
  }

  __device__ void load(const ConvParams& p, const Block& blk, int m0, int k0) {
    const int ka = k0 + static_cast<int>(threadIdx.x) % BK;
    const int off = Pass::a_offset(p, blk, ka), mstride = Pass::a_mstride(p);
    const float* base = Pass::a_base(p);
#pragma unroll
    for (int q = 0; q < kAItems; ++q) {
      const int m = m0 + a_row(q);
      a[q] = off >= 0 && a_row(q) < BM && m < blk.M ? base[off + m * mstride] : 0.f;
    }
    const int warp = static_cast<int>(threadIdx.x) / 32;
#pragma unroll
    for (int r = 0; r < kBRows; ++r) {
      const typename Pass::KRow row = Pass::krow(p, blk, k0 + warp + r * kWarps);
#pragma unroll
      for (int c = 0; c < kBCols; ++c) b[r][c] = Pass::b_value(p, row, col[c]);
    }
  }

  // As[k * LDA + m], Bs[k * LDB + n], converted by the policy P (gemm::Fp32, Tf32, Bf16).
  template <class P, int LDA, int LDB>
  __device__ void store(typename P::Smem* As, typename P::Smem* Bs) const {
    const int ka = static_cast<int>(threadIdx.x) % BK;
#pragma unroll
    for (int q = 0; q < kAItems; ++q)
      if (a_row(q) < BM) As[ka * LDA + a_row(q)] = P::convert(a[q]);
    const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
#pragma unroll
    for (int r = 0; r < kBRows; ++r)
#pragma unroll
      for (int c = 0; c < kBCols; ++c) Bs[(warp + r * kWarps) * LDB + lane + 32 * c] = P::convert(b[r][c]);
  }
};

// The fused epilogue of one output element at index `i` of p.out, channel m.
__device__ __forceinline__ float epilogue_value(const ConvParams& p, int m, int i, float v) {
  if (p.epilogue == kBiasAct) return gemm::activate(p.act, v + p.bias[m]);
  if (p.epilogue == kDAct) return v * gemm::derivative_from_output(p.act, p.aux[i]);
  return v;
}

// ---- FP32: register micro-tiles -------------------------------------------------------------
template <class Pass, int BM, int BN, int BK, int TM, int TN>
__global__ void __launch_bounds__((BM / TM) * (BN / TN)) conv_tiled(ConvParams p) {
  constexpr int T = (BM / TM) * (BN / TN);
  constexpr int LDA = BM + 4, LDB = BN + 4;  // +4: the k-major stores of A hit distinct banks
  static_assert(TN % 4 == 0 && LDA % 4 == 0, "B rows are read as float4");
  __shared__ __align__(16) float As[2][BK * LDA];
  __shared__ __align__(16) float Bs[2][BK * LDB];

  const Block blk = Pass::block(p);
  const int m0 = static_cast<int>(blockIdx.y) * BM, n0 = static_cast<int>(blockIdx.x) * BN;
  if (n0 >= blk.N) return;  // up: a phase with fewer pixels than the grid (uniform per block)
  const int tx = static_cast<int>(threadIdx.x) % (BN / TN), ty = static_cast<int>(threadIdx.x) / (BN / TN);

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;

  Stage<Pass, BM, BN, BK, T> st;
  st.init(p, blk, n0);
  st.load(p, blk, m0, blk.k_begin);
  st.template store<gemm::Fp32, LDA, LDB>(As[0], Bs[0]);
  __syncthreads();

  int buf = 0;
  for (int k0 = blk.k_begin; k0 < blk.k_end; k0 += BK) {
    const bool more = k0 + BK < blk.k_end;  // uniform across the block
    if (more) st.load(p, blk, m0, k0 + BK);  // in flight while this k-step is multiplied
    const float* as = As[buf];
    const float* bs = Bs[buf];
    gemm::multiply_tile<BK, TM, TN, LDA, LDB>(as, bs, ty, tx, acc);
    if (more) st.template store<gemm::Fp32, LDA, LDB>(As[buf ^ 1], Bs[buf ^ 1]);  // read last in k-step i-1
    __syncthreads();
    buf ^= 1;
  }

  const int mstride = Pass::out_mstride(p);
#pragma unroll
  for (int j = 0; j < TN; ++j) {
    const int col = Pass::out_col(p, blk, n0 + tx * TN + j);
    if (col < 0) continue;
#pragma unroll
    for (int i = 0; i < TM; ++i) {
      const int m = m0 + ty * TM + i;
      if (m < blk.M) p.out[col + m * mstride] = epilogue_value(p, m, col + m * mstride, acc[i][j]);
    }
  }
}

// ---- TF32 / BF16: nvcuda::wmma ---------------------------------------------------------------
// As[k][m] is matrix_a col_major, Bs[k][n] matrix_b row_major (ldm = the padded row). The
// accumulators pass through a per-warp scratch tile for the epilogue, as in gemm_wmma.
template <class Prec>
__host__ __device__ constexpr int conv_wmma_bytes(int rows, int BK) {
  return (BK * (rows + Prec::kPad) * static_cast<int>(sizeof(typename Prec::Smem)) + 127) / 128 * 128;
}

template <class Pass, int BM, int BN, int WM, int WN, class Prec>
__global__ void __launch_bounds__(32 * (BM / WM) * (BN / WN)) conv_wmma(ConvParams p) {
  namespace wmma = nvcuda::wmma;
  using Smem = typename Prec::Smem;
  constexpr int BK = 16, FK = Prec::kK, kWarpsN = BN / WN, T = 32 * (BM / WM) * kWarpsN;
  constexpr int FM = WM / 16, FN = WN / 16;
  constexpr int LDA = BM + Prec::kPad, LDB = BN + Prec::kPad, LDS = 16 + 4;
  constexpr int kABytes = conv_wmma_bytes<Prec>(BM, BK), kStageBytes = kABytes + conv_wmma_bytes<Prec>(BN, BK);
  constexpr int kScratchBytes = (T / 32) * 16 * LDS * static_cast<int>(sizeof(float));
  constexpr int kSmemBytes = 2 * kStageBytes > kScratchBytes ? 2 * kStageBytes : kScratchBytes;
  static_assert((FK * LDA * sizeof(Smem)) % 32 == 0 && (FK * LDB * sizeof(Smem)) % 32 == 0, "32-byte fragments");
  // Raw bytes: a __shared__ array of bf16 gets a g++ init guard in the SIMT build (kernels/README.md).
  __shared__ __align__(128) unsigned char smem[kSmemBytes];
  const auto As = [&](int buf) { return reinterpret_cast<Smem*>(smem + buf * kStageBytes); };
  const auto Bs = [&](int buf) { return reinterpret_cast<Smem*>(smem + buf * kStageBytes + kABytes); };

  const Block blk = Pass::block(p);
  const int m0 = static_cast<int>(blockIdx.y) * BM, n0 = static_cast<int>(blockIdx.x) * BN;
  if (n0 >= blk.N) return;
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int wm = warp / kWarpsN, wn = warp % kWarpsN;

  wmma::fragment<wmma::accumulator, 16, 16, FK, float> acc[FM][FN];
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) wmma::fill_fragment(acc[i][j], 0.f);

  Stage<Pass, BM, BN, BK, T> st;
  st.init(p, blk, n0);
  st.load(p, blk, m0, blk.k_begin);
  st.template store<Prec, LDA, LDB>(As(0), Bs(0));
  __syncthreads();

  int buf = 0;
  for (int k0 = blk.k_begin; k0 < blk.k_end; k0 += BK) {
    const bool more = k0 + BK < blk.k_end;
    if (more) st.load(p, blk, m0, k0 + BK);
    const Smem* as = As(buf);
    const Smem* bs = Bs(buf);
#pragma unroll
    for (int kk = 0; kk < BK; kk += FK) {
      wmma::fragment<wmma::matrix_a, 16, 16, FK, typename Prec::Frag, wmma::col_major> fa[FM];
      wmma::fragment<wmma::matrix_b, 16, 16, FK, typename Prec::Frag, wmma::row_major> fb[FN];
#pragma unroll
      for (int i = 0; i < FM; ++i) wmma::load_matrix_sync(fa[i], as + kk * LDA + wm * WM + i * 16, LDA);
#pragma unroll
      for (int j = 0; j < FN; ++j) wmma::load_matrix_sync(fb[j], bs + kk * LDB + wn * WN + j * 16, LDB);
#pragma unroll
      for (int i = 0; i < FM; ++i)
#pragma unroll
        for (int j = 0; j < FN; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
    if (more) st.template store<Prec, LDA, LDB>(As(buf ^ 1), Bs(buf ^ 1));
    __syncthreads();
    buf ^= 1;
  }

  // The stages are free: every thread is past the last barrier.
  float* mine = reinterpret_cast<float*>(smem) + warp * 16 * LDS;
  const int mstride = Pass::out_mstride(p);
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) {
      wmma::store_matrix_sync(mine, acc[i][j], LDS, wmma::mem_row_major);
      __syncwarp();
      // Lane l: column l % 16 of the fragment, rows l / 16, + 2, ...: one column decomposition.
      const int c = lane % 16, col = Pass::out_col(p, blk, n0 + wn * WN + j * 16 + c);
      if (col >= 0)
        for (int r = lane / 16; r < 16; r += 2) {
          const int m = m0 + wm * WM + i * 16 + r;
          if (m < blk.M) p.out[col + m * mstride] = epilogue_value(p, m, col + m * mstride, mine[r * LDS + c]);
        }
      __syncwarp();  // before the next store_matrix_sync overwrites the scratch
    }
}

// ---- reductions -------------------------------------------------------------------------------
// out[i] = sum over z = 0, 1, ... of partial[z * count + i] (zero when splits == 0).
__global__ void sum_splits(const float* __restrict__ partial, int splits, int count, float* __restrict__ out) {
  for (int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); i < count;
       i += static_cast<int>(gridDim.x * blockDim.x)) {
    float s = 0.f;
    for (int z = 0; z < splits; ++z) s += partial[static_cast<long long>(z) * count + i];
    out[i] = s;
  }
}

// The bias gradient: out[c] = sum over images and pixels of x[b, c, :] (x [batch, channels, plane]),
// one block of T threads per channel: each thread sums its pixels image by image, then a fixed tree.
template <int T>
__global__ void channel_sums(const float* __restrict__ x, int batch, int channels, int plane, float* __restrict__ out) {
  __shared__ float part[T];
  const int c = static_cast<int>(blockIdx.x), t = static_cast<int>(threadIdx.x);
  float s = 0.f;
  for (int b = 0; b < batch; ++b) {
    const float* row = x + (static_cast<long long>(b) * channels + c) * plane;
    for (int q = t; q < plane; q += T) s += row[q];
  }
  part[t] = s;
  __syncthreads();
#pragma unroll
  for (int width = T / 2; width > 0; width /= 2) {
    if (t < width) part[t] += part[t + width];
    __syncthreads();
  }
  if (t == 0) out[c] = part[0];
}

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::kernels::conv
