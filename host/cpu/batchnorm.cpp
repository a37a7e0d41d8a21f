// CPU BatchNorm2d (host/backend.hpp), plain loops: per channel, the batch's statistics in float64
// in a fixed order (image by image, pixel by pixel; the variance a second pass over the squared
// deviations from the mean), y = act(gamma (x - mean) invstd + beta) in float64 rounded once before
// the activation; the backward's two per-channel sums likewise, dx in float64.
#include <cmath>
#include <cstdint>

#include "host/cpu/activation.hpp"
#include "host/cpu/fast/pool.hpp"
#include "host/cpu/ops.hpp"
#include "host/op_checks.hpp"

namespace cuvae::cpu {
namespace {

// Calls f(k) for the offset k of every value of channel c, in batch order then pixel order.
template <class F>
void for_channel(std::int64_t B, std::int64_t C, std::int64_t plane, std::int64_t c, F&& f) {
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t p = 0, k = (b * C + c) * plane; p < plane; ++p, ++k) f(k);
}

// body(c) for every channel, on the pool's threads when there is one.
template <class F>
void for_each_channel(fast::Pool* pool, std::int64_t C, F&& body) {
  if (pool)
    pool->run(C, [&](std::int64_t c, int) { body(c); });
  else
    for (std::int64_t c = 0; c < C; ++c) body(c);
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
    double mean = 0, invstd = 0;
    if (training) {
      double sum = 0, squares = 0;
      for_channel(B, C, plane, c, [&](std::int64_t k) { sum += x.data[k]; });
      mean = sum / double(n);
      for_channel(B, C, plane, c, [&](std::int64_t k) {
        const double d = x.data[k] - mean;
        squares += d * d;
      });
      invstd = 1 / std::sqrt(squares / double(n) + eps);
      save_mean.data[c] = static_cast<float>(mean), save_invstd.data[c] = static_cast<float>(invstd);
      running_mean.data[c] = static_cast<float>((1 - m) * running_mean.data[c] + m * mean);
      running_var.data[c] = static_cast<float>((1 - m) * running_var.data[c] + m * squares / double(n - 1));
    } else {
      mean = running_mean.data[c], invstd = 1 / std::sqrt(double(running_var.data[c]) + eps);
    }
    const double scale = gamma.data[c] * invstd, shift = beta.data[c];
    for_channel(B, C, plane, c, [&](std::int64_t k) {
      y.data[k] = activate(act, static_cast<float>((x.data[k] - mean) * scale + shift));
    });
  });
}

void batchnorm2d_backward(const Tensor& x, const Tensor& y, Activation act, const Tensor& dy, const Tensor& gamma,
                          const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dx, const Tensor& dgamma,
                          const Tensor& dbeta, fast::Pool* pool) {
  checks::batchnorm2d_backward(x, y, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta);
  const std::int64_t B = x.rows(), C = gamma.numel(), plane = x.cols() / C, n = B * plane;
  for_each_channel(pool, C, [&](std::int64_t c) {
    const double mean = save_mean.data[c], invstd = save_invstd.data[c];
    // g = dL/d(pre-activation) = dy act'(y); xhat = (x - mean) invstd.
    auto g = [&](std::int64_t k) { return double(dy.data[k]) * derivative_from_output(act, y.data[k]); };
    auto xhat = [&](std::int64_t k) { return (x.data[k] - mean) * invstd; };
    double sum_g = 0, sum_gx = 0;
    for_channel(B, C, plane, c, [&](std::int64_t k) {
      sum_g += g(k);
      sum_gx += g(k) * xhat(k);
    });
    dbeta.data[c] = static_cast<float>(sum_g), dgamma.data[c] = static_cast<float>(sum_gx);
    // dx = gamma invstd (g - mean(g) - xhat mean(g xhat)).
    const double k_scale = gamma.data[c] * invstd, mean_g = sum_g / double(n), mean_gx = sum_gx / double(n);
    for_channel(B, C, plane, c, [&](std::int64_t k) {
      dx.data[k] = static_cast<float>(k_scale * (g(k) - mean_g - xhat(k) * mean_gx));
    });
  });
}

}  // namespace cuvae::cpu
