// The Model interface the trainer, the evaluation and the CLI use, with no model-specific code
// above it, and the factory that builds a model from its config (the checkpoint's JSON).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "models/config.hpp"
#include "models/params.hpp"

namespace cuvae {

// One batch: images x [b, input_dim] and, for a model that needs_labels(), their class labels
// [b, 1] int32 (gathered on the device with the images; empty otherwise).
struct Batch {
  Tensor x;
  Tensor labels;
  // Rows [first, first + count) of both (labels only when there are any).
  Batch rows(std::int64_t first, std::int64_t count) const {
    return {x.rows_view(first, count), labels.data ? labels.rows_view(first, count) : Tensor{}};
  }
};

// Named figures, in order (per image, nats unless the name says otherwise).
using Metrics = std::vector<std::pair<std::string, double>>;

class Model {
 public:
  explicit Model(ModelConfig config) : config_(std::move(config)) {}
  virtual ~Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return config_; }
  ParamStore& params() { return params_; }
  const ParamStore& params() const { return params_; }
  int input_dim() const { return config_.input_dim; }
  int latent() const { return config_.latent; }

  // Parameters (values, gradients, moments; not initialised) and the workspace for batches of up
  // to max_batch rows, on `backend`, which the model then uses for every call.
  virtual void allocate(Backend& backend, std::int64_t max_batch);
  std::int64_t max_batch() const { return max_batch_; }

  // False for a model fitted in closed form (fit() instead of train_step()).
  virtual bool trained_by_gradient() const { return true; }
  virtual void fit(Backend& backend, const Tensor& images);

  // The loss terms each step records (the history's columns), and the loss they make with the
  // step's scalars (the KL weight).
  virtual std::vector<std::string> term_names() const = 0;
  virtual double loss(std::span<const float> terms, const StepScalars& s) const = 0;
  // One training batch x [b, input_dim] at the backend's step position: every random number is
  // Philox (seed, purpose, the position's step); params().grads() and terms() are written.
  virtual void train_step(Backend& backend, const Batch& batch, std::uint64_t seed) = 0;
  // Evaluation forward of x: terms() get the batch sums. `key` draws the eps of a VAE; `noisy`
  // corrupts the input (a dae; keyed by key too) against the clean target.
  virtual void eval_batch(Backend& backend, const Batch& batch, RngKey key, bool noisy) = 0;
  // True for a model whose batches carry labels (conditional models, classifiers).
  virtual bool needs_labels() const { return false; }
  // False for a model with no decoder (a classifier): no reconstructions or samples to show, and
  // decode() and sample_prior() throw no_decoder_message().
  virtual bool generates() const { return true; }
  const Tensor& terms() const { return terms_.tensor(); }
  // Per-image term means of a test pass (clean, and noisy when has_noise()) as named figures.
  virtual Metrics metrics(std::span<const double> clean, std::span<const double> noisy) const = 0;
  bool has_noise() const { return config_.noise.kind != NoiseKind::none; }

  // The codes [b, latent] of x (a VAE: the mean of q(z|x)) and the pixel means [b, input_dim]
  // of z, as dense views of the model's workspace, valid until its next call; reconstruct is
  // decode(encode(x)); sample_prior fills z from the prior (N(0, I) unless the model says).
  virtual Tensor encode(Backend& backend, const Tensor& x) = 0;
  virtual Tensor decode(Backend& backend, const Tensor& z) = 0;
  Tensor reconstruct(Backend& backend, const Tensor& x) { return decode(backend, encode(backend, x)); }
  // The codes the decoder is trained on [b, latent] (a view as encode's): a VAE's draw
  // z = mu + sigma eps from q(z|x) (eps from `key`, element i*latent + l), a deterministic
  // encoder's codes (encode; the key unused).
  virtual Tensor encode_sample(Backend& backend, const Tensor& x, RngKey key) {
    (void)key;
    return encode(backend, x);
  }
  virtual void sample_prior(Backend& backend, RngKey key, const Tensor& z);
  // IWAE: true for a model with a posterior q(z|x) (a cvae: q(z|x, y)), which importance_bound needs.
  virtual bool has_posterior() const { return false; }
  // For each image of batch.x [n, input_dim] (with its labels, for a conditional model), K samples
  // z_k ~ q(z|x) (Philox key, element (i*K + k)*L + l: image i's K rows are one batch of
  // n*K <= max_batch() decoder rows; the encoder runs once per image); bound [n] receives
  // log 1/K sum_k w_k, elbo [n] (if given) 1/K sum_k log w_k, with log w_k = log p(x|z_k) +
  // log p(z_k) - log q(z_k|x), nats (device tensors). A model without a posterior: an Error.
  virtual void importance_bound(Backend& backend, const Batch& batch, int K, RngKey key, const Tensor& bound,
                                const Tensor* elbo);
  // After the parameters were loaded or fitted: whatever the model derives from them.
  virtual void loaded(Backend& backend) { (void)backend; }

  // cvae
  // Where the trainer gathers a training batch's images, given its own [b, input_dim] buffer: a
  // model that concatenates something beside the images (the cvae's [x | onehot(y)]) returns a
  // column view of its own input workspace, so the step copies nothing. Default: the trainer's.
  virtual Tensor batch_input(const Tensor& own) const { return own; }
  // True for a generative model conditioned on the class labels (the cvae): encode, decode and
  // sampling need labels [b, 1] int32, through the *_given calls (the others ignore the labels).
  virtual bool conditional() const { return false; }
  virtual Tensor encode_given(Backend& backend, const Tensor& x, const Tensor& labels) {
    (void)labels;
    return encode(backend, x);
  }
  virtual Tensor decode_given(Backend& backend, const Tensor& z, const Tensor& labels) {
    (void)labels;
    return decode(backend, z);
  }
  Tensor reconstruct_given(Backend& backend, const Tensor& x, const Tensor& labels) {
    return decode_given(backend, encode_given(backend, x, labels), labels);
  }

 protected:
  void check_batch(const Tensor& x, int cols, const char* what) const;
  // IWAE: n images x K samples must fit the rows the model was allocated for.
  void check_iwae_rows(std::int64_t n, int K) const;

  ModelConfig config_;
  ParamStore params_;
  std::int64_t max_batch_ = 0;
  Buffer terms_;  // [T]
};

// The model a config describes (registers its parameters under their PyTorch names).
std::unique_ptr<Model> make_model(const ModelConfig& config);
// "a classifier has no decoder": what decode, reconstruct and sample of a model that does not
// generate fail with.
std::string no_decoder_message(const ModelConfig& config);

}  // namespace cuvae
