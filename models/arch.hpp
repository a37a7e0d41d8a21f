// The layer stacks of each architecture (`--arch`): mlp, the hidden sizes of ModelConfig; conv,
// the convolutional encoder and decoder of the Keras and PyTorch MNIST VAEs:
//   encoder  Conv2d(C, 32, 4, 2, 1), ReLU, Conv2d(32, 64, 4, 2, 1), ReLU, Flatten,
//            Linear(64 * H/4 * W/4, 256), ReLU                  (encoder.0, encoder.2, encoder.5)
//   decoder  Linear(in, 256), ReLU, Linear(256, 64 * H/4 * W/4), ReLU, Unflatten(64, H/4, W/4),
//            ConvTranspose2d(64, 32, 4, 2, 1), ReLU, ConvTranspose2d(32, C, 4, 2, 1)
//                                                              (decoder.0, .2, .5, .7)
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
