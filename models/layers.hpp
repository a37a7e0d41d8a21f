// Layers: Linear (y = act(x w^T + b)), Conv2d / ConvTranspose2d (y = act(conv(x, w) + b)) and
// BatchNorm2d (y = act(gamma x_hat + beta)), the activation fused into the op's epilogue, whose
// parameters (and BatchNorm's running statistics, as buffers) live in the ParamStore under their
// PyTorch module path; and a Stack, a chain of them that owns its activations and their gradients,
// sized for a batch once (never inside a step). Activations are rows: a conv layer's NCHW planes
// flattened as x.view(B, -1) flattens them, so Flatten and Unflatten between layers cost nothing.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/params.hpp"

namespace cuvae {

// Training normalises a BatchNorm2d by the batch's statistics and updates its running ones;
// evaluation (eval, sampling, IWAE, scores) normalises by the running statistics, as PyTorch's
// model.train() and model.eval().
enum class Mode { train, eval };
inline constexpr float kBatchNormMomentum = 0.1f, kBatchNormEps = 1e-5f;  // PyTorch's defaults

struct Layer {
  std::size_t weight = 0, bias = 0;  // parameter indices; a fused layer spans `count` of each
  std::size_t count = 1;             // the VAE's (mu, logvar) heads: 2 weights, then 2 biases
  int in = 0, out = 0;               // values per row: features, or a conv layer's in_dim() and out_dim()
  Activation act = Activation::none;
  bool is_conv = false;              // a Conv2d or ConvTranspose2d of geometry `conv`
  ConvShape conv;
  int channels = 0;                  // a BatchNorm2d of this many channels (weight: gamma, bias: beta)
  std::size_t running = 0;           // its buffers: running_mean, then running_var
};

// Registers `name`.weight [out, in] and `name`.bias [out] (fan-in `in`).
Layer add_linear(ParamStore& params, const std::string& name, int in, int out, Activation act);
// Registers `name`.weight as PyTorch's Conv2d [out_c, in_c, kh, kw] or ConvTranspose2d
// [in_c, out_c, kh, kw] and `name`.bias [out_c], with PyTorch's fan-in for each (weight.size(1) *
// kh * kw: in_c for a Conv2d, out_c for a ConvTranspose2d).
Layer add_conv(ParamStore& params, const std::string& name, const ConvShape& shape, Activation act);

class Stack {
 public:
  // Appends a layer; `name` is its module path ("encoder.0").
  void add(ParamStore& params, const std::string& name, int in, int out, Activation act);
  // Appends in -> widths[0] -> ... layers, each followed by `act`, named prefix.{i} by nn.Sequential
  // numbering (an activation module counts: i steps by 2, by 1 for none). Returns the next index.
  int add_mlp(ParamStore& params, const std::string& prefix, int in, const std::vector<int>& widths, Activation act);
  // Appends a conv layer; its input must be the previous layer's output, as a row.
  void add_conv(ParamStore& params, const std::string& name, const ConvShape& shape, Activation act);
  // Appends a BatchNorm2d over the previous layer's output as `channels` planes: name.weight
  // (1s), name.bias (0s), buffers name.running_mean (0s) and name.running_var (1s). The previous
  // layer should have no activation; a BatchNorm2d is never a stack's first layer.
  void add_batchnorm(ParamStore& params, const std::string& name, int channels, Activation act);
  void add(const Layer& layer) { layers_.push_back(layer); }
  // Activations and gradients for up to max_batch rows.
  void allocate(Backend& backend, std::int64_t max_batch);

  bool empty() const { return layers_.empty(); }
  const std::vector<Layer>& layers() const { return layers_; }
  int in() const { return layers_.front().in; }
  int out() const { return layers_.back().out; }
  Activation out_act() const { return layers_.back().act; }

  // Runs the layers on x [b, in()]; the last layer's output is output(b). Mode::train updates the
  // BatchNorm layers' running statistics (and keeps what backward needs).
  void forward(Backend& backend, const ParamStore& params, const Tensor& x, Mode mode);
  // dy [b, out()]: the gradient w.r.t. the last layer's pre-activation output (grad_output(b) or
  // any tensor). Writes every parameter gradient; dx (if given) receives the gradient w.r.t. x's
  // pre-activation, x being x_act(previous pre-activation). After a Mode::train forward.
  void backward(Backend& backend, const ParamStore& params, const Tensor& x, Activation x_act, const Tensor& dy,
                const Tensor* dx);

  Tensor output(std::int64_t b) const { return acts_.back().tensor().rows_view(0, b); }
  Tensor grad_output(std::int64_t b) const { return grads_.back().tensor().rows_view(0, b); }

 private:
  std::vector<Layer> layers_;
  std::vector<Buffer> acts_, grads_;  // per layer, [max_batch, out]
  std::vector<Buffer> mean_, invstd_; // per layer: a BatchNorm2d's batch mean and 1/std [channels]
};

}  // namespace cuvae
