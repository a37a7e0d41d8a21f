// The conditional VAE (Kingma et al. 2014; Sohn et al. 2015) of the lecture: the VAE of vae.hpp
// with the one-hot class label y (C classes) concatenated to the encoder's input and to the
// decoder's input, q(z | x, y) and p(x | z, y). The concatenations are column views, not copies:
// the input workspace is [b, D + C] with the images in cols_view(0, D) (the trainer gathers them
// there: batch_input) and onehot(y) in cols_view(D, C); the code workspace is [b, L + C] with z
// from the reparameterization in cols_view(0, L) and onehot(y) in cols_view(L, C); the encoder
// and the decoder read their whole, dense workspaces. Loss recon + beta * KL as the vae's.
// State dict as the vae's, wider at the two inputs: encoder.0 [H, D + C], fc_mu and fc_logvar
// [L, H], decoder.0 [H, L + C], decoder.2 [D, H] (the default 784+10-400-20+10).
// --arch conv: the label joins the encoder after its convolutions (encoder.5 takes [the flattened
// conv features | onehot(y)], F + C values) and the decoder at its input (decoder.0 [256, L + C]);
// the images are then a dense workspace of their own (the convolutions read dense rows).
#pragma once
#include "models/layers.hpp"
#include "models/model.hpp"

namespace cuvae {

class Cvae final : public Model {
 public:
  explicit Cvae(const ModelConfig& config);
  void allocate(Backend& backend, std::int64_t max_batch) override;
  bool needs_labels() const override { return true; }
  bool conditional() const override { return true; }
  std::vector<std::string> term_names() const override { return {"recon", "kl"}; }
  double loss(std::span<const float> terms, const StepScalars& s) const override {
    return double(terms[0]) + double(s.beta) * double(terms[1]);
  }
  Tensor batch_input(const Tensor& own) const override { return images(own.rows()); }
  void train_step(Backend& backend, const Batch& batch, std::uint64_t seed) override;
  void eval_batch(Backend& backend, const Batch& batch, RngKey key, bool noisy) override;
  Metrics metrics(std::span<const double> clean, std::span<const double> noisy) const override;
  // Without labels: an Error (a cvae encodes and decodes given y).
  Tensor encode(Backend& backend, const Tensor& x) override;
  Tensor decode(Backend& backend, const Tensor& z) override;
  // The mean of q(z | x, y) [b, L] (dense), and the pixel means [b, D] of p(x | z, y).
  Tensor encode_given(Backend& backend, const Tensor& x, const Tensor& labels) override;
  Tensor decode_given(Backend& backend, const Tensor& z, const Tensor& labels) override;

  // IWAE (Model::importance_bound): the bound on log p(x | y), labels from batch.labels.
  bool has_posterior() const override { return true; }
  void importance_bound(Backend& backend, const Batch& batch, int K, RngKey key, const Tensor& bound,
                        const Tensor* elbo) override;

  // Views valid after a forward over b rows (tests).
  Tensor eps(std::int64_t b) const { return eps_.tensor().rows_view(0, b); }
  Tensor pred(std::int64_t b) const { return decoder_.output(b); }
  Tensor input(std::int64_t b) const { return input_.tensor().rows_view(0, b); }  // [x (conv: its features) | onehot(y)]
  Tensor code(std::int64_t b) const { return code_.tensor().rows_view(0, b); }    // [z | onehot(y)]
  Tensor images(std::int64_t b) const {
    return conv() ? images_.tensor().rows_view(0, b) : input(b).cols_view(0, config_.input_dim);
  }

 private:
  // x into the input workspace (no copy when x is already there) and onehot(y) beside it.
  void condition(Backend& backend, const Tensor& x, const Tensor& labels, Mode mode, const char* what);
  void encoder_forward(Backend& backend, std::int64_t b, Mode mode);
  void forward(Backend& backend, const Batch& batch, RngKey key, bool at_step, bool with_grads, const char* what);
  Tensor stats(std::int64_t b) const { return head_.output(b); }  // [mu | logvar]
  Tensor hidden_out(std::int64_t b) const { return encoder_.empty() ? input(b) : encoder_.output(b); }
  bool conv() const { return !conv_.empty(); }
  int label_at() const { return conv() ? conv_.out() : config_.input_dim; }  // the first onehot column of input()

  Stack conv_, encoder_, head_, decoder_;  // conv_: --arch conv's convolutions, before the label joins
  Buffer input_, code_, dcode_, eps_, codes_, pixels_;
  Buffer images_, dinput_, dfeatures_;  // conv: the dense images, d input(), its feature columns made dense
  Buffer iwae_stats_, iwae_x_, iwae_recon_;  // IWAE: repeated [mu | logvar], repeated x, per-row recon
};

}  // namespace cuvae
