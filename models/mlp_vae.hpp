// The MLP VAE (pytorch/examples' shape by default: 784-400-20, ReLU, Bernoulli decoder),
// with configurable input size, hidden sizes and latent size. Runs on any Backend.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/params.hpp"

namespace cuvae {

struct VaeConfig {
  int input_dim = 784;
  std::vector<int> hidden = {400};
  int latent = 20;
  float beta = 1.f;
};

std::string hidden_to_string(const std::vector<int>& hidden);      // "512,256"
std::vector<int> parse_hidden(std::string_view text);              // Error on bad text

// Per-batch losses, summed over the batch (divide by the batch size for per-image figures).
struct BatchLoss {
  double recon = 0;  // Bernoulli cross-entropy, nats
  double kl = 0;     // KL(q(z|x) || N(0, I)), nats
  double loss(float beta) const { return recon + beta * kl; }
};

// A fully connected layer y = act(x w^T + b) whose parameters live in a ParamStore.
struct Linear {
  std::size_t weight = 0, bias = 0;  // parameter indices; a fused head spans two of each
  std::size_t count = 1;             // 2 for the fused (mu, logvar) head
  int in = 0, out = 0;
  Activation act = Activation::none;
};

class MlpVae {
 public:
  // Registers the parameters (PyTorch names) in `params`, sizes activations for `max_batch`.
  MlpVae(const VaeConfig& config, ParamStore& params);
  // Allocates the activation workspace; call after params.allocate().
  void allocate_workspace(Backend& backend, std::int64_t max_batch);

  const VaeConfig& config() const { return config_; }

  // One training step's forward and backward: fills params.grads() with d loss / d params
  // for loss = sum over the batch of (recon + beta * kl). x: [b, input_dim], b <= max_batch.
  // eps is drawn with `key` (plus the backend's step position when at_step). The loss terms
  // stay on the device in terms(); read_loss() fetches them.
  void forward_backward(Backend& backend, const Tensor& x, RngKey key, bool at_step);
  // Forward and loss only (evaluation). Logits stay in logits() for images.
  void forward_loss(Backend& backend, const Tensor& x, RngKey key);
  // Decodes z [b, latent] into pixel means [b, input_dim] (sigmoid of the logits).
  void decode(Backend& backend, const Tensor& z, const Tensor& pixels);
  BatchLoss read_loss(Backend& backend) const;

  // Views valid after a forward over b rows.
  Tensor logits(std::int64_t b) const { return logits_.tensor().rows_view(0, b); }
  Tensor stats(std::int64_t b) const { return stats_.tensor().rows_view(0, b); }
  Tensor eps(std::int64_t b) const { return eps_.tensor().rows_view(0, b); }
  const Tensor& terms() const { return terms_.tensor(); }  // [2]: (recon, kl) batch sums

 private:
  void forward(Backend& backend, const Tensor& x, RngKey key, bool at_step, bool with_grads);
  void run_decoder(Backend& backend, const Tensor& z);  // z [b, latent] -> logits(b)
  Tensor weight(const Linear& l) const { return params_.value_span(l.weight, l.count); }
  Tensor bias(const Linear& l) const { return params_.value_span(l.bias, l.count); }
  std::size_t add_linear(const std::string& name, int in, int out);

  VaeConfig config_;
  ParamStore& params_;
  std::vector<Linear> encoder_;  // hidden layers, ReLU
  Linear head_;                  // [mu | logvar], fc21 and fc22 fused into one GEMM
  std::vector<Linear> decoder_;  // hidden layers (ReLU) then the output layer (logits)
  std::int64_t max_batch_ = 0;
  // Workspace: activations and their gradients, [max_batch, width].
  std::vector<Buffer> enc_act_, enc_grad_, dec_act_, dec_grad_;
  Buffer stats_, dstats_, eps_, z_, dz_, logits_, dlogits_, terms_;
};

}  // namespace cuvae
