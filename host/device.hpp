// Picks the backend for --device auto|cpu|cuda.
#pragma once
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "host/backend.hpp"

namespace cuvae {

// Settings of the CUDA backend, as the command line spells them (the CPU backend computes in fp32
// and ignores them). Checked in every build, so a bad value is an error even without CUDA.
struct CudaRunOptions {
  std::string precision = "fp32";  // --precision fp32|tf32|bf16: GEMM inputs (fp32 accumulation)
  std::string gemm = "custom";     // --gemm custom|cublas|auto: our kernels, cuBLASLt, or the faster per shape
  std::string conv = "custom";     // --conv custom|cudnn|auto: our implicit-GEMM kernels, cuDNN, or cuDNN on a GPU
  bool graphs = true;              // --no-graph: launch every op instead of replaying each step as a CUDA graph
};

// "auto": the GPU if this build has the CUDA backend and a device is present, else the CPU
// with a one-line note on `log`. "cuda" without either is an Error saying which is missing.
std::unique_ptr<Backend> make_backend(std::string_view device, int threads, std::ostream& log,
                                      const CudaRunOptions& cuda = {});

// True when this binary was built with the CUDA backend.
bool cuda_backend_built();

}  // namespace cuvae
