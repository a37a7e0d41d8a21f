// Model checkpoints in safetensors (see checkpoint.hpp). Metadata keys: "format", "config"
// (JSON: input_dim, hidden, latent, beta) and, for training checkpoints, "train" (JSON).
#include "models/checkpoint.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "host/safetensors.hpp"

namespace cuvae {
namespace {

constexpr const char* kFormat = "cuvae.mlp_vae.v1";
const std::string kMomentPrefix[2] = {"optimizer.exp_avg.", "optimizer.exp_avg_sq."};

std::string exact(double v) {  // %.17g round-trips a double exactly
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::vector<std::int64_t> dims(const Shape& s) { return {s.dims.begin(), s.dims.begin() + s.rank}; }

Checkpoint parse_header(const std::filesystem::path& file, const std::map<std::string, std::string>& meta) {
  auto bad = [&](const std::string& what) { return Error(file.string() + ": " + what); };
  auto it = meta.find("format");
  if (it == meta.end() || it->second != kFormat)
    throw bad("not a cuvae MLP-VAE checkpoint (metadata 'format' is " +
              (it == meta.end() ? std::string("missing") : "'" + it->second + "'") + ", expected '" + kFormat + "')");
  Checkpoint ck;
  try {
    auto c = nlohmann::json::parse(meta.at("config"));
    ck.config.input_dim = c.at("input_dim").get<int>();
    ck.config.hidden = c.at("hidden").get<std::vector<int>>();
    ck.config.latent = c.at("latent").get<int>();
    ck.config.beta = c.at("beta").get<float>();
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
      const auto& a = j.at("adam");
      s.adam = AdamConfig{a.at("lr").get<double>(), a.at("beta1").get<double>(), a.at("beta2").get<double>(),
                          a.at("eps").get<double>(), a.at("weight_decay").get<double>()};
      if (s.step < 0 || s.epoch < 1 || s.batch_in_epoch < 0 || s.batch_size < 1)
        throw bad("training state out of range: " + t->second);
      ck.train = s;
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw bad(std::string("bad model or training metadata: ") + e.what());
  }
  if (ck.config.input_dim <= 0 || ck.config.latent <= 0 || ck.config.hidden.empty())
    throw bad("bad model config in metadata: " + meta.at("config"));
  for (int h : ck.config.hidden)
    if (h <= 0) throw bad("bad hidden size in metadata: " + meta.at("config"));
  return ck;
}

}  // namespace

void save_checkpoint(const std::filesystem::path& file, Backend& backend, const VaeConfig& config,
                     const ParamStore& params, const TrainState* train) {
  const std::int64_t n = params.total();
  std::vector<float> values(static_cast<std::size_t>(n)), m, v;
  backend.to_host(values.data(), params.values());
  std::vector<TensorView> views;
  for (const ParamInfo& p : params.infos()) views.push_back({p.name, dims(p.shape), values.data() + p.offset});
  std::map<std::string, std::string> meta;
  meta["format"] = kFormat;
  meta["config"] = nlohmann::json{{"input_dim", config.input_dim}, {"hidden", config.hidden},
                                  {"latent", config.latent}, {"beta", config.beta}}
                       .dump();
  if (train) {
    m.resize(values.size()), v.resize(values.size());
    backend.to_host(m.data(), params.adam_m());
    backend.to_host(v.data(), params.adam_v());
    for (const ParamInfo& p : params.infos()) {
      views.push_back({kMomentPrefix[0] + p.name, dims(p.shape), m.data() + p.offset});
      views.push_back({kMomentPrefix[1] + p.name, dims(p.shape), v.data() + p.offset});
    }
    const AdamConfig& a = train->adam;
    meta["train"] = nlohmann::json{{"seed", std::to_string(train->seed)},
                                   {"step", train->step},
                                   {"epoch", train->epoch},
                                   {"batch_in_epoch", train->batch_in_epoch},
                                   {"batch_size", train->batch_size},
                                   {"epoch_loss_sum", exact(train->epoch_loss_sum)},
                                   {"shuffle", train->shuffle},
                                   {"adam", {{"lr", a.lr}, {"beta1", a.beta1}, {"beta2", a.beta2},
                                             {"eps", a.eps}, {"weight_decay", a.weight_decay}}}}
                        .dump();
  }
  write_safetensors(file, views, meta);
}

Checkpoint read_checkpoint_header(const std::filesystem::path& file) {
  return parse_header(file, read_safetensors(file).metadata);
}

Checkpoint load_checkpoint(const std::filesystem::path& file, Backend& backend, const ParamStore& params) {
  SafetensorsFile f = read_safetensors(file);
  Checkpoint ck = parse_header(file, f.metadata);
  const std::int64_t n = params.total();
  std::vector<float> host(static_cast<std::size_t>(n));
  auto gather = [&](const std::string& prefix, const Tensor& dst) {
    for (const ParamInfo& p : params.infos()) {
      const TensorRecord* t = f.find(prefix + p.name);
      if (!t) throw Error(file.string() + ": tensor '" + prefix + p.name + "' is missing");
      if (t->shape != dims(p.shape)) {
        Shape got;
        got.rank = static_cast<int>(t->shape.size());
        for (int i = 0; i < got.rank && i < Shape::kMaxRank; ++i) got.dims[static_cast<std::size_t>(i)] = t->shape[static_cast<std::size_t>(i)];
        throw Error(file.string() + ": tensor '" + prefix + p.name + "' has shape " + got.str() + ", expected " +
                    p.shape.str());
      }
      std::copy(t->data.begin(), t->data.end(), host.begin() + p.offset);
    }
    backend.to_device(dst, host.data());
  };
  gather("", params.values());
  if (ck.train) {
    gather(kMomentPrefix[0], params.adam_m());
    gather(kMomentPrefix[1], params.adam_v());
  }
  return ck;
}

}  // namespace cuvae
