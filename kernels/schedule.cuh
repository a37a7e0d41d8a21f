// kernels/schedule.cuh: the per-step scalars of a training run (Adam's bias-corrected step size
// under learning-rate decay, AdamW's decay factor, the KL weight under warm-up, the noise level),
// computed from the step position and the run's schedule by one __host__ __device__ function, so
// the CPU backend and the CUDA kernel that writes them at the top of each captured step agree, and
// a replayed graph sees each step's own values (nothing step-dependent is baked into a launch).
#pragma once
#include <vector_types.h>  // __host__ __device__ (empty for a host compiler)

#include <cmath>

namespace cuvae {

// Adam's hyperparameters in double, as PyTorch holds them (Python floats); each kernel receives
// the float scalars PyTorch would pass (for example 1 - beta2 rounded once, not 1 - float(beta2)).
struct AdamConfig {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // decoupled (AdamW) when > 0: p *= 1 - lr_e * weight_decay
  double l2 = 0.0;            // an L2 penalty in the loss, as torch.optim.Adam's weight_decay: g += l2 * p
};

// What the run fixes once (set on the device before the first step, never inside a capture).
struct Schedule {
  AdamConfig adam;
  double lr_decay = 1.0;       // ExponentialLR gamma, stepped once per epoch: lr_e = lr * gamma^(e - 1)
  double beta = 1.0;           // KL weight after warm-up
  long long kl_warmup = 0;     // steps: beta_t = beta * min(1, (t - 1) / kl_warmup), 0 = no warm-up
  double noise = 0.0;          // corruption level of a denoising autoencoder (P or sigma)
};

// The scalars of step t (Adam's t >= 1) in epoch e (>= 1). Read on the device as a float array:
// the StepScalar enum (host/backend.hpp) indexes it, so keep the order.
struct StepScalars {
  float beta;            // the KL weight of this step
  float noise;           // the corruption level of this step
  float lr;              // lr_e, for logs
  float adam_step_size;  // lr_e / (1 - beta1^t)
  float adam_bc2_sqrt;   // sqrt(1 - beta2^t)
  float adam_decay;      // 1 - lr_e * weight_decay
  float adam_beta1, adam_one_minus_beta1, adam_beta2, adam_one_minus_beta2, adam_eps;
  float adam_l2;         // g += l2 * p before the moments (0: none)
};
inline constexpr int kStepScalarCount = 12;

__host__ __device__ inline StepScalars step_scalars(const Schedule& s, long long t, long long epoch) {
  const AdamConfig& a = s.adam;
  const double lr = s.lr_decay == 1.0 ? a.lr : a.lr * pow(s.lr_decay, static_cast<double>(epoch - 1));
  const double bc1 = 1.0 - pow(a.beta1, static_cast<double>(t));
  const double bc2 = 1.0 - pow(a.beta2, static_cast<double>(t));
  double beta = s.beta;
  if (s.kl_warmup > 0 && t - 1 < s.kl_warmup) beta = s.beta * static_cast<double>(t - 1) / static_cast<double>(s.kl_warmup);
  StepScalars out;
  out.adam_step_size = static_cast<float>(lr / bc1);
  out.adam_bc2_sqrt = static_cast<float>(sqrt(bc2));
  out.adam_decay = static_cast<float>(1.0 - lr * a.weight_decay);
  out.adam_beta1 = static_cast<float>(a.beta1);
  out.adam_one_minus_beta1 = static_cast<float>(1.0 - a.beta1);
  out.adam_beta2 = static_cast<float>(a.beta2);
  out.adam_one_minus_beta2 = static_cast<float>(1.0 - a.beta2);
  out.adam_eps = static_cast<float>(a.eps);
  out.adam_l2 = static_cast<float>(a.l2);
  out.beta = static_cast<float>(beta);
  out.noise = static_cast<float>(s.noise);
  out.lr = static_cast<float>(lr);
  return out;
}

}  // namespace cuvae
