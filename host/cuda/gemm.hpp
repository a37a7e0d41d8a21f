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

#include "host/backend.hpp"

typedef struct CUstream_st* cudaStream_t;

namespace cuvae::cuda {

enum class Precision { fp32, tf32, bf16 };  // bf16/tf32: GEMM inputs rounded, FP32 accumulation
enum class GemmImpl { custom, cublas, automatic };
Precision parse_precision(std::string_view s);  // Error naming the flag on bad text
GemmImpl parse_gemm_impl(std::string_view s);

class Gemm {
 public:
  // One per stream; owns the cuBLAS(Lt) handles and workspace, and, for `automatic`, the
  // per-shape choice timed once on first use.
  Gemm(cudaStream_t stream, Precision precision, GemmImpl impl);
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Activation act, const Tensor& y);
  void linear_backward(const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy, const Tensor* dx,
                       const Tensor& dw, const Tensor& db);
  std::string describe() const;  // e.g. "custom fp32 GEMM" / "cuBLASLt tf32"

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cuvae::cuda
