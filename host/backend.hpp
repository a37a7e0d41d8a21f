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
#include "kernels/conv_shape.cuh"
#include "kernels/philox.cuh"
#include "kernels/schedule.cuh"

namespace cuvae {

// leaky_relu: v for v > 0, else kLeakyReluSlope * v (torch.nn.LeakyReLU's default slope).
enum class Activation { none, relu, sigmoid, leaky_relu };
inline constexpr float kLeakyReluSlope = 0.01f;
std::string_view to_string(Activation a);

// Reconstruction likelihoods: Bernoulli from logits (cross-entropy), Gaussian with a fixed sigma.
enum class Likelihood { bernoulli, gaussian };
// Input corruption of a denoising autoencoder (level: P for mask and salt-and-pepper, sigma for gaussian).
enum class NoiseKind { none, mask, gaussian, saltpepper };

// Which of the step's own scalars (kernels/schedule.cuh: StepScalars, written on the device at the
// top of every step) an op reads; the values are the indices of StepScalars' floats.
enum class StepScalar : int { none = -1, beta = 0, noise = 1 };
// A scalar operand: a constant, or the step's own value, read where the op runs (so a captured
// step replays with each step's value instead of the one at capture).
struct Scalar {
  float value = 1.f;
  StepScalar slot = StepScalar::none;
  static Scalar at_step(StepScalar s) { return Scalar{0.f, s}; }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual std::string describe() const = 0;  // one line for logs: device name, threads

  // ---- memory ----
  virtual float* allocate(std::int64_t count) = 0;  // count 4-byte elements
  virtual void release(float* p) noexcept = 0;
  virtual void to_device(const Tensor& dst, const float* host) = 0;  // dst.numel() elements, dense
  virtual void to_host(float* host, const Tensor& src) = 0;          // src.numel() elements, dense
  virtual void fill(const Tensor& t, float value) = 0;
  virtual void synchronize() = 0;
  // Workspace for ops over up to `rows` rows (the loss ops' per-row sums), sized when a model is
  // allocated, never inside a captured step; an op over more rows than reserved is an Error.
  virtual void reserve_rows(std::int64_t rows) { (void)rows; }

  // ---- the training-step position and schedule ----
  // Kept on the device, so that a captured training step replays unchanged: the ops below that
  // work "at the position" read it there. step: Adam's t and the Philox counter of the step's
  // random numbers; batch: the index of the batch within the epoch; epoch: 1-based.
  virtual void set_position(std::int64_t step, std::int64_t batch, std::int64_t epoch = 1) = 0;
  virtual void advance_position() = 0;  // step += 1, batch += 1
  // The run's schedule (learning rate and its decay, Adam, KL weight and warm-up, noise level);
  // set before the first step, not inside one.
  virtual void set_schedule(const Schedule& schedule) = 0;
  // The top of a step: the step's scalars (StepScalars) from the position and the schedule.
  virtual void update_step_scalars() = 0;
  // This epoch's order of the training rows: the Philox permutation of 0..n-1 under key
  // (host/order.hpp; n <= INT_MAX), made where the data is (a kernel on the GPU).
  virtual void shuffle(std::int64_t n, RngKey key) = 0;
  // At the position: dst[i, :] = src[order[batch * batch_size + i], :] for i < dst.rows(). dst may
  // be a column view; src is dense; 4-byte elements of either type (images or int32 labels).
  virtual void gather_batch(const Tensor& src, std::int64_t batch_size, const Tensor& dst) = 0;
  // At the position: history[batch, :] = terms (the step's T loss terms; history [batches, T]).
  virtual void record_terms(const Tensor& terms, const Tensor& history) = 0;
  // Runs one training step as a replayable unit: the CUDA backend captures it into a graph the
  // first time it sees `shape_key` and replays that graph afterwards (so `step` must only
  // launch ops: no host reads, no allocation); the CPU backend calls it.
  virtual void run_step(std::uint64_t shape_key, const std::function<void()>& step) { step(); }

  // ---- ops (each checks its shapes once, with host/op_checks.hpp). The [B, n] operands of the
  // latent, loss, corrupt and gather ops may be column views (a row stride); GEMM operands, eps
  // and the flat Adam buffers are dense. ----
  // y = act(x w^T + b).  x [B, in], w [out, in], b [out], y [B, out].
  virtual void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Activation act,
                              const Tensor& y) = 0;

  // dy [B, out] is the gradient w.r.t. this layer's pre-activation output.
  // dw = dy^T x and db = column sums of dy (overwritten). If dx is given:
  // dx = (dy w) * act'(x), where x = x_act(previous pre-activation), so the previous layer
  // receives the gradient w.r.t. its own pre-activation.
  virtual void linear_backward(const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy,
                               const Tensor* dx, const Tensor& dw, const Tensor& db) = 0;

  // Conv2d (s.transposed false) or ConvTranspose2d (true) on NCHW rows (kernels/conv_shape.cuh):
  // x [B, s.in_dim()], w as PyTorch stores it (Conv2d [out_c, in_c, kh, kw], ConvTranspose2d
  // [in_c, out_c, kh, kw]; any rank with that many elements and s.small_c() rows), b [out_c],
  // y [B, s.out_dim()] = act(conv(x, w) + b, per output channel). All dense.
  virtual void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, const ConvShape& s, Activation act,
                              const Tensor& y) = 0;
  // As linear_backward: dy [B, s.out_dim()] is the gradient w.r.t. the pre-activation output;
  // dw (w's shape) and db [out_c] (the sum of dy over the batch and the pixels) are overwritten;
  // dx (if given) = the gradient w.r.t. x times act'(x), x = x_act(previous pre-activation).
  virtual void conv2d_backward(const Tensor& x, Activation x_act, const Tensor& w, const Tensor& dy, const ConvShape& s,
                               const Tensor* dx, const Tensor& dw, const Tensor& db) = 0;

  // BatchNorm2d on NCHW rows x [B, C*H*W] (C = gamma.numel()) then act (any Activation; conv64
  // uses leaky_relu); y [B, C*H*W]; every per-channel tensor has C elements. All dense. training:
  // the batch's mean and biased variance per channel over (B, H, W), saved to save_mean /
  // save_invstd (1 / sqrt(var + eps)) for the backward pass, and running_mean / running_var updated
  // with `momentum` ((1 - momentum) running + momentum batch, the unbiased variance, as PyTorch);
  // B * H*W must be at least 2. Otherwise the running statistics normalise and nothing is updated
  // (save_* untouched). y = act(gamma (x - mean) invstd + beta). Sums in a fixed order.
  virtual void batchnorm2d_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, bool training,
                                   float momentum, float eps, const Tensor& running_mean, const Tensor& running_var,
                                   const Tensor& save_mean, const Tensor& save_invstd, Activation act,
                                   const Tensor& y) = 0;
  // Training-mode backward: dy is the gradient w.r.t. the activation's output y (the forward's
  // output, for the activation's derivative); writes dx [B, C*H*W] (the gradient w.r.t. x),
  // dgamma [C] and dbeta [C] (overwritten), from the forward's save_mean and save_invstd.
  virtual void batchnorm2d_backward(const Tensor& x, const Tensor& y, Activation act, const Tensor& dy,
                                    const Tensor& gamma, const Tensor& save_mean, const Tensor& save_invstd,
                                    const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) = 0;

  // mu, logvar, z [B, L]; eps [B, L] dense. eps[b, l] = Philox normal (key, element b*L + l), where
  // with at_step the position's step is added to key.stream; z = mu + eps * exp(0.5 * logvar).
  virtual void reparameterize(const Tensor& mu, const Tensor& logvar, RngKey key, bool at_step, const Tensor& eps,
                              const Tensor& z) = 0;

  // dmu += dz;  dlogvar += dz * eps * 0.5 * exp(0.5 * logvar).
  virtual void reparameterize_backward(const Tensor& logvar, const Tensor& eps, const Tensor& dz,
                                       const Tensor& dmu, const Tensor& dlogvar) = 0;

  // Reconstruction term over a batch: pred, target [B, D]; per row the sum over j of
  //   bernoulli: the cross-entropy of target given logits pred (max(l,0) - x l + log(1 + e^-|l|));
  //   gaussian:  0.5 ((x - pred) / sigma)^2 + log(sigma sqrt(2 pi)).
  // term [1] receives the sum over rows in a fixed order (the same bits every run); rows [B]
  // (if given) the per-row values; dpred (if given) d term / d pred (overwritten).
  virtual void likelihood(Likelihood kind, float sigma, const Tensor& pred, const Tensor& target, const Tensor* dpred,
                          const Tensor* rows, const Tensor& term) = 0;

  // KL(N(mu, exp(logvar)) || N(0, I)) over a batch: mu, logvar [B, L]; per row
  // -0.5 sum_l (1 + logvar - mu^2 - exp(logvar)); term [1] and rows as for likelihood;
  // dmu = w mu, dlogvar = w 0.5 (exp(logvar) - 1) (overwritten, if given), w = the weight.
  virtual void kl_divergence(const Tensor& mu, const Tensor& logvar, Scalar weight, const Tensor* dmu,
                             const Tensor* dlogvar, const Tensor* rows, const Tensor& term) = 0;

  // out = x corrupted element by element (x, out [B, D]): mask zeroes a pixel with probability P,
  // gaussian adds N(0, sigma^2) and clips to [0, 1], saltpepper sets it to 0 or 1 with
  // probability P/2 each; Philox (key, element b*D + j), the position's step added to key.stream
  // when at_step; the level may be the step's own.
  virtual void corrupt(NoiseKind kind, Scalar level, const Tensor& x, RngKey key, bool at_step, const Tensor& out) = 0;

  // One bias-corrected Adam step over flat buffers, as torch.optim.Adam/AdamW, with the step's
  // scalars (update_step_scalars: t = the position's step >= 1, the learning rate of its epoch).
  virtual void adam_step(const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v) = 0;

  // dst = src, elementwise over [B, n] (either may be a view: a column view made dense).
  virtual void copy(const Tensor& src, const Tensor& dst) = 0;

  // y = sigmoid(x), elementwise (decoder logits to pixels for images). Views allowed.
  virtual void sigmoid(const Tensor& x, const Tensor& y) = 0;

  // out[i] = Philox normal (key, i); out dense.
  virtual void normal(RngKey key, const Tensor& out) = 0;

  // Closed-form PCA of x [N, D] (N >= 2, 1 <= K <= D): mean [D], components [K, D] (orthonormal
  // rows by descending variance, the largest-magnitude entry of each positive), variance [K]
  // (eigenvalues of the covariance divided by N - 1).
  virtual void pca_fit(const Tensor& x, int K, const Tensor& mean, const Tensor& components,
                       const Tensor& variance) = 0;

  // IWAE (the importance-weighted bound, kernels/iwae.cuh; either operand of each may be a view)
  // dst[r, :] = src[r / K, :]: src [n, C], dst [n*K, C].
  virtual void repeat_rows(const Tensor& src, int K, const Tensor& dst) = 0;
  // Per image i of n, over its K samples r = i*K + k: log w_r = -recon[r] + sum_l (eps[r,l]^2 -
  // z[r,l]^2) / 2 + logvar[i,l] / 2; bound[i] = the log-mean-exp of its K log w (stable, fixed
  // order), elbo[i] (if given) their mean. recon [n*K] (the likelihood op's rows), eps, z [n*K, L],
  // logvar [n, L], bound and elbo [n] dense.
  virtual void iwae_bound(const Tensor& recon, const Tensor& eps, const Tensor& z, const Tensor& logvar, int K,
                          const Tensor& bound, const Tensor* elbo) = 0;

  // softmax cross-entropy
  // A classifier's loss over a batch: logits [B, C] (a view allowed), labels [B, 1] int32 (dense).
  // Per row -log softmax(logits)[y] = log sum_j exp(l_j - max) + max - l_y; dlogits (if given)
  // softmax(logits) - onehot(y) (overwritten); rows [B] (if given) the per-row values. terms [2]:
  // terms[0] the sum over rows in a fixed order (the same bits every run), terms[1] the count of
  // rows whose argmax (the first maximum on ties) is the label. A label outside 0..C-1 is never
  // used as an index: its row value and gradient are NaN and it does not count as correct.
  virtual void softmax_xent(const Tensor& logits, const Tensor& labels, const Tensor* dlogits, const Tensor* rows,
                            const Tensor& terms) = 0;

  // cvae
  // One-hot labels: out[b, j] = 1 if j == labels[b], else 0; labels [B, 1] int32 (dense), out
  // [B, C] (a column view allowed: a conditional model writes the condition beside its input).
  // A label outside 0..C-1 is never used as an index: its row is all NaN.
  virtual void one_hot(const Tensor& labels, const Tensor& out) = 0;
};

// The CPU backend (host/cpu/): threads <= 0 means all hardware threads.
std::unique_ptr<Backend> make_cpu_backend(int threads);

// A one-line note when OpenBLAS picked kernels far below the CPU: 0.3.21 (Debian 12) falls back to
// its SSE3 "Prescott" kernels on x86 models it does not know, about half the speed of its AVX-512
// ones; OPENBLAS_CORETYPE (read when the library loads) overrides the choice. Empty otherwise.
std::string blas_kernel_note(std::string_view corename, bool avx2, bool avx512);
std::string blas_kernel_note();  // for this process: OpenBLAS's choice and this CPU's features

}  // namespace cuvae
