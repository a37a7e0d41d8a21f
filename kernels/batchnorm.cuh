// kernels/batchnorm.cuh: BatchNorm2d on NCHW rows (host/backend.hpp), forward (training: the batch
// statistics, save_mean / save_invstd and the running statistics' update; eval: the running
// statistics) and the training-mode backward, each one launch with one block per channel. A block
// strides its threads over the channel's B * H*W values (value i: image i / plane, pixel i % plane),
// sums each thread's values in double in order, then the threads in a fixed tree: no atomics, so a shape gives the same bits every run. The block size is
// the launcher's choice from the shape alone. A channel's values are read once per pass (forward:
// the mean, the squared deviations, the output; backward: the two sums, dx) and written once.
// Pure device code (nvcc for the GPU, the host compiler for the SIMT runtime).
// Launcher: host/cuda/batchnorm.cu. Reference: host/cpu/batchnorm.cpp. Tests: tests/test_batchnorm_kernels.cpp.
#pragma once
#include "kernels/block_sum.cuh"
#include "kernels/epilogue.cuh"  // activate, derivative_from_output
#include "kernels/portable.cuh"

namespace cuvae::kernels::batchnorm {
inline namespace CUVAE_BUILD {

struct BatchNormParams {
  const float* x;       // [B, C * plane]
  float* y;             // forward: the output
  float* dx;            // backward
  const float* dy;      // backward: the gradient w.r.t. the activation's output
  const float* act_out; // backward: the forward's output y (for act')
  const float* gamma;
  const float* beta;            // forward
  float* running_mean;          // forward (read in eval, updated in training)
  float* running_var;
  float* save_mean;             // forward training: written; backward: read
  float* save_invstd;
  float* dgamma;                // backward
  float* dbeta;
  int channels, plane;  // C, H*W
  int count;            // B * plane, the values of one channel
  int training;         // forward
  float momentum, eps;  // forward
  int act;              // gemm::ActKind
};

// The offset of value i of channel c.
__device__ __forceinline__ long long value_at(const BatchNormParams& p, int c, int i) {
  const int b = i / p.plane;
  return (static_cast<long long>(b) * p.channels + c) * p.plane + (i - b * p.plane);
}

// The block's sum of one double per thread (block_tree_sum's fixed tree), returned to every
// thread; s is free again after.
template <int T>
__device__ __forceinline__ double block_sum(double* s, int t, double v) {
  block_tree_sum<T>(s, t, v);
  const double sum = s[0];
  __syncthreads();
  return sum;
}

// grid.x = C, T threads (a power of two). y = act(gamma (x - mean) invstd + beta), mean and invstd
// the batch's (training) or the running ones.
template <int T>
__global__ void __launch_bounds__(T) batchnorm_forward(BatchNormParams p) {
  __shared__ double s[T];
  const int c = static_cast<int>(blockIdx.x), t = static_cast<int>(threadIdx.x);
  double mean, invstd;
  if (p.training) {
    double v = 0;
    for (int i = t; i < p.count; i += T) v += p.x[value_at(p, c, i)];
    mean = block_sum<T>(s, t, v) / p.count;
    v = 0;
    for (int i = t; i < p.count; i += T) {
      const double d = p.x[value_at(p, c, i)] - mean;
      v += d * d;
    }
    const double squares = block_sum<T>(s, t, v);
    invstd = 1.0 / sqrt(squares / p.count + p.eps);
    if (t == 0) {
      const double m = p.momentum;
      p.save_mean[c] = static_cast<float>(mean), p.save_invstd[c] = static_cast<float>(invstd);
      p.running_mean[c] = static_cast<float>((1 - m) * p.running_mean[c] + m * mean);
      p.running_var[c] = static_cast<float>((1 - m) * p.running_var[c] + m * squares / (p.count - 1));
    }
  } else {
    mean = p.running_mean[c], invstd = 1.0 / sqrt(static_cast<double>(p.running_var[c]) + p.eps);
  }
  const float mean_f = static_cast<float>(mean), scale = static_cast<float>(p.gamma[c] * invstd), shift = p.beta[c];
  for (int i = t; i < p.count; i += T) {
    const long long k = value_at(p, c, i);
    p.y[k] = gemm::activate(p.act, (p.x[k] - mean_f) * scale + shift);
  }
}

// grid.x = C, T threads. g = dy act'(y), xhat = (x - mean) invstd: dbeta = sum g, dgamma = sum g xhat,
// dx = gamma invstd (g - mean(g) - xhat mean(g xhat)).
template <int T>
__global__ void __launch_bounds__(T) batchnorm_backward(BatchNormParams p) {
  __shared__ double s[T];
  const int c = static_cast<int>(blockIdx.x), t = static_cast<int>(threadIdx.x);
  const float mean = p.save_mean[c], invstd = p.save_invstd[c];
  double vg = 0, vgx = 0;
  for (int i = t; i < p.count; i += T) {
    const long long k = value_at(p, c, i);
    const float g = p.dy[k] * gemm::derivative_from_output(p.act, p.act_out[k]);
    vg += g;
    vgx += static_cast<double>(g) * ((p.x[k] - mean) * invstd);
  }
  const double sum_g = block_sum<T>(s, t, vg), sum_gx = block_sum<T>(s, t, vgx);
  if (t == 0) p.dbeta[c] = static_cast<float>(sum_g), p.dgamma[c] = static_cast<float>(sum_gx);
  const float scale = p.gamma[c] * invstd;
  const float mean_g = static_cast<float>(sum_g / p.count), mean_gx = static_cast<float>(sum_gx / p.count);
  for (int i = t; i < p.count; i += T) {
    const long long k = value_at(p, c, i);
    const float g = p.dy[k] * gemm::derivative_from_output(p.act, p.act_out[k]);
    p.dx[k] = scale * (g - mean_g - (p.x[k] - mean) * invstd * mean_gx);
  }
}

}  // inline namespace CUVAE_BUILD
}  // namespace cuvae::kernels::batchnorm
