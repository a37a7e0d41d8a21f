// Conv2d / ConvTranspose2d on the device in our own implicit-GEMM kernels (kernels/conv.cuh),
// the semantics of host/cpu/conv.cpp: forward with bias and activation fused, backward with
// dx * act'(x) fused, dW and db as fixed-order sums (the same bits every run).
// Shared by the CUDA build and the SIMT (CPU) build, like gemm.hpp.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "host/backend.hpp"
#include "host/cuda/gemm.hpp"  // Precision; CUVAE_BUILD, the inline namespace of this build

typedef struct CUstream_st* cudaStream_t;

namespace cuvae::cuda {
inline namespace CUVAE_BUILD {

// --conv: our implicit-GEMM kernels, cuDNN (host/cuda/cudnn_conv.hpp), or automatic: cuDNN on a
// GPU at fp32 and tf32, ours for bf16 and on the SIMT device (which has no cuDNN). A fixed rule,
// not a timing, so two runs run the same kernels. Inline, as the GEMM flags' parsers.
enum class ConvImpl { custom, cudnn, automatic };
inline ConvImpl parse_conv_impl(std::string_view s) {
  if (s == "custom") return ConvImpl::custom;
  if (s == "cudnn") return ConvImpl::cudnn;
  if (s == "auto") return ConvImpl::automatic;
  throw Error("--conv '" + std::string(s) + "': want custom, cudnn or auto");
}

class Conv {
 public:
  // The weight gradient's split-K partials: the caller reserves this many floats of device
  // memory once (the backend, from its arena, when it starts), so no op call allocates and a
  // shape's split count depends on the shape alone, never on what ran before.
  static constexpr std::int64_t kWorkspaceFloats = std::int64_t(2) << 20;  // 8 MiB

  // precision: fp32 (register-tiled kernels) or tf32/bf16 (wmma, FP32 accumulation), as the GEMMs.
  Conv(cudaStream_t stream, Precision precision, float* workspace, std::int64_t workspace_floats);

  // Backend::conv2d_forward / conv2d_backward (host/backend.hpp), shapes checked first.
  void forward(const Tensor& x, const Tensor& w, const Tensor& b, const ConvShape& s, Activation act, const Tensor& y);
  void backward(const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy, const ConvShape& s,
                const Tensor* dx, const Tensor& dw, const Tensor& db);

  std::string describe() const;  // "custom fp32 implicit-GEMM conv"

  // Tests and benchmarks: pin the tile (0: the launcher's choice; FP32 1..4 = 64x64, 32x128,
  // 16x128, 4x256; TF32/BF16 1..3 = 64x64, 32x128, 16x128) and the weight gradient's split count
  // (0: the launcher's choice; clamped to what K and the workspace allow). FP32 results do not
  // depend on the tile; they do on the split count.
  void force(int tile, int splits);
  // What the last call ran, e.g. "down 32x128 | wgrad 32x128 x2 | up 4x256 x4 phases".
  const std::string& last_kernels() const { return last_; }

 private:
  void run(int kind, const ConvShape& s, int batch, const float* big, const float* small, const float* w, float* out,
           int epilogue, Activation act, const float* bias, const float* aux, const std::string& op);
  void note(const std::string& what);

  cudaStream_t stream_;
  Precision precision_;
  float* workspace_;
  std::int64_t workspace_floats_;
  int forced_tile_ = 0, forced_splits_ = 0;
  std::string last_;
};

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::cuda
