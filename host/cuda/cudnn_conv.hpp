// Conv2d / ConvTranspose2d through cuDNN 9 (`--conv cudnn`), the baseline and alternative of our
// implicit-GEMM kernels (host/cuda/conv.hpp), with the same semantics (host/backend.hpp): the
// forward with bias and activation, the backward with dx * act'(x), dW and db overwritten. The
// three passes map onto cuDNN's as the CUTLASS and cuDNN convention has it (kernels/conv_shape.cuh):
// down = cudnnConvolutionForward, up = cudnnConvolutionBackwardData, wgrad =
// cudnnConvolutionBackwardFilter, on the layer's big and small images with the weight as the
// filter [small_c, big_c, kh, kw] (PyTorch's layout for both layer kinds); db is
// cudnnConvolutionBackwardBias. Algorithms: cuDNN's heuristics (the _v7 queries, no timing, so
// they can be chosen inside a graph capture), the fastest-ranked deterministic one whose
// workspace fits the fixed workspace reserved at start-up; chosen once per shape and batch.
// fp32: FMA math only (no TF32); tf32: cuDNN's default math (TF32 tensor cores allowed); bf16 has
// no cuDNN path here. GPU build only (the SIMT device has no cuDNN); tested on a GPU.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "host/backend.hpp"
#include "host/cuda/gemm.hpp"  // Precision

typedef struct CUstream_st* cudaStream_t;

namespace cuvae::cuda {
inline namespace CUVAE_BUILD {

class CudnnConv {
 public:
  static constexpr std::size_t kWorkspaceBytes = std::size_t(64) << 20;

  // precision fp32 or tf32 (an Error otherwise); workspace: kWorkspaceBytes of device memory.
  CudnnConv(cudaStream_t stream, Precision precision, void* workspace);
  ~CudnnConv();
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;

  void forward(const Tensor& x, const Tensor& w, const Tensor& b, const ConvShape& s, Activation act, const Tensor& y);
  void backward(const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy, const ConvShape& s,
                const Tensor* dx, const Tensor& dw, const Tensor& db);

  std::string describe() const;  // "cuDNN 9.x.y fp32 conv"

 private:
  struct Impl;  // the handle, the workspace and the plans (descriptors and algorithms) per shape
  std::unique_ptr<Impl> impl_;
};

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::cuda
