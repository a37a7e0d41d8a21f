// The VAE: an MLP encoder (hidden layers only), the heads fc_mu and fc_logvar fused into one GEMM
// ([mu | logvar], read back through column views), the reparameterization, an MLP decoder, and
// the loss recon + beta * KL with beta the step's own (KL warm-up). Bernoulli or Gaussian
// likelihood. The default is pytorch/examples' 784-400-20: encoder.0 [400, 784], fc_mu and
// fc_logvar [20, 400], decoder.0 [400, 20], decoder.2 [784, 400].
#pragma once
#include "models/layers.hpp"
#include "models/model.hpp"

namespace cuvae {

class Vae final : public Model {
 public:
  explicit Vae(const ModelConfig& config);
  void allocate(Backend& backend, std::int64_t max_batch) override;
  std::vector<std::string> term_names() const override { return {"recon", "kl"}; }
  double loss(std::span<const float> terms, const StepScalars& s) const override {
    return double(terms[0]) + double(s.beta) * double(terms[1]);
  }
  void train_step(Backend& backend, const Batch& batch, std::uint64_t seed) override;
  void eval_batch(Backend& backend, const Batch& batch, RngKey key, bool noisy) override;
  Metrics metrics(std::span<const double> clean, std::span<const double> noisy) const override;
  Tensor encode(Backend& backend, const Tensor& x) override;
  Tensor decode(Backend& backend, const Tensor& z) override;
  Tensor encode_sample(Backend& backend, const Tensor& x, RngKey key) override;

  // Views valid after a forward over b rows (tests).
  Tensor eps(std::int64_t b) const { return eps_.tensor().rows_view(0, b); }
  Tensor pred(std::int64_t b) const { return decoder_.output(b); }

  // IWAE (Model::importance_bound)
  bool has_posterior() const override { return true; }
  void importance_bound(Backend& backend, const Batch& batch, int K, RngKey key, const Tensor& bound,
                        const Tensor* elbo) override;

 private:
  void forward(Backend& backend, const Tensor& x, RngKey key, bool at_step, bool with_grads);
  // The encoder, the heads and z = mu + sigma eps into z_ (eps keyed as reparameterize's).
  Tensor posterior(Backend& backend, const Tensor& x, RngKey key, bool at_step, Mode mode);
  Tensor stats(std::int64_t b) const { return head_.output(b); }  // [mu | logvar]
  Tensor hidden_out(const Tensor& x) const { return encoder_.empty() ? x : encoder_.output(x.rows()); }

  Stack encoder_, head_, decoder_;
  Buffer eps_, z_, dz_, pixels_;
  Buffer iwae_stats_, iwae_x_, iwae_recon_;  // IWAE: repeated [mu | logvar], repeated x, per-row recon
};

}  // namespace cuvae
