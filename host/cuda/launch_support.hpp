// What the GEMM and conv launchers (host/cuda/gemm.cu, conv.cu, cudnn_conv.cu) share, in both of their
// builds: one NVTX range per launcher call, launches with the op in their errors, and the kernels'
// names for the activation and the precision.
#pragma once
#include <nvtx3/nvToolsExt.h>

#include <cstdio>
#include <string>
#include <utility>

#include "host/cuda/gemm.hpp"  // Precision; CUVAE_BUILD, the inline namespace of this build
#include "host/error.hpp"
#include "kernels/epilogue.cuh"
#include "kernels/portable.cuh"  // cuvae::launch

namespace cuvae::cuda {
inline namespace CUVAE_BUILD {

// One NVTX range, e.g. "gemm.forward 128x400x784" or "conv.down 32x25088x16" (M x N x K).
class NvtxRange {
 public:
  NvtxRange(const char* what, long long M, long long N, long long K) {
    char name[96];
    std::snprintf(name, sizeof name, "%s %lldx%lldx%lld", what, M, N, K);
    nvtxRangePushA(name);
  }
  ~NvtxRange() { nvtxRangePop(); }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

// cuvae::launch with the op's text in front of its error ("conv2d_forward ...: <launch error>").
template <class... P, class... A>
void launch_or_fail(const std::string& what, void (*kernel)(P...), dim3 grid, dim3 block, cudaStream_t stream, A&&... args) {
  try {
    cuvae::launch(kernel, grid, block, 0, stream, std::forward<A>(args)...);
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
}

// cuvae::Activation as the kernels' epilogue code (kernels/epilogue.cuh).
static_assert(kernels::gemm::kLeakyReluSlope == cuvae::kLeakyReluSlope, "one leaky_relu slope for every backend");
inline int act_kind(Activation a) {
  switch (a) {
    case Activation::none: return kernels::gemm::kActNone;
    case Activation::relu: return kernels::gemm::kActRelu;
    case Activation::sigmoid: return kernels::gemm::kActSigmoid;
    case Activation::leaky_relu: return kernels::gemm::kActLeakyRelu;
  }
  return kernels::gemm::kActNone;
}

inline const char* precision_name(Precision p) {
  switch (p) {
    case Precision::fp32: return "fp32";
    case Precision::tf32: return "tf32";
    case Precision::bf16: return "bf16";
  }
  return "?";
}

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::cuda
