// ModelConfig: what a model is (kind, sizes, likelihood, KL weight, noise), as the command line
// spells it and as the checkpoint's metadata holds it (JSON), with the checks of both.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "host/backend.hpp"
#include "host/image.hpp"

namespace cuvae {

// Input corruption of a denoising autoencoder: "mask:P", "gaussian:S", "saltpepper:P" or "none".
struct NoiseSpec {
  NoiseKind kind = NoiseKind::none;
  double level = 0.0;
  std::string str() const;
};
NoiseSpec parse_noise(std::string_view text);  // an Error naming --noise on bad text

struct ModelConfig {
  std::string model = "vae";          // pca, ae, linear-ae, dae, vae, classifier, cvae
  int input_dim = 784;
  ImageShape image{0, 0, 0};          // the input's image shape (0s: input_image's square); dim() == input_dim
  std::string arch = "mlp";           // mlp (the hidden sizes) or conv (models/arch.hpp)
  std::vector<int> hidden = {400};    // empty: no hidden layer (mlp)
  Activation activation = Activation::relu;  // of the hidden layers
  int latent = 20;                    // code size (PCA: components)
  Likelihood likelihood = Likelihood::bernoulli;
  double sigma = 1.0;                 // gaussian likelihood
  double beta = 1.0;                  // KL weight (vae)
  NoiseSpec noise;                    // dae
  double total_variance = 0.0;        // pca: the training split's total variance (for the explained ratio)
  int classes = 0;                    // classifier, cvae: C (0 on the command line: max training label + 1)
};

// The conv arch's features: its dense hidden layer (models/arch.hpp's kConvWidth).
inline constexpr int kConvFeatures = 256;
// conv64: the channels of its five stride-2 blocks (PyTorch-VAE's VanillaVAE), and its default latent.
inline constexpr int kConv64Channels[5] = {32, 64, 128, 256, 512};
inline constexpr int kConv64Latent = 128;

// Size limits of every config, from the command line or a checkpoint.
inline constexpr int kMaxInputDim = 1 << 24;
inline constexpr int kMaxHidden = 65536;
inline constexpr std::size_t kMaxHiddenLayers = 64;
inline constexpr int kMaxLatent = 65536;
inline constexpr int kMaxClasses = 65536;

// Known model names, for --model's help and errors.
inline constexpr const char* kModelNames = "pca, ae, linear-ae, dae, vae, classifier, cvae";
inline constexpr const char* kArchNames = "mlp, conv, conv64";

// True for a model with class count `classes` (the classifier; cvae: the conditional VAE).
inline bool has_classes(const ModelConfig& c) { return c.model == "classifier" || c.model == "cvae"; }
// cvae: true for the classifier only (no code: its latent is unused, its features are its last hidden layer).
inline bool is_classifier(const ModelConfig& c) { return c.model == "classifier"; }
// The shape of the model's input images: c.image when set, else a grey square of input_dim pixels
// (or one row of them).
inline ImageShape input_image(const ModelConfig& c) { return c.image.channels ? c.image : square_image_shape(c.input_dim); }
// "mlp", "conv" or "conv64", else an Error naming --arch.
// The width of a convolutional encoder's features (a cvae's, before the label joins; a classifier's,
// its encode()): conv, its dense layer of 256; conv64, its last block flattened (512 * H/32 * W/32).
int conv_features(const ModelConfig& c);
std::string parse_arch(std::string_view text);
// The columns of the model's encode(): its code size (latent), a classifier's features (its last
// hidden layer).
int code_size(const ModelConfig& c);
// "784-400-20", a classifier "784-400-10" (its logits).
std::string sizes_text(const ModelConfig& c);

// The defaults of a model name given on the command line (linear-ae: no hidden layer, no
// activation, gaussian; dae: mask:0.25); an Error for an unknown name.
ModelConfig default_config(std::string_view model);
// Throws an Error naming the first bad field (`what`: "--latent", or a checkpoint's file name).
void validate(const ModelConfig& c, const std::string& what);

std::string hidden_to_string(const std::vector<int>& hidden);  // "512,256", "none"
std::vector<int> parse_hidden(std::string_view text);          // "400", "512,256" or "none"
std::string_view to_string(Likelihood l);
Likelihood parse_likelihood(std::string_view text);
Activation parse_activation(std::string_view text);

nlohmann::json to_json(const ModelConfig& c);
ModelConfig config_from_json(const nlohmann::json& j, const std::string& what);  // what: for errors

}  // namespace cuvae
