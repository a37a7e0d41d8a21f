// Model checkpoints in safetensors (see checkpoint.hpp). Metadata keys: "format", "config"
// (JSON, models/config.hpp) and, for training checkpoints, "train" (JSON).
#include "models/checkpoint.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <nlohmann/json.hpp>

#include "host/safetensors.hpp"
#include "host/text.hpp"
#include "models/json_fields.hpp"

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

// JSON text of a metadata entry; a parse error names the file and the entry.
nlohmann::json parse_json(const std::filesystem::path& file, const std::string& key, const std::string& text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    std::string why = e.what();
    if (auto p = why.find("] "); p != std::string::npos) why.erase(0, p + 2);  // drop "[json.exception...]"
    throw Error(file.string() + ": metadata '" + key + "' is not valid JSON: " + why.substr(0, 160));
  }
}

TrainState parse_train_state(const std::filesystem::path& file, const nlohmann::json& j) {
  const JsonFields f(j, file.string() + ": train");
  f.only({"seed", "step", "epoch", "batch_in_epoch", "batch_size", "epoch_loss_sum", "shuffle", "lr_decay",
          "kl_warmup", "adam"});
  constexpr double kMax = std::numeric_limits<double>::max();
  TrainState s;
  s.seed = f.u64_string("seed");
  s.step = f.integer("step", 0, kMaxSteps);
  s.epoch = f.integer("epoch", 1, kMaxEpochs + 1);
  s.batch_size = f.integer("batch_size", 1, kMaxBatch);
  s.batch_in_epoch = f.integer("batch_in_epoch", 0, kMaxSteps);
  s.epoch_loss_sum = f.number_string("epoch_loss_sum");
  s.shuffle = f.has("shuffle") ? f.string("shuffle") : std::string("host-fisher-yates");  // files from before the field
  s.lr_decay = f.has("lr_decay") ? f.number("lr_decay", 0, 1, true) : 1.0;
  s.kl_warmup = f.has("kl_warmup") ? f.integer("kl_warmup", 0, kMaxSteps) : 0;
  const JsonFields a = f.object("adam");
  a.only({"lr", "beta1", "beta2", "eps", "weight_decay", "l2"});
  s.adam.lr = a.number("lr", 0, kMax, true);
  s.adam.beta1 = a.number("beta1", 0, 1, false, true);
  s.adam.beta2 = a.number("beta2", 0, 1, false, true);
  s.adam.eps = a.number("eps", 0, kMax, true);
  s.adam.weight_decay = a.number("weight_decay", 0, 1);
  s.adam.l2 = a.has("l2") ? a.number("l2", 0, kMax) : 0.0;
  return s;
}

Checkpoint parse_header(const std::filesystem::path& file, const std::map<std::string, std::string>& meta) {
  auto bad = [&](const std::string& what) { return Error(file.string() + ": " + what); };
  auto it = meta.find("format");
  if (it == meta.end() || (it->second != kFormat && it->second != kLegacyFormat))
    throw bad("not a cuvae checkpoint (metadata 'format' is " +
              (it == meta.end() ? std::string("missing") : "'" + printable(it->second, 40) + "'") + ", expected '" +
              kFormat + "')");
  if (meta.find("config") == meta.end()) throw bad("no model config in the metadata");
  for (const auto& [key, value] : meta)
    if (key != "format" && key != "config" && key != "train") throw bad("unknown metadata key '" + printable(key, 60) + "'");
  Checkpoint ck;
  ck.legacy = it->second == kLegacyFormat;
  const nlohmann::json c = parse_json(file, "config", meta.at("config"));
  if (ck.legacy) {  // {input_dim, hidden, latent, beta}: the MLP VAE of pytorch/examples' shape
    const JsonFields f(c, file.string() + ": config");
    f.only({"input_dim", "hidden", "latent", "beta"});
    ck.config.input_dim = static_cast<int>(f.integer("input_dim", 1, kMaxInputDim));
    ck.config.hidden = f.int_list("hidden", 1, kMaxHidden, kMaxHiddenLayers);
    ck.config.latent = static_cast<int>(f.integer("latent", 1, std::min(kMaxLatent, ck.config.input_dim)));
    ck.config.beta = f.number("beta", 0, std::numeric_limits<double>::max());
    if (ck.config.hidden.empty()) f.fail("hidden", "is empty, want at least one hidden size");
    validate(ck.config, file.string());
  } else {
    ck.config = config_from_json(c, file.string());
  }
  if (auto t = meta.find("train"); t != meta.end()) ck.train = parse_train_state(file, parse_json(file, "train", t->second));
  return ck;
}

std::string index_text(const std::vector<std::int64_t>& shape, std::size_t flat) {
  std::string s;
  for (std::size_t d = shape.size(); d-- > 0;) {
    const auto n = static_cast<std::size_t>(shape[d]);
    s = (d ? ", " : "") + std::to_string(flat % n) + s;
    flat /= n;
  }
  return "[" + s + "]";
}

// The file's tensors against the model the config describes (whose parameters are registered,
// not allocated): each present with its shape, none extra (as PyTorch's strict loading), and
// every value finite. Nothing is allocated for the model before this passes.
void check_tensors(const std::filesystem::path& file, const SafetensorsFile& f, const Checkpoint& ck) {
  const std::unique_ptr<Model> model = make_model(ck.config);
  std::vector<std::string> prefixes = {""};
  if (ck.train && model->trained_by_gradient()) prefixes.insert(prefixes.end(), kMomentPrefix, kMomentPrefix + 2);
  std::set<std::string> expected;
  auto check = [&](const std::string& name, const Shape& shape) {
    expected.insert(name);
    const TensorRecord* t = f.find(name);
    if (!t) throw Error(file.string() + ": tensor '" + name + "' is missing");
    if (t->shape != dims(shape)) {
      std::string got = "[";
      for (std::size_t i = 0; i < t->shape.size(); ++i) got += (i ? ", " : "") + std::to_string(t->shape[i]);
      throw Error(file.string() + ": tensor '" + name + "' has shape " + got + "], expected " + shape.str());
    }
  };
  for (const std::string& prefix : prefixes)
    for (const ParamInfo& p : model->params().infos())
      check(prefix + (ck.legacy ? legacy_name(p.name, ck.config.hidden.size()) : p.name), p.shape);
  for (const ParamInfo& p : model->params().buffer_infos()) check(p.name, p.shape);  // BatchNorm's running statistics
  for (const TensorRecord& t : f.tensors) {
    if (!expected.count(t.name))
      throw Error(file.string() + ": unexpected tensor '" + printable(t.name) + "' (not a parameter of the " +
                  ck.config.model + " model " + to_json(ck.config).dump() + ")");
    for (std::size_t i = 0; i < t.data.size(); ++i)
      if (!std::isfinite(t.data[i]))
        throw Error(file.string() + ": tensor '" + t.name + "' holds " + (std::isnan(t.data[i]) ? "NaN" : "Inf") +
                    " at " + index_text(t.shape, i) + "; a checkpoint with non-finite values is refused");
  }
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
  std::vector<float> buffers(static_cast<std::size_t>(params.buffer_total()));
  if (!buffers.empty()) backend.to_host(buffers.data(), params.buffers());
  for (const ParamInfo& p : params.buffer_infos()) views.push_back({p.name, dims(p.shape), buffers.data() + p.offset});
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
  for (const TensorView& t : views) {
    std::int64_t count = 1;
    for (std::int64_t d : t.shape) count *= d;
    for (std::int64_t i = 0; i < count; ++i)
      if (!std::isfinite(t.data[i]))
        throw Error(file.string() + ": not written: tensor '" + t.name + "' holds " +
                    (std::isnan(t.data[i]) ? "NaN" : "Inf") + " at " + index_text(t.shape, static_cast<std::size_t>(i)) +
                    (train ? " after step " + std::to_string(train->step) : std::string()) +
                    "; the file keeps its last good contents");
  }
  write_safetensors(file, views, meta);
}

Checkpoint check_checkpoint(const std::filesystem::path& file, const SafetensorsFile& f) {
  Checkpoint ck = parse_header(file, f.metadata);
  check_tensors(file, f, ck);
  return ck;
}

CheckpointFile read_checkpoint(const std::filesystem::path& file) {
  CheckpointFile c{read_safetensors(file), {}};
  c.header = check_checkpoint(file, c.tensors);
  return c;
}

Checkpoint read_checkpoint_header(const std::filesystem::path& file) { return read_checkpoint(file).header; }

Checkpoint load_checkpoint(const std::filesystem::path& file, Backend& backend, Model& model) {
  return load_checkpoint(file, read_checkpoint(file), backend, model);
}

Checkpoint load_checkpoint(const std::filesystem::path& file, const CheckpointFile& checked, Backend& backend,
                           Model& model) {
  const SafetensorsFile& f = checked.tensors;
  const Checkpoint& ck = checked.header;
  const ParamStore& params = model.params();
  if (to_json(ck.config) != to_json(model.config()))
    throw Error(file.string() + ": holds a " + ck.config.model + " model (" + to_json(ck.config).dump() +
                "), not the " + model.config().model + " model asked for (" + to_json(model.config()).dump() + ")");
  const std::int64_t n = params.total();
  std::vector<float> host(static_cast<std::size_t>(n));
  auto gather = [&](const std::string& prefix, const Tensor& dst) {
    for (const ParamInfo& p : params.infos()) {
      const std::string name = prefix + (ck.legacy ? legacy_name(p.name, ck.config.hidden.size()) : p.name);
      const TensorRecord* t = f.find(name);  // present, with its shape: read_checkpoint saw to it
      std::copy(t->data.begin(), t->data.end(), host.begin() + p.offset);
    }
    backend.to_device(dst, host.data());
  };
  gather("", params.values());
  if (params.buffer_total() > 0) {
    std::vector<float> buffers(static_cast<std::size_t>(params.buffer_total()));
    for (const ParamInfo& p : params.buffer_infos()) {
      const TensorRecord* t = f.find(p.name);
      std::copy(t->data.begin(), t->data.end(), buffers.begin() + p.offset);
    }
    backend.to_device(params.buffers(), buffers.data());
  }
  if (ck.train && model.trained_by_gradient()) {
    gather(kMomentPrefix[0], params.adam_m());
    gather(kMomentPrefix[1], params.adam_v());
  }
  model.loaded(backend);
  return ck;
}

}  // namespace cuvae
