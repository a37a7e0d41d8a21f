// The MLP VAE: layer bookkeeping, forward, backward and decoding through the op interface.
#include "models/mlp_vae.hpp"

#include <charconv>

namespace cuvae {

std::string hidden_to_string(const std::vector<int>& hidden) {
  std::string s;
  for (std::size_t i = 0; i < hidden.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(hidden[i]);
  }
  return s;
}

std::vector<int> parse_hidden(std::string_view text) {
  std::vector<int> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    std::string_view part = text.substr(pos, comma == std::string_view::npos ? text.size() - pos : comma - pos);
    int v = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || v <= 0 || v > 65536)
      throw Error("--hidden '" + std::string(text) + "': expected a comma-separated list of sizes in 1..65536");
    out.push_back(v);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

std::size_t MlpVae::add_linear(const std::string& name, int in, int out) {
  std::size_t w = params_.add(name + ".weight", Shape{out, in}, in);
  params_.add(name + ".bias", Shape{out}, in);
  return w;
}

MlpVae::MlpVae(const VaeConfig& config, ParamStore& params) : config_(config), params_(params) {
  const auto& h = config.hidden;
  if (config.input_dim <= 0 || config.latent <= 0 || h.empty())
    throw Error("VAE config: input_dim " + std::to_string(config.input_dim) + ", latent " +
                std::to_string(config.latent) + ", hidden '" + hidden_to_string(h) +
                "': all sizes must be positive and at least one hidden layer given");
  const int k = static_cast<int>(h.size());
  const bool examples = k == 1;  // pytorch/examples names: fc1, fc21, fc22, fc3, fc4
  auto linear = [&](const std::string& name, int in, int out, Activation act) {
    Linear l;
    l.weight = add_linear(name, in, out);
    l.bias = l.weight + 1;
    l.in = in, l.out = out, l.act = act;
    return l;
  };
  int width = config.input_dim;
  for (int i = 0; i < k; ++i) {
    encoder_.push_back(linear(examples ? "fc1" : "encoder." + std::to_string(i), width, h[i], Activation::relu));
    width = h[i];
  }
  // Head: both weights first, then both biases, so each pair is adjacent and acts as one tensor.
  const std::string mu = examples ? "fc21" : "fc_mu", lv = examples ? "fc22" : "fc_logvar";
  head_.weight = params_.add(mu + ".weight", Shape{config.latent, width}, width);
  params_.add(lv + ".weight", Shape{config.latent, width}, width);
  head_.bias = params_.add(mu + ".bias", Shape{config.latent}, width);
  params_.add(lv + ".bias", Shape{config.latent}, width);
  head_.count = 2, head_.in = width, head_.out = 2 * config.latent, head_.act = Activation::none;
  width = config.latent;
  for (int i = k - 1; i >= 0; --i) {
    const std::string name = examples ? "fc3" : "decoder." + std::to_string(k - 1 - i);
    decoder_.push_back(linear(name, width, h[i], Activation::relu));
    width = h[i];
  }
  decoder_.push_back(linear(examples ? "fc4" : "decoder.out", width, config.input_dim, Activation::none));
}

void MlpVae::allocate_workspace(Backend& backend, std::int64_t max_batch) {
  CUVAE_CHECK(max_batch > 0, "max_batch " + std::to_string(max_batch));
  max_batch_ = max_batch;
  auto make = [&](int width) { return Buffer(backend, Shape{max_batch, width}); };
  enc_act_.clear(), enc_grad_.clear(), dec_act_.clear(), dec_grad_.clear();
  for (const Linear& l : encoder_) enc_act_.push_back(make(l.out)), enc_grad_.push_back(make(l.out));
  for (std::size_t i = 0; i + 1 < decoder_.size(); ++i)
    dec_act_.push_back(make(decoder_[i].out)), dec_grad_.push_back(make(decoder_[i].out));
  stats_ = make(head_.out), dstats_ = make(head_.out);
  eps_ = make(config_.latent), z_ = make(config_.latent), dz_ = make(config_.latent);
  logits_ = make(config_.input_dim), dlogits_ = make(config_.input_dim);
  terms_ = Buffer(backend, Shape{2});
}

void MlpVae::forward(Backend& backend, const Tensor& x, RngKey key, bool at_step, bool with_grads) {
  const std::int64_t b = x.rows();
  CUVAE_CHECK(b > 0 && b <= max_batch_ && x.cols() == config_.input_dim,
              "batch " + x.str() + " vs workspace [" + std::to_string(max_batch_) + ", " +
                  std::to_string(config_.input_dim) + "]");
  Tensor h = x;
  for (std::size_t i = 0; i < encoder_.size(); ++i) {
    Tensor y = enc_act_[i].tensor().rows_view(0, b);
    backend.linear_forward(h, weight(encoder_[i]), bias(encoder_[i]), encoder_[i].act, y);
    h = y;
  }
  Tensor stats = stats_.tensor().rows_view(0, b);
  backend.linear_forward(h, weight(head_), bias(head_), head_.act, stats);
  Tensor z = z_.tensor().rows_view(0, b);
  backend.reparameterize(stats, key, at_step, eps_.tensor().rows_view(0, b), z);
  run_decoder(backend, z);
  Tensor dlogits = dlogits_.tensor().rows_view(0, b), dstats = dstats_.tensor().rows_view(0, b);
  backend.vae_loss(logits(b), x, stats, config_.beta, with_grads ? &dlogits : nullptr,
                   with_grads ? &dstats : nullptr, terms_);
}

void MlpVae::run_decoder(Backend& backend, const Tensor& z) {
  const std::int64_t b = z.rows();
  Tensor h = z;
  for (std::size_t i = 0; i < decoder_.size(); ++i) {
    Tensor y = i + 1 < decoder_.size() ? dec_act_[i].tensor().rows_view(0, b) : logits(b);
    backend.linear_forward(h, weight(decoder_[i]), bias(decoder_[i]), decoder_[i].act, y);
    h = y;
  }
}

void MlpVae::forward_loss(Backend& backend, const Tensor& x, RngKey key) { forward(backend, x, key, false, false); }

void MlpVae::forward_backward(Backend& backend, const Tensor& x, RngKey key, bool at_step) {
  forward(backend, x, key, at_step, true);
  const std::int64_t b = x.rows();
  auto rows = [b](const Buffer& buf) { return buf.tensor().rows_view(0, b); };
  auto layer_backward = [&](const Linear& l, const Tensor& input, Activation input_act, const Tensor& dy,
                            const Tensor* dx) {
    backend.linear_backward(input, input_act, weight(l), dy, dx, params_.grad_span(l.weight, l.count),
                            params_.grad_span(l.bias, l.count));
  };
  // Decoder, last layer first; the gradient reaching z is dz.
  Tensor dy = rows(dlogits_);
  for (std::size_t i = decoder_.size(); i-- > 0;) {
    const bool first = i == 0;
    Tensor input = first ? rows(z_) : rows(dec_act_[i - 1]);
    Tensor dx = first ? rows(dz_) : rows(dec_grad_[i - 1]);
    layer_backward(decoder_[i], input, first ? Activation::none : decoder_[i - 1].act, dy, &dx);
    dy = dx;
  }
  Tensor dstats = rows(dstats_);
  backend.reparameterize_backward(rows(stats_), rows(eps_), rows(dz_), dstats);
  // Head and encoder; the input images need no gradient.
  dy = dstats;
  const Linear* layer = &head_;
  for (std::size_t i = encoder_.size(); i-- > 0;) {
    Tensor dx = rows(enc_grad_[i]);
    layer_backward(*layer, rows(enc_act_[i]), encoder_[i].act, dy, &dx);
    dy = dx;
    layer = &encoder_[i];
  }
  layer_backward(*layer, x, Activation::none, dy, nullptr);
}

void MlpVae::decode(Backend& backend, const Tensor& z, const Tensor& pixels) {
  const std::int64_t b = z.rows();
  CUVAE_CHECK(b <= max_batch_ && z.cols() == config_.latent, "decode z " + z.str());
  run_decoder(backend, z);
  backend.sigmoid(logits(b), pixels);
}

BatchLoss MlpVae::read_loss(Backend& backend) const {
  float t[2];
  backend.to_host(t, terms_);
  return BatchLoss{t[0], t[1]};
}

}  // namespace cuvae
