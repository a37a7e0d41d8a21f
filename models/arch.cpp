// The mlp, conv and conv64 layer stacks (see arch.hpp).
#include "models/arch.hpp"

namespace cuvae {
namespace {

ConvShape conv4x4(int in_c, int h, int w, int out_c, bool transposed) {
  ConvShape s;
  s.in_c = in_c, s.in_h = h, s.in_w = w, s.out_c = out_c;
  s.kh = s.kw = 4, s.sh = s.sw = 2, s.ph = s.pw = 1, s.transposed = transposed;
  return s;
}

// conv64: 3x3 kernels, padding 1; stride 2 (a ConvTranspose2d with output_padding 1, doubling the sides) or 1.
ConvShape conv3x3(int in_c, int h, int w, int out_c, int stride, bool transposed) {
  ConvShape s;
  s.in_c = in_c, s.in_h = h, s.in_w = w, s.out_c = out_c;
  s.kh = s.kw = 3, s.sh = s.sw = stride, s.ph = s.pw = 1, s.transposed = transposed;
  if (transposed) s.oph = s.opw = 1;
  return s;
}

// A conv64 block: prefix.0 the convolution (no activation: BatchNorm2d follows), prefix.1 the
// BatchNorm2d with the LeakyReLU (prefix.2, a module without parameters).
void add_block(Stack& stack, ParamStore& params, const std::string& prefix, const ConvShape& s) {
  stack.add_conv(params, prefix + ".0", s, Activation::none);
  stack.add_batchnorm(params, prefix + ".1", s.out_c, Activation::leaky_relu);
}

// conv64's encoder: five stride-2 blocks prefix.0 .. prefix.4 on the input images; the flattened width.
int add_conv64_features(Stack& stack, ParamStore& params, const ModelConfig& c, const std::string& prefix) {
  const ImageShape im = input_image(c);
  int channels = im.channels, h = im.height, w = im.width;
  for (int i = 0; i < 5; ++i) {
    add_block(stack, params, prefix + "." + std::to_string(i), conv3x3(channels, h, w, kConv64Channels[i], 2, false));
    channels = kConv64Channels[i], h /= 2, w /= 2;
  }
  return channels * h * w;
}

// conv64's decoder (VanillaVAE's): decoder_input Linear(in, 512 * h * w) without activation, four
// ConvTranspose2d blocks decoder.0 .. decoder.3 (512 -> 256 -> 128 -> 64 -> 32), and final_layer: a
// fifth block (final_layer.0, .1; 32 -> 32) and Conv2d(32, C, 3, 1, 1) (final_layer.3), the logits.
void add_conv64_decoder(Stack& stack, ParamStore& params, const ModelConfig& c, int in) {
  const ImageShape im = input_image(c);
  int h = im.height / 32, w = im.width / 32, channels = kConv64Channels[4];
  stack.add(params, "decoder_input", in, channels * h * w, Activation::none);
  for (int i = 0; i < 5; ++i) {
    const int out = kConv64Channels[i == 4 ? 0 : 3 - i];
    add_block(stack, params, i == 4 ? std::string("final_layer") : "decoder." + std::to_string(i),
              conv3x3(channels, h, w, out, 2, true));
    channels = out, h *= 2, w *= 2;
  }
  stack.add_conv(params, "final_layer.3", conv3x3(channels, h, w, im.channels, 1, false), Activation::none);
}

}  // namespace

Trunk add_encoder_trunk(Stack& stack, ParamStore& params, const ModelConfig& c, const std::string& prefix, int in) {
  if (c.arch == "conv64") return {6, add_conv64_features(stack, params, c, prefix)};  // .5: the Flatten
  if (c.arch != "conv") {
    const int next = stack.add_mlp(params, prefix, in, c.hidden, c.activation);
    return {next, c.hidden.empty() ? in : c.hidden.back()};
  }
  stack.add(params, prefix + ".5", add_conv_features(stack, params, c, prefix), kConvWidth, Activation::relu);
  return {7, kConvWidth};
}

int add_conv_features(Stack& stack, ParamStore& params, const ModelConfig& c, const std::string& prefix) {
  if (c.arch == "conv64") return add_conv64_features(stack, params, c, prefix);
  const ImageShape im = input_image(c);
  stack.add_conv(params, prefix + ".0", conv4x4(im.channels, im.height, im.width, 32, false), Activation::relu);
  stack.add_conv(params, prefix + ".2", conv4x4(32, im.height / 2, im.width / 2, 64, false), Activation::relu);
  return 64 * (im.height / 4) * (im.width / 4);
}

void add_decoder(Stack& stack, ParamStore& params, const ModelConfig& c, int in) {
  if (c.arch == "conv64") return add_conv64_decoder(stack, params, c, in);
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
