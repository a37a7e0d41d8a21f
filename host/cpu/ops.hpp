// The CPU reference ops: plain loops and OpenBLAS sgemm, obviously correct, fast enough to
// train on. Each CUDA kernel is tested against these; the CPU backend calls them directly.
#pragma once
#include <cstdint>
#include <span>

#include "host/backend.hpp"

namespace cuvae::cpu {

void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Activation act, const Tensor& y);
void linear_backward(const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy, const Tensor* dx,
                     const Tensor& dw, const Tensor& db);
void reparameterize(const Tensor& stats, RngKey key, const Tensor& eps, const Tensor& z);
void reparameterize_backward(const Tensor& stats, const Tensor& eps, const Tensor& dz, const Tensor& dstats);
void vae_loss(const Tensor& logits, const Tensor& x, const Tensor& stats, float beta, const Tensor* dlogits,
              const Tensor* dstats, const Tensor& terms);
void adam_step(const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v, const AdamConfig& cfg,
               std::int64_t t);
void sigmoid(const Tensor& x, const Tensor& y);
void normal(RngKey key, const Tensor& out);
void gather_rows(const Tensor& src, std::span<const std::int64_t> rows, const Tensor& dst);

}  // namespace cuvae::cpu
