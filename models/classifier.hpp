// The classifier: an MLP D -> hidden (each layer with the config's activation, ReLU by default)
// -> C logits, trained with the fused softmax cross-entropy (Backend::softmax_xent) on the labels
// gathered with the images. It is the feature network of a later FID-style score of generated
// images: encode() gives the penultimate-layer features (the last hidden layer's activations,
// [b, hidden.back()]), which that score compares between real and generated images.
// State-dict names by nn.Sequential numbering under one prefix: net.0 [hidden[0], D], net.2, ...,
// the logits layer last (the default 784-400-10 is net.0 [400, 784], net.2 [10, 400]).
// Terms xent (the batch sum) and correct (rows whose first argmax is the label); loss = xent;
// metrics xent per image and accuracy. No decoder: decode() and sample_prior() throw.
#pragma once
#include "models/layers.hpp"
#include "models/model.hpp"

namespace cuvae {

class Classifier final : public Model {
 public:
  explicit Classifier(const ModelConfig& config);
  void allocate(Backend& backend, std::int64_t max_batch) override;
  bool needs_labels() const override { return true; }
  bool generates() const override { return false; }
  std::vector<std::string> term_names() const override { return {"xent", "correct"}; }
  double loss(std::span<const float> terms, const StepScalars&) const override { return terms[0]; }
  void train_step(Backend& backend, const Batch& batch, std::uint64_t seed) override;
  void eval_batch(Backend& backend, const Batch& batch, RngKey key, bool noisy) override;
  Metrics metrics(std::span<const double> clean, std::span<const double> noisy) const override;
  // The penultimate-layer features [b, hidden.back()] (the later FID score's features).
  Tensor encode(Backend& backend, const Tensor& x) override;
  Tensor decode(Backend& backend, const Tensor& z) override;
  void sample_prior(Backend& backend, RngKey key, const Tensor& z) override;

  Tensor logits(std::int64_t b) const { return head_.output(b); }  // valid after a forward (tests)

 private:
  void forward(Backend& backend, const Batch& batch, bool with_grads);

  Stack features_, head_;  // net.0 .. net.{2(k-1)} (the hidden layers), then the logits layer
};

}  // namespace cuvae
