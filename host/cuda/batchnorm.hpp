// BatchNorm2d on the device (kernels/batchnorm.cuh), the semantics of host/cpu/batchnorm.cpp:
// Backend::batchnorm2d_forward / batchnorm2d_backward (host/backend.hpp), shapes checked first
// (host/op_checks.hpp), one launch each on `stream`, one block per channel with fixed-order double
// sums (the same bits every run). Capture-safe: no allocation, no synchronisation, no host reads.
// Shared by the CUDA build and the SIMT (CPU) build, like conv.hpp.
#pragma once
#include "host/backend.hpp"
#include "kernels/build.hpp"  // CUVAE_BUILD, the inline namespace of this build

typedef struct CUstream_st* cudaStream_t;

namespace cuvae::cuda {
inline namespace CUVAE_BUILD {

void batchnorm2d_forward(cudaStream_t stream, const Tensor& x, const Tensor& gamma, const Tensor& beta, bool training,
                         float momentum, float eps, const Tensor& running_mean, const Tensor& running_var,
                         const Tensor& save_mean, const Tensor& save_invstd, Activation act, const Tensor& y);
void batchnorm2d_backward(cudaStream_t stream, const Tensor& x, const Tensor& y, Activation act, const Tensor& dy,
                          const Tensor& gamma, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dx,
                          const Tensor& dgamma, const Tensor& dbeta);

// The block size both kernels use for a channel of `count` values (a function of the shape only).
int batchnorm_threads(long long count);

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::cuda
