// kernels/conv_bias.cuh: the elementwise passes around a convolution library's GEMMs (the cuDNN
// path, host/cuda/cudnn_conv.cu), which our implicit-GEMM kernels fuse into their epilogues
// instead: the per-channel bias and activation of an NCHW output, and dx * act'(x). CPU
// reference: host/cpu/activation.hpp's activate and derivative_from_output, per element; tested on
// the SIMT runtime (tests/test_conv_bias_kernels.cpp) and on a GPU through CudnnConvKernels.
// Holds __global__ functions: include it in one translation unit of a build.
#pragma once
#include "kernels/epilogue.cuh"  // activate, derivative_from_output

namespace cuvae::kernels::conv_bias {
inline namespace CUVAE_BUILD {  // GPU and SIMT builds apart (kernels/portable.cuh)

// y[b, c, p] = act(y[b, c, p] + bias[c]) over `count` values in planes of `plane`, in place.
__global__ void channel_bias_act(float* y, long long count, int channels, int plane, const float* bias, int act) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  const int c = static_cast<int>((i / plane) % channels);
  y[i] = gemm::activate(act, y[i] + bias[c]);
}

// dx *= act'(x), in place (x the activation's output).
__global__ void times_derivative(float* dx, const float* x, long long count, int act) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) dx[i] *= gemm::derivative_from_output(act, x[i]);
}

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::kernels::conv_bias
