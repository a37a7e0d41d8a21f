// The op interface: every op a model needs, with one implementation per device (cpu/: the
// reference and fallback; cuda/: kernels + cuBLAS). Models and the trainer call only this.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "host/tensor.hpp"
#include "kernels/philox.cuh"

namespace cuvae {

enum class Activation { none, relu, sigmoid };
std::string_view to_string(Activation a);

// Hyperparameters in double, as PyTorch holds them (Python floats); each kernel receives the
// float scalars PyTorch would pass (for example 1 - beta2 rounded once, not 1 - float(beta2)).
struct AdamConfig {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // decoupled (AdamW) when > 0
};

// The float scalars of one Adam step t >= 1, computed once on the host for every backend.
struct AdamScalars {
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float step_size;   // lr / (1 - beta1^t)
  float bc2_sqrt;    // sqrt(1 - beta2^t)
  float eps;
  float decay;       // 1 - lr * weight_decay (1 when there is no weight decay)
};
AdamScalars adam_scalars(const AdamConfig& cfg, std::int64_t t);

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual std::string describe() const = 0;  // one line for logs: device name, threads

  // ---- memory ----
  virtual float* allocate(std::int64_t count) = 0;
  virtual void release(float* p) noexcept = 0;
  virtual void to_device(const Tensor& dst, const float* host) = 0;  // dst.numel() floats
  virtual void to_host(float* host, const Tensor& src) = 0;          // src.numel() floats
  virtual void fill(const Tensor& t, float value) = 0;
  virtual void synchronize() = 0;

  // ---- the training-step position ----
  // Kept on the device, so that a captured training step replays unchanged: the ops below that
  // work "at the position" read it there. step: Adam's t and the Philox counter of the step's
  // eps; batch: the index of the batch within the epoch.
  virtual void set_position(std::int64_t step, std::int64_t batch) = 0;
  virtual void advance_position() = 0;  // step += 1, batch += 1
  // This epoch's order of the training rows: the Philox permutation of 0..n-1 under key
  // (datasets/batches.hpp; n <= INT_MAX), made where the data is (a kernel on the GPU).
  virtual void shuffle(std::int64_t n, RngKey key) = 0;
  // At the position: dst[i, :] = src[order[batch * batch_size + i], :] for i < dst.rows().
  virtual void gather_batch(const Tensor& src, std::int64_t batch_size, const Tensor& dst) = 0;
  // At the position: history[batch, :] = terms (the per-batch loss terms of an epoch, [n, 2]).
  virtual void record_loss(const Tensor& terms, const Tensor& history) = 0;
  // Runs one training step as a replayable unit: the CUDA backend captures it into a graph the
  // first time it sees `shape_key` and replays that graph afterwards (so `step` must only
  // launch ops: no host reads, no allocation); the CPU backend calls it.
  virtual void run_step(std::uint64_t shape_key, const std::function<void()>& step) { step(); }

  // ---- ops (each checks its shapes once, with host/op_checks.hpp) ----
  // y = act(x w^T + b).  x [B, in], w [out, in], b [out], y [B, out].
  virtual void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Activation act,
                              const Tensor& y) = 0;

  // dy [B, out] is the gradient w.r.t. this layer's pre-activation output.
  // dw = dy^T x and db = column sums of dy (overwritten). If dx is given:
  // dx = (dy w) * act'(x), where x = x_act(previous pre-activation), so the previous layer
  // receives the gradient w.r.t. its own pre-activation.
  virtual void linear_backward(const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy,
                               const Tensor* dx, const Tensor& dw, const Tensor& db) = 0;

  // stats [B, 2L] holds [mu | logvar]. eps[b, l] = Philox normal (key, element b*L + l), where
  // with at_step the position's step is added to key.stream; z = mu + eps * exp(0.5 * logvar).
  virtual void reparameterize(const Tensor& stats, RngKey key, bool at_step, const Tensor& eps,
                              const Tensor& z) = 0;

  // dstats[:, :L] += dz;  dstats[:, L:] += dz * eps * 0.5 * exp(0.5 * logvar).
  virtual void reparameterize_backward(const Tensor& stats, const Tensor& eps, const Tensor& dz,
                                       const Tensor& dstats) = 0;

  // Fused VAE loss over a batch. recon = sum of Bernoulli cross-entropy of x given logits;
  // kl = -0.5 * sum(1 + logvar - mu^2 - exp(logvar)); loss = recon + beta * kl.
  // terms [2] receives (recon, kl) summed over the batch, in a fixed order (deterministic).
  // If given: dlogits = sigmoid(logits) - x, dstats = beta * d kl / d(mu, logvar) (overwritten).
  virtual void vae_loss(const Tensor& logits, const Tensor& x, const Tensor& stats, float beta,
                        const Tensor* dlogits, const Tensor* dstats, const Tensor& terms) = 0;

  // One bias-corrected Adam step over flat buffers, as torch.optim.Adam/AdamW, with t = the
  // position's step (>= 1).
  virtual void adam_step(const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v,
                         const AdamConfig& cfg) = 0;

  // y = sigmoid(x), elementwise (decoder logits to pixels for images).
  virtual void sigmoid(const Tensor& x, const Tensor& y) = 0;

  // out[i] = Philox normal (key, i).
  virtual void normal(RngKey key, const Tensor& out) = 0;
};

// The CPU backend (host/cpu/): threads <= 0 means all hardware threads.
std::unique_ptr<Backend> make_cpu_backend(int threads);

// A one-line note when OpenBLAS picked kernels far below the CPU: 0.3.21 (Debian 12) falls back to
// its SSE3 "Prescott" kernels on x86 models it does not know, about half the speed of its AVX-512
// ones; OPENBLAS_CORETYPE (read when the library loads) overrides the choice. Empty otherwise.
std::string blas_kernel_note(std::string_view corename, bool avx2, bool avx512);
std::string blas_kernel_note();  // for this process: OpenBLAS's choice and this CPU's features

}  // namespace cuvae
