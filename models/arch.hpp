// The layer stacks of each architecture (`--arch`): mlp, the hidden sizes of ModelConfig; conv,
// the convolutional encoder and decoder of the Keras and PyTorch MNIST VAEs:
//   encoder  Conv2d(C, 32, 4, 2, 1), ReLU, Conv2d(32, 64, 4, 2, 1), ReLU, Flatten,
//            Linear(64 * H/4 * W/4, 256), ReLU                  (encoder.0, encoder.2, encoder.5)
//   decoder  Linear(in, 256), ReLU, Linear(256, 64 * H/4 * W/4), ReLU, Unflatten(64, H/4, W/4),
//            ConvTranspose2d(64, 32, 4, 2, 1), ReLU, ConvTranspose2d(32, C, 4, 2, 1)
//                                                              (decoder.0, .2, .5, .7)
// conv64, PyTorch-VAE's VanillaVAE for 64x64 images (sides multiples of 32; s = side / 32):
//   encoder  five blocks encoder.{i}: Conv2d(in, c_i, 3, 2, 1) (.0), BatchNorm2d(c_i) (.1), LeakyReLU,
//            c = 32, 64, 128, 256, 512; Flatten (512 * s * s values)
//   decoder  decoder_input Linear(in, 512 * s * s) (no activation), Unflatten; four blocks decoder.{i}:
//            ConvTranspose2d(c, c', 3, 2, 1, output_padding 1), BatchNorm2d, LeakyReLU down to 32;
//            final_layer: one more such block 32 -> 32 (.0, .1), Conv2d(32, C, 3, 1, 1) (.3), the logits
//   (the vae's heads fc_mu, fc_logvar; after the blocks and a Flatten (.5), a classifier's net.6 and an
//   ae's encoder.6).
// Names are nn.Sequential's numbering, so a checkpoint loads into the same PyTorch modules.
#pragma once
#include <string>

#include "models/config.hpp"
#include "models/layers.hpp"

namespace cuvae {

inline constexpr int kConvWidth = kConvFeatures;  // the conv arch's dense hidden layer

// The encoder up to its last hidden layer, from `in` values per row (the image, or a cvae's image
// and label): the next module index after it and its width. Empty for an mlp without hidden layers.
struct Trunk {
  int next = 0, width = 0;
};
Trunk add_encoder_trunk(Stack& stack, ParamStore& params, const ModelConfig& c, const std::string& prefix, int in);

// The conv arch's two convolutions (prefix.0, prefix.2) on the input images: the width of their
// flattened output (64 * H/4 * W/4), which prefix.5 takes (a cvae's with the one-hot label beside).
int add_conv_features(Stack& stack, ParamStore& params, const ModelConfig& c, const std::string& prefix);

// The decoder from `in` values per row (the code, or a cvae's code and label) to input_dim values
// (logits or means; the last layer without activation).
void add_decoder(Stack& stack, ParamStore& params, const ModelConfig& c, int in);

}  // namespace cuvae
