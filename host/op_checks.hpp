// Shape checks shared by every backend: each op's shapes (and row strides) are checked once, at
// its entry, with messages that print the shapes involved.
#pragma once
#include <span>

#include "host/backend.hpp"

namespace cuvae::checks {

void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y);
void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor* dx, const Tensor& dw,
                     const Tensor& db);
// Conv2d / ConvTranspose2d (host/backend.hpp): the geometry (sizes >= 1, padding >= 0, an output of
// at least one pixel, output_padding below the stride and only for a transposed one) and every shape.
void conv_shape(const char* op, const ConvShape& s);
// "Conv2d(3, 8, kernel 3x3, stride 1x1, padding 1x1) on 28x28", for messages.
std::string conv_text(const ConvShape& s);
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const ConvShape& s, const Tensor& y);
void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const ConvShape& s, const Tensor* dx,
                     const Tensor& dw, const Tensor& db);
// BatchNorm2d (host/backend.hpp): x, y (dy, dx) [B, C*H*W] with C = gamma.numel() dividing the
// columns, every per-channel tensor C elements, all dense; momentum in [0, 1], eps > 0; training
// (and the backward) need more than one value per channel (B * H*W >= 2), as PyTorch.
void batchnorm2d_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool training, float momentum,
                         float eps, const Tensor& running_mean, const Tensor& running_var, const Tensor& save_mean,
                         const Tensor& save_invstd, const Tensor& y);
void batchnorm2d_backward(const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& gamma,
                          const Tensor& save_mean, const Tensor& save_invstd, const Tensor& dx, const Tensor& dgamma,
                          const Tensor& dbeta);
void reparameterize(const Tensor& mu, const Tensor& logvar, const Tensor& eps, const Tensor& z);
void reparameterize_backward(const Tensor& logvar, const Tensor& eps, const Tensor& dz, const Tensor& dmu,
                             const Tensor& dlogvar);
void likelihood(Likelihood kind, float sigma, const Tensor& pred, const Tensor& target, const Tensor* dpred,
                const Tensor* rows, const Tensor& term);
void kl_divergence(const Tensor& mu, const Tensor& logvar, const Tensor* dmu, const Tensor* dlogvar, const Tensor* rows,
                   const Tensor& term);
void corrupt(NoiseKind kind, Scalar level, const Tensor& x, const Tensor& out);
void record_terms(const Tensor& terms, const Tensor& history);
// PCA (host/cpu/pca.hpp, host/cuda/pca.hpp): x [N, D] with N >= 2, 1 <= K <= D, mean [D],
// components [K, D], variance [K], every tensor in `device` memory. `op` names the caller.
void pca_fit(const char* op, Device device, const Tensor& x, int K, const Tensor& mean, const Tensor& components,
             const Tensor& variance);
void same_shape(const char* op, const Tensor& a, const Tensor& b);
void dense(const char* op, const char* name, const Tensor& t);
void gather_rows(const Tensor& src, std::span<const std::int64_t> rows, const Tensor& dst);

// IWAE
void repeat_rows(const Tensor& src, int K, const Tensor& dst);
void iwae_bound(const Tensor& recon, const Tensor& eps, const Tensor& z, const Tensor& logvar, int K,
                const Tensor& bound, const Tensor* elbo);

// softmax cross-entropy: logits [B, C] float32 (a view allowed, C >= 1), labels [B, 1] int32 dense,
// dlogits [B, C], rows [B] dense, terms [2] dense.
void softmax_xent(const Tensor& logits, const Tensor& labels, const Tensor* dlogits, const Tensor* rows,
                  const Tensor& terms);

// cvae: one-hot labels: labels [B, 1] int32 dense, out [B, C] float32 (a view allowed, C >= 1).
void one_hot(const Tensor& labels, const Tensor& out);

}  // namespace cuvae::checks
