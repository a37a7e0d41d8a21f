// host/cuda/conv.cu: the launchers behind host/cuda/conv.hpp (shape checks, tile and grid choice,
// the weight gradient's split count, NVTX ranges) for the implicit-GEMM kernels of kernels/conv.cuh.
// One file, two builds, as host/cuda/gemm.cu:
//   nvcc, into cuvae_host (CUVAE_CUDA=ON): the GPU build;
//   the host compiler against the SIMT runtime: host/cuda/conv_simt.cpp #includes this file with
//     CUVAE_SIMT defined (cuvae_simt_backend).
#include "host/cuda/conv.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <string>

#include "host/error.hpp"
#include "host/cuda/launch_support.hpp"
#include "host/op_checks.hpp"
#include "kernels/conv.cuh"

#if defined(__CUDACC__) && defined(CUVAE_SIMT)
#error "CUVAE_SIMT marks the host-compiler (SIMT) build of host/cuda/conv.cu; nvcc builds the GPU one"
#elif !defined(__CUDACC__) && !defined(CUVAE_SIMT)
#error "host/cuda/conv.cu built by the host compiler is the SIMT build: define CUVAE_SIMT (see host/cuda/conv_simt.cpp)"
#endif

namespace cuvae::cuda {
inline namespace CUVAE_BUILD {
namespace {

namespace kc = cuvae::kernels::conv;
namespace kg = cuvae::kernels::gemm;

enum Kind { kDown = 0, kUp = 1, kWgrad = 2 };
const char* kind_name(int kind) { return kind == kDown ? "down" : kind == kUp ? "up" : "wgrad"; }

// wgrad splits its K = batch * small pixels into chunks of about this many (a multiple of 16, so
// the FP32 and wmma kernels' k-steps both divide it), at most kMaxSplits of them: fixed by the
// shape, so a layer sums in the same order on every run and every GPU.
constexpr int kSplitChunk = 256, kMaxSplits = 64;
constexpr int kReduceThreads = 256;

long long ceil_div(long long a, long long b) { return (a + b - 1) / b; }

struct TileSize {
  int bm, bn;
};
TileSize tile_size(int tile) {
  switch (tile) {
    case 1: return {64, 64};
    case 2: return {32, 128};
    case 3: return {16, 128};
    case 4: return {4, 256};
  }
  CUVAE_FAIL("unknown conv tile " + std::to_string(tile));
}
// By M (the output channels of the pass): the tallest tile that M fills; the wmma kernels'
// smallest is 16 rows.
int pick_tile(int M, bool wmma) {
  if (M > 32) return 1;
  if (M > 16) return 2;
  if (M > 4 || wmma) return 3;
  return 4;
}

template <class Pass>
void launch_pass(int tile, Precision precision, dim3 grid, const kc::ConvParams& p, cudaStream_t stream,
                 const std::string& what) {
  if (precision == Precision::fp32) {
    switch (tile) {
      case 1: return launch_or_fail(what, kc::conv_tiled<Pass, 64, 64, 8, 4, 4>, grid, dim3(256), stream, p);
      case 2: return launch_or_fail(what, kc::conv_tiled<Pass, 32, 128, 8, 4, 4>, grid, dim3(256), stream, p);
      case 3: return launch_or_fail(what, kc::conv_tiled<Pass, 16, 128, 8, 2, 4>, grid, dim3(256), stream, p);
      case 4: return launch_or_fail(what, kc::conv_tiled<Pass, 4, 256, 8, 1, 4>, grid, dim3(256), stream, p);
    }
  } else if (precision == Precision::tf32) {
    switch (tile) {
      case 1: return launch_or_fail(what, kc::conv_wmma<Pass, 64, 64, 32, 32, kg::Tf32>, grid, dim3(128), stream, p);
      case 2: return launch_or_fail(what, kc::conv_wmma<Pass, 32, 128, 32, 32, kg::Tf32>, grid, dim3(128), stream, p);
      case 3: return launch_or_fail(what, kc::conv_wmma<Pass, 16, 128, 16, 32, kg::Tf32>, grid, dim3(128), stream, p);
    }
  } else {
    switch (tile) {
      case 1: return launch_or_fail(what, kc::conv_wmma<Pass, 64, 64, 32, 32, kg::Bf16>, grid, dim3(128), stream, p);
      case 2: return launch_or_fail(what, kc::conv_wmma<Pass, 32, 128, 32, 32, kg::Bf16>, grid, dim3(128), stream, p);
      case 3: return launch_or_fail(what, kc::conv_wmma<Pass, 16, 128, 16, 32, kg::Bf16>, grid, dim3(128), stream, p);
    }
  }
  CUVAE_FAIL(what + ": no conv tile " + std::to_string(tile) + " at precision " + precision_name(precision));
}

std::string shapes(const std::string& op, const ConvShape& s, const Tensor& x) {
  return op + " " + checks::conv_text(s) + ", x " + x.str();
}

// Offsets inside the kernels are int: the whole batch of either image must fit.
void check_int_offsets(const std::string& op, const ConvShape& s, std::int64_t batch) {
  if (batch * std::max(s.in_dim(), s.out_dim()) > INT_MAX)
    throw Error(op + ": " + std::to_string(batch) + " images of " + std::to_string(std::max(s.in_dim(), s.out_dim())) +
                " values are more than 2^31 - 1 in one call; split the batch");
}

}  // namespace

Conv::Conv(cudaStream_t stream, Precision precision, float* workspace, std::int64_t workspace_floats)
    : stream_(stream), precision_(precision), workspace_(workspace), workspace_floats_(workspace_floats) {}

std::string Conv::describe() const { return std::string("custom ") + precision_name(precision_) + " implicit-GEMM conv"; }

void Conv::force(int tile, int splits) {
  const int tiles = precision_ == Precision::fp32 ? 4 : 3;
  if (tile < 0 || tile > tiles)
    throw Error("conv tile " + std::to_string(tile) + ": want 0 (choose) or 1.." + std::to_string(tiles) + " at " +
                precision_name(precision_));
  if (splits < 0) throw Error("conv split count " + std::to_string(splits) + ": want 0 (choose) or >= 1");
  forced_tile_ = tile, forced_splits_ = splits;
}

void Conv::note(const std::string& what) { last_ += (last_.empty() ? "" : " | ") + what; }

// One pass over a batch. down: big -> out (small-shaped); up: small -> out (big-shaped);
// wgrad: (small, big) -> out = dW, through the workspace when split.
void Conv::run(int kind, const ConvShape& s, int batch, const float* big, const float* small, const float* w, float* out,
               int epilogue, Activation act, const float* bias, const float* aux, const std::string& op) {
  kc::ConvParams p{};
  p.batch = batch;
  p.C = s.big_c(), p.H = s.big_h(), p.W = s.big_w();
  p.S = s.small_c(), p.h = s.small_h(), p.w = s.small_w();
  p.kh = s.kh, p.kw = s.kw, p.sh = s.sh, p.sw = s.sw, p.ph = s.ph, p.pw = s.pw;
  p.Kw = static_cast<int>(s.weight_cols());
  p.div_hw = kc::FastDiv(p.h * p.w), p.div_w = kc::FastDiv(p.w), p.div_khkw = kc::FastDiv(p.kh * p.kw),
  p.div_kw = kc::FastDiv(p.kw);
  p.weight = w, p.big = big, p.small = small, p.out = out;
  p.epilogue = epilogue, p.act = act_kind(act), p.bias = bias, p.aux = aux;

  const bool wmma = precision_ != Precision::fp32;
  const long long M = kind == kUp ? p.C : p.S;
  const int tile = forced_tile_ ? forced_tile_ : pick_tile(static_cast<int>(M), wmma);
  const TileSize t = tile_size(tile);
  const std::string what = op + ": " + kind_name(kind) + " pass";
  std::string desc = std::string(kind_name(kind)) + " " + std::to_string(t.bm) + "x" + std::to_string(t.bn);

  if (kind == kDown) {
    const long long N = static_cast<long long>(batch) * p.h * p.w;
    const NvtxRange range("conv.down", M, N, p.Kw);
    const dim3 grid(static_cast<unsigned>(ceil_div(N, t.bn)), static_cast<unsigned>(ceil_div(M, t.bm)));
    launch_pass<kc::Down>(tile, precision_, grid, p, stream_, what);
  } else if (kind == kUp) {
    // One grid.z slice per stride phase, each as wide as the largest (phase 0).
    const long long phases = static_cast<long long>(p.sh) * p.sw;
    if (phases > 65535) throw Error(what + ": stride " + std::to_string(p.sh) + "x" + std::to_string(p.sw) + " has more than 65535 phases");
    const long long N = static_cast<long long>(batch) * ceil_div(p.H, p.sh) * ceil_div(p.W, p.sw);
    const NvtxRange range("conv.up", M, N * phases, static_cast<long long>(p.S) * p.kh * p.kw);
    const dim3 grid(static_cast<unsigned>(ceil_div(N, t.bn)), static_cast<unsigned>(ceil_div(M, t.bm)),
                    static_cast<unsigned>(phases));
    launch_pass<kc::Up>(tile, precision_, grid, p, stream_, what);
    if (phases > 1) desc += " x" + std::to_string(phases) + " phases";
  } else {
    const long long K = static_cast<long long>(batch) * p.h * p.w, count = M * p.Kw;
    const long long room = std::max<long long>(1, workspace_floats_ / count);
    long long splits = forced_splits_ ? forced_splits_ : std::min<long long>(ceil_div(K, kSplitChunk), kMaxSplits);
    splits = std::clamp<long long>(std::min(splits, room), 1, std::max<long long>(1, ceil_div(K, 16)));
    const long long k_per_split = ceil_div(ceil_div(K, splits), 16) * 16;
    splits = std::max<long long>(1, ceil_div(K, k_per_split));  // no empty split
    if (splits > 65535) throw Error(what + ": " + std::to_string(splits) + " splits");
    p.k_per_split = static_cast<int>(k_per_split);
    if (splits > 1) p.out = workspace_;
    const NvtxRange range("conv.wgrad", M, p.Kw, K);
    const dim3 grid(static_cast<unsigned>(ceil_div(p.Kw, t.bn)), static_cast<unsigned>(ceil_div(M, t.bm)),
                    static_cast<unsigned>(splits));
    launch_pass<kc::Wgrad>(tile, precision_, grid, p, stream_, what);
    if (splits > 1) {
      const unsigned blocks = static_cast<unsigned>(std::min<long long>(ceil_div(count, kReduceThreads), 4096));
      launch_or_fail(what + " (sum of the splits)", kc::sum_splits, dim3(blocks), dim3(kReduceThreads), stream_,
                     static_cast<const float*>(workspace_), static_cast<int>(splits), static_cast<int>(count), out);
      desc += " x" + std::to_string(splits) + " splits";
    }
  }
  note(desc + " " + precision_name(precision_));
}

void Conv::forward(const Tensor& x, const Tensor& w, const Tensor& b, const ConvShape& s, Activation act, const Tensor& y) {
  checks::conv2d_forward(x, w, b, s, y);
  const std::string op = shapes("conv2d_forward", s, x);
  check_int_offsets(op, s, x.rows());
  last_.clear();
  const int batch = static_cast<int>(x.rows());
  if (batch == 0) return;
  // Conv2d: y = down(x); ConvTranspose2d: y = up(x); both + bias, then the activation.
  if (s.transposed) run(kUp, s, batch, nullptr, x.data, w.data, y.data, kg::kBiasAct, act, b.data, nullptr, op);
  else run(kDown, s, batch, x.data, nullptr, w.data, y.data, kg::kBiasAct, act, b.data, nullptr, op);
}

void Conv::backward(const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy, const ConvShape& s,
                    const Tensor* dx, const Tensor& dw, const Tensor& db) {
  checks::conv2d_backward(x, w, dy, s, dx, dw, db);
  const std::string op = shapes("conv2d_backward", s, x);
  check_int_offsets(op, s, x.rows());
  last_.clear();
  const int batch = static_cast<int>(x.rows());
  const int count = static_cast<int>(dw.numel());
  if (batch == 0) {  // no images: dW = 0 (a sum of no splits) and db = 0 (of no pixels)
    launch_or_fail(op + ": zero dw", kc::sum_splits, dim3(static_cast<unsigned>(ceil_div(count, kReduceThreads))),
                   dim3(kReduceThreads), stream_, static_cast<const float*>(nullptr), 0, count, dw.data);
  } else {
    // dW = wgrad(small, big): Conv2d (dy, x), ConvTranspose2d (x, dy).
    const float* small = s.transposed ? x.data : dy.data;
    const float* big = s.transposed ? dy.data : x.data;
    run(kWgrad, s, batch, big, small, nullptr, dw.data, kg::kStore, Activation::none, nullptr, nullptr, op);
  }
  const int plane = s.out_h() * s.out_w();
  launch_or_fail(op + ": bias gradient", kc::channel_sums<kReduceThreads>, dim3(static_cast<unsigned>(s.out_c)),
                 dim3(kReduceThreads), stream_, static_cast<const float*>(dy.data), batch, s.out_c, plane, db.data);
  if (!dx || batch == 0) return;
  // dx = up(dy) for a Conv2d, down(dy) for a ConvTranspose2d; times act'(x).
  const int epilogue = x_act == Activation::none ? kg::kStore : kg::kDAct;
  if (s.transposed) run(kDown, s, batch, dy.data, nullptr, w.data, dx->data, epilogue, x_act, nullptr, x.data, op);
  else run(kUp, s, batch, nullptr, dy.data, w.data, dx->data, epilogue, x_act, nullptr, x.data, op);
}

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::cuda
