// The fast CPU ops: what the CPU backend runs. Each computes what its plain-loop reference in
// host/cpu/ops.hpp computes (same contract, same shape checks and messages), with vectorisable
// math (vecmath.hpp) and in parallel over fixed chunks of rows (parallel.hpp) on up to `threads`
// OpenMP threads. The references stay the oracle: tests/test_fast_ops.cpp checks each op against
// its reference within FP32 tolerance, and that 1, 2 and 3 threads give the same bits.
//   - Sums: every row's sum in a fixed order (lane j % 8 of eight float64 lanes, added as a fixed
//     tree), then the rows in row order on the calling thread: the same bits for any thread count
//     and any instruction set, close to (not always equal to) the reference's element-order sum.
//   - Same bits as the reference: linear_backward, Adam, normal, repeat_rows, iwae_bound (only
//     the loops are new). linear_forward adds the product to the bias (beta = 1) instead of the
//     bias to the product; the others use exp_approx and log1p_unit (a few ulp from expf, log1pf).
#pragma once
#include "host/backend.hpp"

namespace cuvae::cpu::fast {

// Whether this build can run the ops' chunks on OpenMP threads (false under TSan; parallel.cpp).
bool threaded();

void linear_forward(int threads, const Tensor& x, const Tensor& w, const Tensor& b, Activation act, const Tensor& y);
void linear_backward(int threads, const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy, const Tensor* dx,
                     const Tensor& dw, const Tensor& db);
void normal(int threads, RngKey key, const Tensor& out);
void reparameterize(int threads, const Tensor& mu, const Tensor& logvar, RngKey key, const Tensor& eps, const Tensor& z);
void reparameterize_backward(int threads, const Tensor& logvar, const Tensor& eps, const Tensor& dz, const Tensor& dmu,
                             const Tensor& dlogvar);
void likelihood(int threads, Likelihood kind, float sigma, const Tensor& pred, const Tensor& target, const Tensor* dpred,
                const Tensor* rows, const Tensor& term);
void kl_divergence(int threads, const Tensor& mu, const Tensor& logvar, float weight, const Tensor* dmu,
                   const Tensor* dlogvar, const Tensor* rows, const Tensor& term);
void adam_step(int threads, const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v,
               const StepScalars& s);

// IWAE
void repeat_rows(int threads, const Tensor& src, int K, const Tensor& dst);
void iwae_bound(int threads, const Tensor& recon, const Tensor& eps, const Tensor& z, const Tensor& logvar, int K,
                const Tensor& bound, const Tensor* elbo);

}  // namespace cuvae::cpu::fast
