// The linear layer's three GEMMs on the device, with fused epilogues, in our own kernels
// (kernels/gemm.cuh) or through cuBLAS/cuBLASLt (the baseline), chosen per run.
//   forward:  y[B,out]  = act(x[B,in] w[out,in]^T + b)
//   dx:       dx[B,in]  = (dy[B,out] w[out,in]) * act'(x)    (x = the layer input, post-activation)
//   dw, db:   dw[out,in] = dy^T x,  db[out] = column sums of dy
// This file is shared by the CUDA build and the SIMT (CPU) build; the SIMT build has only the
// custom kernels.
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "host/backend.hpp"
#include "host/error.hpp"

typedef struct CUstream_st* cudaStream_t;

// The SIMT build of the launcher (host/cuda/gemm.cu compiled by the host compiler, see
// host/cuda/gemm_simt.cpp; every TU that uses it defines CUVAE_SIMT) lives in its own inline
// namespace, CUVAE_BUILD (kernels/build.hpp), so it links next to the nvcc build.
#include "kernels/build.hpp"

namespace cuvae::cuda {
inline namespace CUVAE_BUILD {

enum class Precision { fp32, tf32, bf16 };  // bf16/tf32: GEMM inputs rounded, FP32 accumulation
// automatic: times custom and cuBLAS(Lt) once per shape at first use and keeps the faster (so,
// unlike the other two, results may differ in the last bits from one process to the next).
// The SIMT build has no cuBLAS: automatic means custom there, cublas throws.
enum class GemmImpl { custom, cublas, automatic };
// The command line's spellings; an Error naming the flag on bad text. Inline, so host/device.cpp
// checks the flags with them in a build without CUDA too.
inline Precision parse_precision(std::string_view s) {
  if (s == "fp32") return Precision::fp32;
  if (s == "tf32") return Precision::tf32;
  if (s == "bf16") return Precision::bf16;
  throw Error("--precision '" + std::string(s) + "': want fp32, tf32 or bf16");
}
inline GemmImpl parse_gemm_impl(std::string_view s) {
  if (s == "custom") return GemmImpl::custom;
  if (s == "cublas") return GemmImpl::cublas;
  if (s == "auto") return GemmImpl::automatic;
  throw Error("--gemm '" + std::string(s) + "': want custom, cublas or auto");
}

class Gemm {
 public:
  // One per stream; owns the split-K workspace of the custom kernels (16 MiB of device memory),
  // the cuBLAS(Lt) handles and workspace, and, for `automatic`, the per-shape choice timed once
  // on first use (not while the stream is being captured into a graph: custom then).
  Gemm(cudaStream_t stream, Precision precision, GemmImpl impl);
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Activation act, const Tensor& y);
  void linear_backward(const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy, const Tensor* dx,
                       const Tensor& dw, const Tensor& db);
  std::string describe() const;  // e.g. "custom fp32 GEMM" / "cuBLASLt tf32"

  // The three GEMMs one at a time (linear_backward runs backward_weight, then backward_data), for
  // benchmarks and tests. dx = (dy w) * act'(x); dw = dy^T x, db = column sums of dy.
  void backward_data(const Tensor& dy, const Tensor& w, const Tensor& x, Activation x_act, const Tensor& dx);
  void backward_weight(const Tensor& dy, const Tensor& x, const Tensor& dw, const Tensor& db);

  // Benchmarks and tests: pin the custom kernel version (kernels/gemm.cuh: 1-3 need fp32, 4-5
  // tf32 or bf16; 0 = the launcher's choice) and the split-K factor (0 = the launcher's choice,
  // clamped to what K and the workspace allow). Throws on a version the precision cannot run.
  void force_kernel(int version, int split_k);
  // What the last call ran, e.g. "v2 x9" (custom version 2, split-K 9) or "cuBLASLt".
  std::string last_kernel() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::cuda
