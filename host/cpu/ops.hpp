// The CPU reference ops: plain loops and OpenBLAS sgemm, obviously correct, fast enough to
// train on. Each CUDA kernel is tested against these; the CPU backend calls them directly.
// Tensors as in host/backend.hpp (row strides where the op allows views).
#pragma once
#include <cstdint>
#include <span>

#include "host/backend.hpp"
#include "host/cpu/pca.hpp"

namespace cuvae::cpu {
namespace fast {
class Pool;
}

void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Activation act, const Tensor& y);
void linear_backward(const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy, const Tensor* dx,
                     const Tensor& dw, const Tensor& db);
// BatchNorm2d (host/cpu/batchnorm.cpp): vectorised loops, per-channel sums in float64 lanes in a
// fixed order; tests/reference_batchnorm.hpp's double loops are its oracle.
// With a pool, the channels are its tasks: each channel is one task's whole work, so the result is
// the same bits as without it, for any thread count.
void batchnorm2d_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool training, float momentum,
                         float eps, const Tensor& running_mean, const Tensor& running_var, const Tensor& save_mean,
                         const Tensor& save_invstd, Activation act, const Tensor& y, fast::Pool* pool = nullptr);
void batchnorm2d_backward(const Tensor& x, const Tensor& y, Activation act, const Tensor& dy, const Tensor& gamma,
                          const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dx, const Tensor& dgamma,
                          const Tensor& dbeta, fast::Pool* pool = nullptr);
void reparameterize(const Tensor& mu, const Tensor& logvar, RngKey key, const Tensor& eps, const Tensor& z);
void reparameterize_backward(const Tensor& logvar, const Tensor& eps, const Tensor& dz, const Tensor& dmu,
                             const Tensor& dlogvar);
void likelihood(Likelihood kind, float sigma, const Tensor& pred, const Tensor& target, const Tensor* dpred,
                const Tensor* rows, const Tensor& term);
void kl_divergence(const Tensor& mu, const Tensor& logvar, float weight, const Tensor* dmu, const Tensor* dlogvar,
                   const Tensor* rows, const Tensor& term);
void corrupt(NoiseKind kind, float level, const Tensor& x, RngKey key, const Tensor& out);
void adam_step(const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v, const StepScalars& s);
void sigmoid(const Tensor& x, const Tensor& y);
void copy(const Tensor& src, const Tensor& dst);
void normal(RngKey key, const Tensor& out);
void gather_rows(const Tensor& src, std::span<const std::int64_t> rows, const Tensor& dst);

// IWAE (host/cpu/iwae.cpp)
void repeat_rows(const Tensor& src, int K, const Tensor& dst);
void iwae_bound(const Tensor& recon, const Tensor& eps, const Tensor& z, const Tensor& logvar, int K,
                const Tensor& bound, const Tensor* elbo);

// softmax cross-entropy (host/cpu/xent.cpp)
void softmax_xent(const Tensor& logits, const Tensor& labels, const Tensor* dlogits, const Tensor* rows,
                  const Tensor& terms);

// cvae: one-hot labels (host/cpu/labels.cpp)
void one_hot(const Tensor& labels, const Tensor& out);

}  // namespace cuvae::cpu
