// Linear and conv layers and Stacks over the op interface (see layers.hpp).
#include "models/layers.hpp"

namespace cuvae {

Layer add_linear(ParamStore& params, const std::string& name, int in, int out, Activation act) {
  Layer l;
  l.weight = params.add(name + ".weight", Shape{out, in}, in);
  l.bias = params.add(name + ".bias", Shape{out}, in);
  l.in = in, l.out = out, l.act = act;
  return l;
}

Layer add_conv(ParamStore& params, const std::string& name, const ConvShape& s, Activation act) {
  Layer l;
  const std::int64_t fan_in = s.weight_cols();  // big_c * kh * kw: PyTorch's weight.size(1) * kh * kw for both
  l.weight = params.add(name + ".weight", Shape{s.small_c(), s.big_c(), s.kh, s.kw}, fan_in);
  l.bias = params.add(name + ".bias", Shape{s.out_c}, fan_in);
  l.in = static_cast<int>(s.in_dim()), l.out = static_cast<int>(s.out_dim()), l.act = act;
  l.is_conv = true, l.conv = s;
  return l;
}

void Stack::add_conv(ParamStore& params, const std::string& name, const ConvShape& shape, Activation act) {
  CUVAE_CHECK(layers_.empty() || layers_.back().out == shape.in_dim(),
              name + ": input " + std::to_string(shape.in_dim()) + " after a layer of " + std::to_string(layers_.back().out));
  layers_.push_back(cuvae::add_conv(params, name, shape, act));
}

void Stack::add_batchnorm(ParamStore& params, const std::string& name, int channels, Activation act) {
  CUVAE_CHECK(!layers_.empty() && channels > 0 && layers_.back().out % channels == 0,
              name + ": a BatchNorm2d of " + std::to_string(channels) + " channels after " +
                  (layers_.empty() ? std::string("nothing") : "a layer of " + std::to_string(layers_.back().out)));
  Layer l;
  l.weight = params.add(name + ".weight", Shape{channels}, 0, 1.f);
  l.bias = params.add(name + ".bias", Shape{channels}, 0, 0.f);
  l.running = params.add_buffer(name + ".running_mean", Shape{channels}, 0.f);
  params.add_buffer(name + ".running_var", Shape{channels}, 1.f);
  l.in = l.out = layers_.back().out, l.act = act, l.channels = channels;
  layers_.push_back(l);
}

void Stack::add(ParamStore& params, const std::string& name, int in, int out, Activation act) {
  CUVAE_CHECK(layers_.empty() || layers_.back().out == in, name + ": input " + std::to_string(in) +
                                                               " after a layer of " + std::to_string(layers_.back().out));
  layers_.push_back(add_linear(params, name, in, out, act));
}

int Stack::add_mlp(ParamStore& params, const std::string& prefix, int in, const std::vector<int>& widths,
                   Activation act) {
  int index = 0;
  for (int w : widths) {
    add(params, prefix + "." + std::to_string(index), in, w, act);
    in = w, index += act == Activation::none ? 1 : 2;
  }
  return index;
}

void Stack::allocate(Backend& backend, std::int64_t max_batch) {
  CUVAE_CHECK(max_batch > 0, "max_batch " + std::to_string(max_batch));
  acts_.clear(), grads_.clear(), mean_.clear(), invstd_.clear();
  for (const Layer& l : layers_) {
    acts_.emplace_back(backend, Shape{max_batch, l.out});
    grads_.emplace_back(backend, Shape{max_batch, l.out});
    mean_.emplace_back(), invstd_.emplace_back();
    if (l.channels) mean_.back() = Buffer(backend, Shape{l.channels}), invstd_.back() = Buffer(backend, Shape{l.channels});
  }
}

void Stack::forward(Backend& backend, const ParamStore& params, const Tensor& x, Mode mode) {
  const std::int64_t b = x.rows();
  Tensor h = x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    Tensor y = acts_[i].tensor().rows_view(0, b);
    if (l.channels) {
      backend.batchnorm2d_forward(h, params.value(l.weight), params.value(l.bias), mode == Mode::train,
                                  kBatchNormMomentum, kBatchNormEps, params.buffer(l.running),
                                  params.buffer(l.running + 1), mean_[i].tensor(), invstd_[i].tensor(), l.act, y);
    } else if (l.is_conv)
      backend.conv2d_forward(h, params.value(l.weight), params.value(l.bias), l.conv, l.act, y);
    else
      backend.linear_forward(h, params.value_span(l.weight, l.count), params.value_span(l.bias, l.count), l.act, y);
    h = y;
  }
}

void Stack::backward(Backend& backend, const ParamStore& params, const Tensor& x, Activation x_act, const Tensor& dy,
                     const Tensor* dx) {
  const std::int64_t b = x.rows();
  Tensor g = dy;
  for (std::size_t i = layers_.size(); i-- > 0;) {
    const Layer& l = layers_[i];
    const bool first = i == 0;
    const Tensor input = first ? x : acts_[i - 1].tensor().rows_view(0, b);
    const Activation input_act = first ? x_act : layers_[i - 1].act;
    Tensor prev = first ? Tensor{} : grads_[i - 1].tensor().rows_view(0, b);
    const Tensor* out = first ? dx : &prev;
    if (l.channels) {  // g is already the gradient w.r.t. the pre-activation (the next layer applied act')
      CUVAE_CHECK(out != nullptr, "a BatchNorm2d as a stack's first layer");
      backend.batchnorm2d_backward(input, acts_[i].tensor().rows_view(0, b), Activation::none, g,
                                   params.value(l.weight), mean_[i].tensor(), invstd_[i].tensor(), *out,
                                   params.grad(l.weight), params.grad(l.bias));
    } else if (l.is_conv)
      backend.conv2d_backward(input, input_act, params.value(l.weight), g, l.conv, out, params.grad(l.weight),
                              params.grad(l.bias));
    else
      backend.linear_backward(input, input_act, params.value_span(l.weight, l.count), g, out,
                              params.grad_span(l.weight, l.count), params.grad_span(l.bias, l.count));
    if (!first) g = prev;
  }
}

}  // namespace cuvae
