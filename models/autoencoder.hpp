// The autoencoder family: an MLP encoder to a code and an MLP decoder back (ae), with no hidden
// layer and no activation (linear-ae, the lecture's "PCA as a one-hidden-layer linear network"),
// or trained on corrupted inputs against clean targets (dae); Bernoulli or Gaussian likelihood.
// State-dict names by nn.Sequential numbering: encoder.{i}, decoder.{i} (ReLU modules count).
#pragma once
#include "models/layers.hpp"
#include "models/model.hpp"

namespace cuvae {

class Autoencoder final : public Model {
 public:
  explicit Autoencoder(const ModelConfig& config);
  void allocate(Backend& backend, std::int64_t max_batch) override;
  std::vector<std::string> term_names() const override { return {"recon"}; }
  double loss(std::span<const float> terms, const StepScalars&) const override { return terms[0]; }
  void train_step(Backend& backend, const Batch& batch, std::uint64_t seed) override;
  void eval_batch(Backend& backend, const Batch& batch, RngKey key, bool noisy) override;
  Metrics metrics(std::span<const double> clean, std::span<const double> noisy) const override;
  Tensor encode(Backend& backend, const Tensor& x) override;
  Tensor decode(Backend& backend, const Tensor& z) override;

 private:
  // Encoder, decoder and the likelihood of x given the decoder's output; dpred when training.
  void forward(Backend& backend, const Tensor& input, const Tensor& target, bool with_grads);
  Tensor noisy(std::int64_t b) const { return noisy_.tensor().rows_view(0, b); }

  Stack encoder_, decoder_;
  Buffer noisy_;   // [max_batch, D]: the corrupted input (dae)
  Buffer pixels_;  // [max_batch, D]: sigmoid of the logits (bernoulli) for decode()
};

// The squared error summed over pixels, from the Gaussian term (nats) of D pixels with sigma.
double squared_error_from_gaussian(double recon, int D, double sigma);

}  // namespace cuvae
