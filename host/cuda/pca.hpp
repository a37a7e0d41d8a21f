// Closed-form PCA on the GPU: the same contract as host/cpu/pca.hpp, every tensor in device memory.
#pragma once
#include "host/tensor.hpp"

typedef struct CUstream_st* cudaStream_t;

namespace cuvae::cuda {

// x [N, D] float32, N >= 2, 1 <= K <= D; writes mean [D], components [K, D] and variance [K] exactly
// as cpu::pca_fit does (float64 mean and covariance, eigenvalues with divisor N-1, descending, the
// sign rule on the float32 rows). Runs on `stream` with cuBLAS (DSYRK) and cuSOLVER (DSYEVD) handles
// of its own, created and destroyed inside the call; its scratch memory (a D x D float64 matrix and a
// bounded chunk of centred rows) is stream-ordered. It synchronises `stream` twice, to read back the
// non-finite flag and the solver's status, so it cannot be captured into a CUDA graph.
// Throws Error naming the shapes, before any CUDA call, on bad shapes or tensors not in device memory;
// Error on non-finite values in x (before the covariance) and on any failing CUDA/cuBLAS/cuSOLVER
// call, with file:line and the call.
void pca_fit(cudaStream_t stream, const Tensor& x, int K, const Tensor& mean, const Tensor& components,
             const Tensor& variance);

}  // namespace cuvae::cuda
