// Model checkpoints in safetensors (see checkpoint.hpp). Metadata keys: "format", "config"
// (JSON, models/config.hpp) and, for training checkpoints, "train" (JSON).
#include "models/checkpoint.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "host/safetensors.hpp"

namespace cuvae {
namespace {

constexpr const char* kFormat = "cuvae.model.v2";
constexpr const char* kLegacyFormat = "cuvae.mlp_vae.v1";
const std::string kMomentPrefix[2] = {"optimizer.exp_avg.", "optimizer.exp_avg_sq."};

std::string exact(double v) {  // %.17g round-trips a double exactly
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::vector<std::int64_t> dims(const Shape& s) { return {s.dims.begin(), s.dims.begin() + s.rank}; }

// The first format's name of a VAE parameter: pytorch/examples' fc1, fc21, fc22, fc3, fc4 with one
// hidden layer; with more, encoder.{i}, fc_mu, fc_logvar, decoder.{i}, decoder.out (i counting
// Linear layers only).
std::string legacy_name(const std::string& name, std::size_t hidden_layers) {
  const std::size_t dot = name.rfind('.');
  const std::string module = name.substr(0, dot), field = name.substr(dot);
  auto index = [&](const char* prefix) { return std::stoul(module.substr(std::string(prefix).size())) / 2; };
  std::string old = module;
  if (hidden_layers == 1) {
    if (module == "encoder.0") old = "fc1";
    else if (module == "fc_mu") old = "fc21";
    else if (module == "fc_logvar") old = "fc22";
    else if (module == "decoder.0") old = "fc3";
    else if (module == "decoder.2") old = "fc4";
  } else if (module.starts_with("encoder.")) {
    old = "encoder." + std::to_string(index("encoder."));
  } else if (module.starts_with("decoder.")) {
    const std::size_t i = index("decoder.");
    old = i == hidden_layers ? std::string("decoder.out") : "decoder." + std::to_string(i);
  }
  return old + field;
}

Checkpoint parse_header(const std::filesystem::path& file, const std::map<std::string, std::string>& meta) {
  auto bad = [&](const std::string& what) { return Error(file.string() + ": " + what); };
  auto it = meta.find("format");
  if (it == meta.end() || (it->second != kFormat && it->second != kLegacyFormat))
    throw bad("not a cuvae checkpoint (metadata 'format' is " +
              (it == meta.end() ? std::string("missing") : "'" + it->second + "'") + ", expected '" + kFormat + "')");
  if (meta.find("config") == meta.end()) throw bad("no model config in the metadata");
  Checkpoint ck;
  ck.legacy = it->second == kLegacyFormat;
  try {
    auto c = nlohmann::json::parse(meta.at("config"));
    if (ck.legacy) {  // {input_dim, hidden, latent, beta}: the MLP VAE of pytorch/examples' shape
      ck.config.input_dim = c.at("input_dim").get<int>();
      ck.config.hidden = c.at("hidden").get<std::vector<int>>();
      ck.config.latent = c.at("latent").get<int>();
      ck.config.beta = c.at("beta").get<double>();
      if (ck.config.hidden.empty()) throw bad("bad model config in metadata: " + meta.at("config"));
    } else {
      ck.config = config_from_json(c, file.string());
    }
    if (auto t = meta.find("train"); t != meta.end()) {
      auto j = nlohmann::json::parse(t->second);
      TrainState s;
      s.seed = std::stoull(j.at("seed").get<std::string>());
      s.step = j.at("step").get<std::int64_t>();
      s.epoch = j.at("epoch").get<std::int64_t>();
      s.batch_in_epoch = j.at("batch_in_epoch").get<std::int64_t>();
      s.batch_size = j.at("batch_size").get<std::int64_t>();
      s.epoch_loss_sum = std::stod(j.at("epoch_loss_sum").get<std::string>());
      s.shuffle = j.value("shuffle", std::string("host-fisher-yates"));  // files from before the field
      s.lr_decay = j.value("lr_decay", 1.0);
      s.kl_warmup = j.value("kl_warmup", std::int64_t{0});
      const auto& a = j.at("adam");
      s.adam = AdamConfig{a.at("lr").get<double>(), a.at("beta1").get<double>(), a.at("beta2").get<double>(),
                          a.at("eps").get<double>(), a.at("weight_decay").get<double>(), a.value("l2", 0.0)};
      if (s.step < 0 || s.epoch < 1 || s.batch_in_epoch < 0 || s.batch_size < 1 || !(s.lr_decay > 0) || s.kl_warmup < 0)
        throw bad("training state out of range: " + t->second);
      ck.train = s;
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw bad(std::string("bad model or training metadata: ") + e.what());
  }
  validate(ck.config, file.string());
  return ck;
}

}  // namespace

Schedule schedule_of(const TrainState& state, const ModelConfig& config) {
  Schedule s;
  s.adam = state.adam;
  s.lr_decay = state.lr_decay;
  s.beta = config.beta;
  s.kl_warmup = state.kl_warmup;
  s.noise = config.noise.level;
  return s;
}

void save_checkpoint(const std::filesystem::path& file, Backend& backend, const Model& model, const TrainState* train) {
  const ParamStore& params = model.params();
  const std::int64_t n = params.total();
  std::vector<float> values(static_cast<std::size_t>(n)), m, v;
  backend.to_host(values.data(), params.values());
  std::vector<TensorView> views;
  for (const ParamInfo& p : params.infos()) views.push_back({p.name, dims(p.shape), values.data() + p.offset});
  std::map<std::string, std::string> meta;
  meta["format"] = kFormat;
  meta["config"] = to_json(model.config()).dump();
  if (train && model.trained_by_gradient()) {
    m.resize(values.size()), v.resize(values.size());
    backend.to_host(m.data(), params.adam_m());
    backend.to_host(v.data(), params.adam_v());
    for (const ParamInfo& p : params.infos()) {
      views.push_back({kMomentPrefix[0] + p.name, dims(p.shape), m.data() + p.offset});
      views.push_back({kMomentPrefix[1] + p.name, dims(p.shape), v.data() + p.offset});
    }
  }
  if (train) {
    const AdamConfig& a = train->adam;
    meta["train"] = nlohmann::json{{"seed", std::to_string(train->seed)},
                                   {"step", train->step},
                                   {"epoch", train->epoch},
                                   {"batch_in_epoch", train->batch_in_epoch},
                                   {"batch_size", train->batch_size},
                                   {"epoch_loss_sum", exact(train->epoch_loss_sum)},
                                   {"shuffle", train->shuffle},
                                   {"lr_decay", train->lr_decay},
                                   {"kl_warmup", train->kl_warmup},
                                   {"adam", {{"lr", a.lr}, {"beta1", a.beta1}, {"beta2", a.beta2},
                                             {"eps", a.eps}, {"weight_decay", a.weight_decay}, {"l2", a.l2}}}}
                        .dump();
  }
  write_safetensors(file, views, meta);
}

Checkpoint read_checkpoint_header(const std::filesystem::path& file) {
  return parse_header(file, read_safetensors(file).metadata);
}

Checkpoint load_checkpoint(const std::filesystem::path& file, Backend& backend, Model& model) {
  SafetensorsFile f = read_safetensors(file);
  Checkpoint ck = parse_header(file, f.metadata);
  const ParamStore& params = model.params();
  if (to_json(ck.config) != to_json(model.config()))
    throw Error(file.string() + ": holds a " + ck.config.model + " model (" + to_json(ck.config).dump() +
                "), not the " + model.config().model + " model asked for (" + to_json(model.config()).dump() + ")");
  const std::int64_t n = params.total();
  std::vector<float> host(static_cast<std::size_t>(n));
  auto gather = [&](const std::string& prefix, const Tensor& dst) {
    for (const ParamInfo& p : params.infos()) {
      const std::string name = prefix + (ck.legacy ? legacy_name(p.name, ck.config.hidden.size()) : p.name);
      const TensorRecord* t = f.find(name);
      if (!t) throw Error(file.string() + ": tensor '" + name + "' is missing");
      if (t->shape != dims(p.shape)) {
        Shape got;
        got.rank = static_cast<int>(t->shape.size());
        for (int i = 0; i < got.rank && i < Shape::kMaxRank; ++i) got.dims[static_cast<std::size_t>(i)] = t->shape[static_cast<std::size_t>(i)];
        throw Error(file.string() + ": tensor '" + name + "' has shape " + got.str() + ", expected " +
                    p.shape.str());
      }
      std::copy(t->data.begin(), t->data.end(), host.begin() + p.offset);
    }
    backend.to_device(dst, host.data());
  };
  gather("", params.values());
  if (ck.train && model.trained_by_gradient()) {
    gather(kMomentPrefix[0], params.adam_m());
    gather(kMomentPrefix[1], params.adam_v());
  }
  model.loaded(backend);
  return ck;
}

}  // namespace cuvae
