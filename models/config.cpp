// ModelConfig parsing, checks and JSON (see config.hpp).
#include "models/config.hpp"

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

namespace cuvae {

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
    return Error("--noise '" + std::string(text) + "': " + why + " (want mask:P, gaussian:S or saltpepper:P, " +
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
  else throw bad("unknown kind '" + std::string(kind) + "'");
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
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || v <= 0 || v > 65536)
      throw Error("--hidden '" + std::string(text) +
                  "': expected a comma-separated list of sizes in 1..65536, or none");
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
  throw Error("--likelihood '" + std::string(text) + "': want bernoulli or gaussian");
}

Activation parse_activation(std::string_view text) {
  if (text == "relu") return Activation::relu;
  if (text == "none") return Activation::none;
  throw Error("--activation '" + std::string(text) + "': want relu or none");
}

ModelConfig default_config(std::string_view model) {
  ModelConfig c;
  c.model = std::string(model);
  if (model == "vae" || model == "ae" || model == "pca") return c;
  if (model == "linear-ae") {
    c.hidden = {}, c.activation = Activation::none, c.likelihood = Likelihood::gaussian;
    return c;
  }
  if (model == "dae") {
    c.noise = NoiseSpec{NoiseKind::mask, 0.25};
    return c;
  }
  throw Error("--model '" + std::string(model) + "': unknown model (want one of " + kModelNames + ")");
}

void validate(const ModelConfig& c, const std::string& what) {
  auto bad = [&](const std::string& why) { return Error(what + ": " + why); };
  default_config(c.model);  // the name
  if (c.input_dim <= 0) throw bad("input size " + std::to_string(c.input_dim) + " must be positive");
  if (c.latent < 1 || c.latent > c.input_dim)
    throw bad("--latent " + std::to_string(c.latent) + " must lie in 1.." + std::to_string(c.input_dim) +
              " (the input size)");
  for (int h : c.hidden)
    if (h <= 0 || h > 65536) throw bad("hidden size " + std::to_string(h) + " must lie in 1..65536");
  if (!(c.sigma > 0) || !std::isfinite(c.sigma)) throw bad("--sigma " + std::to_string(c.sigma) + " must be positive");
  if (!(c.beta >= 0) || !std::isfinite(c.beta)) throw bad("--beta must be a non-negative number");
  if (c.model == "dae" && c.noise.kind == NoiseKind::none) throw bad("a dae needs --noise (e.g. mask:0.25)");
  if (c.model != "dae" && c.noise.kind != NoiseKind::none) throw bad("--noise is for --model dae");
}

nlohmann::json to_json(const ModelConfig& c) {
  nlohmann::json j{{"model", c.model},
                   {"input_dim", c.input_dim},
                   {"hidden", c.hidden},
                   {"activation", std::string(to_string(c.activation))},
                   {"latent", c.latent},
                   {"likelihood", std::string(to_string(c.likelihood))},
                   {"sigma", c.sigma},
                   {"beta", c.beta},
                   {"noise", c.noise.str()}};
  if (c.model == "pca") j["total_variance"] = c.total_variance;
  return j;
}

ModelConfig config_from_json(const nlohmann::json& j, const std::string& what) {
  ModelConfig c;
  try {
    c.model = j.at("model").get<std::string>();
    c.input_dim = j.at("input_dim").get<int>();
    c.hidden = j.at("hidden").get<std::vector<int>>();
    c.activation = parse_activation(j.at("activation").get<std::string>());
    c.latent = j.at("latent").get<int>();
    c.likelihood = parse_likelihood(j.at("likelihood").get<std::string>());
    c.sigma = j.at("sigma").get<double>();
    c.beta = j.at("beta").get<double>();
    c.noise = parse_noise(j.at("noise").get<std::string>());
    c.total_variance = j.value("total_variance", 0.0);
  } catch (const Error& e) {
    throw Error(what + ": bad model config in metadata: " + e.what());
  } catch (const std::exception& e) {
    throw Error(what + ": bad model config in metadata: " + e.what());
  }
  validate(c, what);
  return c;
}

}  // namespace cuvae
