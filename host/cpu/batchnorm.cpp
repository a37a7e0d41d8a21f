// CPU BatchNorm2d (host/backend.hpp): per channel, the batch's statistics in float64 in a fixed
// order (the Lanes of vecmath.hpp over each image's plane, the planes in image order; the variance
// a second pass over the squared deviations from the mean), y = act(gamma (x - mean) invstd + beta)
// in float64 rounded once before the activation; the backward's two per-channel sums likewise, dx
// in float64. The elementwise loops vectorise (compiled with the fast ops' flags, host/CMakeLists.txt),
// each value computed alone, so the bits do not depend on the vector width.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "host/cpu/activation.hpp"
#include "host/cpu/fast/pool.hpp"
#include "host/cpu/fast/vecmath.hpp"
#include "host/cpu/ops.hpp"
#include "host/op_checks.hpp"

namespace cuvae::cpu {
namespace {

using fast::kBlock;
using fast::Lanes;

// One channel of a batch [B, C, plane]: its values are B planes `stride` apart.
struct Channel {
  std::int64_t B, plane, stride, first;  // first: the offset of image 0's plane
  std::int64_t at(std::int64_t b) const { return first + b * stride; }
};

// body(c) for every channel, on the pool's threads when there is one.
template <class F>
void for_each_channel(fast::Pool* pool, std::int64_t C, F&& body) {
  if (pool)
    pool->run(C, [&](std::int64_t c, int) { body(c); });
  else
    for (std::int64_t c = 0; c < C; ++c) body(c);
}

// The channel's sum and its sum of squared deviations from its mean.
CUVAE_VECTOR_CLONES void moments(const float* x, const Channel& ch, double& mean, double& squares) {
  Lanes sum, sq;
  for (std::int64_t b = 0; b < ch.B; ++b) sum.add(x + ch.at(b), ch.plane);
  mean = sum.sum() / double(ch.B * ch.plane);
  double d[kBlock];
  for (std::int64_t b = 0; b < ch.B; ++b)
    for (std::int64_t p0 = 0; p0 < ch.plane; p0 += kBlock) {
      const std::int64_t n = std::min(kBlock, ch.plane - p0);
      const float* xp = x + ch.at(b) + p0;
#pragma omp simd
      for (std::int64_t k = 0; k < n; ++k) d[k] = (double(xp[k]) - mean) * (double(xp[k]) - mean);
      sq.add(d, n);
    }
  squares = sq.sum();
}

template <Activation A>
CUVAE_VECTOR_CLONES void normalize(const float* x, const Channel& ch, double mean, double scale, double shift, float* y) {
  for (std::int64_t b = 0; b < ch.B; ++b) {
    const float* xp = x + ch.at(b);
    float* yp = y + ch.at(b);
#pragma omp simd
    for (std::int64_t k = 0; k < ch.plane; ++k) yp[k] = activate(A, static_cast<float>((xp[k] - mean) * scale + shift));
  }
}

// The backward of one channel: g = dy act'(y), xhat = (x - mean) invstd; dbeta = sum g,
// dgamma = sum g xhat, dx = gamma invstd (g - mean(g) - xhat mean(g xhat)).
template <Activation A>
CUVAE_VECTOR_CLONES void channel_backward(const float* x, const float* y, const float* dy, const Channel& ch, double mean, double invstd, double gamma, float* dx,
                                          float& dgamma, float& dbeta) {
  Lanes sum_g, sum_gx;
  double g[kBlock], gx[kBlock];
  for (std::int64_t b = 0; b < ch.B; ++b)
    for (std::int64_t p0 = 0; p0 < ch.plane; p0 += kBlock) {
      const std::int64_t n = std::min(kBlock, ch.plane - p0), o = ch.at(b) + p0;
#pragma omp simd
      for (std::int64_t k = 0; k < n; ++k) {
        g[k] = double(dy[o + k]) * derivative_from_output(A, y[o + k]);
        gx[k] = g[k] * ((x[o + k] - mean) * invstd);
      }
      sum_g.add(g, n);
      sum_gx.add(gx, n);
    }
  const double sg = sum_g.sum(), sgx = sum_gx.sum(), count = double(ch.B * ch.plane);
  dbeta = static_cast<float>(sg), dgamma = static_cast<float>(sgx);
  const double k_scale = gamma * invstd, mean_g = sg / count, mean_gx = sgx / count;
  for (std::int64_t b = 0; b < ch.B; ++b) {
    const std::int64_t o = ch.at(b);
#pragma omp simd
    for (std::int64_t k = 0; k < ch.plane; ++k) {
      const double gk = double(dy[o + k]) * derivative_from_output(A, y[o + k]);
      dx[o + k] = static_cast<float>(k_scale * (gk - mean_g - (x[o + k] - mean) * invstd * mean_gx));
    }
  }
}

}  // namespace

void batchnorm2d_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool training, float momentum,
                         float eps, const Tensor& running_mean, const Tensor& running_var, const Tensor& save_mean,
                         const Tensor& save_invstd, Activation act, const Tensor& y, fast::Pool* pool) {
  checks::batchnorm2d_forward(x, gamma, beta, training, momentum, eps, running_mean, running_var, save_mean,
                              save_invstd, y);
  const std::int64_t B = x.rows(), C = gamma.numel(), plane = x.cols() / C, n = B * plane;
  const double m = momentum;
  for_each_channel(pool, C, [&](std::int64_t c) {
    const Channel ch{B, plane, C * plane, c * plane};
    double mean = 0, invstd = 0;
    if (training) {
      double squares = 0;
      moments(x.data, ch, mean, squares);
      invstd = 1 / std::sqrt(squares / double(n) + eps);
      save_mean.data[c] = static_cast<float>(mean), save_invstd.data[c] = static_cast<float>(invstd);
      running_mean.data[c] = static_cast<float>((1 - m) * running_mean.data[c] + m * mean);
      running_var.data[c] = static_cast<float>((1 - m) * running_var.data[c] + m * squares / double(n - 1));
    } else {
      mean = running_mean.data[c], invstd = 1 / std::sqrt(double(running_var.data[c]) + eps);
    }
    with_activation(act, [&](auto a) { normalize<decltype(a)::value>(x.data, ch, mean, gamma.data[c] * invstd, beta.data[c], y.data); });
  });
}

void batchnorm2d_backward(const Tensor& x, const Tensor& y, Activation act, const Tensor& dy, const Tensor& gamma,
                          const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dx, const Tensor& dgamma,
                          const Tensor& dbeta, fast::Pool* pool) {
  checks::batchnorm2d_backward(x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
  const std::int64_t B = x.rows(), C = gamma.numel(), plane = x.cols() / C;
  for_each_channel(pool, C, [&](std::int64_t c) {
    const Channel ch{B, plane, C * plane, c * plane};
    with_activation(act, [&](auto a) {
      channel_backward<decltype(a)::value>(x.data, y.data, dy.data, ch, save_mean.data[c], save_invstd.data[c], gamma.data[c],
                            dx.data, dgamma.data[c], dbeta.data[c]);
    });
  });
}

}  // namespace cuvae::cpu
