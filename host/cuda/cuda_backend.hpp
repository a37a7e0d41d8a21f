// The CUDA backend: the op interface (host/backend.hpp) on one GPU, with kernels from kernels/,
// GEMMs from host/cuda/gemm.hpp, a device memory arena and the training step as a CUDA graph.
// The same source (host/cuda/cuda_backend.cu) also builds against the SIMT runtime as a "SIMT
// device" that runs the kernels on the CPU (target cuvae_simt_backend, CUVAE_SIMT defined);
// each build's symbols live in their own inline namespace (see gemm.hpp), so both link together.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "host/backend.hpp"
#include "host/cuda/conv.hpp"
#include "host/cuda/gemm.hpp"

namespace cuvae {
namespace cuda {
inline namespace CUVAE_BUILD {

struct CudaOptions {
  Precision precision = Precision::fp32;  // of the GEMMs (bf16/tf32 inputs, fp32 accumulation)
  GemmImpl gemm = GemmImpl::custom;       // custom kernels, cuBLAS(Lt), or the faster per shape
  ConvImpl conv = ConvImpl::custom;       // our implicit-GEMM convolutions, cuDNN's, or auto (conv.hpp)
  bool graphs = true;                     // capture each training step shape as a CUDA graph
  // Device memory the arena may reserve in all; 0: 90% of the memory free when the backend starts.
  std::size_t memory_limit_bytes = 0;
};

// Throws cuvae::Error when the device cannot be used (cuda_unavailable_reason() says why first).
std::unique_ptr<Backend> make_cuda_backend(int device, const CudaOptions& options = {});

// Empty when `device` is usable by this build; otherwise one line on why not, e.g.
// "no CUDA device found (cudaGetDeviceCount: no CUDA-capable device is detected)" or
// "GPU sm_75 is older than the built architectures 80 90 (...)". Always empty for device 0 of
// the SIMT build.
std::string cuda_unavailable_reason(int device = 0);

}  // inline namespace CUVAE_BUILD
}  // namespace cuda

using cuda::CudaOptions;
using cuda::cuda_unavailable_reason;
using cuda::make_cuda_backend;

}  // namespace cuvae
