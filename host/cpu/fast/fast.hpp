// The fast CPU ops: what the CPU backend runs. Each computes what its plain-loop reference in
// host/cpu/ops.hpp computes (same contract, same shape checks and messages), with vectorisable
// math (vecmath.hpp) and in parallel over fixed chunks of rows on the backend's thread pool
// (pool.hpp). The references stay the oracle: tests/test_fast_ops.cpp checks each op against
// its reference within FP32 tolerance, and that 1, 2 and 3 threads give the same bits.
//   - Sums: every row's sum in a fixed order (lane j % 8 of eight float64 lanes, added as a fixed
//     tree), then the rows in row order on the calling thread: the same bits for any thread count
//     and any instruction set, close to (not always equal to) the reference's element-order sum.
//   - Same bits as the reference: Adam, normal, repeat_rows, iwae_bound (only the loops are new).
//     The linear layer's GEMMs run block by block on one thread each, which OpenBLAS rounds
//     differently from one multi-threaded call (a few ulp), and linear_forward adds the product
//     to the bias (beta = 1) instead of the bias to the product; the others use exp_approx and
//     log1p_unit (a few ulp from expf, log1pf).
#pragma once
#include "host/backend.hpp"
#include "host/cpu/fast/pool.hpp"

namespace cuvae::cpu::fast {

void linear_forward(Pool& pool, const Tensor& x, const Tensor& w, const Tensor& b, Activation act, const Tensor& y);
void linear_backward(Pool& pool, const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy, const Tensor* dx,
                     const Tensor& dw, const Tensor& db);
// Conv2d / ConvTranspose2d (conv.cpp): im2col and OpenBLAS sgemm on chunks of images, or for a
// Conv2d with few output channels the direct path (conv_direct.hpp); the plain double loops of
// tests/reference_conv.hpp are its oracle.
void conv2d_forward(Pool& pool, const Tensor& x, const Tensor& w, const Tensor& b, const ConvShape& s, Activation act,
                    const Tensor& y);
void conv2d_backward(Pool& pool, const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy,
                     const ConvShape& s, const Tensor* dx, const Tensor& dw, const Tensor& db);
void normal(Pool& pool, RngKey key, const Tensor& out);
void reparameterize(Pool& pool, const Tensor& mu, const Tensor& logvar, RngKey key, const Tensor& eps, const Tensor& z);
void reparameterize_backward(Pool& pool, const Tensor& logvar, const Tensor& eps, const Tensor& dz, const Tensor& dmu,
                             const Tensor& dlogvar);
void likelihood(Pool& pool, Likelihood kind, float sigma, const Tensor& pred, const Tensor& target, const Tensor* dpred,
                const Tensor* rows, const Tensor& term);
void kl_divergence(Pool& pool, const Tensor& mu, const Tensor& logvar, float weight, const Tensor* dmu,
                   const Tensor* dlogvar, const Tensor* rows, const Tensor& term);
void adam_step(Pool& pool, const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v,
               const StepScalars& s);

// IWAE
void repeat_rows(Pool& pool, const Tensor& src, int K, const Tensor& dst);
void iwae_bound(Pool& pool, const Tensor& recon, const Tensor& eps, const Tensor& z, const Tensor& logvar, int K,
                const Tensor& bound, const Tensor* elbo);

}  // namespace cuvae::cpu::fast
