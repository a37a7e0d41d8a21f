// Shape checks shared by every backend: each op's shapes are checked once, at its entry,
// with messages that print the shapes involved.
#pragma once
#include <span>

#include "host/backend.hpp"

namespace cuvae::checks {

void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y);
void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor* dx, const Tensor& dw,
                     const Tensor& db);
void reparameterize(const Tensor& stats, const Tensor& eps, const Tensor& z);
void vae_loss(const Tensor& logits, const Tensor& x, const Tensor& stats, const Tensor* dlogits,
              const Tensor* dstats, const Tensor& terms);
void same_shape(const char* op, const Tensor& a, const Tensor& b);
void gather_rows(const Tensor& src, std::span<const std::int64_t> rows, const Tensor& dst);

}  // namespace cuvae::checks
