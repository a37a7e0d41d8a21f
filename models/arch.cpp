// The mlp and conv layer stacks (see arch.hpp).
#include "models/arch.hpp"

namespace cuvae {
namespace {

ConvShape conv4x4(int in_c, int h, int w, int out_c, bool transposed) {
  ConvShape s;
  s.in_c = in_c, s.in_h = h, s.in_w = w, s.out_c = out_c;
  s.kh = s.kw = 4, s.sh = s.sw = 2, s.ph = s.pw = 1, s.transposed = transposed;
  return s;
}

}  // namespace

Trunk add_encoder_trunk(Stack& stack, ParamStore& params, const ModelConfig& c, const std::string& prefix, int in) {
  if (c.arch != "conv") {
    const int next = stack.add_mlp(params, prefix, in, c.hidden, c.activation);
    return {next, c.hidden.empty() ? in : c.hidden.back()};
  }
  stack.add(params, prefix + ".5", add_conv_features(stack, params, c, prefix), kConvWidth, Activation::relu);
  return {7, kConvWidth};
}

int add_conv_features(Stack& stack, ParamStore& params, const ModelConfig& c, const std::string& prefix) {
  const ImageShape im = input_image(c);
  stack.add_conv(params, prefix + ".0", conv4x4(im.channels, im.height, im.width, 32, false), Activation::relu);
  stack.add_conv(params, prefix + ".2", conv4x4(32, im.height / 2, im.width / 2, 64, false), Activation::relu);
  return 64 * (im.height / 4) * (im.width / 4);
}

void add_decoder(Stack& stack, ParamStore& params, const ModelConfig& c, int in) {
  if (c.arch != "conv") {
    const int i = stack.add_mlp(params, "decoder", in, {c.hidden.rbegin(), c.hidden.rend()}, c.activation);
    stack.add(params, "decoder." + std::to_string(i), c.hidden.empty() ? in : c.hidden.front(), c.input_dim,
              Activation::none);
    return;
  }
  const ImageShape im = input_image(c);
  const int h = im.height / 4, w = im.width / 4;
  stack.add(params, "decoder.0", in, kConvWidth, Activation::relu);
  stack.add(params, "decoder.2", kConvWidth, 64 * h * w, Activation::relu);
  stack.add_conv(params, "decoder.5", conv4x4(64, h, w, 32, true), Activation::relu);
  stack.add_conv(params, "decoder.7", conv4x4(32, 2 * h, 2 * w, im.channels, true), Activation::none);
}

}  // namespace cuvae
