// ModelConfig parsing, checks and JSON (see config.hpp).
#include "models/config.hpp"

#include <charconv>
#include <cstdio>
#include <cmath>
#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "host/text.hpp"
#include "models/json_fields.hpp"

namespace cuvae {

namespace {

std::string shown(std::string_view text) { return printable(text, 40); }  // quoted text, one line

}  // namespace

std::string NoiseSpec::str() const {
  switch (kind) {
    case NoiseKind::none: return "none";
    case NoiseKind::mask: return "mask:" + nlohmann::json(level).dump();
    case NoiseKind::gaussian: return "gaussian:" + nlohmann::json(level).dump();
    case NoiseKind::saltpepper: return "saltpepper:" + nlohmann::json(level).dump();
  }
  return "?";
}

NoiseSpec parse_noise(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Error("--noise '" + shown(text) + "': " + why + " (want mask:P, gaussian:S or saltpepper:P, " +
                 "e.g. mask:0.25, or none)");
  };
  if (text == "none") return {};
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) throw bad("no level");
  const std::string_view kind = text.substr(0, colon), level = text.substr(colon + 1);
  NoiseSpec n;
  if (kind == "mask") n.kind = NoiseKind::mask;
  else if (kind == "gaussian") n.kind = NoiseKind::gaussian;
  else if (kind == "saltpepper") n.kind = NoiseKind::saltpepper;
  else throw bad("unknown kind '" + shown(kind) + "'");
  const std::string l(level);
  char* end = nullptr;
  n.level = std::strtod(l.c_str(), &end);
  if (l.empty() || end != l.c_str() + l.size() || !std::isfinite(n.level)) throw bad("level is not a number");
  if (n.kind == NoiseKind::gaussian ? !(n.level > 0) : !(n.level > 0 && n.level <= 1))
    throw bad(n.kind == NoiseKind::gaussian ? "sigma must be positive" : "probability must lie in (0, 1]");
  return n;
}

std::string hidden_to_string(const std::vector<int>& hidden) {
  if (hidden.empty()) return "none";
  std::string s;
  for (std::size_t i = 0; i < hidden.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(hidden[i]);
  }
  return s;
}

std::vector<int> parse_hidden(std::string_view text) {
  if (text == "none") return {};
  std::vector<int> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    std::string_view part = text.substr(pos, comma == std::string_view::npos ? text.size() - pos : comma - pos);
    int v = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || v <= 0 || v > kMaxHidden ||
        out.size() == kMaxHiddenLayers)
      throw Error("--hidden '" + shown(text) + "': expected a comma-separated list of at most " +
                  std::to_string(kMaxHiddenLayers) + " sizes in 1.." + std::to_string(kMaxHidden) + ", or none");
    out.push_back(v);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

std::string_view to_string(Likelihood l) { return l == Likelihood::bernoulli ? "bernoulli" : "gaussian"; }

Likelihood parse_likelihood(std::string_view text) {
  if (text == "bernoulli") return Likelihood::bernoulli;
  if (text == "gaussian") return Likelihood::gaussian;
  throw Error("--likelihood '" + shown(text) + "': want bernoulli or gaussian");
}

Activation parse_activation(std::string_view text) {
  if (text == "relu") return Activation::relu;
  if (text == "none") return Activation::none;
  throw Error("--activation '" + shown(text) + "': want relu or none");
}

ModelConfig default_config(std::string_view model) {
  ModelConfig c;
  c.model = std::string(model);
  if (model == "vae" || model == "ae" || model == "pca" || model == "classifier" || model == "cvae") return c;  // cvae
  if (model == "linear-ae") {
    c.hidden = {}, c.activation = Activation::none, c.likelihood = Likelihood::gaussian;
    return c;
  }
  if (model == "dae") {
    c.noise = NoiseSpec{NoiseKind::mask, 0.25};
    return c;
  }
  throw Error("--model '" + shown(model) + "': unknown model (want one of " + kModelNames + ")");
}

void validate(const ModelConfig& c, const std::string& what) {
  auto bad = [&](const std::string& why) { return Error(what + ": " + why); };
  try {
    default_config(c.model);  // the name
  } catch (const Error& e) {
    throw bad(e.what());
  }
  if (c.input_dim <= 0 || c.input_dim > kMaxInputDim)
    throw bad("input size " + std::to_string(c.input_dim) + " must lie in 1.." + std::to_string(kMaxInputDim));
  if (c.image.channels && c.image.dim() != c.input_dim)
    throw bad("image shape " + c.image.str() + " holds " + std::to_string(c.image.dim()) + " values, not the input size " +
              std::to_string(c.input_dim));
  if (c.hidden.size() > kMaxHiddenLayers) throw bad("more than " + std::to_string(kMaxHiddenLayers) + " hidden layers");
  // The architecture before the sizes it fixes (conv64 on 28x28 names the image, not the latent).
  if (c.arch == "conv" || c.arch == "conv64") {
    const ImageShape im = input_image(c);
    const bool c64 = c.arch == "conv64";
    const int m = c64 ? 32 : 4;  // the sides two (five) stride-2 convolutions halve exactly
    if (c.model == "pca" || c.model == "linear-ae")
      throw bad("--arch " + c.arch + " is for an ae, a dae, a vae, a cvae or a classifier, not a " + c.model);
    if (!c.hidden.empty()) throw bad("--hidden is for --arch mlp; the " + c.arch + " arch's layers are fixed");
    if (im.height < m || im.width < m || im.height % m || im.width % m)
      throw bad("--arch " + c.arch + " takes images whose sides are multiples of " + std::to_string(m) +
                (c64 ? " (five stride-2 convolutions and their transposes; 64x64 as PyTorch-VAE's), not "
                     : " (two stride-2 convolutions and their transposes), not ") +
                std::to_string(im.height) + "x" + std::to_string(im.width));
  } else if (c.arch != "mlp") {
    throw bad("--arch '" + c.arch + "': unknown architecture (want one of " + kArchNames + ")");
  }
  // (a classifier has no code: its latent is unused, encode() gives its last hidden layer)
  if (c.latent < 1 || c.latent > (is_classifier(c) ? kMaxLatent : c.input_dim))  // cvae: is_classifier
    throw bad("--latent " + std::to_string(c.latent) + " must lie in 1.." + std::to_string(c.input_dim) +
              " (the input size)");
  for (int h : c.hidden)
    if (h <= 0 || h > kMaxHidden)
      throw bad("hidden size " + std::to_string(h) + " must lie in 1.." + std::to_string(kMaxHidden));
  if (!(c.sigma > 0) || !std::isfinite(c.sigma)) throw bad("--sigma " + std::to_string(c.sigma) + " must be positive");
  if (!(c.beta >= 0) || !std::isfinite(c.beta)) throw bad("--beta must be a non-negative number");
  if (c.model == "dae" && c.noise.kind == NoiseKind::none) throw bad("a dae needs --noise (e.g. mask:0.25)");
  if (c.model != "dae" && c.noise.kind != NoiseKind::none) throw bad("--noise is for --model dae");
  if (has_classes(c)) {
    if (is_classifier(c) && c.hidden.empty() && c.arch == "mlp")  // cvae: is_classifier
      throw bad("a classifier needs a hidden layer (its features), not --hidden none");
    if (c.classes < 2 || c.classes > kMaxClasses)
      throw bad("--classes " + std::to_string(c.classes) + " must lie in 2.." + std::to_string(kMaxClasses));
  } else if (c.classes != 0) {
    throw bad("--classes is for --model classifier or cvae");  // cvae
  }
}

std::string parse_arch(std::string_view text) {
  if (text == "mlp" || text == "conv" || text == "conv64") return std::string(text);
  throw Error("--arch '" + std::string(text) + "': unknown architecture (want one of " + kArchNames + ")");
}

int code_size(const ModelConfig& c) {  // cvae: is_classifier
  if (!is_classifier(c)) return c.latent;
  return c.arch != "mlp" ? conv_features(c) : c.hidden.empty() ? c.latent : c.hidden.back();
}

int conv_features(const ModelConfig& c) {
  if (c.arch == "conv") return kConvFeatures;
  const ImageShape im = input_image(c);
  return kConv64Channels[4] * (im.height / 32) * (im.width / 32);
}

std::string sizes_text(const ModelConfig& c) {
  if (c.arch != "mlp")  // "conv 1x28x28-256-20", "conv64 3x64x64-2048-128"
    return c.arch + " " + input_image(c).str() + "-" + std::to_string(conv_features(c)) + "-" +
           std::to_string(has_classes(c) ? c.classes : c.latent);
  if (c.model == "cvae")  // cvae: "784+10-400-20+10" (the one-hot condition beside the images and the code)
    return std::to_string(c.input_dim) + "+" + std::to_string(c.classes) + "-" + hidden_to_string(c.hidden) + "-" +
           std::to_string(c.latent) + "+" + std::to_string(c.classes);
  return std::to_string(c.input_dim) + "-" + hidden_to_string(c.hidden) + "-" +
         std::to_string(has_classes(c) ? c.classes : c.latent);
}

nlohmann::json to_json(const ModelConfig& c) {
  nlohmann::json j{{"model", c.model},
                   {"arch", c.arch},
                   {"input_dim", c.input_dim},
                   {"hidden", c.hidden},
                   {"activation", std::string(to_string(c.activation))},
                   {"latent", c.latent},
                   {"likelihood", std::string(to_string(c.likelihood))},
                   {"sigma", c.sigma},
                   {"beta", c.beta},
                   {"noise", c.noise.str()},
                   {"image", {input_image(c).channels, input_image(c).height, input_image(c).width}}};
  if (c.model == "pca") j["total_variance"] = c.total_variance;
  if (has_classes(c) || c.classes) j["classes"] = c.classes;
  return j;
}

ModelConfig config_from_json(const nlohmann::json& j, const std::string& what) {
  const JsonFields f(j, what + ": config");
  f.only({"model", "input_dim", "hidden", "activation", "latent", "likelihood", "sigma", "beta", "noise",
          "total_variance", "classes", "image", "arch"});
  ModelConfig c;
  constexpr double kMax = std::numeric_limits<double>::max();
  auto parsed = [&](const char* key, auto parse) {
    try {
      return parse(f.string(key));
    } catch (const Error& e) {
      f.fail(key, std::string("is invalid: ") + e.what());
    }
  };
  c.model = parsed("model", [](const std::string& s) { return default_config(s).model; });
  c.input_dim = static_cast<int>(f.integer("input_dim", 1, kMaxInputDim));
  if (f.has("image")) {  // checkpoints written before the shape was kept: input_image's square
    const std::vector<int> chw = f.int_list("image", 1, kMaxInputDim, 3);
    if (chw.size() != 3 || (chw[0] != 1 && chw[0] != 3) ||
        std::int64_t(chw[0]) * chw[1] * chw[2] != c.input_dim)
      f.fail("image", "must be [channels, height, width] with 1 or 3 channels and channels * height * width = input_dim " +
                          std::to_string(c.input_dim));
    c.image = ImageShape{chw[0], chw[1], chw[2]};
  }
  c.hidden = f.int_list("hidden", 1, kMaxHidden, kMaxHiddenLayers);
  if (f.has("arch")) c.arch = parsed("arch", [](const std::string& s) { return parse_arch(s); });  // mlp before it was kept
  c.activation = parsed("activation", [](const std::string& s) { return parse_activation(s); });
  c.latent = static_cast<int>(f.integer("latent", 1, is_classifier(c) ? kMaxLatent : std::min(kMaxLatent, c.input_dim)));  // cvae
  c.likelihood = parsed("likelihood", [](const std::string& s) { return parse_likelihood(s); });
  c.sigma = f.number("sigma", 0, kMax, true);
  c.beta = f.number("beta", 0, kMax);
  c.noise = parsed("noise", [](const std::string& s) { return parse_noise(s); });
  if (f.has("total_variance")) c.total_variance = f.number("total_variance", 0, kMax);
  if (has_classes(c))
    c.classes = static_cast<int>(f.integer("classes", 2, kMaxClasses));
  else if (f.has("classes"))
    f.fail("classes", "is for a classifier or a cvae, not a " + c.model);  // cvae
  validate(c, what);
  return c;
}

}  // namespace cuvae
